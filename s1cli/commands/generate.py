"""``s1 generate``: inference with budget forcing over a table of questions, on a local engine or a
completions server; or, on hosted chat models, with the API's own thinking budget."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import typer

from ..engines import load_engine, settings_line
from ..engines.base import Sampling
from ..engines.engine_args import vllm_options
from ..errors import ConfigError
from ..forcing import Budget
from ..generation import GenerateSpec, Shard, generate, plan, with_method
from ..hosted_generation import HostedSpec, check_prompts, estimate, generation_calls, hosted_ref, thinking_api
from ..layouts import column_map
from ..length_control import (
    BUDGET_FORCING,
    CLASS,
    LENGTH_CLASSES,
    MAJORITY,
    METHODS,
    REJECTION,
)
from ..llm.prices import PriceTable
from ..llm.rows import RowJob
from ..model_format import format_for_model
from ..refs import ModelRef, parse_model_ref
from ..table import ResumableWriter, display_name, read_rows, table_format
from ..tokens import TokenCounter, load_counter
from . import aliases, options
from .model_calls import ApiOptions, print_estimates, run_calls
from .ui import info, progress

EXAMPLES = """Examples:

  s1 generate math500.jsonl gens.jsonl --model hf:models/tiny --max-thinking-tokens 512

  s1 generate aime24.jsonl gens.parquet --model hf:simplescaling/s1.1-32B --num-waits 2 --n 4 --temperature 0.7

  s1 generate q.jsonl out.jsonl --model openai:s1 --base-url http://127.0.0.1:8000/v1 --tokenizer models/s1

  s1 generate q.jsonl part0.jsonl --model vllm:Qwen/QwQ-32B --format r1 --max-thinking-tokens 4096 --shard 0/4

  s1 generate aime24.jsonl s1.jsonl --model vllm:simplescaling/s1-32B --tensor-parallel-size 8 --max-model-len 32768

  s1 generate aime24.jsonl claude.jsonl --model anthropic:claude-sonnet-4-6 --max-thinking-tokens 8000 --max-cost 5

  s1 generate q.jsonl r1.jsonl --model openai-chat:deepseek-reasoner --base-url https://api.deepseek.com --n 4
"""

MODELS = ("hf", "vllm", "openai", "anthropic", "openai-chat")
# Options that only a local engine or the completions engine (openai:) uses, and the API options
# only hosted models use: given to the other kind, each is one clear error rather than ignored.
ENGINE_ONLY = {"format_": "--format", "think_start": "--think-start", "think_end": "--think-end",
               "wait": "--wait-string", "answer_prefix": "--answer-prefix", "batch_size": "--batch-size",
               "driver": "--driver", "dtype": "--dtype", "device": "--device"}
FORCING_ONLY = {"num_waits": "--num-waits", "min_thinking": "--min-thinking-tokens", "method": "--method",
                "length": "--length", "step_tokens": "--step-tokens", "max_tries": "--max-tries"}
HOSTED_ONLY = {"concurrency": "--concurrency", "batch": "--message-batches", "batch_old": "--batch",
               "poll_interval": "--poll-interval",
               "max_cost": "--max-cost", "dry_run": "--dry-run", "cache": "--cache", "prices": "--prices",
               "retries": "--retries", "backoff": "--backoff", "timeout": "--timeout", "max_tokens": "--max-tokens",
               "reasoning_effort": "--reasoning-effort", "thinking_api_": "--thinking-api"}
DEFAULT_COUNTER = "tiktoken:cl100k_base"


def _with_method(spec: GenerateSpec, method: str, *, length: str | None, step_tokens: int,
                 max_tries: int) -> GenerateSpec:
    """--method on top of the budget options: one setting of one of bench's methods."""
    if method not in METHODS or method == MAJORITY:
        hint = " (majority voting is --n samples, voted on by s1 bench)" if method == MAJORITY else ""
        raise ConfigError(f"--method {method!r}: choose one of {', '.join(m for m in METHODS if m != MAJORITY)}{hint}")
    if (length is not None) != (method == CLASS):
        raise ConfigError("--length short|long goes with --method class-conditional, and it needs one")
    if length is not None and length not in LENGTH_CLASSES:
        raise ConfigError(f"--length {length!r}: choose short or long")
    if method != BUDGET_FORCING and (spec.budget.num_waits or spec.budget.min_thinking_tokens):
        raise ConfigError(f"--method {method}: --num-waits and --min-thinking-tokens are budget forcing's")
    if method not in (BUDGET_FORCING, CLASS) and spec.budget.max_thinking_tokens is None:
        raise ConfigError(f"--method {method} needs --max-thinking-tokens (the budget it states or enforces)")
    return with_method(spec, method, budget=spec.budget.max_thinking_tokens, length=length, step_tokens=step_tokens,
                       max_tries=max_tries if method == REJECTION else 1)


