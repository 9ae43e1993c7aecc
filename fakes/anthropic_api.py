"""A real HTTP server on 127.0.0.1 standing in for the Anthropic Messages + Message Batches APIs and an
OpenAI-compatible chat API, with scripted replies and injected faults.

Replies are scripted by markers inside the prompt: ``<<yes>>`` / ``<<no>>`` give a short rationale
and that verdict; ``<<garbled>>`` gives no verdict the first time and "No" when asked again;
``<<garbled-twice>>`` never gives one. Faults are queued (``fail(...)``) and consumed by the next
model calls: an HTTP status with headers, a dropped connection, a slow reply, or an empty 200
reply. ``hold_after(n)`` makes every call after the n-th hang until ``release()`` (to kill a client
mid-run); a held call whose client has gone by then is dropped unanswered, so ``usage`` holds only
replies sent to a live client.

Thinking, as the real APIs return it: a Messages request with ``thinking`` enabled gets a
``thinking`` block before the text (and a ``redacted_thinking`` block when the prompt holds
``<<redacted>>``); the request is refused with 400 as the API refuses it (a budget under 1024,
max_tokens not above the budget, a temperature other than 1, top_p under 0.95). Chat replies carry
thinking as ``chat_reasoning`` says (``reasoning_content``, ``reasoning``, ``think-tags`` or
``none``), and in Gemini's ``<thought>`` tags when the body asks for Google's ``include_thoughts``;
``usage.completion_tokens_details.reasoning_tokens`` counts it unless ``report_reasoning_tokens``
is off. ``<<length>>`` in the prompt cuts the reply off while thinking (stop reason max_tokens /
length).
"""

from __future__ import annotations

import hashlib
import json
import select
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from .local import JSONHandler, LocalServer

KEY = "sk-test-7f3a9c1e-SECRET-do-not-log"


@dataclass
class Fault:
    kind: str  # status, drop, slow, empty (200 with no body)
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def default_reply(prompt: str, turns: int) -> str:
    """Scripted judge replies from markers the tests put in the attempts."""
    if "<<garbled-twice>>" in prompt:
        return "I would need more context to say."
    if "<<garbled>>" in prompt:
        return "Hmm, hard to tell." if turns == 1 else "No"
    if "<<yes>>" in prompt:
        return "The attempt reaches the reference answer.\n\nYes"
    if "<<no>>" in prompt:
        return "The attempt's final answer differs from the reference.\n\n**No**"
    return "Verdict: No"


def default_thinking(prompt: str) -> str:
    """A scripted trace: the question's last line restated, then steps."""
    last = prompt.strip().splitlines()[-1] if prompt.strip() else ""
    return f"The question: {last[:80]}\nStep 1: read it. Step 2: work it out. Step 3: check the result."


def tokens(text: str) -> int:
    return len(text) // 4 + 1 if text else 0


def digest(body: dict[str, Any]) -> str:
    """Identifies a model call by its content (model, system, messages), as the client's cache does."""
    content = {k: body.get(k) for k in ("model", "system", "messages")}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


