"""`s1 join`: columns of one table added to another's rows by id."""

from __future__ import annotations

from s1cli.table import read_rows, write_table

from .conftest import run_s1


def tables(tmp_path):
    left = tmp_path / "pool.jsonl"
    write_table(left, [{"id": "a", "question": "1+1?", "x": 1}, {"id": "b", "question": "2+2?", "x": 2},
                       {"id": "c", "question": "3+3?", "x": 3}])
    right = tmp_path / "graded.parquet"
    write_table(right, [{"id": "c", "weak_correct": True, "x": 30, "note": "n"},
                        {"id": "a", "weak_correct": False, "x": 10, "note": "m"}])
    return left, right


def test_adds_columns_by_id_in_left_order_with_nulls_for_missing(tmp_path):
    left, right = tables(tmp_path)
    out = tmp_path / "out.jsonl"
    result = run_s1("join", left, right, out, "--columns", "weak_correct,x")
    assert result.exit_code == 0, result.stderr
    rows = read_rows(out)
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert [r["weak_correct"] for r in rows] == [False, None, True]
    assert [r["x"] for r in rows] == [10, None, 30]  # RIGHT's column replaces LEFT's
    assert all("note" not in r for r in rows)
    assert "for 2" in result.stderr and "1 rows of" in result.stderr


def test_pipes_to_stdout(tmp_path):
    left, right = tables(tmp_path)
    result = run_s1("join", left, right, "-", "-c", "note")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count('"note"') == 3


def test_a_repeated_id_in_right_is_one_line_naming_the_row(tmp_path):
    left, _ = tables(tmp_path)
    right = tmp_path / "samples.jsonl"
    write_table(right, [{"id": "a", "sample": 0, "ok": True}, {"id": "a", "sample": 1, "ok": False}])
    out = tmp_path / "out.jsonl"
    result = run_s1("join", left, right, out, "-c", "ok")
    assert result.exit_code == 2
    assert "samples.jsonl:row 2: column 'id': id 'a' appears again (first at row 1)" in result.stderr
    assert not out.exists()


def test_a_missing_column_names_the_file(tmp_path):
    left, right = tables(tmp_path)
    result = run_s1("join", left, right, tmp_path / "o.jsonl", "-c", "strong_correct")
    assert result.exit_code == 2
    assert "graded.parquet: column 'strong_correct' is missing" in result.stderr
    result = run_s1("join", left, right, tmp_path / "o.jsonl", "-c", "id")
    assert result.exit_code == 2 and "join key" in result.stderr