def generate_command(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="IN",
                                 help="Table of questions (needs the question column; ids are derived when missing)."),
    dest: str = typer.Argument(..., metavar="OUT", help="Output table: one row per question and sample."),
    model: str = typer.Option(..., "--model", help="hf:PATH_OR_ID, vllm:PATH_OR_ID, openai:NAME with --base-url (a "
                                                    "completions server), or a hosted chat model: anthropic:MODEL, "
                                                    "openai-chat:MODEL."),
    format_: str = options.FORMAT,
    think_start: str = options.THINK_START,
    think_end: str = options.THINK_END,
    max_thinking: int = typer.Option(
        None, "--max-thinking-tokens",
        help="Cap thinking at N tokens, then force its end and the answer (default: no cap)."),
    min_thinking: int = options.MIN_THINKING,
    num_waits: int = typer.Option(0, "--num-waits", help="Extend thinking up to K times when the model tries to stop."),
    method: str = typer.Option(
        BUDGET_FORCING, "--method", metavar="[" + "|".join(m for m in METHODS if m != MAJORITY) + "]",
        help="How --max-thinking-tokens controls thinking: budget-forcing caps it; token-conditional and "
             "step-conditional state it in the prompt (+budget-forcing: and cap it); class-conditional asks for "
             "--length; rejection-sampling draws under the cap until the thinking ends within it (--max-tries)."),
    length: str = typer.Option(None, "--length", metavar="[short|long]",
                               help="--method class-conditional: ask for short or long thinking."),
    step_tokens: int = options.STEP_TOKENS,
    max_tries: int = options.MAX_TRIES,
    wait: str = options.WAIT,
    max_answer: int = options.MAX_ANSWER,
    answer_prefix: str = options.ANSWER_PREFIX,
    n: int = typer.Option(1, "--n", help="Samples per question (column `sample`)."),
    temperature: float = options.TEMPERATURE,
    top_p: float = options.TOP_P,
    seed: int = options.SEED,
    system: str = options.SYSTEM,
    prompt_column: str = typer.Option("question", "--question-column", help="Column holding the question."),
    prompt_column_old: str = aliases.hidden("--prompt-column"),
    batch_size: int = options.BATCH_SIZE,
    shard: str = typer.Option(None, "--shard", metavar="I/N", help="Take only shard I of N (by hash of id)."),
    driver: str = options.DRIVER,
    dtype: str = options.DTYPE,
    device: str = options.DEVICE,
    tensor_parallel_size: int = options.TENSOR_PARALLEL_SIZE,
    data_parallel_size: int = options.DATA_PARALLEL_SIZE,
    max_model_len: int = options.MAX_MODEL_LEN,
    gpu_memory_utilization: float = options.GPU_MEMORY_UTILIZATION,
    enforce_eager: bool = options.ENFORCE_EAGER,
    engine_arg: list[str] = options.ENGINE_ARG,
    base_url: str = typer.Option(None, "--base-url", help="openai: / openai-chat: the server's base URL, e.g. "
                                                          "http://host:8000/v1; anthropic: a proxy."),
    tokenizer: str = typer.Option(None, "--tokenizer",
                                  help="openai: local tokenizer path or hub id (default: the model name). Hosted "
                                       "models: tiktoken:NAME or hf:PATH, to count the tokens the API does not "
                                       f"report (default {DEFAULT_COUNTER})."),
    max_tokens: int = typer.Option(None, "--max-tokens", help="Hosted: the request's max_tokens, thinking and "
                                                              "answer together (default: --max-thinking-tokens + "
                                                              "--max-answer-tokens)."),
    reasoning_effort: str = typer.Option(None, "--reasoning-effort", metavar="LEVEL",
                                         help="openai-chat: the API's reasoning_effort (e.g. low, medium, high)."),
    thinking_api_: str = typer.Option("auto", "--thinking-api",
                                      help="openai-chat: how --max-thinking-tokens reaches the API: gemini "
                                           "(Google's thinking_config), none, or auto (gemini at Google's endpoint)."),
    concurrency: int = typer.Option(16, "--concurrency", "-c", min=1, help="Hosted: model calls in flight at once."),
    batch: bool = options.BATCH,
    batch_old: bool = options.BATCH_OLD,
    poll_interval: float = options.POLL_INTERVAL,
    max_cost: float = options.MAX_COST,
    dry_run: bool = options.DRY_RUN,
    cache: Path = options.CACHE,
    prices: Path = options.PRICES,
    retries: int = options.RETRIES,
    backoff: float = options.BACKOFF,
    timeout: float = typer.Option(600.0, "--timeout", min=0.1,
                                  help="Hosted: seconds before a model call times out (long thinking takes minutes)."),
    map_: list[str] = options.MAP,
    layout: str = options.LAYOUT,
    overwrite: bool = options.OVERWRITE,
) -> None:
    """Generate thinking and an answer for every question, with budget forcing.

    Thinking is capped at --max-thinking-tokens (the end-of-thinking delimiter and answer are
    forced) and extended with --num-waits / --min-thinking-tokens (the delimiter is suppressed
    and the wait string appended), as in the s1 paper. Writes the input columns plus model,
    sample, budget, thinking, response, thinking_tokens, response_tokens, waits, finish
    (stop, length, forced or forced+length) and seconds. Rerunning resumes: rows already in OUT are skipped.

    Hosted chat models (anthropic:MODEL, openai-chat:MODEL) cannot be forced: --max-thinking-tokens
    becomes the API's own thinking budget (column forcing: api-budget). Their replies are cached,
    retried and priced as grade's are (--message-batches, --max-cost, --dry-run; OUT-stem.cost.json).
    """
    prompt_column = aliases.renamed(prompt_column, prompt_column_old, "--question-column", default="question")
    hosted = hosted_ref(model)
    ref = parse_model_ref(model, MODELS, option="--model",
                          expected=f"BACKEND:NAME with BACKEND one of {', '.join(MODELS)}",
                          example="hf:models/tiny, openai:my-model, anthropic:claude-sonnet-4-6")
    engine_options = vllm_options(ref, tensor_parallel_size=tensor_parallel_size,
                                  data_parallel_size=data_parallel_size, max_model_len=max_model_len,
                                  gpu_memory_utilization=gpu_memory_utilization, enforce_eager=enforce_eager,
                                  engine_args=engine_arg)
    table_format(dest)
    given = options.given(ctx)
    hosted_run = None
    if hosted is not None:
        _refuse(given, model, ENGINE_ONLY, FORCING_ONLY)
        batch = aliases.renamed(batch, batch_old, "--message-batches", default=False)
        api = ApiOptions(base_url=base_url, concurrency=concurrency, batch=batch, poll_interval=poll_interval,
                         max_cost=max_cost, dry_run=dry_run, cache=cache, prices=prices, retries=retries,
                         backoff=backoff, timeout=timeout)
        hosted_spec = HostedSpec(
            model=model, ref=hosted, thinking=thinking_api(hosted, base_url, thinking_api_), budget=max_thinking,
            max_answer_tokens=max_answer, max_tokens=max_tokens, n=n, system=system, prompt_column=prompt_column,
            temperature=temperature if "temperature" in given else None, top_p=top_p if "top_p" in given else None,
            seed=seed if "seed" in given else None, reasoning_effort=reasoning_effort, endpoint=base_url)
        hosted_run = HostedRun(hosted_spec, _counter(tokenizer), api, _checked(api, hosted, dest))
    else:
        _refuse(given, model, HOSTED_ONLY)
        chosen = format_for_model(format_, model, start=think_start, end=think_end, tokenizer=tokenizer)
        spec = GenerateSpec(
            model=model,
            fmt=chosen.fmt,
            budget=Budget(max_thinking_tokens=max_thinking, min_thinking_tokens=min_thinking, num_waits=num_waits,
                          wait=wait, max_answer_tokens=max_answer, answer_prefix=answer_prefix),
            sampling=Sampling(temperature=temperature, top_p=top_p, seed=seed),
            n=n, system=system, prompt_column=prompt_column, batch_size=batch_size, driver=driver,
        )
        spec = _with_method(spec, method, length=length, step_tokens=step_tokens, max_tries=max_tries)
    rows = read_rows(source, require=["id", prompt_column], renames=column_map(map_, layout))
    if hosted_run is not None:
        check_prompts(rows, prompt_column, display_name(source))
        hosted_run.generate(ctx, hosted_run.spec.jobs(rows, Shard.parse(shard).holds), dest, overwrite=overwrite)
        return
    writer = ResumableWriter(dest, resume=not overwrite)
    jobs = plan(rows, spec, Shard.parse(shard), writer.done)
    if writer.resumed:
        info(ctx, f"resuming: {writer.resumed:,} rows already in {dest}")
    if not jobs:
        with writer:
            info(ctx, f"nothing to generate: all rows are already in {dest}")
        return
    # Loaded before anything is written, so a model that fails to load leaves no output.
    engine = load_engine(model, dtype=dtype, device=device, base_url=base_url, tokenizer=tokenizer, **engine_options)
    if "format_" not in given:
        info(ctx, f"thinking format: {chosen.describe()}")
    if line := settings_line(engine):
        info(ctx, line)
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


