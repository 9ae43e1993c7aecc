"""Options renamed so that one idea has one name across commands; the old names still work, hidden
from --help, so scripts written against them keep running."""

from __future__ import annotations

from typing import TypeVar

import typer

from ..errors import ConfigError

T = TypeVar("T")

# new name -> old name, for the docs and the alias options below
RENAMED = {
    "--contamination-report": "--report",  # collect's report is a table; select's --report is Markdown
    "--question-column": "--prompt-column",  # generate said prompt where grade and classify-msc say question
    "--message-batches": "--batch",  # Anthropic's Message Batches, not a --batch-size
}


def hidden(old: str, default: object = None) -> object:
    """The old name of a renamed option, accepted but not shown."""
    return typer.Option(default, old, hidden=True)


def renamed(value: T, old_value: T | None, new: str, default: T | None = None) -> T:
    """The option's value, given by its new name or its old one (not both)."""
    old = RENAMED[new]
    if old_value is None or old_value == default:
        return value
    if value is not None and value != default:
        raise ConfigError(f"{old} is the old name of {new}; give only {new}")
    return old_value
