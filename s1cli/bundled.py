"""The small data files shipped inside the package (``s1cli/data``): eval sets, a sample
question pool, and the MSC2020 table. See ``s1cli/data/NOTICE.md`` for sources and licences."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import ConfigError
from .schema import Row
from .table import read_rows


@dataclass(frozen=True)
class BundledTable:
    name: str
    file: str
    rows: int
    kind: str  # "eval" or "pool"
    description: str
    licence: str


TABLES: dict[str, BundledTable] = {
    t.name: t
    for t in (
        BundledTable("aime24", "aime24.jsonl", 30, "eval", "AIME 2024 I and II, problems 1-15 each",
                     "MIT (Qwen2.5-Math); problems (c) MAA"),
        BundledTable("aime25", "aime25.jsonl", 30, "eval", "AIME 2025 I and II, problems 1-15 each",
                     "MIT (MathArena); problems (c) MAA"),
        BundledTable("math500", "math500.jsonl", 500, "eval", "MATH500: the PRM800K test split of MATH",
                     "MIT (MATH, PRM800K); Apache-2.0 (SkyThought copy)"),
        BundledTable("pool_sample", "pool_sample.jsonl", 340, "pool",
                     "demo question pool: GSM8K 200, AMC23 40, OlympiadBench 100",
                     "MIT (GSM8K, Qwen2.5-Math); OlympiadBench unverified"),
    )
}


def data_dir() -> Path:
    return Path(str(resources.files("s1cli") / "data"))


def table_path(name: str) -> Path:
    """Path of a bundled table by name (``aime24``, ``aime25``, ``math500``, ``pool_sample``)."""
    if name not in TABLES:
        raise ConfigError(f"unknown bundled table {name!r}; choose from {', '.join(TABLES)}")
    return data_dir() / TABLES[name].file


def load_table(name: str) -> list[Row]:
    return read_rows(table_path(name))


def msc_classes() -> list[tuple[str, str]]:
    """The 63 top-level MSC2020 classes as (two-digit code, name), in code order."""
    rows = []
    for line in (data_dir() / "msc2020.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            code, name = line.split("\t", 1)
            rows.append((code.strip(), name.strip()))
    return rows