def _refuse(given: set[str], model: str, other: dict[str, str], forcing: dict[str, str] | None = None) -> None:
    """One error for an option this kind of model does not use, saying what does use it."""
    hosted = hosted_ref(model) is not None
    for name, flag in (forcing or {}).items():
        if name in given:
            raise ConfigError(f"{flag}: {model} is a hosted API, whose thinking can only be capped by its own budget "
                              "(--max-thinking-tokens); to extend or force thinking exactly use --model openai:NAME "
                              "with --base-url (a completions server), hf: or vllm:")
    for name, flag in other.items():
        if name in given:
            where = ("local engines and openai: completions servers (hf:, vllm:, openai:)" if hosted
                     else "hosted chat models (anthropic:MODEL, openai-chat:MODEL)")
            raise ConfigError(f"{flag} applies to {where}, not {model}")


def _checked(api: ApiOptions, ref: ModelRef, dest: str) -> PriceTable:
    """The API options' checks (key, batch, prices) for a generating model; the key check names
    judges (its first users), here it is the model."""
    try:
        return api.check([ref], dest, role="models")
    except ConfigError as exc:
        raise ConfigError(str(exc).replace(" judge needs an API key", " model needs an API key", 1)) from None


def _counter(spec: str | None) -> TokenCounter:
    """The tokenizer that counts thinking and answer tokens a hosted API does not report; a bare path
    (the openai: engine's form) is a Hugging Face tokenizer directory."""
    spec = spec or DEFAULT_COUNTER
    return load_counter(spec if spec.startswith(("tiktoken:", "hf:")) else f"hf:{spec}")


