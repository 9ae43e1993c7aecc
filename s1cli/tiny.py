"""Tiny offline models for tests, demos and CI: a byte-level BPE tokenizer trained locally on
the bundled data and a randomly initialised Qwen2 causal LM, saved so ``AutoTokenizer`` and
``AutoModelForCausalLM`` load them from the directory. Nothing is downloaded.

The tokenizer is trained with the same pre-tokenizer, normaliser and decoder as Qwen2's,
because transformers rebuilds a ``Qwen2Tokenizer`` with those settings when it loads one: a
tokenizer trained any other way would come back with different ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .errors import ConfigError

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END)
# Qwen3 / R1 thinking delimiters are single added tokens there; keep them single here too.
THINK_TOKENS = ("<think>", "</think>")
# Written beside the model: the spec it was built from, so tools can recognise a tiny model.
TINY_RECORD = "s1cli_tiny.json"

# ChatML, as Qwen2.5 uses, plus an assistant "thinking" field (or Qwen3's
# "reasoning_content") rendered R1-style, and {% generation %} markers so transformers can
# return an assistant-token mask.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message.role == 'assistant' -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- generation -%}"
    "{%- set thinking = message.thinking if message.thinking is defined else message.reasoning_content -%}"
    "{%- if thinking is defined and thinking is not none -%}"
    "{{- '<think>\\n' + thinking + '\\n</think>\\n\\n' -}}"
    "{%- endif -%}"
    "{{- message.content + '<|im_end|>' -}}"
    "{%- endgeneration -%}"
    "{{- '\\n' -}}"
    "{%- else -%}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

# Text the tokenizer should see often enough to learn: the delimiters and phrases of the
# thinking formats and budget forcing.
_FORMAT_TEXT = (
    "<|im_start|>think\nLet me think step by step.\nWait, let me check that again.\n"
    "<|im_start|>answer\nAnswer: \\boxed{42}\nFinal Answer: The final answer is $\\boxed{7}$.\n"
    "<think>\nHmm, okay.\n</think>\n\nThe answer is 3.\n"
)


@dataclass(frozen=True)
class TinySpec:
    """Shape of a tiny model. ``head_dim`` is kept at 32 or more, as vLLM's CPU backend requires."""

    vocab_size: int = 2048
    hidden_size: int = 128
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 32768
    # Wider than Qwen's 0.02 so a random model's greedy output varies with its context instead
    # of repeating one token: tests of stopping and forcing need varied text.
    initializer_range: float = 0.1
    seed: int = 0


PRESETS: dict[str, TinySpec] = {
    # ~0.6M parameters: builds and runs in a second or two; for tests.
    "tiny": TinySpec(),
    # ~20M parameters: the size the benchmarks use on CPU.
    "small": TinySpec(vocab_size=4096, hidden_size=512, intermediate_size=1376, num_hidden_layers=6,
                      num_attention_heads=8, num_key_value_heads=4),
}


def spec_for(preset: str = "tiny", **overrides: int | None) -> TinySpec:
    if preset not in PRESETS:
        raise ConfigError(f"unknown tiny preset {preset!r}; choose from {', '.join(PRESETS)}")
    spec = replace(PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None})
    if spec.hidden_size % spec.num_attention_heads:
        raise ConfigError(f"--hidden-size {spec.hidden_size} is not divisible by --heads {spec.num_attention_heads}")
    if spec.num_attention_heads % spec.num_key_value_heads:
        raise ConfigError(f"--heads {spec.num_attention_heads} is not divisible by "
                          f"--kv-heads {spec.num_key_value_heads}")
    if spec.vocab_size < 300:
        raise ConfigError(f"--vocab-size {spec.vocab_size} is too small: the byte alphabet alone needs 256 ids")
    return spec


def training_corpus() -> Iterator[str]:
    """Text from the bundled data, so the tokenizer knows maths and the thinking formats."""
    from .bundled import TABLES, load_table

    for _ in range(20):
        yield _FORMAT_TEXT
    for name in TABLES:
        for row in load_table(name):
            for column in ("question", "solution", "answer"):
                if row.get(column):
                    yield row[column]


def build_tokenizer(vocab_size: int = 2048):
    """Train a Qwen2-style byte-level BPE tokenizer on the bundled data; returns a Qwen2Tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(THINK_TOKENS),
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(training_corpus(), trainer=trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    tokenizer = Qwen2Tokenizer(
        vocab=model["vocab"],
        merges=merges,
        unk_token=None,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        additional_special_tokens=[IM_START, IM_END],
    )
    tokenizer.add_tokens(list(THINK_TOKENS))
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = PRESETS["tiny"].max_position_embeddings
    return tokenizer


def build_model(spec: TinySpec, tokenizer):
    """A randomly initialised Qwen2ForCausalLM, seeded so the same spec gives the same weights."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.max_position_embeddings,
        initializer_range=spec.initializer_range,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.convert_tokens_to_ids(ENDOFTEXT),
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END),
        pad_token_id=tokenizer.convert_tokens_to_ids(ENDOFTEXT),
    )
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(spec.seed)
        model = Qwen2ForCausalLM(config)
    finally:
        torch.random.set_rng_state(generator_state)
    model.generation_config = GenerationConfig(
        eos_token_id=[config.eos_token_id, config.pad_token_id],
        pad_token_id=config.pad_token_id,
        bos_token_id=config.bos_token_id,
        do_sample=False,
    )
    return model.eval()


def build_tiny(out_dir: str | Path, spec: TinySpec | None = None) -> Path:
    """Build a tiny tokenizer + model and save them to ``out_dir``; returns the directory."""
    spec = spec or PRESETS["tiny"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(spec.vocab_size)
    model = build_model(spec, tokenizer)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    record = {**asdict(spec), "parameters": parameter_count(model), "vocab": len(tokenizer)}
    (out / TINY_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return out


def read_record(model_dir: str | Path) -> dict:
    """The spec and size that ``build_tiny`` recorded in a model directory."""
    return json.loads((Path(model_dir) / TINY_RECORD).read_text(encoding="utf-8"))


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())
