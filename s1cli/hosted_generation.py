"""``s1 generate`` on hosted chat models: Claude through the Messages API with extended thinking
(``anthropic:MODEL``) and OpenAI-compatible chat APIs (``openai-chat:MODEL``: DeepSeek-R1 style
``reasoning_content``, ``<think>`` tags, Gemini's OpenAI endpoint with its ``<thought>`` tags).

A hosted API decides on its own where thinking ends: the most a caller can do is set the API's
own thinking budget. So nothing here forces tokens. A row records which happened (``forcing``:
``api-budget`` when the API was given ``budget`` as its thinking cap, ``none`` otherwise); exact
budget forcing, waits and a thinking minimum need the completions engine (``openai:``) or a local
one (``hf:``, ``vllm:``).

The calls go through ``llm.rows`` like ``grade``'s and ``classify-msc``'s: one request per (row,
sample), cached (the sample index is part of the cache key, so samples are separate requests and a
rerun pays for none of them), retried, batched (Claude), capped by ``--max-cost``, resumable by
(id, sample, budget).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from .errors import ConfigError, InputError
from .llm.base import Request, Response
from .llm.client import Client
from .llm.rows import Ask, CallEstimate, RowCalls
from .refs import ModelRef
from .schema import Row
from .tokens import TokenCounter

# --model prefixes of hosted models → the client layer's backend. "openai-chat" rather than "openai",
# which names the completions engine (token ids, exact forcing); grade's --judge openai: is chat.
HOSTED = {"anthropic": "anthropic", "openai-chat": "openai"}
ANTHROPIC_MIN_BUDGET = 1024  # the Messages API refuses a smaller thinking budget
GEMINI_HOST = "generativelanguage.googleapis.com"
OPENAI_HOST = "api.openai.com"
THINKING_APIS = ("auto", "gemini", "none")
PROMPT_VERSION = "generate-v1"
STOP = {"end_turn": "stop", "stop_sequence": "stop", "stop": "stop", "max_tokens": "length", "length": "length"}
# Thinking written into the reply's content: R1-style <think>, Gemini's <thought> (include_thoughts).
THOUGHT_TAGS = (("<think>", "</think>"), ("<thought>", "</thought>"))


def hosted_ref(spec: str) -> ModelRef | None:
    """The client layer's model for ``anthropic:MODEL`` / ``openai-chat:MODEL``; None for any other --model."""
    prefix, sep, name = spec.strip().partition(":")
    if sep and prefix in HOSTED and name.strip():
        return ModelRef(HOSTED[prefix], name.strip())
    return None


def thinking_api(ref: ModelRef, base_url: str | None, choice: str) -> str:
    """How thinking is asked for: ``anthropic`` (extended thinking), ``gemini`` (Google's
    thinking_config through its OpenAI endpoint) or ``none`` (the model thinks as it does)."""
    if choice not in THINKING_APIS:
        raise ConfigError(f"--thinking-api {choice!r}: choose {', '.join(THINKING_APIS)}")
    if ref.backend == "anthropic":
        if choice != "auto":
            raise ConfigError(f"--thinking-api {choice}: applies to openai-chat: models; Claude's thinking is "
                              "its extended thinking, set by --max-thinking-tokens")
        return "anthropic"
    if choice == "auto":
        return "gemini" if urlparse(base_url or "").hostname == GEMINI_HOST else "none"
    return choice


