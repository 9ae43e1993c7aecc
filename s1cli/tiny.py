"""Tiny offline models for tests, demos and CI: a byte-level BPE tokenizer trained locally on
the bundled data and a randomly initialised causal LM — Qwen2 by default, or another family's
architecture with that family's special tokens and chat template (``ARCHS``: Llama-3, Gemma,
Gemma-2, Mistral) — saved so ``AutoTokenizer`` and ``AutoModelForCausalLM`` load them from the
directory. Nothing is downloaded.

The tokenizer is trained with the same pre-tokenizer, normaliser and decoder as Qwen2's,
because transformers rebuilds a ``Qwen2Tokenizer`` with those settings when it loads one: a
tokenizer trained any other way would come back with different ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
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
class Family:
    """What a model family brings besides its architecture: special tokens, the chat template (each
    written here in the family's published shape), the end-of-sequence token the tokenizer names and
    the tokens generation stops on."""

    special: tuple[str, ...]
    template: str
    bos: str | None
    eos: str
    pad: str
    stops: tuple[str, ...]


# Llama 3: header-framed turns ending in <|eot_id|>; a system role.
LLAMA3_TEMPLATE = (
    "{{- bos_token -}}{%- for message in messages -%}"
    "{{- '<|start_header_id|>' + message.role + '<|end_header_id|>\n\n' + message.content | trim + '<|eot_id|>' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}{%- endif -%}"
)
# Gemma and Gemma 2: user / model turns, no system role (the template raises, as Gemma's does).
GEMMA_TEMPLATE = (
    "{{- bos_token -}}{%- if messages[0].role == 'system' -%}{{- raise_exception('System role not supported') -}}"
    "{%- endif -%}{%- for message in messages -%}"
    "{%- set role = 'model' if message.role == 'assistant' else message.role -%}"
    "{{- '<start_of_turn>' + role + '\n' + message.content | trim + '<end_of_turn>\n' -}}"
    "{%- endfor -%}{%- if add_generation_prompt -%}{{- '<start_of_turn>model\n' -}}{%- endif -%}"
)
# Mistral (v0.3): [INST] ... [/INST] answer</s>; a system message goes before the first question.
MISTRAL_TEMPLATE = (
    "{{- bos_token -}}{%- set system = messages[0].content if messages[0].role == 'system' else none -%}"
    "{%- for message in messages if message.role != 'system' -%}"
    "{%- if message.role == 'user' -%}"
    "{{- '[INST] ' + ((system + '\n\n') if system and loop.first else '') + message.content | trim + ' [/INST]' -}}"
    "{%- else -%}{{- message.content | trim + '</s>' -}}{%- endif -%}"
    "{%- endfor -%}"
)

FAMILIES: dict[str, Family] = {
    "llama": Family(("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
                    LLAMA3_TEMPLATE, "<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>",
                    ("<|end_of_text|>", "<|eot_id|>")),
    "gemma": Family(("<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"), GEMMA_TEMPLATE, "<bos>",
                    "<eos>", "<pad>", ("<eos>", "<end_of_turn>")),
    "mistral": Family(("<unk>", "<s>", "</s>", "[INST]", "[/INST]"), MISTRAL_TEMPLATE, "<s>", "</s>", "</s>",
                      ("</s>",)),
}
FAMILIES["gemma2"] = FAMILIES["gemma"]
ARCHS = ("qwen2", "llama", "gemma", "gemma2", "mistral")


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
    arch: str = "qwen2"


PRESETS: dict[str, TinySpec] = {
    # ~0.6M parameters: builds and runs in a second or two; for tests.
    "tiny": TinySpec(),
    # ~20M parameters: the size the benchmarks use on CPU.
    "small": TinySpec(vocab_size=4096, hidden_size=512, intermediate_size=1376, num_hidden_layers=6,
                      num_attention_heads=8, num_key_value_heads=4),
}


def spec_for(preset: str = "tiny", **overrides: int | str | None) -> TinySpec:
    if preset not in PRESETS:
        raise ConfigError(f"unknown tiny preset {preset!r}; choose from {', '.join(PRESETS)}")
    if overrides.get("arch") not in (None, *ARCHS):
        raise ConfigError(f"--arch {overrides['arch']!r}: choose from {', '.join(ARCHS)}")
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


def _train_bpe(vocab_size: int, special: Sequence[str]):
    """A byte-level BPE on the bundled data, with Qwen2's pre-tokenizer (its split regex)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
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
        special_tokens=list(special),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(training_corpus(), trainer=trainer)
    return bpe


def build_tokenizer(vocab_size: int = 2048, arch: str = "qwen2"):
    """Train the tokenizer: a Qwen2Tokenizer with Qwen's special tokens and ChatML for ``qwen2``;
    for another family a fast tokenizer with that family's special tokens and chat template. Both
    hold the R1 thinking delimiters as single added tokens."""
    if arch != "qwen2":
        from transformers import PreTrainedTokenizerFast

        family = FAMILIES[arch]
        fast = PreTrainedTokenizerFast(tokenizer_object=_train_bpe(vocab_size, family.special),
                                       bos_token=family.bos, eos_token=family.eos, pad_token=family.pad,
                                       additional_special_tokens=[t for t in family.special
                                                                  if t not in (family.bos, family.eos, family.pad)])
        fast.add_tokens(list(THINK_TOKENS))
        fast.chat_template = family.template
        fast.model_max_length = PRESETS["tiny"].max_position_embeddings
        return fast
    from transformers import Qwen2Tokenizer

    model = json.loads(_train_bpe(vocab_size, SPECIAL_TOKENS).to_str())["model"]
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


def _config(spec: TinySpec, tokenizer, bos: int | None, eos: int, pad: int):
    """The architecture's config at the spec's shape (Gemma's own choices kept: tied embeddings,
    its head size from the hidden size; Gemma 2's softcapping and sliding window as released)."""
    from transformers import Gemma2Config, GemmaConfig, LlamaConfig, MistralConfig, Qwen2Config

    shape = dict(vocab_size=len(tokenizer), hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
                 num_hidden_layers=spec.num_hidden_layers, num_attention_heads=spec.num_attention_heads,
                 num_key_value_heads=spec.num_key_value_heads, max_position_embeddings=spec.max_position_embeddings,
                 initializer_range=spec.initializer_range, bos_token_id=bos, eos_token_id=eos, pad_token_id=pad)
    head_dim = spec.hidden_size // spec.num_attention_heads
    if spec.arch == "qwen2":
        return Qwen2Config(**shape, tie_word_embeddings=True)
    if spec.arch == "llama":
        return LlamaConfig(**shape, tie_word_embeddings=False)
    if spec.arch == "mistral":
        return MistralConfig(**shape, tie_word_embeddings=False, sliding_window=None)
    if spec.arch == "gemma":
        return GemmaConfig(**shape, head_dim=head_dim, tie_word_embeddings=True)
    # query_pre_attn_scalar: Gemma 2 scales queries by its head size
    return Gemma2Config(**shape, head_dim=head_dim, query_pre_attn_scalar=head_dim, tie_word_embeddings=True,
                        sliding_window=4096, attn_logit_softcapping=50.0, final_logit_softcapping=30.0)


def build_model(spec: TinySpec, tokenizer):
    """A randomly initialised causal LM of ``spec.arch``, seeded so the same spec gives the same weights."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    if spec.arch == "qwen2":
        bos = pad = tokenizer.convert_tokens_to_ids(ENDOFTEXT)
        stops = [tokenizer.convert_tokens_to_ids(IM_END), pad]
    else:
        family = FAMILIES[spec.arch]
        bos, pad = tokenizer.convert_tokens_to_ids(family.bos), tokenizer.convert_tokens_to_ids(family.pad)
        stops = [tokenizer.convert_tokens_to_ids(t) for t in family.stops]
    config = _config(spec, tokenizer, bos, stops[0], pad)
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(spec.seed)
        model = AutoModelForCausalLM.from_config(config)
    finally:
        torch.random.set_rng_state(generator_state)
    model.generation_config = GenerationConfig(eos_token_id=stops, pad_token_id=pad, bos_token_id=bos,
                                               do_sample=False)
    return model.eval()


def build_tiny(out_dir: str | Path, spec: TinySpec | None = None) -> Path:
    """Build a tiny tokenizer + model and save them to ``out_dir``; returns the directory."""
    spec = spec or PRESETS["tiny"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(spec.vocab_size, spec.arch)
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
