"""The table contract: column kinds, coercion, keys."""

from __future__ import annotations

import math

import pytest

from s1cli.errors import InputError
from s1cli.schema import BOOL, INT, JSON, STR, Validator, coerce, column_kind, describe_key, from_text, row_key
from s1cli.table import read_rows, write_table

from .conftest import run_s1


def test_column_kinds_cover_contract_and_judge_families():
    assert column_kind("id") == STR
    assert column_kind("sample") == INT
    assert column_kind("metadata") == JSON
    assert column_kind("claude_correct") == BOOL
    assert column_kind("claude_judge") == STR
    assert column_kind("thinking_tokens") == INT
    assert column_kind("_correct") is None
    assert column_kind("anything_else") is None


def test_coercion_accepts_lossless_forms_only():
    assert coerce(3.0, INT) == 3 and isinstance(coerce(3.0, INT), int)
    assert coerce(math.nan, INT) is None
    assert coerce(2, "number") == 2.0
    for value, kind in [(3.5, INT), (True, INT), ("3", INT), (1, BOOL), (1, STR), ([], JSON)]:
        with pytest.raises(ValueError, match="must be"):
            coerce(value, kind)


def test_a_one_element_list_of_text_is_text_as_in_the_s1_releases():
    # s1K and the 59K pool store each trace as a one-element list (thinking_trajectories).
    assert coerce(["the trace"], STR) == "the trace"
    for value in (["a", "b"], [], [1]):
        with pytest.raises(ValueError, match="must be a string, got array"):
            coerce(value, STR)


def test_metadata_written_as_text_is_an_object_as_in_the_s1_releases():
    # s1K, s1K-1.1 and the 59K pool store metadata as str(dict): a Python literal, not JSON.
    literal = str({"level": 5, "type": "Algebra", "solved": True, "tags": None})
    assert coerce(literal, JSON) == {"level": 5, "type": "Algebra", "solved": True, "tags": None}
    assert coerce('{"level": 5}', JSON) == {"level": 5}
    assert from_text(literal, JSON)["type"] == "Algebra"
    for text in ("just text", "[1, 2]", "{'a': open('x')}", "5"):
        with pytest.raises(ValueError, match="must be an object"):
            coerce(text, JSON)


def test_yes_and_no_grades_are_booleans_as_in_s1k_1_1():
    assert coerce("Yes", BOOL) is True and coerce(" no ", BOOL) is False and coerce("true", BOOL) is True
    for text in ("maybe", "", "yes!"):
        with pytest.raises(ValueError, match="must be a boolean"):
            coerce(text, BOOL)


def test_a_release_layout_table_converts_and_feeds_sft_without_rewriting(tmp_path):
    rows = [{"question": f"What is {i} + {i}?", "solution": str(2 * i), "cot_type": "math",
             "source_type": "qq8933/MATH", "metadata": str({"level": i, "type": "Algebra"}),
             "thinking_trajectories": [f"{i}+{i}={2 * i}"], "attempt": f"Answer: {2 * i}", "id": f"r{i}"}
            for i in range(3)]
    src = tmp_path / "s1K.parquet"
    write_table(src, rows)
    out = tmp_path / "s1K.jsonl"
    done = run_s1("convert", src, out, "--map", "thinking=thinking_trajectories", "--map", "response=attempt",
                  "--require", "thinking", "--require", "response")
    assert done.exit_code == 0, done.stderr
    converted = read_rows(out)
    assert converted[1]["metadata"] == {"level": 1, "type": "Algebra"}
    assert converted[2]["thinking"] == "2+2=4" and converted[2]["response"] == "Answer: 4"


def test_csv_cells_parse_by_kind():
    assert from_text("", STR) is None
    assert from_text("12", INT) == 12
    assert from_text("true", BOOL) is True and from_text("0", BOOL) is False
    assert from_text('{"a": [1]}', JSON) == {"a": [1]}
    assert from_text("007", None) == "007"
    with pytest.raises(ValueError, match="must be a boolean"):
        from_text("maybe", BOOL)


def test_row_key_and_its_description():
    assert row_key({"id": "x", "sample": 2, "other": 1}) == ("x", 2, None)
    assert describe_key(("x", 2, None)) == "id 'x', sample 2"


def test_validator_can_allow_repeated_keys():
    validator = Validator(unique=False)
    for _ in range(2):
        validator.check({"id": "x"}, "t.jsonl:1")
    strict = Validator()
    strict.check({"id": "x"}, "t.jsonl:1")
    with pytest.raises(InputError, match="duplicate"):
        strict.check({"id": "x"}, "t.jsonl:2")
