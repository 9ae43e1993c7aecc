"""Terminal output for the command layer: settings from the global options, consoles on
stderr (stdout is reserved for tables piped with ``-``), and progress bars."""

from __future__ import annotations

import os
import time
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
    the text shown after the bar (e.g. tokens/s). Hidden with --quiet. Off a terminal (slurm, ``| tee``,
    CI) a bar would be noise, so a plain line is printed instead, at most every
    ``$S1_PROGRESS_EVERY`` seconds (default 30): done/total, rate, ETA and the note."""
    s = settings(ctx)
    if s.quiet:
        yield lambda n=1, note=None: None
        return
    if not s.console.is_terminal:
        yield ProgressLines(s.console, description, total, _progress_every()).advance
        return
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[note]}")]
    with Progress(*columns, console=s.console, transient=True) as bar:
        task = bar.add_task(description, total=total, note="")

        def advance(n: int = 1, note: str | None = None) -> None:
            bar.update(task, advance=n, **({"note": note} if note is not None else {}))

        yield advance


DEFAULT_PROGRESS_EVERY = 30.0


def _progress_every() -> float:
    try:
        return max(0.0, float(os.environ.get("S1_PROGRESS_EVERY", DEFAULT_PROGRESS_EVERY)))
    except ValueError:
        return DEFAULT_PROGRESS_EVERY


class ProgressLines:
    """Progress for logs: one plain line per interval, as trainers log every N steps. Nothing more at
    the end: the command's own summary line (or its one-line error) closes the log."""

    def __init__(self, console: Console, description: str, total: int | None, every: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console, self.description, self.total, self.every, self.clock = console, description, total, every, clock
        self.done, self.note = 0, ""
        self.began = self.last = clock()

    def advance(self, n: int = 1, note: str | None = None) -> None:
        self.done += n
        if note is not None:
            self.note = note
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            self.console.print(self.line(now), soft_wrap=True, highlight=False)

    def line(self, now: float) -> str:
        elapsed = max(now - self.began, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.description}: {self.done:,}" + (f"/{self.total:,} ({self.done / self.total:.0%})"
                                                          if self.total else "")]
        parts.append(f"{rate:,.2f}/s" if rate < 10 else f"{rate:,.0f}/s")
        parts.append(f"elapsed {_duration(elapsed)}")
        if self.total and rate > 0 and self.done < self.total:
            parts.append(f"ETA {_duration((self.total - self.done) / rate)}")
        if self.note:
            parts.append(self.note)
        return " · ".join(parts)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
