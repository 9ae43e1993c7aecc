"""Budget forcing (s1 paper §3.1), independent of any engine.

A ``Forcer`` is a per-sequence state machine over token ids. At every step it says whether
the next token is the model's choice or forced, and it rewrites the model's attempts to end
thinking:

- **cap**: when thinking reaches ``max_thinking_tokens``, force the end-of-thinking text (and
  the answer prefix) so that an answer follows;
- **extend**: when the model tries to end thinking (emits the format's stop marker or an
  end-of-turn token) while waits remain or thinking is shorter than ``min_thinking_tokens``,
  drop the marker and force the wait string ("Wait") instead;
- the answer phase stops at an end-of-turn token or after ``max_answer_tokens``.

Wait strings count as thinking tokens, and one is only appended when it fits in the budget,
so thinking never exceeds the cap. Two drivers use the same rules:

1. single pass (``Forcer`` inside an engine's decode loop: no re-prefill between rounds);
2. multi-round (``multi_round``: any engine that continues a prefix, as the s1 repository does).

Under greedy decoding both give the same tokens.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import ConfigError
from .thinking import ThinkingFormat, single_token_id

THINK, ANSWER, DONE = "think", "answer", "done"
# finish values in the output table: how the answer ended (the model stopped, or it hit its limit),
# with "forced" for a thinking that was capped, so a capped trace whose answer was cut says both
STOP, LENGTH, FORCED, FORCED_LENGTH = "stop", "length", "forced", "forced+length"


@dataclass(frozen=True)
class Budget:
    """How long to think and answer; None means no cap."""

    max_thinking_tokens: int | None = None
    min_thinking_tokens: int = 0
    num_waits: int = 0
    wait: str = "Wait"
    max_answer_tokens: int = 1024
    answer_prefix: str = ""

    def __post_init__(self) -> None:
        if self.max_thinking_tokens is not None and self.max_thinking_tokens < 1:
            raise ConfigError(f"--max-thinking-tokens must be at least 1, got {self.max_thinking_tokens}")
        if self.min_thinking_tokens < 0:
            raise ConfigError(f"--min-thinking-tokens must be 0 or more, got {self.min_thinking_tokens}")
        if self.num_waits < 0:
            raise ConfigError(f"--num-waits must be 0 or more, got {self.num_waits}")
        if self.max_answer_tokens < 1:
            raise ConfigError(f"--max-answer-tokens must be at least 1, got {self.max_answer_tokens}")
        if (self.max_thinking_tokens is not None and self.min_thinking_tokens > self.max_thinking_tokens):
            raise ConfigError(f"--min-thinking-tokens {self.min_thinking_tokens} exceeds "
                              f"--max-thinking-tokens {self.max_thinking_tokens}")
        if (self.num_waits or self.min_thinking_tokens) and not self.wait:
            raise ConfigError("--wait-string must not be empty when extending thinking")


class StopMatcher:
    """Detects the model ending a run of text: a marker token id, or a marker string completed
    by the latest token (markers that are several tokens, or not tokens at all)."""

    def __init__(self, tokenizer: Any, strings: Sequence[str] = (), ids: Sequence[int] = ()) -> None:
        self.decode: Callable[[Sequence[int]], str] = lambda t: tokenizer.decode(t, skip_special_tokens=False)
        self._encode: Callable[[str], list[int]] = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"]
        self.ids = set(ids)
        self.texts: list[str] = []
        for text in strings:
            token = single_token_id(tokenizer, text)
            if token is not None:
                self.ids.add(token)
            elif text:
                self.texts.append(text)
        # Every token decodes to at least one character, so a marker of n characters spans at most n tokens.
        self.window = max((len(t) for t in self.texts), default=0)

    def example(self) -> list[int]:
        """Token ids that this matcher matches (to stand for a marker a server did not echo)."""
        if self.ids:
            return [min(self.ids)]
        return self._encode(self.texts[0]) if self.texts else []

    def match(self, run: Sequence[int]) -> int:
        """If the last token of ``run`` completes a marker, how many trailing tokens the marker
        spans (those tokens are removed); otherwise 0."""
        if not run:
            return 0
        if run[-1] in self.ids:
            return 1
        if not self.texts:
            return 0
        tail = list(run[-self.window:])
        text = self.decode(tail)
        before = self.decode(tail[:-1])
        for marker in self.texts:
            if marker in text and marker not in before:
                for start in range(len(tail) - 1, -1, -1):
                    if marker in self.decode(tail[start:]):
                        return len(tail) - start
        return 0


@dataclass(frozen=True)
class ForcingTokens:
    """A thinking format and budget compiled for one tokenizer."""

    think_stop: StopMatcher  # the model ending thinking: the format's stop marker or end of turn
    answer_stop: StopMatcher  # the model ending its answer: end of turn
    end_ids: tuple[int, ...]  # forced to end thinking
    prefix_ids: tuple[int, ...]  # forced to open the answer (counted as response)
    wait_ids: tuple[int, ...]

    @classmethod
    def build(cls, tokenizer: Any, fmt: ThinkingFormat, budget: Budget, eos_ids: Sequence[int]) -> ForcingTokens:
        def encode(text: str) -> tuple[int, ...]:
            return tuple(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else ()

        return cls(
            think_stop=StopMatcher(tokenizer, [fmt.stop], eos_ids),
            answer_stop=StopMatcher(tokenizer, [], eos_ids),
            end_ids=encode(fmt.end),
            prefix_ids=encode(budget.answer_prefix),
            wait_ids=encode(budget.wait),
        )


@dataclass
class Outcome:
    """What one sequence produced, as token ids."""

    thinking: list[int] = field(default_factory=list)
    response: list[int] = field(default_factory=list)
    waits: int = 0
    capped: bool = False
    finish: str | None = None  # stop | length | forced | forced+length
    seconds: float = field(default=0.0, compare=False)  # wall time from admission to finish


def _extend(budget: Budget, tokens: ForcingTokens, thinking_len: int, waits: int) -> bool:
    wants = waits < budget.num_waits or thinking_len < budget.min_thinking_tokens
    fits = budget.max_thinking_tokens is None or thinking_len + len(tokens.wait_ids) <= budget.max_thinking_tokens
    return wants and fits and bool(tokens.wait_ids)


def _finish(outcome: Outcome, answer_cut: bool) -> str:
    if answer_cut:
        return FORCED_LENGTH if outcome.capped else LENGTH
    return FORCED if outcome.capped else STOP


class Forcer:
    """Single-pass budget forcing for one sequence, driven token by token by a decode loop.

    Protocol per step: ``forced()`` returns the token the sequence must take next, or None
    when the model chooses; then the loop feeds that token (``took_forced``) or samples one and
    calls ``sampled(token)``, which returns the token to feed and how many already-fed tokens
    to discard (a marker that spanned several tokens). ``done`` ends the sequence.
    """

    def __init__(self, budget: Budget, tokens: ForcingTokens) -> None:
        self.budget, self.tokens = budget, tokens
        self.out = Outcome()
        self.phase = THINK
        self._queue: deque[tuple[int, str]] = deque()  # (token, where it goes: think/end/answer)
        self._run_start = 0  # the model's current run of thinking starts here (after the last wait)

    @property
    def done(self) -> bool:
        return self.phase == DONE

    def forced(self) -> int | None:
        if self.phase == THINK and not self._queue:
            cap = self.budget.max_thinking_tokens
            if cap is not None and len(self.out.thinking) >= cap:
                self.out.capped = True
                self._end_thinking()
        return self._queue[0][0] if self._queue else None

    def took_forced(self) -> None:
        token, where = self._queue.popleft()
        if where == "think":
            self.out.thinking.append(token)
        elif where == "answer":
            self._answer_token(token)

    def sampled(self, token: int) -> tuple[int | None, int]:
        if self.phase == THINK:
            run = [*self.out.thinking[self._run_start:], token]
            span = self.tokens.think_stop.match(run)
            if not span:
                self.out.thinking.append(token)
                return token, 0
            dropped = span - 1  # already fed; the sampled token itself is never fed
            del self.out.thinking[len(self.out.thinking) - dropped:]
            if _extend(self.budget, self.tokens, len(self.out.thinking), self.out.waits):
                self.out.waits += 1
                self._queue.extend((t, "think") for t in self.tokens.wait_ids)
                self._run_start = len(self.out.thinking) + len(self.tokens.wait_ids)
            else:
                self._end_thinking()
            first = self._queue[0][0]
            self.took_forced()
            return first, dropped
        if self.tokens.answer_stop.match([token]):
            self.phase, self.out.finish = DONE, _finish(self.out, answer_cut=False)
            return None, 0
        self._answer_token(token)
        return token, 0

    def abort(self) -> None:
        """The context is full: end where the sequence is."""
        self._queue.clear()
        self.phase, self.out.finish = DONE, _finish(self.out, answer_cut=True)

    def _end_thinking(self) -> None:
        self.phase = ANSWER
        self._queue.extend((t, "end") for t in self.tokens.end_ids)
        self._queue.extend((t, "answer") for t in self.tokens.prefix_ids)

    def _answer_token(self, token: int) -> None:
        self.out.response.append(token)
        if len(self.out.response) >= self.budget.max_answer_tokens:
            self._queue.clear()
            self.phase, self.out.finish = DONE, _finish(self.out, answer_cut=True)


# ---------------------------------------------------------------------------- multi-round driver


@dataclass(frozen=True)
class Continuation:
    """Ask an engine to continue ``prefix`` by at most ``max_tokens``, stopping when ``stop``
    matches (the marker's tokens are included in the reply)."""

    prefix: list[int]
    max_tokens: int
    stop: StopMatcher
    key: str = ""  # seeds the sequence's random stream for this round


class Continuer(Protocol):
    def continue_batch(self, requests: Sequence[Continuation]) -> list[list[int]]: ...


def multi_round(engine: Continuer, prompts: Sequence[Sequence[int]], keys: Sequence[str], budget: Budget,
                tokens: ForcingTokens) -> list[Outcome]:
    """The s1 repository's procedure, batched: think until the model stops or the budget is
    spent; while extension is allowed, drop the marker, append the wait string and continue;
    then force the end of thinking and generate the answer."""
    outcomes = [Outcome() for _ in prompts]
    thinking_open = list(range(len(prompts)))
    round_index = 0
    while thinking_open:
        round_index += 1
        requests, asked = [], []
        for i in thinking_open:
            out = outcomes[i]
            remaining = None if budget.max_thinking_tokens is None else budget.max_thinking_tokens - len(out.thinking)
            if remaining is not None and remaining <= 0:
                out.capped = True
                continue
            requests.append(Continuation([*prompts[i], *out.thinking], remaining or 1 << 30, tokens.think_stop,
                                         f"{keys[i]}#think{round_index}"))
            asked.append((i, remaining))
        replies = engine.continue_batch(requests) if requests else []
        thinking_open = []
        for (i, remaining), reply in zip(asked, replies, strict=True):
            out = outcomes[i]
            span = tokens.think_stop.match(reply) if reply else 0
            out.thinking.extend(reply[: len(reply) - span])
            if not span:
                out.capped = remaining is not None and len(reply) >= remaining
                if not out.capped:  # the engine stopped for its own reasons (context length)
                    out.finish = LENGTH
                continue
            if _extend(budget, tokens, len(out.thinking), out.waits):
                out.waits += 1
                out.thinking.extend(tokens.wait_ids)
                thinking_open.append(i)
    answer_room = budget.max_answer_tokens - len(tokens.prefix_ids)
    asked = [i for i, out in enumerate(outcomes) if out.finish is None and answer_room > 0]
    for out in outcomes:
        out.response = list(tokens.prefix_ids[: budget.max_answer_tokens])
        if answer_room <= 0 and out.finish is None:
            out.finish = _finish(out, answer_cut=True)
    requests = [Continuation([*prompts[i], *outcomes[i].thinking, *tokens.end_ids, *tokens.prefix_ids],
                             answer_room, tokens.answer_stop, f"{keys[i]}#answer") for i in asked]
    for i, reply in zip(asked, engine.continue_batch(requests) if requests else [], strict=True):
        out = outcomes[i]
        span = tokens.answer_stop.match(reply) if reply else 0
        out.response.extend(reply[: len(reply) - span])
        out.finish = _finish(out, answer_cut=not span)
    return outcomes
