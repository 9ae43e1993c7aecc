"""Anthropic: the Messages API and Message Batches, through the official SDK.

The SDK's own retries are switched off (``max_retries=0``) so every backend retries the same way
(``client.RetryPolicy``). anthropic 2.x's ``messages.create`` no longer takes ``temperature`` /
``top_p`` as arguments: sampling parameters travel in ``extra_body`` (inside a batch request they
are plain fields of ``params``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from .base import (
    FatalRemoteError,
    Request,
    RequestRejected,
    Response,
    TransientError,
    Usage,
    cache_scope,
    classify_status,
)
from .replies import anthropic_details, anthropic_text

T = TypeVar("T")

# Batch result error types worth resubmitting; anything else (invalid_request_error) never succeeds.
TRANSIENT_BATCH_ERRORS = {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}


@dataclass(frozen=True)
class BatchStatus:
    id: str
    ended: bool
    processing_status: str
    counts: dict[str, int]


@dataclass(frozen=True)
class BatchResult:
    custom_id: str
    outcome: str  # succeeded, errored, canceled, expired
    response: Response | None
    error: str | None
    retryable: bool


class AnthropicBackend:
    name = "anthropic"

    def __init__(self, api_key: str, *, base_url: str | None = None, timeout: float = 120.0) -> None:
        import anthropic

        self._sdk = anthropic
        self._client = anthropic.Anthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)
        self.scope = cache_scope(self.name, base_url)

    @staticmethod
    def params(request: Request) -> dict[str, Any]:
        """The Messages API body for ``request`` (as a batch request's ``params``)."""
        body: dict[str, Any] = {"model": request.model, "max_tokens": request.max_tokens,
                                "messages": [dict(m) for m in request.messages]}
        if request.system:
            body["system"] = request.system
        body.update(dict(request.params))
        return body

    def send(self, request: Request) -> Response:
        body = self.params(request)
        extra = {k: body.pop(k) for k in list(body) if k not in ("model", "max_tokens", "messages", "system")}
        message = self._guard(lambda: self._client.messages.create(**body, extra_body=extra or None))
        return _response(message, batch=False)

    # -------------------------------------------------------------------------------- batches

    def create_batch(self, items: list[tuple[str, Request]]) -> str:
        requests = [{"custom_id": key, "params": self.params(request)} for key, request in items]
        batch = self._guard(lambda: self._client.messages.batches.create(requests=requests))
        return batch.id

    def batch_status(self, batch_id: str) -> BatchStatus:
        batch = self._guard(lambda: self._client.messages.batches.retrieve(batch_id))
        counts = batch.request_counts.model_dump() if batch.request_counts is not None else {}
        return BatchStatus(batch.id, batch.processing_status == "ended", batch.processing_status, counts)

    def batch_results(self, batch_id: str) -> Iterator[BatchResult]:
        results = self._guard(lambda: list(self._client.messages.batches.results(batch_id)))
        for item in results:
            result = item.result
            if result.type == "succeeded":
                yield BatchResult(item.custom_id, "succeeded", _response(result.message, batch=True), None, False)
            elif result.type == "errored":
                error = getattr(result.error, "error", None)
                kind = getattr(error, "type", "api_error")
                message = getattr(error, "message", "")
                yield BatchResult(item.custom_id, "errored", None, f"{kind}: {message}",
                                  kind in TRANSIENT_BATCH_ERRORS)
            else:  # canceled or expired: never processed, so never billed
                yield BatchResult(item.custom_id, result.type, None, result.type, True)

    def _guard(self, call: Callable[[], T]) -> T:
        sdk = self._sdk
        try:
            return call()
        except sdk.APIStatusError as exc:
            raise classify_status(exc.status_code, _message(exc), exc.response.headers) from None
        except sdk.APITimeoutError:
            raise TransientError("timed out") from None
        except sdk.APIConnectionError as exc:
            raise TransientError(f"connection failed ({exc.__cause__ or exc})") from None
        except (ValueError, sdk.APIResponseValidationError) as exc:
            # A 200 whose body is empty or not a message (a proxy that dropped it): nothing was
            # answered, so ask again (the SDK raises json's ValueError for an empty body).
            raise TransientError(f"unreadable reply ({type(exc).__name__}: {str(exc)[:120]})") from None


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return f"{error.get('type', 'error')}: {error['message']}"
    return str(getattr(exc, "message", exc))


def _response(message: Any, *, batch: bool) -> Response:
    raw = message.model_dump(mode="json")
    usage = Usage(message.usage.input_tokens or 0, message.usage.output_tokens or 0)
    return Response(anthropic_text(raw), usage, raw, batch=batch, **vars(anthropic_details(raw)))


__all__ = ["AnthropicBackend", "BatchResult", "BatchStatus", "FatalRemoteError", "RequestRejected"]
