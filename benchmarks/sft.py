"""Training speed of `s1 sft` against TRL's SFTTrainer: same model, tokens, row order, steps and loss masking.

    .venv/bin/pip install trl   # benchmark only; not a dependency of s1cli
    .venv/bin/python benchmarks/sft.py [--rows 16] [--steps 20] [--batch-size 4] [--precision fp32|bf16]
                                       [--preset small] [--repeat 3] [--busy] [--json out.json]
    # on a GPU: a real model, bf16, and MFU against the device's peak (H100 SXM: 989 dense bf16 TFLOP/s)
    .venv/bin/python benchmarks/sft.py --model models/Qwen2.5-0.5B-Instruct --precision bf16 --peak-tflops 989

Each trainer runs in its own process on a random Qwen2 (`s1 tiny --preset small`: ~20M parameters)
with bundled MATH500 rows (reference solution as thinking, answer as response). The rows are
rendered and tokenized once, by s1's renderer, and TRL gets those token ids with their labels (-100
outside the assistant's thinking and answer): both train on the same tokens with the same masks, in
table order (`--no-shuffle`; TRL: sequential sampler), with the same optimizer, schedule and
clipping. TRL runs its fastest setting that keeps the examples of a step equal to s1's:
padding_free (no pad tokens, position_ids restarting per example).

`s1 sft` runs twice, with its default options and with `--compile` (each decoder layer through
torch.compile from the first step; its compile time shows in the wall time, not in tokens/s). The
default compiles only a run whose first two steps show the rest would take 2 minutes or more, so in
a short benchmark run it is the eager trainer. TRL gains nothing from `torch_compile=True` here
(measured: no faster per step, and a minute of recompiles). The last row is a minimal PyTorch loop
over the same steps (the model's own loss, one example per forward pass, AdamW): what plain code
does without packing.

Reports tokens/s over steps 2.. (the first warms up), peak RSS, and the largest relative difference
between s1's and TRL's loss curves. ``--repeat 3`` runs three rounds and reports medians; ``--busy``
also runs each trainer beside one busy process in the same rounds. The figures depend on the machine:
emulate an AVX2-only CPU with ``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine_line, parse_args, table, timed, write_json

OPTIMIZER = {"lr": 1e-4, "weight_decay": 1e-4, "betas": (0.9, 0.95), "max_grad_norm": 1.0, "warmup_steps": 1}

TRL_CHILD = r'''
import json, sys, time, resource
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import SFTConfig, SFTTrainer
model_dir, data_path, steps, batch, precision, out, opt = sys.argv[1:8]
steps, batch, opt = int(steps), int(batch), json.loads(opt)
data = Dataset.from_list([json.loads(line) for line in open(data_path)])  # input_ids + labels: pre-tokenized
tokenizer = AutoTokenizer.from_pretrained(model_dir)
cuda = torch.cuda.is_available()
from transformers.utils import is_flash_attn_2_available
attention = "flash_attention_2" if cuda and is_flash_attn_2_available() else "sdpa"  # TRL's padding-free wants flash
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation=attention)
args = SFTConfig(output_dir=out, max_steps=steps, per_device_train_batch_size=batch, learning_rate=opt["lr"],
                 lr_scheduler_type="cosine", warmup_steps=opt["warmup_steps"], weight_decay=opt["weight_decay"],
                 adam_beta1=opt["betas"][0], adam_beta2=opt["betas"][1], max_grad_norm=opt["max_grad_norm"],
                 max_length=None, padding_free=True, completion_only_loss=True, train_sampling_strategy="sequential",
                 logging_steps=1, report_to="none", save_strategy="no", use_cpu=not cuda, bf16=precision == "bf16",
                 seed=0, dataloader_num_workers=0, disable_tqdm=True)
trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
stamps = []
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
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "peak_gpu": torch.cuda.max_memory_allocated() if cuda else None}))
'''

PLAIN_CHILD = r'''
import json, sys, time, math, resource
import torch
from transformers import AutoModelForCausalLM, get_cosine_schedule_with_warmup
model_dir, data_path, steps, batch, precision, opt = sys.argv[1:7]
steps, batch, opt = int(steps), int(batch), json.loads(opt)
rows = [json.loads(line) for line in open(data_path)]
torch.manual_seed(0)
device = "cuda" if torch.cuda.is_available() else "cpu"
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa").to(device)
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=opt["lr"], betas=opt["betas"], weight_decay=opt["weight_decay"])
scheduler = get_cosine_schedule_with_warmup(optimizer, opt["warmup_steps"], steps)
losses, tokens, seconds = [], [], []
for step in range(steps):
    began = time.perf_counter()
    chunk = [rows[(step * batch + k) % len(rows)] for k in range(batch)]
    targets = sum(sum(t != -100 for t in r["labels"][1:]) for r in chunk)
    total = 0.0
    for r in chunk:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = model(input_ids=torch.tensor([r["input_ids"]], device=device),
                        labels=torch.tensor([r["labels"]], device=device), num_items_in_batch=targets)
        out.loss.backward()
        total += out.loss.item()
    torch.nn.utils.clip_grad_norm_(model.parameters(), opt["max_grad_norm"])
    optimizer.step(); scheduler.step(); optimizer.zero_grad(set_to_none=True)
    losses.append(total); tokens.append(sum(len(r["input_ids"]) for r in chunk))
    seconds.append(time.perf_counter() - began)
print(json.dumps({"loss": losses, "tokens": tokens, "seconds": seconds,
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "peak_gpu": torch.cuda.max_memory_allocated() if device == "cuda" else None}))
'''


def child_result(command: list[str], name: str) -> dict:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


S1_CHILD = r'''
import atexit, json, resource, sys
peak_file = sys.argv[1]
def peaks():
    import torch
    gpu = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None
    open(peak_file, "w").write(json.dumps([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, gpu]))
atexit.register(peaks)
sys.argv = ["s1"] + sys.argv[2:]
from s1cli.cli import main
main()
'''


def run_s1(model_dir: Path, rows: Path, tokens: Path, steps: int, batch: int, precision: str, out: Path,
           *extra: str) -> dict:
    peak = out.with_suffix(".peak")
    command = [sys.executable, "-c", S1_CHILD, str(peak), "-q", "sft", str(rows), str(out), "--model",
               f"hf:{model_dir}", "--max-steps", str(steps), "--batch-size", str(batch), "--lr", str(OPTIMIZER["lr"]),
               "--weight-decay", str(OPTIMIZER["weight_decay"]), "--max-grad-norm", str(OPTIMIZER["max_grad_norm"]),
               "--warmup-ratio", str(OPTIMIZER["warmup_steps"] / steps), "--block-size", "8192",
               "--precision", precision, "--no-shuffle", "--loss-average", "token", "--overwrite", *extra]
    subprocess.run(command, check=True)
    rss, gpu = json.loads(peak.read_text())
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    # Wall time between the ends of consecutive steps (metrics and progress bar included), as TRL's is measured.
    ends = [m["elapsed"] for m in metrics]
    return {"loss": [m["loss"] for m in metrics], "tokens": [m["tokens"] for m in metrics],
            "seconds": [ends[0]] + [b - a for a, b in pairwise(ends)], "peak_rss": rss, "peak_gpu": gpu}


def run_s1_compiled(model_dir: Path, rows: Path, tokens: Path, steps: int, batch: int, precision: str,
                    out: Path) -> dict:
    return run_s1(model_dir, rows, tokens, steps, batch, precision, out, "--compile")


def run_trl(model_dir: Path, rows: Path, tokens: Path, steps: int, batch: int, precision: str, out: Path) -> dict:
    return child_result([sys.executable, "-c", TRL_CHILD, str(model_dir), str(tokens), str(steps), str(batch),
                         precision, str(out), json.dumps(OPTIMIZER)], "TRL")


def run_plain(model_dir: Path, rows: Path, tokens: Path, steps: int, batch: int, precision: str, out: Path) -> dict:
    return child_result([sys.executable, "-c", PLAIN_CHILD, str(model_dir), str(tokens), str(steps), str(batch),
                         precision, json.dumps(OPTIMIZER)], "plain loop")


def write_inputs(work: Path, n_rows: int, preset: str, model: Path | None) -> tuple[Path, Path, Path]:
    """The model, the rows, and the rows as s1 tokenizes them (input_ids + labels) for the others."""
    from s1cli.bundled import load_table
    from s1cli.thinking import get_format
    from s1cli.tiny import build_tiny, spec_for
    from s1cli.training.data import build_examples, load_tokenizer

    if model is None:
        model = work / "model"
        build_tiny(model, spec_for(preset))
    rows = [{"id": r["id"], "question": r["question"], "thinking": r["solution"], "response": r["answer"]}
            for r in load_table("math500")[:n_rows]]
    table = work / "rows.jsonl"
    table.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tokenizer, eos = load_tokenizer(str(model))
    _, prepared = build_examples(rows, tokenizer, get_format("s1"), block_size=8192, long_rows="truncate",
                                 source=str(table), eos_ids=eos)
    tokens = work / "tokens.jsonl"
    with tokens.open("w") as fh:
        for ex in prepared.examples:
            labels = [t if ex.train_start <= i < ex.train_end else -100 for i, t in enumerate(ex.ids)]
            fh.write(json.dumps({"input_ids": ex.ids, "labels": labels}) + "\n")
    return model, table, tokens


def busy_neighbour() -> subprocess.Popen:
    """One single-threaded spin loop: the usual neighbour on a laptop, in CI or on a shared node."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def rate(r: dict) -> float:
    """tokens/s over steps 2.. (the first includes start-up and, with --compile, compilation)."""
    return sum(r["tokens"][1:]) / max(sum(r["seconds"][1:]), 1e-9)


