"""``s1 join``: add columns of one table to another's rows by id."""

from __future__ import annotations

import typer

from ..errors import ConfigError
from ..join import JoinStats, join_rows, right_columns
from ..layouts import column_map
from ..table import count_rows, display_name, iter_rows, table_format, write_table
from . import options
from .ui import info, progress

EXAMPLES = """Examples:

  s1 join pool.parquet qwen7b.graded.jsonl pool.7b.parquet --columns qwen7b_correct

  s1 join pool.parquet labels.jsonl - --columns msc | s1 select - s1k.jsonl --size 100
"""


def join(
    ctx: typer.Context,
    left: str = typer.Argument(..., metavar="LEFT", help="The table whose rows are kept, in order (- for stdin)."),
    right: str = typer.Argument(..., metavar="RIGHT", help="The table the columns come from, one row per id."),
    dest: str = typer.Argument(..., metavar="OUT", help="Output table; its extension picks the format; - for stdout."),
    columns: str = typer.Option(..., "--columns", "-c", metavar="COLS",
                                help="Comma-separated columns of RIGHT to add (they replace LEFT's of the same name)."),
    map_: list[str] = options.MAP,
    layout: str = options.LAYOUT,
) -> None:
    """Add RIGHT's columns to LEFT's rows, matching rows by id.

    Every LEFT row is written, in order; one whose id RIGHT lacks gets nulls in the new columns
    (`s1 select` then drops it as a row with a missing feature) and the count is reported. RIGHT
    must hold each id once. `--map` renames LEFT's columns as they are read. The write is atomic.
    """
    wanted = [c.strip() for c in columns.split(",") if c.strip()]
    if not wanted:
        raise ConfigError("--columns is empty: name the columns of RIGHT to add")
    if "id" in wanted:
        raise ConfigError("--columns: id is the join key, not a column to add")
    if left == "-" and right == "-":
        raise ConfigError("LEFT and RIGHT cannot both be stdin")
    table_format(dest)
    by_id, wanted = right_columns(right, wanted)
    stats = JoinStats()
    total = count_rows(left)
    with progress(ctx, "joining", total) as advance:
        def counted():
            for row in join_rows(iter_rows(left, renames=column_map(map_, layout)), by_id, wanted, stats):
                yield row
                advance(1)

        write_table(dest, counted())
    info(ctx, f"wrote {stats.rows:,} rows to {display_name(dest, writing=True)}: {', '.join(wanted)} "
              f"from {display_name(right)} for {stats.matched:,}")
    if stats.unmatched:
        info(ctx, f"warning: {stats.unmatched:,} rows of {display_name(left)} have no row in {display_name(right)}: "
                  f"their {', '.join(wanted)} are null")


def register(app: typer.Typer) -> None:
    app.command("join", epilog=EXAMPLES)(join)
