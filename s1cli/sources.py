"""Sources of rows for ``collect``: table files, Hugging Face datasets and saved datasets, named
by a spec, and recipes that list sources with their column maps.

A spec is a table file (``.jsonl``, ``.parquet``, ``.csv``, ...), ``-`` (JSONL on stdin), a
Hugging Face dataset (``hf:NAME[:CONFIG][@SPLIT]``, through ``datasets`` and its cache), or a
dataset directory (``Dataset.save_to_disk``, or a folder of data files), optionally ``DIR@SPLIT``.
Opening a source checks that it exists and can be read; its rows stream lazily, each with its
location (``file:line`` or ``spec:row N``) for messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError, InputError, RemoteError, S1Error
from .hub import offline_hint, offline_unless_reachable
from .layouts import column_map
from .schema import Renames, Row
from .table import STDIO, count_rows, iter_located_rows, split_extension, table_format

HF_PREFIX = "hf:"
_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")


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
    if sep and spec and is_name(name) and not Path(text).exists():
        return SourceConfig(spec=spec, name=name, renames=renames or Renames())
    return SourceConfig(spec=text, renames=renames or Renames())


Scalar = str | int | float | bool


class _RecipeSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    spec: str | list[str] = Field(min_length=1)
    map: dict[str, str] = Field(default_factory=dict)
    layout: str | None = None
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
            own = column_map((f"{new}={old}" for new, old in entry.map.items()), entry.layout)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {str(exc).removeprefix('--')}") from None
        given = renames or Renames()
        named = {new for new, _ in own.pairs}
        pairs = own.pairs + tuple(p for p in given.pairs if p[0] not in named)
        # The entry's layout wins over --layout for its own source; otherwise --layout applies.
        layout_of = own if entry.layout else given
        specs = [entry.spec] if isinstance(entry.spec, str) else entry.spec
        filters = tuple((column, tuple(v) if isinstance(v, list) else (v,)) for column, v in entry.where.items())
        for spec in specs:
            sources.append(SourceConfig(spec=_relative_to(spec, file.parent), name=entry.name,
                                        renames=Renames(pairs, layout=layout_of.layout, derive=layout_of.derive),
                                        domain=entry.domain, where=filters,
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
    return split_extension(Path(_split_at(spec)[0]).name)[0]


def exists(spec: str) -> bool:
    """Whether a spec names something there (a hub dataset is checked only when opened)."""
    return spec.startswith(HF_PREFIX) or spec == STDIO or os.path.exists(_split_at(spec)[0])


def is_name(text: str) -> bool:
    """Whether ``text`` can be the NAME of ``NAME=SPEC``."""
    return bool(_NAME.match(text))


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
    offline_unless_reachable()
    import datasets

    try:
        loaded = datasets.load_dataset(name, config or None, split=split or None)
    except Exception as exc:  # datasets raises many kinds (ConnectionError, FileNotFoundError, ValueError...)
        described = f"{name!r}" + (f" (config {config!r})" if config else "") + (f" split {split!r}" if split else "")
        raise RemoteError(f"{spec}: cannot load Hugging Face dataset {described}: {_first_line(exc)}"
                          + offline_hint("dataset")) from None
    return _dataset_source(spec, loaded, split)


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
