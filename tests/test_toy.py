"""The toy reasoning world: seeded, varied in steps, traces that compute the answer, slips that a
"Wait" corrects, and `s1 data toy` writing contract rows."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from s1cli.errors import ConfigError
from s1cli.table import read_rows
from s1cli.toy import FAMILIES, WAIT, toy_rows

from .conftest import run_s1


def settled_lines(row: dict) -> list[str]:
    """The thinking with each "Wait, LINE" put in place of the line before it."""
    lines: list[str] = []
    for line in row["thinking"].splitlines():
        if line.startswith(f"{WAIT}, "):
            lines[-1] = line.removeprefix(f"{WAIT}, ")
        else:
            lines.append(line)
    return lines


def replay(row: dict) -> int:
    """Recompute the answer from the trace alone, with each slip replaced by its correction,
    checking that every line continues from the state the line before left."""
    task = row["metadata"]["task"]
    state = None
    for line in settled_lines(row):
        value = int(re.findall(r"-?\d+", line)[-1])
        if task in ("sum", "walk"):
            left, delta = re.match(r"(-?\d+)([+-]\d+)=", line).groups()
            if state is not None:
                assert int(left) == state, (row["id"], line)
            assert int(left) + int(delta) == value, (row["id"], line)
        else:
            letter, verdict = line.split()[:2]
            target = re.search(r"letter (\w)", row["question"]).group(1)
            assert verdict == ("yes" if letter == target else "no")
            assert value == (state or 0) + (verdict == "yes")
        state = value
    return state


def test_traces_compute_the_answer_step_by_step():
    rows = list(toy_rows(300, seed=5, max_steps=10, slip_rate=0.3))
    for row in rows:
        assert replay(row) == int(row["answer"])
        assert row["response"] == f"Answer: {row['answer']}"
        assert len(settled_lines(row)) == row["metadata"]["steps"]
        waits = sum(line.startswith(WAIT) for line in row["thinking"].splitlines())
        assert waits == row["metadata"]["slip"] + row["metadata"]["check"]
        assert row["source"] == f"toy-{row['metadata']['task']}"
        assert row["domain"] == FAMILIES[row["metadata"]["task"]].domain


def test_steps_vary_over_the_range_and_families_take_turns():
    rows = list(toy_rows(600, seed=0, min_steps=2, max_steps=9))
    steps = Counter(r["metadata"]["steps"] for r in rows)
    assert set(steps) == set(range(2, 10))
    assert Counter(r["metadata"]["task"] for r in rows) == {name: 200 for name in FAMILIES}


def test_slips_are_corrected_and_checks_confirm_after_wait():
    rows = list(toy_rows(400, seed=1, slip_rate=0.25, check_rate=0.25))
    slipped = [r for r in rows if r["metadata"]["slip"]]
    checked = [r for r in rows if r["metadata"]["check"]]
    assert 60 < len(slipped) < 140 and 40 < len(checked) < 140
    for row in rows:
        lines = row["thinking"].splitlines()
        pairs = [(lines[i - 1], lines[i].removeprefix(f"{WAIT}, ")) for i in range(1, len(lines))
                 if lines[i].startswith(WAIT)]
        wrong = [(a, b) for a, b in pairs if a != b]
        same = [(a, b) for a, b in pairs if a == b]
        assert len(wrong) == row["metadata"]["slip"] and len(same) == row["metadata"]["check"]
        for before, after in wrong:  # a slip: the same step, another result
            assert before.rsplit(" ", 1)[0].split("=")[0] == after.rsplit(" ", 1)[0].split("=")[0]
    plain = list(toy_rows(200, seed=1, slip_rate=0.0, check_rate=0.0))
    assert not any(WAIT in r["thinking"] for r in plain)


def test_same_seed_same_rows_other_seed_other_rows_and_no_repeats():
    a, b = list(toy_rows(200, seed=3)), list(toy_rows(200, seed=3))
    assert a == b
    assert a != list(toy_rows(200, seed=4))
    assert len({r["question"] for r in a}) == len({r["id"] for r in a}) == 200


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="unknown toy task 'nope'"):
        list(toy_rows(3, tasks="sum,nope"))
    with pytest.raises(ConfigError, match="--min-steps 5 and --max-steps 2"):
        list(toy_rows(3, min_steps=5, max_steps=2))
    with pytest.raises(ConfigError, match="could not make 500 distinct"):
        list(toy_rows(500, tasks="sum", max_steps=1))  # only 100 one-step sums exist


def test_data_toy_writes_contract_rows(tmp_path):
    out = tmp_path / "toy.parquet"
    result = run_s1("data", "toy", out, "--n", "30", "--tasks", "sum,count", "--seed", "2", "--max-steps", "4")
    assert result.exit_code == 0, result.stderr
    rows = read_rows(out)
    assert len(rows) == 30 and {r["metadata"]["task"] for r in rows} == {"sum", "count"}
    assert all(1 <= r["metadata"]["steps"] <= 4 for r in rows)
    assert "wrote 30 toy rows" in result.stderr


def test_data_toy_rejects_an_unknown_task_in_one_line(tmp_path):
    result = run_s1("data", "toy", tmp_path / "t.jsonl", "--tasks", "algebra")
    assert result.exit_code == 2
    assert "unknown toy task 'algebra'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "t.jsonl").exists()
