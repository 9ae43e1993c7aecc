"""The MSC2020 label set: the 63 top-level classes, their subfield descriptions, candidate lists, and
reading labels back from model replies and from other tables.

The s1 paper labelled every question with one top-level Mathematics Subject Classification (MSC2020)
class and sampled across them for diversity. Its classifier was offered 61 classes (all but 00 General
and 01 History) with a description listing each class's subfields, and the reply had to end with the
two-digit code; ``S1_CANDIDATES`` is that list. Names come from the bundled table
(``s1cli/data/msc2020.tsv``), descriptions from ``s1cli/data/msc2020_subfields.tsv`` (a condensed
listing of each class's second-level MSC2020 areas; MSC2020 is by Mathematical Reviews and zbMATH Open,
CC BY-NC-SA 4.0, see ``s1cli/data/NOTICE.md``).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from .bundled import data_dir, msc_classes
from .errors import ConfigError
from .schema import Row

OUTPUT_COLUMNS = ("msc", "msc_name", "msc_detail")

EXCLUDED_BY_S1 = ("00", "01")
# Older (MSC2010) titles the s1 repository's data/msc.json uses, so its `domain` column maps back to codes.
OLD_TITLES = {
    "game theory, economics, social and behavioral sciences": "91",
    "information and communication, circuits": "94",
    "$k$-theory": "19",
}


@dataclass(frozen=True)
class MSCClass:
    code: str  # two digits, as text: "05"
    name: str
    subfields: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        return "; ".join(self.subfields)


@dataclass(frozen=True)
class LabelSet:
    """The classes a classifier may answer with, in code order."""

    classes: tuple[MSCClass, ...]
    by_code: dict[str, MSCClass] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_code", {c.code: c for c in self.classes})

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.classes)

    def __contains__(self, code: object) -> bool:
        return code in self.by_code

    def __len__(self) -> int:
        return len(self.classes)

    def name(self, code: str | None) -> str | None:
        return self.by_code[code].name if code in self.by_code else None


@lru_cache(maxsize=1)
def all_classes() -> tuple[MSCClass, ...]:
    """The 63 top-level MSC2020 classes with their subfield descriptions."""
    subfields: dict[str, tuple[str, ...]] = {}
    for line in (data_dir() / "msc2020_subfields.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            code, text = line.split("\t", 1)
            subfields[code.strip()] = tuple(part.strip() for part in text.split(";") if part.strip())
    return tuple(MSCClass(code, name, subfields.get(code, ())) for code, name in msc_classes())


def candidates(spec: str | Sequence[str] = "s1") -> LabelSet:
    """The candidate classes: ``s1`` (the 61 the s1 paper offered: all but 00 and 01), ``all`` (63), or
    a comma-separated list of two-digit codes such as ``05,11,51,60``."""
    every = all_classes()
    if isinstance(spec, str):
        text = spec.strip()
        if text == "s1":
            return LabelSet(tuple(c for c in every if c.code not in EXCLUDED_BY_S1))
        if text == "all":
            return LabelSet(every)
        wanted = [part.strip() for part in text.split(",") if part.strip()]
    else:
        wanted = list(spec)
    known = {c.code for c in every}
    codes = []
    for item in wanted:
        code = item.zfill(2) if item.isdigit() and len(item) <= 2 else item
        if code not in known:
            raise ConfigError(f"--candidates: {item!r} is not a top-level MSC2020 code (two digits, e.g. 05, 11, 51; "
                              "or use s1 or all)")
        codes.append(code)
    if len(set(codes)) < 2:
        raise ConfigError("--candidates: give at least two different classes (or s1, or all)")
    return LabelSet(tuple(c for c in every if c.code in set(codes)))


# ---------------------------------------------------------------------------------------- replies

_DECORATION = re.compile(r"[*_#`>\"'“”$\[\]()]")
_LABEL = re.compile(r"^(?:final\s+)?(?:answer|code|class|classification|msc(?:\s*code)?|subject|domain)\s*[:：=-]\s*",
                    re.IGNORECASE)
_CODE = re.compile(r"(?<![\d.])(\d{2})(?!\d|\.\d)")


@dataclass(frozen=True)
class Parsed:
    code: str | None  # a candidate code, or None
    answer: str  # the line the code was read from (quoted back to the model when it is invalid)
    problem: str = ""  # why it is not valid


def parse_reply(text: str | None, labels: LabelSet) -> Parsed:
    """Read the two-digit code a reply ends with.

    The last non-empty line must name exactly one two-digit number, possibly decorated: ``11``,
    ``**11**``, ``\\boxed{11}``, ``Code: 11``, ``11 (Number theory)``, ``11-XX``. That number must be
    one of ``labels``; anything else (no code, two codes, a code outside the candidates) is invalid.
    """
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip(" \t*_#`>")]
    if not lines:
        return Parsed(None, "", "the reply is empty")
    answer = lines[-1]
    line = re.sub(r"\\(?:boxed|text|textbf|mathrm)\{([^{}]*)\}", r"\1", answer)
    line = _LABEL.sub("", _DECORATION.sub("", line).strip()).strip()
    found = list(dict.fromkeys(_CODE.findall(line)))
    if not found:
        return Parsed(None, answer, "its last line holds no two-digit code")
    if len(found) > 1:
        return Parsed(None, answer, f"its last line names several codes ({', '.join(found)})")
    if found[0] not in labels:
        return Parsed(None, answer, f"{found[0]} is not one of the listed classes")
    return Parsed(found[0], answer)


# ---------------------------------------------------------------------------------------- other labels


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"\s+", " ", text).strip().lower()


@lru_cache(maxsize=1)
def _titles() -> dict[str, str]:
    titles = {_fold(c.name): c.code for c in all_classes()}
    titles.update({_fold(k): v for k, v in OLD_TITLES.items()})
    # "Special functions" without the long parenthesis of its official title, and "K-theory" forms
    titles[_fold("Special functions")] = "33"
    titles[_fold("K-theory")] = "19"
    return titles


def normalize_label(value: object) -> str | None:
    """An existing label as a two-digit code, or None when it is not one: codes in any common form
    (``11``, ``5`` → ``05``, ``11-XX``, ``11A41``), or a class title (as the s1 featurized release's
    `domain` column holds them, older MSC2010 wordings included), case and accents ignored."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        code = f"{value:02d}" if 0 <= value < 100 else None
    elif isinstance(value, float) and value.is_integer():
        code = f"{int(value):02d}" if 0 <= value < 100 else None
    elif isinstance(value, str):
        text = _fold(value)
        match = re.fullmatch(r"(\d{1,2})(?:-xx|[a-z]\d{0,2}|[a-z]xx|-\d{2})?", text)
        code = (match.group(1).zfill(2) if match else _titles().get(text))
    else:
        return None
    return code if code in {c.code for c in all_classes()} else None


