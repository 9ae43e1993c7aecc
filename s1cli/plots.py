"""Scaling plots: accuracy against average thinking tokens, one panel per task, one line per run —
the shape of the s1 paper's Figures 1 and 4.

Matplotlib draws off screen (the Agg canvas, without pyplot's global state), so plots work on
servers and in CI without a display, and concurrent calls do not share a figure.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from .bench import RunSummary

MARKERS = "osD^vP*X"


def _budget_note(run: RunSummary) -> str:
    cap = "no cap" if run.budget is None else f"{run.budget:,}"
    return cap + (f" +{run.num_waits}w" if run.num_waits else "")


def scaling_figure(runs: Sequence[RunSummary], *, title: str | None = None):
    """A matplotlib Figure: per task, accuracy (%) against average thinking tokens for each run, with
    95% intervals and each point labelled by its budget. Settings without token counts are left out."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullFormatter

    tasks = list(dict.fromkeys(r.task for r in runs))
    labels = list(dict.fromkeys(r.run for r in runs))
    fig = Figure(figsize=(4.4 * max(1, len(tasks)), 3.8), layout="constrained")
    axes = fig.subplots(1, max(1, len(tasks)), squeeze=False)[0]
    for ax, task in zip(axes, tasks, strict=False):
        xs_all: list[float] = []
        ys_all: list[float] = []
        for index, label in enumerate(labels):
            points = sorted((r for r in runs if r.task == task and r.run == label
                             and r.metrics.thinking_tokens is not None), key=lambda r: r.metrics.thinking_tokens)
            if not points:
                continue
            xs = [p.metrics.thinking_tokens for p in points]
            ys = [p.metrics.accuracy * 100 for p in points]
            xs_all += xs
            ys_all += ys
            errors = None
            if all(p.metrics.interval for p in points):
                errors = [[y - p.metrics.interval[0] * 100 for y, p in zip(ys, points, strict=True)],
                          [p.metrics.interval[1] * 100 - y for y, p in zip(ys, points, strict=True)]]
                ys_all += [p.metrics.interval[0] * 100 for p in points] + [p.metrics.interval[1] * 100 for p in points]
            # A run keeps its colour and marker in every panel.
            ax.errorbar(xs, ys, yerr=errors, marker=MARKERS[index % len(MARKERS)], color=f"C{index % 10}",
                        capsize=3, linewidth=1.5, markersize=5, label=label)
            for x, y, p in zip(xs, ys, points, strict=True):
                ax.annotate(_budget_note(p), (x, y), textcoords="offset points", xytext=(4, -11), fontsize=7,
                            color="0.35")
        positive = [x for x in xs_all if x > 0]
        if positive and len(positive) == len(xs_all) and max(positive) / min(positive) >= 4:
            ax.set_xscale("log", base=2)  # the paper's figures space budgets by doubling
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.margins(x=0.12)  # room for the budget labels at the ends
        if ys_all:
            ax.set_ylim(*_y_range(min(ys_all), max(ys_all)))
        ax.set_title(task)
        ax.set_xlabel("average thinking tokens")
        ax.set_ylabel("accuracy (%)")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="best")
    if title:
        fig.suptitle(title)
    return fig


def _y_range(low: float, high: float, margin: float = 5, span: float = 10) -> tuple[float, float]:
    """Accuracy limits with a margin, at least ``span`` points tall, within 0..100."""
    low, high = max(0.0, low - margin), min(100.0, high + margin)
    if high - low < span:
        centre = (low + high) / 2
        low = min(max(0.0, centre - span / 2), 100.0 - span)
        high = low + span
    return low, high


def write_scaling_plot(path: Path, runs: Sequence[RunSummary], *, title: str | None = None) -> None:
    """Write the scaling figure as a PNG, atomically (a temp file renamed into place)."""
    fig = scaling_figure(runs, title=title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=130)
        os.replace(tmp, path)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
