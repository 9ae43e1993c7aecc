"""Model calls over table rows: the one runner behind ``grade``, ``classify-msc`` (and any command
that asks a model something about every row).

A command describes its calls as ``RowCalls``: which models it asks (one label each), the
per-row work given one ``ask`` per label, and how a row's result becomes its output row. A
``RowJob`` owns the rest: the rows a resumed output still lacks, direct calls ``concurrency`` at a
time or rounds of Message Batches, the rows kept for the report when writing to stdout, the run's
usage and cost in ``OUT-stem.cost.json`` (provisional while it runs, final at its end; see
``cost_record``), and the stop/fail errors that tell the user to rerun. Direct calls write rows in
input order, batches round by round; a row whose call failed is left out (its paid replies are
cached), so rerunning the same command finishes the job.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RemoteError, S1Error
from ..refs import ModelRef
from ..schema import Row, row_key
from ..table import STDIO, ResumableWriter, read_rows, side_path
from .accounting import SpendCapReached, estimate_input_tokens
from .base import Request, Response
from .batch import BatchProgress, BatchRunner
from .client import Client, RequestFailed
from .session import LLMSession

Ask = Callable[[Request], Response]
Advance = Callable[[int], None]


@dataclass
class RunStats:
    done: int = 0
    failed: int = 0
    first_error: str | None = None
    stopped: str | None = None  # why the run stopped early (--max-cost)

    def fail(self, exc: Exception) -> None:
        self.failed += 1
        self.first_error = self.first_error or str(exc)

    @property
    def status(self) -> str:
        return "stopped" if self.stopped else ("incomplete" if self.failed else "completed")


class Pending(Exception):
    """A reply that is not in the cache yet (batch mode): the requests to submit."""

    def __init__(self, label: str, key: str, request: Request) -> None:
        super().__init__(label)
        self.items = [(label, key, request)]

    def merge(self, other: Pending | None) -> Pending:
        """One Pending carrying both sets of requests, so a row asking several models waits once."""
        if other is not None and other is not self:
            self.items += other.items
        return self


def settle(row: Row, result: Callable[[], Any], finish: Callable[[Row, Any], None], stats: RunStats,
           advance: Advance) -> None:
    """Finish ``row`` with ``result()``, or count its failed call (a rerun retries it): either way the
    row is done. Pending and SpendCapReached pass through to the run loop."""
    try:
        value = result()
    except RequestFailed as exc:
        stats.fail(exc)
        advance(1)
        return
    finish(row, value)
    stats.done += 1
    advance(1)


def run_in_order(rows: Iterable[Row], work: Callable[[Row], Any], finish: Callable[[Row, Any], None],
                 stats: RunStats, *, concurrency: int, advance: Advance, name: str) -> RunStats:
    """Run ``work`` on rows ``concurrency`` at a time and ``finish`` each in input order. A row
    whose call failed is counted and skipped (a rerun retries it); a spent budget stops the run
    after the calls already in flight."""
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=name)
    window: deque = deque()
    source = iter(rows)
    try:
        while True:
            while stats.stopped is None and len(window) < 2 * concurrency:
                row = next(source, None)
                if row is None:
                    break
                window.append((row, pool.submit(work, row)))
            if not window:
                break
            row, future = window.popleft()
            try:
                settle(row, future.result, finish, stats, advance)
            except SpendCapReached as exc:
                stats.stopped = stats.stopped or str(exc)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return stats


def run_in_rounds(rows: Iterable[Row], work: Callable[[Row], Any], finish: Callable[[Row, Any], None],
                  runner_for: Callable[[str], BatchRunner], stats: RunStats, *, advance: Advance,
                  max_rounds: int = 8) -> RunStats:
    """Batch mode's ``run_in_order``: each round runs ``work`` on the rows still waiting; a row whose
    replies are all cached is finished (in input order), one with replies missing raises Pending
    and waits, and every missing reply goes into one Message Batch per label (``runner_for(label)``)
    before the next round. A follow-up question (an unclear verdict, an invalid code) takes one more
    round. A spent budget stops after the round; rows still waiting then are counted failed."""
    remaining = list(rows)
    for _ in range(max_rounds + 1):
        waiting: dict[str, dict[str, Request]] = defaultdict(dict)
        still = []
        for row in remaining:
            try:
                settle(row, lambda row=row: work(row), finish, stats, advance)
            except Pending as exc:
                for label, key, request in exc.items:
                    waiting[label][key] = request
                still.append(row)
        remaining = still
        if not remaining or stats.stopped:
            break
        for label, requests in waiting.items():
            try:
                runner_for(label).run(requests)
            except SpendCapReached as exc:
                stats.stopped = str(exc)
    for _ in remaining:
        if not stats.stopped:
            stats.fail(RequestFailed("no reply after the batch rounds"))
    return stats


def cached_ask(label: str, client: Client, runner: BatchRunner) -> Ask:
    """Batch mode: a reply from the cache, or Pending (submit it), or the batch's recorded failure."""

    def ask(request: Request) -> Response:
        hit = client.cached(request)
        if hit is not None:
            return hit
        key = client.key(request)
        if key in runner.failures:
            raise RequestFailed(f"{label}: {runner.failures[key]}")
        raise Pending(label, key, request)

    return ask


