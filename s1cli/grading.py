"""The grading pipeline behind ``s1 grade``: several judges per row, token counts, direct or batched
model calls, the agreement audit and the dry-run estimate.

Each judge writes ``<name>_correct`` and ``<name>_judge``; the first judge owns those names and each
further judge writes ``<name>_<label>_correct`` / ``_judge``, so adding an audit judge never changes
the columns later steps read. Rule judges and token counts run in the calling (main) thread; LLM
judges run in a thread pool (direct calls) or in rounds of Message Batches. A row is written only
when every judge has an answer; a row whose model call failed is left out, for a rerun to pick up
(its paid replies are cached).
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .judges import Ask, JudgeResult, LLMJudge, RuleJudge
from .llm import ModelRef, parse_model_ref
from .llm.accounting import BudgetExceeded, estimate_input_tokens
from .llm.base import Request, Response
from .llm.batch import BatchRunner
from .llm.client import Client, RequestFailed
from .schema import KEY_COLUMNS, Row
from .tokens import TokenCounter

Judge = RuleJudge | LLMJudge
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class JudgeSpec:
    label: str
    ref: ModelRef | None  # None: the rule judge


def parse_judges(specs: Iterable[str]) -> list[JudgeSpec]:
    """``rule``, ``anthropic:MODEL``, ``openai:MODEL``, each optionally ``LABEL=...`` (default labels:
    rule, anthropic, openai)."""
    judges: list[JudgeSpec] = []
    for spec in specs:
        label, sep, rest = spec.partition("=")
        if not sep:
            label, rest = "", spec
        rest = rest.strip()
        ref = None if rest == "rule" else parse_model_ref(rest, option="--judge")
        label = label.strip() or (ref.backend if ref else "rule")
        if not _LABEL.match(label):
            raise ConfigError(f"--judge {spec!r}: a label must be letters, digits, _ or -")
        if any(j.label == label for j in judges):
            raise ConfigError(f"--judge {spec!r}: two judges are labelled {label!r}; name them, "
                              f"e.g. --judge sonnet={rest}")
        judges.append(JudgeSpec(label, ref))
    if not judges:
        raise ConfigError("give at least one --judge (rule, anthropic:MODEL or openai:MODEL) or --count-tokens")
    return judges


@dataclass
class GradePlan:
    name: str
    judges: list[Judge]
    attempt_column: str = "response"
    reference_column: str = "answer"
    question_column: str = "question"
    count_tokens: tuple[str, ...] = ()
    counter: TokenCounter | None = None

    def columns(self, label: str) -> tuple[str, str]:
        prefix = self.name if self.judges and label == self.judges[0].label else f"{self.name}_{label}"
        return f"{prefix}_correct", f"{prefix}_judge"

    @property
    def llm_judges(self) -> list[LLMJudge]:
        return [j for j in self.judges if isinstance(j, LLMJudge)]

    def required(self) -> list[str]:
        columns = []
        if self.judges:
            columns += [self.attempt_column, self.reference_column]
        if self.llm_judges:
            columns.append(self.question_column)
        return columns

    def output_columns(self) -> list[str]:
        columns = [c for j in self.judges for c in self.columns(j.label)]
        return columns + [f"{c}_tokens" for c in self.count_tokens]


class Pending(Exception):
    """A reply that is not in the cache yet (batch mode): the request to submit."""

    def __init__(self, label: str, key: str, request: Request) -> None:
        super().__init__(label)
        self.items = [(label, key, request)]


class Grader:
    def __init__(self, plan: GradePlan, asks: dict[str, Ask]) -> None:
        self.plan = plan
        self.asks = asks

    def _texts(self, row: Row) -> tuple[str, str, str]:
        plan = self.plan
        return (str(row.get(plan.question_column) or ""), str(row.get(plan.attempt_column) or ""),
                str(row.get(plan.reference_column) or ""))

    def llm_part(self, row: Row) -> dict[str, JudgeResult]:
        """Every LLM judge's verdict for ``row`` (thread-safe). Raises Pending with every missing reply."""
        question, attempt, reference = self._texts(row)
        results, pending = {}, None
        for judge in self.plan.llm_judges:
            try:
                results[judge.label] = judge.judge(question, attempt, reference, self.asks[judge.label])
            except Pending as exc:
                pending = exc if pending is None else pending
                if exc is not pending:
                    pending.items += exc.items
        if pending is not None:
            raise pending
        return results

    def finish(self, row: Row, llm: dict[str, JudgeResult]) -> Row:
        """The output row: rule verdicts (main thread), LLM verdicts and token counts added."""
        _, attempt, reference = self._texts(row)
        out = dict(row)
        for judge in self.plan.judges:
            result = llm[judge.label] if isinstance(judge, LLMJudge) else judge.judge(attempt, reference)
            correct_column, judge_column = self.plan.columns(judge.label)
            out[correct_column], out[judge_column] = result.correct, result.detail
        for column in self.plan.count_tokens:
            value = row.get(column)
            out[f"{column}_tokens"] = self.plan.counter.count(value) if isinstance(value, str) else None
        return out


@dataclass
class RunStats:
    graded: int = 0
    failed: int = 0
    first_error: str | None = None
    stopped: str | None = None  # why the run stopped early (--max-cost)

    def fail(self, exc: Exception) -> None:
        self.failed += 1
        self.first_error = self.first_error or str(exc)


