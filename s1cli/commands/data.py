"""``s1 data``: the small data sets bundled with s1cli (eval sets, a demo pool)."""

from __future__ import annotations

import typer
from rich.table import Table

from ..bundled import TABLES, load_table, msc_classes, table_path
from ..table import display_name, write_table
from ..toy import FAMILIES, toy_rows
from .ui import info, settings

LIST_EXAMPLES = """Examples:

  s1 data list
"""
EXPORT_EXAMPLES = """Examples:

  s1 data export math500 math500.parquet

  s1 data export aime24 - | head -n 1
"""
TOY_EXAMPLES = """Examples:

  s1 data toy toy.jsonl --n 3000 --seed 1

  s1 data toy eval.jsonl --n 60 --seed 2 --slip-rate 0 --check-rate 0

  s1 data toy sums.parquet --tasks sum --min-steps 2 --max-steps 12 --n 500
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
    info(ctx, f"wrote {written:,} rows of {name} to {display_name(dest, writing=True)}")


def toy(
    ctx: typer.Context,
    dest: str = typer.Argument(..., metavar="OUT", help="Output table; its extension picks the format; - for stdout."),
    n: int = typer.Option(1000, "--n", help="Rows to write, the task families taken in turn."),
    tasks: str = typer.Option(",".join(FAMILIES), "--tasks",
                              help=f"Comma-separated task families: {', '.join(FAMILIES)}."),
    seed: int = typer.Option(0, "--seed", help="The same seed and options give the same rows on every machine."),
    min_steps: int = typer.Option(1, "--min-steps", help="Fewest reasoning steps in a question."),
    max_steps: int = typer.Option(8, "--max-steps", help="Most reasoning steps in a question."),
    slip_rate: float = typer.Option(0.2, "--slip-rate",
                                    help="Share of traces that make a slip, write 'Wait' and correct it."),
    check_rate: float = typer.Option(0.2, "--check-rate",
                                     help="Share of traces that write 'Wait' after a right step and check it again."),
) -> None:
    """Write a seeded toy reasoning set: questions whose number of reasoning steps varies, with
    step-by-step thinking, so a tiny model learns to think on a CPU in minutes.

    Families: sum (a digit plus small addends, one at a time), count (counting a letter, one
    letter a step), walk (a frog jumping 1 to 3 forward on a number line). Each row has id,
    question, answer, thinking, response, source (toy-FAMILY), domain and metadata (task, steps,
    slip, check, seed). No question repeats within one table; tables made with other seeds can share
    questions (decontaminate with `s1 collect`).
    """
    written = write_table(dest, toy_rows(n, tasks=tasks, seed=seed, min_steps=min_steps, max_steps=max_steps,
                                         slip_rate=slip_rate, check_rate=check_rate))
    info(ctx, f"wrote {written:,} toy rows ({tasks}, steps {min_steps}..{max_steps}, seed {seed}) to "
              f"{display_name(dest, writing=True)}")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The data sets bundled with s1cli (AIME24, AIME25, MATH500, a demo pool) "
                        "and a seeded toy reasoning set.",
                        no_args_is_help=True)
    group.command("list", epilog=LIST_EXAMPLES)(list_tables)
    group.command("export", epilog=EXPORT_EXAMPLES)(export)
    group.command("toy", epilog=TOY_EXAMPLES)(toy)
    app.add_typer(group, name="data", epilog="Examples:\n\n  s1 data list\n\n  s1 data export aime25 aime25.jsonl")
