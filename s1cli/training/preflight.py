"""The preflight report: what a run will train on, checked before any weight is loaded.

It exists for the mistakes that otherwise show up as a model that never stops or never learnt:
a template whose assistant turn is not what the model sees at inference, masks that cover nothing,
rows silently cut by the block size, an end-of-turn token generation does not stop on, and a run
that cannot fit in memory. Problems that make training meaningless raise ``InputError``; the rest
are warnings in the report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median

from ..errors import InputError
from .config import PAPER, SFTConfig
from .data import Example, Prepared, Renderer, Schedule, plan_step
from .loss import CHUNK_ROWS

GIB = 1024**3


@dataclass(frozen=True)
class ModelShape:
    """What the memory estimate needs, read from the model's config (no weights loaded)."""

    parameters: int
    hidden_size: int
    intermediate_size: int
    layers: int
    vocab_size: int
    max_positions: int | None
    heads: int = 0  # attention heads (query), for eager attention's weights

    @classmethod
    def from_pretrained(cls, path: str) -> ModelShape:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

        config = AutoConfig.from_pretrained(path)
        with torch.device("meta"):  # shapes only: counts parameters without allocating them
            model = AutoModelForCausalLM.from_config(config)
        text = config.get_text_config() if hasattr(config, "get_text_config") else config
        return cls(
            parameters=sum(p.numel() for p in model.parameters()),
            hidden_size=text.hidden_size,
            intermediate_size=getattr(text, "intermediate_size", 4 * text.hidden_size),
            layers=text.num_hidden_layers,
            vocab_size=text.vocab_size,
            max_positions=getattr(text, "max_position_embeddings", None),
            heads=getattr(text, "num_attention_heads", 0) or 0,
        )


@dataclass(frozen=True)
class Memory:
    """A rough per-process estimate in bytes (see ``estimate_memory``)."""

    states: float
    activations: float
    logits: float
    attention_weights: float = 0.0  # eager attention's per-example L×L weights, kept for backward

    @property
    def total(self) -> float:
        return self.states + self.activations + self.logits + self.attention_weights


def estimate_memory(shape: ModelShape, *, pass_tokens: int, pass_targets: int, bf16: bool, checkpointing: bool,
                    liger: bool, shards: int = 1, eager_squares: int = 0) -> Memory:
    """Training state: fp32 weights, gradients and AdamW's two moments (16 bytes a parameter, plus a
    bf16 copy of the weights under autocast), divided over ``shards`` processes with FSDP / ZeRO-3.
    Activations of the largest forward pass, per token and layer about (8h + 3i) elements for a
    SwiGLU decoder (2 bytes each in bf16); with gradient checkpointing only each layer's input (h)
    plus one layer's full set. Logits where a target is: the model's output and the gradient that
    ``loss.py`` computes in the forward pass, both in the compute dtype, plus its fp32 working set of
    ``CHUNK_ROWS`` rows (none of it with liger's fused cross-entropy). Eager attention (``eager_squares``:
    the sum over the pass's examples of length², else 0) keeps per head and score the softcapped scores
    and the probabilities in the compute dtype and the softmax's fp32 output, for every layer (one
    with gradient checkpointing)."""
    element = 2 if bf16 else 4
    states = shape.parameters * (16 + (2 if bf16 else 0)) / max(shards, 1)
    per_layer = (8 * shape.hidden_size + 3 * shape.intermediate_size) * element * pass_tokens
    if checkpointing:
        activations = shape.layers * shape.hidden_size * element * pass_tokens + per_layer
    else:
        activations = shape.layers * per_layer
    logits = 0.0 if liger else (2 * element * pass_targets + 8 * min(pass_targets, CHUNK_ROWS)) * shape.vocab_size
    weights = shape.heads * eager_squares * (2 * element + 4) * (1 if checkpointing else shape.layers)
    return Memory(states=states, activations=activations, logits=logits, attention_weights=weights)


