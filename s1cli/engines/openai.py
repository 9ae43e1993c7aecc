"""The OpenAI-compatible engine: budget forcing over any completions server (``vllm serve``,
llama.cpp, ...), driven multi-round as the s1 repository does.

Prompts are sent as token ids (the completions API accepts them), so what the model sees is
exactly what the local tokenizer built. Replies come back as text, or as token ids where the
server offers them (vLLM's ``return_token_ids``); stop markers are sent as strings (and as
``stop_token_ids`` where understood). The API key comes from ``OPENAI_API_KEY`` if set.
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import ConfigError, RemoteError
from ..forcing import Budget, Continuation, ForcingTokens, Outcome, multi_round
from ..hub import offline_unless_reachable
from .base import BoundContinuer, Request, Sampling, eos_ids_of, stream_seed

RETRY_STATUSES = {408, 429, 500, 502, 503, 504, 529}


class OpenAIEngine:
    drivers = ("multi",)

    def __init__(self, name: str, base_url: str, tokenizer: Any, eos_ids: Sequence[int], *, concurrency: int = 16,
                 timeout: float = 600.0, attempts: int = 3, backoff: float = 0.25) -> None:
        self.name, self.model = f"openai:{name}", name
        self.url = base_url.rstrip("/") + "/completions"
        self.tokenizer, self.eos_ids = tokenizer, list(eos_ids)
        self.concurrency, self.timeout, self.attempts, self.backoff = concurrency, timeout, attempts, backoff
        self._key = os.environ.get("OPENAI_API_KEY")
        self._pool = ThreadPoolExecutor(max_workers=concurrency)

    @classmethod
    def load(cls, name: str, *, base_url: str | None = None, tokenizer: str | None = None, **_: Any) -> OpenAIEngine:
        from transformers import AutoTokenizer, GenerationConfig

        if not base_url:
            raise ConfigError(f"--model openai:{name} needs --base-url, e.g. --base-url http://127.0.0.1:8000/v1")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"--base-url {base_url!r}: expected an http:// or https:// URL")
        source = tokenizer or name
        if not Path(source).exists():
            offline_unless_reachable()
        try:
            tok = AutoTokenizer.from_pretrained(source)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"--tokenizer {source}: cannot load a tokenizer ({first}); "
                              "pass --tokenizer with a local path") from None
        config = None
        if Path(source).is_dir():
            try:
                config = GenerationConfig.from_pretrained(source)
            except OSError:
                config = None
        return cls(name, base_url, tok, eos_ids_of(tok, config))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def force(self, requests: Sequence[Request], budget: Budget, tokens: ForcingTokens, sampling: Sampling,
              driver: str = "multi") -> list[Outcome]:
        continuer = BoundContinuer(self, sampling)
        return multi_round(continuer, [r.prompt_ids for r in requests], [r.key for r in requests], budget, tokens)

    def continue_batch(self, requests: Sequence[Continuation], sampling: Sampling) -> list[list[int]]:
        return list(self._pool.map(lambda r: self.complete(r, sampling), requests))

    # ------------------------------------------------------------------ one request

    def body(self, request: Continuation, sampling: Sampling) -> dict[str, Any]:
        """The completions request for one continuation (public so tests can check it)."""
        stop_texts = [*request.stop.texts, *(self.tokenizer.convert_ids_to_tokens(i) for i in sorted(request.stop.ids))]
        return {
            "model": self.model,
            "prompt": list(request.prefix),
            "max_tokens": request.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "seed": stream_seed(sampling.seed, request.key) % (1 << 31),
            "stop": stop_texts,
            # vLLM extensions, ignored by servers that do not know them:
            "stop_token_ids": sorted(request.stop.ids),
            "skip_special_tokens": False,
            "include_stop_str_in_output": True,
            "return_token_ids": True,
        }

    def complete(self, request: Continuation, sampling: Sampling) -> list[int]:
        choice = self._post(self.body(request, sampling))["choices"][0]
        ids = choice.get("token_ids")
        if not isinstance(ids, list):
            ids = self.tokenizer(choice.get("text") or "", add_special_tokens=False)["input_ids"]
        ids = list(ids)[: request.max_tokens]
        # A server that stopped at a marker without echoing it: put the marker back so the
        # driver knows thinking (or the answer) ended rather than ran out of budget.
        if choice.get("finish_reason") == "stop" and not request.stop.match(ids) and len(ids) < request.max_tokens:
            ids.extend(request.stop.example())
        return ids

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        problem = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 2))  # backoff with jitter
            try:
                request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", errors="replace").strip().replace("\n", " ")[:200]
                problem = f"{self.url} returned HTTP {exc.code}" + (f": {detail}" if detail else "")
                if exc.code not in RETRY_STATUSES:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                reason = getattr(exc, "reason", exc)
                problem = f"cannot reach {self.url}: {reason}"
            except json.JSONDecodeError:
                problem = f"{self.url} did not return JSON"
                break
        raise RemoteError(f"{problem} (model openai:{self.model})")
