"""Collect a question pool: read sources into the canonical columns, drop questions that overlap
evaluation sets, and remove duplicates across sources whatever order the sources come in.

The pool is built in two passes so that memory stays flat: pass 1 streams every source once
(see ``sources``), canonicalises each row, checks it against the evaluation n-grams, and spools
the clean rows to an unnamed temporary file, keeping only a few numbers per row (digest, source,
id); duplicates are then resolved on those numbers alone; pass 2 streams the spool and yields
the rows kept. Which copy of a duplicated question is kept is decided by a rank that ignores
source order (``--prefer`` first, then the copy with an answer and a solution, then source name,
id and a digest of the row), and the kept row lists every dropped copy under ``metadata.duplicates``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from . import bundled
from .dedupe import (
    DEFAULT_NGRAM,
    DEFAULT_THRESHOLD,
    Decontaminator,
    EvalQuestion,
    MinHasher,
    digest,
    near_clusters,
    normalize,
    similarity,
)
from .errors import ConfigError, InputError, located
from .schema import COLUMNS, INT, JSON, STR, Row, coerce, derived_id, object_from_text
from .sources import OpenedSource, SourceConfig, default_name, exists, is_name, open_source
from .table import STDIO, side_path

# The columns collect writes; every other column goes into metadata, except the contract's
# later columns (thinking, response, ...), which stay where later steps look for them.
POOL_COLUMNS = ("id", "question", "answer", "solution", "source", "domain")
KEPT_CONTRACT_COLUMNS = tuple(c for c in COLUMNS if c not in (*POOL_COLUMNS, "metadata"))
DEDUPE_MODES = ("exact", "near")
# Report columns, in the order an auditor reads them. One row per (pool row, evaluation question)
# overlap, so a pool row can appear more than once: the pool's id is `pool_id`, not a row key.
REPORT_COLUMNS = {"pool_id": STR, "source": STR, "benchmark": STR, "benchmark_id": STR, "ngram": STR,
                  "shared": INT, "question": STR}
NOT_BUNDLED = {
    "gpqa_diamond": "GPQA Diamond is not bundled (its authors ask that it not be posted in plain text)",
}
EVAL_QUESTION_COLUMNS = ("question", "Question", "problem")
Progress = Callable[[int], None]


# ---------------------------------------------------------------------------- canonical rows


def canonical_row(raw: Row, config: SourceConfig, fallback_name: str, where: str) -> Row:
    """A source row in the pool's columns: id, question, answer, solution, source, domain,
    any later contract columns (thinking, ...), and metadata holding everything else."""
    row = config.renames.apply(raw)
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise InputError(located(where, f"column 'question'{_origin(config, 'question')} {_state(row, 'question')}"))
    out: Row = {"id": _id(row.get("id"), config, where), "question": question}
    for column in ("answer", "solution"):
        out[column] = _text(row.get(column), column, config, where)
    own_source = row.get("source")
    if config.name:
        out["source"] = config.name
    elif isinstance(own_source, str) and own_source.strip():
        out["source"] = own_source
    else:
        out["source"] = fallback_name
    out["domain"] = _text(row.get("domain"), "domain", config, where) or config.domain
    metadata = _metadata(row.get("metadata"), where)
    for column, value in row.items():
        if column in POOL_COLUMNS or column == "metadata":
            continue
        if column in KEPT_CONTRACT_COLUMNS:
            try:
                out[column] = coerce(value, COLUMNS[column].kind)
            except ValueError as exc:
                raise InputError(located(where, f"column {column!r}{_origin(config, column)} {exc}")) from None
        else:
            metadata[column] = value
    if own_source is not None and out["source"] != own_source:
        metadata.setdefault("source", own_source)
    out["metadata"] = metadata
    return out


def _state(row: Row, column: str) -> str:
    value = row.get(column)
    if column not in row:
        return "is missing"
    if value is None:
        return "is null"
    if isinstance(value, str):
        return "is empty"
    return f"must be a string, got {type(value).__name__}"


def _origin(config: SourceConfig, column: str) -> str:
    old = config.renames.origin(column)
    return f" (mapped from {old!r})" if old else ""


def _id(value: Any, config: SourceConfig, where: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InputError(located(where, f"column 'id'{_origin(config, 'id')} must be a string or an integer, "
                                    f"got {type(value).__name__}"))


def _text(value: Any, column: str, config: SourceConfig, where: str) -> str | None:
    """Answers come as strings, numbers, booleans (TheoremQA) or lists (OlympiadBench): as text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (bool, int, float)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value):
        return ", ".join(map(str, value)) if value else None
    raise InputError(located(where, f"column {column!r}{_origin(config, column)} must be text, a number or a list "
                                    f"of them, got {type(value).__name__}"))


