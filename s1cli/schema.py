"""The table contract: canonical columns, their types, and row validation.

Every table is rows (dicts) with a unique string ``id``. Commands keep columns they do not
use, so one table flows through every step. Validation names the file, line or row, and
column, so a user can jump straight to the problem.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .dedupe import digest, normalize, short_hash
from .errors import ConfigError, InputError, located

Row = dict[str, Any]

# Kinds a column can hold. "json" means any JSON object (dict) or null.
STR, INT, BOOL, FLOAT, JSON = "string", "integer", "boolean", "number", "object"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    written_by: str
    doc: str


CANONICAL: tuple[Column, ...] = (
    Column("id", STR, "collect", "stable row id: source + hash of the normalised question"),
    Column("question", STR, "collect", "the prompt"),
    Column("answer", STR, "collect", "the short reference answer"),
    Column("solution", STR, "collect", "a worked reference solution"),
    Column("source", STR, "collect", "dataset name"),
    Column("domain", STR, "collect", "coarse field: math, science, ..."),
    Column("metadata", JSON, "collect", "JSON object with the source's other fields"),
    Column("thinking", STR, "generate", "the reasoning trace"),
    Column("response", STR, "generate", "the text after the thinking (the attempt)"),
    Column("model", STR, "generate", "which model generated the row"),
    Column("sample", INT, "generate", "sample index for parallel sampling"),
    Column("budget", INT, "generate", "thinking-token cap (null = none)"),
    Column("thinking_tokens", INT, "generate", "tokens in the thinking"),
    Column("response_tokens", INT, "generate", "tokens in the response"),
    Column("waits", INT, "generate", "wait strings appended to extend thinking"),
    Column("finish", STR, "generate", "stop, length, forced (thinking capped) or forced+length"),
    Column("seconds", FLOAT, "generate", "wall-clock seconds spent on the row"),
    Column("msc", STR, "classify-msc", "MSC2020 two-digit code"),
    Column("msc_name", STR, "classify-msc", "name of the MSC2020 class"),
    Column("selected_by", STR, "select", "which rule kept the row"),
)

COLUMNS: dict[str, Column] = {c.name: c for c in CANONICAL}

# Families of columns named after a judge or a measured column.
SUFFIXES: dict[str, str] = {"_correct": BOOL, "_judge": STR, "_tokens": INT}

# The row key used for uniqueness and resume: id, plus sample and budget where present.
KEY_COLUMNS = ("id", "sample", "budget")


def column_kind(name: str) -> str | None:
    """The kind a column must hold, or None for a column outside the contract."""
    if name in COLUMNS:
        return COLUMNS[name].kind
    for suffix, kind in SUFFIXES.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return kind
    return None


def row_key(row: Mapping[str, Any]) -> tuple:
    """Identify a row for resume and duplicate checks: (id, sample, budget)."""
    return tuple(row.get(name) for name in KEY_COLUMNS)


def derived_id(row: Mapping[str, Any]) -> str | None:
    """The id of a row that has none: its source and a hash of its normalised question, as ``collect``
    names rows (``numina-1f0c…``; the hash alone without a source). None without a question. The same
    content gives the same id in every command and every run, so a later step and a resume agree."""
    question = row.get("question")
    if isinstance(question, list) and len(question) == 1:
        question = question[0]
    if not isinstance(question, str) or not question.strip():
        return None
    hashed = short_hash(digest(normalize(question)))
    source = row.get("source")
    return f"{source}-{hashed}" if isinstance(source, str) and source.strip() else hashed


def describe_key(key: tuple) -> str:
    parts = [f"id {key[0]!r}"]
    parts += [f"{name} {value!r}" for name, value in zip(KEY_COLUMNS[1:], key[1:], strict=True) if value is not None]
    return ", ".join(parts)


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
            float: "number"}.get(type(value), type(value).__name__)


BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def coerce(value: Any, kind: str) -> Any:
    """Return ``value`` as ``kind``, or raise ValueError with a reason.

    Accepts the lossless conversions formats force on us: integral floats for integers
    (pandas stores an integer column with nulls as floats) and NaN for null. A text column
    also takes a one-element list of text: the s1 releases (s1K, the 59K pool) store each
    trace that way (``thinking_trajectories``), so ``--map thinking=thinking_trajectories`` works.
    """
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool):
        if kind == BOOL:
            return value
    elif (kind == STR and isinstance(value, str)) or (kind == JSON and isinstance(value, dict)):
        return value
    elif kind == JSON and isinstance(value, str) and (parsed := object_from_text(value)) is not None:
        return parsed
    elif kind == BOOL and isinstance(value, str) and value.strip().lower() in BOOL_WORDS:
        # s1K-1.1 grades attempts "Yes" / "No"; CSV and spreadsheets write true/false or 1/0.
        return BOOL_WORDS[value.strip().lower()]
    elif kind == STR and isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    elif kind == INT and isinstance(value, (int, float)) and float(value).is_integer():
        return int(value)
    elif kind == FLOAT and isinstance(value, (int, float)):
        return float(value)
    raise ValueError(f"must be {_article(kind)} {kind}, got {_type_name(value)} ({_short(value)})")


def object_from_text(text: str) -> dict | None:
    """An object written as JSON text or as a Python literal (the s1 releases store ``metadata`` as
    ``str(dict)``), or None when the text is neither."""
    for parse in (json.loads, ast.literal_eval):
        try:
            parsed = parse(text)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            continue
        if isinstance(parsed, dict):
            return parsed
    return None


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


def _short(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def from_text(text: str, kind: str | None) -> Any:
    """Parse a CSV cell: empty is null; contract columns get their kind; others stay text."""
    if text == "":
        return None
    try:
        if kind == INT:
            return int(text) if text.lstrip("-").isdigit() else int(float(text))
        if kind == FLOAT:
            return float(text)
        if kind == BOOL:
            return BOOL_WORDS[text.strip().lower()]
        if kind == JSON:
            parsed = object_from_text(text)
            if parsed is None:
                raise ValueError
            return parsed
    except (ValueError, KeyError):
        raise ValueError(f"must be {_article(kind)} {kind}, got {_short(text)}") from None
    return text


@dataclass(frozen=True)
class Renames:
    """``--map new=old`` column renames, applied as rows are read."""

    pairs: tuple[tuple[str, str], ...] = ()
    layout: str = ""  # the --layout the pairs came from, for error hints
    derive: Callable[[Row], Row] | None = None  # a layout's reshaping, after the renames

    @classmethod
    def parse(cls, specs: Iterable[str] | None) -> Renames:
        pairs = []
        for spec in specs or ():
            new, sep, old = spec.partition("=")
            new, old = new.strip(), old.strip()
            if not sep or not new or not old:
                raise ConfigError(f"--map {spec!r}: expected NEW=OLD, e.g. --map thinking=thinking_trajectories")
            pairs.append((new, old))
        news = [new for new, _ in pairs]
        duplicates = sorted({n for n in news if news.count(n) > 1})
        if duplicates:
            raise ConfigError(f"--map names column {duplicates[0]!r} more than once")
        return cls(tuple(pairs))

    def apply(self, row: Row) -> Row:
        if self.pairs:
            taken = {old: row.pop(old) for _, old in self.pairs if old in row}
            for new, old in self.pairs:
                if old in taken:
                    row[new] = taken[old]
        return self.derive(row) if self.derive is not None else row

    def origin(self, column: str) -> str | None:
        return next((old for new, old in self.pairs if new == column), None)

    def hint(self, column: str) -> str:
        """`` (mapped from 'old')`` for a renamed column, naming the layout that renamed it."""
        old = self.origin(column)
        if old is None:
            return ""
        return f" (mapped from {old!r} by --layout {self.layout})" if self.layout else f" (mapped from {old!r})"


@dataclass
class Validator:
    """Checks rows against the contract as they stream past.

    ``require`` lists columns every row must have (non-null). Types are checked for every
    contract column present. Keys must be unique within the table.
    """

    require: tuple[str, ...] = ()
    renames: Renames = Renames()
    unique: bool = True
    derive_ids: bool = True

    def __post_init__(self) -> None:
        self._seen: dict[tuple, str] = {}
        self._derived: dict[tuple, int] = {}
        self.first_derived: tuple[str, str] | None = None  # (where, id) of the first row given an id

    def check(self, row: Row, where: str) -> Row:
        if self.derive_ids and row.get("id") in (None, ""):
            row = self._with_derived_id(row, where)
        for name in self.require:
            if row.get(name) is None:
                state = "is missing" if name not in row else "is null"
                raise InputError(located(where, f"column {name!r}{self.renames.hint(name)} {state}"))
        for name, value in row.items():
            kind = column_kind(name)
            if kind is None or value is None:
                continue
            try:
                row[name] = coerce(value, kind)
            except ValueError as exc:
                raise InputError(located(where, f"column {name!r} {exc}")) from None
        if self.unique and row.get("id") is not None:
            key = row_key(row)
            first = self._seen.get(key)
            if first is not None:
                raise InputError(located(where, f"column 'id': duplicate {describe_key(key)} (first at {first})"))
            self._seen[key] = where
        return row

    def _with_derived_id(self, row: Row, where: str) -> Row:
        row_id = derived_id(row)
        if row_id is None:
            return row
        # The same question twice (a pool with repeats) gets -2, -3, ... in the order the table holds them.
        key = (row_id, *row_key(row)[1:])
        seen = self._derived.get(key, 0)
        self._derived[key] = seen + 1
        if seen:
            row_id = f"{row_id}-{seen + 1}"
        if self.first_derived is None:
            self.first_derived = (where, row_id)
        return {"id": row_id, **{column: value for column, value in row.items() if column != "id"}}
