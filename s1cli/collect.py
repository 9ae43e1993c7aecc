"""Collect a question pool: read sources into the canonical columns, drop questions that overlap
evaluation sets, and remove duplicates across sources whatever order the sources come in.

A source is a table file (``.jsonl``, ``.parquet``, ``.csv``, ...), ``-`` (JSONL on stdin), a
Hugging Face dataset (``hf:NAME[:CONFIG][@SPLIT]``, through ``datasets`` and its cache), or a
dataset directory (``Dataset.save_to_disk``, or a folder of data files), optionally ``DIR@SPLIT``.

The pool is built in two passes so that memory stays flat: pass 1 streams every source once,
canonicalises each row, checks it against the evaluation n-grams, and spools the clean rows to
an unnamed temporary file, keeping only a few numbers per row (digest, source, id); duplicates
are then resolved on those numbers alone; pass 2 streams the spool and yields the rows kept.
Which copy of a duplicated question is kept is decided by a rank that ignores source order
(``--prefer`` first, then the copy with an answer and a solution, then source name and id), and
the kept row lists every dropped copy under ``metadata.duplicates``.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import tempfile
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
    short_hash,
    similarity,
)
from .errors import ConfigError, InputError, RemoteError, S1Error, located
from .schema import COLUMNS, INT, JSON, STR, Renames, Row, coerce
from .table import EXTENSIONS, STDIO, count_rows, iter_located_rows, table_format

HF_PREFIX = "hf:"
# The columns collect writes; every other column goes into metadata, except the contract's
# later columns (thinking, response, ...), which stay where later steps look for them.
POOL_COLUMNS = ("id", "question", "answer", "solution", "source", "domain")
TEXT_COLUMNS = ("answer", "solution", "domain")
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
_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")
Progress = Callable[[int], None]


# ---------------------------------------------------------------------------- source configuration


@dataclass(frozen=True)
class SourceConfig:
    """One source to read: what (``spec``), under which ``source`` name, and how to map it."""

    spec: str
    name: str | None = None  # None: the row's own `source`, else a name derived from the spec
    renames: Renames = field(default_factory=Renames)
    domain: str | None = None  # for rows that have no domain of their own
    where: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # keep rows whose column holds one of the values
    limit: int | None = None  # read at most this many (matching) rows
    entry: int | None = None  # the recipe entry it came from: an entry's specs share its limit


def parse_source(text: str, renames: Renames | None = None) -> SourceConfig:
    """A ``--source`` value: ``SPEC`` or ``NAME=SPEC``."""
    text = text.strip()
    if not text:
        raise ConfigError("--source '': expected SPEC or NAME=SPEC, e.g. --source pool.jsonl")
    name, sep, spec = text.partition("=")
    if sep and spec and _NAME.match(name) and not Path(text).exists():
        return SourceConfig(spec=spec, name=name, renames=renames or Renames())
    return SourceConfig(spec=text, renames=renames or Renames())


Scalar = str | int | float | bool


class _RecipeSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    spec: str | list[str] = Field(min_length=1)
    map: dict[str, str] = Field(default_factory=dict)
    domain: str | None = None
    where: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    limit: int | None = Field(default=None, ge=1)


class _Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: list[_RecipeSource] = Field(min_length=1)


def load_recipe(path: str | os.PathLike, renames: Renames | None = None) -> list[SourceConfig]:
    """Sources from a TOML or YAML recipe: a list of ``source`` entries (see examples/).

    Relative file paths in a recipe are relative to the recipe. ``renames`` (``--map``) apply
    to every source, under the recipe's own map.
    """
    name = str(path)
    file = Path(name)
    if not file.is_file():
        raise ConfigError(f"{name}: no such recipe file")
    data = _parse_recipe(file, name)
    try:
        recipe = _Recipe.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_recipe_error(name, data, exc)) from None
    sources = []
    for index, entry in enumerate(recipe.source, 1):
        where = f"{name}: source {index} ({entry.name!r})"
        try:
            own = Renames.parse(f"{new}={old}" for new, old in entry.map.items())
        except ConfigError as exc:
            raise ConfigError(f"{where}: map: {str(exc).removeprefix('--map ')}") from None
        pairs = own.pairs + tuple(p for p in (renames or Renames()).pairs if p[0] not in entry.map)
        specs = [entry.spec] if isinstance(entry.spec, str) else entry.spec
        filters = tuple((column, tuple(v) if isinstance(v, list) else (v,)) for column, v in entry.where.items())
        for spec in specs:
            sources.append(SourceConfig(spec=_relative_to(spec, file.parent), name=entry.name,
                                        renames=Renames(pairs), domain=entry.domain, where=filters,
                                        limit=entry.limit, entry=index))
    return sources


def _parse_recipe(file: Path, name: str) -> Any:
    text = file.read_text(encoding="utf-8")
    suffix = file.suffix.lower()
    if suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{name}: not valid TOML ({exc})") from None
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{name}{line}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    raise ConfigError(f"{name}: unknown recipe format {file.suffix or '(none)'!r}; use .toml, .yaml or .yml")


def _recipe_error(name: str, data: Any, exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = list(error["loc"])
    where = name
    if len(loc) >= 2 and loc[0] == "source" and isinstance(loc[1], int):
        index = loc[1]
        entry = data["source"][index] if isinstance(data, dict) else None
        label = f" ({entry['name']!r})" if isinstance(entry, dict) and isinstance(entry.get("name"), str) else ""
        where += f": source {index + 1}{label}"
        loc = loc[2:]
    # pydantic names the union branch it tried (e.g. 'str', 'list[...]'); the key is what matters
    keys = [str(part) for part in loc
            if isinstance(part, str) and not re.search(r"[\[\]]|^(str|int|float|bool)$", part)]
    message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
    if error["type"] == "missing":
        message = "missing"
    return f"{where}: {'.'.join(keys) or 'recipe'}: {message}" + \
        ("; expected a list of [[source]] entries" if not keys and loc == ["source"] else "")


def _relative_to(spec: str, base: Path) -> str:
    if spec.startswith(HF_PREFIX) or spec == STDIO or os.path.isabs(spec):
        return spec
    return str(base / spec)


# ---------------------------------------------------------------------------- opening sources


@dataclass
class OpenedSource:
    label: str  # how messages name it
    default_name: str  # the `source` value when neither the recipe nor the row gives one
    rows: Iterator[tuple[str, Row]]  # (location, raw row)
    total: int | None  # row count when cheap to know


def default_name(spec: str) -> str:
    """A source name derived from its spec: the hub name (with config), the file stem, the directory."""
    if spec.startswith(HF_PREFIX):
        body = spec[len(HF_PREFIX):].partition("@")[0]
        name, _, config = body.partition(":")
        return f"{name}/{config}" if config else name
    if spec == STDIO:
        return "stdin"
    base = Path(_split_at(spec)[0]).name
    lowered = base.lower()
    for ext in sorted(EXTENSIONS, key=len, reverse=True):
        if lowered.endswith(ext):
            return base[: -len(ext)]
    return base


def _split_at(spec: str) -> tuple[str, str | None]:
    """``DIR@SPLIT`` -> (DIR, SPLIT), unless the whole spec names an existing path."""
    if os.path.exists(spec) or "@" not in spec:
        return spec, None
    path, _, split = spec.rpartition("@")
    return path, split


def open_source(spec: str, *, stdin: IO[bytes] | None = None) -> OpenedSource:
    """Check that a source exists and can be read, and return its rows lazily."""
    if spec.startswith(HF_PREFIX):
        return _open_hub(spec)
    if spec == STDIO:
        return OpenedSource("<stdin>", "stdin", iter_located_rows(STDIO, stdin=stdin), None)
    path, split = _split_at(spec)
    if os.path.isdir(path):
        return _open_directory(spec, path, split)
    if split is None and not os.path.exists(path):
        raise InputError(f"{spec}: no such file or directory")
    if split is not None:
        raise InputError(f"{spec}: no such dataset directory {path!r}")
    table_format(spec)  # an unknown extension fails here, before any source is read
    return OpenedSource(spec, default_name(spec), iter_located_rows(spec), count_rows(spec))


def _open_hub(spec: str) -> OpenedSource:
    body, _, split = spec[len(HF_PREFIX):].partition("@")
    name, _, config = body.partition(":")
    if not name:
        raise ConfigError(f"{spec}: expected hf:NAME[:CONFIG][@SPLIT], e.g. hf:AI-MO/NuminaMath-CoT@train")
    import datasets

    try:
        loaded = datasets.load_dataset(name, config or None, split=split or None)
    except Exception as exc:  # datasets raises many kinds (ConnectionError, FileNotFoundError, ValueError...)
        described = f"{name!r}" + (f" (config {config!r})" if config else "") + (f" split {split!r}" if split else "")
        raise RemoteError(f"{spec}: cannot load Hugging Face dataset {described}: {_first_line(exc)}"
                          + _offline_hint()) from None
    return _dataset_source(spec, loaded, split)


def _offline_hint() -> str:
    flags = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    offline = any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in flags)
    return " (offline: only datasets already in the cache load; or save one with Dataset.save_to_disk and pass " \
        "its directory)" if offline else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def _open_directory(spec: str, path: str, split: str | None) -> OpenedSource:
    import datasets

    saved = os.path.exists(os.path.join(path, "dataset_dict.json")) or os.path.exists(os.path.join(path, "state.json"))
    try:
        if saved:
            loaded = datasets.load_from_disk(path)
            if split is not None and isinstance(loaded, datasets.DatasetDict):
                if split not in loaded:
                    raise InputError(f"{spec}: no split {split!r}; it has {', '.join(loaded)}")
                loaded = loaded[split]
        else:
            loaded = datasets.load_dataset(path, split=split)
    except S1Error:
        raise
    except Exception as exc:
        raise InputError(f"{spec}: cannot load the dataset directory: {_first_line(exc)}") from None
    return _dataset_source(spec, loaded, split)


def _dataset_source(spec: str, loaded: Any, split: str | None) -> OpenedSource:
    import datasets

    if isinstance(loaded, (datasets.DatasetDict, dict)):
        splits = list(loaded)
        if len(splits) != 1:
            raise ConfigError(f"{spec}: has splits {', '.join(splits)}; pick one, e.g. {spec}@{splits[0]}")
        loaded = loaded[splits[0]]
    if not isinstance(loaded, datasets.Dataset):
        raise InputError(f"{spec}: not a table-like dataset ({type(loaded).__name__})")
    return OpenedSource(spec, default_name(spec), _dataset_rows(loaded, spec), len(loaded))


def _dataset_rows(dataset: Any, label: str) -> Iterator[tuple[str, Row]]:
    # Arrow batches to plain Python: raw values, no per-row feature decoding.
    index = 0
    for batch in dataset.with_format("arrow").iter(batch_size=2048):
        for row in batch.to_pylist():
            index += 1
            yield f"{label}:row {index}", row


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
    if isinstance(value, str):
        # The s1 release stores metadata as a Python literal (str(dict)); JSON text is common too.
        for parse in (json.loads, ast.literal_eval):
            try:
                parsed = parse(value)
            except (ValueError, SyntaxError, RecursionError, MemoryError):
                continue
            if isinstance(parsed, dict):
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
            if sep and spec and _NAME.match(name) and not os.path.exists(item):
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
    if spec.startswith(HF_PREFIX) or os.path.exists(_split_at(spec)[0]):
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
    ``contamination`` holds one report row per (pool row, evaluation question) overlap, and
    ``stats`` counts per source.
    """

    def __init__(self, sources: Sequence[SourceConfig], eval_questions: Sequence[EvalQuestion] = (),
                 options: CollectOptions | None = None, *, progress: Progress | None = None,
                 stdin: IO[bytes] | None = None) -> None:
        if not sources:
            raise ConfigError("no sources: give --source SPEC (repeatable) or --recipe FILE")
        self.sources = list(sources)
        self.options = options or CollectOptions()
        self.decontaminator = Decontaminator(eval_questions, self.options.ngram) if eval_questions else None
        self.progress = progress or (lambda n: None)
        self.stdin = stdin
        self.stats: dict[str, SourceStats] = {}
        self.contamination: list[Row] = []
        self.columns: dict[str, str] = {c: STR for c in POOL_COLUMNS}
        self._extra: set[str] = set()
        self._spool: IO[bytes] | None = None
        self._hasher = MinHasher() if self.options.dedupe == "near" else None
        # Per spooled row: a few numbers, never the row itself.
        self._offsets = array("q")
        self._row_group = array("q")
        self._row_source = array("H")
        self._complete = bytearray()
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
        self._spool = tempfile.TemporaryFile()  # unnamed: nothing is left behind, even on a kill
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

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

    def build(self, opened: Sequence[tuple[SourceConfig, OpenedSource]] | None = None) -> None:
        assert self._spool is not None, "use Pool as a context manager"
        taken: Counter = Counter()  # rows read per recipe entry (or per --source)
        for number, (config, source) in enumerate(opened if opened is not None else self.opened()):
            limits = [n for n in (config.limit, self.options.limit) if n]
            limit = min(limits) if limits else None
            key = ("entry", config.entry) if config.entry is not None else ("source", number)
            for where, raw in source.rows:
                if limit is not None and taken[key] >= limit:
                    break
                if config.where and not _accept(raw, config.where, where):
                    continue
                self._add(canonical_row(raw, config, source.default_name, where), where)
                self.progress(1)
                taken[key] += 1
            close = getattr(source.rows, "close", None)
            if close:
                close()
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
            row["id"] = f"{row['source']}-{short_hash(key)}"
        source = self._source(row["source"])
        stats = self.stats[row["source"]]
        stats.read += 1
        if self.decontaminator is not None:
            found = self.decontaminator.matches(tokens)
            if found:
                stats.contaminated += 1
                stats.by_benchmark.update({match.benchmark for match in found})
                for match in found:
                    self.contamination.append({
                        "pool_id": row["id"], "source": row["source"], "benchmark": match.benchmark,
                        "benchmark_id": match.benchmark_id, "ngram": match.ngram, "shared": match.shared,
                        "question": row["question"]})
                return
        for column in row:
            if column not in self.columns and column != "metadata" and column not in self._extra:
                self._extra.add(column)
        line = _dumps([where, row]).encode("utf-8") + b"\n"
        self._offsets.append(self._spool.tell())
        self._spool.write(line)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = len(self._group_digests)
            self._group_digests.append(key)
            if self._hasher is not None:
                self._add_signature(group, self._hasher.signature(tokens))
        self._row_group.append(group)
        self._row_source.append(source)
        self._complete.append((row["answer"] is not None) + (row["solution"] is not None))
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
        return (prefer.index(name) if name in prefer else len(prefer), -self._complete[row], name, self._ids[row])

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
            copies.sort(key=lambda e: (e["source"], e["id"]))
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
                                                f"{first_where}); ids must be unique across sources: rename the id "
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

    @property
    def kept(self) -> int:
        return int(self._keep.sum()) if self._keep is not None else 0


def report_path(out: str) -> str | None:
    """Where the contamination report goes: beside OUT, named from it (None for stdout)."""
    if out == STDIO:
        return None
    lowered = out.lower()
    for ext in sorted(EXTENSIONS, key=len, reverse=True):
        if lowered.endswith(ext):
            return out[: -len(ext)] + ".contamination.parquet"
    return out + ".contamination.parquet"


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
