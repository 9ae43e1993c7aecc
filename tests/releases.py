"""Small tables laid out exactly as the published reasoning datasets ship them: the same column
names, types and quirks (Python-literal ``metadata``, one-element trace lists, Yes/No grades, no
``id``), with invented math questions. Used to test that every command and every documented
example reads the releases as they are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

# (question, short answer, source_type, MSC title): invented, small enough for the tiny model
QUESTIONS = [
    ("Compute 17 + 25.", "42", "qfq/openaimath/Prealgebra", "Number theory"),
    ("Find the remainder when 2^10 is divided by 7.", "2", "AI-MO/NuminaMath-CoT/aops_forum", "Number theory"),
    ("How many subsets does a set with 5 elements have?", "32", "qq8933/AIME_1983_2024", "Combinatorics"),
    ("Solve 3x + 4 = 19 for x.", "5", "qfq/openaimath/Algebra", "General algebraic systems"),
    ("What is the area of a square with side 9?", "81", "qfq/openaimath/Geometry", "Geometry"),
    ("Which particle mediates the electromagnetic force?\nA) gluon B) photon C) W boson D) graviton", "B",
     "Idavidrein/gpqa", "Quantum theory"),
    ("Evaluate the sum 1 + 2 + ... + 20.", "210", "KbsdJames/Omni-MATH", "Sequences, series, summability"),
    ("What is the derivative of x^3 at x = 2?", "12", "AI-MO/NuminaMath-CoT/olympiads", "Real functions"),
]


def _trace(i: int, answer: str) -> str:
    return f"Let me work through problem {i}. Check each step carefully. So the answer is {answer}."


def _attempt(answer: str) -> str:
    return f"The answer is $\\boxed{{{answer}}}$."


def _metadata(i: int) -> str:
    # The releases store str(dict): single quotes, Python literals, not JSON.
    return repr({"level": i % 5 + 1, "subject": "Algebra", "unique_id": f"test/algebra/{i}.json", "flag": None})


def s1k_rows() -> list[dict[str, Any]]:
    """simplescaling/s1K and data_ablation_full59K."""
    return [{"solution": answer, "question": q, "cot_type": "math", "source_type": source,
             "metadata": _metadata(i), "cot": None, "thinking_trajectories": [_trace(i, answer)],
             "attempt": _attempt(answer)}
            for i, (q, answer, source, _) in enumerate(QUESTIONS)]


def s1k_11_rows() -> list[dict[str, Any]]:
    """simplescaling/s1K-1.1: DeepSeek-R1 and Gemini traces side by side, graded Yes / No."""
    rows = []
    for i, (q, answer, source, _) in enumerate(QUESTIONS):
        rows.append({"solution": answer, "question": q, "cot_type": "math", "source_type": source,
                     "metadata": _metadata(i), "gemini_thinking_trajectory": _trace(i, answer),
                     "gemini_attempt": _attempt(answer), "deepseek_thinking_trajectory": "R1: " + _trace(i, answer),
                     "deepseek_attempt": _attempt(answer), "gemini_grade": "Yes" if i % 3 else "No",
                     "gemini_grade_reason": "matches the reference", "deepseek_grade": "No" if i == 2 else "Yes",
                     "deepseek_grade_reason": "matches the reference"})
    return rows


def featurized_rows() -> list[dict[str, Any]]:
    """qfq/train_featurized: the 59K pool with the selection features (MSC titles in ``domain``)."""
    rows = []
    for i, row in enumerate(s1k_rows()):
        row.update({"domain": QUESTIONS[i][3], "isqwen7bcorrect": i in (0, 4), "isqwen32bcorrect": i == 0,
                    "isgeminicorrect": i != 3, "isqwqcorrect": False, "gemini_length": 400 + 900 * i})
        rows.append(row)
    return rows


def openr1_rows() -> list[dict[str, Any]]:
    """open-r1/OpenR1-Math-220k: two R1 generations per problem, math-verify verdicts per trace."""
    rows = []
    for i, (q, answer, _, _) in enumerate(QUESTIONS):
        wrong = f"<think>\nA first try at problem {i}.\n</think>\n\nThe answer is $\\boxed{{0}}$."
        right = f"<think>\n{_trace(i, answer)}\n</think>\n\n{_attempt(answer)}"
        rows.append({"problem": q, "solution": f"Work it out: {answer}.", "answer": answer,
                     "problem_type": "Algebra", "question_type": "math-word-problem",
                     "source": "olympiads" if i % 2 else "amc_aime", "uuid": f"0f6c{i:04d}-aaaa-5bbb-8ccc-{i:012d}",
                     "is_reasoning_complete": [True, True], "generations": [wrong, right],
                     "correctness_math_verify": [False, True], "correctness_llama": None,
                     "finish_reasons": None, "correctness_count": 1,
                     "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": right}]})
    return rows


def numina_cot_rows() -> list[dict[str, Any]]:
    """AI-MO/NuminaMath-CoT: source, problem, solution (with the boxed answer), messages."""
    return [{"source": "olympiads" if i % 2 else "synthetic_math", "problem": q,
             "solution": f"Step by step. {_attempt(answer)}",
             "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": _attempt(answer)}]}
            for i, (q, answer, _, _) in enumerate(QUESTIONS)]


def numina_15_rows() -> list[dict[str, Any]]:
    """AI-MO/NuminaMath-1.5: an answer column and validity flags."""
    return [{"problem": q, "solution": f"Step by step. {_attempt(answer)}", "answer": answer,
             "problem_type": "Algebra", "question_type": "math-word-problem", "problem_is_valid": "Yes",
             "solution_is_valid": "Yes", "source": "olympiads", "synthetic": False}
            for q, answer, _, _ in QUESTIONS]


RELEASES: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "s1K.parquet": s1k_rows,
    "s1K-1.1.parquet": s1k_11_rows,
    "s1-featurized.parquet": featurized_rows,
    "OpenR1-Math.parquet": openr1_rows,
    "NuminaMath-CoT.parquet": numina_cot_rows,
    "NuminaMath-1.5.parquet": numina_15_rows,
}


def write_release(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows with pyarrow's own type inference, as ``datasets`` writes a hub Parquet file
    (lists stay lists, None stays null; no JSON-text columns of ours)."""
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def write_releases(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {name: write_release(folder / name, make()) for name, make in RELEASES.items()}
