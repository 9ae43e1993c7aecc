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
        "methods": [{**clean(m.as_row()), "label": m.method.label, "cap": m.method.cap,
                     "points": [{"note": p.note, "thinking_tokens": p.compute, "accuracy": p.accuracy}
                                for p in m.points]} for m in methods],
        "parallel_vs_sequential": [clean(row) for row in parallel_vs_sequential(methods)],
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


def method_row(m: MethodSummary, rank: int | None = None) -> list[Any]:
    x = m.metrics
    return [*([] if rank is None else [rank]), m.task, m.run, m.method.label, x.settings,
            token_range(x.compute_low, x.compute_high),
            pct(x.control, 0), scaling_cell(x.scaling), pairs_cell(m), pct(x.performance)]


def ranked(methods: Sequence[MethodSummary]) -> list[tuple[int, MethodSummary]]:
    """Each task and run's methods ranked as the paper's Table 3 reads: Control first (a method that
    cannot hold a budget is not a way to control compute), then Scaling, then Performance; a metric that
    does not apply (the baseline's Control) ranks last. Returns (rank, method) in report order."""
    def key(m: MethodSummary) -> tuple:
        x = m.metrics
        return tuple((v is None, -(v or 0.0)) for v in (x.control, x.scaling, x.performance))

    out = []
    for group in dict.fromkeys((m.task, m.run) for m in methods):
        members = sorted((m for m in methods if (m.task, m.run) == group), key=key)
        out += list(enumerate(members, start=1))
    return out


def parallel_vs_sequential(methods: Sequence[MethodSummary]) -> list[Row]:
    """Majority voting at each k beside the budget-forcing setting of the same run and task whose average
    thinking is nearest k samples' thinking: which pays more per token."""
    rows = []
    for vote in (m for m in methods if m.method.kind == "majority-vote"):
        forced = [(m, p) for m in methods if (m.task, m.run) == (vote.task, vote.run) and m.method.budget_forcing
                  for p in m.points if p.compute is not None]
        for point in vote.points:
            if point.compute is None:
                continue
            near = min(forced, key=lambda mp: abs(mp[1].compute - point.compute), default=None)
            rows.append({"task": vote.task, "run": vote.run, "k": point.note.removeprefix("k="),
                         "thinking_tokens": point.compute, "majority_accuracy": point.accuracy,
                         "budget_forcing": None if near is None else f"{near[0].method.key} {near[1].note}",
                         "budget_forcing_thinking_tokens": None if near is None else near[1].compute,
                         "budget_forcing_accuracy": None if near is None else near[1].accuracy})
    return rows


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
             plot: str | None = None, parallel_plot: str | None = None) -> str:
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
        several = any(r.method != "budget-forcing" for r in members)
        header = ["run", *(["method"] if several else []), "budget", "waits", "thinking tokens",
                  "accuracy % [95% CI]"]
        for k in ks:
            header += [f"pass@{k}", f"maj@{k}"]
        header += ["no answer %", "within budget %", "n"]
        rows = []
        for r in members:
            m = r.metrics
            budget = r.length or budget_label(r.budget)
            row = [r.run, *([r.method] if several else []), budget, "–" if r.num_waits is None else r.num_waits,
                   tokens(m.thinking_tokens), accuracy_cell(r)]
            for k in ks:
                row += [pct(m.pass_at.get(k)), pct(m.maj_at.get(k))]
            row += [pct(m.no_answer), pct(m.within_budget), m.n]
            rows.append(row)
        lines += _table(header, rows, ("ll" if several else "l") + "rrrl" + "rr" * len(ks) + "rrr")
        lines.append("")
    lines += ["## Control, Scaling, Performance per method (s1 paper §3.2), ranked", ""]
    lines += _table(["rank", "task", "run", "method", "settings", "thinking tokens", "Control %",
                     "Scaling (points / 1k thinking tokens)", "pairs", "Performance %"],
                    [method_row(m, rank) for rank, m in ranked(methods)], "rlllrrrrrr")
    lines.append("")
    if plot:
        lines += [f"![accuracy against average thinking tokens]({plot})", ""]
    matched = parallel_vs_sequential(methods)
    if matched:
        lines += ["## Parallel against sequential scaling at matched thinking tokens", "",
                  "Majority voting over k unforced samples spends k times a sample's thinking per question; beside "
                  "each k, the budget-forcing setting whose average thinking is nearest that spend.", ""]
        lines += _table(["task", "run", "k", "thinking tokens", "majority vote %", "budget forcing setting",
                         "its thinking tokens", "its accuracy %"],
                        [[r["task"], r["run"], r["k"], tokens(r["thinking_tokens"]), pct(r["majority_accuracy"]),
                          r["budget_forcing"] or "–", tokens(r["budget_forcing_thinking_tokens"]),
                          pct(r["budget_forcing_accuracy"])] for r in matched], "llrrrlrr")
        lines.append("")
        if parallel_plot:
            lines += [f"![majority voting against budget forcing]({parallel_plot})", ""]
    lines += [
        "Accuracy is pass@1 averaged over all samples of every question, with a 95% bootstrap interval over "
        "questions. pass@k is the unbiased estimator; maj@k votes over blocks of k samples (ties go to the answer "
        "seen first). No answer: no final answer could be extracted from the text after the thinking. A method is "
        "one way of controlling thinking, swept over its settings: caps (no waits), forced waits at one cap (from "
        "that cap's run without waits), none (the unforced baseline), majority voting over k unforced samples "
        "(k = 1, 2, 4, ...; maj@k from disjoint blocks of k samples, at k times a sample's average thinking), "
        "a budget stated in the prompt (in tokens, or in steps), a short or long instruction, or rejection "
        "sampling (draws under the cap until one ends its thinking within it; none that does: no answer). "
        "Control: the share of a method's settings whose average thinking stays within the budget asked for "
        "(class-conditional: short below the unforced thinking, long above it; majority voting and the baseline "
        "ask for none); Scaling: the mean slope of accuracy over average thinking tokens between every pair of "
        f"its settings, leaving out pairs whose thinking differs by less than {SAME_COMPUTE:.0%} (pairs: kept of "
        "all); Performance: its best accuracy. Methods rank by Control, then Scaling, then Performance.",
        "",
    ]
    return "\n".join(lines)
