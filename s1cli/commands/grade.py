"""``s1 grade``: judge attempts against reference answers (rule and LLM judges) and count tokens."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from rich.table import Table

from ..errors import ConfigError, RemoteError, S1Error
from ..grading import (
    Agreement,
    GradePlan,
    Grader,
    agreement,
    cached_ask,
    estimate,
    parse_judges,
    run_batched,
    run_direct,
)
from ..judges import LLMJudge, RuleJudge
from ..llm import api_key
from ..llm.batch import BatchProgress
from ..llm.cache import default_cache_path
from ..llm.client import RetryPolicy
from ..llm.prices import PriceTable
from ..llm.session import LLMSession, SessionOptions
from ..schema import Renames, row_key
from ..table import EXTENSIONS, STDIO, ResumableWriter, display_name, read_rows, table_format, write_table
from ..tokens import load_counter
from . import options
from .ui import info, progress, settings

EXAMPLES = """Examples:

  s1 grade attempts.jsonl graded.jsonl --judge rule --name qwen7b

  s1 grade attempts.parquet graded.parquet --judge anthropic:claude-sonnet-4-5 --judge rule --name qwen32b --max-cost 20

  s1 grade pool.parquet graded.parquet --judge anthropic:claude-sonnet-4-5 --name qwen7b --batch --dry-run

  s1 grade attempts.jsonl graded.jsonl --judge openai:qwen2.5-72b --base-url http://localhost:8000/v1 --name q7

  s1 grade pool.jsonl pool.tokens.jsonl --count-tokens thinking --tokenizer hf:models/tiny
