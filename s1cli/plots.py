"""Scaling plots: accuracy against average thinking tokens, one panel per task, one line per run and
method (caps; forced waits at one cap; majority voting; the prompted methods; rejection sampling) —
the shape of the s1 paper's Figures 1 and 4.

Matplotlib draws off screen (the Agg canvas, without pyplot's global state), so plots work on
servers and in CI without a display, and concurrent calls do not share a figure.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path

from .bench import CurvePoint, MethodSummary
from .metrics import Method

MARKERS = "osD^vP*X"
LABEL_SIZE = 7  # points
# Where a point's label may go, in points from the point (x right, y up), tried in this order.
LABEL_OFFSETS = ((4, -11), (4, 4), (-4, -11), (-4, 4))
MERGE_WITHIN = 6  # points: settings this close on the canvas share one label (caps that no longer bind)
# Line styles by method: budget forcing's caps solid and waits dashed, majority voting dotted, the
# prompted methods and rejection sampling dash-dotted; the baseline is a lone point.
STYLES = {"cap": "-", "wait": "--", "majority-vote": ":", "unforced": "none"}
OTHER_STYLE = "-."
# The methods with a line style of their own name it in the legend; the others are told apart by colour.
STYLE_NAMES = {"cap": "caps", "wait": "forced Wait", "majority-vote": "majority vote (k samples)"}


def _line_style(method: Method) -> str:
    return STYLES.get(method.kind, OTHER_STYLE)


def scaling_figure(methods: Sequence[MethodSummary], *, title: str | None = None,
                   keep: Callable[[Method], bool] | None = None):
    """A matplotlib Figure: per task, accuracy (%) against average thinking tokens, one line per run and
    method (caps solid, forced waits dashed, majority voting dotted at k times a sample's thinking, other
    methods dash-dotted in a colour each; the unforced baseline a lone point), with 95% intervals and each
    point labelled by its setting. ``keep`` selects methods; points without token counts are left out."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, NullFormatter

    methods = [m for m in methods if keep is None or keep(m.method)]
    tasks = list(dict.fromkeys(m.task for m in methods))
    labels = list(dict.fromkeys(m.run for m in methods))
    # Budget forcing and majority voting take the run's colour; every other method a colour of its own.
    others = list(dict.fromkeys(m.method.kind for m in methods if m.method.kind not in STYLES))
    several = len(labels) > 1
    # Other methods name themselves in the legend, one per line: room for their labels below the panels.
    width = max(4.4 * max(1, len(tasks)), 6.4 if others else 0)
    fig = Figure(figsize=(width, 3.8 + 0.22 * (len(others) + len(labels))), layout="constrained")
    axes = fig.subplots(1, max(1, len(tasks)), squeeze=False)[0]
    # Labels per panel and run: a setting two methods share (a cap's run without waits) is labelled once.
    notes: dict[int, dict[str, dict[tuple, CurvePoint]]] = {}
    styles: set[str] = set()
    for ax_index, (ax, task) in enumerate(zip(axes, tasks, strict=False)):
        xs_all: list[float] = []
        ys_all: list[float] = []
        named: set[str] = set()
        for method in (m for m in methods if m.task == task):
            points = [p for p in method.points if p.compute is not None]
            if not points:
                continue
            index = labels.index(method.run)
            kind = method.method.kind
            if kind in STYLES:
                colour, name = index, method.run
                styles.add(kind)
            else:
                colour = len(labels) + others.index(kind)
                name = f"{method.run}: {method.method.label}" if several else method.method.label
            mine = notes.setdefault(ax_index, {}).setdefault(method.run, {})
            for p in points:
                mine.setdefault((p.note, p.compute, p.accuracy), p)
            xs_all += [p.compute for p in points]
            ys_all += _draw(ax, method.method, points, colour, index, name if name not in named else "_nolegend_")
            named.add(name)
        positive = [x for x in xs_all if x > 0]
        if positive and len(positive) == len(xs_all) and max(positive) / min(positive) >= 4:
            ax.set_xscale("log", base=2)  # the paper's figures space budgets by doubling
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.margins(x=0.12)  # room for the budget labels at the ends
        if ys_all:
            ax.set_ylim(*_y_range(min(ys_all), max(ys_all)))
        ax.set_title(task)
        ax.set_xlabel("average thinking tokens per question")
        ax.set_ylabel("accuracy (%)")
        ax.grid(True, alpha=0.3)
    # One legend for every panel, outside them, so that it covers no point: a run keeps its colour and
    # marker in every panel, and the line styles tell budget forcing's methods and majority voting apart.
    legend = {name: handle for ax in axes for handle, name in zip(*ax.get_legend_handles_labels(), strict=True)}
    if len(styles & set(STYLE_NAMES)) > 1:
        for kind in (k for k in STYLE_NAMES if k in styles):
            legend[STYLE_NAMES[kind]] = Line2D([], [], color="0.4", linestyle=STYLES[kind])
    if legend:
        long = max(len(name) for name in legend) > 28
        fig.legend(list(legend.values()), list(legend), fontsize=8, loc="outside lower center",
                   ncols=1 if long and len(tasks) < 2 else min(len(legend), 2 * max(1, len(tasks))))
    if title:
        fig.suptitle(title, fontsize=10)
    # Labels go last, placed on the laid-out canvas so that they can be kept apart.
    fig.draw_without_rendering()
    for ax_index, groups in notes.items():
        _label_points(axes[ax_index], [list(points.values()) for points in groups.values()])
    return fig


