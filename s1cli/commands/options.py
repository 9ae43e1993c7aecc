"""Options shared by several commands, declared once so their names and help stay consistent."""

from __future__ import annotations

import typer

MAP = typer.Option(
    None, "--map", "-m", metavar="NEW=OLD",
    help="Rename column OLD to NEW as rows are read (repeatable), e.g. --map thinking=thinking_trajectories.",
)
OVERWRITE = typer.Option(
    False, "--overwrite", help="Start the output afresh instead of resuming from the rows already in it.",
)
