"""Generation over a table: prompts from rows, samples × budget, engine calls in batches, and
output rows in the table contract (thinking, response, token counts, waits, finish)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .engines.base import Engine, Request, Sampling, outcomes
from .errors import ConfigError
from .forcing import Budget, ForcingTokens, Outcome
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

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ConfigError(f"--n must be at least 1, got {self.n}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.driver not in ("auto", "single", "multi"):
            raise ConfigError(f"--driver {self.driver!r}: choose auto, single or multi")


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

    def request(job: Job) -> Request:
        if job.row["id"] not in prompts:
            text = build_prompt(tokenizer, job.row[spec.prompt_column], spec.fmt, system=spec.system)
            prompts[job.row["id"]] = tokenizer(text, add_special_tokens=False)["input_ids"]
        return Request(job.key, prompts[job.row["id"]])

    for group, wanted in _groups(jobs, GROUP_BATCHES * spec.batch_size):
        requests = [request(job) for job in group]
        for index, outcome in outcomes(engine, requests, spec.budget, tokens, spec.sampling, driver,
                                       spec.batch_size):
            job = wanted.get(group[index].key)
            if job is None:  # already written by an earlier run: decoded again only as a companion
                continue
            if on_row:
                on_row(len(outcome.thinking) + len(outcome.response))
            yield output_row(job, outcome, spec, tokenizer)


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


def output_row(job: Job, outcome: Outcome, spec: GenerateSpec, tokenizer: Any) -> Row:
    decode = lambda ids: tokenizer.decode(ids, skip_special_tokens=False)  # noqa: E731
    return {
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
