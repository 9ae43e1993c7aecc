"""Attention over packed rows without a block-diagonal mask.

A packed row holds several examples back to back; ``cu_seq_lens`` (cumulative lengths, as
flash-attention's varlen functions take them) says where each starts. With flash-attention
installed on a GPU, transformers passes them to ``flash_attn_varlen_func``. Otherwise
``segment_sdpa`` runs PyTorch's scaled-dot-product attention once per example with ``is_causal``:
exact, no L×L mask in memory (1 GiB per 32K-token block), no work spent on pairs of tokens from
different examples, and it uses SDPA's fused kernels, which an explicit mask would rule out.
The projections and MLPs still run over the whole row at once.

Registered with transformers' ``AttentionInterface`` under ``SEGMENT_SDPA``, so a model loaded
with ``attn_implementation=SEGMENT_SDPA`` calls it from every attention layer.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

SEGMENT_SDPA = "s1_segment_sdpa"


def segment_sdpa(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, *, scaling: float | None = None,
                 dropout: float = 0.0, cu_seq_lens_q: Any = None, **_: Any) -> tuple[Any, None]:
    """query (batch, heads, length, dim), key/value (batch, kv_heads, length, dim) → (batch, length, heads, dim)."""
    import torch

    groups = query.shape[1] // key.shape[1]
    if groups > 1:  # grouped-query attention: each kv head serves `groups` query heads
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    if attention_mask is not None:
        # A caller-made 4D mask (e.g. generation with padding): plain masked attention.
        out = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask,
                                                               dropout_p=dropout, scale=scaling)
        return out.transpose(1, 2).contiguous(), None
    if cu_seq_lens_q is None or query.shape[0] != 1:
        out = torch.nn.functional.scaled_dot_product_attention(query, key, value, is_causal=query.shape[2] > 1,
                                                               dropout_p=dropout, scale=scaling)
        return out.transpose(1, 2).contiguous(), None
    bounds = cu_seq_lens_q.tolist()
    parts = [torch.nn.functional.scaled_dot_product_attention(query[:, :, s:e], key[:, :, s:e], value[:, :, s:e],
                                                              is_causal=True, dropout_p=dropout, scale=scaling)
             for s, e in pairwise(bounds) if e > s]
    return torch.cat(parts, dim=2).transpose(1, 2).contiguous(), None


def register() -> str:
    """Make ``SEGMENT_SDPA`` a valid ``attn_implementation`` (idempotent); returns its name."""
    from transformers import AttentionInterface

    AttentionInterface.register(SEGMENT_SDPA, segment_sdpa)
    return SEGMENT_SDPA
