"""The transformers engine: a batched decode loop with a KV cache and per-sequence control.

Budget forcing runs in a single pass: each step, every sequence's ``Forcer`` says whether its
next token is sampled or forced, so thinking is capped or extended without re-prefilling the
prompt. Sequences that finish leave the batch (their cache rows are dropped), so padding waste
does not grow with the longest sample. A marker that spanned several tokens is removed by
masking its cache positions out and continuing positions from before it, which is exactly
what re-prefilling without those tokens would compute.
"""

from __future__ import annotations

import inspect
import random
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from ..errors import ConfigError
from ..forcing import Budget, Continuation, Forcer, ForcingTokens, Outcome, multi_round
from ..hub import model_source, offline_hint
from .base import BoundContinuer, Request, Sampling, draw, eos_ids_of, stream_seed

DTYPES = ("auto", "float32", "bfloat16", "float16", "float64")


class Controller(Protocol):
    """What the decode loop asks of each sequence (``Forcer`` implements it)."""

    @property
    def done(self) -> bool: ...

    def forced(self) -> int | None: ...

    def took_forced(self) -> None: ...

    def sampled(self, token: int) -> tuple[int | None, int]: ...

    def abort(self) -> None: ...


class _Run:
    """Continue a prefix until a stop marker or ``max_tokens`` (the multi-round driver's unit)."""

    def __init__(self, request: Continuation) -> None:
        self.request, self.out, self.done = request, [], False

    def forced(self) -> int | None:
        return None

    def took_forced(self) -> None:  # never forced
        raise AssertionError("a plain run has no forced tokens")

    def sampled(self, token: int) -> tuple[int | None, int]:
        self.out.append(token)
        if self.request.stop.match(self.out) or len(self.out) >= self.request.max_tokens:
            self.done = True
            return None, 0
        return token, 0

    def abort(self) -> None:
        self.done = True


