"""``s1 convert``: validate a table and write it in another format, with column renames."""

from __future__ import annotations

from itertools import islice

import typer

from ..layouts import column_map
from ..table import count_rows, display_name, iter_rows, table_format, write_table
from . import options
from .ui import info, progress

EXAMPLES = """Examples:

  s1 convert pool.jsonl pool.parquet

  s1 convert s1K.parquet s1k.jsonl --map thinking=thinking_trajectories --require question

  cat pool.jsonl | s1 convert - - --limit 10
"""


def convert(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="IN",
                                 help="Input table (.jsonl, .jsonl.gz, .parquet, .csv, .json; - for stdin)."),
    dest: str = typer.Argument(..., metavar="OUT", help="Output table; its extension picks the format; - for stdout."),
    map_: list[str] = options.MAP,
    layout: str = options.LAYOUT,
    require: list[str] = typer.Option(None, "--require", "-r", metavar="COLUMN",
                                      help="Fail unless every row has this column, non-null (repeatable)."),
    limit: int = typer.Option(None, "--limit", min=1, help="Keep only the first N rows."),
) -> None:
    """Read a table, check it against the table contract, and write it out in OUT's format.

    Every row is validated (types of the contract columns, unique keys, required columns);
    the first problem stops the run with file, line or row, and column, and OUT is left
    untouched. The write is atomic: OUT appears complete or not at all.
    """
    table_format(dest)  # an unusable output name fails before any work
    rows = iter_rows(source, require=require or (), renames=column_map(map_, layout))
    if limit:
        rows = islice(rows, limit)
    total = count_rows(source)
    with progress(ctx, "converting", min(total, limit or total) if total else None) as advance:
        def counted():
            for row in rows:
                yield row
                advance(1)

        written = write_table(dest, counted())
    info(ctx, f"wrote {written:,} rows to {display_name(dest, writing=True)}")


def register(app: typer.Typer) -> None:
    app.command("convert", epilog=EXAMPLES)(convert)