@dataclass(frozen=True)
class HostedSpec:
    """What a hosted generation asks. ``temperature``, ``top_p`` and ``seed`` are None unless the
    user gave them: hosted APIs then use their own defaults (and some refuse any other value)."""

    model: str  # as given to --model: the output's model column
    ref: ModelRef  # the client layer's backend:model
    thinking: str = "none"  # thinking_api(): anthropic, gemini or none
    budget: int | None = None  # --max-thinking-tokens: the API's thinking budget
    max_answer_tokens: int = 1024
    max_tokens: int | None = None  # the request's max_tokens (thinking and answer); None: budget + answer
    n: int = 1
    system: str | None = None
    prompt_column: str = "question"
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    reasoning_effort: str | None = None
    endpoint: str | None = None  # the base URL (None: the provider's own)

    def __post_init__(self) -> None:
        for problem in (self._general_problem(), self._anthropic_problem(), self._chat_problem()):
            if problem:
                raise ConfigError(problem)

    def _general_problem(self) -> str | None:
        if self.n < 1:
            return f"--n must be at least 1, got {self.n}"
        if self.max_answer_tokens < 1:
            return f"--max-answer-tokens must be at least 1, got {self.max_answer_tokens}"
        if self.budget is not None and self.budget < 1:
            return f"--max-thinking-tokens must be at least 1, got {self.budget}"
        if self.max_tokens is not None and self.max_tokens < 1:
            return f"--max-tokens must be at least 1, got {self.max_tokens}"
        if self.temperature is not None and self.temperature < 0:
            return f"--temperature must be 0 or more, got {self.temperature}"
        if self.top_p is not None and not 0 < self.top_p <= 1:
            return f"--top-p must be in (0, 1], got {self.top_p}"
        if self.budget is not None and self.reasoning_effort:
            return ("--reasoning-effort and --max-thinking-tokens both set how much the model thinks (Gemini refuses "
                    "both at once); give one")
        return None

    def _anthropic_problem(self) -> str | None:
        if self.thinking != "anthropic":
            return None
        if self.reasoning_effort:
            return ("--reasoning-effort applies to openai-chat: models; Claude's thinking is set by "
                    "--max-thinking-tokens")
        if self.seed is not None:
            return "--seed: the Anthropic API takes no seed; leave --seed out (each sample is its own request)"
        if self.budget is None:
            return None
        if self.budget < ANTHROPIC_MIN_BUDGET:
            return (f"--max-thinking-tokens {self.budget}: Claude's extended thinking takes a budget of at least "
                    f"{ANTHROPIC_MIN_BUDGET} tokens (the API's minimum)")
        if self.max_tokens is not None and self.max_tokens <= self.budget:
            return (f"--max-tokens {self.max_tokens} must be above --max-thinking-tokens {self.budget}: the API's "
                    "max_tokens covers the thinking and the answer")
        if self.temperature is not None and self.temperature != 1:
            return (f"--temperature {self.temperature:g}: Claude with extended thinking samples at temperature 1 "
                    "only; leave --temperature out")
        if self.top_p is not None and self.top_p < 0.95:
            return f"--top-p {self.top_p:g}: Claude with extended thinking takes top_p from 0.95 to 1 only"
        return None

    def _chat_problem(self) -> str | None:
        if self.ref.backend != "openai" or self.budget is None or self.thinking == "gemini":
            return None
        return (f"--max-thinking-tokens: {self.model} has no thinking budget parameter s1 knows (only Gemini's "
                "endpoint has one: --thinking-api gemini); cap thinking exactly with --model openai:NAME (a "
                "completions server) or hf:/vllm:, or leave the option out")

    # ------------------------------------------------------------------------------ requests

    @property
    def forcing(self) -> str:
        return "api-budget" if self.budget is not None else "none"

    @property
    def request_max_tokens(self) -> int:
        return self.max_tokens if self.max_tokens is not None else (self.budget or 0) + self.max_answer_tokens

    def params(self, row_id: str, sample: int) -> dict[str, Any]:
        """The body fields beyond model, messages and max_tokens."""
        params: dict[str, Any] = {}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.top_p is not None:
            params["top_p"] = self.top_p
        if self.thinking == "anthropic" and self.budget is not None:
            params["thinking"] = {"type": "enabled", "budget_tokens": self.budget}
        if self.thinking == "gemini":
            config: dict[str, Any] = {"include_thoughts": True}
            if self.budget is not None:
                config["thinking_budget"] = self.budget
            # As Google documents it for the OpenAI SDK (extra_body={"extra_body": {"google": ...}}), the
            # JSON body carries a field named extra_body.
            params["extra_body"] = {"google": {"thinking_config": config}}
        if self.reasoning_effort:
            params["reasoning_effort"] = self.reasoning_effort
        if self.seed is not None:  # one seed per (id, sample), so samples differ and reruns repeat
            digest = hashlib.sha256(f"{self.seed}\x00{row_id}/{sample}".encode()).digest()
            params["seed"] = int.from_bytes(digest[:4], "big") >> 1
        if self.ref.backend == "openai" and urlparse(self.endpoint or f"https://{OPENAI_HOST}").hostname == OPENAI_HOST:
            params["max_completion_tokens"] = self.request_max_tokens  # OpenAI's reasoning models refuse max_tokens
        return params

    def request(self, row: Row) -> Request:
        """The request for one (row, sample); the sample index is part of its cache key."""
        sample = int(row["sample"])
        return Request.make(self.ref.model, [{"role": "user", "content": str(row[self.prompt_column])}],
                            self.request_max_tokens, system=self.system, params=self.params(str(row["id"]), sample),
                            prompt_version=f"{PROMPT_VERSION} sample {sample}")

    def jobs(self, rows: Iterable[Row], holds: Callable[[str], bool] = lambda row_id: True) -> list[Row]:
        """One row per (input row, sample), keyed (id, sample, budget) as local generation keys them."""
        return [{**row, "model": self.model, "sample": sample, "budget": self.budget}
                for row in rows if holds(str(row["id"])) for sample in range(self.n)]


