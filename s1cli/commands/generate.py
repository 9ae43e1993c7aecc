"""``s1 generate``: inference with budget forcing over a table of questions."""

from __future__ import annotations

import time

import typer

from ..engines import load_engine, parse_model_ref
from ..engines.base import Sampling
from ..forcing import Budget
from ..generation import GenerateSpec, Shard, generate, plan
from ..schema import Renames
from ..table import ResumableWriter, read_rows, table_format
from ..thinking import get_format
from . import options
from .ui import info, progress

EXAMPLES = """Examples:

  s1 generate math500.jsonl gens.jsonl --model hf:models/tiny --max-thinking-tokens 512

  s1 generate aime24.jsonl gens.parquet --model hf:simplescaling/s1.1-32B --num-waits 2 --n 4 --temperature 0.7

  s1 generate q.jsonl out.jsonl --model openai:s1 --base-url http://127.0.0.1:8000/v1 --tokenizer models/s1

  s1 generate q.jsonl part0.jsonl --model vllm:Qwen/QwQ-32B --format r1 --max-thinking-tokens 4096 --shard 0/4
"""


def generate_command(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="IN", help="Table of questions (needs id and the prompt column)."),
    dest: str = typer.Argument(..., metavar="OUT", help="Output table: one row per question and sample."),
    model: str = typer.Option(..., "--model", help="hf:PATH_OR_ID, vllm:PATH_OR_ID, or openai:NAME with --base-url."),
    format_: str = options.FORMAT,
    think_start: str = options.THINK_START,
    think_end: str = options.THINK_END,
    max_thinking: int = typer.Option(
        None, "--max-thinking-tokens",
        help="Cap thinking at N tokens, then force its end and the answer (default: no cap)."),
    min_thinking: int = options.MIN_THINKING,
    num_waits: int = typer.Option(0, "--num-waits", help="Extend thinking up to K times when the model tries to stop."),
    wait: str = options.WAIT,
    max_answer: int = options.MAX_ANSWER,
    answer_prefix: str = options.ANSWER_PREFIX,
    n: int = typer.Option(1, "--n", help="Samples per question (column `sample`)."),
    temperature: float = options.TEMPERATURE,
    top_p: float = options.TOP_P,
    seed: int = options.SEED,
    system: str = options.SYSTEM,
    prompt_column: str = typer.Option("question", "--prompt-column", help="Column holding the question."),
    batch_size: int = options.BATCH_SIZE,
    shard: str = typer.Option(None, "--shard", metavar="I/N", help="Take only shard I of N (by hash of id)."),
    driver: str = options.DRIVER,
    dtype: str = options.DTYPE,
    device: str = options.DEVICE,
    base_url: str = options.BASE_URL,
    tokenizer: str = options.TOKENIZER,
    map_: list[str] = options.MAP,
    overwrite: bool = options.OVERWRITE,
) -> None:
    """Generate thinking and an answer for every question, with budget forcing.

    Thinking is capped at --max-thinking-tokens (the end-of-thinking delimiter and answer are
    forced) and extended with --num-waits / --min-thinking-tokens (the delimiter is suppressed
    and the wait string appended), as in the s1 paper. Writes the input columns plus model,
    sample, budget, thinking, response, thinking_tokens, response_tokens, waits, finish
    (stop, length or forced) and seconds. Rerunning resumes: rows already in OUT are skipped.
    """
    parse_model_ref(model)
    table_format(dest)
    spec = GenerateSpec(
        model=model,
        fmt=get_format(format_, start=think_start, end=think_end),
        budget=Budget(max_thinking_tokens=max_thinking, min_thinking_tokens=min_thinking, num_waits=num_waits,
                      wait=wait, max_answer_tokens=max_answer, answer_prefix=answer_prefix),
        sampling=Sampling(temperature=temperature, top_p=top_p, seed=seed),
        n=n, system=system, prompt_column=prompt_column, batch_size=batch_size, driver=driver,
    )
    rows = read_rows(source, require=["id", prompt_column], renames=Renames.parse(map_))
    writer = ResumableWriter(dest, resume=not overwrite)
    jobs = plan(rows, spec, Shard.parse(shard), writer.done)
    if writer.resumed:
        info(ctx, f"resuming: {writer.resumed:,} rows already in {dest}")
    if not jobs:
        with writer:
            info(ctx, f"nothing to generate: all rows are already in {dest}")
        return
    # Loaded before anything is written, so a model that fails to load leaves no output.
    engine = load_engine(model, dtype=dtype, device=device, base_url=base_url, tokenizer=tokenizer)
    began, produced = time.perf_counter(), 0
    try:
        with writer, progress(ctx, "generating", len(jobs)) as advance:
            def on_row(tokens: int) -> None:
                nonlocal produced
                produced += tokens
                advance(1, f"{produced / (time.perf_counter() - began):,.0f} tok/s")

            for row in generate(engine, jobs, spec, on_row):
                writer.write(row)
    finally:
        engine.close()
    elapsed = time.perf_counter() - began
    info(ctx, f"wrote {len(jobs):,} rows to {dest}: {produced:,} tokens in {elapsed:.1f} s "
              f"({produced / max(elapsed, 1e-9):,.0f} tok/s)")


def register(app: typer.Typer) -> None:
    app.command("generate", epilog=EXAMPLES)(generate_command)
