"""`s1 select` through the real CLI: files in every format, the s1 release layout via --map, pipes,
the report, and bad input (one line, exit 2, nothing written)."""

from __future__ import annotations

import json

import pytest

from s1cli.table import read_rows, write_table

from .conftest import run_s1, s1_process


def pool_rows(n: int = 120) -> list[dict]:
    """A labelled pool: 4 domains, every third row easy, a few pre-selectable rows, one malformed question."""
    rows = []
    for i in range(n):
        rows.append({"id": f"q{i:03d}", "question": f"Question {i}: find x.", "source": "numina",
                     "msc": ["05", "11", "51", "60"][i % 4], "thinking": f"trace {i}", "thinking_tokens": 100 + 37 * i,
                     "qwen7b_correct": i % 3 == 0, "qwen32b_correct": False, "gemini_correct": i % 2 == 0,
                     "metadata": {"n": i}})
    for i in (1, 5):
        rows[i].update(source="Idavidrein/gpqa", gemini_correct=True)
    rows[7]["question"] = "See ![Image](x.png)."
    return rows


@pytest.fixture
def pool(tmp_path):
    path = tmp_path / "pool.jsonl"
    write_table(path, pool_rows())
    return path


def test_select_writes_the_rows_and_the_report(tmp_path, pool):
    out, report = tmp_path / "s1k.parquet", tmp_path / "reports" / "s1k.report.md"
    result = run_s1("select", pool, out, "--size", "30", "--report", report, "--seed", "3")
    assert result.exit_code == 0, result.stderr
    rows = read_rows(out)
    assert len(rows) == 30 and len({r["id"] for r in rows}) == 30
    assert {r["selected_by"] for r in rows} == {"preselect:gpqa", "diversity:uniform"}
    # Every input column is kept; no easy or malformed row is selected.
    assert rows[0].keys() == {*pool_rows()[0].keys(), "selected_by"}
    assert not any(r["qwen7b_correct"] for r in rows) and "q007" not in {r["id"] for r in rows}
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)  # input order
    text = report.read_text()
    assert "| quality: formatting | 119 | -1 |" in text and "| difficulty | 79 | -40 |" in text
    assert "## Domains (`msc`): 4 of 4 covered" in text
    # The terminal shows the same stages, then a summary line.
    assert "quality: formatting" in result.stderr and "preselect:gpqa 2" in result.stderr
    assert result.stderr.strip().endswith(f"wrote 30 rows to {out}; report in {report}")


def test_same_seed_same_rows_across_formats_and_stdin(tmp_path, pool):
    first = run_s1("select", pool, tmp_path / "a.jsonl", "--size", "20", "--seed", "9")
    assert first.exit_code == 0, first.stderr
    piped = run_s1("select", "-", "-", "--size", "20", "--seed", "9", input=pool.read_text())
    assert piped.exit_code == 0, piped.stderr
    assert [json.loads(line) for line in piped.stdout.splitlines()] == read_rows(tmp_path / "a.jsonl")
    other = run_s1("select", pool, tmp_path / "b.jsonl", "--size", "20", "--seed", "10")
    assert read_rows(tmp_path / "b.jsonl") != read_rows(tmp_path / "a.jsonl") and other.exit_code == 0


@pytest.mark.parametrize("mode", ["random", "diverse", "longest", "all"])
def test_ablation_modes(tmp_path, pool, mode):
    out = tmp_path / f"{mode}.csv"
    result = run_s1("select", pool, out, "--mode", mode, "--size", "12")
    assert result.exit_code == 0, result.stderr
    rows = read_rows(out)
    assert {r["selected_by"] for r in rows} == {mode}
    assert len(rows) == (120 if mode == "all" else 12)
    if mode == "longest":
        assert [r["id"] for r in rows] == [f"q{i:03d}" for i in range(108, 120)]


def test_the_s1_release_layout_loads_through_map(tmp_path):
    # The released s1K / 59K columns (traces as one-element lists) joined with the s1 repository's
    # featurized columns (isqwen7bcorrect, isqwen32bcorrect, isgeminicorrect, gemini_length, domain).
    rows = []
    for i, r in enumerate(pool_rows(40)):
        rows.append({"question": r["question"], "solution": "42", "cot_type": "math",
                     "source_type": "qq8933/AIME_1983_2024" if i < 3 else "AI-MO/NuminaMath-CoT/olympiads",
                     "metadata": "{}", "cot": None, "thinking_trajectories": [r["thinking"]], "attempt": "x",
                     "isqwen7bcorrect": r["qwen7b_correct"], "isqwen32bcorrect": False, "isgeminicorrect": True,
                     "gemini_length": r["thinking_tokens"], "domain": ["Combinatorics", "Number theory"][i % 2]})
    write_table(tmp_path / "featurized.parquet", rows)
    result = run_s1("select", tmp_path / "featurized.parquet", tmp_path / "s1k.jsonl", "--size", "10",
                    "--map", "thinking=thinking_trajectories", "--map", "response=attempt",
                    "--map", "source=source_type", "--map", "gemini_correct=isgeminicorrect",
                    "--map", "qwen7b_correct=isqwen7bcorrect", "--map", "qwen32b_correct=isqwen32bcorrect",
                    "--map", "thinking_tokens=gemini_length", "--map", "msc=domain",
                    # The release's metadata is a Python-literal string, not the contract's JSON object.
                    "--map", "s1_metadata=metadata")
    assert result.exit_code == 0, result.stderr
    out = read_rows(tmp_path / "s1k.jsonl")
    assert len(out) == 10
    assert all(isinstance(r["thinking"], str) and r["thinking"].startswith("trace") for r in out)
    assert {r["selected_by"] for r in out if r["source"].startswith("qq8933")} == {"preselect:aime"}
    assert {r["msc"] for r in out} == {"Combinatorics", "Number theory"}
    assert all(r["s1_metadata"] == "{}" and "metadata" not in r for r in out)


