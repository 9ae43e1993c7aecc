"""Ways of controlling how long a model thinks besides budget forcing: the s1 paper's §5.2 baselines.

- **token-conditional**: the prompt states the thinking budget in tokens (``length_tokens_v1``);
- **step-conditional**: the prompt states a budget in steps of about ``step_tokens`` tokens
  (``length_steps_v1``; the budget ``B`` becomes ``round(B / step_tokens)`` steps, at least one);
- **class-conditional**: a generic instruction to think briefly or at length (``length_short_v1``,
  ``length_long_v1``), with no number in it;
- **rejection sampling**: sample with the budget as a cap until a trace ends its thinking within
  it, up to ``max_tries`` draws per sample (see ``generation.generate``);
- the prompt methods **+budget-forcing**: the same prompt, with the budget also enforced as a cap.

Each method is a ``LengthMethod``; ``instruction`` turns a question into the prompted question. The
prompts are files in ``s1cli/prompts/``, so editing one changes its version (recorded in every row).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError
from .prompts import Prompt, load_prompt

BUDGET_FORCING = "budget-forcing"
MAJORITY = "majority-vote"
TOKEN = "token-conditional"
STEP = "step-conditional"
CLASS = "class-conditional"
REJECTION = "rejection-sampling"
FORCED_SUFFIX = "+budget-forcing"
METHODS = (BUDGET_FORCING, MAJORITY, TOKEN, TOKEN + FORCED_SUFFIX, STEP, STEP + FORCED_SUFFIX, CLASS, REJECTION)
LENGTH_CLASSES = ("short", "long")
DEFAULT_STEP_TOKENS = 100
DEFAULT_MAX_TRIES = 8

_PROMPTS = {TOKEN: "length_tokens_v1", STEP: "length_steps_v1", "short": "length_short_v1", "long": "length_long_v1"}


def parse_methods(text: str) -> list[str]:
    """``budget-forcing,majority-vote`` → the methods, in the order given, each known and once."""
    methods: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part not in METHODS:
            raise ConfigError(f"--methods {text!r}: unknown method {part!r}; choose from {', '.join(METHODS)}")
        if part in methods:
            raise ConfigError(f"--methods {text!r}: {part} appears twice")
        methods.append(part)
    if not methods:
        raise ConfigError(f"--methods is empty; e.g. --methods {BUDGET_FORCING},{MAJORITY}")
    return methods


def base_method(method: str) -> str:
    """``token-conditional+budget-forcing`` → ``token-conditional``."""
    return method.removesuffix(FORCED_SUFFIX)


def is_forced(method: str) -> bool:
    """Whether the method enforces its budget as a cap (budget forcing, the +budget-forcing variants
    and rejection sampling, which draws under the cap and keeps only traces that end within it)."""
    return method in (BUDGET_FORCING, REJECTION) or method.endswith(FORCED_SUFFIX)


@dataclass(frozen=True)
class Instruction:
    """The prompt a prompted method puts around each question, with what fills it in."""

    prompt: Prompt
    values: tuple[tuple[str, str], ...] = ()

    def apply(self, question: str) -> str:
        return self.prompt.render(question=question, **dict(self.values)).rstrip("\n")

    @property
    def version(self) -> str:
        return self.prompt.version


def instruction_for(method: str, *, budget: int | None = None, length: str | None = None,
                    step_tokens: int = DEFAULT_STEP_TOKENS) -> Instruction | None:
    """The instruction of a prompted method at one setting; None for methods that prompt nothing."""
    kind = base_method(method)
    if kind == CLASS:
        if length not in LENGTH_CLASSES:
            raise ConfigError(f"{CLASS}: the length class must be short or long, got {length!r}")
        return Instruction(load_prompt(_PROMPTS[length]))
    if kind not in (TOKEN, STEP):
        return None
    if budget is None:
        raise ConfigError(f"{method} states a budget in the prompt: give numeric --budgets (not none)")
    if kind == TOKEN:
        return Instruction(load_prompt(_PROMPTS[TOKEN]), (("budget", f"{budget:,}"),))
    if step_tokens < 1:
        raise ConfigError(f"--step-tokens must be at least 1, got {step_tokens}")
    steps = max(1, round(budget / step_tokens))
    return Instruction(load_prompt(_PROMPTS[STEP]), (("steps", str(steps)), ("step_tokens", str(step_tokens))))