"""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def side_path(dest: str, suffix: str) -> Path:
    """``graded.parquet`` → ``graded.<suffix>``: the files written beside an output."""
    lowered = dest.lower()
    for ext in sorted(EXTENSIONS, key=len, reverse=True):
        if lowered.endswith(ext):
            return Path(dest[: -len(ext)] + "." + suffix)
    return Path(dest + "." + suffix)


def grade(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="IN", help="Table of attempts (.jsonl, .parquet, .csv; - for stdin)."),
    dest: str = typer.Argument(..., metavar="OUT", help="Output table (its extension picks the format; - for stdout)."),
    judge: list[str] = typer.Option(None, "--judge", "-j", metavar="SPEC",
                                    help="rule, anthropic:MODEL or openai:MODEL, optionally LABEL=SPEC (repeatable; "
                                         "the first writes NAME_correct, others NAME_LABEL_correct)."),
    name: str = typer.Option(None, "--name", "-n", help="Whose attempts these are: columns NAME_correct and "
                                                        "NAME_judge (e.g. qwen7b). Needed with --judge."),
    attempt_column: str = typer.Option("response", "--attempt-column", help="Column holding the attempt."),
    reference: str = typer.Option("answer", "--reference",
                                  help="Reference column: answer (a short answer) or solution (a worked solution; "
                                       "the rule judge takes its last \\boxed{})."),
    question_column: str = typer.Option("question", "--question-column", help="Column with the problem (LLM judges)."),
    count_tokens: list[str] = typer.Option(None, "--count-tokens", metavar="COLUMN",
                                           help="Count the tokens of COLUMN into COLUMN_tokens (repeatable)."),
    tokenizer: str = typer.Option("tiktoken:cl100k_base", "--tokenizer",
                                  help="tiktoken:ENCODING or hf:PATH (a tokenizer directory) for --count-tokens."),
    base_url: str = typer.Option(None, "--base-url", help="API base URL for the API judges (a proxy, or an "
                                                          "OpenAI-compatible server such as vLLM)."),
    concurrency: int = typer.Option(16, "--concurrency", "-c", min=1, help="Model calls in flight at once."),
    batch: bool = options.BATCH,
    poll_interval: float = options.POLL_INTERVAL,
    max_cost: float = options.MAX_COST,
    dry_run: bool = options.DRY_RUN,
    max_tokens: int = typer.Option(1024, "--max-tokens", min=16, help="Longest judge reply, in tokens."),
    cache: Path = options.CACHE,
    prices: Path = options.PRICES,
    retries: int = options.RETRIES,
    backoff: float = options.BACKOFF,
    timeout: float = options.TIMEOUT,
    map_: list[str] = options.MAP,
    overwrite: bool = options.OVERWRITE,
) -> None:
    """Judge each attempt against its reference and write NAME_correct / NAME_judge (and token counts).

    Rule judge: answer extraction + math-verify, offline. LLM judges: the model compares the attempt
    with the reference (prompt s1cli/prompts/judge_v1.md) and ends with Yes or No; an unclear reply
    is asked once more, then recorded as null with its text. Every reply is cached, so reruns cost
    nothing; a killed run resumes where it stopped. Beside OUT: OUT-stem.cost.json (usage and cost),
    .llm-log.jsonl (one line per call), .disagreements.EXT (several judges), .batches.json (--batch).
    """
    table_format(dest)
    specs = parse_judges(judge or []) if judge or not count_tokens else []
    if specs and not name:
        raise ConfigError("--name is needed with --judge: it names the columns, e.g. --name qwen7b")
    if name and not _NAME.match(name):
        raise ConfigError(f"--name {name!r}: use letters, digits, _ or - (it becomes a column prefix)")
    refs = [s.ref for s in specs if s.ref is not None]
    if batch:
        if dest == STDIO:
            raise ConfigError("--batch needs an output file (the batch ids are saved beside it), not -")
        if not refs or any(r.backend != "anthropic" for r in refs):
            raise ConfigError("--batch works with anthropic judges only (OpenAI-compatible judges are called directly)")
    counter = load_counter(tokenizer) if count_tokens else None
    judges = [RuleJudge(s.label, solution=reference == "solution") if s.ref is None
              else LLMJudge(s.label, s.ref, max_tokens=max_tokens) for s in specs]
    plan = GradePlan(name or "", judges, attempt_column, reference, question_column, tuple(count_tokens or ()), counter)
    price_table = PriceTable.load(prices)
    if max_cost is not None:
        for ref in refs:
            if price_table.lookup(ref.backend, ref.model) is None:
                raise ConfigError(f"--max-cost: no price for {ref}; add one with --prices FILE, "
                                  f'e.g. {{"{ref}": {{"input": 3.0, "output": 15.0}}}}')
    if not dry_run:
        for ref in refs:
            api_key(ref.backend, base_url=base_url)
    rows = read_rows(source, require=plan.required(), renames=Renames.parse(map_))
    _check_token_columns(source, rows, plan)
    # Nothing is created (cache, log) until the options and the whole input have passed their checks.
    session = LLMSession(SessionOptions(
        cache_path=None if not refs else (cache or default_cache_path()), prices=price_table,
        max_cost=max_cost, retry=RetryPolicy(attempts=retries, base=backoff), timeout=timeout, base_url=base_url,
        log_path=None if dest == STDIO or not refs else side_path(dest, "llm-log.jsonl"), offline=dry_run))
    try:
        clients = {j.label: session.client(j.ref) for j in plan.llm_judges}
        if dry_run:
            _print_estimate(ctx, rows, Grader(plan, {}), clients, batch)
            return
        _run(ctx, source, dest, rows, plan, session, clients, batch=batch, concurrency=concurrency,
             poll_interval=poll_interval, overwrite=overwrite)
    finally:
        session.close()


def _check_token_columns(source: str, rows: list[dict], plan: GradePlan) -> None:
    for column in plan.count_tokens:
        if not any(column in row for row in rows):
            raise ConfigError(f"--count-tokens {column}: no row of {display_name(source)} has a column {column!r}")


def _run(ctx: typer.Context, source: str, dest: str, rows: list[dict], plan: GradePlan, session: LLMSession,
         clients: dict, *, batch: bool, concurrency: int, poll_interval: float, overwrite: bool) -> None:
    writer = ResumableWriter(dest, resume=not overwrite)
    todo = [row for row in rows if not writer.has(row_key(row))]
    if writer.resumed:
        done = len(rows) - len(todo)
        info(ctx, f"resuming: {done:,} of {len(rows):,} rows already in {display_name(dest, writing=True)}")
    written: list[dict] = []
    status, stats = "interrupted", None
    try:
        with writer, progress(ctx, "grading", len(todo)) as advance:
            def write(row: dict) -> None:
                writer.write(row)
                if dest == STDIO:
                    written.append(row)

            if batch:
                runners = {j.label: session.batch_runner(j.ref, side_path(dest, "batches.json"),
                                                         poll_interval=poll_interval,
                                                         on_progress=_batch_reporter(ctx))
                           for j in plan.llm_judges}
                asks = {label: cached_ask(label, clients[label], runners[label]) for label in runners}
                stats = run_batched(todo, Grader(plan, asks), runners, write, advance=advance)
            else:
                asks = {label: client.ask for label, client in clients.items()}
                stats = run_direct(todo, Grader(plan, asks), write, concurrency=concurrency, advance=advance)
        status = "stopped" if stats.stopped else ("incomplete" if stats.failed else "completed")
    except S1Error:
        status = "failed"
        raise
    finally:
        if plan.llm_judges and dest != STDIO:
            session.record_run(side_path(dest, "cost.json"), status=status,
                               details={"rows_graded": stats.graded if stats else None})
        if plan.llm_judges:
            _print_usage(ctx, session)
    info(ctx, f"graded {stats.graded:,} rows into {display_name(dest, writing=True)}")
    if plan.judges:
        graded = written if dest == STDIO else read_rows(dest, unique=False, allow_empty=True)
        _report_accuracy(ctx, graded, plan)
        if len(plan.judges) > 1:
            _report_agreement(ctx, dest, agreement(graded, plan))
    if stats.stopped:
        raise S1Error(f"{stats.stopped}; {len(todo) - stats.graded - stats.failed:,} rows left ungraded; rerun with a "
                      "higher --max-cost to continue (answered rows are cached)")
    if stats.failed:
        raise RemoteError(f"{stats.failed:,} rows not graded ({stats.first_error}); rerun the same command to retry "
                          "them (answered rows are cached)")


def _batch_reporter(ctx: typer.Context):
    last: dict[str, tuple] = {}

    def report(update: BatchProgress) -> None:
        counts = update.status.counts
        shown = (*sorted(counts.items()), update.status.processing_status)
        if last.get(update.batch_id) != shown:
            last[update.batch_id] = shown
            parts = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
            info(ctx, f"batch {update.batch_id}: {update.status.processing_status} ({parts})")

    return report


def _money(value: float | None) -> str:
    return "unknown price" if value is None else f"${value:,.4f}"


def _print_usage(ctx: typer.Context, session: LLMSession) -> None:
    s = settings(ctx)
    if s.quiet:
        return
    table = Table(title="model usage this run")
    for column in ("model", "requests", "batched", "cached", "input tokens", "output tokens", "cost"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for m in session.usage():
        table.add_row(f"{m.backend}:{m.model}", f"{m.requests:,}", f"{m.batch_requests:,}", f"{m.cached:,}",
                      f"{m.input_tokens:,}", f"{m.output_tokens:,}", _money(m.cost_usd))
    s.console.print(table)
    info(ctx, f"cost this run: {_money(session.ledger.total_cost())}")


def _print_estimate(ctx: typer.Context, rows: list[dict], grader: Grader, clients: dict, batch: bool) -> None:
    lines = estimate(rows, grader, clients, batch=batch)
    table = Table(title=f"dry run: {len(rows):,} rows, nothing sent" + (" (batch prices)" if batch else ""))
    for column in ("judge", "model", "calls", "cached", "input tokens (est.)", "cost (input only)",
                   "cost (at most)"):
        table.add_column(column, justify="left" if column in ("judge", "model") else "right")
    for e in lines:
        table.add_row(e.label, e.model, f"{e.calls:,}", f"{e.cached:,}", f"{e.input_tokens:,}", _money(e.cost_low),
                      _money(e.cost_high))
    settings(ctx).console.print(table)
    calls = sum(e.calls for e in lines)
    highs = [e.cost_high for e in lines]
    high = None if None in highs else sum(highs)
    info(ctx, f"would send {calls:,} calls; estimated cost at most {_money(high)} (every reply at --max-tokens; "
              "an unclear verdict adds one follow-up call)")


def _report_accuracy(ctx: typer.Context, rows: list[dict], plan: GradePlan) -> None:
    for judge in plan.judges:
        column = plan.columns(judge.label)[0]
        verdicts = [row.get(column) for row in rows]
        judged = [v for v in verdicts if v is not None]
        share = f" ({sum(judged) / len(judged):.1%})" if judged else ""
        missing = len(verdicts) - len(judged)
        info(ctx, f"{judge.label} ({column}): {sum(judged):,} of {len(judged):,} correct{share}"
                  + (f", {missing:,} without a verdict" if missing else ""))


def _report_agreement(ctx: typer.Context, dest: str, result: Agreement) -> None:
    for pair in result.pairs:
        rate = "n/a" if pair.rate is None else f"{pair.rate:.1%}"
        info(ctx, f"agreement {pair.first} vs {pair.second}: {rate} ({pair.agreed:,} of {pair.compared:,} rows)")
    if dest != STDIO:
        ext = next((e for e in sorted(EXTENSIONS, key=len, reverse=True) if dest.lower().endswith(e)), ".jsonl")
        path = side_path(dest, f"disagreements{ext}")
        write_table(path, result.disagreements)
        info(ctx, f"wrote {len(result.disagreements):,} disagreeing rows to {path}")


def register(app: typer.Typer) -> None:
    app.command("grade", epilog=EXAMPLES)(grade)
