"""Add columns of one table to the rows of another by ``id``: how per-question features made by
separate runs (each solver's verdicts, token counts, labels) come together on the pool."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import InputError
from .schema import Row
from .table import display_name, iter_rows


@dataclass
class JoinStats:
    rows: int = 0
    matched: int = 0

    @property
    def unmatched(self) -> int:
        return self.rows - self.matched


def right_columns(source: str | os.PathLike, columns: Iterable[str]) -> tuple[dict[str, Row], list[str]]:
    """The chosen columns of RIGHT by id. RIGHT must hold each id once: a table with several
    samples per question has no single value to join."""
    wanted = list(dict.fromkeys(columns))
    by_id: dict[str, Row] = {}
    first_at: dict[str, int] = {}
    seen_columns: set[str] = set()
    name = display_name(source)
    for number, row in enumerate(iter_rows(source, unique=False), start=1):
        rid = row["id"]
        if rid in by_id:
            raise InputError(f"{name}:row {number}: column 'id': id {rid!r} appears again (first at row "
                             f"{first_at[rid]}); join needs one row per id (generate with --n 1)")
        first_at[rid] = number
        seen_columns.update(row)
        by_id[rid] = {c: row.get(c) for c in wanted}
    missing = [c for c in wanted if c not in seen_columns]
    if missing:
        raise InputError(f"{name}: column {missing[0]!r} is missing (asked for with --columns)")
    return by_id, wanted


def join_rows(left: Iterable[Row], right: dict[str, Row], columns: list[str], stats: JoinStats) -> Iterator[Row]:
    """LEFT's rows in order with RIGHT's columns added (replacing LEFT's of the same name); a row
    whose id RIGHT lacks gets nulls, so later steps see a missing feature, never a made-up one."""
    for row in left:
        stats.rows += 1
        extra = right.get(row["id"])
        if extra is not None:
            stats.matched += 1
        yield {**row, **(extra if extra is not None else dict.fromkeys(columns))}
