"""Everything one command run shares across its model calls: the response cache, the ledger, the
``--max-cost`` budget, the retry policy, the request log, and one client per model.

Commands build an ``LLMSession`` from their options, ask it for a ``Client`` per ``backend:model``
(keys are read from the environment here, and only here), and close it at the end, writing the
run's usage and cost beside their output.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import KEY_VARIABLES, ModelRef, api_key, endpoint, make_backend
from .accounting import Ledger, ModelUsage, SpendCap
from .base import Request, Response, cache_scope
from .batch import BatchProgress, BatchRunner
from .cache import ResponseCache
from .client import Client, RequestLog, RetryPolicy
from .prices import PriceTable


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


class LLMSession:
    def __init__(self, options: SessionOptions, environ: Mapping[str, str] = os.environ) -> None:
        self.options = options
        self.environ = environ
        self.cache = ResponseCache(options.cache_path) if options.cache_path else None
        self.ledger = Ledger(options.prices)
        self.budget = SpendCap(options.max_cost, options.prices)
        secrets = [environ.get(v, "") for v in KEY_VARIABLES.values()]
        self.log = RequestLog(None if options.offline else options.log_path, secrets)
        self.started = time.time()
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
        """Append this run's usage and cost to a JSON file (``runs`` plus running totals) and return it."""
        models = [m.as_dict() for m in self.usage()]
        total = self.ledger.total_cost()
        run = {"started": _iso(self.started), "finished": _iso(time.time()), "status": status, **details,
               "models": models, "cost_usd": None if total is None else round(total, 6)}
        data: dict[str, Any] = {"runs": []}
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                assert isinstance(data.get("runs"), list)
            except (ValueError, AssertionError, AttributeError):
                data = {"runs": []}
        data["runs"].append(run)
        costs = [r.get("cost_usd") for r in data["runs"]]
        data["total_cost_usd"] = None if None in costs else round(sum(costs), 6)
        data["total_requests"] = sum(m.get("requests", 0) for r in data["runs"] for m in r.get("models", []))
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return run

    def close(self) -> None:
        self.log.close()
        if self.cache is not None:
            self.cache.close()


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
