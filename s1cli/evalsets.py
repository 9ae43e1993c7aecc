"""Evaluation sets for ``s1 bench``: the bundled AIME24, AIME25 and MATH500, GPQA Diamond from the
user's own copy, and any table with ``question`` and ``answer`` columns.

A task is named on the command line as:

- ``aime24``, ``aime25``, ``math500``: bundled (``s1cli/data``);
- ``gpqa_diamond=FILE``: GPQA Diamond from FILE (its authors ask that it not be redistributed, so
  it is not bundled). FILE is the official CSV (``Question``, ``Correct Answer``, ``Incorrect Answer
  1`` .. ``3``, optionally ``Record ID``, ``Subdomain``, ``High-level domain``) or the same columns in
  snake case (``question``, ``correct_answer``, ``incorrect_answer_1`` .. ``3``, ``id``,
  ``subdomain``, ``high_level_domain``), in any table format. The four choices are shuffled into
  A-D as the s1 evaluation harness does (its lm-evaluation-harness fork, task
  ``gpqa_diamond_openai``): the list [incorrect 1, incorrect 2, incorrect 3, correct] is shuffled
  with Python's ``random`` seeded once (seed 0) and consumed in file order, and the prompt is
  ``{question}\\n\\nA) ..\\nB) ..\\nC) ..\\nD) ..``; the reference answer is the letter. (The harness
  shares its generator with the rest of its run, so its letters may differ from these; the
  procedure is the same and these letters are reproducible.)
- ``NAME=FILE`` or ``FILE``: any table with ``question`` and ``answer`` (and ``id``; rows without
  one get ``NAME-<row>``), named NAME or after the file.

Every row gets a ``task`` column. ``Subset`` keeps rows by a column or ``metadata`` field (e.g.
MATH500's ``level`` or ``subject``); ``limit`` keeps the first N rows of each task after that.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bundled import TABLES, table_path
from .errors import ConfigError, InputError
from .schema import Renames, Row
from .table import iter_rows, read_rows, split_extension

BUNDLED = tuple(name for name, table in TABLES.items() if table.kind == "eval")
GPQA = "gpqa_diamond"
GPQA_SEED = 0
CHOICE_LETTERS = "ABCD"
GPQA_TEMPLATE = "{question}\n\nA) {A}\nB) {B}\nC) {C}\nD) {D}"
# Canonical (snake case) GPQA column -> the official CSV's header.
GPQA_REQUIRED = {
    "question": "Question",
    "correct_answer": "Correct Answer",
    "incorrect_answer_1": "Incorrect Answer 1",
    "incorrect_answer_2": "Incorrect Answer 2",
    "incorrect_answer_3": "Incorrect Answer 3",
}
GPQA_OPTIONAL = {"id": "Record ID", "subdomain": "Subdomain", "high_level_domain": "High-level domain"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class TaskSpec:
    """A task as named on the command line."""

    name: str
    path: str | None = None  # None: bundled

    @classmethod
    def parse(cls, spec: str) -> TaskSpec:
        text = spec.strip()
        name, sep, path = text.partition("=")
        if sep:
            name, path = name.strip(), path.strip()
            if not name or not path or not _NAME.match(name):
                raise ConfigError(f"task {spec!r}: expected NAME=FILE with a name of letters, digits, _ . or -")
            if name in BUNDLED:
                raise ConfigError(f"task {spec!r}: {name} is bundled; name your file differently")
            return cls(name, path)
        if text in BUNDLED:
            return cls(text)
        if text == GPQA:
            raise ConfigError(f"task {GPQA!r} is not bundled (its authors ask that it not be posted in plain text): "
                              f"give your copy as {GPQA}=FILE, e.g. --tasks {GPQA}=gpqa_diamond.csv")
        if _looks_like_table(text):
            return cls(split_extension(Path(text).name)[0] or "table", text)
        raise ConfigError(f"unknown task {text!r}; choose from {', '.join(BUNDLED)}, {GPQA}=FILE, or a table "
                          "with question and answer columns (FILE or NAME=FILE)")

    @property
    def is_gpqa(self) -> bool:
        return self.name == GPQA and self.path is not None


def _looks_like_table(text: str) -> bool:
    return bool(split_extension(text)[1])


def parse_tasks(text: str | Sequence[str]) -> list[TaskSpec]:
    """``aime24,math500,gpqa_diamond=g.csv`` (or a list of such) → task specs; names must be unique."""
    items = [text] if isinstance(text, str) else list(text)
    specs = [TaskSpec.parse(part) for item in items for part in item.split(",") if part.strip()]
    if not specs:
        raise ConfigError("--tasks is empty; e.g. --tasks aime24,math500")
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"--tasks names {duplicates[0]!r} more than once")
    return specs


# ------------------------------------------------------------------------------------------ subsets


@dataclass(frozen=True)
class Subset:
    """``--subset [TASK:]KEY=V1,V2``: keep rows whose KEY (a column or a metadata field) is one of the
    values (compared as text, ignoring case). Without TASK it applies to every task."""

    key: str
    values: tuple[str, ...]
    task: str | None = None

    @classmethod
    def parse(cls, spec: str) -> Subset:
        head, sep, values = spec.partition("=")
        task, colon, key = head.rpartition(":")
        key = key.strip()
        wanted = tuple(v.strip() for v in values.split(",") if v.strip())
        if not sep or not key or not wanted or (colon and not task.strip()):
            raise ConfigError(f"--subset {spec!r}: expected [TASK:]KEY=VALUE[,VALUE...], e.g. --subset level=5 "
                              "or --subset 'math500:subject=Number Theory'")
        return cls(key, wanted, task.strip() or None)

    def applies_to(self, task: str) -> bool:
        return self.task is None or self.task == task

    def keeps(self, row: Row) -> bool:
        value = field_value(row, self.key)
        return value is not None and str(value).strip().lower() in {v.lower() for v in self.values}


def field_value(row: Row, key: str) -> Any:
    """A row's column, else its metadata field, else None."""
    if row.get(key) is not None:
        return row[key]
    metadata = row.get("metadata")
    return metadata.get(key) if isinstance(metadata, dict) else None


