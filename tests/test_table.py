"""The table layer: formats, streaming, validation errors, atomic writes and resume."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s1cli.errors import ConfigError, InputError
from s1cli.schema import Renames
from s1cli.table import (
    JOURNAL_SUFFIX,
    ResumableWriter,
    count_rows,
    iter_rows,
    read_rows,
    table_format,
    write_table,
)

ROWS = [
    {"id": "a", "question": "What is $\\frac{1}{2}$ + ½? Ünïcode, 中文, emoji 🎲", "answer": "1",
     "solution": None, "sample": 0, "budget": None, "qwen7b_correct": True, "seconds": 1.5,
     "metadata": {"year": 2024, "nested": {"list": [1, "two", None], "flag": False}, "empty": {}},
     "choices": ["x", "y"]},
    {"id": "b", "question": 'Line one\nline two, with "quotes", commas and\ttabs', "answer": None,
     "solution": "s", "sample": 1, "budget": 512, "qwen7b_correct": False, "seconds": None,
     "metadata": {"other_key": "only in this row"}, "choices": None},
    {"id": "c", "question": "", "answer": "-3", "solution": "", "sample": None, "budget": None,
     "qwen7b_correct": None, "seconds": 0.0, "metadata": None, "choices": []},
]
FORMATS = ["t.jsonl", "t.jsonl.gz", "t.parquet", "t.csv", "t.json"]


@pytest.mark.parametrize("name", FORMATS)
def test_round_trip_keeps_values_nested_objects_and_nulls(tmp_path, name):
    path = tmp_path / name
    assert write_table(path, ROWS) == 3
    back = read_rows(path)
    expected = [dict(r) for r in ROWS]
    if name.endswith(".csv"):
        # CSV has one null: the empty cell. Empty strings outside objects come back as null.
        expected[2]["question"] = None
        expected[2]["solution"] = None
    assert back == expected


def test_parquet_stores_heterogeneous_objects_as_json_and_marks_them(tmp_path):
    path = tmp_path / "t.parquet"
    write_table(path, ROWS)
    schema = pq.read_schema(path)
    assert schema.field("metadata").type == pa.string()
    assert json.loads(schema.metadata[b"s1cli.json_columns"]) == ["metadata", "choices"]
    assert schema.field("sample").type == pa.int64()


def test_parquet_written_by_other_tools_reads_natively(tmp_path):
    path = tmp_path / "other.parquet"
    table = pa.table({"id": ["x", "y"], "sample": [1.0, None], "meta": [{"k": 1}, {"k": 2}]})
    pq.write_table(table, path)
    assert read_rows(path) == [{"id": "x", "sample": 1, "meta": {"k": 1}},
                               {"id": "y", "sample": None, "meta": {"k": 2}}]


def test_mixed_types_in_an_open_column_survive_parquet(tmp_path):
    rows = [{"id": "a", "extra": 1}, {"id": "b", "extra": "text"}]
    write_table(tmp_path / "m.parquet", rows)
    assert read_rows(tmp_path / "m.parquet") == rows


def test_jsonl_reads_stream_without_reading_the_whole_file(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text('{"id": "1"}\n{"id": "2"}\nthis line is broken\n', encoding="utf-8")
    rows = iter_rows(path)
    assert next(rows) == {"id": "1"}  # the broken third line has not been parsed yet
    assert next(rows) == {"id": "2"}
    with pytest.raises(InputError, match=r"big.jsonl:3: not valid JSON"):
        next(rows)


def test_stdin_and_stdout_are_jsonl():
    out = io.StringIO()
    write_table("-", ROWS, stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["id"] == "a"
    back = read_rows("-", stdin=io.BytesIO(out.getvalue().encode()))
    assert back == ROWS


def test_renames_apply_before_validation(tmp_path):
    path = tmp_path / "s1k.jsonl"
    write_table(path, [{"id": "1", "thinking_trajectories": "hmm", "attempt": "4"}])
    renames = Renames.parse(["thinking=thinking_trajectories", "response=attempt"])
    assert read_rows(path, renames=renames, require=["thinking"]) == [{"id": "1", "thinking": "hmm", "response": "4"}]


def test_a_required_column_missing_after_rename_names_its_origin(tmp_path):
    path = tmp_path / "p.jsonl"
    write_table(path, [{"id": "1", "other": 1}])
    renames = Renames.parse(["thinking=thinking_trajectories"])
    message = r"p.jsonl:1: column 'thinking' \(mapped from 'thinking_trajectories'\) is missing"
    with pytest.raises(InputError, match=message):
        read_rows(path, renames=renames, require=["thinking"])


@pytest.mark.parametrize("spec", ["thinking", "=x", "x=", ""])
def test_bad_map_spec_is_a_config_error(spec):
    with pytest.raises(ConfigError, match="expected NEW=OLD"):
        Renames.parse([spec])


# -- bad input: one message naming file, line or row, and column ---------------------------------

BAD_JSONL = [
    ('{"id": "1", "question": "q"}\n{"id": "2" "question": "q"}\n',
     "bad.jsonl:2: not valid JSON (Expecting ',' delimiter at col 12)"),
    ('{"id": "1", "question": "q"}\n\n{"id": "2"}\n', "bad.jsonl:3: column 'question' is missing"),
    ('{"id": "1", "question": null}\n', "bad.jsonl:1: column 'question' is null"),
    ('{"id": "1", "question": "q"}\n{"id": "1", "question": "r"}\n',
     "bad.jsonl:2: column 'id': duplicate id '1' (first at bad.jsonl:1)"),
    ('{"id": 7, "question": "q"}\n', "bad.jsonl:1: column 'id' must be a string, got integer (7)"),
    ('{"id": "1", "question": "q", "sample": "3"}\n',
     "bad.jsonl:1: column 'sample' must be an integer, got string (\"3\")"),
    ('{"id": "1", "question": "q", "grader_correct": "maybe"}\n',
     "bad.jsonl:1: column 'grader_correct' must be a boolean, got string (\"maybe\")"),
    ('{"id": "1", "question": "q", "metadata": [1]}\n',
     "bad.jsonl:1: column 'metadata' must be an object, got array ([1])"),
    ('["id", "question"]\n', "bad.jsonl:1: expected a JSON object per row, got array"),
    ("\n\n", "bad.jsonl: no rows (the table is empty)"),
]


@pytest.mark.parametrize(("text", "message"), BAD_JSONL)
def test_bad_jsonl_names_file_line_and_column(tmp_path, text, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("bad.jsonl").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_rows("bad.jsonl", require=["question"])
    assert str(err.value) == message


def test_non_utf8_byte_names_line_and_column(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("bad.jsonl").write_bytes(b'{"id": "1"}\n{"id": "2", "q": "caf\xe9"}\n')
    with pytest.raises(InputError, match=r"^bad.jsonl:2: not valid UTF-8 \(byte 0xe9 at col 22\)$"):
        read_rows("bad.jsonl")


def test_empty_and_missing_files_and_unknown_extensions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("empty.parquet").write_bytes(b"")
    with pytest.raises(InputError, match=r"^empty.parquet: no rows \(the file is empty\)$"):
        read_rows("empty.parquet")
    with pytest.raises(InputError, match=r"^nope.jsonl: no such file$"):
        read_rows("nope.jsonl")
    with pytest.raises(InputError, match=r"^notes.txt: unknown table format '.txt'"):
        table_format("notes.txt")
    Path("dir.jsonl").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        read_rows("dir.jsonl")
    Path("junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match=r"^junk.parquet: not a valid Parquet file"):
        read_rows("junk.parquet")
    Path("junk.jsonl.gz").write_bytes(b"not gzip")
    with pytest.raises(InputError, match=r"^junk.jsonl.gz: not a valid gzip file"):
        read_rows("junk.jsonl.gz")


def test_parquet_errors_name_the_row(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pq.write_table(pa.table({"id": ["a", "b", "c"], "question": ["q", None, "q"]}), "p.parquet")
    with pytest.raises(InputError) as err:
        read_rows("p.parquet", require=["question"])
    assert str(err.value) == "p.parquet:row 2: column 'question' is null"


def test_csv_errors_name_the_line_even_after_multiline_cells(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("p.csv").write_text('id,question,sample\na,"two\nlines",1\nb,q,x\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_rows("p.csv")
    assert str(err.value) == 'p.csv:4: column \'sample\' must be an integer, got "x"'
    Path("short.csv").write_text("id,question\na\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"^short.csv:2: expected 2 fields as in the header, got 1$"):
        read_rows("short.csv")


def test_json_array_errors_name_the_row(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("a.json").write_text('[{"id": "1", "question": "q"}, {"id": "2"}]', encoding="utf-8")
    with pytest.raises(InputError, match=r"^a.json:row 2: column 'question' is missing$"):
        read_rows("a.json", require=["question"])


def test_generation_rows_share_an_id_but_not_a_key(tmp_path):
    rows = [{"id": "q1", "sample": s, "budget": b} for s in (0, 1) for b in (512, 1024)]
    write_table(tmp_path / "g.jsonl", rows)
    assert len(read_rows(tmp_path / "g.jsonl")) == 4


def test_count_rows(tmp_path):
    write_table(tmp_path / "c.jsonl", ROWS)
    write_table(tmp_path / "c.parquet", ROWS)
    assert count_rows(tmp_path / "c.jsonl") == 3
    assert count_rows(tmp_path / "c.parquet") == 3
    assert count_rows("-") is None


# -- atomic writes -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FORMATS)
def test_a_failed_write_leaves_the_previous_file_and_no_temp_files(tmp_path, name):
    path = tmp_path / name
    write_table(path, ROWS[:1])
    before = path.read_bytes()

    def failing():
        yield ROWS[1]
        raise InputError("boom")

    with pytest.raises(InputError):
        write_table(path, failing())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


# -- resumable writing ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", FORMATS)
def test_resumable_writer_skips_written_keys_on_rerun(tmp_path, name):
    path = tmp_path / name
    with ResumableWriter(path) as writer:
        for row in ROWS[:2]:
            writer.write(row)
    with ResumableWriter(path) as writer:
        assert writer.resumed == 2
        assert [writer.write(row) for row in ROWS] == [False, False, True]
    assert [r["id"] for r in read_rows(path)] == ["a", "b", "c"]
    assert not Path(str(path) + JOURNAL_SUFFIX).exists()


@pytest.mark.parametrize("name", ["o.parquet", "o.jsonl"])
def test_resumable_writer_overwrite_starts_afresh(tmp_path, name):
    path = tmp_path / name
    with ResumableWriter(path) as writer:
        writer.write(ROWS[0])
    with ResumableWriter(path, resume=False) as writer:
        assert writer.resumed == 0
        writer.write(ROWS[1])
    assert [r["id"] for r in read_rows(path)] == ["b"]


def test_parquet_output_is_journalled_until_the_run_completes(tmp_path):
    path = tmp_path / "out.parquet"
    journal = Path(str(path) + JOURNAL_SUFFIX)
    with pytest.raises(RuntimeError), ResumableWriter(path) as writer:
        writer.write(ROWS[0])
        raise RuntimeError("crash")
    assert not path.exists()
    assert [json.loads(line)["id"] for line in journal.read_text().splitlines()] == ["a"]
    with ResumableWriter(path) as writer:
        assert writer.has(("a", 0, None))
        for row in ROWS:
            writer.write(row)
    assert [r["id"] for r in read_rows(path)] == ["a", "b", "c"]
    assert not journal.exists()


def test_a_partial_last_line_is_dropped_and_a_whole_one_kept(tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b", "question": "cut of', encoding="utf-8")
    with ResumableWriter(path) as writer:
        assert writer.done == {("a", None, None)}
        writer.write({"id": "b"})
    assert [r["id"] for r in read_rows(path)] == ["a", "b"]

    path.write_text('{"id": "a"}\n{"id": "b"}', encoding="utf-8")  # whole row, no final newline
    with ResumableWriter(path) as writer:
        assert writer.done == {("a", None, None), ("b", None, None)}
        writer.write({"id": "c"})
    assert [r["id"] for r in read_rows(path)] == ["a", "b", "c"]


def test_gzip_jsonl_output_round_trips_through_the_journal(tmp_path):
    path = tmp_path / "o.jsonl.gz"
    with ResumableWriter(path) as writer:
        writer.write(ROWS[0])
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        assert json.loads(fh.readline())["id"] == "a"


def test_a_completed_run_with_no_rows_leaves_an_empty_output_and_a_failed_one_none(tmp_path):
    with ResumableWriter(tmp_path / "empty.jsonl"):
        pass
    assert (tmp_path / "empty.jsonl").read_text() == ""
    with pytest.raises(RuntimeError), ResumableWriter(tmp_path / "failed.jsonl"):
        raise RuntimeError("model failed to load")
    assert not (tmp_path / "failed.jsonl").exists()


@pytest.mark.parametrize("name", FORMATS)
def test_write_with_fixed_columns_streams_and_round_trips(tmp_path, name):
    from s1cli.schema import BOOL, FLOAT, INT, JSON, STR

    columns = {"id": STR, "question": STR, "answer": STR, "solution": STR, "sample": INT, "budget": INT,
               "qwen7b_correct": BOOL, "seconds": FLOAT, "metadata": JSON, "choices": JSON}
    many = [{**ROWS[i % 3], "id": str(i)} for i in range(20_000)]  # more than one Parquet batch

    def rows():
        yield from many

    path = tmp_path / name
    assert write_table(path, rows(), columns=columns) == len(many)
    expected = [dict(r) for r in many]
    if name.endswith(".csv"):
        for row in expected[2::3]:  # CSV's one null is the empty cell, as in the round trip above
            row.update(question=None, solution=None)
    assert read_rows(path) == expected
    if name.endswith(".parquet"):
        schema = pq.read_schema(path)
        assert json.loads(schema.metadata[b"s1cli.json_columns"]) == ["metadata", "choices"]
        assert schema.field("budget").type == pa.int64() and schema.field("seconds").type == pa.float64()
        assert pq.ParquetFile(path).metadata.num_row_groups > 1


def test_an_empty_table_with_fixed_columns_keeps_its_schema(tmp_path):
    from s1cli.schema import JSON, STR

    path = tmp_path / "empty.parquet"
    assert write_table(path, iter(()), columns={"id": STR, "metadata": JSON}) == 0
    assert pq.read_schema(path).names == ["id", "metadata"]
    assert read_rows(path, allow_empty=True) == []
    csv_path = tmp_path / "empty.csv"
    write_table(csv_path, iter(()), columns={"id": STR, "metadata": JSON})
    assert csv_path.read_bytes() == b"id,metadata\r\n"


def test_located_rows_are_parsed_but_not_checked(tmp_path):
    from s1cli.table import iter_located_rows

    path = tmp_path / "raw.jsonl"
    path.write_text('{"id": 7, "answer": 42}\n\n{"id": 7}\n')
    assert list(iter_located_rows(path)) == [(f"{path}:1", {"id": 7, "answer": 42}), (f"{path}:3", {"id": 7})]
