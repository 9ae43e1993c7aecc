"""The protocol every chat backend speaks: a request in, a response out, errors sorted by what to do next.

A ``Request`` is everything that decides a reply (model, system prompt, messages, token limit, sampling
parameters, prompt template version), so its hash is the cache key. A backend turns one request into
one HTTP call and sorts failures into ``TransientError`` (retry later), ``RequestRejected`` (this
request will never succeed) and ``RemoteError`` (nothing will: a bad key, an unknown model).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import RemoteError


@dataclass(frozen=True)
class Request:
    model: str
    messages: tuple[dict[str, str], ...]
    max_tokens: int
    system: str | None = None
    params: tuple[tuple[str, Any], ...] = ()  # further body fields (temperature, thinking, ...), sorted
    prompt_version: str = ""  # what shapes the reply without being sent: the prompt template, a sample index

    @classmethod
    def make(cls, model: str, messages: list[dict[str, str]], max_tokens: int, *, system: str | None = None,
             params: dict[str, Any] | None = None, prompt_version: str = "") -> Request:
        return cls(model, tuple(dict(m) for m in messages), max_tokens, system,
                   tuple(sorted((params or {}).items())), prompt_version)

    def key(self, backend: str) -> str:
        """Content address: sha256 over the backend and every field that shapes the reply (64 hex
        characters, which is also a valid Message Batches ``custom_id``)."""
        payload = {"backend": backend, "model": self.model, "system": self.system, "messages": list(self.messages),
                   "max_tokens": self.max_tokens, "params": dict(self.params), "prompt": self.prompt_version}
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def as_json(self) -> dict[str, Any]:
        return {"model": self.model, "system": self.system, "messages": list(self.messages),
                "max_tokens": self.max_tokens, "params": dict(self.params), "prompt_version": self.prompt_version}

    def text_length(self) -> int:
        return len(self.system or "") + sum(len(m.get("content", "")) for m in self.messages)

    def follow_up(self, reply: str, message: str) -> Request:
        """The same conversation continued: the model's reply, then a new user turn."""
        messages = (*self.messages, {"role": "assistant", "content": reply}, {"role": "user", "content": message})
        return Request(self.model, messages, self.max_tokens, self.system, self.params, self.prompt_version)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Response:
    """A reply. ``text`` is what judges and classifiers read; the fields after ``batch`` are what
    ``generate`` records besides (read from ``raw`` by ``replies.details``, for cached replies too)."""

    text: str
    usage: Usage
    raw: dict[str, Any] = field(default_factory=dict)
    cached: bool = False  # served from the cache: cost nothing this run
    batch: bool = False  # answered through a batch API (billed at the batch rate)
    thinking: str | None = None  # thinking the API returned apart from the text (None: none)
    thinking_redacted: int = 0  # redacted thinking blocks (Anthropic): counted, never shown
    stop: str | None = None  # the API's stop reason as it wrote it
    reasoning_tokens: int | None = None  # the provider's count of thinking tokens, when it reports one


class TransientError(Exception):
    """Worth retrying: 429, 5xx, 529 overloaded, a dropped connection, a timeout."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class RequestRejected(Exception):
    """This request can never succeed as sent (400, 413, 422: too long, malformed)."""


class FatalRemoteError(RemoteError):
    """No request will succeed (401 bad key, 403, 404 unknown model or URL): stop the run."""


# The providers' own endpoints: a cached reply from one of these is filed under the backend's name alone.
DEFAULT_ENDPOINTS = {"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com/v1"}


def cache_scope(backend: str, base_url: str | None) -> str:
    """What cached replies are filed under: the backend, plus the endpoint when it is not the
    provider's own, since another server (a local vLLM, a proxy) may answer differently under the
    same model name."""
    url = (base_url or "").rstrip("/")
    return backend if not url or url == DEFAULT_ENDPOINTS.get(backend) else f"{backend}@{url}"


class Backend(Protocol):
    name: str
    scope: str  # cache_scope(name, endpoint): part of every cache key

    def send(self, request: Request) -> Response:
        """One call; raises TransientError, RequestRejected or FatalRemoteError."""
        ...


def retry_after_seconds(headers: Any) -> float | None:
    """``retry-after-ms`` (Anthropic, OpenAI) or ``retry-after`` in seconds; HTTP dates are ignored."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except ValueError:
            continue
    return None


def classify_status(status: int, message: str, headers: Any = None) -> Exception:
    """The exception for an HTTP error status."""
    if status in (408, 409, 429) or status >= 500:
        return TransientError(f"HTTP {status}: {message}", retry_after_seconds(headers))
    if status in (401, 403):
        return FatalRemoteError(f"HTTP {status}: {message} (check the API key and its permissions)")
    if status == 404:
        return FatalRemoteError(f"HTTP 404: {message} (check the model name and --base-url)")
    return RequestRejected(f"HTTP {status}: {message}")
