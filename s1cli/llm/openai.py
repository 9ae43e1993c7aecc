"""OpenAI-compatible chat completions (OpenAI, vLLM, llama.cpp, ollama, ...) over plain HTTP.

One POST to ``{base_url}/chat/completions`` per request, through httpx2 (already installed with the
anthropic SDK), so no second SDK is needed. The key is sent as a bearer token when there is one:
local servers usually need none.
"""

from __future__ import annotations

from typing import Any

import httpx2

from .base import (
    DEFAULT_ENDPOINTS,
    Request,
    RequestRejected,
    Response,
    TransientError,
    Usage,
    cache_scope,
    classify_status,
)
from .replies import chat_details, chat_text

DEFAULT_BASE_URL = DEFAULT_ENDPOINTS["openai"]


class OpenAIChatBackend:
    name = "openai"

    def __init__(self, api_key: str | None, *, base_url: str | None = None, timeout: float = 120.0) -> None:
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.scope = cache_scope(self.name, self.base_url)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx2.Client(timeout=timeout, headers=headers)

    @staticmethod
    def body(request: Request) -> dict[str, Any]:
        messages = [{"role": "system", "content": request.system}] if request.system else []
        messages += [dict(m) for m in request.messages]
        body = {"model": request.model, "messages": messages, "max_tokens": request.max_tokens, **dict(request.params)}
        if "max_completion_tokens" in body:  # OpenAI's reasoning models refuse max_tokens; the request names which
            del body["max_tokens"]
        return body

    def send(self, request: Request) -> Response:
        try:
            reply = self._http.post(f"{self.base_url}/chat/completions", json=self.body(request))
        except httpx2.TimeoutException:
            raise TransientError("timed out") from None
        except httpx2.TransportError as exc:
            raise TransientError(f"connection failed ({type(exc).__name__}: {exc})") from None
        if reply.status_code >= 400:
            raise classify_status(reply.status_code, _error_message(reply), reply.headers)
        if not reply.content.strip():  # a proxy or server that dropped the body: nothing was answered, ask again
            raise TransientError(f"empty reply (HTTP {reply.status_code}) from {self.base_url}")
        try:
            data = reply.json()
            text = chat_text(data)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise RequestRejected(f"unexpected reply from {self.base_url}: {reply.text[:200]!r}") from None
        usage = data.get("usage") or {}
        return Response(text, Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
                        data, **vars(chat_details(data)))


def _error_message(reply: httpx2.Response) -> str:
    try:
        error = reply.json().get("error")
        if isinstance(error, dict):
            return str(error.get("message", error))
        if error:
            return str(error)
    except (ValueError, AttributeError):
        pass
    return reply.text[:200] or reply.reason_phrase
