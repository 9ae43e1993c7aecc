"""Terminal output for the command layer: settings from the global options, consoles on
stderr (stdout is reserved for tables piped with ``-``), and progress bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


@dataclass
class Settings:
    """The global options (``s1 --quiet/--verbose``), carried on the click context."""

    quiet: bool = False
    verbose: bool = False
    console: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))


def settings(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Settings) else Settings()


def info(ctx: typer.Context, message: str) -> None:
    """A status line on stderr, silenced by --quiet."""
    s = settings(ctx)
    if not s.quiet:
        s.console.print(message, soft_wrap=True)


def error_line(console: Console, message: str) -> None:
    console.print(Text(f"error: {message}", style="bold red"), soft_wrap=True)


@contextmanager
def progress(ctx: typer.Context, description: str, total: int | None = None) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr; yields ``advance(n=1, note=None)`` where ``note`` replaces
    the text shown after the bar (e.g. tokens/s). Hidden with --quiet and off a terminal."""
    s = settings(ctx)
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[note]}")]
    # Bars only on a terminal: in logs and CI they would be noise around the summary line.
    hidden = s.quiet or not s.console.is_terminal
    with Progress(*columns, console=s.console, disable=hidden, transient=True) as bar:
        task = bar.add_task(description, total=total, note="")

        def advance(n: int = 1, note: str | None = None) -> None:
            bar.update(task, advance=n, **({"note": note} if note is not None else {}))

        yield advance
