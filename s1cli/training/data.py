"""Training examples: render each row through the chat template with a thinking format, mark the
tokens that carry loss, and group examples into steps, processes and forward passes.

An example is the prompt exactly as ``s1 generate`` builds it (``thinking.build_prompt``: the chat
template's generation prompt plus the thinking opener), followed by what the model must learn to
write: the thinking, the end-of-thinking delimiter, the answer, and the template's end of turn.
Prompt and completion are tokenized separately, as at inference, where the prompt is encoded alone
and the model produces the rest token by token; so the trained tokens are exactly a sequence the
model can emit. Loss covers the completion up to and including the end-of-turn token; the prompt
and anything the template adds after that token (Qwen's newline after ``<|im_end|>``) carry none.

A forward pass takes one row: its examples back to back, never padded, with ``position_ids``
restarting at each example and the examples' boundaries (``cu_seq_lens``) handed to the attention,
which never crosses them (flash-attention's varlen kernel, or ``attention.segment_sdpa``). Packing
decides how many examples share a row: blocks of up to ``block_size`` tokens; without it, a fixed
number of examples. The tests prove there is no cross-contamination by comparing packed and
unpacked losses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from ..engines.base import eos_ids_of
from ..errors import ConfigError, InputError
from ..hub import model_source, offline_hint
from ..thinking import ThinkingFormat, build_prompt, opening_messages

IGNORE = -100
# Stands in for the answer when asking the template what it writes after an assistant turn.
_SENTINEL = "S1CLI-SENTINEL-7f3a9c"
_PROBE_QUESTION = "S1CLI-QUESTION-2b81"


@dataclass(frozen=True)
class Example:
    """One training row as token ids; ids[train_start:train_end] are the tokens that carry loss."""

    row: int  # 1-based position in the input table
    id: str
    ids: list[int] = field(repr=False)
    train_start: int  # = the prompt's length
    train_end: int
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def trained(self) -> int:
        """Tokens predicted with loss (each is predicted from the position before it)."""
        return self.train_end - self.train_start

    def targets(self) -> list[int]:
        """Next-token targets per position (IGNORE where no loss), shifted inside the example so a
        packed row never asks one example to predict the next one's first token."""
        out = [IGNORE] * len(self.ids)
        out[self.train_start - 1:self.train_end - 1] = self.ids[self.train_start:self.train_end]
        return out


@dataclass(frozen=True)
class TurnEnd:
    """What the chat template writes after an assistant message's content, as token ids, and which of
    them is the end-of-turn token the model learns to stop on (loss covers the ids up to it)."""

    text: str
    ids: tuple[int, ...]
    stop_index: int  # ids[stop_index] is the stop token
    stop_is_eos: bool  # generation stops on it (it is among the model's end-of-sequence ids)

    @property
    def stop_id(self) -> int:
        return self.ids[self.stop_index]


