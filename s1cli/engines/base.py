"""The engine protocol and what engines share: model references, sampling, seeding."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..errors import ConfigError
from ..forcing import Budget, Continuation, ForcingTokens, Outcome
from ..refs import ModelRef
from ..refs import parse_model_ref as parse_ref

BACKENDS = ("hf", "vllm", "openai")


def parse_model_ref(spec: str) -> ModelRef:
    """A generating model: ``hf:models/tiny`` → ModelRef("hf", "models/tiny")."""
    return parse_ref(spec, BACKENDS, option="--model",
                     expected=f"BACKEND:NAME with BACKEND one of {', '.join(BACKENDS)}",
                     example="hf:models/tiny, vllm:Qwen/Qwen2.5-0.5B-Instruct, openai:my-model")


@dataclass(frozen=True)
class Sampling:
    """Decoding parameters; temperature 0 is greedy. Each sequence draws from its own random
    stream seeded by (seed, its key), so the draws do not depend on batching or sharding (the
    logits can, in their last bits: see ``generation.GROUP_BATCHES``)."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ConfigError(f"--temperature must be 0 or more, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"--top-p must be in (0, 1], got {self.top_p}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def draw(logits: Any, uniforms: Sequence[float], sampling: Sampling) -> list[int]:
    """One token per row of ``logits`` (n, vocab): from ``softmax(row / temperature)`` within the
    top-p nucleus, picked by that row's uniform in [0, 1). The one sampling procedure of the hf and
    vLLM engines, so both draw alike from the same per-sequence streams."""
    import torch

    probs = torch.softmax(logits.float() / sampling.temperature, dim=-1)
    order = None
    if sampling.top_p < 1:
        probs, order = probs.sort(dim=-1, descending=True)
        outside = probs.cumsum(-1) - probs > sampling.top_p  # keep the smallest set reaching top_p
        probs = probs.masked_fill(outside, 0.0)
    cdf = probs.cumsum(-1)
    u = torch.tensor(list(uniforms), device=cdf.device, dtype=cdf.dtype) * cdf[:, -1]
    choice = torch.searchsorted(cdf, u[:, None]).clamp(max=cdf.shape[-1] - 1)
    if order is not None:
        choice = order.gather(1, choice)
    return choice[:, 0].tolist()


def stream_seed(seed: int, key: str) -> int:
    """A 63-bit seed for one sequence's random stream, stable across runs and machines."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class Request:
    key: str  # identifies the sequence for seeding, e.g. "row-id/sample"
    prompt_ids: list[int]


@runtime_checkable
class Engine(Protocol):
    """Generates with budget forcing. ``tokenizer`` is the model's own (prompts and counts)."""

    name: str
    tokenizer: Any
    eos_ids: Sequence[int]
    drivers: Sequence[str]  # "single" (per-step control) and/or "multi" (continue a prefix)

    def force(self, requests: Sequence[Request], budget: Budget, tokens: ForcingTokens, sampling: Sampling,
              driver: str) -> list[Outcome]: ...

    # The multi-round driver's step (through ``BoundContinuer``), and plain generation for the local
    # classifier: each prefix continued to its stop marker (kept) or ``max_tokens``.
    def continue_batch(self, requests: Sequence[Continuation], sampling: Sampling) -> list[list[int]]: ...

    def close(self) -> None: ...


@runtime_checkable
class StreamingEngine(Engine, Protocol):
    """An engine that batches continuously: ``slots`` sequences in flight, each outcome yielded
    (with its request index) as it finishes rather than when its batch does."""

    def stream(self, requests: Sequence[Request], budget: Budget, tokens: ForcingTokens, sampling: Sampling,
               driver: str, slots: int) -> Iterator[tuple[int, Outcome]]: ...


class BoundContinuer:
    """An engine's ``continue_batch`` with the sampling fixed: what ``forcing.multi_round`` calls."""

    def __init__(self, engine: Engine, sampling: Sampling) -> None:
        self.engine, self.sampling = engine, sampling

    def continue_batch(self, requests: Sequence[Continuation]) -> list[list[int]]:
        return self.engine.continue_batch(requests, self.sampling)


def outcomes(engine: Engine, requests: Sequence[Request], budget: Budget, tokens: ForcingTokens,
             sampling: Sampling, driver: str, batch_size: int) -> Iterator[tuple[int, Outcome]]:
    """(request index, outcome) as they finish: continuously batched where the engine streams,
    else ``batch_size`` requests at a time."""
    if isinstance(engine, StreamingEngine):
        yield from engine.stream(requests, budget, tokens, sampling, driver, batch_size)
        return
    for start in range(0, len(requests), batch_size):
        chunk = requests[start:start + batch_size]
        began = time.perf_counter()
        results = engine.force(chunk, budget, tokens, sampling, driver)
        for offset, outcome in enumerate(results):
            outcome.seconds = time.perf_counter() - began
            yield start + offset, outcome


def eos_ids_of(tokenizer: Any, generation_config: Any = None) -> list[int]:
    """End-of-turn token ids: the generation config's (Qwen lists two) and the tokenizer's."""
    ids: list[int] = []
    configured = getattr(generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.append(configured)
    elif configured:
        ids.extend(configured)
    if getattr(tokenizer, "eos_token_id", None) is not None:
        ids.append(tokenizer.eos_token_id)
    return sorted(set(ids))