class HFEngine:
    drivers = ("single", "multi")

    def __init__(self, model: Any, tokenizer: Any, name: str) -> None:
        import torch

        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.device = next(model.parameters()).device
        self.eos_ids = eos_ids_of(tokenizer, getattr(model, "generation_config", None))
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (self.eos_ids or [0])[0]
        self.pad_id = pad
        self.max_positions = getattr(model.config, "max_position_embeddings", None) or 1 << 30
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._torch = torch

    @classmethod
    def load(cls, name: str, *, dtype: str = "auto", device: str = "auto", **_: Any) -> HFEngine:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if dtype not in DTYPES:
            raise ConfigError(f"--dtype {dtype!r}: choose from {', '.join(DTYPES)}")
        source = model_source(name, f"--model hf:{name}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") and torch.cuda.is_bf16_supported() else "float32"
        kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype)}
        if device.startswith("cuda") and _has_flash_attention():
            kwargs["attn_implementation"] = "flash_attention_2"
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"--model hf:{name}: cannot load ({first}){offline_hint('model')}") from None
        return cls(model.to(device).eval(), tokenizer, f"hf:{name}")

    def close(self) -> None:
        self.model = None

    # ------------------------------------------------------------------ budget forcing

    def stream(self, requests: Sequence[Request], budget: Budget, tokens: ForcingTokens, sampling: Sampling,
               driver: str = "single", slots: int = 16) -> Iterator[tuple[int, Outcome]]:
        """Yield (request index, outcome) as sequences finish. The single-pass driver keeps
        ``slots`` sequences decoding at once, admitting waiting requests as others finish."""
        if driver == "multi":
            for start in range(0, len(requests), slots):
                chunk = requests[start:start + slots]
                began = time.perf_counter()
                outcomes = multi_round(BoundContinuer(self, sampling), [r.prompt_ids for r in chunk],
                                       [r.key for r in chunk], budget, tokens)
                for offset, outcome in enumerate(outcomes):
                    outcome.seconds = time.perf_counter() - began
                    yield start + offset, outcome
            return
        forcers = [Forcer(budget, tokens) for _ in requests]
        for index in self.decode([r.prompt_ids for r in requests], forcers, [r.key for r in requests], sampling,
                                 slots):
            yield index, forcers[index].out

    def force(self, requests: Sequence[Request], budget: Budget, tokens: ForcingTokens, sampling: Sampling,
              driver: str = "single") -> list[Outcome]:
        """All outcomes, in request order, decoded as one batch."""
        results = dict(self.stream(requests, budget, tokens, sampling, driver, slots=max(1, len(requests))))
        return [results[i] for i in range(len(requests))]

    def continue_batch(self, requests: Sequence[Continuation], sampling: Sampling) -> list[list[int]]:
        runs = [_Run(r) for r in requests]
        for _ in self.decode([r.prefix for r in requests], runs, [r.key for r in requests], sampling,
                             max(1, len(requests))):
            pass
        return [run.out for run in runs]

    # ------------------------------------------------------------------ the decode loop

    def decode(self, prompts: Sequence[Sequence[int]], controllers: Sequence[Controller], keys: Sequence[str],
               sampling: Sampling, slots: int) -> Iterator[int]:
        """Run every controller to completion with up to ``slots`` sequences in flight; yields
        each controller's index when it finishes (continuous batching)."""
        torch = self._torch
        pending = deque(range(len(prompts)))
        rngs = [random.Random(stream_seed(sampling.seed, key)) for key in keys]
        batch: _Batch | None = None
        started: dict[int, float] = {}
        with torch.inference_mode():
            while pending or (batch is not None and batch.rows):
                free = slots - (len(batch.rows) if batch else 0)
                # Admit in groups (a quarter of the slots), so merging caches stays rare.
                if pending and (free >= max(1, slots // 4) or batch is None or not batch.rows):
                    admitted = [pending.popleft() for _ in range(min(free, len(pending)))]
                    for index in admitted:
                        started[index] = time.perf_counter()
                    fresh = self._prefill([prompts[i] for i in admitted], admitted)
                    batch = fresh if batch is None or not batch.rows else batch.merge(fresh)
                assert batch is not None
                finished = self._step(batch, controllers, rngs, sampling)
                for index in finished:
                    out = getattr(controllers[index], "out", None)
                    if isinstance(out, Outcome):
                        out.seconds = time.perf_counter() - started[index]
                    yield index

    def _prefill(self, prompts: Sequence[Sequence[int]], rows: list[int]) -> _Batch:
        torch = self._torch
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            ids[row, width - len(prompt):] = torch.tensor(prompt, dtype=torch.long)
            mask[row, width - len(prompt):] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        cache = self._new_cache()
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = self._forward(ids, mask, positions, cache)
        return _Batch(list(rows), cache, mask, mask.sum(-1), logits)

    def _step(self, batch: _Batch, controllers: Sequence[Controller], rngs: list[random.Random],
              sampling: Sampling) -> list[int]:
        """Choose one token per sequence, drop finished sequences, and run the model one step."""
        torch = self._torch
        forced = [controllers[i].forced() for i in batch.rows]
        wanted = [r for r, token in enumerate(forced) if token is None]
        sampled = self._sample(batch.logits, wanted, [rngs[batch.rows[r]] for r in wanted], sampling) if wanted else {}
        feed: list[int] = []
        keep: list[int] = []
        finished: list[int] = []
        dropped: list[tuple[int, int]] = []
        positions = batch.positions.tolist()
        for r, index in enumerate(batch.rows):
            controller = controllers[index]
            if forced[r] is not None:
                controller.took_forced()
                token, drop = forced[r], 0
            else:
                token, drop = controller.sampled(sampled[r])
            if drop:
                dropped.append((r, drop))
            if token is None or controller.done:
                finished.append(index)
                continue
            if positions[r] - drop >= self.max_positions:
                controller.abort()  # the model's context is full
                finished.append(index)
                continue
            keep.append(r)
            feed.append(token)
        for r, drop in dropped:
            # Forget tokens already fed (a marker spanning several tokens): mask their cache
            # positions and continue positions from before them.
            batch.mask[r, batch.mask.shape[1] - drop:] = 0
            batch.positions[r] -= drop
        if len(keep) < len(batch.rows):
            batch.select(keep)
        if keep:
            step = torch.tensor(feed, dtype=torch.long, device=self.device)[:, None]
            batch.mask = torch.cat([batch.mask, torch.ones_like(batch.mask[:, :1])], dim=1)
            batch.logits = self._forward(step, batch.mask, batch.positions[:, None], batch.cache)
            batch.positions = batch.positions + 1
        return finished

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        try:
            return DynamicCache(config=self.model.config)
        except TypeError:
            return DynamicCache()

    def _forward(self, ids: Any, mask: Any, positions: Any, cache: Any) -> Any:
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                         logits_to_keep=1, **{self._cache_kw: cache})
        return out.logits[:, -1, :]

    def _sample(self, logits: Any, rows: list[int], rngs: list[random.Random], sampling: Sampling) -> dict[int, int]:
        torch = self._torch
        picked = logits[torch.tensor(rows, device=logits.device)] if len(rows) < logits.shape[0] else logits
        if sampling.greedy:
            return dict(zip(rows, picked.argmax(-1).tolist(), strict=True))
        # One uniform draw per sequence from its own stream: reproducible whatever the batch.
        return dict(zip(rows, draw(picked, [rng.random() for rng in rngs], sampling), strict=True))


class _Batch:
    """The sequences decoding together: their KV cache (one row each), a 0/1 mask over cache
    positions (left padding, and tokens forgotten after a multi-token marker), each row's next
    position, and the logits for each row's next token."""

    def __init__(self, rows: list[int], cache: Any, mask: Any, positions: Any, logits: Any) -> None:
        self.rows, self.cache, self.mask, self.positions, self.logits = rows, cache, mask, positions, logits

    def select(self, keep: list[int]) -> None:
        import torch

        index = torch.tensor(keep, dtype=torch.long, device=self.mask.device)
        self.cache.batch_select_indices(index)
        self.mask, self.positions, self.logits = self.mask[index], self.positions[index], self.logits[index]
        self.rows = [self.rows[r] for r in keep]
        self._trim()

    def merge(self, other: _Batch) -> _Batch:
        """Append ``other``'s sequences, left-padding the shorter cache to the longer one."""
        import torch

        width = max(self.mask.shape[1], other.mask.shape[1])
        for mine, theirs in zip(_layers(self.cache), _layers(other.cache), strict=True):
            for name in ("keys", "values"):
                merged = torch.cat([_pad_left(getattr(mine, name), width, dim=2),
                                    _pad_left(getattr(theirs, name), width, dim=2)], dim=0)
                setattr(mine, name, merged)
        self.mask = torch.cat([_pad_left(self.mask, width, dim=1), _pad_left(other.mask, width, dim=1)], dim=0)
        self.positions = torch.cat([self.positions, other.positions])
        self.logits = torch.cat([self.logits, other.logits])
        self.rows = self.rows + other.rows
        return self

    def _trim(self) -> None:
        """Drop leading cache columns no remaining sequence attends to."""
        used = self.mask.any(dim=0).nonzero()
        start = int(used[0]) if len(used) else self.mask.shape[1]
        if start > 0 and self.rows:
            for layer in _layers(self.cache):
                layer.keys, layer.values = layer.keys[:, :, start:], layer.values[:, :, start:]
            self.mask = self.mask[:, start:]


def _layers(cache: Any) -> list[Any]:
    layers = getattr(cache, "layers", None)
    if layers is None:
        raise ConfigError("this transformers version's cache has no per-layer tensors; s1 needs transformers >= 5")
    return list(layers)


def _pad_left(tensor: Any, width: int, dim: int) -> Any:
    import torch

    missing = width - tensor.shape[dim]
    if missing <= 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([torch.zeros(shape, dtype=tensor.dtype, device=tensor.device), tensor], dim=dim)


def _has_flash_attention() -> bool:
    try:
        import flash_attn  # noqa: F401
    except ImportError:
        return False
    return True