def _keys_of(rows: Sequence[Row]) -> list[str]:
    keys: dict[str, None] = {}
    for row in rows[:50]:
        keys.update(dict.fromkeys(k for k in row if k != "metadata"))
        if isinstance(row.get("metadata"), dict):
            keys.update(dict.fromkeys(row["metadata"]))
    return list(keys)


def select_rows(task: str, rows: list[Row], subsets: Sequence[Subset] = (), limit: int | None = None) -> list[Row]:
    """Apply the subsets meant for ``task`` (a key no row has is an error), then ``limit``."""
    for subset in subsets:
        if not subset.applies_to(task):
            continue
        if not any(field_value(row, subset.key) is not None for row in rows):
            raise ConfigError(f"--subset {subset.key}=...: task {task} has no column or metadata field "
                              f"{subset.key!r} (it has {', '.join(_keys_of(rows))})")
        rows = [row for row in rows if subset.keeps(row)]
        if not rows:
            raise ConfigError(f"--subset {subset.key}={','.join(subset.values)}: no {task} question matches")
    return rows[:limit] if limit else rows


# ------------------------------------------------------------------------------------------ loading


@dataclass
class EvalSet:
    """One task's questions: rows with id, question, answer, task (and the source's other columns)."""

    name: str
    rows: list[Row]
    origin: str  # "bundled" or the file it came from
    kind: str = "math"  # math or choice
    total: int = 0  # rows before subset/limit
    notes: list[str] = field(default_factory=list)