@dataclass(frozen=True)
class HostedRun:
    """A generation on a hosted model, checked and ready: run through the client layer as grade's judges are."""

    spec: HostedSpec
    counter: TokenCounter
    api: ApiOptions
    prices: PriceTable

    def generate(self, ctx: typer.Context, rows: list[dict], dest: str, *, overwrite: bool) -> None:
        """Every (row, sample) still missing from OUT, or with --dry-run what that would send and cost."""
        spec, api = self.spec, self.api
        job = RowJob(rows, dest, overwrite=overwrite, done="generated", undone="ungenerated")
        if api.dry_run:
            self._estimate(ctx, job)
            return
        session = api.session(self.prices, dest)
        try:
            run_calls(ctx, job, generation_calls(spec, self.counter), session, api, description="generating")
        finally:
            session.close()
        budget = f", thinking budget {spec.budget:,}" if spec.budget is not None else ""
        info(ctx, f"wrote {job.stats.done:,} rows to {display_name(dest, writing=True)} ({spec.model}, forcing "
                  f"{spec.forcing}{budget})")
        job.raise_if_incomplete()

    def _estimate(self, ctx: typer.Context, job: RowJob) -> None:
        session = self.api.session(self.prices, job.dest)
        try:
            entry = estimate(job.todo, self.spec, session.client(self.spec.ref), batch=self.api.batch)
        finally:
            session.close()
        if job.resumed:
            info(ctx, f"{job.resumed:,} of {len(job.rows):,} rows are already in "
                      f"{display_name(job.dest, writing=True)}")
        print_estimates(ctx, len(job.todo), [entry], batch=self.api.batch, label_column=None,
                        follow_up="thinking counts as output; nothing is asked twice")


def register(app: typer.Typer) -> None:
    app.command("generate", epilog=EXAMPLES)(generate_command)
