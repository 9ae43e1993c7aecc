"""Attention over packed rows without a block-diagonal mask, right for every architecture sft trains.

A packed row holds several examples back to back; ``cu_seq_lens`` (cumulative lengths, as
flash-attention's varlen functions take them) says where each starts. Three paths keep them apart:

- ``flash``: transformers hands the boundaries to ``flash_attn_varlen_func`` (GPU, flash-attn
  installed), which applies softcapping and sliding windows itself.
- ``sdpa``: ``packed_sdpa`` runs PyTorch's scaled-dot-product attention once per example: exact, no
  L×L mask in memory (1 GiB per 32K-token block), no work on pairs of tokens from different examples,
  and SDPA's fused kernels, which an explicit mask would rule out. A sliding window becomes a banded
  mask for the examples longer than it. SDPA cannot softcap attention logits, so it is not offered for
  models that do (Gemma 2).
- ``eager``: ``packed_eager`` writes the attention out per example (scores, softcap, causal and window
  mask, fp32 softmax), as transformers' eager attention does for one sequence: slower, right for all.

The projections and MLPs still run over the whole row at once. ``choose`` picks a path for a model
and device, and says why; ``register`` makes the per-example paths valid ``attn_implementation``s.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from ..errors import ConfigError

CHOICES = ("auto", "flash", "sdpa", "eager")
FLASH = "flash_attention_2"
PACKED_SDPA = "s1_packed_sdpa"
# No "sdpa" in this name: transformers refuses any name containing it for a model that declares no SDPA
# support (Gemma 2), and the eager path is exactly what such a model needs.
PACKED_EAGER = "s1_packed_eager"


def _allowed(length: int, window: int | None, device: Any) -> Any:
    """(length, length) booleans: causal, and within the last ``window`` positions (transformers'
    sliding window: a query sees itself and the window - 1 keys before it)."""
    import torch

    position = torch.arange(length, device=device)
    offset = position[:, None] - position[None, :]
    return (offset >= 0) & (offset < window) if window else offset >= 0


def _sdpa(query: Any, key: Any, value: Any, *, scale: float | None, dropout: float, window: int | None) -> Any:
    """One causal sequence: (1, heads, L, dim) → (1, heads, L, dim)."""
    from torch.nn.functional import scaled_dot_product_attention as sdpa

    length = query.shape[2]
    gqa = query.shape[1] != key.shape[1]  # grouped-query attention inside SDPA, not by copying kv heads
    if window and length > window:
        return sdpa(query, key, value, attn_mask=_allowed(length, window, query.device), dropout_p=dropout,
                    scale=scale, enable_gqa=gqa)
    return sdpa(query, key, value, is_causal=length > 1, dropout_p=dropout, scale=scale, enable_gqa=gqa)


def _eager(query: Any, key: Any, value: Any, *, scale: float | None, dropout: float, window: int | None,
           softcap: float | None, mask: Any = None) -> Any:
    """One sequence written out: (batch, heads, L, dim) → (batch, heads, L, dim). ``mask``: a caller's
    boolean (True = attend) or additive mask; without one, causal within ``window``."""
    import torch

    groups = query.shape[1] // key.shape[1]
    if groups > 1:
        key, value = key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1)
    scores = torch.matmul(query, key.transpose(2, 3)) * (query.shape[-1] ** -0.5 if scale is None else scale)
    if softcap:
        scores = torch.tanh(scores / softcap) * softcap
    if mask is None:
        scores = scores.masked_fill(~_allowed(query.shape[2], window, query.device), float("-inf"))
    elif mask.dtype == torch.bool:
        scores = scores.masked_fill(~mask, float("-inf"))
    else:
        scores = scores + mask
    probs = torch.softmax(scores, dim=-1, dtype=torch.promote_types(scores.dtype, torch.float32)).to(query.dtype)
    probs = torch.nn.functional.dropout(probs, p=dropout, training=dropout > 0)
    return torch.matmul(probs, value)


def packed_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, *, kernel: str = "sdpa",
                     scaling: float | None = None, dropout: float = 0.0, cu_seq_lens_q: Any = None,
                     sliding_window: int | None = None, softcap: float | None = None, s_aux: Any = None,
                     **_: Any) -> tuple[Any, None]:
    """query (batch, heads, length, dim), key/value (batch, kv_heads, length, dim) → (batch, length, heads, dim).

    ``kernel`` is ``sdpa`` or ``eager``. transformers passes a layer's ``sliding_window`` and ``softcap``
    (Gemma 2, Mistral, Qwen2's sliding layers) as keyword arguments; both are applied."""
    import torch

    if s_aux is not None:
        raise ConfigError("--attention: this model's attention sinks are not applied by s1's per-example attention; "
                          "use --attention flash on a GPU")
    if kernel == "sdpa" and softcap:
        raise ConfigError(f"--attention sdpa: this model softcaps attention logits ({softcap:g}), which SDPA cannot; "
                          "use --attention eager (or flash on a GPU)")
    one = (partial(_sdpa, scale=scaling, dropout=dropout, window=sliding_window) if kernel == "sdpa" else
           partial(_eager, scale=scaling, dropout=dropout, window=sliding_window, softcap=softcap))
    if attention_mask is not None:
        # A caller-made 4D mask (e.g. generation with padding): it already holds causality and any window.
        if kernel == "sdpa":
            from torch.nn.functional import scaled_dot_product_attention as sdpa

            out = sdpa(query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling,
                       enable_gqa=query.shape[1] != key.shape[1])
        else:
            out = _eager(query, key, value, scale=scaling, dropout=dropout, window=None, softcap=softcap,
                         mask=attention_mask)
        return out.transpose(1, 2).contiguous(), None
    if cu_seq_lens_q is None or query.shape[0] != 1:
        return one(query, key, value).transpose(1, 2).contiguous(), None  # one causal sequence per row
    # split, not slicing: its backward writes each example's gradient into one buffer, where a slice's
    # backward builds a zero tensor the size of the whole row per example and layer.
    lengths = cu_seq_lens_q.diff().tolist()
    parts = [one(q, k, v).transpose(1, 2)
             for q, k, v in zip(query.split(lengths, dim=2), key.split(lengths, dim=2), value.split(lengths, dim=2),
                                strict=True) if q.shape[2]]
    return torch.cat(parts, dim=1), None  # contiguous (batch, length, heads, dim)


def register() -> None:
    """Make ``PACKED_SDPA`` and ``PACKED_EAGER`` valid ``attn_implementation``s (idempotent).

    Registered outside torch.compile: the loop over a row's examples would be traced once per number
    of examples (a recompile each, up to dynamo's limit of 8, then eager with a warning), so compiled
    decoder layers (sft's --compile) run it eagerly between their compiled parts."""
    import torch
    from transformers import AttentionInterface

    for name, kernel in ((PACKED_SDPA, "sdpa"), (PACKED_EAGER, "eager")):
        AttentionInterface.register(name, torch.compiler.disable(partial(packed_attention, kernel=kernel)))


@dataclass(frozen=True)
class Attention:
    """The attention a run uses: ``implementation`` is the model's ``attn_implementation``."""

    choice: str  # flash, sdpa or eager
    implementation: str
    why: str = ""

    def describe(self) -> str:
        what = {"flash": "flash-attention varlen", "sdpa": "SDPA per example",
                "eager": "eager per example"}[self.choice]
        return f"{what} (no cross-example attention{'; ' + self.why if self.why else ''})"


@dataclass(frozen=True)
class ModelAttention:
    """What of a model's architecture decides its attention path, read from its config and class."""

    name: str  # the causal-LM class, e.g. Gemma2ForCausalLM
    softcap: float | None
    sliding_window: int | None
    supports_sdpa: bool
    supports_flash: bool

    @classmethod
    def of(cls, model: str) -> ModelAttention:
        import transformers
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

        config = transformers.AutoConfig.from_pretrained(model)
        name = MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.get(config.model_type) or config.model_type
        model_class = getattr(transformers, name, None)
        text = config.get_text_config()  # a multimodal config keeps its decoder's settings there
        return cls(name=name, softcap=getattr(text, "attn_logit_softcapping", None) or None,
                   sliding_window=getattr(text, "sliding_window", None) or None,
                   supports_sdpa=getattr(model_class, "_supports_sdpa", True) is not False,
                   supports_flash=getattr(model_class, "_supports_flash_attn", True) is not False)


def choose(requested: str, model: ModelAttention, *, cpu: bool, flash_installed: bool) -> Attention:
    """The attention for ``--attention`` on this model and device, or one line saying why not.

    auto: flash-attention where it runs (a GPU with flash-attn installed), else SDPA per example, else
    (a model that softcaps its attention logits, or declares no SDPA support) eager per example."""
    if requested not in CHOICES:
        raise ConfigError(f"--attention {requested!r}: choose from {', '.join(CHOICES)}")
    sdpa_refused = (f"{model.name} softcaps attention logits ({model.softcap:g}), which SDPA cannot"
                    if model.softcap else None if model.supports_sdpa else f"{model.name} declares no SDPA support")
    if requested == "flash":
        if cpu or not flash_installed:
            where = "a CUDA GPU" if cpu else "the flash-attn package (pip install flash-attn)"
            raise ConfigError(f"--attention flash needs {where}; --attention auto picks what runs here")
        if not model.supports_flash:
            raise ConfigError(f"--attention flash: transformers has no flash-attention for {model.name}; "
                              "use --attention auto")
        return Attention("flash", FLASH)
    if requested == "sdpa":
        if sdpa_refused:
            raise ConfigError(f"--attention sdpa: {sdpa_refused}; use --attention eager (or auto)")
        return Attention("sdpa", PACKED_SDPA)
    if requested == "eager":
        return Attention("eager", PACKED_EAGER)
    if flash_installed and not cpu and model.supports_flash:
        return Attention("flash", FLASH)
    if sdpa_refused:
        return Attention("eager", PACKED_EAGER, why=sdpa_refused)
    return Attention("sdpa", PACKED_SDPA)