def _draw(ax, method: Method, points: list[CurvePoint], colour: int, index: int, name: str) -> list[float]:
    """One method's line; returns the y extent drawn, intervals included."""
    xs = [p.compute for p in points]
    ys = [p.accuracy * 100 for p in points]
    errors = None
    extent = list(ys)
    if all(p.interval for p in points):
        lows = [p.interval[0] * 100 for p in points]
        highs = [p.interval[1] * 100 for p in points]
        errors = [[y - low for y, low in zip(ys, lows, strict=True)],
                  [high - y for y, high in zip(ys, highs, strict=True)]]
        extent += lows + highs
    ax.errorbar(xs, ys, yerr=errors, marker=MARKERS[index % len(MARKERS)], color=f"C{colour % 10}", capsize=3,
                linewidth=1.5, linestyle=_line_style(method), markersize=5, label=name)
    return extent


def _label_points(ax, groups: list[list[CurvePoint]]) -> None:
    """Label every setting once. Settings that land on (nearly) the same spot of one run's line — caps
    the model no longer reaches — share one label; a label that would overlap one already placed tries
    the other sides of its point, and is left out when none is free."""
    to_points = 72 / ax.figure.dpi
    anchored = []
    for points in groups:
        anchors = []
        for p in sorted(points, key=lambda p: (p.compute, p.order)):
            x, y = p.compute, p.accuracy * 100
            px, py = ax.transData.transform((x, y)) * to_points
            anchors.append(((x, y), (px, py), p.note))
        anchored.append(anchors)
    # Every marker is in the way of every label.
    placed = [(px - 3, py - 3, px + 3, py + 3) for anchors in anchored for _, (px, py), _ in anchors]
    for anchors in anchored:
        for (x, y), (px, py), text in _merged(anchors):
            box = _free_box(px, py, text, placed)
            if box is None:
                continue
            placed.append(box)
            dx = box[0] - px if box[0] >= px else box[2] - px
            dy = box[1] - py
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=LABEL_SIZE,
                        color="0.35", ha="left" if box[0] >= px else "right", va="bottom")


def _merged(anchors: list) -> list:
    """Anchors within MERGE_WITHIN points of the first of a group become one, labelled with the notes
    of all (the first and last, when more than three)."""
    groups: list[list] = []
    for anchor in anchors:
        _, (px, py), _ = anchor
        for group in groups:
            _, (gx, gy), _ = group[0]
            if abs(px - gx) <= MERGE_WITHIN and abs(py - gy) <= MERGE_WITHIN:
                group.append(anchor)
                break
        else:
            groups.append([anchor])
    merged = []
    for group in groups:
        texts = list(dict.fromkeys(text for _, _, text in group))
        text = ", ".join(texts) if len(texts) <= 3 else f"{texts[0]} … {texts[-1]}"
        merged.append((group[0][0], group[0][1], text))
    return merged


def _free_box(px: float, py: float, text: str, placed: list) -> tuple[float, float, float, float] | None:
    """The first of LABEL_OFFSETS where the label's box (estimated from its length) overlaps no placed
    box: (left, bottom, right, top) in points, or None."""
    width, height = len(text) * LABEL_SIZE * 0.55, LABEL_SIZE * 1.15
    for dx, dy in LABEL_OFFSETS:
        left = px + dx if dx >= 0 else px + dx - width
        box = (left, py + dy, left + width, py + dy + height)
        if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
            return box
    return None


def _y_range(low: float, high: float, margin: float = 5, span: float = 10) -> tuple[float, float]:
    """Accuracy limits with a margin, at least ``span`` points tall, within 0..100."""
    low, high = max(0.0, low - margin), min(100.0, high + margin)
    if high - low < span:
        centre = (low + high) / 2
        low = min(max(0.0, centre - span / 2), 100.0 - span)
        high = low + span
    return low, high


def parallel_and_sequential(method: Method) -> bool:
    """The methods of the parallel-against-sequential plot: majority voting and budget forcing."""
    return method.kind in ("majority-vote", "cap", "wait", "unforced")


def write_scaling_plot(path: Path, methods: Sequence[MethodSummary], *, title: str | None = None,
                       keep: Callable[[Method], bool] | None = None) -> None:
    """Write the scaling figure as a PNG, atomically (a temp file renamed into place)."""
    fig = scaling_figure(methods, title=title, keep=keep)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=130)
        os.replace(tmp, path)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
