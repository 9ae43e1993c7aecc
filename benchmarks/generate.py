"""Generation speed with budget forcing on the transformers engine, side by side on the same
prompts and model:

- ``s1 engine``: ``HFEngine`` single pass (cap + waits forced inside one batched decode loop);
- ``s1 multi-round (generate)``: the s1 repository's procedure written with plain
  ``model.generate``: think, stop, append "Wait", re-prefill, continue; then the answer;
- ``plain generate``: ``model.generate`` without forcing, for the same number of new tokens.

Each method runs in its own process so peak memory is its own. Models: the tiny preset and
the ~20M "small" preset, each random; with ``--stopper`` a variant that tries to end thinking
often (so waits really happen), built like the tests' stopper model.

    .venv/bin/python benchmarks/generate.py                 # the issue's setting
    .venv/bin/python benchmarks/generate.py --prompts 16    # quicker
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine_line, parse_args, table, write_json


def build_models(root: Path, stopper: bool) -> dict[str, Path]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from s1cli.thinking import FORMATS, build_prompt
    from s1cli.tiny import build_tiny, spec_for

    models = {}
    for preset in ("tiny", "small"):
        path = build_tiny(root / preset, spec_for(preset))
        models[preset] = path
        if stopper:
            tok = AutoTokenizer.from_pretrained(path)
            model = AutoModelForCausalLM.from_pretrained(path)
            prompt = tok(build_prompt(tok, "What is 2 + 2?", FORMATS["s1"]), add_special_tokens=False)["input_ids"]
            rollout = model.generate(torch.tensor([prompt]), max_new_tokens=256, do_sample=False)[0, len(prompt):]
            # Rarer than the tests' stopper: stop where the model would emit its 5th most common token.
            frequent = Counter(rollout.tolist()).most_common(5)[-1][0]
            head = model.lm_head.weight.detach().clone()
            head[tok.convert_tokens_to_ids("<|im_start|>")] = head[frequent] * 1.5
            model.config.tie_word_embeddings = False
            model.lm_head.weight = torch.nn.Parameter(head)
            out = root / f"{preset}-stopper"
            model.save_pretrained(out)
            tok.save_pretrained(out)
            models[f"{preset}-stopper"] = out
    return models


def prompts_for(tokenizer, count: int) -> list[list[int]]:
    from s1cli.bundled import load_table
    from s1cli.thinking import FORMATS, build_prompt

    rows = load_table("math500")[:count]
    return [tokenizer(build_prompt(tokenizer, r["question"], FORMATS["s1"]), add_special_tokens=False)["input_ids"]
            for r in rows]


def run_engine(path: str, cfg: dict) -> dict:
    from s1cli.engines.base import Request, Sampling
    from s1cli.engines.hf import HFEngine
    from s1cli.forcing import Budget, ForcingTokens
    from s1cli.thinking import FORMATS

    engine = HFEngine.load(path)
    prompts = prompts_for(engine.tokenizer, cfg["prompts"])
    budget = Budget(max_thinking_tokens=cfg["cap"], num_waits=cfg["waits"], max_answer_tokens=cfg["answer"])
    tokens = ForcingTokens.build(engine.tokenizer, FORMATS["s1"], budget, engine.eos_ids)
    began, produced, waits = time.perf_counter(), 0, 0
    requests = [Request(f"p{i}", p) for i, p in enumerate(prompts)]
    # As `s1 generate` runs it: all prompts, cfg["batch"] slots, continuous batching.
    for _, out in engine.stream(requests, budget, tokens, Sampling(), "single", slots=cfg["batch"]):
        produced += len(out.thinking) + len(out.response)
        waits += out.waits
    return {"seconds": time.perf_counter() - began, "tokens": produced, "waits": waits}


def _generate(model, tokenizer, prompts: list[list[int]], max_new: int, stop_ids: list[int]) -> list[list[int]]:
    """Plain batched model.generate (left padding); returns new tokens up to the first stop id."""
    import torch

    width = max(len(p) for p in prompts)
    pad = tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new, do_sample=False,
                         eos_token_id=stop_ids, pad_token_id=pad)[:, width:].tolist()
    trimmed = []
    for row in out:
        cut = next((i for i, t in enumerate(row) if t in stop_ids), None)
        trimmed.append(row if cut is None else row[: cut + 1])
    return trimmed


def run_multi_round(path: str, cfg: dict) -> dict:
    """The s1 repository's loop, batched, with plain model.generate and re-prefill per round."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    prompts = prompts_for(tok, cfg["prompts"])
    im_start, im_end, eot = (tok.convert_tokens_to_ids(t) for t in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"))
    think_stops, wait = [im_start, im_end, eot], tok("Wait", add_special_tokens=False)["input_ids"]
    end = tok("<|im_start|>answer\n", add_special_tokens=False)["input_ids"]
    began, produced, waits = time.perf_counter(), 0, 0
    with torch.inference_mode():
        for start in range(0, len(prompts), cfg["batch"]):
            batch = prompts[start:start + cfg["batch"]]
            thinking = [[] for _ in batch]
            active = list(range(len(batch)))
            for round_index in range(cfg["waits"] + 1):
                if not active:
                    break
                remaining = {i: cfg["cap"] - len(thinking[i]) for i in active}
                active = [i for i in active if remaining[i] > 0]
                if not active:
                    break
                outs = _generate(model, tok, [batch[i] + thinking[i] for i in active], max(remaining.values()),
                                 think_stops)
                still = []
                for i, out in zip(active, outs, strict=True):
                    out = out[: remaining[i]]
                    stopped = bool(out) and out[-1] in think_stops
                    thinking[i] += out[:-1] if stopped else out
                    if stopped and round_index < cfg["waits"] and len(thinking[i]) + len(wait) <= cfg["cap"]:
                        thinking[i] += wait
                        waits += 1
                        still.append(i)
                active = still
            answers = _generate(model, tok, [batch[i] + thinking[i] + end for i in range(len(batch))], cfg["answer"],
                                [im_end, eot])
            produced += sum(len(t) for t in thinking) + sum(len(a) for a in answers)
    return {"seconds": time.perf_counter() - began, "tokens": produced, "waits": waits}


def run_plain(path: str, cfg: dict) -> dict:
    """model.generate without forcing: every sequence decodes cap + answer new tokens."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    prompts = prompts_for(tok, cfg["prompts"])
    began, produced = time.perf_counter(), 0
    with torch.inference_mode():
        for start in range(0, len(prompts), cfg["batch"]):
            batch = prompts[start:start + cfg["batch"]]
            width = max(len(p) for p in batch)
            ids = torch.tensor([[tok.pad_token_id] * (width - len(p)) + p for p in batch])
            mask = (ids != tok.pad_token_id).long()
            new = cfg["cap"] + cfg["answer"]
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new, min_new_tokens=new,
                                 do_sample=False, pad_token_id=tok.pad_token_id)
            produced += (out.shape[1] - width) * len(batch)
    return {"seconds": time.perf_counter() - began, "tokens": produced, "waits": 0}


METHODS = {"s1 engine (single pass)": run_engine, "s1 multi-round (generate)": run_multi_round,
           "plain generate": run_plain}


def _child(name: str, path: str, cfg: dict, queue) -> None:
    import torch

    torch.set_num_threads(cfg["threads"])
    result = METHODS[name](path, cfg)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if torch.cuda.is_available():
        result["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    queue.put(result)


def measure(name: str, path: Path, cfg: dict) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, str(path), cfg, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--cap", type=int, default=512)
    parser.add_argument("--waits", type=int, default=2)
    parser.add_argument("--answer", type=int, default=64)
    parser.add_argument("--models", default="tiny,tiny-stopper,small,small-stopper")
    parser.add_argument("--threads", type=int, default=2)
    args, start = parse_args(parser)
    cfg = {k: getattr(args, k) for k in ("prompts", "batch", "cap", "waits", "answer", "threads")}
    wanted = args.models.split(",")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        models = build_models(Path(tmp), stopper=any(m.endswith("-stopper") for m in wanted))
        for model in wanted:
            row = {}
            for name in METHODS:
                r = measure(name, models[model], cfg)
                r.update(model=model, method=name, tok_per_s=r["tokens"] / r["seconds"])
                results.append(r)
                row[name] = r
                print(f"  {model:14} {name:28} {r['tokens']:>7} tok {r['seconds']:7.1f} s "
                      f"{r['tok_per_s']:8.0f} tok/s waits {r['waits']:>4} peak {r['peak_rss_mb']:6.0f} MB",
                      file=sys.stderr, flush=True)
    print(f"\nbudget forcing, cap {args.cap}, {args.waits} waits, answer {args.answer}, batch {args.batch}, "
          f"{args.prompts} MATH500 prompts, {args.threads} threads, greedy, CPU fp32")
    print(f"{machine_line(start)}\n")
    rows = []
    for r in results:
        base = {x["method"]: x["tok_per_s"] for x in results if x["model"] == r["model"]}
        rows.append((r["model"], r["method"], r["tokens"], f"{r['tok_per_s']:.0f}", r["waits"],
                     f"{r['peak_rss_mb']:.0f}", f"{r['tok_per_s'] / base['s1 multi-round (generate)']:.2f}x",
                     f"{r['tok_per_s'] / base['plain generate']:.2f}x"))
    print(table(["model", "method", "tokens", "tok/s", "waits", "peak MB", "vs multi-round", "vs plain"], rows,
                align="llrrrrrr", markdown=True))
    write_json(args.json, results, start, config=cfg)


if __name__ == "__main__":
    main()