def _metadata(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, str) and (parsed := object_from_text(value)) is not None:
        return parsed
    return {"metadata": value}


def _accept(raw: Row, where_filters: Sequence[tuple[str, tuple[Any, ...]]], where: str) -> bool:
    for column, allowed in where_filters:
        if column not in raw:
            raise InputError(located(where, f"column {column!r} (named in the recipe's where) is missing"))
        if raw[column] not in allowed:
            return False
    return True


# ---------------------------------------------------------------------------- evaluation sets


def bundled_eval_sets() -> list[str]:
    return [name for name, table in bundled.TABLES.items() if table.kind == "eval"]


def parse_eval_specs(values: Iterable[str]) -> list[tuple[str, str]]:
    """``--decontaminate`` values (comma-separated, repeatable) as (benchmark name, spec) pairs.

    An item is a bundled set (aime24, aime25, math500), ``NAME=SPEC``, or a SPEC (a table file,
    a dataset directory or ``hf:``), named after its file.
    """
    pairs: list[tuple[str, str]] = []
    for value in values:
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            name, sep, spec = item.partition("=")
            if sep and spec and is_name(name) and not os.path.exists(item):
                pairs.append((name, _eval_spec(spec, item)))
            elif item in NOT_BUNDLED and not os.path.exists(item):
                raise ConfigError(f"--decontaminate {item}: {NOT_BUNDLED[item]}; pass your copy as {item}=PATH "
                                  f"(a table with a question column, e.g. --decontaminate {item}=gpqa_diamond.csv)")
            else:
                pairs.append((item if item in bundled_eval_sets() else default_name(item), _eval_spec(item, item)))
    names = [name for name, _ in pairs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"--decontaminate names evaluation set {twice[0]!r} more than once")
    return pairs


def _eval_spec(spec: str, item: str) -> str:
    if spec in bundled_eval_sets() and not os.path.exists(spec):
        return str(bundled.table_path(spec))
    if spec in NOT_BUNDLED and not os.path.exists(spec):
        raise ConfigError(f"--decontaminate {item}: {NOT_BUNDLED[spec]}; pass your copy as a file")
    if exists(spec) and spec != STDIO:
        return spec
    raise ConfigError(f"--decontaminate {item!r}: not a bundled evaluation set ({', '.join(bundled_eval_sets())}) "
                      "and no such file")


def load_eval_questions(pairs: Sequence[tuple[str, str]]) -> list[EvalQuestion]:
    """The questions of each evaluation set; ids from an `id` column, else the row number."""
    questions = []
    for name, spec in pairs:
        opened = open_source(spec)
        count = 0
        for index, (where, row) in enumerate(opened.rows, 1):
            column = next((c for c in EVAL_QUESTION_COLUMNS if isinstance(row.get(c), str)), None)
            if column is None:
                raise InputError(located(where, "no question column (looked for "
                                                + ", ".join(repr(c) for c in EVAL_QUESTION_COLUMNS) + ")"))
            qid = row.get("id")
            questions.append(EvalQuestion(name, str(qid) if qid is not None else str(index), row[column]))
            count += 1
        if count == 0:
            raise InputError(f"{opened.label}: no rows (evaluation set {name!r} is empty)")
    return questions


# ---------------------------------------------------------------------------- the pool


