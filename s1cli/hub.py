"""Hugging Face Hub look-ups that fail fast when the Hub cannot be reached.

Without a network, the hub libraries retry for about 25 s (``datasets``) to 50 s (``transformers``)
before they look in the local cache, printing a line per retry. ``offline_unless_reachable`` probes
the Hub once with a short timeout and, when it does not answer, puts the libraries in their own
offline mode for this process: a cached dataset or model then loads at once, and a missing one
fails at once with the caller's one-line error.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import MutableMapping
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ConfigError

OFFLINE_FLAGS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
DEFAULT_ENDPOINT = "https://huggingface.co"
PROBE_SECONDS = 3.0


def is_offline(environ: MutableMapping[str, str] = os.environ) -> bool:
    return any(environ.get(flag, "").strip().lower() in ("1", "true", "yes", "on") for flag in OFFLINE_FLAGS)


def reachable(endpoint: str, timeout: float = PROBE_SECONDS) -> bool:
    """Whether a TCP connection to the endpoint's host opens within ``timeout`` (name lookup included)."""
    url = urlsplit(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def offline_unless_reachable(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Call before a Hub look-up. Returns True when the hub libraries work offline (already told so,
    or now because the Hub did not answer)."""
    if is_offline(environ):
        return True
    if reachable(environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT):
        return False
    for flag in OFFLINE_FLAGS:
        environ[flag] = "1"
    # The libraries read the flags when first imported; those imported already are told directly.
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
    config = sys.modules.get("datasets.config")
    if config is not None:
        config.HF_HUB_OFFLINE = config.HF_DATASETS_OFFLINE = True
    return True


def model_source(name: str, label: str) -> str:
    """What to hand ``from_pretrained`` for a model named on the command line: its directory when it
    exists, else the hub id (``owner/name``), once the Hub has been probed. A name that can only be a
    path and is not there is one error starting with ``label`` (``--model hf:NAME``)."""
    path = Path(name).expanduser()
    if path.exists():
        return str(path)
    if name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise ConfigError(f"{label}: no such model directory")
    offline_unless_reachable()
    return name


def offline_hint(kind: str, environ: MutableMapping[str, str] = os.environ) -> str:
    """What to do instead, when the libraries are offline: `` (offline: ...)`` or ""."""
    if not is_offline(environ):
        return ""
    if kind == "dataset":
        return (" (offline: only datasets already in the cache load; or save one with Dataset.save_to_disk and pass "
                "its directory)")
    return " (offline: only models already in the cache load; or pass a local model directory)"