class Renderer:
    """Turns (question, thinking, response) into an example, the same way for every row."""

    def __init__(self, tokenizer: Any, fmt: ThinkingFormat, *, system: str | None = None,
                 answer_prefix: str | None = None, eos_ids: Iterable[int] = ()) -> None:
        self.tokenizer, self.fmt, self.system = tokenizer, fmt, system
        # The s1 repository wrote "Answer: " before the attempt unless it already had one.
        self.answer_prefix = ("Answer: " if fmt.name == "s1" else "") if answer_prefix is None else answer_prefix
        own = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
        self.eos_ids = sorted(set(eos_ids) | own)
        self.turn_end = self._turn_end()

    def prompt(self, question: str) -> str:
        return build_prompt(self.tokenizer, question, self.fmt, system=self.system)

    def completion(self, thinking: str, response: str) -> str:
        """Thinking, delimiter, answer. As the s1 repository did, the trace is stripped and ends with a
        newline before the delimiter (unless the delimiter starts with one), and the answer is stripped."""
        thinking = thinking.strip()
        if not self.fmt.end[:1].isspace():
            thinking += "\n"
        response = response.strip()
        prefix = self.answer_prefix
        if prefix and prefix.strip() not in response:
            response = prefix + response
        return thinking + self.fmt.end + response

    def conversation(self, question: str, completion: str) -> str | None:
        """The chat template's own rendering of the whole exchange (None without a template), to
        compare with what is trained on."""
        if not getattr(self.tokenizer, "chat_template", None):
            return None
        messages = [*opening_messages(self.tokenizer, question, self.system),
                    {"role": "assistant", "content": self.fmt.start + completion}]
        try:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, **dict(self.fmt.chat_template_kwargs))
        except Exception:  # a template that refuses the exchange is reported, not fatal
            return None

    def _turn_end(self) -> TurnEnd:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            messages = [{"role": "user", "content": _PROBE_QUESTION}, {"role": "assistant", "content": _SENTINEL}]
            try:
                text = tok.apply_chat_template(messages, tokenize=False, **dict(self.fmt.chat_template_kwargs))
            except Exception as exc:
                raise ConfigError(f"the tokenizer's chat template cannot render an assistant turn ({exc})") from None
            if _SENTINEL not in text:
                raise ConfigError("the tokenizer's chat template does not render an assistant message's content")
            text = text[text.rindex(_SENTINEL) + len(_SENTINEL):]
        else:
            if tok.eos_token is None:
                raise ConfigError("the tokenizer has neither a chat template nor an end-of-sequence token to stop on")
            text = tok.eos_token
        ids = tuple(tok(text, add_special_tokens=False)["input_ids"]) if text else ()
        stop = next((i for i, t in enumerate(ids) if t in self.eos_ids), None)
        if stop is None:
            special = set(getattr(tok, "all_special_ids", ()))
            stop = next((i for i, t in enumerate(ids) if t in special), None)
        if stop is None:
            if tok.eos_token_id is None:
                raise ConfigError(f"cannot tell which token ends an assistant turn: the chat template writes {text!r} "
                                  "after it and the tokenizer has no end-of-sequence token")
            # The template ends a turn with plain text: append the tokenizer's end-of-sequence token.
            ids, stop = (*ids, tok.eos_token_id), len(ids)
            text += tok.eos_token
        return TurnEnd(text=text, ids=ids, stop_index=stop, stop_is_eos=ids[stop] in self.eos_ids)

    def encode(self, rows: Sequence[Mapping[str, Any]]) -> list[Example]:
        """Examples for rows holding question, thinking and response (rows are checked before)."""
        prompts = [self.prompt(r["question"]) for r in rows]
        completions = [self.completion(r["thinking"], r.get("response") or "") for r in rows]
        encode = self.tokenizer
        prompt_ids = encode(prompts, add_special_tokens=False)["input_ids"] if rows else []
        completion_ids = encode(completions, add_special_tokens=False)["input_ids"] if rows else []
        tail = list(self.turn_end.ids)
        trained_tail = self.turn_end.stop_index + 1
        examples = []
        for index, (row, p, c) in enumerate(zip(rows, prompt_ids, completion_ids, strict=True), 1):
            ids = [*p, *c, *tail]
            examples.append(Example(row=index, id=str(row.get("id", index)), ids=ids, train_start=len(p),
                                    train_end=len(p) + len(c) + trained_tail))
        return examples


def check_rows(rows: Sequence[Mapping[str, Any]], source: str) -> None:
    """Every row needs a question and a non-empty thinking trace (the table reader has checked presence)."""
    for index, row in enumerate(rows, 1):
        for column in ("question", "thinking"):
            value = row.get(column)
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"{source}: row {index} (id {row.get('id')!r}): column {column!r} is empty")
        response = row.get("response")
        if response is not None and not isinstance(response, str):
            raise InputError(f"{source}: row {index} (id {row.get('id')!r}): column 'response' must be text")


@dataclass
class Prepared:
    """The examples that will be trained on, and what happened to rows longer than the block."""

    examples: list[Example]
    lengths: list[int]  # every row's full length in tokens, before truncation
    truncated: list[Example]  # as trained (cut to the block)
    dropped: list[int]  # 1-based rows left out


