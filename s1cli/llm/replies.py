"""What a reply says beyond its text, read from the JSON body each API returns.

Both a fresh reply and one served from the cache (which keeps the whole body) are read here, so
a cached reply carries the same thinking, stop reason and token counts as the paid one did.

- Anthropic Messages: ``thinking`` blocks are the thinking, ``redacted_thinking`` blocks are
  counted (their content is encrypted, so nothing of it is shown), ``text`` blocks are the text,
  ``stop_reason`` is the stop reason. The usage has no separate count of thinking tokens.
- OpenAI-compatible chat: ``message.reasoning_content`` (DeepSeek, vLLM) or ``message.reasoning``
  (newer vLLM, OpenRouter) is the thinking, ``finish_reason`` the stop reason, and
  ``usage.completion_tokens_details.reasoning_tokens`` the provider's count of thinking tokens.
  Thinking written into the content in tags (``<think>``, Gemini's ``<thought>``) is left in the
  text: splitting it off is the caller's choice (``generate`` does, a judge does not need to).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ReplyDetails:
    thinking: str | None = None  # None: the API returned no thinking apart from the text
    thinking_redacted: int = 0  # redacted (encrypted) thinking blocks
    stop: str | None = None  # the API's stop reason as it wrote it (end_turn, max_tokens, stop, length, ...)
    reasoning_tokens: int | None = None  # the provider's own count of thinking tokens, when it gives one


def anthropic_text(raw: Mapping[str, Any]) -> str:
    return "".join(block.get("text") or "" for block in _blocks(raw) if block.get("type") == "text")


def anthropic_details(raw: Mapping[str, Any]) -> ReplyDetails:
    blocks = _blocks(raw)
    thoughts = [block.get("thinking") or "" for block in blocks if block.get("type") == "thinking"]
    redacted = sum(1 for block in blocks if block.get("type") == "redacted_thinking")
    return ReplyDetails("\n\n".join(thoughts) if thoughts else None, redacted, raw.get("stop_reason"))


def chat_message(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """The first choice's message; raises KeyError, IndexError or TypeError when there is none."""
    message = raw["choices"][0]["message"]
    if not isinstance(message, Mapping):
        raise TypeError("message is not an object")
    return message


def chat_text(raw: Mapping[str, Any]) -> str:
    return chat_message(raw).get("content") or ""


def chat_details(raw: Mapping[str, Any]) -> ReplyDetails:
    try:
        message, choice = chat_message(raw), raw["choices"][0]
    except (KeyError, IndexError, TypeError):
        return ReplyDetails()
    thinking = message.get("reasoning_content") or message.get("reasoning") or None
    usage = raw.get("usage")
    counts = usage.get("completion_tokens_details") if isinstance(usage, Mapping) else None
    reasoning = counts.get("reasoning_tokens") if isinstance(counts, Mapping) else None
    return ReplyDetails(thinking if isinstance(thinking, str) else None, 0, choice.get("finish_reason"),
                        int(reasoning) if isinstance(reasoning, (int, float)) else None)


def details(backend: str, raw: Mapping[str, Any]) -> ReplyDetails:
    """The details of a reply from ``backend`` (``anthropic`` or ``openai``)."""
    if not isinstance(raw, Mapping):
        return ReplyDetails()
    return anthropic_details(raw) if backend == "anthropic" else chat_details(raw)


def _blocks(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = raw.get("content")
    return [block for block in content if isinstance(block, Mapping)] if isinstance(content, list) else []
