"""Everything one command run shares across its model calls: the response cache, the ledger, the
``--max-cost`` budget, the retry policy, the request log, and one client per model.

Commands build an ``LLMSession`` from their options, ask it for a ``Client`` per ``backend:model``
(keys are read from the environment here, and only here), and close it at the end, writing the
run's usage and cost beside their output.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import KEY_VARIABLES, ModelRef, api_key, cost_record, endpoint, make_backend
from .accounting import Ledger, ModelUsage, SpendCap
from .base import Request, Response, cache_scope
from .batch import BatchProgress, BatchRunner
from .cache import ResponseCache
from .client import Client, RequestLog, RetryPolicy
from .prices import PriceTable

CHECKPOINT_CALLS = 100  # paid calls after which the provisional cost entry is rewritten, whatever the time


class OfflineBackend:
    """Stands in for a backend where nothing may be sent (``--dry-run``): keys and cache lookups only."""

    def __init__(self, name: str, scope: str) -> None:
        self.name = name
        self.scope = scope  # as the real backend's, so a dry run finds the same cached replies

    def send(self, request: Request) -> Response:
        raise AssertionError("a dry run sends nothing")


@dataclass
class SessionOptions:
    cache_path: Path | None
    prices: PriceTable
    max_cost: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 120.0
    base_url: str | None = None
    log_path: Path | None = None
    offline: bool = False  # dry run: build no backend, need no key
    checkpoint_seconds: float = 10.0  # how often a run rewrites its provisional cost entry while it pays


class LLMSession:
    def __init__(self, options: SessionOptions, environ: Mapping[str, str] = os.environ) -> None:
        self.options = options
        self.environ = environ
        self.cache = ResponseCache(options.cache_path) if options.cache_path else None
        self.ledger = Ledger(options.prices)
        self.budget = SpendCap(options.max_cost, options.prices)
        secrets = [environ.get(v, "") for v in KEY_VARIABLES.values()]
        self.run_id = uuid.uuid4().hex[:12]  # names this run's lines in the request log and its cost entry
        self.log = RequestLog(None if options.offline else options.log_path, secrets, run=self.run_id)
        self.started = time.time()
        self._checkpoint: tuple[float, int] = (0.0, 0)  # (when, paid calls) of the last cost-record write
        self._backends: dict[str, Any] = {}
        self._clients: dict[str, Client] = {}

    def client(self, ref: ModelRef) -> Client:
        name = str(ref)
        if name not in self._clients:
            if self.options.offline:
                url = endpoint(ref.backend, self.options.base_url, self.environ)
                backend = OfflineBackend(ref.backend, cache_scope(ref.backend, url))
            else:
                backend = self._backends.get(ref.backend)
                if backend is None:
                    key = api_key(ref.backend, base_url=self.options.base_url, environ=self.environ)
                    backend = make_backend(ref, key=key, base_url=self.options.base_url, timeout=self.options.timeout,
                                           environ=self.environ)
                    self._backends[ref.backend] = backend
            self._clients[name] = Client(backend, cache=self.cache, ledger=self.ledger, budget=self.budget,
                                         retry=self.options.retry, log=self.log)
        return self._clients[name]

    def batch_runner(self, ref: ModelRef, state_path: Path, *, poll_interval: float,
                     on_progress: Callable[[BatchProgress], None] | None = None) -> BatchRunner:
        client = self.client(ref)
        return BatchRunner(client, client.backend, state_path, poll_interval=poll_interval,  # type: ignore[arg-type]
                           on_progress=on_progress)

    def usage(self) -> list[ModelUsage]:
        return self.ledger.models()

    def record_run(self, path: Path, *, status: str, details: dict[str, Any]) -> dict[str, Any]:
        """Put this run's usage and cost in the cost record (``runs`` plus running totals), after
        rebuilding from the request log the entries of runs that were killed before recording
        theirs, and return this run's entry."""
        run = self._entry(status, details)
        data = cost_record.load(path)
        if self.log.path is not None:
            cost_record.reconcile(data, self.log.path, current=self.run_id)
        cost_record.upsert(data, run)
        cost_record.save(path, data)
        self._checkpoint = (time.monotonic(), self._paid())
        return run

    def checkpoint(self, path: Path, *, details: dict[str, Any]) -> None:
        """Rewrite this run's provisional entry (status ``running``) in the cost record when it has paid
        for calls since the last write and ``checkpoint_seconds`` or ``CHECKPOINT_CALLS`` calls have
        passed (the first paid call writes at once): a killed run leaves a record of what it paid."""
        paid = self._paid()
        at, written = self._checkpoint
        if paid == written or (at and time.monotonic() - at < self.options.checkpoint_seconds
                               and paid - written < CHECKPOINT_CALLS):
            return
        data = cost_record.load(path)
        cost_record.upsert(data, self._entry(cost_record.RUNNING, details))
        cost_record.save(path, data)
        self._checkpoint = (time.monotonic(), paid)

    def _paid(self) -> int:
        return sum(m.requests for m in self.ledger.models())

    def _entry(self, status: str, details: dict[str, Any]) -> dict[str, Any]:
        total = self.ledger.total_cost()
        return {"run_id": self.run_id, "started": cost_record.iso(self.started),
                "finished": cost_record.iso(time.time()), "status": status, **details,
                "models": [m.as_dict() for m in self.usage()], "cost_usd": None if total is None else round(total, 6)}

    def close(self) -> None:
        self.log.close()
        if self.cache is not None:
            self.cache.close()
