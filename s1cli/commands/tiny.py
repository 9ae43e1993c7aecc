"""``s1 tiny``: build a tiny offline model (Qwen2, or another family's architecture) and tokenizer."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import typer

from ..errors import ConfigError
from ..tiny import ARCHS, PRESETS, TINY_RECORD, build_tiny, read_record, spec_for
from .ui import info

EXAMPLES = """Examples:

  s1 tiny models/tiny

  s1 tiny models/small --preset small --seed 1

  s1 tiny models/wide --hidden-size 256 --layers 4

  s1 tiny models/tiny-llama --arch llama
"""


def tiny(
    ctx: typer.Context,
    out_dir: Path = typer.Argument(..., help="Directory to write the model and tokenizer to."),
    preset: str = typer.Option("tiny", "--preset", metavar="[tiny|small]",
                               help=f"Model shape: {', '.join(PRESETS)} (~0.6M or ~20M parameters)."),
    arch: str = typer.Option("qwen2", "--arch", metavar="[" + "|".join(ARCHS) + "]",
                             help="Architecture, with that family's special tokens and chat template (Llama 3, "
                                  "Gemma and Gemma 2 without a system role, Mistral)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the random weights; the same seed gives the same model."),
    vocab_size: int = typer.Option(None, "--vocab-size", help="Tokenizer vocabulary size (default: the preset's)."),
    hidden_size: int = typer.Option(None, "--hidden-size", help="Hidden size (default: the preset's)."),
    layers: int = typer.Option(None, "--layers", help="Number of decoder layers (default: the preset's)."),
    heads: int = typer.Option(None, "--heads", help="Attention heads (default: the preset's)."),
    kv_heads: int = typer.Option(None, "--kv-heads", help="Key/value heads for grouped-query attention."),
    intermediate_size: int = typer.Option(None, "--intermediate-size", help="MLP width (default: the preset's)."),
    force: bool = typer.Option(False, "--force",
                               help="Replace OUT_DIR even if it holds something other than a tiny model."),
) -> None:
    """Build a tiny causal LM with a locally trained tokenizer, offline, in seconds.

    The model is randomly initialised (seeded) and saved so that transformers'
    AutoTokenizer / AutoModelForCausalLM, and `--model hf:OUT_DIR`, load it. By default it is
    a Qwen2 whose tokenizer has Qwen's special tokens and a ChatML chat template that renders
    thinking traces; --arch builds another family with its own tokens and template.
    """
    spec = spec_for(preset, arch=arch, seed=seed, vocab_size=vocab_size, hidden_size=hidden_size,
                    num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                    intermediate_size=intermediate_size)
    if out_dir.exists() and not force:
        if not out_dir.is_dir():
            raise ConfigError(f"{out_dir}: exists and is not a directory")
        if any(out_dir.iterdir()) and not (out_dir / TINY_RECORD).exists():
            raise ConfigError(f"{out_dir}: directory is not empty; pass --force to replace it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and swap in, so a crash never leaves a half-written model.
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        build_tiny(staging, spec)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    record = read_record(out_dir)
    info(ctx, f"wrote a tiny {record.get('arch', 'qwen2')} model to {out_dir}: {record['parameters']:,} parameters, "
              f"vocab {record['vocab']:,}, {record['num_hidden_layers']} layers, seed {record['seed']}")


def register(app: typer.Typer) -> None:
    app.command("tiny", epilog=EXAMPLES)(tiny)
