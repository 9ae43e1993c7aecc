"""Speed of `s1 grade`'s parts: the rule judge, token counting, and the client layer against a local
fake API with a fixed reply latency (concurrency scaling, cache hits).

    .venv/bin/python benchmarks/grade.py [--latency 0.05] [--requests 200] [--json out.json]

Prints a table; --json writes the figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine_line, parse_args, rate_table, timed, write_json
from fakes.anthropic_api import KEY, FakeAPI
from s1cli.answers import check
from s1cli.bundled import load_table
from s1cli.judges import LLMJudge
from s1cli.llm import ModelRef
from s1cli.llm.accounting import Ledger, SpendCap
from s1cli.llm.anthropic import AnthropicBackend
from s1cli.llm.cache import ResponseCache
from s1cli.llm.client import Client
from s1cli.llm.prices import PriceTable
from s1cli.tokens import load_counter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per fake API reply")
    parser.add_argument("--requests", type=int, default=200)
    args, start = parse_args(parser)
    rows = load_table("math500")
    results: list[tuple[str, int, float]] = []

    seconds, _ = timed(lambda: [check(r["solution"], r["answer"]) for r in rows])
    results.append(("rule judge, reference solutions (string match)", len(rows), seconds))
    shifted = list(zip(rows, rows[1:] + rows[:1], strict=True))
    seconds, _ = timed(lambda: [check(a["solution"], b["answer"]) for a, b in shifted])
    results.append(("rule judge, mismatched answers (math-verify)", len(rows), seconds))
    counter = load_counter("tiktoken:cl100k_base")
    seconds, _ = timed(lambda: [counter.count(r["solution"]) for r in rows])
    results.append(("tokens, tiktoken cl100k_base", len(rows), seconds))

    judge = LLMJudge("bench", ModelRef("anthropic", "claude-3-5-sonnet-20241022"), max_tokens=64)
    attempts = [(r["question"], r["solution"] + "\n<<yes>>", r["answer"]) for r in rows]
    attempts = (attempts * (args.requests // len(attempts) + 1))[: args.requests]
    attempts = [(q + f" #{i}", a, ref) for i, (q, a, ref) in enumerate(attempts)]
    with FakeAPI() as api, tempfile.TemporaryDirectory() as tmp:
        api.latency = args.latency
        for concurrency in (1, 4, 16):
            prices = PriceTable()
            cache = ResponseCache(Path(tmp) / f"{concurrency}.db")
            client = Client(AnthropicBackend(KEY, base_url=api.url), cache=cache, ledger=Ledger(prices),
                            budget=SpendCap(None, prices))
            n = args.requests if concurrency > 1 else max(20, args.requests // 10)
            work = attempts[:n]
            with ThreadPoolExecutor(concurrency) as pool:
                seconds, _ = timed(lambda c=client, w=work, p=pool: list(p.map(lambda x: judge.judge(*x, c.ask), w)))
            results.append((f"LLM judge, concurrency {concurrency}, {args.latency * 1000:.0f} ms replies", n, seconds))
            if concurrency == 16:
                seconds, _ = timed(lambda c=client, w=work: [judge.judge(*x, c.ask) for x in w])
                results.append(("LLM judge, every reply from the cache", n, seconds))

    print(machine_line(start))
    print(rate_table(results))
    write_json(args.json, [{"what": w, "rows": n, "seconds": s} for w, n, s in results], start)


if __name__ == "__main__":
    main()
