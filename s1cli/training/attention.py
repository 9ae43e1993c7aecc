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

from typing import Any

SEGMENT_SDPA = "s1_segment_sdpa"


def segment_sdpa(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, *, scaling: float | None = None,
                 dropout: float = 0.0, cu_seq_lens_q: Any = None, **_: Any) -> tuple[Any, None]:
    """query (batch, heads, length, dim), key/value (batch, kv_heads, length, dim) → (batch, length, heads, dim)."""
    import torch
    from torch.nn.functional import scaled_dot_product_attention as sdpa

    # Grouped-query attention inside SDPA (enable_gqa), not by copying each kv head `groups` times.
    gqa = query.shape[1] != key.shape[1]
    if attention_mask is not None or cu_seq_lens_q is None or query.shape[0] != 1:
        # A caller-made 4D mask (e.g. generation with padding), or one causal sequence per row.
        causal = attention_mask is None and query.shape[2] > 1
        out = sdpa(query, key, value, attn_mask=attention_mask, is_causal=causal, dropout_p=dropout, scale=scaling,
                   enable_gqa=gqa)
        return out.transpose(1, 2).contiguous(), None
    # split, not slicing: its backward writes each example's gradient into one buffer, where a slice's
    # backward builds a zero tensor the size of the whole row per example and layer.
    lengths = cu_seq_lens_q.diff().tolist()
    parts = [sdpa(q, k, v, is_causal=True, dropout_p=dropout, scale=scaling, enable_gqa=gqa).transpose(1, 2)
             for q, k, v in zip(query.split(lengths, dim=2), key.split(lengths, dim=2), value.split(lengths, dim=2),
                                strict=True) if q.shape[2]]
    return torch.cat(parts, dim=1), None  # contiguous (batch, length, heads, dim)


def register() -> str:
    """Make ``SEGMENT_SDPA`` a valid ``attn_implementation`` (idempotent); returns its name.

    Registered outside torch.compile: the loop over a row's examples would be traced once per number
    of examples (a recompile each, up to dynamo's limit of 8, then eager with a warning), so compiled
    decoder layers (sft's --compile) run it eagerly between their compiled parts."""
    import torch
    from transformers import AttentionInterface

    AttentionInterface.register(SEGMENT_SDPA, torch.compiler.disable(segment_sdpa))
    return SEGMENT_SDPA
