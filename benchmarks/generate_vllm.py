"""Budget forcing on vLLM: throughput of the `vllm:` engine against plain vLLM and the s1 loop.

Run in the vLLM environment (`make install-vllm`), on the same prompts and models, side by side:

    .venv-vllm/bin/python benchmarks/generate_vllm.py [--prompts 64] [--batch-size 16] [--json out.json]

For each model (the tiny preset and a ~20M-parameter random Qwen2, built offline) it measures:

- ``engine single``: `s1 generate`'s library path (``generation.generate``) on the `vllm:` engine,
  single-pass forcing (the default driver): cap 512 thinking tokens, 2 waits;
- ``engine multi``: the same with ``--driver multi``;
- ``plain vLLM``: ``LLM.generate`` without forcing, producing per prompt exactly as many tokens as
  ``engine single`` did (the target: forcing costs at most 10%, ``engine single`` >= 0.9x this);
- ``s1 loop``: the s1 repository's procedure on vLLM written plainly: text prompts, one
  ``generate`` per round, "Wait" appended to traces that stopped, then the answer.

Tokens/s counts thinking plus answer tokens. Peak memory is the largest resident set of this
process and the engine's processes together while a method runs (vLLM preallocates the KV cache:
``VLLM_CPU_KVCACHE_SPACE``, 1 GiB unless set). Each method runs ``--repeats`` times, interleaved
with the others, and the best time is kept, so a busy machine penalises all methods alike.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine_line, parse_args, table, write_json

CAP, WAITS, ANSWER = 512, 2, 64


@dataclass
class Measure:
    model: str
    method: str
    tokens: int
    seconds: float
    peak_gib: float
    waits: int

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds


def children() -> set[int]:
    import psutil

    return {child.pid for child in psutil.Process().children(recursive=True)}


class PeakMemory:
    """Samples the resident memory of this process and the given engine processes."""

    def __init__(self, pids: set[int], interval: float = 0.05) -> None:
        import psutil

        self.processes = [psutil.Process(), *(psutil.Process(pid) for pid in pids)]
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        total = 0
        for proc in self.processes:
            try:
                total += proc.memory_info().rss
            except Exception:  # a child that just exited
                continue
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self._sample())

    def __enter__(self) -> PeakMemory:
        self.peak = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


def s1_loop(llm: Any, tokenizer: Any, prompts: list[str], batch_size: int) -> tuple[int, int]:
    """The s1 repository's budget forcing on vLLM (its README's loop, batched): generate until
    <|im_start|> or <|im_end|> or the budget; append "Wait" and go on, WAITS times; then close
    thinking and generate the answer. Text prompts, re-tokenised by vLLM every round."""
    from vllm import SamplingParams

    stop_think = tokenizer("<|im_start|><|im_end|>", add_special_tokens=False)["input_ids"]
    stop_answer = tokenizer("<|im_end|>", add_special_tokens=False)["input_ids"]
    tokens = waits = 0
    for start in range(0, len(prompts), batch_size):
        texts = list(prompts[start:start + batch_size])
        remaining = [CAP] * len(texts)
        active = list(range(len(texts)))
        for round_index in range(WAITS + 1):
            params = [SamplingParams(max_tokens=remaining[i], stop_token_ids=stop_think, skip_special_tokens=False,
                                     temperature=0.0) for i in active]
            outs = llm.generate([texts[i] for i in active], params, use_tqdm=False)
            still = []
            for i, out in zip(active, outs, strict=True):
                reply = out.outputs[0]
                remaining[i] -= len(reply.token_ids)
                tokens += len(reply.token_ids)
                texts[i] += reply.text
                if reply.finish_reason == "stop" and round_index < WAITS and remaining[i] > 1:
                    texts[i] += "Wait"  # the model tried to stop: extend
                    waits += 1
                    still.append(i)
            active = still
            if not active:
                break
        params = SamplingParams(max_tokens=ANSWER, stop_token_ids=stop_answer, skip_special_tokens=False,
                                temperature=0.0)
        outs = llm.generate([t + "<|im_start|>answer\nFinal Answer:" for t in texts], params, use_tqdm=False)
        tokens += sum(len(out.outputs[0].token_ids) for out in outs)
    return tokens, waits


def bench_model(path: Path, label: str, prompts_n: int, batch_size: int, repeats: int) -> list[Measure]:
    import vllm
    from vllm.inputs import TokensPrompt

    from s1cli.bundled import load_table
    from s1cli.engines.base import Sampling
    from s1cli.engines.vllm import VLLMEngine
    from s1cli.forcing import Budget
    from s1cli.generation import GenerateSpec, Job, generate
    from s1cli.thinking import FORMATS, build_prompt

    rows = load_table("math500")[:prompts_n]
    fmt = FORMATS["s1"]
    budget = Budget(max_thinking_tokens=CAP, num_waits=WAITS, max_answer_tokens=ANSWER, answer_prefix="Final Answer:")
    before = children()
    engine = VLLMEngine.load(str(path), dtype="float32")
    engine_pids = children() - before
    plain = vllm.LLM(model=str(path), dtype="float32", seed=0)  # vLLM as it comes: no logits processor
    plain_pids = children() - before - engine_pids
    tokenizer = engine.tokenizer
    texts = [build_prompt(tokenizer, row["question"], fmt) for row in rows]
    jobs = [Job(row, 0) for row in rows]
    counts: list[int] = []  # tokens per prompt in the engine's single-pass run: plain vLLM makes as many

    def engine_run(driver: str) -> Callable[[], tuple[int, int]]:
        def run() -> tuple[int, int]:
            spec = GenerateSpec(model=f"vllm:{path}", fmt=fmt, budget=budget, sampling=Sampling(), n=1,
                                batch_size=batch_size, driver=driver)
            out = list(generate(engine, jobs, spec))
            if driver == "single" and not counts:
                counts.extend(r["thinking_tokens"] + r["response_tokens"] for r in out)
            return sum(r["thinking_tokens"] + r["response_tokens"] for r in out), sum(r["waits"] for r in out)
        return run

    def plain_run() -> tuple[int, int]:
        made = 0
        for start in range(0, len(texts), batch_size):
            ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts[start:start + batch_size]]
            params = [vllm.SamplingParams(max_tokens=n, min_tokens=n, ignore_eos=True, temperature=0.0,
                                          detokenize=False) for n in counts[start:start + batch_size]]
            outs = plain.generate([TokensPrompt(prompt_token_ids=i) for i in ids], params, use_tqdm=False)
            made += sum(len(o.outputs[0].token_ids) for o in outs)
        return made, 0

    methods: dict[str, Callable[[], tuple[int, int]]] = {
        "engine single": engine_run("single"), "engine multi": engine_run("multi"),
        "plain vLLM": plain_run, "s1 loop": lambda: s1_loop(plain, tokenizer, texts, batch_size)}
    # Warm both engines (first-call costs are not throughput), and fix the token counts.
    methods["engine single"]()
    plain.generate(texts[:2], vllm.SamplingParams(max_tokens=8), use_tqdm=False)
    best: dict[str, Measure] = {}
    for _ in range(repeats):
        for name, method in methods.items():
            with PeakMemory(engine_pids if name.startswith("engine") else plain_pids) as memory:
                began = time.perf_counter()
                tokens, waits = method()
                seconds = time.perf_counter() - began
            measure = Measure(label, name, tokens, seconds, memory.peak / 2**30, waits)
            if name in best:
                measure.peak_gib = max(measure.peak_gib, best[name].peak_gib)
                if best[name].seconds <= seconds:
                    measure = Measure(label, name, tokens, best[name].seconds, measure.peak_gib, waits)
            best[name] = measure
    engine.close()
    plain.llm_engine.engine_core.shutdown()
    return list(best.values())


def build_model(name: str, root: Path) -> tuple[Path, str]:
    """``tiny`` / ``small``: random Qwen2 presets (they never end thinking by themselves, so only
    the cap acts); ``stopper``: the tiny model made to emit <|im_start|> wherever its most
    frequent greedy token was, so it tries to end thinking early and the waits act too."""
    from s1cli.tiny import build_tiny, read_record, spec_for

    path = build_tiny(root / name.replace("stopper", "tiny"), spec_for(name.replace("stopper", "tiny")))
    label = f"{name} {read_record(path)['parameters'] / 1e6:.1f}M"
    if name != "stopper":
        return path, label
    from collections import Counter

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    prompt = tokenizer("<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n<|im_start|>think\n",
                       add_special_tokens=False)["input_ids"]
    rollout = model.generate(torch.tensor([prompt]), max_new_tokens=64, do_sample=False)[0, len(prompt):].tolist()
    (first, _), *_ = Counter(rollout).most_common(1)
    head = model.lm_head.weight.detach().clone()
    head[tokenizer.convert_tokens_to_ids("<|im_start|>")] = head[first] * 1.5
    model.config.tie_word_embeddings = False
    model.lm_head.weight = torch.nn.Parameter(head)
    out = root / name
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out, label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", default="tiny,small,stopper", help="models to build and measure")
    args, start = parse_args(parser)
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

    results: list[Measure] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            path, label = build_model(name, Path(tmp))
            results.extend(bench_model(path, label, args.prompts, args.batch_size, args.repeats))
    print(f"\nbudget forcing on vLLM: {args.prompts} prompts, batch {args.batch_size}, cap {CAP}, {WAITS} waits, "
          f"answer {ANSWER}; best of {args.repeats}")
    print(machine_line(start))
    rows = []
    for m in results:
        plain = next(p for p in results if p.model == m.model and p.method == "plain vLLM")
        rows.append((m.model, m.method, m.tokens, m.waits, f"{m.seconds:.2f}", f"{m.rate:.0f}",
                     f"{m.rate / plain.rate:.2f}x", f"{m.peak_gib:.2f}"))
    print(table(["model", "method", "tokens", "waits", "seconds", "tok/s", "vs plain", "peak GiB"], rows,
                align="llrrrrrr"))
    write_json(args.json, [{**m.__dict__, "tokens_per_s": m.rate} for m in results], start)


if __name__ == "__main__":  # vLLM starts its engine in new processes, which import this file again
    main()