class FakeAPI(LocalServer):
    def __init__(self, *, key: str = KEY, reply: Callable[[str, int], str] = default_reply, batch_polls: int = 1,
                 thinking: Callable[[str], str] = default_thinking, chat_reasoning: str = "none",
                 report_reasoning_tokens: bool = True):
        self.key = key
        self.reply = reply
        self.thinking = thinking
        self.chat_reasoning = chat_reasoning
        self.report_reasoning_tokens = report_reasoning_tokens
        self.batch_polls = batch_polls
        self.latency = 0.0  # seconds every model call takes (benchmarks)
        self.faults: deque[Fault] = deque()
        self.calls: list[dict[str, Any]] = []  # every model call that reached the server (faults included)
        self.answered: Counter[str] = Counter()  # digest -> replies actually sent
        self.paths: list[str] = []
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_outcome: Callable[[str, int], str] = lambda custom_id, submission: "succeeded"
        self.submissions: Counter[str] = Counter()  # custom_id -> times submitted in a batch
        self.usage: list[tuple[int, int]] = []  # (input, output) tokens of every reply sent (batches included)
        self._hold_after: int | None = None
        self._released = threading.Event()
        self._lock = threading.Lock()
        super().__init__(self._handler())

    # ------------------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        return self.address

    def __exit__(self, *exc: Any) -> None:
        self._released.set()
        super().__exit__(*exc)

    def fail(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def hold_after(self, n: int | None) -> None:
        self._hold_after = n
        if n is None:
            self._released.set()
        else:
            self._released.clear()

    def release(self) -> None:
        self.hold_after(None)

    # ------------------------------------------------------------------------------ replies

    @staticmethod
    def _prompt(body: dict[str, Any]) -> str:
        return (body.get("system") or "") + "\n".join(str(m.get("content")) for m in body.get("messages", []))

    def _answer(self, body: dict[str, Any], *, think: bool = False, extra_output: int = 0
                ) -> tuple[str, str | None, bool, int, int]:
        """(text, thinking or None, cut off, input tokens, output tokens); a reply cut off while
        thinking (``<<length>>``) has no text and half its thinking."""
        messages = body.get("messages", [])
        prompt = self._prompt(body)
        turns = sum(1 for m in messages if m.get("role") == "user")
        text = self.reply(prompt, turns)
        thinking = self.thinking(prompt) if think else None
        cut = "<<length>>" in prompt
        if cut:
            text, thinking = "", (thinking or "")[: len(thinking or "") // 2]
        usage = (len(prompt) // 4 + 10, tokens(text) + tokens(thinking or "") + extra_output)
        with self._lock:
            self.usage.append(usage)
        return text, thinking, cut, *usage

    @staticmethod
    def _refuse_thinking(body: dict[str, Any]) -> str | None:
        """Why the Messages API would refuse this thinking request (400), or None."""
        thinking = body.get("thinking")
        if not thinking or thinking.get("type") != "enabled":
            return None
        budget = thinking.get("budget_tokens", 0)
        if budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if body.get("max_tokens", 0) <= budget:
            return "`max_tokens` must be greater than `thinking.budget_tokens`"
        if body.get("temperature", 1) != 1:
            return "`temperature` may only be set to 1 when thinking is enabled"
        if body.get("top_p", 1) < 0.95:
            return "`top_p` must be greater than or equal to 0.95 when thinking is enabled"
        return None

    def _message(self, body: dict[str, Any]) -> dict[str, Any]:
        think = bool(body.get("thinking"))
        redacted = think and "<<redacted>>" in self._prompt(body)
        text, thinking, cut, input_tokens, output_tokens = self._answer(body, think=think,
                                                                        extra_output=40 if redacted else 0)
        content: list[dict[str, Any]] = []
        if thinking is not None:
            content.append({"type": "thinking", "thinking": thinking, "signature": "c2lnbmF0dXJl"})
        if redacted:
            content.append({"type": "redacted_thinking", "data": "RU5DUllQVEVE"})
        if not cut:
            content.append({"type": "text", "text": text})
        return {"id": f"msg_{len(self.calls)}", "type": "message", "role": "assistant", "model": body["model"],
                "content": content, "stop_reason": "max_tokens" if cut else "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}}

    def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages", [])
        system = "".join(m["content"] for m in messages if m.get("role") == "system")
        rest = [m for m in messages if m.get("role") != "system"]
        google = ((body.get("extra_body") or {}).get("google") or {}).get("thinking_config") or {}
        style = "thought-tags" if google.get("include_thoughts") else self.chat_reasoning
        text, thinking, cut, input_tokens, output_tokens = self._answer(
            {"model": body["model"], "system": system, "messages": rest}, think=style != "none")
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if style in ("reasoning_content", "reasoning"):
            message[style] = thinking
        elif style == "think-tags":
            message["content"] = f"<think>\n{thinking}" + ("" if cut else f"\n</think>\n\n{text}")
        elif style == "thought-tags":
            message["content"] = f"<thought>{thinking}" + ("" if cut else f"</thought>{text}")
        usage: dict[str, Any] = {"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
                                 "total_tokens": input_tokens + output_tokens}
        if thinking is not None and self.report_reasoning_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": tokens(thinking)}
        return {"id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "length" if cut else "stop"}],
                "usage": usage}

    def _batch_object(self, batch: dict[str, Any]) -> dict[str, Any]:
        ended = batch["polls"] >= self.batch_polls
        n = len(batch["requests"])
        counts = {"processing": 0 if ended else n, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if ended:
            for outcome in batch["outcomes"].values():
                counts[outcome.split(":")[0]] += 1
        return {"id": batch["id"], "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
                "request_counts": counts, "created_at": "2025-01-01T00:00:00Z", "expires_at": "2025-01-02T00:00:00Z",
                "ended_at": "2025-01-01T00:10:00Z" if ended else None, "archived_at": None,
                "cancel_initiated_at": None,
                "results_url": f"{self.url}/v1/messages/batches/{batch['id']}/results" if ended else None}

    def _batch_results(self, batch: dict[str, Any]) -> str:
        lines = []
        for item in batch["requests"]:
            outcome = batch["outcomes"][item["custom_id"]]
            if outcome == "succeeded":
                result = {"type": "succeeded", "message": self._message(item["params"])}
                with self._lock:
                    self.answered[digest(item["params"])] += 1
            elif outcome.startswith("errored"):
                kind = outcome.partition(":")[2] or "api_error"
                result = {"type": "errored", "error": {"type": "error", "error": {"type": kind, "message": kind}}}
            else:
                result = {"type": outcome}
            lines.append(json.dumps({"custom_id": item["custom_id"], "result": result}))
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------------------ HTTP

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(JSONHandler):
            protocol_version = "HTTP/1.1"

            def _authorised(self) -> bool:
                given = self.headers.get("x-api-key") or self.headers.get("authorization", "").removeprefix("Bearer ")
                if given == api.key:
                    return True
                self._send(401, {"type": "error", "error": {"type": "authentication_error",
                                                            "message": "invalid x-api-key"}})
                return False

            def _client_gone(self) -> bool:
                """Whether the client closed the connection (a killed process): nothing to read but EOF."""
                readable, _, _ = select.select([self.connection], [], [], 0)
                if not readable:
                    return False
                try:
                    gone = self.connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    gone = True
                if gone:
                    self.close_connection = True
                return gone

            def do_GET(self) -> None:
                api.paths.append(f"GET {self.path}")
                if not self._authorised():
                    return
                parts = self.path.strip("/").split("/")
                if parts[:3] == ["v1", "messages", "batches"] and len(parts) >= 4 and parts[3] in api.batches:
                    batch = api.batches[parts[3]]
                    if len(parts) == 5 and parts[4] == "results":
                        self._send(200, api._batch_results(batch).encode(), content_type="application/binary")
                    else:
                        batch["polls"] += 1
                        self._send(200, api._batch_object(batch))
                    return
                self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": self.path}})

            def do_POST(self) -> None:
                api.paths.append(f"POST {self.path}")
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self._authorised():
                    return
                if self.path == "/v1/messages/batches":
                    self._create_batch(body)
                    return
                if self.path not in ("/v1/messages", "/v1/chat/completions"):
                    self._send(404, {"error": {"type": "not_found_error", "message": self.path}})
                    return
                with api._lock:
                    api.calls.append(body)
                    number = len(api.calls)
                    fault = api.faults.popleft() if api.faults else None
                if api._hold_after is not None and number > api._hold_after:
                    api._released.wait()
                    if self._client_gone():
                        return
                if api.latency:
                    time.sleep(api.latency)
                if fault is not None:
                    if fault.kind == "drop":
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if fault.kind == "empty":
                        self._send(200, b"")
                        return
                    if fault.kind == "slow":
                        time.sleep(fault.seconds)
                    else:
                        self._send(fault.status, {"type": "error", "error": {
                            "type": "overloaded_error" if fault.status == 529 else "api_error",
                            "message": f"injected {fault.status}"}}, fault.headers)
                        return
                if self.path == "/v1/messages":
                    refused = api._refuse_thinking(body)
                    if refused:
                        self._send(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                                    "message": refused}})
                        return
                    reply = api._message(body)
                    key = digest(body)
                else:
                    reply = api._chat(body)
                    system = "".join(m["content"] for m in body["messages"] if m.get("role") == "system")
                    key = digest({"model": body["model"], "system": system or None,
                                  "messages": [m for m in body["messages"] if m.get("role") != "system"]})
                with api._lock:  # counted before the reply goes out: the client may check as soon as it has it
                    api.answered[key] += 1
                self._send(200, reply)

            def _create_batch(self, body: dict[str, Any]) -> None:
                with api._lock:
                    batch_id = f"msgbatch_{len(api.batches) + 1:04d}"
                    outcomes = {}
                    for item in body["requests"]:
                        cid = item["custom_id"]
                        outcomes[cid] = api.batch_outcome(cid, api.submissions[cid])
                        api.submissions[cid] += 1
                    batch = {"id": batch_id, "requests": body["requests"], "polls": 0, "outcomes": outcomes}
                    api.batches[batch_id] = batch
                self._send(200, api._batch_object(batch))

        return Handler