@dataclass
class Report:
    """Everything the preflight found; ``lines()`` renders it as text."""

    source: str
    rows: int
    examples: int
    truncated: int
    dropped: int
    long_rows: str
    block_size: int
    histogram: list[tuple[str, int]]
    length_stats: dict[str, int]
    loss_share: dict[str, float]
    tokens: int
    trained_tokens: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    passes_per_step: int
    stop_token: str
    stop_is_eos: bool
    eos_tokens: list[str]
    template_note: str | None
    attention: str
    memory: Memory | None
    compile: str = ""  # what --compile does in this run
    thinking_format: str = ""  # the format and how it was chosen
    procedure: str = ""  # packing, loss average, optimizer: where a run may differ from the s1 run's
    sample: list[tuple[str, bool]] = field(default_factory=list)  # (text, carries loss) of the first example
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """The report's numbers, for the run record."""
        return {
            "rows": self.rows, "examples": self.examples, "truncated": self.truncated, "dropped": self.dropped,
            "tokens": self.tokens, "trained_tokens": self.trained_tokens, "lengths": self.length_stats,
            "loss_share": self.loss_share, "steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps, "stop_token": self.stop_token, "attention": self.attention,
            "thinking_format": self.thinking_format,
            "memory_gib": None if self.memory is None else round(self.memory.total / GIB, 3),
            "warnings": self.warnings,
        }

    def lines(self) -> list[str]:
        out = [f"preflight: {self.source}: {self.rows:,} rows → {self.examples:,} examples, "
               f"{self.tokens:,} tokens, {self.trained_tokens:,} with loss "
               f"({self.trained_tokens / max(self.tokens, 1):.0%})"]
        stats = self.length_stats
        out.append(f"  tokens per row: min {stats['min']:,} · median {stats['median']:,} · p90 {stats['p90']:,} · "
                   f"max {stats['max']:,}   (--block-size {self.block_size:,})")
        peak = max((count for _, count in self.histogram), default=0)
        width = max(len(label) for label, _ in self.histogram)
        for label, count in self.histogram:
            bar = "█" * (math.ceil(24 * count / peak) if peak and count else 0)
            out.append(f"    {label:>{width}}  {count:>6,}  {bar}")
        over = self.truncated + self.dropped
        if over:
            action = "truncated to the block" if self.long_rows == "truncate" else "dropped"
            out.append(f"  rows longer than the block: {over:,}, {action} (--long-rows {self.long_rows})")
        else:
            out.append("  rows longer than the block: none")
        share = self.loss_share
        out.append(f"  share of tokens with loss per row: min {share['min']:.0%} · median {share['median']:.0%} · "
                   f"max {share['max']:.0%} (thinking, delimiter, answer, end of turn)")
        if self.thinking_format:
            out.append(f"  thinking format: {self.thinking_format}")
        stop = "" if self.stop_is_eos else "  ← not an end-of-sequence token of the model!"
        out.append(f"  learns to stop on: {self.stop_token}; generation stops on: "
                   f"{', '.join(self.eos_tokens) or '(none)'}{stop}")
        out.append(f"  steps: {self.steps_per_epoch:,} per epoch, {self.total_steps:,} in all, {self.warmup_steps:,} "
                   f"warmup; {self.passes_per_step:,} forward pass(es) per step and process; attention: "
                   f"{self.attention}")
        if self.procedure:
            out.append(f"  procedure: {self.procedure}")
        if self.compile:
            out.append(f"  torch.compile: {self.compile}")
        if self.memory is not None:
            m = self.memory
            weights = f" + attention weights {_size(m.attention_weights)}" if m.attention_weights else ""
            out.append(f"  memory (rough, per process): {_size(m.total)} = weights, grads, AdamW {_size(m.states)} "
                       f"+ activations {_size(m.activations)} + logits {_size(m.logits)}{weights}")
        if self.template_note:
            out.append(f"  note: {self.template_note}")
        out += [f"  warning: {w}" for w in self.warnings]
        return out


def _size(count: float) -> str:
    return f"{count / GIB:,.1f} GiB" if count >= GIB else f"{count / 2**20:,.0f} MiB"


