"""A small OpenAI-compatible completions server on 127.0.0.1 that serves a local model through
the hf engine, standing in for `vllm serve` in tests. It speaks the parts of the API that
`s1 generate --model openai:...` uses (prompt as token ids or text, max_tokens, temperature,
top_p, seed, stop strings, and vLLM's stop_token_ids / include_stop_str_in_output /
return_token_ids extensions), and can be told to fail: ``faults`` is a list of HTTP status
codes returned, one per request, before normal service resumes."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from s1cli.engines.base import Sampling
from s1cli.engines.hf import HFEngine
from s1cli.forcing import Continuation, StopMatcher

from .local import JSONHandler, LocalServer


class CompletionServer(LocalServer):
    def __init__(self, engine: HFEngine, *, echo_token_ids: bool = True) -> None:
        self.engine, self.echo_token_ids = engine, echo_token_ids
        self.faults: list[int] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        super().__init__(self._handler())

    @property
    def base_url(self) -> str:
        return f"{self.address}/v1"

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        tokenizer = self.engine.tokenizer
        prompt = body["prompt"]
        ids = prompt if isinstance(prompt, list) else tokenizer(prompt, add_special_tokens=False)["input_ids"]
        stop = StopMatcher(tokenizer, body.get("stop") or [], [*self.engine.eos_ids, *body.get("stop_token_ids", [])])
        sampling = Sampling(temperature=body.get("temperature", 1.0), top_p=body.get("top_p", 1.0))
        key = str(body.get("seed", 0))
        with self._lock:  # one decode at a time: the model is shared
            out = self.engine.continue_batch([Continuation(list(ids), body.get("max_tokens", 16), stop, key)],
                                             sampling)[0]
        span = stop.match(out) if out else 0
        finish = "stop" if span else "length"
        if span and not body.get("include_stop_str_in_output"):
            out = out[: len(out) - span]
        choice: dict[str, Any] = {"index": 0, "text": tokenizer.decode(out, skip_special_tokens=False),
                                  "finish_reason": finish}
        if body.get("return_token_ids") and self.echo_token_ids:
            choice["token_ids"] = out
        return {"id": "cmpl-test", "object": "text_completion", "model": body.get("model"), "choices": [choice],
                "usage": {"prompt_tokens": len(ids), "completion_tokens": len(out)}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(JSONHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    fault = server.faults.pop(0) if server.faults else None
                if fault:
                    self._send(fault, {"error": {"message": f"injected fault {fault}"}})
                elif self.path.rstrip("/").endswith("/completions"):
                    self._send(200, server.complete(body))
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

        return Handler
