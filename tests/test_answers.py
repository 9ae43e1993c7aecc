"""Answer extraction and equivalence against hand-labelled pairs (shared with `bench`), MATH500's own
reference solutions, and math-verify outside the main thread."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from s1cli.answers import (
    boxed_contents,
    check,
    choice_letter,
    equivalent,
    extract_answer,
    extract_choice,
    reference_answer,
)
from s1cli.bundled import load_table

PAIRS = [json.loads(line) for line in (Path(__file__).parent / "data" / "answer_pairs.jsonl").read_text().splitlines()]


def test_the_shared_pair_set_is_large_and_balanced():
    assert len(PAIRS) >= 60
    labels = Counter(pair["equivalent"] for pair in PAIRS)
    assert labels[True] >= 25 and labels[False] >= 20
    forms = {pair["form"] for pair in PAIRS}
    assert {"fraction", "latex", "interval", "set", "choice", "aime", "equation", "units", "none"} <= forms


@pytest.mark.parametrize("pair", PAIRS, ids=[f"{i}-{p['form']}" for i, p in enumerate(PAIRS)])
def test_hand_labelled_pairs(pair):
    verdict = check(pair["response"], pair["gold"], choices=pair.get("choices"))
    assert verdict.pred == pair["pred"]
    assert verdict.correct is pair["equivalent"], verdict.detail


def test_pairs_are_judged_the_same_in_worker_threads():
    # math-verify's signal timeouts raise outside the main thread unless switched off.
    with ThreadPoolExecutor(4) as pool:
        verdicts = list(pool.map(lambda p: check(p["response"], p["gold"], choices=p.get("choices")).correct, PAIRS))
    assert verdicts == [pair["equivalent"] for pair in PAIRS]


def test_boxed_keeps_nested_braces_and_the_last_box_wins():
    text = r"first \boxed{1}, then \boxed{\frac{\sqrt{a}}{b^{2}}} and \fbox{ {x} }"
    assert boxed_contents(text) == ["1", r"\frac{\sqrt{a}}{b^{2}}", "{x}"]
    assert extract_answer(r"\boxed{2} wait \boxed{\frac{1}{2}}") .answer == r"\frac{1}{2}"
    assert boxed_contents(r"\boxed{\{1,2\}}") == [r"\{1,2\}"]


def test_extraction_order_and_no_answer():
    assert extract_answer(r"the answer is 3. Final Answer: $\frac12$").how == "final answer"
    assert extract_answer("**Step 1:** add.\nSo we get **12**").answer == "12"
    assert extract_answer("no conclusion here").answer is None
    assert extract_answer(None).how == "none"
    assert extract_choice("I pick (C) because... Final: I think (A)").answer == "A"
    assert choice_letter(r"\text{(D)}") == "D" and choice_letter("42") is None


def test_reference_answer_from_a_solution_or_a_short_answer():
    assert reference_answer(r"so $x=\boxed{5}$.", solution=True) == "5"
    assert reference_answer("The answer is 12.", solution=True) == "12"
    assert reference_answer(r"\frac{1}{2}") == r"\frac{1}{2}"
    assert reference_answer("  ") is None
    # s1K's solution column holds a bare answer for AIME rows: that is the answer
    assert reference_answer("125", solution=True) == "125"
    assert reference_answer(r"\frac{3}{4}", solution=True) == r"\frac{3}{4}"
    # a worked solution that never states its answer still has none
    assert reference_answer("Expand both sides and compare the coefficients of each power.", solution=True) is None
    assert check("x", None).detail == "no answer found in the reference"


def test_equivalence_is_not_fooled_by_symbol_products():
    assert equivalent("no", "on") is False  # math-verify alone: n*o == o*n
    assert equivalent(r"\text{Yes}", "yes") is True
    assert equivalent(None, "1") is False


def test_math500_reference_solutions_grade_correct_and_shuffled_ones_do_not():
    rows = load_table("math500")
    assert all(check(r["solution"], r["answer"]).correct for r in rows)
    shuffled = [check(a["solution"], b["answer"]).correct
                for a, b in zip(rows, rows[1:] + rows[:1], strict=True)]
    assert sum(shuffled) <= 5  # only genuinely equal neighbours (e.g. 7 and 7)