@dataclass(frozen=True)
class CollectOptions:
    ngram: int = DEFAULT_NGRAM
    dedupe: str = "exact"
    threshold: float = DEFAULT_THRESHOLD
    limit: int | None = None  # at most this many rows from each source
    prefer: tuple[str, ...] = ()  # sources whose copy of a duplicated question wins, best first

    def __post_init__(self) -> None:
        if self.dedupe not in DEDUPE_MODES:
            raise ConfigError(f"--dedupe {self.dedupe!r}: choose {' or '.join(DEDUPE_MODES)}")
        if self.ngram < 1:
            raise ConfigError(f"--ngram {self.ngram}: must be at least 1")
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"--threshold {self.threshold}: must be in (0, 1]")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit {self.limit}: must be at least 1")


@dataclass
class SourceStats:
    """What happened to one source's rows."""

    name: str
    read: int = 0
    contaminated: int = 0  # rows dropped for overlapping any evaluation set
    by_benchmark: Counter = field(default_factory=Counter)  # rows overlapping each evaluation set
    exact: int = 0  # rows dropped as exact copies of a kept row
    near: int = 0  # rows dropped as near copies
    kept: int = 0


class Pool:
    """Builds a question pool; use as a context manager (it owns a temporary spool file).

    ``build()`` reads every source (pass 1) and resolves duplicates; then ``rows()`` yields the
    kept rows in source order, ``columns`` names the output columns with their kinds,
    ``contamination()`` yields one report row per (pool row, evaluation question) overlap, and
    ``stats`` counts per source.
    """

    def __init__(self, sources: Sequence[SourceConfig], eval_questions: Sequence[EvalQuestion] = (),
                 options: CollectOptions | None = None, *, stdin: IO[bytes] | None = None) -> None:
        if not sources:
            raise ConfigError("no sources: give --source SPEC (repeatable) or --recipe FILE")
        self.sources = list(sources)
        self.options = options or CollectOptions()
        self.decontaminator = Decontaminator(eval_questions, self.options.ngram) if eval_questions else None
        self.stdin = stdin
        self.stats: dict[str, SourceStats] = {}
        self.matches = 0  # report rows: (pool row, evaluation question) overlaps
        self.empty: list[str] = []  # sources that gave no rows (a where filter that matches nothing?)
        self.columns: dict[str, str] = {c: STR for c in POOL_COLUMNS}
        self._extra: set[str] = set()
        self._spool: IO[bytes] | None = None
        self._report: IO[bytes] | None = None
        self._hasher = MinHasher() if self.options.dedupe == "near" else None
        # Per spooled row: a few numbers, never the row itself.
        self._offsets = array("q")
        self._position = 0
        self._row_group = array("q")
        self._row_source = array("H")
        self._complete = bytearray()
        self._content = array("Q")  # digest of the whole row: the last word between two copies
        self._ids: list[str] = []
        self._names: list[str] = []
        self._name_index: dict[str, int] = {}
        # Per distinct normalised question (a "group" of exact copies).
        self._groups: dict[int, int] = {}
        self._group_digests = array("Q")
        self._signatures = np.empty((0, self._hasher.num_perm if self._hasher else 0), dtype=np.uint32)
        self._keep: np.ndarray | None = None
        self._copies: dict[int, list[dict]] = {}

    def __enter__(self) -> Pool:
        # Unnamed temporary files: nothing is left behind, even on a kill.
        self._spool = tempfile.TemporaryFile()
        self._report = tempfile.TemporaryFile()
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in (self._spool, self._report):
            if handle is not None:
                handle.close()
        self._spool = self._report = None

    # -- pass 1 -------------------------------------------------------------------------

    def opened(self) -> list[tuple[SourceConfig, OpenedSource]]:
        """Open every source up front, so a missing one fails before any work."""
        return [(config, open_source(config.spec, stdin=self.stdin)) for config in self.sources]

    def total(self, opened: Sequence[tuple[SourceConfig, OpenedSource]]) -> int | None:
        """Rows pass 1 will read, when cheap to know (for a progress bar)."""
        total = 0
        for config, source in opened:
            if source.total is None or config.where:
                return None
            limits = [n for n in (config.limit, self.options.limit) if n]
            total += min([source.total, *limits])
        return total

    def build(self, opened: Sequence[tuple[SourceConfig, OpenedSource]] | None = None,
              progress: Progress | None = None) -> None:
        """Pass 1 over ``opened`` (default: every source), then resolve duplicates.
        ``progress(n)`` is told of rows read, a batch at a time."""
        assert self._spool is not None, "use Pool as a context manager"
        pending = 0
        taken: Counter = Counter()  # rows read per recipe entry (or per --source)
        for number, (config, source) in enumerate(opened if opened is not None else self.opened()):
            limits = [n for n in (config.limit, self.options.limit) if n]
            limit = min(limits) if limits else None
            key = ("entry", config.entry) if config.entry is not None else ("source", number)
            got = 0
            for where, raw in source.rows:
                if limit is not None and taken[key] >= limit:
                    break
                if config.where and not _accept(raw, config.where, where):
                    continue
                self._add(canonical_row(raw, config, source.default_name, where), where)
                taken[key] += 1
                got += 1
                pending += 1
                if progress is not None and pending == 1024:
                    progress(pending)
                    pending = 0
            close = getattr(source.rows, "close", None)
            if close:
                close()
            if not got and not (limit is not None and taken[key] >= limit):
                self.empty.append(source.label + (" (its where filter matched no row)" if config.where else ""))
        if progress is not None and pending:
            progress(pending)
        self._resolve()

    def _source(self, name: str) -> int:
        index = self._name_index.get(name)
        if index is None:
            index = self._name_index[name] = len(self._names)
            self._names.append(name)
            self.stats[name] = SourceStats(name)
        return index

    def _add(self, row: Row, where: str) -> None:
        tokens = normalize(row["question"]).split()
        key = digest(" ".join(tokens))
        if row["id"] is None:
            row["id"] = derived_id(row)  # the id every command gives an id-less row
        source = self._source(row["source"])
        stats = self.stats[row["source"]]
        stats.read += 1
        if self.decontaminator is not None:
            found = self.decontaminator.matches(tokens)
            if found:
                stats.contaminated += 1
                stats.by_benchmark.update({match.benchmark for match in found})
                for match in found:
                    report = {"pool_id": row["id"], "source": row["source"], "benchmark": match.benchmark,
                              "benchmark_id": match.benchmark_id, "ngram": match.ngram, "shared": match.shared,
                              "question": row["question"]}
                    self._report.write(_dumps(report).encode("utf-8") + b"\n")
                    self.matches += 1
                return
        for column in row:
            if column not in self.columns and column != "metadata" and column not in self._extra:
                self._extra.add(column)
        record = _dumps(row)
        line = f"[{json.dumps(where, ensure_ascii=False)}, {record}]\n".encode()
        self._offsets.append(self._position)
        self._spool.write(line)
        self._position += len(line)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = len(self._group_digests)
            self._group_digests.append(key)
            if self._hasher is not None:
                self._add_signature(group, self._hasher.signature(tokens))
        self._row_group.append(group)
        self._row_source.append(source)
        self._complete.append((row["answer"] is not None) + (row["solution"] is not None))
        self._content.append(digest(record))
        self._ids.append(row["id"])

    def _add_signature(self, group: int, signature: np.ndarray) -> None:
        if group >= len(self._signatures):
            grown = np.empty((max(1024, 2 * len(self._signatures)), self._signatures.shape[1]), dtype=np.uint32)
            grown[: len(self._signatures)] = self._signatures
            self._signatures = grown
        self._signatures[group] = signature

    # -- duplicates -----------------------------------------------------------------------

    def _rank(self, row: int) -> tuple:
        name = self._names[self._row_source[row]]
        prefer = self.options.prefer
        return (prefer.index(name) if name in prefer else len(prefer), -self._complete[row], name, self._ids[row],
                self._content[row])

    def _resolve(self) -> None:
        count = len(self._ids)
        groups = np.frombuffer(self._row_group, dtype=np.int64) if count else np.zeros(0, dtype=np.int64)
        if self._hasher is not None and len(self._group_digests) > 1:
            digests = np.frombuffer(self._group_digests, dtype=np.uint64)
            signatures = self._signatures[: len(digests)]
            cluster_of_group = near_clusters(signatures, digests, self.options.threshold)
        else:
            signatures = None
            cluster_of_group = np.arange(len(self._group_digests))
        clusters = cluster_of_group[groups] if count else groups
        keep = np.ones(count, dtype=bool)
        order = np.argsort(clusters, kind="stable")
        ordered = clusters[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if count else np.zeros(0, dtype=np.int64)
        ends = np.r_[starts[1:], count]
        for start, end in zip(starts[ends - starts > 1].tolist(), ends[ends - starts > 1].tolist(), strict=True):
            members = order[start:end].tolist()
            keeper = min(members, key=self._rank)
            copies = []
            for member in members:
                if member == keeper:
                    continue
                keep[member] = False
                name = self._names[self._row_source[member]]
                entry: dict[str, Any] = {"source": name, "id": self._ids[member]}
                if groups[member] == groups[keeper]:
                    entry["match"] = "exact"
                    self.stats[name].exact += 1
                else:
                    entry["match"] = "near"
                    entry["similarity"] = round(float(similarity(signatures, groups[member], groups[keeper])), 3)
                    self.stats[name].near += 1
                copies.append(entry)
            copies.sort(key=lambda e: (e["source"], e["id"], e["match"], e.get("similarity", 1.0)))
            self._copies[keeper] = copies
        self._keep = keep
        for source in np.asarray(self._row_source, dtype=np.int64)[keep].tolist() if count else ():
            self.stats[self._names[source]].kept += 1
        self._check_ids(keep)
        self.columns.update({c: COLUMNS[c].kind for c in KEPT_CONTRACT_COLUMNS if c in self._extra})
        self.columns["metadata"] = JSON

    def _check_ids(self, keep: np.ndarray) -> None:
        seen: dict[str, int] = {}
        for row in np.flatnonzero(keep).tolist():
            first = seen.setdefault(self._ids[row], row)
            if first != row:
                where, _ = self._record(row)
                first_where, _ = self._record(first)
                raise InputError(located(where, f"column 'id': duplicate id {self._ids[row]!r} (first at "
                                                f"{first_where}); ids must be unique in the pool: rename the id "
                                                "column away (e.g. --map source_id=id) and collect derives ids"))

    def _record(self, row: int) -> tuple[str, Row]:
        assert self._spool is not None
        position = self._spool.tell()
        self._spool.seek(self._offsets[row])
        where, record = json.loads(self._spool.readline())
        self._spool.seek(position)
        return where, record

    # -- pass 2 ---------------------------------------------------------------------------

    def rows(self) -> Iterator[Row]:
        """The kept rows, in the order they were read, each with its dropped copies in metadata."""
        assert self._spool is not None and self._keep is not None, "call build() first"
        keep = self._keep
        self._spool.flush()
        self._spool.seek(0)
        for index, line in enumerate(self._spool):
            if not keep[index]:
                continue
            _, row = json.loads(line)
            copies = self._copies.get(index)
            if copies:
                earlier = row["metadata"].get("duplicates")
                row["metadata"]["duplicates"] = (earlier if isinstance(earlier, list) else []) + copies
            if len(row) != len(self.columns):
                row = {column: row.get(column) for column in self.columns}
            elif list(row) != list(self.columns):
                row = {column: row[column] for column in self.columns}
            yield row

    def contamination(self) -> Iterator[Row]:
        """The report rows, one per (pool row, evaluation question) overlap, in the order found."""
        assert self._report is not None, "use Pool as a context manager"
        self._report.flush()
        self._report.seek(0)
        for line in self._report:
            yield json.loads(line)

    @property
    def kept(self) -> int:
        return int(self._keep.sum()) if self._keep is not None else 0


def report_path(out: str) -> str | None:
    """Where the contamination report goes: beside OUT, named from it (None for stdout)."""
    if out == STDIO:
        return None
    return str(side_path(out, "contamination.parquet"))


def _plain(value: Any) -> Any:
    """Values JSON has no type for (from Parquet or Arrow): numbers, arrays, dates, bytes, else text."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_plain)
