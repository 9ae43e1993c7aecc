"""Time and peak memory of `s1 collect` on synthetic pools, decontaminated against every bundled
evaluation set.

The pool is generated here: questions of 20-120 words drawn from the vocabulary of the bundled
data, split over four source files, salted with known numbers of verbatim eval questions, eval
8-grams embedded in new text, exact copies (re-cased, re-spaced) and near copies (one word
changed). Each run is a separate `s1 collect` process, so its peak RSS is its own; the counts
it reports are checked against what was salted.

    python benchmarks/collect.py                      # 100K and 1M rows, exact dedupe, Parquet out
    python benchmarks/collect.py --sizes 100000 --modes exact,near --format jsonl --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.common import machine_line, parse_args, run_measured, table, timed, write_json  # noqa: E402
from s1cli.bundled import load_table  # noqa: E402
from s1cli.table import dumps  # noqa: E402

EVAL_SETS = ("aime24", "aime25", "math500")
SOURCES = 4
RATES = {"verbatim": 0.01, "embedded": 0.01, "exact": 0.05, "near": 0.02}  # of the pool's rows
NEAR_RECALL = 0.99  # LSH finds a pair at Jaccard 0.9 with probability > 0.999; allow for estimation noise


@dataclass
class Salted:
    rows: int
    verbatim: int = 0
    embedded: int = 0
    exact: int = 0
    near: int = 0


def generate(size: int, folder: Path, seed: int = 0) -> tuple[list[Path], Salted]:
    """Write a synthetic pool of ``size`` rows over SOURCES JSONL files (cached by size and seed)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"source{i}-{size}-{seed}.jsonl" for i in range(SOURCES)]
    meta = folder / f"salted-{size}-{seed}.json"
    if meta.exists() and all(p.exists() for p in paths):
        return paths, Salted(**json.loads(meta.read_text()))
    rng = random.Random(seed)
    evals = [row["question"] for name in EVAL_SETS for row in load_table(name)]
    text = " ".join(evals + [row["question"] for row in load_table("pool_sample")])
    vocabulary = sorted(set(text.split()))
    long_evals = [q for q in evals if len(q.split()) >= 12]
    salted = Salted(rows=size)
    clean: list[str] = []  # earlier clean questions, to copy from
    long_clean: list[str] = []
    files = [open(p, "w", encoding="utf-8") for p in paths]  # noqa: SIM115 (closed below)
    try:
        for index in range(size):
            roll = rng.random()
            if roll < RATES["verbatim"]:
                question = rng.choice(evals)
                salted.verbatim += 1
            elif roll < RATES["verbatim"] + RATES["embedded"]:
                words = rng.choice(long_evals).split()
                start = rng.randrange(len(words) - 8)
                # Fresh words around an 8-word piece of an eval question; "zq" words are in no eval set.
                question = " ".join([f"zq{rng.randrange(10**6)}", *words[start:start + 8], f"zq{rng.randrange(10**6)}"])
                salted.embedded += 1
            elif clean and roll < RATES["verbatim"] + RATES["embedded"] + RATES["exact"]:
                question = "  " + rng.choice(clean).upper() + "\n"
                salted.exact += 1
            elif long_clean and roll < sum(RATES.values()):
                # One word changed in 60+ words: word 3-gram Jaccard >= 0.9, above the default 0.8.
                words = rng.choice(long_clean).split()
                words[rng.randrange(len(words))] = f"near{rng.randrange(10**9)}"
                question = " ".join(words)
                salted.near += 1
            else:
                question = " ".join(rng.choices(vocabulary, k=rng.randint(20, 120))) + f" (#{index})"
                for pool in (clean, long_clean) if len(question.split()) > 60 else (clean,):
                    if len(pool) < 50_000:
                        pool.append(question)
                    elif rng.random() < 0.01:
                        pool[rng.randrange(len(pool))] = question
            row = {"question": question, "answer": str(rng.randrange(1000)),
                   "solution": " ".join(rng.choices(vocabulary, k=15)), "difficulty": rng.randint(1, 10)}
            files[index % SOURCES].write(dumps(row) + "\n")
    finally:
        for fh in files:
            fh.close()
    meta.write_text(json.dumps(asdict(salted)))
    return paths, salted


@dataclass
class Run:
    rows: int
    dedupe: str
    output: str
    seconds: float
    peak_mib: float
    written: int
    contaminated: int
    duplicates: int
    expected_ok: bool


def run(paths: list[Path], salted: Salted, dedupe: str, fmt: str, folder: Path) -> Run:
    out = folder / f"pool-{salted.rows}-{dedupe}.{fmt}"
    sources = [a for p in paths for a in ("--source", str(p))]
    command = [sys.executable, "-m", "s1cli.cli", "collect", str(out), *sources,
               "--decontaminate", ",".join(EVAL_SETS), "--dedupe", dedupe]
    done = run_measured(command, env={**os.environ, "PYTHONPATH": str(REPO)})
    if done.returncode != 0:
        raise SystemExit(f"s1 collect failed ({done.returncode}):\n{done.stderr}")
    found = re.search(r"wrote ([\d,]+) rows .*\(([\d,]+) dropped as contaminated, ([\d,]+) as duplicates\)",
                      done.stderr)
    written, contaminated, duplicates = (int(g.replace(",", "")) for g in found.groups())
    expected_contaminated = salted.verbatim + salted.embedded
    expected_duplicates = salted.exact
    if dedupe == "exact":
        ok = contaminated == expected_contaminated and duplicates == expected_duplicates
    else:
        ok = contaminated == expected_contaminated and duplicates >= salted.exact + NEAR_RECALL * salted.near
    return Run(salted.rows, dedupe, fmt, round(done.seconds, 1), round(done.peak_mib, 1), written, contaminated,
               duplicates, ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated pool sizes")
    parser.add_argument("--modes", default="exact", help="comma-separated --dedupe modes: exact, near")
    parser.add_argument("--format", default="parquet", choices=["parquet", "jsonl"], help="output format")
    parser.add_argument("--workdir", default=None, help="where to keep generated pools (default: a temp dir)")
    args, start = parse_args(parser)
    with tempfile.TemporaryDirectory(prefix="s1-collect-bench-") as scratch:
        folder = Path(args.workdir or scratch)
        results = []
        for size in (int(s) for s in args.sizes.split(",")):
            seconds, (paths, salted) = timed(lambda s=size: generate(s, folder))
            print(f"pool of {size:,} rows ready ({seconds:.0f} s): {salted}", flush=True)
            for mode in args.modes.split(","):
                results.append(run(paths, salted, mode, args.format, folder))
                print(results[-1], flush=True)
    print(f"\ns1 collect, decontaminated against {', '.join(EVAL_SETS)}")
    print(machine_line(start))
    print(table(["rows", "dedupe", "output", "seconds", "rows/s", "peak MiB", "written", "contaminated", "duplicates",
                 "counts as salted"],
                [(f"{r.rows:,}", r.dedupe, r.output, f"{r.seconds:.1f}", f"{r.rows / r.seconds:,.0f}",
                  f"{r.peak_mib:,.0f}", f"{r.written:,}", f"{r.contaminated:,}", f"{r.duplicates:,}",
                  "yes" if r.expected_ok else "NO") for r in results], align="rllrrrrrrr"))
    write_json(args.json, [asdict(r) for r in results], start)


if __name__ == "__main__":
    main()
