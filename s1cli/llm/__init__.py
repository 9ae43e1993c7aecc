"""Chat model clients behind one protocol, shared by ``grade``, ``classify-msc`` and ``generate`` on hosted models.

- ``base``: Request / Response / Usage and the error kinds every backend raises; ``replies``: the
  thinking, stop reason and reasoning-token count a reply's body holds.
- ``anthropic``: the Messages API and Message Batches (official SDK); ``openai``: any
  OpenAI-compatible chat server (plain HTTP).
- ``client``: cache → budget → retries → accounting → request log, in one ``Client.ask``.
- ``batch``: Message Batches with a resumable state file; ``cache``: the SQLite response cache;
  ``prices`` and ``accounting``: one price table, per-model usage, the ``--max-cost`` spending cap.
- ``session``: what one command run shares across its calls; ``rows``: model calls over table rows
  (resume, direct or batched, cost record), the runner every such command uses; ``cost_record``: the
  per-run cost file, provisional while a run pays, rebuilt from the request log after a kill.

API keys come from the environment only (``ANTHROPIC_API_KEY``, ``OPENAI_API_KEY``), are handed
straight to the backend, and are never written to outputs, caches or logs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..errors import ConfigError
from ..refs import ModelRef
from ..refs import parse_model_ref as parse_ref
from .base import Backend, Request, Response, Usage

BACKENDS = ("anthropic", "openai")
KEY_VARIABLES = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}


def parse_model_ref(spec: str, *, option: str = "--judge") -> ModelRef:
    """An API model: ``anthropic:MODEL`` or ``openai:MODEL``."""
    return parse_ref(spec, BACKENDS, option=option, expected="anthropic:MODEL or openai:MODEL",
                     example="anthropic:claude-3-5-sonnet-20241022")


def api_key(backend: str, *, base_url: str | None = None, environ: Mapping[str, str] = os.environ,
            required: bool = True) -> str | None:
    """The key for ``backend`` from its environment variable. OpenAI-compatible servers given with
    --base-url may need none (vLLM, llama.cpp); the official APIs always do."""
    variable = KEY_VARIABLES[backend]
    key = environ.get(variable, "").strip() or None
    if key is None and required and not (backend == "openai" and base_url):
        raise ConfigError(f"{backend} judge needs an API key: set {variable} in the environment")
    return key


def endpoint(backend: str, base_url: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The server a backend talks to: --base-url, else the SDK's environment variable, else None (the provider's)."""
    variable = {"anthropic": "ANTHROPIC_BASE_URL", "openai": "OPENAI_BASE_URL"}[backend]
    return base_url or environ.get(variable) or None


def make_backend(ref: ModelRef, *, key: str | None, base_url: str | None = None, timeout: float = 120.0,
                 environ: Mapping[str, str] = os.environ) -> Backend:
    url = endpoint(ref.backend, base_url, environ)
    if ref.backend == "anthropic":
        from .anthropic import AnthropicBackend

        return AnthropicBackend(key or "", base_url=url, timeout=timeout)
    from .openai import OpenAIChatBackend

    return OpenAIChatBackend(key, base_url=url, timeout=timeout)


__all__ = ["BACKENDS", "KEY_VARIABLES", "Backend", "ModelRef", "Request", "Response", "Usage", "api_key",
           "endpoint", "make_backend", "parse_model_ref"]
