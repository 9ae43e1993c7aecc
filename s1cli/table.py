"""Read and write tables: JSONL (plain or gzipped), JSON, Parquet and CSV, chosen by extension.

``-`` means JSONL on stdin/stdout, so commands pipe. Reads stream: rows are yielded as they
are parsed, each checked against the contract (see ``schema``), and every error names the
file, the line (JSONL, CSV) or row (Parquet, JSON arrays) and the column.

Two ways to write:
- ``write_table``: the whole table at once, atomically (temp file + rename), for commands
  that transform a table as a whole.
- ``ResumableWriter``: row by row, for commands that do expensive work per row. A JSONL
  output is appended to and flushed row by row, so a killed run keeps every finished row;
  other formats collect rows in a JSONL journal beside the output (``OUT.partial.jsonl``)
  and are written atomically when the run completes. A rerun skips rows whose key
  (``id``, ``sample``, ``budget``) is already written.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from .errors import InputError, Notice, located
from .schema import BOOL, FLOAT, INT, JSON, Renames, Row, Validator, column_kind, from_text, row_key

STDIO = "-"
JSONL, JSONL_GZ, JSON_ARRAY, PARQUET, CSV = "jsonl", "jsonl.gz", "json", "parquet", "csv"
EXTENSIONS = {
    ".jsonl": JSONL, ".ndjson": JSONL, ".jsonl.gz": JSONL_GZ, ".ndjson.gz": JSONL_GZ,
    ".json": JSON_ARRAY, ".parquet": PARQUET, ".pq": PARQUET, ".csv": CSV,
}
# Parquet cannot hold heterogeneous objects in one column (each row's metadata has its own
# keys), so such columns are stored as JSON text and listed under this schema key.
JSON_COLUMNS_KEY = b"s1cli.json_columns"
# Rows in Parquet/JSON-array outputs grow in this journal until the output is complete.
JOURNAL_SUFFIX = ".partial.jsonl"


def split_extension(path: str | os.PathLike) -> tuple[str, str]:
    """``runs/graded.jsonl.gz`` → (``runs/graded``, ``.jsonl.gz``): a path without its table extension
    (matched case-blind, longest first), and the extension as written ("" when it has none)."""
    name = str(path)
    lowered = name.lower()
    for ext in sorted(EXTENSIONS, key=len, reverse=True):
        if lowered.endswith(ext):
            return name[: -len(ext)], name[-len(ext):]
    return name, ""


def side_path(dest: str | os.PathLike, suffix: str) -> Path:
    """A file written beside an output table: ``runs/graded.parquet`` → ``runs/graded.<suffix>``."""
    return Path(f"{split_extension(dest)[0]}.{suffix}")


def table_format(path: str | os.PathLike) -> str:
    """The format of a table path, from its extension; ``-`` is JSONL on stdin/stdout."""
    name = str(path)
    if name == STDIO:
        return JSONL
    ext = split_extension(name)[1]
    if ext:
        return EXTENSIONS[ext.lower()]
    suffix = "".join(Path(name).suffixes[-2:]) or "(none)"
    raise InputError(f"{name}: unknown table format {suffix!r}; use .jsonl, .jsonl.gz, .parquet, .csv, "
                     ".json, or - for stdin/stdout")


def display_name(path: str | os.PathLike, *, writing: bool = False) -> str:
    if str(path) == STDIO:
        return "<stdout>" if writing else "<stdin>"
    return str(path)


# ---------------------------------------------------------------------------- reading


def iter_rows(
    source: str | os.PathLike,
    *,
    require: Iterable[str] = (),
    renames: Renames | None = None,
    unique: bool = True,
    allow_empty: bool = False,
    derive_ids: bool = True,
    stdin: IO[bytes] | None = None,
) -> Iterator[Row]:
    """Yield the rows of a table, renamed (``--map``) and validated as they stream past.

    Raises InputError naming file, line/row and column for anything malformed: a missing
    or unreadable file, bad JSON, a non-UTF-8 byte, a missing required column, a wrong
    type in a contract column, a duplicate key, or an empty table (unless ``allow_empty``).
    A row without an id gets one from its source and question (``schema.derived_id``) unless
    ``derive_ids`` is false (evaluation sets number their rows instead).
    """
    renames = renames or Renames()
    validator = Validator(require=tuple(require), renames=renames, unique=unique, derive_ids=derive_ids)
    count, said = 0, False
    for where, row in _located_rows(source, stdin, allow_empty):
        row = validator.check(renames.apply(row), where)
        if not said and validator.first_derived is not None:
            said = True
            first_where, first_id = validator.first_derived
            warnings.warn(Notice(f"{display_name(source)}: rows without an id get one from their source and question "
                                 f"(first at {first_where}: {first_id!r}); it is written out with the row"),
                          stacklevel=2)
        yield row
        count += 1
    if count == 0 and not allow_empty:
        raise InputError(f"{display_name(source)}: no rows (the table is empty)")


def read_rows(source: str | os.PathLike, **options: Any) -> list[Row]:
    """All rows of a table as a list; see ``iter_rows`` for the options and errors."""
    return list(iter_rows(source, **options))


def iter_located_rows(source: str | os.PathLike, *, stdin: IO[bytes] | None = None) -> Iterator[tuple[str, Row]]:
    """Rows as parsed, each with its location (``file:line`` or ``file:row N``), not checked against
    the contract: for commands that bring outside data into it (``collect``) and report their own
    errors at that location."""
    return _located_rows(source, stdin, allow_empty=False)


def count_rows(source: str | os.PathLike) -> int | None:
    """A cheap row count for progress bars (None when unknown, e.g. stdin)."""
    name = str(source)
    if name == STDIO or not os.path.isfile(name):
        return None
    fmt = table_format(name)
    if fmt == PARQUET:
        import pyarrow.parquet as pq

        with suppress(Exception):
            return pq.ParquetFile(name).metadata.num_rows
        return None
    if fmt == JSONL:
        with open(name, "rb") as fh:
            return sum(1 for line in fh if line.strip())
    return None


def _located_rows(source: str | os.PathLike, stdin: IO[bytes] | None, allow_empty: bool
                  ) -> Iterator[tuple[str, Row]]:
    name = str(source)
    if name == STDIO:
        yield from _jsonl_rows(stdin or sys.stdin.buffer, "<stdin>")
        return
    fmt = table_format(name)
    path = Path(name)
    if not path.exists():
        raise InputError(f"{name}: no such file")
    if path.is_dir():
        raise InputError(f"{name}: is a directory, not a table file")
    if path.stat().st_size == 0:
        if allow_empty:
            return
        raise InputError(f"{name}: no rows (the file is empty)")
    if fmt == PARQUET:
        yield from _parquet_rows(path, name)
    elif fmt == CSV:
        with open(path, "rb") as fh:
            yield from _csv_rows(fh, name)
    elif fmt == JSON_ARRAY:
        yield from _json_rows(path, name)
    else:
        opener = gzip.open if fmt == JSONL_GZ else open
        try:
            with opener(path, "rb") as fh:
                yield from _jsonl_rows(fh, name)
        except (gzip.BadGzipFile, EOFError) as exc:
            raise InputError(f"{name}: not a valid gzip file ({exc})") from None


def _decoded_lines(fh: Iterable[bytes], name: str) -> Iterator[tuple[int, str]]:
    for lineno, raw in enumerate(fh, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(located(f"{name}:{lineno}",
                                     f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at col {exc.start + 1})")) from None
        if lineno == 1:
            text = text.removeprefix("\ufeff")
        yield lineno, text


def _jsonl_rows(fh: Iterable[bytes], name: str) -> Iterator[tuple[str, Row]]:
    for lineno, text in _decoded_lines(fh, name):
        if not text.strip():
            continue
        where = f"{name}:{lineno}"
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(located(where, f"not valid JSON ({exc.msg} at col {exc.colno})")) from None
        yield where, _expect_object(row, where)


def _expect_object(row: Any, where: str) -> Row:
    if not isinstance(row, dict):
        kind = "array" if isinstance(row, list) else type(row).__name__
        raise InputError(located(where, f"expected a JSON object per row, got {kind}"))
    return row


def _json_rows(path: Path, name: str) -> Iterator[tuple[str, Row]]:
    with open(path, "rb") as fh:
        head = fh.read(4096).lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head.startswith(b"["):
        with open(path, "rb") as fh:
            yield from _jsonl_rows(fh, name)
        return
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{name}:{line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x})") from None
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}:{exc.lineno}: not valid JSON ({exc.msg} at col {exc.colno})") from None
    for index, item in enumerate(items, 1):
        where = f"{name}:row {index}"
        yield where, _expect_object(item, where)


def _parquet_rows(path: Path, name: str) -> Iterator[tuple[str, Row]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{name}: not a valid Parquet file ({exc})") from None
    json_columns = _json_columns(parquet.schema_arrow)
    index = 0
    for batch in parquet.iter_batches(batch_size=2048):
        for row in batch.to_pylist():
            index += 1
            where = f"{name}:row {index}"
            for column in json_columns:
                text = row.get(column)
                if isinstance(text, str):
                    try:
                        row[column] = json.loads(text)
                    except json.JSONDecodeError as exc:
                        raise InputError(located(where, f"column {column!r} is not valid JSON ({exc.msg})")) from None
            yield where, row


def _json_columns(schema: Any) -> list[str]:
    meta = schema.metadata or {}
    return json.loads(meta[JSON_COLUMNS_KEY]) if JSON_COLUMNS_KEY in meta else []


def _csv_rows(fh: IO[bytes], name: str) -> Iterator[tuple[str, Row]]:
    lines = (text for _, text in _decoded_lines(fh, name))
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise InputError(f"{name}:1: not valid CSV ({exc})") from None
    kinds = [column_kind(column) for column in header]
    duplicates = sorted({c for c in header if header.count(c) > 1})
    if duplicates:
        raise InputError(f"{name}:1: column {duplicates[0]!r} appears twice in the header")
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(f"{name}:{start}: not valid CSV ({exc})") from None
        if not cells:
            continue
        where = f"{name}:{start}"
        if len(cells) != len(header):
            raise InputError(located(where, f"expected {len(header)} fields as in the header, got {len(cells)}"))
        row = {}
        for column, kind, cell in zip(header, kinds, cells, strict=True):
            try:
                row[column] = from_text(cell, kind) if kind else _csv_loose(cell)
            except ValueError as exc:
                raise InputError(located(where, f"column {column!r} {exc}")) from None
        yield where, row


def _csv_loose(cell: str) -> Any:
    """A cell of a column outside the contract: JSON objects/arrays come back as such."""
    if cell == "":
        return None
    if cell[0] in "[{":
        with suppress(ValueError):
            return json.loads(cell)
    return cell


# ---------------------------------------------------------------------------- writing


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):  # numpy arrays
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"cannot write a value of type {type(value).__name__} to a table")


def dumps(row: Row) -> str:
    """One row as a JSONL line (no newline)."""
    return json.dumps(row, ensure_ascii=False, default=_json_default)


def _columns(rows: list[Row]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for column in row:
            seen.setdefault(column)
    return list(seen)


def write_table(dest: str | os.PathLike, rows: Iterable[Row], *, stdout: IO[str] | None = None,
                columns: Mapping[str, str] | None = None) -> int:
    """Write a whole table atomically: the output appears complete or not at all.

    Returns the number of rows written. ``-`` streams JSONL to stdout. ``columns`` (column name
    -> schema kind, e.g. ``{"id": STR, "metadata": JSON}``) fixes the columns in advance, so
    Parquet, CSV and JSON arrays stream in batches instead of holding every row in memory.
    """
    name = str(dest)
    fmt = table_format(name)
    if name == STDIO:
        out = stdout or sys.stdout
        count = 0
        for row in rows:
            out.write(dumps(row) + "\n")
            count += 1
        out.flush()
        return count
    with _atomic_path(Path(name)) as tmp:
        if fmt in (JSONL, JSONL_GZ):
            opener = gzip.open if fmt == JSONL_GZ else open
            count = 0
            with opener(tmp, "wt", encoding="utf-8", newline="\n") as fh:
                for row in rows:
                    fh.write(dumps(row) + "\n")
                    count += 1
            return count
        if columns is not None:
            return _write_streamed(tmp, fmt, rows, columns)
        materialised = list(rows)
        if fmt == PARQUET:
            _write_parquet(tmp, materialised)
        elif fmt == CSV:
            _write_csv(tmp, materialised)
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write("[\n" + ",\n".join(dumps(row) for row in materialised) + ("\n]\n" if materialised else "]\n"))
        return len(materialised)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write a text file (a report) atomically, like ``write_table``."""
    with _atomic_path(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _ensure_parent(path: Path) -> None:
    for folder in [path.parent, *path.parent.parents]:
        if folder.exists():
            if not folder.is_dir():
                raise InputError(f"{path}: cannot write: {folder} is not a directory")
            break
    path.parent.mkdir(parents=True, exist_ok=True)


@contextmanager
def _atomic_path(dest: Path) -> Iterator[Path]:
    """A temp path beside ``dest``, renamed onto it on success and removed on any failure."""
    _ensure_parent(dest)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        with suppress(FileNotFoundError):
            tmp.unlink()


def _write_parquet(path: Path, rows: list[Row]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays, names, json_columns = [], [], []
    for column in _columns(rows):
        values = [row.get(column) for row in rows]
        as_json = any(isinstance(v, (dict, list)) for v in values)
        array = None
        if not as_json:
            try:
                array = pa.array(values)
            except (pa.ArrowException, TypeError, ValueError, OverflowError):
                as_json = True  # mixed types: keep every value exactly by storing JSON text
        if as_json:
            array = pa.array([None if v is None else dumps(v) for v in values], type=pa.string())
            json_columns.append(column)
        arrays.append(array)
        names.append(column)
    table = pa.Table.from_arrays(arrays, names=names) if names else pa.table({})
    if json_columns:
        table = table.replace_schema_metadata({JSON_COLUMNS_KEY: json.dumps(json_columns).encode()})
    pq.write_table(table, path)


STREAM_BATCH = 8192


def _write_streamed(path: Path, fmt: str, rows: Iterable[Row], columns: Mapping[str, str]) -> int:
    count = 0
    if fmt == PARQUET:
        import pyarrow as pa
        import pyarrow.parquet as pq

        types = {INT: pa.int64(), BOOL: pa.bool_(), FLOAT: pa.float64()}
        schema = pa.schema([(name, types.get(kind, pa.string())) for name, kind in columns.items()])
        json_columns = [name for name, kind in columns.items() if kind == JSON]
        if json_columns:
            schema = schema.with_metadata({JSON_COLUMNS_KEY: json.dumps(json_columns).encode()})
        with pq.ParquetWriter(path, schema) as writer:
            batch: list[Row] = []
            for row in rows:
                batch.append(row)
                count += 1
                if len(batch) == STREAM_BATCH:
                    writer.write_table(_arrow_batch(batch, schema, json_columns))
                    batch = []
            if batch or count == 0:
                writer.write_table(_arrow_batch(batch, schema, json_columns))
        return count
    with open(path, "w", encoding="utf-8", newline="" if fmt == CSV else "\n") as fh:
        if fmt == CSV:
            writer = csv.writer(fh)
            writer.writerow(list(columns))
            for row in rows:
                writer.writerow([_csv_cell(row.get(column)) for column in columns])
                count += 1
            return count
        fh.write("[\n")
        for row in rows:
            fh.write(("" if count == 0 else ",\n") + dumps(row))
            count += 1
        fh.write("\n]\n" if count else "]\n")
    return count


def _arrow_batch(rows: list[Row], schema: Any, json_columns: list[str]) -> Any:
    import pyarrow as pa

    arrays = []
    for field in schema:
        values = [row.get(field.name) for row in rows]
        if field.name in json_columns:
            values = [None if v is None else dumps(v) for v in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return dumps(value)
    return str(value)


def _write_csv(path: Path, rows: list[Row]) -> None:
    columns = _columns(rows)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(row.get(column)) for column in columns])


# ---------------------------------------------------------------------------- resumable writing


def _repair_tail(path: Path) -> None:
    """Drop a partial last line left by a killed writer; keep a whole row missing its newline."""
    size = path.stat().st_size
    if size == 0:
        return
    with open(path, "rb+") as fh:
        fh.seek(max(0, size - 1))
        if fh.read(1) == b"\n":
            return
        # Walk back to the last newline; rows are rarely longer than a few MB.
        block, pos = 1 << 16, size
        tail = b""
        while pos > 0:
            step = min(block, pos)
            pos -= step
            fh.seek(pos)
            tail = fh.read(step) + tail
            cut = tail.rfind(b"\n")
            if cut >= 0:
                start = pos + cut + 1
                tail = tail[cut + 1:]
                break
        else:
            start = 0
        try:
            complete = isinstance(json.loads(tail.decode("utf-8")), dict)
        except (UnicodeDecodeError, json.JSONDecodeError):
            complete = False
        if complete:
            fh.seek(0, io.SEEK_END)
            fh.write(b"\n")
        else:
            fh.truncate(start)


def keys_in(path: Path) -> set[tuple]:
    """The resume keys (id, sample, budget) of the rows already in ``path`` (none if it is absent or empty)."""
    if not path.exists() or path.stat().st_size == 0:
        return set()
    return {row_key(row) for row in iter_rows(path, unique=False, allow_empty=True)}


class ResumableWriter:
    """Writes rows one at a time so an interrupted run resumes without losing or repeating rows.

    Use as a context manager. ``done`` holds the keys already in the output (from an
    earlier run, when ``resume`` is true) plus those written since; ``write`` never writes
    a key twice. On an exception the rows written so far stay (JSONL) or stay in the journal
    (other formats) for the next run; on success a journalled output is written atomically.
    """

    def __init__(self, dest: str | os.PathLike, *, resume: bool = True, stdout: IO[str] | None = None) -> None:
        self.name = str(dest)
        self.format = table_format(self.name)
        self.done: set[tuple] = set()
        self.written = 0
        self.resumed = 0
        self._stdout = stdout
        self._fh: IO[Any] | None = None
        self._journal: Path | None = None
        self._resume = resume
        if self.name == STDIO:
            return
        path = Path(self.name)
        if self.format == JSONL:
            target = path
        else:
            self._journal = target = Path(self.name + JOURNAL_SUFFIX)
        if resume:
            if target.exists():
                _repair_tail(target)
            self.done = keys_in(path) | (keys_in(target) if target != path else set())
            self.resumed = len(self.done)

    def __enter__(self) -> ResumableWriter:
        return self

    def _open(self) -> IO[Any]:
        # Opened at the first row, so a run that fails before producing anything leaves no file.
        if self.name == STDIO:
            return self._stdout or sys.stdout
        target = self._journal or Path(self.name)
        _ensure_parent(target)
        # Unbuffered bytes: each row reaches the file in one write call, so a kill leaves at
        # most one partial line (dropped on resume), never an interleaving.
        return open(target, "ab" if self._resume else "wb", buffering=0)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._close_handle()
        if exc_type is None:
            self._finish()

    def has(self, key: tuple) -> bool:
        return key in self.done

    def write(self, row: Row) -> bool:
        """Append one row; returns False (and writes nothing) when its key is already written."""
        key = row_key(row)
        if key in self.done and row.get("id") is not None:
            return False
        if self._fh is None:
            self._fh = self._open()
        line = dumps(row) + "\n"
        if self.name == STDIO:
            self._fh.write(line)
            self._fh.flush()
        else:
            self._fh.write(line.encode("utf-8"))
        self.done.add(key)
        self.written += 1
        return True

    def _close_handle(self) -> None:
        if self._fh is not None and self.name != STDIO:
            self._fh.close()
        self._fh = None

    def _finish(self) -> None:
        path = Path(self.name)
        if self.name == STDIO:
            return
        if self._journal is None or not self._journal.exists():
            if self.written == 0 and (not path.exists() or not self._resume):
                write_table(path, [])  # a completed run always leaves its output, even empty
            return
        previous = iter_rows(path, unique=False, allow_empty=True) if path.exists() and self._resume else iter(())
        journal_rows = iter_rows(self._journal, unique=False, allow_empty=True) if self._journal.exists() else iter(())
        rows = [*previous, *journal_rows]
        write_table(path, rows)
        with suppress(FileNotFoundError):
            self._journal.unlink()
