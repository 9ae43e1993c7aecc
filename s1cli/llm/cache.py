"""A content-addressed SQLite cache of model responses, so a rerun or a resumed run never pays twice.

One row per request key (``Request.key``: backend, model, parameters, full messages, prompt
version). Each response is committed as soon as it arrives, before the row it belongs to is
written anywhere, so a run killed at any point keeps everything it paid for. Safe for the
threads of one process (one connection behind a lock) and for several processes (SQLite locking,
WAL journal). Only the request and the reply are stored: never headers, never keys.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from ..errors import ConfigError
from .base import Request, Response, Usage
from .replies import details

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    text TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    raw TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def default_cache_path() -> Path:
    """``$S1_CACHE_DIR/llm.sqlite``, else ``$XDG_CACHE_HOME/s1cli/llm.sqlite``, else ``~/.cache/s1cli/...``."""
    base = os.environ.get("S1_CACHE_DIR")
    if base:
        return Path(base) / "llm.sqlite"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "s1cli" / "llm.sqlite"


class ResponseCache:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"{self.path}: cannot open the response cache ({exc}); "
                              "choose another with --cache") from None
        self._lock = threading.Lock()

    def get(self, key: str) -> Response | None:
        with self._lock:
            row = self._db.execute("SELECT backend, text, input_tokens, output_tokens, batch, raw FROM responses "
                                   "WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        backend, text, input_tokens, output_tokens, batch, raw = row
        body = json.loads(raw)
        return Response(text, Usage(input_tokens, output_tokens), body, cached=True, batch=bool(batch),
                        **vars(details(backend, body)))

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def put(self, key: str, backend: str, request: Request | None, response: Response, *, model: str = "") -> None:
        """Store a reply. ``request`` may be None for a batch result collected after a restart (the key
        alone addresses it)."""
        request_json = json.dumps(request.as_json() if request else {}, ensure_ascii=False)
        values = (key, backend, request.model if request else model, request_json, response.text,
                  response.usage.input_tokens, response.usage.output_tokens, int(response.batch),
                  json.dumps(response.raw, ensure_ascii=False, default=str), time.time())
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