def load_task(spec: TaskSpec, *, renames: Renames | None = None) -> EvalSet:
    """All rows of one task (no subset or limit), each with a ``task`` column."""
    if spec.path is None:
        rows = read_rows(table_path(spec.name))
        origin = "bundled"
    elif spec.is_gpqa:
        rows = load_gpqa(spec.path)
        origin = spec.path
    else:
        rows = []
        for index, row in enumerate(iter_rows(spec.path, require=("question", "answer"), renames=renames,
                                                  derive_ids=False), 1):
            if row.get("id") is None:
                row["id"] = f"{spec.name}-{index}"
            rows.append(row)
        origin = spec.path
    for row in rows:
        row["task"] = spec.name
    kind = "choice" if spec.is_gpqa else "math"
    return EvalSet(spec.name, rows, origin, kind, total=len(rows))


def load_tasks(specs: Iterable[TaskSpec], *, subsets: Sequence[Subset] = (), limit: int | None = None,
               renames: Renames | None = None) -> list[EvalSet]:
    """Load and select every task, checking everything before any expensive work: unknown subset
    tasks, subset keys, and question ids shared between tasks (outputs are keyed by id)."""
    specs = list(specs)
    names = {s.name for s in specs}
    for subset in subsets:
        if subset.task is not None and subset.task not in names:
            raise ConfigError(f"--subset {subset.task}:{subset.key}=...: {subset.task} is not among --tasks "
                              f"({', '.join(sorted(names))})")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {limit}")
    sets = []
    owner: dict[str, str] = {}
    for spec in specs:
        evalset = load_task(spec, renames=renames)
        evalset.rows = select_rows(spec.name, evalset.rows, subsets, limit)
        for row in evalset.rows:
            first = owner.setdefault(row["id"], spec.name)
            if first != spec.name:
                raise InputError(f"{evalset.origin}: id {row['id']!r} of task {spec.name} is also in task {first}; "
                                 "ids must be unique across tasks")
        sets.append(evalset)
    return sets


# ------------------------------------------------------------------------------------------ GPQA


def _gpqa_renames(path: str) -> Renames:
    """Read the official headers as the snake-case form (whichever form the file uses)."""
    first = next(iter_rows(path, unique=False, derive_ids=False), {})
    official = {**GPQA_REQUIRED, **GPQA_OPTIONAL}
    if not any(header in first for header in official.values()):
        return Renames()
    return Renames(tuple((new, old) for new, old in official.items() if new not in first))


def load_gpqa(path: str, *, seed: int = GPQA_SEED) -> list[Row]:
    """GPQA rows with the four choices shuffled into A-D (see the module docstring); the reference
    answer is the letter. Raises InputError naming file, row and column for a missing choice."""
    renames = _gpqa_renames(path)
    rng = random.Random(seed)
    rows = []
    for index, raw in enumerate(iter_rows(path, require=tuple(GPQA_REQUIRED), renames=renames, derive_ids=False), 1):
        where = f"{path}:row {index}"
        texts = {}
        for column in GPQA_REQUIRED:
            value = raw[column]
            if not isinstance(value, str):
                value = str(value)
            if not value.strip():
                origin = renames.origin(column)
                hint = f" (mapped from {origin!r})" if origin else ""
                raise InputError(f"{where}: column {column!r}{hint} is empty")
            texts[column] = value.strip()
        correct = texts["correct_answer"]
        wrong = [texts[f"incorrect_answer_{i}"] for i in (1, 2, 3)]
        if correct in wrong:
            raise InputError(f"{where}: column 'correct_answer' is the same text as an incorrect answer")
        choices = [*wrong, correct]
        rng.shuffle(choices)
        letter = CHOICE_LETTERS[choices.index(correct)]
        row_id = raw.get("id")
        metadata = {"choices": choices, "correct_text": correct}
        for column in ("subdomain", "high_level_domain"):
            if raw.get(column) is not None:
                metadata[column] = raw[column]
        rows.append({
            "id": str(row_id) if row_id is not None else f"{GPQA}-{index}",
            "question": GPQA_TEMPLATE.format(question=texts["question"], **dict(zip(CHOICE_LETTERS, choices,
                                                                                   strict=True))),
            "answer": letter,
            "source": GPQA,
            "domain": "science",
            "metadata": metadata,
        })
    return rows
