"""Generation over a table: prompts from rows, samples × budget, engine calls in batches, and
output rows in the table contract (thinking, response, token counts, waits, finish)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .engines.base import Engine, Request, Sampling, outcomes
from .errors import ConfigError
from .forcing import FORCED, FORCED_LENGTH, Budget, ForcingTokens, Outcome
from .length_control import BUDGET_FORCING, Instruction, instruction_for, is_forced
from .schema import Row
from .thinking import ThinkingFormat, build_prompt


@dataclass(frozen=True)
class Shard:
    """``--shard i/N``: this job takes the rows whose id hashes to i modulo N (0 ≤ i < N), so N
    jobs' outputs concatenate to the whole."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, spec: str | None) -> Shard:
        if not spec:
            return cls()
        left, sep, right = spec.partition("/")
        try:
            index, count = int(left), int(right)
        except ValueError:
            index, count = -1, 0
        if not sep or count < 1 or not 0 <= index < count:
            raise ConfigError(f"--shard {spec!r}: expected I/N with 0 <= I < N, e.g. --shard 0/4")
        return cls(index, count)

    def holds(self, row_id: str) -> bool:
        if self.count == 1:
            return True
        digest = hashlib.sha1(row_id.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index


@dataclass(frozen=True)
class GenerateSpec:
    model: str
    fmt: ThinkingFormat
    budget: Budget
    sampling: Sampling = field(default_factory=Sampling)
    n: int = 1
    system: str | None = None
    prompt_column: str = "question"
    batch_size: int = 16
    driver: str = "auto"
    # Other ways of controlling length (length_control.py): recorded in every row when set.
    method: str | None = None
    instruction: Instruction | None = None  # the prompt around each question
    max_tries: int = 1  # rejection sampling: draws per sample until the thinking ends within the cap

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ConfigError(f"--n must be at least 1, got {self.n}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.driver not in ("auto", "single", "multi"):
            raise ConfigError(f"--driver {self.driver!r}: choose auto, single or multi")
        if self.max_tries < 1:
            raise ConfigError(f"--max-tries must be at least 1, got {self.max_tries}")
        if self.max_tries > 1 and self.budget.max_thinking_tokens is None:
            raise ConfigError("rejection sampling keeps traces that end within a thinking cap: give one")
        if self.max_tries > 1 and self.sampling.greedy:
            raise ConfigError("rejection sampling draws again until a trace fits: with --temperature 0 every "
                              "draw is the same; set --temperature (e.g. 0.7)")


def with_method(base: GenerateSpec, method: str, *, budget: int | None, num_waits: int | None = None,
                length: str | None = None, step_tokens: int = 1, max_tries: int = 1) -> GenerateSpec:
    """``base`` set to one method's setting (length_control.py): budget forcing caps at ``budget``; the
    prompted methods state it in the prompt (and cap only with +budget-forcing); class-conditional asks
    for ``length``; rejection sampling draws under the cap up to ``max_tries`` times. ``num_waits``
    None keeps the base's."""
    cap = budget if is_forced(method) else None
    waits = base.budget.num_waits if num_waits is None else num_waits
    forced = replace(base, budget=replace(base.budget, max_thinking_tokens=cap, num_waits=waits))
    if method == BUDGET_FORCING:
        return forced
    instruction = instruction_for(method, budget=budget, length=length, step_tokens=step_tokens)
    return replace(forced, method=method, instruction=instruction, max_tries=max_tries)


# Jobs are decoded in fixed groups of this many batches. A sequence's logits change in their last
# bits with the batch it is decoded in (BLAS and attention kernels are chosen by shape), and a
# sampled draw near the boundary between two tokens then picks the other one: so a resumed run
# decodes again the whole group it stopped in, with the same companions, and writes only its
# missing rows. Larger groups drain the batch less often; smaller ones redo less on resume.
GROUP_BATCHES = 4


@dataclass(frozen=True)
class Job:
    row: Row
    sample: int
    # The jobs decoded together with this one (itself included), cut from the whole plan (done
    # jobs too) so they do not depend on what an earlier run wrote; None: the jobs given together.
    group: tuple[Job, ...] | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.row['id']}/{self.sample}"


def plan(rows: Iterable[Row], spec: GenerateSpec, shard: Shard = Shard(), done: set[tuple] | frozenset = frozenset()
         ) -> list[Job]:
    """The (row, sample) pairs still to generate: in this shard and not already in the output.

    Sample-major (every row's sample 0, then sample 1, ...), so a rerun with a larger ``--n``
    finds whole groups of new samples rather than redoing groups that mix old and new."""
    budget = spec.budget.max_thinking_tokens
    held = [row for row in rows if shard.holds(row["id"])]
    every = [Job(row, sample) for sample in range(spec.n) for row in held]
    size = GROUP_BATCHES * spec.batch_size
    todo = []
    for start in range(0, len(every), size):
        group = tuple(every[start:start + size])
        todo += [replace(job, group=group) for job in group if (job.row["id"], job.sample, budget) not in done]
    return todo


def pick_driver(engine: Engine, wanted: str) -> str:
    if wanted == "auto":
        return engine.drivers[0]
    if wanted not in engine.drivers:
        raise ConfigError(f"--driver {wanted}: the {engine.name} engine supports {', '.join(engine.drivers)}")
    return wanted


def generate(engine: Engine, jobs: Sequence[Job], spec: GenerateSpec,
             on_row: Callable[[int], None] | None = None) -> Iterator[Row]:
    """Yield one output row per job as it finishes; ``on_row(tokens)`` reports progress."""
    tokenizer = engine.tokenizer
    tokens = ForcingTokens.build(tokenizer, spec.fmt, spec.budget, engine.eos_ids)
    driver = pick_driver(engine, spec.driver)
    prompts: dict[str, list[int]] = {}

    def request(job: Job, attempt: int = 0) -> Request:
        if job.row["id"] not in prompts:
            question = job.row[spec.prompt_column]
            if spec.instruction is not None:
                question = spec.instruction.apply(question)
            text = build_prompt(tokenizer, question, spec.fmt, system=spec.system)
            prompts[job.row["id"]] = tokenizer(text, add_special_tokens=False)["input_ids"]
        # Each draw of rejection sampling has its own random stream; the first is the plain sample's.
        return Request(job.key if attempt == 0 else f"{job.key}/try-{attempt}", prompts[job.row["id"]])

    for group, wanted in _groups(jobs, GROUP_BATCHES * spec.batch_size):
        if spec.max_tries > 1:
            found = _draw_until_within(engine, [request(job) for job in group], spec, tokens, driver,
                                       lambda index, attempt, group=group: request(group[index], attempt))
        else:
            found = ((index, outcome, 1) for index, outcome in outcomes(
                engine, [request(job) for job in group], spec.budget, tokens, spec.sampling, driver,
                spec.batch_size))
        for index, outcome, tries in found:
            job = wanted.get(group[index].key)
            if job is None:  # already written by an earlier run: decoded again only as a companion
                continue
            if on_row:
                on_row(len(outcome.thinking) + len(outcome.response))
            yield output_row(job, outcome, spec, tokenizer, tries=tries)


def overran(outcome: Outcome) -> bool:
    """Whether a trace's thinking reached the cap (and budget forcing ended it)."""
    return outcome.finish in (FORCED, FORCED_LENGTH)


def _draw_until_within(engine: Engine, requests: list[Request], spec: GenerateSpec, tokens: ForcingTokens,
                       driver: str, retry: Callable[[int, int], Request]) -> list[tuple[int, Outcome, int]]:
    """Rejection sampling over one group: every sequence is drawn under the cap; those whose thinking
    reached it are drawn again (a new random stream each time), together, up to ``max_tries`` draws.
    Returns (index, the last draw, draws made) per sequence, in order. Which sequences are drawn again
    depends only on the group's earlier draws, so a resumed run redraws the same ones."""
    latest: dict[int, Outcome] = {}
    tries: dict[int, int] = {}
    pending = list(range(len(requests)))
    for attempt in range(spec.max_tries):
        batch = [requests[i] if attempt == 0 else retry(i, attempt) for i in pending]
        for position, outcome in outcomes(engine, batch, spec.budget, tokens, spec.sampling, driver, spec.batch_size):
            latest[pending[position]] = outcome
            tries[pending[position]] = attempt + 1
        pending = [i for i in pending if overran(latest[i])]
        if not pending:
            break
    return [(i, latest[i], tries[i]) for i in range(len(requests))]


def _groups(jobs: Sequence[Job], size: int) -> list[tuple[tuple[Job, ...], dict[str, Job]]]:
    """Each group to decode (all its jobs, in plan order) with the jobs wanted from it, by key.
    Jobs planned without a group are grouped as given, ``size`` at a time."""
    found: dict[int, tuple[tuple[Job, ...], dict[str, Job]]] = {}
    loose = [job for job in jobs if job.group is None]
    for start in range(0, len(loose), size):
        chunk = tuple(loose[start:start + size])
        found[id(chunk)] = (chunk, {job.key: job for job in chunk})
    for job in jobs:
        if job.group is not None:
            found.setdefault(id(job.group), (job.group, {}))[1][job.key] = job
    return list(found.values())


def output_row(job: Job, outcome: Outcome, spec: GenerateSpec, tokenizer: Any, *, tries: int = 1) -> Row:
    decode = lambda ids: tokenizer.decode(ids, skip_special_tokens=False)  # noqa: E731
    row = {
        **job.row,
        "model": spec.model,
        "sample": job.sample,
        "budget": spec.budget.max_thinking_tokens,
        "thinking": decode(outcome.thinking),
        "response": decode(outcome.response),
        "thinking_tokens": len(outcome.thinking),
        "response_tokens": len(outcome.response),
        "waits": outcome.waits,
        "finish": outcome.finish,
        "seconds": round(outcome.seconds, 4),
    }
    if spec.method is not None:
        row["method"] = spec.method
    if spec.instruction is not None:
        row["prompt_version"] = spec.instruction.version
    if spec.max_tries > 1:
        # No draw ended its thinking within the cap: the last one's answer was forced, so it is not
        # rejection sampling's answer; the row keeps its thinking and has no answer.
        accepted = not overran(outcome)
        row.update({"tries": tries, "accepted": accepted})
        if not accepted:
            row["response"], row["response_tokens"] = "", 0
    return row
