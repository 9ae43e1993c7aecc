"""Model references as every command writes them: ``backend:name`` (``--model hf:models/tiny``,
``--judge anthropic:claude-sonnet-4-5``, ``--classifier vllm:Qwen/Qwen2.5-7B-Instruct``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class ModelRef:
    backend: str
    model: str  # the name the backend knows: an API model id, a hub name or a local directory

    def __str__(self) -> str:
        return f"{self.backend}:{self.model}"


def parse_model_ref(spec: str, backends: Sequence[str], *, option: str, expected: str, example: str) -> ModelRef:
    """``backend:name`` with ``backend`` one of ``backends``; the name keeps any further colons
    (``openai:gpt:with:colons``). The error names the option and shows what it takes."""
    backend, sep, name = spec.strip().partition(":")
    if not sep or backend not in backends or not name.strip():
        raise ConfigError(f"{option} {spec!r}: expected {expected} (e.g. {example})")
    return ModelRef(backend, name.strip())
