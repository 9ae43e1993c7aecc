"""Evaluation sets: task names, bundled sets with subsets and limits, user tables, and GPQA Diamond
from a (synthetic) user file with the choices shuffled as the s1 harness does."""

from __future__ import annotations

import random
import re

import pytest

from s1cli.errors import ConfigError, InputError
from s1cli.evalsets import GPQA_TEMPLATE, Subset, TaskSpec, load_gpqa, load_tasks, parse_tasks
from s1cli.table import write_table

from .synthetic import gpqa_rows, write_gpqa


def test_task_names():
    assert parse_tasks("aime24, math500") == [TaskSpec("aime24"), TaskSpec("math500")]
    assert parse_tasks(["aime25", "gpqa_diamond=data/g.csv"]) == [TaskSpec("aime25"),
                                                                  TaskSpec("gpqa_diamond", "data/g.csv")]
    assert TaskSpec.parse("data/my.eval.jsonl.gz") == TaskSpec("my.eval", "data/my.eval.jsonl.gz")
    assert TaskSpec.parse("mine=q.parquet") == TaskSpec("mine", "q.parquet")
    assert TaskSpec("gpqa_diamond", "g.csv").is_gpqa and not TaskSpec("mine", "g.csv").is_gpqa


@pytest.mark.parametrize(("spec", "message"), [
    ("aime23", "unknown task 'aime23'; choose from aime24, aime25, math500, gpqa_diamond=FILE"),
    ("gpqa_diamond", "give your copy as gpqa_diamond=FILE"),
    ("math500=mine.jsonl", "math500 is bundled; name your file differently"),
    ("=x.jsonl", "expected NAME=FILE"),
    ("aime24,aime24", "--tasks names 'aime24' more than once"),
    (" , ", "--tasks is empty"),
])
def test_bad_task_names(spec, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_tasks(spec)


def test_bundled_sets_with_subsets_and_limits():
    (math,) = load_tasks(parse_tasks("math500"), subsets=[Subset.parse("level=5")])
    assert math.total == 500 and len(math.rows) == 134
    assert {row["metadata"]["level"] for row in math.rows} == {5}
    assert {row["task"] for row in math.rows} == {"math500"}
    two = load_tasks(parse_tasks("math500,aime24"), subsets=[Subset.parse("math500:subject=algebra,Geometry")],
                     limit=7)
    assert [len(s.rows) for s in two] == [7, 7]
    assert {r["metadata"]["subject"] for r in two[0].rows} <= {"Algebra", "Geometry"}
    assert [r["id"] for r in two[1].rows] == [f"aime24-I-{i:02d}" for i in range(1, 8)]  # file order


@pytest.mark.parametrize(("subset", "message"), [
    ("difficulty=3", "task math500 has no column or metadata field 'difficulty' (it has id, question, answer"),
    ("level=9", "--subset level=9: no math500 question matches"),
    ("aime24:level=5", "--subset aime24:level=...: aime24 is not among --tasks (math500)"),
    ("level", "expected [TASK:]KEY=VALUE"),
])
def test_bad_subsets(subset, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_tasks(parse_tasks("math500"), subsets=[Subset.parse(subset)])


def test_a_user_table_with_question_and_answer(tmp_path):
    path = tmp_path / "mine.jsonl"
    write_table(path, [{"question": "1+1?", "answer": "2"}, {"id": "x", "question": "2+2?", "answer": "4"}])
    (evalset,) = load_tasks(parse_tasks(str(path)))
    assert evalset.name == "mine" and [r["id"] for r in evalset.rows] == ["mine-1", "x"]
    write_table(path, [{"id": "a", "question": "1+1?"}])
    with pytest.raises(InputError, match=re.escape("mine.jsonl:1: column 'answer' is missing")):
        load_tasks(parse_tasks(str(path)))


def test_ids_must_be_unique_across_tasks(tmp_path):
    path = tmp_path / "copy.jsonl"
    write_table(path, [{"id": "aime24-I-01", "question": "q", "answer": "1"}])
    with pytest.raises(InputError, match="id 'aime24-I-01' of task copy is also in task aime24"):
        load_tasks(parse_tasks(f"aime24,{path}"))


# ------------------------------------------------------------------------------------------ GPQA


def test_gpqa_choices_are_shuffled_as_the_s1_harness_does(tmp_path):
    rows = load_gpqa(str(write_gpqa(tmp_path / "gpqa.csv")))
    # the harness: [incorrect 1, 2, 3, correct], random.shuffle from one generator seeded once, in file order
    rng = random.Random(0)
    for raw, row in zip(gpqa_rows(), rows, strict=True):
        choices = [raw[3], raw[4], raw[5], raw[2]]
        rng.shuffle(choices)
        assert row["metadata"]["choices"] == choices
        letter = "ABCD"[choices.index(raw[2])]
        assert row["answer"] == letter
        assert f"\n{letter}) {raw[2]}\n" in row["question"] + "\n"  # the right text sits at the right letter
        assert row["question"] == GPQA_TEMPLATE.format(question=raw[1], **dict(zip("ABCD", choices, strict=True)))
        assert row["id"] == raw[0] and row["source"] == "gpqa_diamond" and row["domain"] == "science"
        assert row["metadata"]["high_level_domain"] == raw[7]
    assert len({row["answer"] for row in rows}) > 1, "a fixed letter would make the benchmark trivial"
    assert load_gpqa(str(tmp_path / "gpqa.csv")) == rows  # reproducible


def test_gpqa_in_the_snake_case_form_gives_the_same_questions(tmp_path):
    official = load_gpqa(str(write_gpqa(tmp_path / "gpqa.csv")))
    snake = load_gpqa(str(write_gpqa(tmp_path / "gpqa.jsonl", snake=True)))
    assert snake == official


def test_gpqa_without_record_ids_and_as_a_task(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3\n"
                    "Pick one,yes,no,maybe,never\n", encoding="utf-8")
    (evalset,) = load_tasks(parse_tasks(f"gpqa_diamond={path}"))
    assert evalset.kind == "choice" and evalset.rows[0]["id"] == "gpqa_diamond-1"
    assert evalset.rows[0]["task"] == "gpqa_diamond" and evalset.rows[0]["answer"] in "ABCD"


@pytest.mark.parametrize(("header", "line", "message"), [
    ("Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3",
     "q,a,b,,d", "g.csv:3: column 'incorrect_answer_2' (mapped from 'Incorrect Answer 2') is null"),
    ("Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2",
     "q,a,b,c", "g.csv:2: column 'incorrect_answer_3' (mapped from 'Incorrect Answer 3') is missing"),
    ("Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3",
     "q,a,b,a,d", "g.csv:row 2: column 'correct_answer' is the same text as an incorrect answer"),
    ("Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3",
     "q,a,b,\" \",d", "g.csv:row 2: column 'incorrect_answer_2' (mapped from 'Incorrect Answer 2') is empty"),
])
def test_gpqa_with_a_missing_choice_names_file_row_and_column(tmp_path, header, line, message):
    path = tmp_path / "g.csv"
    first = "q0,a0,b0,c0,d0" if header.count(",") == 4 else "q0,a0,b0,c0"
    path.write_text(f"{header}\n{first}\n{line}\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_gpqa(str(path))
    assert str(caught.value) == f"{tmp_path}/{message}"
