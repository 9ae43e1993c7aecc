"""Synthetic evaluation data for tests: GPQA-format files with invented questions (never real GPQA
text, which its authors ask not to be posted)."""

from __future__ import annotations

import csv
from pathlib import Path

from s1cli.table import write_table

OFFICIAL = ["Record ID", "Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2",
            "Incorrect Answer 3", "Subdomain", "High-level domain"]
SNAKE = ["id", "question", "correct_answer", "incorrect_answer_1", "incorrect_answer_2", "incorrect_answer_3",
         "subdomain", "high_level_domain"]


def gpqa_rows(count: int = 6) -> list[list[str]]:
    """Invented questions: question i's correct answer is 'right i', its distractors 'wrong i.a/b/c'."""
    domains = ["Physics", "Chemistry", "Biology"]
    return [[f"rec{i:03d}", f"Synthetic question {i}:\nwhich label is right?", f"right {i}", f"wrong {i}.a",
             f"wrong {i}.b", f"wrong {i}.c", f"sub {i % 2}", domains[i % 3]] for i in range(count)]


def write_gpqa(path: Path, rows: list[list[str]] | None = None, *, snake: bool = False) -> Path:
    """A GPQA-format table: the official CSV header (or the snake-case form, written as JSONL)."""
    rows = gpqa_rows() if rows is None else rows
    if snake:
        write_table(path, [dict(zip(SNAKE, row, strict=True)) for row in rows])
        return path
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(OFFICIAL)
        writer.writerows(rows)
    return path
