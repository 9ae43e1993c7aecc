"""Anthropic Message Batches: submit, poll with progress, collect into the cache, resume by batch id.

Every submitted batch id is saved in a small JSON state file (beside the output) the moment it
exists, so a run killed while a batch is processing picks the same batch up again instead of paying
for a new one. Results go into the response cache, where the grading code finds them exactly as it
finds direct replies. Only requests that errored transiently, expired or were canceled are
resubmitted (none of those is billed); a request the API rejects is recorded as failed.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .accounting import SpendCapReached
from .anthropic import AnthropicBackend, BatchStatus
from .base import Request
from .client import Client

MAX_BATCH_REQUESTS = 10_000  # the API takes up to 100,000 / 256 MB; smaller batches finish and fail smaller


@dataclass
class BatchProgress:
    batch_id: str
    status: BatchStatus


class BatchRunner:
    def __init__(self, client: Client, backend: AnthropicBackend, state_path: str | os.PathLike, *,
                 poll_interval: float = 30.0, max_rounds: int = 3,
                 on_progress: Callable[[BatchProgress], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.backend = backend
        self.state_path = Path(state_path)
        self.poll_interval = poll_interval
        self.max_rounds = max_rounds
        self.on_progress = on_progress
        self._sleep = sleep
        self.failures: dict[str, str] = {}  # key -> why it will not be answered this run
        self.submitted = 0
        self._state = self._load()

    # ---------------------------------------------------------------------------- state file

    def _load(self) -> dict[str, Any]:
        if not self.state_path.exists():
            return {"backend": self.backend.name, "batches": []}
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            assert isinstance(state.get("batches"), list)
            return state
        except (ValueError, AssertionError, AttributeError):
            raise InputError(f"{self.state_path}: not a batch state file written by s1; move it away to start "
                             "afresh (batches it names may still be running)") from None

    def _save(self) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{self.state_path.name}.", dir=self.state_path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self._state, fh, indent=1)
        os.replace(tmp, self.state_path)

    def pending_batches(self) -> list[str]:
        return [b["id"] for b in self._state["batches"] if not b.get("collected")]

    # ---------------------------------------------------------------------------- running

    def run(self, requests: dict[str, Request]) -> None:
        """Get a reply into the cache for every request, or record why not in ``failures``.

        Raises SpendCapReached (after collecting whatever was submitted) when --max-cost leaves no
        room for the rest.
        """
        self.resume()
        cache = self.client.cache
        todo = {k: r for k, r in requests.items()
                if (cache is None or k not in cache) and k not in self.failures}
        reasons: dict[str, str] = {}
        for _ in range(self.max_rounds):
            if not todo:
                return
            items = list(todo.items())
            fitting, reserved = self._fit_budget(items)
            if not fitting:
                raise self._over_budget(len(items))
            retry = set()
            for start in range(0, len(fitting), MAX_BATCH_REQUESTS):
                chunk = fitting[start:start + MAX_BATCH_REQUESTS]
                batch_id = self.client.retrying("create message batch", lambda c=chunk: self.backend.create_batch(c))
                self._state["batches"].append({"id": batch_id, "requests": len(chunk), "submitted": time.time(),
                                               "collected": False})
                self._save()
                self.submitted += len(chunk)
            try:
                for batch_id in self.pending_batches():
                    retry |= self._wait_and_collect(batch_id, dict(fitting), reasons)
            finally:
                self.client.budget.release(reserved)
            if len(fitting) < len(items):
                for key in retry:
                    self.failures.setdefault(key, reasons.get(key, "not answered"))
                raise self._over_budget(len(items) - len(fitting))
            todo = {k: requests[k] for k in retry if k in requests}
        for key in todo:
            self.failures[key] = f"no reply after {self.max_rounds} batch rounds ({reasons.get(key, 'unknown')})"

    def resume(self) -> set[str]:
        """Collect the batches a killed run left behind; returns keys worth resubmitting."""
        retry: set[str] = set()
        for batch_id in self.pending_batches():
            retry |= self._wait_and_collect(batch_id, {}, {})
        return retry

    def _fit_budget(self, items: list[tuple[str, Request]]) -> tuple[list[tuple[str, Request]], float]:
        budget, name = self.client.budget, self.backend.name
        fitting, reserved = [], 0.0
        for key, request in items:
            try:
                reserved += budget.reserve(budget.worst_case(name, request, batch=True))
            except SpendCapReached:
                break
            fitting.append((key, request))
        return fitting, reserved

    def _over_budget(self, left: int) -> SpendCapReached:
        budget = self.client.budget
        return SpendCapReached(f"stopped before --max-cost {budget.limit:g} USD: spent {budget.spent:.4f} USD; "
                              f"{left} batch request(s) not submitted")

    def _wait_and_collect(self, batch_id: str, requests: dict[str, Request], reasons: dict[str, str]) -> set[str]:
        while True:
            status = self.client.retrying(f"message batch {batch_id}", lambda: self.backend.batch_status(batch_id))
            if self.on_progress:
                self.on_progress(BatchProgress(batch_id, status))
            if status.ended:
                break
            self._sleep(self.poll_interval)
        results = self.client.retrying(f"results of message batch {batch_id}",
                                       lambda: list(self.backend.batch_results(batch_id)))
        retry: set[str] = set()
        for result in results:
            key = result.custom_id
            if result.response is not None:
                if self.client.cache is not None and key in self.client.cache:
                    # Collected before by a run killed before it marked the batch collected (only uncached
                    # requests are ever submitted): stored, logged and counted then, so not again.
                    continue
                request = requests.get(key)
                model = request.model if request else str(result.response.raw.get("model", ""))
                # Logged before it is stored, as direct calls are (client.Client._call): the log is what
                # a killed run's cost is rebuilt from.
                self.client.log.write(backend=self.backend.name, model=model, batch=batch_id, key=key[:16],
                                      outcome="ok", input_tokens=result.response.usage.input_tokens,
                                      output_tokens=result.response.usage.output_tokens,
                                      cost_usd=self.client.ledger.cost(self.backend.name, model, result.response))
                cost = self.client.store(key, request, result.response, model=model)
                self.client.budget.settle(0.0, cost)
            else:
                self.client.log.write(backend=self.backend.name, batch=batch_id, key=key[:16], outcome=result.outcome,
                                      error=result.error)
                reasons[key] = result.error or result.outcome
                if result.retryable:
                    retry.add(key)
                else:
                    self.failures[key] = f"the API rejected the request ({result.error})"
        for entry in self._state["batches"]:
            if entry["id"] == batch_id:
                entry["collected"] = True
        self._save()
        return retry
