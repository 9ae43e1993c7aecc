"""What each `--attention` path of `s1 sft` costs, side by side in one run, on random models of two families.

    .venv/bin/python benchmarks/sft_attention.py [--rows 16] [--steps 20] [--batch-size 4] [--preset small]
                                                 [--repeat 3] [--json out.json]

Qwen2 trains with `--attention sdpa` (its default on CPU) and `--attention eager`; Gemma 2, which softcaps
its attention logits, with `eager`, the only per-example path that applies softcapping (its default on
CPU). Same bundled MATH500 rows, steps, optimizer and table order as `benchmarks/sft.py`. Reports
tokens/s over steps 2.. and peak RSS, medians over `--repeat` rounds (the runs of a round take turns,
so a slow minute on a shared machine falls on all of them).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine_line, parse_args, table, write_json
from benchmarks.sft import rate, run_s1, write_inputs

RUNS = (("qwen2", "sdpa"), ("qwen2", "eager"), ("gemma2", "eager"))


def main() -> None:
    from s1cli.tiny import build_tiny, spec_for
    from s1cli.training.preflight import ModelShape

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--preset", default="small", help="s1 tiny preset of the random models (small: ~20M)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every run; figures are medians")
    args, start = parse_args(parser)

    rounds: list[dict[str, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models, rows, sizes = {}, {}, {}
        for arch in {arch for arch, _ in RUNS}:
            built = build_tiny(work / arch / "model", spec_for(args.preset, arch=arch))
            models[arch], rows[arch], _ = write_inputs(work / arch, args.rows, args.preset, built)
            sizes[arch] = ModelShape.from_pretrained(str(built)).parameters
        for _ in range(args.repeat):
            rounds.append({f"{arch} --attention {path}": run_s1(
                models[arch], rows[arch], rows[arch], args.steps, args.batch_size, "fp32",
                work / f"out-{arch}-{path}", "--attention", path) for arch, path in RUNS})
    names = list(rounds[0])
    print(f"{args.steps} steps × {args.batch_size} rows (MATH500, table order), fp32, random models of s1 tiny "
          f"--preset {args.preset} (qwen2 {sizes['qwen2'] / 1e6:,.1f}M, gemma2 {sizes['gemma2'] / 1e6:,.1f}M "
          f"parameters); {args.repeat} round(s), figures are medians")
    sdpa = median(rate(r[names[0]]) for r in rounds)
    print(table(["run", "tok/s", "× qwen2 sdpa", "peak RSS MiB"],
                [[name, f"{median(rate(r[name]) for r in rounds):,.0f}",
                  f"{median(rate(r[name]) for r in rounds) / sdpa:.2f}",
                  f"{median(r[name]['peak_rss'] for r in rounds) / 2**20:,.0f}"] for name in names]))
    print(machine_line(start))
    write_json(args.json, rounds, start, steps=args.steps, batch_size=args.batch_size, repeat=args.repeat)


if __name__ == "__main__":
    main()
