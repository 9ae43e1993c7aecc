"""Text generation backends behind one protocol (see ``base.Engine``).

``hf:`` transformers on CPU or GPU and ``vllm:`` vLLM (optional extra), both with single-pass and
multi-round budget forcing; ``openai:`` any OpenAI-compatible completions server (multi-round).
"""

from __future__ import annotations

from .base import Engine, Sampling, parse_model_ref


def load_engine(ref: str, **options) -> Engine:
    """Build the engine a model reference names, importing its backend only when used."""
    backend, name = parse_model_ref(ref)
    if backend == "hf":
        from .hf import HFEngine

        return HFEngine.load(name, **options)
    if backend == "openai":
        from .openai import OpenAIEngine

        return OpenAIEngine.load(name, **options)
    from .vllm import VLLMEngine

    return VLLMEngine.load(name, **options)


__all__ = ["Engine", "Sampling", "load_engine", "parse_model_ref"]
