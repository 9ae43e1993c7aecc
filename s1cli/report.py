"""The written outputs of ``s1 bench``: summary.csv, scaling.csv, results.json and report.md (the plot is
``plots``).

CSV files hold fractions (0..1) and means as computed; the Markdown report shows percentages.
Nothing in them depends on the clock or the machine, so a rerun that computes nothing writes the
same bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .bench import MethodSummary, RunSummary
from .metrics import SAME_COMPUTE
from .schema import Row
from .table import write_table, write_text_atomic


def _rounded(row: Row) -> Row:
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()}


def write_summaries(summary_path: Path, scaling_path: Path, runs: Sequence[RunSummary],
                    methods: Sequence[MethodSummary]) -> None:
    write_table(summary_path, [_rounded(r.as_row()) for r in runs])
    write_table(scaling_path, [_rounded(m.as_row()) for m in methods])


def results(runs: Sequence[RunSummary], methods: Sequence[MethodSummary]) -> dict[str, Any]:
    """Every setting's metrics and every method's Control / Scaling / Performance, with the units and
    the same-compute threshold they were computed with."""
    def clean(row: Row) -> Row:  # JSON has no NaN
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in _rounded(row).items()}

    return {
        "units": {"accuracy": "fraction (0..1)", "control": "fraction of settings (0..1)",
                  "scaling": "accuracy points per 1,000 thinking tokens", "performance": "fraction (0..1)",
                  "same_compute": SAME_COMPUTE},
        "settings": [clean(r.as_row()) for r in runs],
        "methods": [{**clean(m.as_row()), "label": m.method.label, "cap": m.method.cap} for m in methods],
    }


def write_results(path: Path, runs: Sequence[RunSummary], methods: Sequence[MethodSummary]) -> None:
    write_text_atomic(path, json.dumps(results(runs, methods), indent=2, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------------------------ formatting


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}"


def tokens(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def budget_label(budget: int | None) -> str:
    return "none" if budget is None else f"{budget:,}"


def accuracy_cell(run: RunSummary) -> str:
    m = run.metrics
    if m.interval is None:
        return pct(m.accuracy)
    return f"{pct(m.accuracy)} [{pct(m.interval[0])}, {pct(m.interval[1])}]"


def top_k(run: RunSummary) -> int | None:
    return max(run.metrics.pass_at, default=None)


def scaling_cell(value: float | None) -> str:
    return "–" if value is None else f"{value:+,.0f}" if abs(value) >= 100 else f"{value:+.2f}"


def token_range(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "–"
    return tokens(low) if round(low) == round(high) else f"{tokens(low)}–{tokens(high)}"


def pairs_cell(m: MethodSummary) -> str:
    total = m.metrics.pairs + m.metrics.same_compute_pairs
    return "–" if total == 0 else f"{m.metrics.pairs} of {total}"


def method_note(m: MethodSummary) -> str:
    """One method's metrics on one line, for the terminal."""
    x = m.metrics
    control = "–" if x.control is None else f"{pct(x.control, 0)}%"
    performance = "–" if x.performance is None else f"{pct(x.performance)}%"
    return (f"{m.task} · {m.run} · {m.method.label}: Control {control} · Scaling {scaling_cell(x.scaling)} "
            f"pts/1k tok · Performance {performance}")


def method_row(m: MethodSummary) -> list[Any]:
    x = m.metrics
    return [m.task, m.run, m.method.label, x.settings, token_range(x.compute_low, x.compute_high),
            pct(x.control, 0), scaling_cell(x.scaling), pairs_cell(m), pct(x.performance)]


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str) -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def describe_config(config: dict[str, Any]) -> str:
    if config.get("mode") == "predictions":
        return f"graded from `{config.get('predictions')}`"
    if config.get("mode") != "generate":
        return "options unknown (no run.json)"
    parts = [f"`{config.get('model')}`", f"format {config.get('format')}",
             f"temperature {config.get('temperature')}", f"top-p {config.get('top_p')}", f"seed {config.get('seed')}",
             f"answer ≤ {config.get('max_answer_tokens')} tokens"]
    if config.get("answer_prefix"):
        parts.append(f"answer prefix {config['answer_prefix']!r}")
    if config.get("min_thinking_tokens"):
        parts.append(f"min thinking {config['min_thinking_tokens']} tokens")
    parts.append(f"wait string {config.get('wait_string')!r}")
    return ", ".join(parts)


def markdown(runs: Sequence[RunSummary], methods: Sequence[MethodSummary], configs: dict[str, dict[str, Any]], *,
             plot: str | None = None) -> str:
    """The whole report: per task, every run and setting; then Control / Scaling / Performance."""
    lines = ["# s1 bench report", ""]
    labels = list(dict.fromkeys(r.run for r in runs))
    lines.append("Runs:")
    lines.append("")
    for label in labels:
        lines.append(f"- **{label}**: {describe_config(configs.get(label, {}))}")
    lines.append("")
    for task in dict.fromkeys(r.task for r in runs):
        members = [r for r in runs if r.task == task]
        questions = max(r.metrics.questions for r in members)
        lines += [f"## {task} ({questions:,} questions)", ""]
        ks = sorted({k for r in members if (k := top_k(r))})
        header = ["run", "budget", "waits", "thinking tokens", "accuracy % [95% CI]"]
        for k in ks:
            header += [f"pass@{k}", f"maj@{k}"]
        header += ["no answer %", "within budget %", "n"]
        rows = []
        for r in members:
            m = r.metrics
            row = [r.run, budget_label(r.budget), "–" if r.num_waits is None else r.num_waits,
                   tokens(m.thinking_tokens), accuracy_cell(r)]
            for k in ks:
                row += [pct(m.pass_at.get(k)), pct(m.maj_at.get(k))]
            row += [pct(m.no_answer), pct(m.within_budget), m.n]
            rows.append(row)
        lines += _table(header, rows, "lrrrl" + "rr" * len(ks) + "rrr")
        lines.append("")
    lines += ["## Control, Scaling, Performance per method (s1 paper §3.2)", ""]
    lines += _table(["task", "run", "method", "settings", "thinking tokens", "Control %",
                     "Scaling (points / 1k thinking tokens)", "pairs", "Performance %"],
                    [method_row(m) for m in methods], "lllrrrrrr")
    lines.append("")
    if plot:
        lines += [f"![accuracy against average thinking tokens]({plot})", ""]
    lines += [
        "Accuracy is pass@1 averaged over all samples of every question, with a 95% bootstrap interval over "
        "questions. pass@k is the unbiased estimator; maj@k votes over blocks of k samples (ties go to the answer "
        "seen first). No answer: no final answer could be extracted from the text after the thinking. A method is "
        "one way of controlling thinking, swept over its settings: caps (no waits), forced waits at one cap (from "
        "that cap's run without waits), or none (the unforced baseline). Control: the share of a method's "
        "settings whose average thinking stays within its cap; Scaling: the mean slope of accuracy over average "
        "thinking tokens between every pair of its settings, leaving out pairs whose thinking differs by less "
        f"than {SAME_COMPUTE:.0%} (pairs: kept of all); Performance: its best accuracy.",
        "",
    ]
    return "\n".join(lines)