def fit_to_block(examples: Sequence[Example], block_size: int, long_rows: str, source: str) -> Prepared:
    """Truncate or drop examples longer than ``block_size``. A row whose prompt alone fills the block
    would train on nothing and is an error when truncating."""
    kept, truncated, dropped = [], [], []
    for ex in examples:
        if len(ex) <= block_size:
            kept.append(ex)
        elif long_rows == "drop":
            dropped.append(ex.row)
        elif ex.train_start >= block_size:
            raise InputError(f"{source}: row {ex.row} (id {ex.id!r}): the prompt alone is {ex.train_start:,} tokens "
                             f"and --block-size is {block_size:,}: nothing would be trained on (raise --block-size "
                             "or use --long-rows drop)")
        else:
            cut = Example(row=ex.row, id=ex.id, ids=ex.ids[:block_size], train_start=ex.train_start,
                          train_end=min(ex.train_end, block_size), truncated=True)
            kept.append(cut)
            truncated.append(cut)
    if not kept:
        raise InputError(f"{source}: every row is longer than --block-size {block_size:,} tokens and was dropped")
    return Prepared(kept, [len(ex) for ex in examples], truncated, dropped)


def load_tokenizer(name: str) -> tuple[object, list[int]]:
    """The base model's tokenizer and the token ids generation stops on (its generation config's)."""
    from transformers import AutoTokenizer, GenerationConfig

    where = model_source(name, f"--model hf:{name}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(where)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"--model hf:{name}: cannot load its tokenizer ({first}){offline_hint('model')}") from None
    try:
        generation = GenerationConfig.from_pretrained(where)
    except (OSError, ValueError):
        generation = None
    return tokenizer, eos_ids_of(tokenizer, generation)


def build_examples(rows: Sequence[Mapping[str, Any]], tokenizer: Any, fmt: ThinkingFormat, *, block_size: int,
                   long_rows: str, source: str, system: str | None = None, answer_prefix: str | None = None,
                   eos_ids: Iterable[int] = ()) -> tuple[Renderer, Prepared]:
    """Check the rows, render and tokenize them, and fit them to the block."""
    check_rows(rows, source)
    renderer = Renderer(tokenizer, fmt, system=system, answer_prefix=answer_prefix, eos_ids=eos_ids)
    return renderer, fit_to_block(renderer.encode(rows), block_size, long_rows, source)


# ----------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Schedule:
    """Which examples each optimizer step trains on. An epoch is a seeded permutation of the examples
    cut into global batches of ``batch_size`` (the last one may be smaller); ``max_steps`` replaces
    the epoch count, as in transformers, and may run over several epochs."""

    n_examples: int
    batch_size: int
    epochs: int
    seed: int = 0
    max_steps: int | None = None
    shuffle: bool = True

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.n_examples // self.batch_size)

    @property
    def total_steps(self) -> int:
        return self.max_steps or self.epochs * self.steps_per_epoch

    def epoch_order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n_examples)
        return np.random.default_rng([self.seed, epoch]).permutation(self.n_examples)

    def examples_for(self, step: int) -> list[int]:
        """Indices of the examples of ``step`` (0-based)."""
        epoch, within = divmod(step, self.steps_per_epoch)
        return self.epoch_order(epoch)[within * self.batch_size:(within + 1) * self.batch_size].tolist()

    def epoch_of(self, step: int) -> float:
        """Epochs completed after ``step`` (0-based) finishes, fractional."""
        return (step + 1) / self.steps_per_epoch


# A forward pass: the indices of the examples it holds, laid back to back in one row (padding-free).
# An empty one is a placeholder for a process with less work, so every process makes the same
# collective calls.
MicroBatch = list[int]