def histogram(lengths: Sequence[int], block_size: int) -> list[tuple[str, int]]:
    """Row counts by length, in bins that double up to the block, then one past it."""
    top = max(block_size, 1)
    low = max(min(lengths), 1)
    edges = [top]
    while edges[0] // 2 >= low and len(edges) < 8:
        edges.insert(0, edges[0] // 2)
    bins, previous = [], 0
    for index, edge in enumerate(edges):
        label = f"≤ {edge:,}" if index == 0 else f"{previous + 1:,}–{edge:,}"
        bins.append((label, sum(1 for n in lengths if previous < n <= edge)))
        previous = edge
    bins.append((f"> {top:,}", sum(1 for n in lengths if n > top)))
    return bins


def _percentile(values: Sequence[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def build_report(prepared: Prepared, renderer: Renderer, config: SFTConfig, *, source: str, rows: Sequence[dict],
                 world_size: int = 1, shape: ModelShape | None = None, attention: str = "sdpa per example",
                 shards: int = 1, bf16: bool = False, bf16_emulated: bool = False, compile: str = "",
                 thinking_format: str = "", eager_attention: bool = False) -> Report:
    """Check the examples and describe the run. Raises InputError for rows that would train on nothing
    and for a first example whose trained tokens are not the text the format says they are."""
    examples = prepared.examples
    for ex in examples:
        if ex.trained <= 0:
            raise InputError(f"{source}: row {ex.row} (id {ex.id!r}): no token carries loss")
    _check_first(examples[0], renderer, rows[examples[0].row - 1], source)
    tok = renderer.tokenizer
    schedule = Schedule(len(examples), config.batch_size, config.epochs, config.seed, config.max_steps, config.shuffle)
    pass_tokens, pass_targets, pass_squares, passes = 0, 0, 0, 0
    for step in range(min(schedule.steps_per_epoch, schedule.total_steps)):
        plan = plan_step(examples, schedule.examples_for(step), world_size=world_size,
                         micro_batch_size=config.micro_batch_size, block_size=config.block_size,
                         packing=config.packing)
        passes = max(passes, len(plan[0]))
        for micro in (m for share in plan for m in share):
            pass_tokens = max(pass_tokens, sum(len(examples[i]) for i in micro))
            pass_targets = max(pass_targets, sum(examples[i].trained for i in micro))
            pass_squares = max(pass_squares, sum(len(examples[i]) ** 2 for i in micro))
    memory = None
    if shape is not None:
        memory = estimate_memory(shape, pass_tokens=pass_tokens, pass_targets=pass_targets, bf16=bf16,
                                 checkpointing=config.gradient_checkpointing, liger=config.liger, shards=shards,
                                 eager_squares=pass_squares if eager_attention else 0)
    warnings = []
    turn_end = renderer.turn_end
    if not turn_end.stop_is_eos:
        warnings.append(f"the model learns to end its turn with {tok.convert_ids_to_tokens(turn_end.stop_id)!r}, "
                        "which is not among its end-of-sequence tokens: generation would not stop there (add it to "
                        "eos_token_id in generation_config.json)")
    if shape is not None and shape.max_positions and max(len(ex) for ex in examples) > shape.max_positions:
        warnings.append(f"some examples are longer than the model's {shape.max_positions:,} positions")
    if bf16_emulated:
        warnings.append("--precision bf16 on a CPU without bf16 instructions (no avx512_bf16 / AMX, or torch "
                        "limited to AVX2): bf16 is emulated, about 20x slower than fp32 here; use --precision fp32 "
                        "(what auto picks on a CPU)")
    if prepared.truncated:
        warnings.append(f"{len(prepared.truncated):,} row(s) truncated: they lose their answer and end of turn, "
                        f"e.g. row {prepared.truncated[0].row} (id {prepared.truncated[0].id!r})")
    lengths = prepared.lengths
    shares = [ex.trained / len(ex) for ex in examples]
    first = examples[0]
    return Report(
        source=source, rows=len(lengths), examples=len(examples), truncated=len(prepared.truncated),
        dropped=len(prepared.dropped), long_rows=config.long_rows, block_size=config.block_size,
        histogram=histogram(lengths, config.block_size),
        length_stats={"min": min(lengths), "median": int(median(lengths)), "p90": _percentile(lengths, 0.9),
                      "max": max(lengths)},
        loss_share={"min": min(shares), "median": median(shares), "max": max(shares)},
        tokens=sum(len(ex) for ex in examples), trained_tokens=sum(ex.trained for ex in examples),
        steps_per_epoch=schedule.steps_per_epoch, total_steps=schedule.total_steps,
        warmup_steps=math.ceil(config.warmup_ratio * schedule.total_steps), passes_per_step=passes,
        stop_token=repr(tok.convert_ids_to_tokens(turn_end.stop_id)), stop_is_eos=turn_end.stop_is_eos,
        eos_tokens=[repr(t) for t in tok.convert_ids_to_tokens(renderer.eos_ids)],
        template_note=_template_note(renderer, rows[first.row - 1], first), attention=attention, memory=memory,
        procedure=describe_procedure(config), compile=compile, thinking_format=thinking_format,
        sample=[(tok.decode(first.ids[:first.train_start]), False),
                (tok.decode(first.ids[first.train_start:first.train_end]), True),
                (tok.decode(first.ids[first.train_end:]), False)],
        warnings=warnings,
    )


def describe_procedure(config: SFTConfig) -> str:
    """Packing, loss average and optimizer, and whether they are the s1 run's (``--paper``)."""
    packing = "packed blocks" if config.packing else "one example per sequence"
    average = "loss averaged per token of the step" if config.loss_average == "token" else \
        "loss averaged per example, then over the step"
    betas = ", ".join(f"{b:g}" for b in config.adam_betas)
    same = all(getattr(config, name) == value for name, value in PAPER.items())
    verdict = "the s1 run's (--paper)" if same else "not the s1 run's (--paper for its exact procedure)"
    return f"{packing}, {average}, AdamW β ({betas}), weight decay {config.weight_decay:g}: {verdict}"


def _check_first(example: Example, renderer: Renderer, row: dict, source: str) -> None:
    """The trained tokens of the first example must decode to thinking + delimiter + answer + end of
    turn: a tokenizer or template that mangles them would otherwise train on something else."""
    if example.truncated:
        return
    tok = renderer.tokenizer
    expected = renderer.completion(row["thinking"], row.get("response") or "")
    expected += tok.decode(list(renderer.turn_end.ids[:renderer.turn_end.stop_index + 1]))
    got = tok.decode(example.ids[example.train_start:example.train_end])
    if got != expected:
        raise InputError(f"{source}: row {example.row} (id {example.id!r}): the tokens that carry loss decode to "
                         f"{_clip(got)!r}, not the thinking, delimiter, answer and end of turn {_clip(expected)!r}")


def _template_note(renderer: Renderer, row: dict, example: Example) -> str | None:
    """Whether the chat template's own rendering of the exchange matches what is trained on."""
    tok = renderer.tokenizer
    whole = renderer.conversation(row["question"], renderer.completion(row["thinking"], row.get("response") or ""))
    if whole is None:
        if getattr(tok, "chat_template", None):
            return "the chat template could not render the whole exchange; trained on the generation prompt form"
        return "the tokenizer has no chat template: prompts are the question and the thinking opener"
    trained = tok.decode(example.ids)
    if example.truncated or whole == trained:
        return None
    same = (i for i, (a, b) in enumerate(zip(whole, trained, strict=False)) if a != b)
    at = next(same, min(len(whole), len(trained)))
    return (f"the chat template renders a whole conversation differently from its generation prompt plus the answer "
            f"(from character {at}: template {_clip(whole[at:])!r}, trained {_clip(trained[at:])!r}); training "
            "follows the generation prompt, which is what `s1 generate` sends")


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
