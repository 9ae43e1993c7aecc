"""Training speed of `s1 sft` against TRL's SFTTrainer: same model, rows, steps and loss masking.

    .venv/bin/pip install trl   # benchmark only; not a dependency of s1cli
    .venv/bin/python benchmarks/sft.py [--rows 16] [--steps 20] [--batch-size 4] [--json out.json]

Each trainer runs in its own process on a random ~20M-parameter Qwen2 (`s1 tiny --preset small`)
with bundled MATH500 rows (reference solution as thinking, answer as response). Loss is on the
assistant turn only in both (TRL: prompt-completion data, completion_only_loss). TRL runs with
padding_free (no pad tokens, position_ids restart per example: its fastest CPU setting that keeps
examples per step equal to s1's). Reports tokens/s over steps 2.. (the first warms up), peak RSS,
and the largest relative difference between the two loss curves.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRL_CHILD = r'''
import json, sys, time, resource
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer  # noqa
model_dir, rows_path, steps, batch, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rows = [json.loads(line) for line in open(rows_path)]
data = Dataset.from_list([{"prompt": [{"role": "user", "content": r["question"]}],
                           "completion": [{"role": "assistant", "content": "<|im_start|>think\n" + r["thinking"]
                                           + "\n<|im_start|>answer\nAnswer: " + r["response"]}]} for r in rows])
tokenizer = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
args = SFTConfig(output_dir=out, max_steps=steps, per_device_train_batch_size=batch, learning_rate=1e-4,
                 lr_scheduler_type="cosine", warmup_steps=1, weight_decay=1e-4, adam_beta1=0.9, adam_beta2=0.95,
                 max_length=None, padding_free=True, completion_only_loss=True, logging_steps=1, report_to="none",
                 save_strategy="no", use_cpu=True, bf16=False, seed=0, dataloader_num_workers=0,
                 disable_tqdm=True)
trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
stamps = []
from transformers import TrainerCallback
class Clock(TrainerCallback):
    def on_step_end(self, *a, **k):
        stamps.append(time.perf_counter())
trainer.add_callback(Clock())
start = time.perf_counter()
trainer.train()
logs = [h for h in trainer.state.log_history if "loss" in h]
tokens = [h["num_tokens"] for h in logs]
per_step = [tokens[0]] + [b - a for a, b in zip(tokens, tokens[1:])]
print(json.dumps({"loss": [h["loss"] for h in logs], "tokens": per_step,
                  "seconds": [stamps[0] - start] + [b - a for a, b in zip(stamps, stamps[1:])],
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
'''


def run_s1(model_dir: Path, rows: Path, steps: int, batch: int, out: Path) -> dict:
    command = [sys.executable, "-m", "s1cli.cli", "-q", "sft", str(rows), str(out), "--model", f"hf:{model_dir}",
               "--max-steps", str(steps), "--batch-size", str(batch), "--lr", "1e-4", "--block-size", "4096",
               "--precision", "fp32", "--overwrite"]
    subprocess.run(command, check=True)
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {"loss": [m["loss"] for m in metrics], "tokens": [m["tokens"] for m in metrics],
            "seconds": [m["seconds"] for m in metrics],
            "peak_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}


def run_trl(model_dir: Path, rows: Path, steps: int, batch: int, out: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", TRL_CHILD, str(model_dir), str(rows), str(steps), str(batch),
                             str(out)], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"TRL run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from s1cli.bundled import load_table
    from s1cli.tiny import build_tiny, spec_for

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        build_tiny(work / "model", spec_for("small"))
        rows = work / "rows.jsonl"
        with rows.open("w") as fh:
            for row in load_table("math500")[: args.rows]:
                fh.write(json.dumps({"id": row["id"], "question": row["question"], "thinking": row["solution"],
                                     "response": row["answer"]}) + "\n")
        results = {}
        for name, runner in (("s1 sft (packed, segment SDPA)", run_s1), ("TRL SFTTrainer (padding-free)", run_trl)):
            began = time.perf_counter()
            results[name] = runner(work / "model", rows, args.steps, args.batch_size, work / name.split()[0])
            results[name]["wall"] = time.perf_counter() - began

    print(f"{args.steps} steps × {args.batch_size} rows, ~20M random Qwen2 (s1 tiny --preset small), fp32, CPU")
    print(f"{'trainer':32} {'tok/s':>8} {'peak RSS':>10} {'first loss':>11} {'last loss':>10} {'wall s':>7}")
    for name, r in results.items():
        rate = sum(r["tokens"][1:]) / max(sum(r["seconds"][1:]), 1e-9)
        r["tokens_per_s"] = rate
        print(f"{name:32} {rate:8,.0f} {r['peak_rss'] / 2**20:8,.0f} MiB {r['loss'][0]:11.4f} {r['loss'][-1]:10.4f} "
              f"{r['wall']:7.1f}")
    a, b = (r["loss"] for r in results.values())
    diff = max(abs(x - y) / abs(y) for x, y in zip(a, b, strict=False))
    names = list(results)
    print(f"speed-up {results[names[0]]['tokens_per_s'] / results[names[1]]['tokens_per_s']:.2f}×; "
          f"loss curves, first {min(len(a), len(b))} steps: max relative difference {diff:.2%}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