def main() -> None:
    from statistics import median

    from s1cli.training.preflight import ModelShape

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--preset", default="small", help="s1 tiny preset of the random model (small: ~20M)")
    parser.add_argument("--model", type=Path, help="an HF model directory to train instead (e.g. Qwen2.5-0.5B)")
    parser.add_argument("--peak-tflops", type=float,
                        help="the device's peak dense TFLOP/s at this precision: adds MFU (6 × parameters × tok/s)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every trainer; figures are medians")
    parser.add_argument("--busy", action="store_true",
                        help="also run every trainer beside one busy process (a spin loop), in the same rounds")
    args, start = parse_args(parser)

    runners = {"s1 sft (default options)": run_s1, "s1 sft --compile": run_s1_compiled,
               "TRL SFTTrainer (padding-free)": run_trl, "plain PyTorch loop (unpacked)": run_plain}
    settings = ["quiet", "busy"] if args.busy else ["quiet"]
    # rounds[setting][i][trainer]: round i's result. Rounds alternate settings and run the trainers in
    # turn, so that a slow minute on a shared machine falls on all of them.
    rounds: dict[str, list[dict[str, dict]]] = {s: [] for s in settings}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model, rows_file, tokens = write_inputs(work, args.rows, args.preset, args.model)
        parameters = ModelShape.from_pretrained(str(model)).parameters
        for _ in range(args.repeat):
            for setting in settings:
                results = {}
                for k, (name, runner) in enumerate(runners.items()):
                    neighbour = busy_neighbour() if setting == "busy" else None
                    try:
                        wall, results[name] = timed(lambda r=runner, out=work / f"run{k}": r(
                            model, rows_file, tokens, args.steps, args.batch_size, args.precision, out))
                    finally:
                        if neighbour is not None:
                            neighbour.kill()
                            neighbour.wait()
                    results[name]["wall"] = wall
                    results[name]["tokens_per_s"] = rate(results[name])
                rounds[setting].append(results)

    import torch

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    what = args.model or f"random Qwen2 (s1 tiny --preset {args.preset})"
    print(f"{args.steps} steps × {args.batch_size} rows (MATH500, table order), {what}, {parameters / 1e6:,.1f}M "
          f"parameters, {args.precision}, {device}; {args.repeat} round(s), figures are medians")
    print(machine_line(start))
    trl_name = "TRL SFTTrainer (padding-free)"
    for setting in settings:
        results = rounds[setting]
        lines = []
        for name in runners:
            runs = [r[name] for r in results]
            tps = median(r["tokens_per_s"] for r in runs)
            ratio = median(r[name]["tokens_per_s"] / r[trl_name]["tokens_per_s"] for r in results)
            mfu = f"{6 * parameters * tps / (args.peak_tflops * 1e12):.1%}" if args.peak_tflops else "-"
            gpu = f"{max(r['peak_gpu'] or 0 for r in runs) / 2**30:,.1f} GiB" if runs[0].get("peak_gpu") else "-"
            lines.append((name, f"{tps:,.0f}", f"{ratio:.2f}×", " ".join(f"{r['tokens_per_s']:,.0f}" for r in runs),
                          mfu, f"{max(r['peak_rss'] for r in runs) / 2**20:,.0f} MiB", gpu,
                          f"{runs[0]['loss'][-1]:.4f}", f"{median(r['wall'] for r in runs):.1f}"))
        print(f"\n{setting}" + (" (beside one busy process)" if setting == "busy" else ""))
        print(table(["trainer", "tok/s", "× TRL", "each round", "MFU", "peak RSS", "peak GPU", "last loss", "wall s"],
                    lines))
    first = rounds[settings[0]][0]
    s1, trl = first["s1 sft (default options)"], first[trl_name]
    same_tokens = s1["tokens"] == first["s1 sft --compile"]["tokens"] == [int(t) for t in trl["tokens"]]
    n = min(len(s1["loss"]), len(trl["loss"]), 20)
    for name in ("s1 sft (default options)", "s1 sft --compile"):
        diff = max(abs(a - b) / abs(b) for a, b in zip(first[name]["loss"][:n], trl["loss"][:n], strict=True))
        print(f"{name}: loss curve (first {n} steps) within {diff:.3%} of TRL's")
    print(f"tokens per step {'identical' if same_tokens else 'DIFFER'} across trainers; tok/s over steps 2-"
          f"{args.steps} (the first includes start-up and compilation: see wall s); × TRL is the median of the "
          "rounds' ratios")
    write_json(args.json, rounds, start, steps=args.steps, batch_size=args.batch_size, precision=args.precision,
               repeat=args.repeat)


if __name__ == "__main__":
    main()
