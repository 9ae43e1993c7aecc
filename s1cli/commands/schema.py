"""``s1 schema``: print the table contract."""

from __future__ import annotations

import typer
from rich.table import Table

from ..schema import CANONICAL, KEY_COLUMNS, SUFFIXES
from .ui import settings

EXAMPLES = """Examples:

  s1 schema
"""


def schema(ctx: typer.Context) -> None:
    """Print the canonical columns every command reads and writes, with their types."""
    table = Table(title=f"the s1 table contract (row key: {' + '.join(KEY_COLUMNS)})")
    for column in ("column", "type", "written by", "meaning"):
        table.add_column(column)
    for c in CANONICAL:
        table.add_row(c.name, c.kind, c.written_by, c.doc)
    for suffix, kind in SUFFIXES.items():
        table.add_row(f"<name>{suffix}", kind, "grade" if suffix != "_tokens" else "grade --count-tokens",
                      "per-judge verdict, rationale, or a token count")
    settings(ctx).console.print(table)


def register(app: typer.Typer) -> None:
    app.command("schema", epilog=EXAMPLES)(schema)
