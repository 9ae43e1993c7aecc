"""Speed beside other work: `s1 generate` and `s1 sft` with their default threads, on a quiet machine
and beside one busy process (a single-threaded spin loop, the usual neighbour on a laptop, in CI or
on a shared node), side by side with torch's own default (one thread per usable core).

The target (issue 17): beside one busy process, each command within 1.5x of its quiet speed.
Each configuration runs as the user runs it (`s1 ...` in its own process), `--repeats` times; the
table gives the median tokens/s from the command's own summary line.

    .venv/bin/python benchmarks/threads.py
    .venv/bin/python benchmarks/threads.py --repeats 1 --json threads.json
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine_line, parse_args, run_measured, table, write_json

S1 = [sys.executable, "-m", "s1cli.cli"]
RATE = re.compile(r"([\d,]+) tok/s")


def build_inputs(root: Path, rows: int) -> dict[str, Path]:
    from s1cli.table import write_table
    from s1cli.tiny import PRESETS, build_tiny

    questions = [{"id": f"q{i}", "question": f"What is {i} plus {3 * i}? Explain each step."} for i in range(rows)]
    traces = [{**q, "thinking": f"{q['question']} Add the numbers. " * 20, "response": f"It is {4 * i}."}
              for i, q in enumerate(questions)]
    write_table(root / "q.jsonl", questions)
    write_table(root / "train.jsonl", traces)
    return {"tiny": build_tiny(root / "tiny"), "small": build_tiny(root / "small", PRESETS["small"]),
            "q": root / "q.jsonl", "train": root / "train.jsonl"}


def commands(paths: dict[str, Path], out: Path, steps: int) -> dict[str, list[str]]:
    generate = ["generate", str(paths["q"]), str(out / "g.jsonl"), "--overwrite", "--max-thinking-tokens", "256",
                "--max-answer-tokens", "32"]
    return {
        "generate tiny": [*generate, "--model", f"hf:{paths['tiny']}"],
        "generate small (~20M)": [*generate, "--model", f"hf:{paths['small']}"],
        "sft small (~20M)": ["sft", str(paths["train"]), str(out / "sft"), "--overwrite", "--model",
                             f"hf:{paths['small']}", "--max-steps", str(steps), "--batch-size", "4",
                             "--block-size", "1024"],
    }


def rate(command: list[str], threads: int | None) -> float:
    global_options = ["--threads", str(threads)] if threads else []
    done = run_measured([*S1, *global_options, *command])
    if done.returncode != 0:
        raise SystemExit(f"s1 {' '.join(command)} failed:\n{done.stderr}")
    found = RATE.findall(done.stderr.splitlines()[-1])
    return float(found[-1].replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=16, help="questions to generate for / examples to train on")
    parser.add_argument("--steps", type=int, default=12, help="sft optimizer steps")
    parser.add_argument("--repeats", type=int, default=3)
    args, start = parse_args(parser)
    from s1cli.hardware import usable_cores

    cores = usable_cores()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        paths = build_inputs(root, args.rows)
        results = []
        for name, command in commands(paths, root, args.steps).items():
            measured = {}
            for setting, threads, busy in (("quiet, default", None, False), ("busy, default", None, True),
                                           (f"busy, {cores} threads (torch's default)", cores, True)):
                spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
                try:
                    time.sleep(0.5 if busy else 0)  # the spinner is running before the command starts
                    measured[setting] = statistics.median(rate(command, threads) for _ in range(args.repeats))
                finally:
                    if spinner is not None:
                        spinner.kill()
                        spinner.wait()
            quiet = measured["quiet, default"]
            results.append({"workload": name, **measured,
                            "busy/quiet": measured["busy, default"] / quiet})
    header = ["workload", *[k for k in results[0] if k not in ("workload", "busy/quiet")], "quiet / busy"]
    rows = [[r["workload"], *[f"{r[k]:,.0f} tok/s" for k in header[1:-1]], f"{1 / r['busy/quiet']:.2f}x"]
            for r in results]
    print(table(header, rows, markdown=True))
    print(machine_line(start))
    write_json(args.json, results, start)
    if args.json is None:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