def run_direct(rows: Iterable[Row], grader: Grader, write: Callable[[Row], None], *, concurrency: int,
               advance: Callable[[int], None] = lambda n: None) -> RunStats:
    """Grade rows with direct model calls, ``concurrency`` at a time, writing them in input order."""
    stats = RunStats()
    if not grader.plan.llm_judges:
        for row in rows:
            write(grader.finish(row, {}))
            stats.graded += 1
            advance(1)
        return stats
    return run_in_order(rows, grader.llm_part, lambda row, llm: write(grader.finish(row, llm)), stats,
                        concurrency=concurrency, advance=advance, name="s1-grade")


def settle(row: Row, result: Callable[[], Any], finish: Callable[[Row, Any], None], stats: RunStats,
           advance: Callable[[int], None]) -> None:
    """Finish ``row`` with ``result()``, or count its failed call (a rerun retries it): either way the
    row is done. Pending and BudgetExceeded pass through to the run loop."""
    try:
        value = result()
    except RequestFailed as exc:
        stats.fail(exc)
        advance(1)
        return
    finish(row, value)
    stats.graded += 1
    advance(1)


def run_in_order(rows: Iterable[Row], work: Callable[[Row], Any], finish: Callable[[Row, Any], None],
                 stats: RunStats, *, concurrency: int, advance: Callable[[int], None], name: str) -> RunStats:
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
            except BudgetExceeded as exc:
                stats.stopped = stats.stopped or str(exc)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
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


def run_batched(rows: Iterable[Row], grader: Grader, runners: dict[str, BatchRunner], write: Callable[[Row], None],
                *, advance: Callable[[int], None] = lambda n: None, max_rounds: int = 8) -> RunStats:
    """Grade rows in rounds of Message Batches, one batch per judge a round (``run_in_rounds``); a retry
    of an unclear verdict takes one more round."""
    return run_in_rounds(rows, grader.llm_part, lambda row, llm: write(grader.finish(row, llm)), runners.__getitem__,
                         RunStats(), advance=advance, max_rounds=max_rounds)


def run_in_rounds(rows: Iterable[Row], work: Callable[[Row], Any], finish: Callable[[Row, Any], None],
                  runner_for: Callable[[str], BatchRunner], stats: RunStats, *, advance: Callable[[int], None],
                  max_rounds: int = 8) -> RunStats:
    """Batch mode's ``run_in_order``: each round runs ``work`` on the rows still waiting; a row whose
    replies are all cached is finished (in input order), one with replies missing raises Pending
    and waits, and every missing reply goes into one Message Batch per label (``runner_for(label)``) before the
    next round. A spent budget stops after the round; rows still waiting then are counted failed."""
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
            except BudgetExceeded as exc:
                stats.stopped = str(exc)
    for _ in remaining:
        if not stats.stopped:
            stats.fail(RequestFailed("no reply after the batch rounds"))
    return stats


# ------------------------------------------------------------------------------------------ audit


@dataclass
class PairAgreement:
    first: str
    second: str
    compared: int  # rows where both judges gave a verdict
    agreed: int

    @property
    def rate(self) -> float | None:
        return self.agreed / self.compared if self.compared else None


@dataclass
class Agreement:
    pairs: list[PairAgreement] = field(default_factory=list)
    disagreements: list[Row] = field(default_factory=list)


def agreement(rows: Iterable[Row], plan: GradePlan) -> Agreement:
    """Agreement of every pair of judges, and the rows where any two verdicts differ."""
    labels = [j.label for j in plan.judges]
    columns = {label: plan.columns(label) for label in labels}
    pairs = {(a, b): PairAgreement(a, b, 0, 0) for i, a in enumerate(labels) for b in labels[i + 1:]}
    result = Agreement(list(pairs.values()))
    keep = [*KEY_COLUMNS, plan.question_column, plan.reference_column, plan.attempt_column]
    for row in rows:
        verdicts = {label: row.get(columns[label][0]) for label in labels}
        differ = False
        for (a, b), pair in pairs.items():
            if verdicts[a] is None or verdicts[b] is None:
                continue
            pair.compared += 1
            if verdicts[a] == verdicts[b]:
                pair.agreed += 1
            else:
                differ = True
        if differ:
            audit = {c: row[c] for c in keep if c in row}
            for label in labels:
                audit.update({c: row.get(c) for c in columns[label]})
            result.disagreements.append(audit)
    return result


# ------------------------------------------------------------------------------------------ dry run


@dataclass
class CallEstimate:
    label: str
    model: str
    calls: int = 0  # requests a run would send (first tries; an unclear verdict adds one more)
    cached: int = 0
    input_tokens: int = 0
    output_tokens_max: int = 0
    cost_low: float | None = 0.0  # input only
    cost_high: float | None = 0.0  # every reply at --max-tokens

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
        self.cost_low = None if low is None or self.cost_low is None else self.cost_low + low
        self.cost_high = None if high is None or self.cost_high is None else self.cost_high + high


def estimate(rows: Iterable[Row], grader: Grader, clients: dict[str, Client], *, batch: bool) -> list[CallEstimate]:
    """What grading ``rows`` would send, and cost, without sending anything."""
    plan = grader.plan
    estimates = {j.label: CallEstimate(j.label, str(j.ref)) for j in plan.llm_judges}
    for row in rows:
        question, attempt, reference = grader._texts(row)
        if not attempt.strip():
            continue
        for judge in plan.llm_judges:
            estimates[judge.label].add(judge.request(question, attempt, reference), clients[judge.label], judge.ref,
                                       batch=batch)
    return list(estimates.values())
