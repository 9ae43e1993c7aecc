"""``s1 data``: the small data sets bundled with s1cli (eval sets, a demo pool)."""

from __future__ import annotations

import typer
from rich.table import Table

from ..bundled import TABLES, load_table, msc_classes, table_path
from ..table import write_table
from ..ui import info, settings

LIST_EXAMPLES = """Examples:

  s1 data list
"""
EXPORT_EXAMPLES = """Examples:

  s1 data export math500 math500.parquet

  s1 data export aime24 - | head -n 1
"""


def list_tables(ctx: typer.Context) -> None:
    """List the bundled tables with their sizes, sources and licences."""
    table = Table(title="bundled tables (s1cli/data; see NOTICE.md)")
    for column in ("name", "rows", "kind", "description", "licence"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for t in TABLES.values():
        table.add_row(t.name, str(t.rows), t.kind, t.description, t.licence)
    table.add_row("msc2020", str(len(msc_classes())), "labels", "MSC2020 top-level classes (code, name)",
                  "CC BY-NC-SA 4.0 (AMS, zbMATH Open)")
    settings(ctx).console.print(table)
    info(ctx, f"files: {table_path('aime24').parent}")


def export(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=f"Bundled table: {', '.join(TABLES)}."),
    dest: str = typer.Argument(..., metavar="OUT", help="Output table; its extension picks the format; - for stdout."),
) -> None:
    """Write a bundled table to OUT in any table format."""
    written = write_table(dest, load_table(name))
    info(ctx, f"wrote {written:,} rows of {name} to {dest}")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The data sets bundled with s1cli: AIME24, AIME25, MATH500, a demo pool.",
                        no_args_is_help=True)
    group.command("list", epilog=LIST_EXAMPLES)(list_tables)
    group.command("export", epilog=EXPORT_EXAMPLES)(export)
    app.add_typer(group, name="data", epilog="Examples:\n\n  s1 data list\n\n  s1 data export aime25 aime25.jsonl")
