"""Prompt templates shipped as files. A prompt's version is its file name plus a hash of its text, so
editing a prompt changes every cache key built from it and never serves a stale reply."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from ..errors import ConfigError


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str

    @property
    def version(self) -> str:
        return f"{self.name}@{hashlib.sha256(self.text.encode('utf-8')).hexdigest()[:12]}"

    def render(self, **values: str) -> str:
        """Fill ``{{name}}`` placeholders (double braces: LaTeX in the values is left alone)."""
        text = self.text
        for name, value in values.items():
            text = text.replace("{{" + name + "}}", value)
        return text


def load_prompt(name: str) -> Prompt:
    """A bundled prompt by name, e.g. ``judge_v1`` (file ``s1cli/prompts/judge_v1.md``)."""
    path = resources.files(__name__) / f"{name}.md"
    if not path.is_file():
        raise ConfigError(f"unknown prompt {name!r} (no s1cli/prompts/{name}.md)")
    return Prompt(name, path.read_text(encoding="utf-8").strip() + "\n")
