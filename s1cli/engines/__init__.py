"""Text generation backends behind one protocol (see ``base.Engine``).

``hf:`` transformers on CPU or GPU and ``vllm:`` vLLM (optional extra), both with single-pass and
multi-round budget forcing; ``openai:`` any OpenAI-compatible completions server (multi-round).
"""

from __future__ import annotations

import json

from .base import Engine, Sampling, parse_model_ref


def load_engine(ref: str, **options) -> Engine:
    """Build the engine a model reference names, importing its backend only when used."""
    model = parse_model_ref(ref)
    if model.backend == "hf":
        from .hf import HFEngine

        return HFEngine.load(model.model, **options)
    if model.backend == "openai":
        from .openai import OpenAIEngine

        return OpenAIEngine.load(model.model, **options)
    from .vllm import VLLMEngine

    return VLLMEngine.load(model.model, **options)


def settings_line(engine: Engine) -> str | None:
    """What a vLLM engine holds for the CLI's engine options and --engine-arg keys, as one line (so a
    log shows the context length and parallelism it chose); None for other engines."""
    settings = getattr(engine, "settings", None)
    if not settings:
        return None
    shown = ", ".join(f"{key}={json.dumps(value, default=str)}" for key, value in settings.items() if value is not None)
    return f"{engine.name}: {shown}"


__all__ = ["Engine", "Sampling", "load_engine", "parse_model_ref", "settings_line"]
