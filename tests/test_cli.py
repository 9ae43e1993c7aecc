"""The `s1` app: help, version, global options, error handling, piping between processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from s1cli import __version__
from s1cli.table import read_rows, write_table

from .conftest import run_s1, s1_process, subprocess_env


def test_help_lists_the_commands_and_ends_with_examples():
    result = run_s1("--help")
    assert result.exit_code == 0
    for command in ("tiny", "convert", "data", "schema"):
        assert command in result.stdout
    assert "Examples:" in result.stdout


def test_version():
    result = run_s1("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"s1 {__version__}"


def test_the_console_script_runs(tmp_path):
    script = Path(sys.executable).parent / "s1"
    if not script.exists():
        pytest.skip("s1cli is not installed in this environment (run through `make test`)")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"s1 {__version__}"


def test_quiet_silences_status_lines(tmp_path):
    out = tmp_path / "a.jsonl"
    loud = run_s1("data", "export", "aime24", out)
    assert loud.exit_code == 0 and "wrote 30 rows of aime24" in loud.stderr
    quiet = run_s1("--quiet", "data", "export", "aime24", out)
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_convert_writes_every_format_and_renames(tmp_path):
    src = tmp_path / "s1k.jsonl"
    write_table(src, [{"id": "1", "thinking_trajectories": "t", "attempt": "a"}])
    for name in ("o.parquet", "o.csv", "o.jsonl.gz", "o.json"):
        result = run_s1("convert", src, tmp_path / name, "--map", "thinking=thinking_trajectories",
                        "--map", "response=attempt", "--require", "thinking")
        assert result.exit_code == 0, result.stderr
        assert read_rows(tmp_path / name) == [{"id": "1", "thinking": "t", "response": "a"}]


def test_convert_limit_and_stdout(tmp_path):
    result = run_s1("convert", "-", "-", "--limit", "2", input='{"id": "1"}\n{"id": "2"}\n{"id": "3"}\n')
    assert result.exit_code == 0
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["1", "2"]


def test_schema_prints_the_contract():
    result = run_s1("schema")
    assert result.exit_code == 0
    for column in ("question", "thinking_tokens", "selected_by", "<name>_correct"):
        assert column in result.stderr


def test_data_list_and_export(tmp_path):
    listing = run_s1("data", "list")
    assert listing.exit_code == 0 and "math500" in listing.stderr and "500" in listing.stderr
    result = run_s1("data", "export", "math500", tmp_path / "m.parquet")
    assert result.exit_code == 0
    assert len(read_rows(tmp_path / "m.parquet")) == 500
    unknown = run_s1("data", "export", "gpqa", tmp_path / "g.jsonl")
    assert unknown.exit_code == 2 and "unknown bundled table 'gpqa'" in unknown.stderr


# -- errors: one line, exit 2, nothing written ----------------------------------------------------

BAD_INPUTS = [
    ("bad.jsonl", b'{"id": "1", "question": "q"}\n{"id": "2", "question": "q",}\n',
     "bad.jsonl:2: not valid JSON (Expecting property name enclosed in double quotes at col 29)"),
    ("bad.jsonl", b'{"id": "1", "question": "q"}\n{"id": "2"}\n', "bad.jsonl:2: column 'question' is missing"),
    ("bad.jsonl", b'{"id": "1", "question": "q"}\n{"id": "1", "question": "q"}\n',
     "bad.jsonl:2: column 'id': duplicate id '1' (first at bad.jsonl:1)"),
    ("bad.jsonl", b'{"id": "1", "question": "q", "budget": "lots"}\n',
     "bad.jsonl:1: column 'budget' must be an integer, got string (\"lots\")"),
    ("bad.jsonl", b'{"id": "1", "question": "\xff"}\n', "bad.jsonl:1: not valid UTF-8 (byte 0xff at col 26)"),
    ("bad.jsonl", b"", "bad.jsonl: no rows (the file is empty)"),
    ("bad.csv", b"id,question,sample\n1,q,one\n", "bad.csv:2: column 'sample' must be an integer, got \"one\""),
    ("bad.txt", b"hello\n", "bad.txt: unknown table format '.txt'; use .jsonl, .jsonl.gz, .parquet, .csv, .json, "
                            "or - for stdin/stdout"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_INPUTS)
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    done = s1_process("convert", name, "out.parquet", "--require", "question", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {message}"]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.parquet").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_missing_file_and_unwritable_output_are_one_line(tmp_path):
    done = s1_process("convert", "nope.jsonl", "o.jsonl", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip() == "error: nope.jsonl: no such file"
    (tmp_path / "a.jsonl").write_text('{"id": "1"}\n')
    (tmp_path / "file").write_text("")
    done = s1_process("convert", "a.jsonl", "file/o.jsonl", cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.strip() == "error: file/o.jsonl: cannot write: file is not a directory"


def test_bad_options_are_usage_errors(tmp_path):
    result = run_s1("convert", "a.jsonl", "b.jsonl", "--map", "nonsense")
    assert result.exit_code == 2 and "--map 'nonsense': expected NEW=OLD" in result.stderr
    result = run_s1("convert", "a.jsonl")
    assert result.exit_code == 2 and "Missing argument" in result.stderr


def test_unexpected_errors_exit_1_with_a_traceback_only_when_verbose(tmp_path, monkeypatch):
    import s1cli.commands.convert as convert

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(convert, "write_table", broken)
    (tmp_path / "a.jsonl").write_text('{"id": "1"}\n')
    result = run_s1("convert", tmp_path / "a.jsonl", tmp_path / "b.jsonl")
    assert result.exit_code == 1
    assert "unexpected RuntimeError: a bug (rerun with --verbose" in result.stderr
    verbose = run_s1("--verbose", "convert", tmp_path / "a.jsonl", tmp_path / "b.jsonl")
    # Under --verbose the exception propagates, so Python prints the traceback and exits 1.
    assert verbose.exit_code == 1 and isinstance(verbose.exception, RuntimeError)


def test_pipe_between_two_processes(tmp_path):
    producer = subprocess.Popen([sys.executable, "-m", "s1cli.cli", "data", "export", "aime25", "-"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=subprocess_env())
    consumer = subprocess.run([sys.executable, "-m", "s1cli.cli", "convert", "-", str(tmp_path / "a.parquet")],
                              stdin=producer.stdout, capture_output=True, text=True, env=subprocess_env())
    producer.stdout.close()
    assert producer.wait() == 0 and consumer.returncode == 0, consumer.stderr
    rows = read_rows(tmp_path / "a.parquet")
    assert len(rows) == 30 and rows[0]["id"] == "aime25-I-01"
    assert rows[4]["metadata"]["contest"] == "AIME I"


def test_closing_the_pipe_early_is_not_an_error():
    done = subprocess.run(f"{sys.executable} -m s1cli.cli data export math500 - | head -n 1",
                          shell=True, capture_output=True, text=True, env=subprocess_env())
    assert done.returncode == 0
    assert json.loads(done.stdout)["id"].startswith("math500-")
    assert "Traceback" not in done.stderr and "error" not in done.stderr