def plan_step(examples: Sequence[Example], indices: Sequence[int], *, world_size: int, micro_batch_size: int,
              block_size: int, packing: bool) -> list[list[MicroBatch]]:
    """Split one step's examples over processes, then into forward passes; the same on every process.

    Examples go to processes longest first, each to the least loaded (by tokens). On each process,
    packing fills blocks of ``block_size`` tokens first-fit decreasing and a forward pass takes
    ``micro_batch_size`` blocks; without packing a forward pass takes ``micro_batch_size`` examples.
    Every process gets the same number of forward passes (padded with empty ones).
    """
    by_length = sorted(indices, key=lambda i: (-len(examples[i]), i))
    loads = [0] * world_size
    shares: list[list[int]] = [[] for _ in range(world_size)]
    for i in by_length:
        rank = min(range(world_size), key=lambda r: (loads[r], r))
        shares[rank].append(i)
        loads[rank] += len(examples[i])
    plans = []
    for share in shares:
        groups = pack(examples, share, block_size) if packing else [[i] for i in share]
        plans.append([[i for group in groups[k:k + micro_batch_size] for i in group]
                      for k in range(0, len(groups), micro_batch_size)])
    passes = max(len(p) for p in plans)
    return [p + [[] for _ in range(passes - len(p))] for p in plans]


def pack(examples: Sequence[Example], indices: Sequence[int], block_size: int) -> list[list[int]]:
    """First-fit decreasing: blocks of at most ``block_size`` tokens (an example is never split)."""
    blocks: list[list[int]] = []
    room: list[int] = []
    for i in sorted(indices, key=lambda i: (-len(examples[i]), i)):
        size = len(examples[i])
        fit = next((b for b, free in enumerate(room) if free >= size), None)
        if fit is None:
            blocks.append([i])
            room.append(block_size - size)
        else:
            blocks[fit].append(i)
            room[fit] -= size
    return blocks


@dataclass
class Batch:
    """Tensors for one forward pass: one row, examples back to back. ``cu_seq_lens`` are the
    cumulative example lengths (flash-attention's varlen format); ``weights`` scale each target's
    loss before the step's sum."""

    input_ids: Any
    position_ids: Any
    targets: Any
    weights: Any
    cu_seq_lens: Any
    max_length: int
    tokens: int  # 0 for a placeholder pass

    def to(self, device: Any) -> Batch:
        return Batch(self.input_ids.to(device), self.position_ids.to(device), self.targets.to(device),
                     self.weights.to(device), self.cu_seq_lens.to(device), self.max_length, self.tokens)

    def attention_kwargs(self) -> dict:
        """What the model's attention needs to keep examples apart."""
        return {"cu_seq_lens_q": self.cu_seq_lens, "cu_seq_lens_k": self.cu_seq_lens,
                "max_length_q": self.max_length, "max_length_k": self.max_length}


def collate(micro: MicroBatch, examples: Sequence[Example], *, pad_id: int, loss_average: str) -> Batch:
    """Tensors for a micro-batch. Weights are 1 per target token (``token``: the step's loss is the
    mean over its target tokens) or 1/(the example's target tokens) (``sequence``: the mean over
    examples of each example's mean, what the s1 run computed with one example per GPU)."""
    import torch

    ids: list[int] = []
    positions: list[int] = []
    targets: list[int] = []
    weights: list[float] = []
    bounds = [0]
    for i in micro:
        ex = examples[i]
        ids += ex.ids
        positions += range(len(ex))
        row_targets = ex.targets()
        targets += row_targets
        share = 1.0 if loss_average == "token" else 1.0 / max(ex.trained, 1)
        weights += [share if t != IGNORE else 0.0 for t in row_targets]
        bounds.append(len(ids))
    tokens = len(ids)
    if not micro:  # placeholder pass: one padding token, nothing to learn
        ids, positions, targets, weights, bounds = [pad_id], [0], [IGNORE], [0.0], [0, 1]
    lengths = [e - s for s, e in pairwise(bounds)]
    return Batch(
        input_ids=torch.tensor([ids], dtype=torch.long),
        position_ids=torch.tensor([positions], dtype=torch.long),
        targets=torch.tensor([targets], dtype=torch.long),
        weights=torch.tensor([weights], dtype=torch.float32),
        cu_seq_lens=torch.tensor(bounds, dtype=torch.int32),
        max_length=max(lengths),
        tokens=tokens,
    )


def step_normalizer(examples: Sequence[Example], indices: Sequence[int], loss_average: str) -> float:
    """What the step's weighted loss sum is divided by: its target tokens, or its examples."""
    if loss_average == "token":
        return float(sum(examples[i].trained for i in indices))
    return float(len(indices))