# ------------------------------------------------------------------------------------------ jobs


@dataclass
class RowCalls:
    """What a command asks a model about each row."""

    models: Mapping[str, ModelRef]  # label → model; each label has its own ask (and its own Message Batch)
    work: Callable[[Mapping[str, Ask]], Callable[[Row], Any]]  # the per-row call, given one ask per label;
    # thread-safe, and raising Pending for replies not cached yet in batch mode
    finish: Callable[[Row, Any], Row]  # the output row from the input row and the call's result
    thread_name: str = "s1-calls"


@dataclass(frozen=True)
class BatchOptions:
    poll_interval: float
    on_progress: Callable[[BatchProgress], None] | None = None


@dataclass
class RowJob:
    """A pass over a table's rows into a resumable output table. ``done``/``undone`` name the work
    in messages ("graded"/"ungraded"); ``details_key`` names the row count in the cost record."""

    rows: Sequence[Row]
    dest: str
    overwrite: bool = False
    done: str = "processed"
    undone: str = "unprocessed"
    writer: ResumableWriter = field(init=False)
    todo: list[Row] = field(init=False)
    resumed: int = field(init=False)  # rows already in the output from an earlier run
    stats: RunStats = field(init=False, default_factory=RunStats)
    _written: list[Row] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.writer = ResumableWriter(self.dest, resume=not self.overwrite)
        self.todo = [row for row in self.rows if not self.writer.has(row_key(row))]
        self.resumed = len(self.rows) - len(self.todo) if self.writer.resumed else 0

    def __enter__(self) -> RowJob:
        self.writer.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.writer.__exit__(*exc)

    def write(self, row: Row) -> None:
        self.writer.write(row)
        if self.dest == STDIO:  # stdout cannot be read back for the end-of-run report
            self._written.append(row)

    def output(self) -> list[Row]:
        """Every row of the output, this run's and earlier runs' (after the job's ``with`` block)."""
        return self._written if self.dest == STDIO else read_rows(self.dest, unique=False, allow_empty=True)

    def side_path(self, suffix: str) -> Path | None:
        """A file beside the output (``graded.cost.json``); None when writing to stdout."""
        return None if self.dest == STDIO else side_path(self.dest, suffix)

    def each(self, make: Callable[[Row], Row], advance: Advance = lambda n: None) -> RunStats:
        """Work that calls no model (a rule judge, the offline classifier): each row still to do
        written as ``make`` returns it."""
        for row in self.todo:
            self.write(make(row))
            self.stats.done += 1
            advance(1)
        return self.stats

    def call(self, calls: RowCalls, session: LLMSession, *, concurrency: int, batch: BatchOptions | None = None,
             advance: Advance = lambda n: None) -> RunStats:
        """Run ``calls`` over the rows still to do, writing each finished row; append the run's usage
        and cost (with its status: completed, incomplete, stopped, failed or interrupted) to
        ``OUT-stem.cost.json``."""

        cost_path = self.side_path("cost.json")

        def finish(row: Row, result: Any) -> None:
            self.write(calls.finish(row, result))
            if cost_path is not None:  # a provisional entry now and then, so a killed run leaves a record
                session.checkpoint(cost_path, details={f"rows_{self.done}": self.stats.done + 1})

        status = "interrupted"
        try:
            if batch is not None:
                runners = {label: session.batch_runner(ref, side_path(self.dest, "batches.json"),
                                                       poll_interval=batch.poll_interval,
                                                       on_progress=batch.on_progress)
                           for label, ref in calls.models.items()}
                asks = {label: cached_ask(label, session.client(ref), runners[label])
                        for label, ref in calls.models.items()}
                run_in_rounds(self.todo, calls.work(asks), finish, runners.__getitem__, self.stats, advance=advance)
            else:
                asks = {label: session.client(ref).ask for label, ref in calls.models.items()}
                run_in_order(self.todo, calls.work(asks), finish, self.stats, concurrency=concurrency,
                             advance=advance, name=calls.thread_name)
            status = self.stats.status
        except S1Error:
            status = "failed"
            raise
        finally:
            if cost_path is not None:
                session.record_run(cost_path, status=status, details={f"rows_{self.done}": self.stats.done})
        return self.stats

    def raise_if_incomplete(self) -> None:
        """Tell the user how to finish: a higher --max-cost, or the same command again."""
        stats = self.stats
        if stats.stopped:
            left = len(self.todo) - stats.done - stats.failed
            raise S1Error(f"{stats.stopped}; {left:,} rows left {self.undone}; rerun with a higher --max-cost to "
                          "continue (answered rows are cached)")
        if stats.failed:
            raise RemoteError(f"{stats.failed:,} rows not {self.done} ({stats.first_error}); rerun the same command "
                              "to retry them (answered rows are cached)")


