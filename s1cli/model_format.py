"""Which thinking format a model speaks, so a user names it at most once.

``s1 sft`` records the format it trained with in the model directory it writes (``s1_sft.json``);
``generate`` and ``bench`` read it from there when ``--format`` is not given. A model that was not
fine-tuned by s1 gets the format its tokenizer fits (``thinking.choose_format``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError, Notice
from .thinking import AUTO, FORMATS, FormatChoice, ThinkingFormat, choose_format, get_format

RUN_RECORD = "s1_sft.json"  # written last by s1 sft: its presence means the run finished


def format_record(fmt: ThinkingFormat) -> dict:
    """The format as sft records it: enough to rebuild it without knowing its name."""
    return {"name": fmt.name, "start": fmt.start, "stop": fmt.stop, "end": fmt.end}


def recorded_format(model_dir: str | Path | None) -> FormatChoice | None:
    """The format ``s1 sft`` trained the model in ``model_dir`` with, or None (not a directory s1 sft
    wrote, or a hub id)."""
    if model_dir is None:
        return None
    path = Path(model_dir).expanduser() / RUN_RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable run record ({exc}); pass --format") from None
    block = record.get("thinking_format")
    if isinstance(block, dict) and {"name", "start", "stop", "end"} <= block.keys():
        known = FORMATS.get(block["name"])
        fmt = ThinkingFormat(block["name"], start=block["start"], stop=block["stop"], end=block["end"],
                             chat_template_kwargs=known.chat_template_kwargs if known else ())
    else:  # runs from before the format was recorded on its own: their options say it
        config = record.get("config") or {}
        fmt = get_format(config.get("format") or "s1", start=config.get("think_start"), end=config.get("think_end"))
    return FormatChoice(fmt, f"recorded by s1 sft in {path}")


def resolve_format(requested: str | None, *, model_dir: str | Path | None = None, start: str | None = None,
                   end: str | None = None, tokenizer: Callable[[], Any] | None = None) -> FormatChoice:
    """The format to use: the one asked for (``--format``), else the one recorded with the model, else
    the one its tokenizer fits. ``tokenizer`` loads the tokenizer (called only when needed; it returns
    None when it cannot). Asking for a format other than the recorded one is allowed, with
    a note; so is a format whose markers are not tokens of this tokenizer."""
    if requested is None and (start or end):
        requested = "custom"  # --think-start/--think-end say it
    record = recorded_format(model_dir)
    if requested not in (None, AUTO):
        choice = FormatChoice(get_format(requested, start=start, end=end), "--format")
        if record is not None and format_record(record.fmt) != format_record(choice.fmt):
            warnings.warn(Notice(f"--format {choice.fmt.name}: the model was fine-tuned with the "
                                 f"{record.fmt.name} format ({record.why}); using {choice.fmt.name} as asked"),
                          stacklevel=2)
        return choice
    if start or end:
        raise ConfigError("--think-start/--think-end apply only to --format custom")
    if record is not None:
        return record
    loaded = tokenizer() if tokenizer is not None else None
    if loaded is None:
        return FormatChoice(FORMATS["s1"], "the s1 format: no tokenizer to choose by")
    return choose_format(loaded)


def _read_tokenizer(name: str, model: str) -> Any:
    """The tokenizer of ``name`` (a directory or hub id), or None where it cannot be read here: a missing
    directory or an unloadable tokenizer is reported by the engine that loads the model, in its own
    words, after the options are checked."""
    from transformers import AutoTokenizer

    from .hub import model_source

    try:
        return AutoTokenizer.from_pretrained(model_source(name, f"--model {model}"))
    except (ConfigError, OSError, ValueError):
        return None


def format_for_model(requested: str | None, model: str, *, start: str | None = None, end: str | None = None,
                     tokenizer: str | None = None) -> FormatChoice:
    """``resolve_format`` for a model reference (``hf:DIR``, ``vllm:ID``, ``openai:NAME`` with
    ``--tokenizer DIR``): its record and tokenizer are read from ``tokenizer`` where given (a server's
    model is only known here by its tokenizer's directory), else from the model's directory or id."""
    from .engines.base import parse_model_ref

    ref = parse_model_ref(model)
    name = tokenizer or (ref.model if ref.backend in ("hf", "vllm") else None)
    if name is None:
        return resolve_format(requested, start=start, end=end)
    return resolve_format(requested, model_dir=name, start=start, end=end,
                          tokenizer=lambda: _read_tokenizer(name, model))
