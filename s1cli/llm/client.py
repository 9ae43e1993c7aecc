"""One call path for every model request: cache, budget, retries with backoff, accounting, request log.

``Client.ask`` returns the cached reply when there is one (free), else reserves the worst-case cost,
sends the request through its backend and retries transient failures (429 honouring
``retry-after``, 5xx, 529 overloaded, dropped connections, timeouts) with exponential backoff and
jitter. The reply is committed to the cache before ``ask`` returns. Two threads asking the same
request at once share one call. Thread-safe; concurrency is the caller's thread pool.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from ..errors import RemoteError
from .accounting import Ledger, SpendCap
from .base import Backend, FatalRemoteError, Request, RequestRejected, Response, TransientError
from .cache import ResponseCache

T = TypeVar("T")


class RequestFailed(RemoteError):
    """A request that retrying did not fix, or that the API rejected; its row is left for a rerun."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # tries per request, the first included
    base: float = 1.0  # seconds before the first retry; doubles each time
    cap: float = 60.0  # longest wait between tries

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (0-based): the server's ``retry-after`` when it
        sent one, else full-jitter exponential backoff (a random wait up to base * 2^retry, capped)."""
        if retry_after is not None:
            return retry_after + rng.uniform(0, self.base * 0.1)
        return rng.uniform(0, min(self.cap, self.base * 2 ** retry))


class RequestLog:
    """One JSON line per call attempt (never keys, never headers); secrets are masked in messages.

    Each line names the run that wrote it (``run``), and a paid reply's line is written before the
    reply is stored: the log is the record of what was paid even when a run is killed before it
    records its cost (``cost_record`` reads it back on the next run)."""

    def __init__(self, path: str | Path | None, secrets: Iterable[str] = (), *, run: str | None = None) -> None:
        self.run = run
        self._secrets = [s for s in secrets if s]
        self._lock = threading.Lock()
        self.path = Path(path) if path is not None else None
        self._fh: IO[str] | None = None  # opened at the first event: a run that fails early leaves no file

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def write(self, **event: Any) -> None:
        if self.path is None:
            return
        event = {"time": round(time.time(), 3), **({"run": self.run} if self.run else {}), **event}
        line = self.redact(json.dumps(event, ensure_ascii=False))
        with self._lock:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (held for the run; see close)
            self._fh.write(line + "\n")
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


class Client:
    def __init__(self, backend: Backend, *, cache: ResponseCache | None, ledger: Ledger, budget: SpendCap,
                 retry: RetryPolicy = RetryPolicy(), log: RequestLog | None = None,
                 sleep: Callable[[float], None] = time.sleep, seed: int | None = None) -> None:
        self.backend = backend
        self.cache = cache
        self.ledger = ledger
        self.budget = budget
        self.retry = retry
        self.log = log or RequestLog(None)
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._inflight: dict[str, Future] = {}
        self._counted: set[str] = set()  # keys whose cache hit was counted this run

    def key(self, request: Request) -> str:
        return request.key(self.backend.scope)

    def cached(self, request: Request) -> Response | None:
        """The cached reply, counted once per run as a cache hit, or None."""
        if self.cache is None:
            return None
        key = self.key(request)
        hit = self.cache.get(key)
        if hit is not None:
            with self._lock:
                first = key not in self._counted
                self._counted.add(key)
            if first:
                self.ledger.record_cached(self.backend.name, request.model)
        return hit

    def ask(self, request: Request) -> Response:
        """The reply to ``request``: from the cache, or from the API (then cached)."""
        hit = self.cached(request)
        if hit is not None:
            return hit
        key = self.key(request)
        with self._lock:
            shared = self._inflight.get(key)
            if shared is None:
                mine: Future = Future()
                self._inflight[key] = mine
        if shared is not None:
            return shared.result()
        try:
            response = self._call(key, request)
            mine.set_result(response)
            return response
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        finally:
            with self._lock:
                self._inflight.pop(key, None)

    def store(self, key: str, request: Request | None, response: Response, *, model: str = "") -> float | None:
        """Commit a paid reply (direct or from a batch) to the cache and the ledger; returns its cost."""
        model = request.model if request else model
        if self.cache is not None:
            self.cache.put(key, self.backend.name, request, response, model=model)
        with self._lock:
            self._counted.add(key)
        return self.ledger.record(self.backend.name, model, response.usage, batch=response.batch)

    def retrying(self, what: str, call: Callable[[], T]) -> T:
        """Run a non-billed API call (batch status, results) with the same retry policy as requests."""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return call()
            except TransientError as exc:
                if attempt == self.retry.attempts:
                    raise RemoteError(self.log.redact(f"{what}: gave up after {attempt} tries: {exc.reason}")) from None
                self.log.write(backend=self.backend.name, call=what, attempt=attempt, outcome="retry", error=exc.reason)
                self._sleep(self.retry.delay(attempt - 1, exc.retry_after, self._rng))
            except RequestRejected as exc:
                raise RemoteError(self.log.redact(f"{what}: {exc}")) from None
        raise AssertionError("unreachable")

    def _call(self, key: str, request: Request) -> Response:
        reserved = self.budget.reserve(self.budget.worst_case(self.backend.name, request))
        settled = False
        try:
            for attempt in range(1, self.retry.attempts + 1):
                started = time.monotonic()
                event = {"backend": self.backend.name, "model": request.model, "key": key[:16], "attempt": attempt}
                try:
                    response = self.backend.send(request)
                except TransientError as exc:
                    last = attempt == self.retry.attempts
                    wait = 0.0 if last else self.retry.delay(attempt - 1, exc.retry_after, self._rng)
                    self.log.write(**event, outcome="failed" if last else "retry", error=exc.reason,
                                   seconds=round(time.monotonic() - started, 3), wait=round(wait, 3))
                    if last:
                        where = f"{self.backend.name}:{request.model}"
                        raise RequestFailed(self.log.redact(f"{where}: gave up after {attempt} tries: {exc.reason}")) \
                            from None
                    self._sleep(wait)
                    continue
                except RequestRejected as exc:
                    self.log.write(**event, outcome="rejected", error=str(exc))
                    raise RequestFailed(self.log.redact(f"{self.backend.name}:{request.model}: {exc}")) from None
                except FatalRemoteError as exc:
                    self.log.write(**event, outcome="fatal", error=str(exc))
                    raise FatalRemoteError(self.log.redact(f"{self.backend.name}:{request.model}: {exc}")) from None
                # Logged before it is stored: a kill between the two leaves a paid call in the log (asked
                # again, paid again, logged again), never a paid call cached but missing from the log.
                self.log.write(**event, outcome="ok", seconds=round(time.monotonic() - started, 3),
                               input_tokens=response.usage.input_tokens, output_tokens=response.usage.output_tokens,
                               cost_usd=self.ledger.cost(self.backend.name, request.model, response))
                cost = self.store(key, request, response)
                self.budget.settle(reserved, cost)
                settled = True
                return response
            raise AssertionError("unreachable")
        finally:
            if not settled:
                self.budget.release(reserved)
