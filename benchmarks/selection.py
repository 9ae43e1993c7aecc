"""How fast `s1 select` is on a large synthetic pool.

    python benchmarks/selection.py                    # 1M rows, the library, every mode
    python benchmarks/selection.py --rows 100000 --cli --json select.json

The pool is synthetic: 50 MSC domains, 16 sources (AIME, GPQA and MATH among them), log-normal
trace lengths, about 5% malformed questions and half of the questions easy. The library is timed
on rows already in memory (what the command hands it after reading); `--cli` also times the whole
command on a Parquet file in a subprocess, reading and writing included, with its peak memory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine_line, parse_args, run_measured, table, timed, write_json  # noqa: E402
from s1cli.bundled import msc_classes  # noqa: E402
from s1cli.selection import SelectConfig, select  # noqa: E402

SOURCES = ["qq8933/AIME_1983_2024", "Idavidrein/gpqa", "qfq/openaimath/Algebra", "qfq/openaimath/Geometry",
           *(f"AI-MO/NuminaMath-CoT/{s}" for s in ("aops_forum", "olympiads", "cn_k12", "amc_aime")),
           "KbsdJames/Omni-MATH", "GAIR/OlympicArena/Math", "baber/agieval/sat_math", "TIGER-Lab/TheoremQA/float",
           "daman1209arora/jeebench/phy", "simplescaling/s1-prob", "Hothan/OlympiadBench/OE", "0xharib/xword1"]
# Benchmark-like sources are rare, so pre-selection keeps a few hundred rows of a 1M pool, as in s1.
SOURCE_P = np.array([0.0003, 0.0003, 0.0015, 0.0015, *[1.0] * 12])
SOURCE_P[4:] = (1 - SOURCE_P[:4].sum()) / 12
QUESTIONS = ["Find all real x such that x^2 - {i} x + 1 = 0.",
             "How many subsets of {{1, ..., {i}}} have an even sum?",
             "Prove that the sequence a_n = n^{i} mod 7 is periodic.",
             "A circle of radius {i} is inscribed in a square.",
             # About 5% trip a formatting rule.
             "In the figure [asy] draw((0,0)--({i},1)); [/asy] find the area.", "See ![Image](fig{i}.png).",
             "p1. Find x. p2. Find y{i}.", "**{i}.** Evaluate the sum."]
QUESTION_P = [0.2375, 0.2375, 0.2375, 0.2375, 0.0125, 0.0125, 0.0125, 0.0125]


def synthetic_pool(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    domains = [code for code, _ in msc_classes()][:50]
    template = rng.choice(len(QUESTIONS), size=n, p=QUESTION_P)
    source = rng.choice(len(SOURCES), size=n, p=SOURCE_P)
    domain = rng.integers(len(domains), size=n)
    tokens = np.minimum(rng.lognormal(8.0, 0.8, size=n), 32_000).astype(int)
    easy7, easy32, correct = rng.random(n) < 0.4, rng.random(n) < 0.3, rng.random(n) < 0.8
    return [{"id": f"q{i}", "question": QUESTIONS[t].format(i=i), "source": SOURCES[s], "msc": domains[d],
             "thinking_tokens": int(k), "qwen7b_correct": bool(a), "qwen32b_correct": bool(b),
             "gemini_correct": bool(c)}
            for i, t, s, d, k, a, b, c in zip(range(n), template.tolist(), source.tolist(), domain.tolist(),
                                              tokens.tolist(), easy7.tolist(), easy32.tolist(), correct.tolist(),
                                              strict=True)]


def time_library(rows: list[dict], size: int) -> list[dict]:
    cases = [("s1k", {}), ("s1k --benchmark-weighting-after 700", {"benchmark_weighting_after": 700}),
             ("random", {"mode": "random"}), ("diverse", {"mode": "diverse"}), ("longest", {"mode": "longest"}),
             ("all", {"mode": "all"})]
    results = []
    for label, options in cases:
        config = SelectConfig(size=size, **options)
        seconds, selection = timed(lambda c=config: select(rows, c))
        results.append({"what": f"library: {label}", "rows": len(rows), "selected": len(selection.indices),
                        "seconds": round(seconds, 2)})
    return results


def time_cli(rows: list[dict], size: int) -> list[dict]:
    from s1cli.table import write_table

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        pool = Path(tmp) / "pool.parquet"
        write_table(pool, rows)
        for label, extra in (("s1 select (s1k)", []), ("s1 select --mode all", ["--mode", "all"])):
            out = Path(tmp) / "s1k.parquet"
            done = run_measured([sys.executable, "-m", "s1cli.cli", "--quiet", "select", str(pool), str(out),
                                 "--size", str(size), *extra], cwd=ROOT)
            if done.returncode:
                raise SystemExit(f"s1 select failed ({done.returncode}):\n{done.stderr[-3000:]}")
            results.append({"what": f"CLI: {label}, parquet in and out", "rows": len(rows), "selected": None,
                            "seconds": round(done.seconds, 2), "peak_rss_mib": round(done.peak_mib)})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--cli", action="store_true", help="also time the whole command on a Parquet file")
    args, start = parse_args(parser)

    seconds, rows = timed(lambda: synthetic_pool(args.rows))
    print(f"built a synthetic pool of {len(rows):,} rows in {seconds:.1f} s", flush=True)
    results = time_library(rows, args.size)
    if args.cli:
        results += time_cli(rows, args.size)

    print(machine_line(start))
    print(table(["what", "rows", "selected", "seconds", "peak MiB"],
                [(r["what"], f"{r['rows']:,}", "" if r["selected"] is None else f"{r['selected']:,}",
                  f"{r['seconds']:.2f}", r.get("peak_rss_mib") or "") for r in results]))
    write_json(args.json, results, start)


if __name__ == "__main__":
    main()