# ---------------------------------------------------------------------------------------- reports


@dataclass
class Distribution:
    counts: Counter[str]
    unlabelled: int
    total: int


def distribution(codes: Iterable[str | None]) -> Distribution:
    counts: Counter[str] = Counter()
    unlabelled = total = 0
    for code in codes:
        total += 1
        if code is None:
            unlabelled += 1
        else:
            counts[code] += 1
    return Distribution(counts, unlabelled, total)


@dataclass(frozen=True)
class Missing:
    """The rows of an output without a valid code, and the first of them: what a run that labelled
    nothing (or not everything) reports."""

    rows: int
    total: int
    first_id: str | None = None
    first_detail: str = ""

    @property
    def none_valid(self) -> bool:
        return self.total > 0 and self.rows == self.total


def missing_codes(rows: Iterable[Row], *, width: int = 100) -> Missing:
    """Count rows whose ``msc`` is null; the first one's ``msc_detail`` (the reply, or why there was
    none) on one line, cut to ``width`` characters."""
    missing = total = 0
    first_id, first_detail = None, ""
    for row in rows:
        total += 1
        if row.get("msc") is None:
            missing += 1
            if missing == 1:
                first_id = str(row.get("id"))
                first_detail = " ".join(str(row.get("msc_detail") or "").split())
                if len(first_detail) > width:
                    first_detail = first_detail[: width - 1] + "…"
    return Missing(missing, total, first_id, first_detail)


@dataclass
class Agreement:
    compared: int = 0  # rows where both sides hold a label
    agreed: int = 0
    missing: int = 0  # rows where either side has no label
    unreadable: int = 0  # rows whose comparison value is not an MSC code or title
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (ours, theirs) -> rows
    disagreeing: list[int] = field(default_factory=list)  # row indexes

    @property
    def rate(self) -> float | None:
        return self.agreed / self.compared if self.compared else None


def agreement(ours: Sequence[str | None], theirs: Sequence[object]) -> Agreement:
    """Agreement of our codes with another label column (codes or titles; see ``normalize_label``)."""
    result = Agreement()
    for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
        if mine is None or other is None:
            result.missing += 1
            continue
        code = normalize_label(other)
        if code is None:
            result.unreadable += 1
            continue
        result.compared += 1
        if code == mine:
            result.agreed += 1
        else:
            result.confusions[(mine, code)] += 1
            result.disagreeing.append(index)
    return result


@dataclass(frozen=True)
class MSCResult:
    """One question's label, from any classifier."""

    code: str | None  # None: no valid code (the raw reply is in ``detail``)
    detail: str


def labelled(row: Row, result: MSCResult, labels: LabelSet) -> Row:
    """The output row: the input columns plus msc, msc_name and msc_detail."""
    return {**row, "msc": result.code, "msc_name": labels.name(result.code), "msc_detail": result.detail}