# ------------------------------------------------------------------------------------------ dry run


def cap_verdict(estimates: Sequence[CallEstimate], limit: float) -> str:
    """What ``--max-cost limit`` would do to the estimated run, in one line. The cap reserves each call's
    worst case before sending it (``SpendCap``), so a first call whose worst case passes the limit is
    never sent; an input cost alone above the limit means the run cannot finish."""
    firsts = [e.first_call_high for e in estimates if e.calls and e.first_call_high is not None]
    low, high = _total([e.cost_low for e in estimates]), _total([e.cost_high for e in estimates])
    cap = f"--max-cost {limit:g}"
    if firsts and max(firsts) > limit:
        return (f"{cap} would stop the run at once: its first call could cost up to ${max(firsts):,.4f} (estimated "
                "input plus --max-tokens of output), so nothing would be sent")
    if low is not None and low > limit:
        return (f"{cap} would stop the run before the end: the input alone is estimated at ${low:,.4f} (rows "
                "answered before the cap are kept; a rerun with a higher --max-cost continues)")
    if high is not None and high > limit:
        return f"{cap} may stop the run before the end: replies at --max-tokens would cost up to ${high:,.4f}"
    return f"{cap} covers every call at its most ({'an unknown cost' if high is None else f'${high:,.4f}'})"


def _total(costs: Sequence[float | None]) -> float | None:
    """The sum, or None when any cost is unknown."""
    return None if None in costs else sum(c for c in costs if c is not None)


@dataclass
class CallEstimate:
    label: str
    model: str
    calls: int = 0  # requests a run would send (first tries; a follow-up question adds one more)
    cached: int = 0
    input_tokens: int = 0
    output_tokens_max: int = 0
    cost_low: float | None = 0.0  # input only
    cost_high: float | None = 0.0  # every reply at --max-tokens
    first_call_high: float | None = None  # the first call's worst case: what --max-cost reserves before sending it

    def add(self, request: Request, client: Client, ref: ModelRef, *, batch: bool) -> None:
        """Count one request a run would make: a cache hit, or a call with its input tokens and cost
        bounds (a cost unknown for one call makes the total unknown)."""
        if client.cache is not None and client.key(request) in client.cache:
            self.cached += 1
            return
        self.calls += 1
        tokens = estimate_input_tokens(request)
        self.input_tokens += tokens
        self.output_tokens_max += request.max_tokens
        prices = client.ledger.prices
        low = prices.cost(ref.backend, ref.model, tokens, 0, batch=batch)
        high = prices.cost(ref.backend, ref.model, tokens, request.max_tokens, batch=batch)
        if self.calls == 1:
            self.first_call_high = high
        self.cost_low = None if low is None or self.cost_low is None else self.cost_low + low
        self.cost_high = None if high is None or self.cost_high is None else self.cost_high + high