def test_quiet_prints_nothing(tmp_path, pool):
    result = run_s1("--quiet", "select", pool, tmp_path / "o.jsonl", "--size", "5")
    assert result.exit_code == 0 and result.stderr == ""


def test_a_size_larger_than_the_pool_warns_and_selects_every_row(tmp_path, pool):
    done = s1_process("select", pool, "o.jsonl", "--size", "5000", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(read_rows(tmp_path / "o.jsonl")) == 79
    assert "warning: --size 5,000 is more than the 79 rows left after the difficulty filter; all 79 are selected" \
        in done.stderr


BAD = [
    ({"drop": "msc"}, [], "error: pool.jsonl: column 'msc' is missing (--mode s1k samples across domains; set it with "
                          "--domain-column, or rename a column with --map msc=OLD)"),
    ({"drop": "thinking_tokens"}, ["--mode", "longest"],
     "error: pool.jsonl: column 'thinking_tokens' is missing (--mode longest ranks rows by trace length; set it with "
     "--length-column, or rename a column with --map thinking_tokens=OLD)"),
    ({"set": ("thinking_tokens", "long")}, ["--length-column", "thinking_tokens"],
     "error: pool.jsonl:3: column 'thinking_tokens' must be an integer, got string (\"long\")"),
    ({"set": ("tokens", "long")}, ["--length-column", "tokens"],
     "error: pool.jsonl:row 3: column 'tokens' must be a number, got string (\"long\")"),
    ({}, ["--domain-column", "domain"], "error: pool.jsonl: column 'domain' is missing"),
    ({}, ["--mode", "random", "--preselect"], "error: --preselect applies to --mode s1k only, not --mode random"),
    ({}, ["--mode", "best"], "error: --mode 'best': choose one of s1k, random, diverse, longest, all"),
    ({}, ["--size", "0"], "error: --size 0: must be at least 1"),
    ({}, ["--aime-sources", " , "], "error: --aime-sources: needs at least one source pattern"),
    ({}, ["--benchmark-weighting-after", "10", "--gpqa-sources", "none"],
     "error: --benchmark-weighting-after: the sampling pool has no AIME or GPQA rows"),
    ({}, ["--map", "x"], "error: --map 'x': expected NEW=OLD"),
]


@pytest.mark.parametrize(("change", "options", "message"), BAD)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, change, options, message):
    rows = pool_rows(20)
    for r in rows:
        if "drop" in change:
            del r[change["drop"]]
        if "tokens" in options:
            r["tokens"] = r["thinking_tokens"]
    if "set" in change:
        column, value = change["set"]
        rows[2][column] = value
    (tmp_path / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = s1_process("select", "pool.jsonl", "out.parquet", "--report", "r.md", *options, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pool.jsonl"]


def test_a_report_path_that_is_a_directory_fails_before_any_work(tmp_path, pool):
    result = run_s1("select", pool, tmp_path / "o.jsonl", "--report", tmp_path)
    assert result.exit_code == 2 and "is a directory" in result.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_paper_builds_as_the_notebook_did_with_benchmark_weighting_after_700(tmp_path):
    rows = pool_rows(1600)
    for i, row in enumerate(rows):
        row["qwen7b_correct"] = False  # keep every row past the difficulty filter
        if i % 40 == 0:
            row["source"] = "qq8933/AIME_1983_2024"  # AIME rows, all in domain "05"
            row["msc"] = "05"
    pool = tmp_path / "pool.jsonl"
    write_table(pool, rows)
    outs = {}
    for name, extra in {"paper": ["--paper"], "explicit": ["--benchmark-weighting-after", "700"],
                        "default": []}.items():
        out = tmp_path / f"{name}.jsonl"
        result = run_s1("select", pool, out, "--size", "900", "--seed", "1", *extra)
        assert result.exit_code == 0, result.stderr
        outs[name] = [r["id"] for r in read_rows(out)]
    assert outs["paper"] == outs["explicit"]
    assert outs["paper"] != outs["default"]
