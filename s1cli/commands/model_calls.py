"""The command side of model calls over rows (``grade``, ``classify-msc``): the API options as one
value, their checks, the session they open, the run with its progress bar, and the tables of usage,
cost and dry-run estimates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.table import Table

from ..errors import ConfigError
from ..llm import api_key
from ..llm.batch import BatchProgress
from ..llm.cache import default_cache_path
from ..llm.client import RetryPolicy
from ..llm.prices import PriceTable
from ..llm.rows import BatchOptions, CallEstimate, RowCalls, RowJob, cap_verdict
from ..llm.session import LLMSession, SessionOptions
from ..refs import ModelRef
from ..schema import Row
from ..table import STDIO, display_name, side_path, split_extension, write_table
from .ui import info, progress, settings


@dataclass(frozen=True)
class ApiOptions:
    """The options every API-model command takes (``options.BATCH`` … ``options.TIMEOUT``)."""

    base_url: str | None = None
    concurrency: int = 16
    batch: bool = False
    poll_interval: float = 30.0
    max_cost: float | None = None
    dry_run: bool = False
    cache: Path | None = None
    prices: Path | None = None
    retries: int = 6
    backoff: float = 1.0
    timeout: float = 120.0

    def check(self, refs: Sequence[ModelRef], dest: str, *, role: str) -> PriceTable:
        """Refuse what cannot work before any row is read; return the price table. ``role`` names the
        models in messages (judges, classifiers)."""
        if self.batch:
            if dest == STDIO:
                raise ConfigError("--message-batches needs an output file (the batch ids are saved beside it), not -")
            if not refs or any(r.backend != "anthropic" for r in refs):
                raise ConfigError(f"--message-batches works with anthropic {role} only (OpenAI-compatible {role} "
                                  "are called directly)")
        prices = PriceTable.load(self.prices)
        if self.max_cost is not None:
            for ref in refs:
                if prices.lookup(ref.backend, ref.model) is None:
                    raise ConfigError(f"--max-cost: no price for {ref}; add one with --prices FILE, "
                                      f'e.g. {{"{ref}": {{"input": 3.0, "output": 15.0}}}}')
        if not self.dry_run:
            for ref in refs:
                api_key(ref.backend, base_url=self.base_url)
        return prices

    def session(self, prices: PriceTable, dest: str) -> LLMSession:
        """The run's cache, ledger, spending cap and request log (``OUT-stem.llm-log.jsonl``). Open it
        only once the options and the whole input have passed their checks: it creates files."""
        return LLMSession(SessionOptions(
            cache_path=self.cache or default_cache_path(), prices=prices, max_cost=self.max_cost,
            retry=RetryPolicy(attempts=self.retries, base=self.backoff), timeout=self.timeout, base_url=self.base_url,
            log_path=None if dest == STDIO else side_path(dest, "llm-log.jsonl"), offline=self.dry_run))


def note_resume(ctx: typer.Context, job: RowJob) -> None:
    if job.resumed:
        info(ctx, f"resuming: {job.resumed:,} of {len(job.rows):,} rows already in "
                  f"{display_name(job.dest, writing=True)}")


def run_calls(ctx: typer.Context, job: RowJob, calls: RowCalls, session: LLMSession, api: ApiOptions, *,
              description: str) -> None:
    """Run ``calls`` over the job's rows with a progress bar; print the usage table even when it fails."""
    note_resume(ctx, job)
    batch = BatchOptions(api.poll_interval, batch_reporter(ctx)) if api.batch else None
    try:
        with job, progress(ctx, description, len(job.todo)) as advance:
            job.call(calls, session, concurrency=api.concurrency, batch=batch, advance=advance)
    finally:
        print_usage(ctx, session)


def batch_reporter(ctx: typer.Context) -> Callable[[BatchProgress], None]:
    """A status line each time a Message Batch's counts change."""
    last: dict[str, tuple] = {}

    def report(update: BatchProgress) -> None:
        counts = update.status.counts
        shown = (*sorted(counts.items()), update.status.processing_status)
        if last.get(update.batch_id) != shown:
            last[update.batch_id] = shown
            parts = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
            info(ctx, f"batch {update.batch_id}: {update.status.processing_status} ({parts})")

    return report


def money(value: float | None) -> str:
    return "unknown price" if value is None else f"${value:,.4f}"


def print_usage(ctx: typer.Context, session: LLMSession) -> None:
    s = settings(ctx)
    if s.quiet:
        return
    table = Table(title="model usage this run")
    for column in ("model", "requests", "batched", "cached", "input tokens", "output tokens", "cost"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for m in session.usage():
        table.add_row(f"{m.backend}:{m.model}", f"{m.requests:,}", f"{m.batch_requests:,}", f"{m.cached:,}",
                      f"{m.input_tokens:,}", f"{m.output_tokens:,}", money(m.cost_usd))
    s.console.print(table)
    info(ctx, f"cost this run: {money(session.ledger.total_cost())}")


def print_estimates(ctx: typer.Context, rows: int, estimates: Sequence[CallEstimate], *, batch: bool,
                    label_column: str | None, follow_up: str, max_cost: float | None = None) -> None:
    """The dry run's table: calls, cache hits, input tokens and cost bounds per model (per label when
    ``label_column`` names them); ``follow_up`` says what may add a call. With a ``--max-cost`` (given,
    else the command's own ``max_cost`` option), one line on whether the cap would stop the run."""
    table = Table(title=f"dry run: {rows:,} rows, nothing sent" + (" (batch prices)" if batch else ""))
    columns = ([label_column] if label_column else []) + ["model", "calls", "cached", "input tokens (est.)",
                                                          "cost (input only)", "cost (at most)"]
    for column in columns:
        table.add_column(column, justify="left" if column in (label_column, "model") else "right")
    for e in estimates:
        table.add_row(*([e.label] if label_column else []), e.model, f"{e.calls:,}", f"{e.cached:,}",
                      f"{e.input_tokens:,}", money(e.cost_low), money(e.cost_high))
    settings(ctx).console.print(table)
    calls = sum(e.calls for e in estimates)
    highs = [e.cost_high for e in estimates]
    high = None if None in highs else sum(highs)
    info(ctx, f"would send {calls:,} calls; estimated cost at most {money(high)} (every reply at --max-tokens; "
              f"{follow_up})")
    # Every command with a dry run names its option max_cost; reading it here gives all of them the line.
    limit = max_cost if max_cost is not None else ctx.params.get("max_cost")
    if limit is not None:
        info(ctx, cap_verdict(estimates, limit))


def write_disagreements(ctx: typer.Context, dest: str, rows: list[Row]) -> None:
    """The rows where two verdicts differ, beside OUT in OUT's format (nothing when OUT is stdout)."""
    if dest == STDIO:
        return
    path = side_path(dest, "disagreements" + (split_extension(dest)[1] or ".jsonl"))
    write_table(path, rows)
    info(ctx, f"wrote {len(rows):,} disagreeing rows to {path}")
