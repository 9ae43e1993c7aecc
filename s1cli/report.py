"""The written outputs of ``s1 bench``: summary.csv, scaling.csv and report.md (the plot is ``plots``).

CSV files hold fractions (0..1) and means as computed; the Markdown report shows percentages.
Nothing in them depends on the clock or the machine, so a rerun that computes nothing writes the
same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .bench import CurveSummary, RunSummary
from .schema import Row
from .table import write_table


def _rounded(row: Row) -> Row:
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()}


def write_summaries(summary_path: Path, scaling_path: Path, runs: Sequence[RunSummary],
                    curves: Sequence[CurveSummary]) -> None:
    write_table(summary_path, [_rounded(r.as_row()) for r in runs])
    write_table(scaling_path, [_rounded(c.as_row()) for c in curves])


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
    return "–" if value is None else f"{value:+.2f}"


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


def markdown(runs: Sequence[RunSummary], curves: Sequence[CurveSummary], configs: dict[str, dict[str, Any]], *,
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
    lines += ["## Control, Scaling, Performance (s1 paper §3.2)", ""]
    lines += _table(["task", "run", "runs", "Control %", "Scaling (points / 1k thinking tokens)", "Performance %"],
                    [[c.task, c.run, c.runs, pct(c.control, 0), scaling_cell(c.scaling), pct(c.performance)]
                     for c in curves], "llrrrr")
    lines.append("")
    if plot:
        lines += [f"![accuracy against average thinking tokens]({plot})", ""]
    lines += [
        "Accuracy is pass@1 averaged over all samples of every question, with a 95% bootstrap interval over "
        "questions. pass@k is the unbiased estimator; maj@k votes over blocks of k samples (ties go to the answer "
        "seen first). No answer: no final answer could be extracted from the text after the thinking. Control: "
        "the share of settings whose average thinking stays within its cap; Scaling: the mean slope of accuracy "
        "over average thinking tokens between every pair of settings; Performance: the best accuracy.",
        "",
    ]
    return "\n".join(lines)
