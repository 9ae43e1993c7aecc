"""Usage and cost per model, and the ``--max-cost`` budget.

The budget never lets spending pass its limit: before a request is sent, its worst case (estimated
input tokens plus every allowed output token, at the model's price) is reserved; a request whose
reservation would pass the limit is not sent (``SpendCapReached``), and the reservation is replaced
by the real cost when the reply arrives. Concurrent and batched requests reserve alike.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import S1Error
from .base import Request, Response, Usage
from .prices import PriceTable

# Input tokens are estimated before sending at one per 3 characters plus a little per message:
# above what Claude's and OpenAI's tokenizers give for English and LaTeX (about 3.5-4).
CHARS_PER_TOKEN = 3
TOKENS_PER_MESSAGE = 8


class SpendCapReached(S1Error):
    """The next request could pass --max-cost; nothing more is sent."""


def estimate_input_tokens(request: Request) -> int:
    return math.ceil(request.text_length() / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * (len(request.messages) + 1)


@dataclass
class ModelUsage:
    backend: str
    model: str
    requests: int = 0  # replies paid for in this run
    batch_requests: int = 0  # of which through a batch API
    cached: int = 0  # replies served from the cache (free)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0  # None when the model has no price

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.cost_usd is not None:
            data["cost_usd"] = round(self.cost_usd, 6)
        return data


class Ledger:
    """Counts every paid reply and cache hit per model; thread-safe."""

    def __init__(self, prices: PriceTable) -> None:
        self.prices = prices
        self._models: dict[tuple[str, str], ModelUsage] = {}
        self._lock = threading.Lock()

    def _entry(self, backend: str, model: str) -> ModelUsage:
        return self._models.setdefault((backend, model), ModelUsage(backend, model))

    def cost(self, backend: str, model: str, response: Response) -> float | None:
        """What a reply costs (None without a price), without counting it."""
        usage = response.usage
        return self.prices.cost(backend, model, usage.input_tokens, usage.output_tokens, batch=response.batch)

    def record(self, backend: str, model: str, usage: Usage, *, batch: bool = False) -> float | None:
        """A paid reply; returns its cost (None without a price)."""
        cost = self.prices.cost(backend, model, usage.input_tokens, usage.output_tokens, batch=batch)
        with self._lock:
            entry = self._entry(backend, model)
            entry.requests += 1
            entry.batch_requests += int(batch)
            entry.input_tokens += usage.input_tokens
            entry.output_tokens += usage.output_tokens
            entry.cost_usd = None if cost is None or entry.cost_usd is None else entry.cost_usd + cost
        return cost

    def record_cached(self, backend: str, model: str) -> None:
        with self._lock:
            self._entry(backend, model).cached += 1

    def models(self) -> list[ModelUsage]:
        with self._lock:
            return [ModelUsage(**asdict(m)) for m in self._models.values()]

    def total_cost(self) -> float | None:
        costs = [m.cost_usd for m in self.models()]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)


class SpendCap:
    """A spending limit in USD for one run, shared by every thread and batch."""

    def __init__(self, limit: float | None, prices: PriceTable) -> None:
        self.limit = limit
        self.prices = prices
        self.spent = 0.0
        self.reserved = 0.0
        self._lock = threading.Lock()

    def worst_case(self, backend: str, request: Request, *, batch: bool = False) -> float:
        cost = self.prices.cost(backend, request.model, estimate_input_tokens(request), request.max_tokens, batch=batch)
        if cost is None:
            return 0.0 if self.limit is None else math.inf
        return cost

    def reserve(self, amount: float) -> float:
        """Hold ``amount`` for a request about to be sent, or raise SpendCapReached."""
        with self._lock:
            if self.limit is not None and self.spent + self.reserved + amount > self.limit:
                raise SpendCapReached(
                    f"stopped before --max-cost {self.limit:g} USD: spent {self.spent:.4f} USD, and the next "
                    f"request could cost up to {amount:.4f} USD")
            self.reserved += amount
            return amount

    def settle(self, reserved: float, actual: float | None) -> None:
        with self._lock:
            self.reserved -= reserved
            self.spent += actual or 0.0

    def release(self, reserved: float) -> None:
        with self._lock:
            self.reserved -= reserved
