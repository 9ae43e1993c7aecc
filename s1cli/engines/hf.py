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
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ..errors import ConfigError
from ..forcing import Budget, Continuation, Forcer, ForcingTokens, Outcome, multi_round
from .base import Request, Sampling, eos_ids_of, stream_seed

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
        path = Path(name).expanduser()
        looks_local = name.startswith((".", "/", "~")) or name.count("/") != 1
        if not path.exists() and looks_local:
            raise ConfigError(f"--model hf:{name}: no such model directory")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") and torch.cuda.is_bf16_supported() else "float32"
        kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype)}
        if device.startswith("cuda") and _has_flash_attention():
            kwargs["attn_implementation"] = "flash_attention_2"
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path) if path.exists() else name)
            model = AutoModelForCausalLM.from_pretrained(str(path) if path.exists() else name, **kwargs)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"--model hf:{name}: cannot load ({first})") from None
        return cls(model.to(device).eval(), tokenizer, f"hf:{name}")

    def close(self) -> None:
        self.model = None

    # ------------------------------------------------------------------ budget forcing

    def force(self, requests: Sequence[Request], budget: Budget, tokens: ForcingTokens, sampling: Sampling,
              driver: str = "single") -> list[Outcome]:
        if driver == "multi":
            return multi_round(_Continuer(self, sampling), [r.prompt_ids for r in requests],
                               [r.key for r in requests], budget, tokens)
        forcers = [Forcer(budget, tokens) for _ in requests]
        self.decode([r.prompt_ids for r in requests], forcers, [r.key for r in requests], sampling)
        return [f.out for f in forcers]

    def continue_batch(self, requests: Sequence[Continuation], sampling: Sampling) -> list[list[int]]:
        runs = [_Run(r) for r in requests]
        self.decode([r.prefix for r in requests], runs, [r.key for r in requests], sampling)
        return [run.out for run in runs]

    # ------------------------------------------------------------------ the decode loop

    def decode(self, prompts: Sequence[Sequence[int]], controllers: Sequence[Controller], keys: Sequence[str],
               sampling: Sampling) -> None:
        """Run every controller to completion over one batch."""
        torch = self._torch
        if not prompts:
            return
        with torch.inference_mode():
            width = max(len(p) for p in prompts)
            ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(prompts), width), dtype=torch.long)
            for row, prompt in enumerate(prompts):
                ids[row, width - len(prompt):] = torch.tensor(prompt, dtype=torch.long)
                mask[row, width - len(prompt):] = 1
            ids, mask = ids.to(self.device), mask.to(self.device)
            cache = self._new_cache()
            logits = self._forward(ids, mask, cache)
            rows = list(range(len(prompts)))  # which controller each batch row belongs to
            rngs = [random.Random(stream_seed(sampling.seed, key)) for key in keys]
            length = width
            while rows:
                if length >= self.max_positions:
                    for index in rows:
                        controllers[index].abort()
                    break
                feed: list[int] = []
                keep: list[int] = []
                forced = [controllers[i].forced() for i in rows]
                wanted = [r for r, token in enumerate(forced) if token is None]
                sampled = self._sample(logits, wanted, [rngs[rows[r]] for r in wanted], sampling) if wanted else {}
                for r, index in enumerate(rows):
                    controller = controllers[index]
                    if forced[r] is not None:
                        controller.took_forced()
                        token, drop = forced[r], 0
                    else:
                        token, drop = controller.sampled(sampled[r])
                    if drop:
                        mask[r, mask.shape[1] - drop:] = 0
                    if token is None or controller.done:
                        continue
                    keep.append(r)
                    feed.append(token)
                if not keep:
                    break
                if len(keep) < len(rows):
                    index_tensor = torch.tensor(keep, device=self.device)
                    cache.batch_select_indices(index_tensor)
                    mask = mask[index_tensor]
                    rows = [rows[r] for r in keep]
                step = torch.tensor(feed, dtype=torch.long, device=self.device)[:, None]
                mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
                logits = self._forward(step, mask, cache)
                length += 1

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        try:
            return DynamicCache(config=self.model.config)
        except TypeError:
            return DynamicCache()

    def _forward(self, ids: Any, mask: Any, cache: Any) -> Any:
        # Positions count only unmasked tokens, so masked-out (dropped) tokens leave no gap.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, -ids.shape[1]:]
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                         logits_to_keep=1, **{self._cache_kw: cache})
        return out.logits[:, -1, :]

    def _sample(self, logits: Any, rows: list[int], rngs: list[random.Random], sampling: Sampling) -> dict[int, int]:
        torch = self._torch
        picked = logits[torch.tensor(rows, device=logits.device)]
        if sampling.greedy:
            return dict(zip(rows, picked.argmax(-1).tolist(), strict=True))
        probs = torch.softmax(picked.float() / sampling.temperature, dim=-1)
        order = None
        if sampling.top_p < 1:
            probs, order = probs.sort(dim=-1, descending=True)
            outside = probs.cumsum(-1) - probs > sampling.top_p  # keep the smallest set reaching top_p
            probs = probs.masked_fill(outside, 0.0)
        cdf = probs.cumsum(-1)
        # One uniform draw per sequence from its own stream: reproducible whatever the batch.
        u = torch.tensor([rng.random() for rng in rngs], device=cdf.device, dtype=cdf.dtype) * cdf[:, -1]
        choice = torch.searchsorted(cdf, u[:, None]).clamp(max=cdf.shape[-1] - 1)
        if order is not None:
            choice = order.gather(1, choice)
        return dict(zip(rows, choice[:, 0].tolist(), strict=True))


class _Continuer:
    """Adapts the engine to the multi-round driver's protocol with fixed sampling settings."""

    def __init__(self, engine: HFEngine, sampling: Sampling) -> None:
        self.engine, self.sampling = engine, sampling

    def continue_batch(self, requests: Sequence[Continuation]) -> list[list[int]]:
        return self.engine.continue_batch(requests, self.sampling)


def _has_flash_attention() -> bool:
    try:
        import flash_attn  # noqa: F401
    except ImportError:
        return False
    return True