def check_prompts(rows: Sequence[Row], column: str, source: str) -> None:
    """Refuse a row without a question before anything is sent (the API would refuse the request)."""
    for number, row in enumerate(rows, start=1):
        value = row.get(column)
        if not isinstance(value, str) or not value.strip():
            what = "is empty" if value is None or isinstance(value, str) else f"holds {type(value).__name__}, not text"
            raise InputError(f"{source}: row {number} (id {row.get('id')!r}): column {column!r} {what}")


# ------------------------------------------------------------------------------------------ replies


def split_thought_tags(content: str) -> tuple[str, str]:
    """(thinking, answer) from a reply that writes its thinking into the content: a leading
    ``<think>…</think>`` or ``<thought>…</thought>``, or (R1 templates open ``<think>`` in the prompt)
    text before a lone ``</think>``. A reply cut off while thinking has no closing tag: all thinking."""
    text = content.lstrip()
    for opening, closing in THOUGHT_TAGS:
        if text.startswith(opening):
            thought, closed, answer = text[len(opening):].partition(closing)
            return thought.strip(), answer.lstrip() if closed else ""
    if "</think>" in content and "<think>" not in content:
        thought, _, answer = content.partition("</think>")
        return thought.strip(), answer.lstrip()
    return "", content


@dataclass(frozen=True)
class Answered:
    response: Response
    seconds: float | None  # the call's wall time this run; None when the reply came from the cache


def finish_reason(stop: str | None) -> str | None:
    """stop / length from the API's stop reason; another reason (refusal, content_filter) as written."""
    return None if stop is None else STOP.get(stop, stop)


def output_row(spec: HostedSpec, row: Row, answered: Answered, counter: TokenCounter) -> Row:
    """The table contract's generation columns for one reply, plus what only a hosted reply has:
    redacted thinking, who counted the tokens, the billed tokens, and which forcing happened."""
    response = answered.response
    thinking, text = response.thinking or "", response.text
    if not thinking:
        thinking, text = split_thought_tags(text)
    reasoning = response.reasoning_tokens
    if reasoning is not None and (reasoning > 0 or not thinking):
        thinking_tokens, answer_tokens, source = reasoning, max(0, response.usage.output_tokens - reasoning), "api"
    else:
        thinking_tokens, answer_tokens, source = counter.count(thinking), counter.count(text), counter.spec
    return {
        **row,
        "thinking": thinking,
        "thinking_redacted": response.thinking_redacted,
        "response": text,
        "thinking_tokens": thinking_tokens,
        "response_tokens": answer_tokens,
        "token_source": source,
        "input_tokens": response.usage.input_tokens,
        "output_tokens": response.usage.output_tokens,
        "waits": 0,
        "finish": finish_reason(response.stop),
        "forcing": spec.forcing,
        "seconds": None if answered.seconds is None else round(answered.seconds, 3),
    }


def generation_calls(spec: HostedSpec, counter: TokenCounter) -> RowCalls:
    """The model calls of a hosted generation, for ``RowJob.call``: one ask, labelled ``model``."""

    def work(asks: Mapping[str, Ask]) -> Callable[[Row], Answered]:
        ask = asks["model"]

        def one(row: Row) -> Answered:
            started = time.monotonic()
            response = ask(spec.request(row))
            return Answered(response, None if response.cached else time.monotonic() - started)

        return one

    return RowCalls({"model": spec.ref}, work, lambda row, answered: output_row(spec, row, answered, counter),
                    thread_name="s1-generate")


def estimate(rows: Iterable[Row], spec: HostedSpec, client: Client, *, batch: bool) -> CallEstimate:
    """What generating ``rows`` (one per sample) would send and cost; nothing is sent."""
    entry = CallEstimate("model", spec.model)
    for row in rows:
        entry.add(spec.request(row), client, spec.ref, batch=batch)
    return entry
