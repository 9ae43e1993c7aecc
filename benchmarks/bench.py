"""Speed of `s1 bench`'s parts beyond generation: grading (main thread and worker processes, and the
cache a rerun hits), the metrics of a large sweep, the report and the plot.

    .venv/bin/python benchmarks/bench.py [--samples 2000] [--workers 2] [--json out.json]

Prints a table; --json writes the figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from anywhere: the repository root goes first on the path, so s1cli imports from this checkout.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402

from benchmarks.common import machine_line, parse_args, rate_table, timed, write_json  # noqa: E402
from s1cli import bench as lib  # noqa: E402
from s1cli.bundled import load_table  # noqa: E402
from s1cli.plots import write_scaling_plot  # noqa: E402
from s1cli.report import markdown  # noqa: E402


def grading_samples(count: int, *, mismatched: bool, n: int = 8) -> list[dict]:
    """MATH500 reference solutions as responses, ``n`` samples per question: each question's own
    solution (the answers match as strings), or the solutions of the next ``n`` questions (math-verify
    parses both sides and finds them different; every response differs from the others)."""
    rows = load_table("math500")
    samples = []
    for i in range(count):
        question, sample = divmod(i, n)
        row = rows[question % len(rows)]
        other = rows[(question + 1 + sample) % len(rows)]
        samples.append({"run": "r", "task": "math500", "id": row["id"], "sample": sample, "budget": None,
                        "num_waits": None, "answer": row["answer"],
                        "response": (other if mismatched else row)["solution"]})
    return samples


def sweep_samples(questions: int, n: int, budgets: list[int], seed: int = 0) -> list[dict]:
    """A synthetic sweep whose accuracy rises with the budget (graded already: metrics only)."""
    rng = random.Random(seed)
    samples = []
    for b_index, budget in enumerate(budgets):
        for q in range(questions):
            skill = rng.random()
            for s in range(n):
                correct = rng.random() < skill * (0.4 + 0.15 * b_index)
                pred = "42" if correct else rng.choice(["1", "2", "3", None])
                samples.append({"run": "synthetic", "task": "t", "id": f"q{q}", "sample": s, "budget": budget,
                                "num_waits": 0, "pred": pred, "correct": correct,
                                "thinking_tokens": rng.randint(budget // 2, budget), "response_tokens": 100,
                                "waits": 0})
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=2000, help="samples to grade")
    parser.add_argument("--workers", type=int, default=2)
    args, start = parse_args(parser)
    results: list[tuple[str, int, float]] = []

    matched = grading_samples(args.samples, mismatched=False)
    seconds, _ = timed(lambda: lib.grade([dict(s) for s in matched]))
    results.append(("grade, answers match as strings, main thread", len(matched), seconds))
    mismatched = grading_samples(args.samples // 4, mismatched=True)
    # Workers first: they start with empty caches, as the main thread would in a fresh process.
    seconds, (graded, _) = timed(lambda: lib.grade([dict(s) for s in mismatched], workers=args.workers))
    results.append((f"grade, wrong answers (math-verify), {args.workers} worker processes", len(mismatched), seconds))
    seconds, _ = timed(lambda: lib.grade([dict(s) for s in mismatched]))
    results.append(("grade, wrong answers (math-verify), main thread", len(mismatched), seconds))
    cache = {lib.sample_key(s): s for s in graded}
    seconds, _ = timed(lambda: lib.grade([dict(s) for s in mismatched], cache))
    results.append(("grade, a rerun: every verdict from samples.parquet", len(mismatched), seconds))

    sweep = sweep_samples(500, 64, [512, 1024, 2048, 4096, 8192])
    seconds, (runs, curves) = timed(lambda: lib.summarise(sweep, resamples=1000))
    results.append(("metrics: 500 questions × 64 samples × 5 budgets (bootstrap 1000)", len(sweep), seconds))
    with tempfile.TemporaryDirectory() as tmp:
        seconds, _ = timed(lambda: write_scaling_plot(Path(tmp) / "scaling.png", runs))
        results.append(("plot (one task, five points)", len(runs), seconds))
        seconds, _ = timed(lambda: markdown(runs, curves, {}))
        results.append(("report.md", len(runs), seconds))

    print(machine_line(start))
    print(rate_table(results))
    write_json(args.json, [{"what": w, "rows": n, "seconds": s} for w, n, s in results], start)


if __name__ == "__main__":
    main()
