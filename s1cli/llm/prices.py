"""What model calls cost: one price table, overridable from a JSON file.

Prices are USD per million tokens (input, output) at the standard rate, as the providers list
them; Anthropic's Message Batches bill half. A model matches the longest entry its id starts with
(``claude-3-5-sonnet`` covers ``claude-3-5-sonnet-20241022``). Providers change prices: check
them, and pass ``--prices FILE`` with ``{"anthropic:MODEL": {"input": 3.0, "output": 15.0}}`` (or
``[3.0, 15.0]``) to override or add entries, e.g. ``{"openai:my-vllm-model": [0, 0]}`` for a local
server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

PRICES: dict[str, tuple[float, float]] = {
    "anthropic:claude-opus-4-5": (5.0, 25.0),
    "anthropic:claude-opus-4-1": (15.0, 75.0),
    "anthropic:claude-opus-4": (15.0, 75.0),
    "anthropic:claude-sonnet-4": (3.0, 15.0),
    "anthropic:claude-haiku-4-5": (1.0, 5.0),
    "anthropic:claude-3-7-sonnet": (3.0, 15.0),
    "anthropic:claude-3-5-sonnet": (3.0, 15.0),
    "anthropic:claude-3-5-haiku": (0.8, 4.0),
    "anthropic:claude-3-opus": (15.0, 75.0),
    "anthropic:claude-3-haiku": (0.25, 1.25),
    "openai:gpt-4o-mini": (0.15, 0.6),
    "openai:gpt-4o": (2.5, 10.0),
    "openai:gpt-4.1-nano": (0.1, 0.4),
    "openai:gpt-4.1-mini": (0.4, 1.6),
    "openai:gpt-4.1": (2.0, 8.0),
    "openai:o3-mini": (1.1, 4.4),
    "openai:o4-mini": (1.1, 4.4),
}
BATCH_DISCOUNT = {"anthropic": 0.5}


@dataclass(frozen=True)
class Price:
    input: float  # USD per million input tokens
    output: float  # USD per million output tokens

    def cost(self, input_tokens: int, output_tokens: int, scale: float = 1.0) -> float:
        return scale * (input_tokens * self.input + output_tokens * self.output) / 1e6


class PriceTable:
    def __init__(self, overrides: dict[str, Price] | None = None) -> None:
        self._prices = {name: Price(*pair) for name, pair in PRICES.items()}
        self._prices.update(overrides or {})

    @classmethod
    def load(cls, path: str | None) -> PriceTable:
        if path is None:
            return cls()
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the price file ({exc.strerror})") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a JSON object of \"backend:model\": {{\"input\": .., \"output\": ..}}")
        return cls({name: _price(path, name, value) for name, value in data.items()})

    def lookup(self, backend: str, model: str) -> Price | None:
        name = f"{backend}:{model}"
        matches = [entry for entry in self._prices if name.startswith(entry)]
        return self._prices[max(matches, key=len)] if matches else None

    def cost(self, backend: str, model: str, input_tokens: int, output_tokens: int, *,
             batch: bool = False) -> float | None:
        price = self.lookup(backend, model)
        if price is None:
            return None
        return price.cost(input_tokens, output_tokens, BATCH_DISCOUNT.get(backend, 1.0) if batch else 1.0)


def _price(path: str, name: str, value: Any) -> Price:
    if ":" not in name:
        raise ConfigError(f"{path}: price entry {name!r} must be named backend:model, e.g. anthropic:{name}")
    try:
        if isinstance(value, dict):
            return Price(float(value["input"]), float(value["output"]))
        if isinstance(value, list) and len(value) == 2:
            return Price(float(value[0]), float(value[1]))
    except (KeyError, TypeError, ValueError):
        pass
    raise ConfigError(f"{path}: price entry {name!r} must be {{\"input\": USD, \"output\": USD}} per million tokens")
