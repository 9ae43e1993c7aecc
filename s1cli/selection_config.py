"""The options of ``s1 select`` (``SelectConfig``) and their defaults, apart from the selection
itself so that registering the command loads no numpy or pandas."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError

MODES = ("s1k", "random", "diverse", "longest", "all")
MODE_HELP = {
    "s1k": "quality → difficulty → pre-selection → diversity sampling weighted 2^(-rank) by trace length",
    "random": "uniform random rows after the quality filter (the paper's 1K-random)",
    "diverse": "uniform over domains, uniform within a domain, after the quality filter (1K-diverse)",
    "longest": "the rows with the longest traces after the quality filter (1K-longest)",
    "all": "every row, no filter and no sampling (59K-full)",
}

DEFAULT_AIME = ("*AIME*", "aime*")
DEFAULT_GPQA = ("*gpqa*", "*GPQA*")
DEFAULT_MATH = ("*openaimath*", "math", "math/*", "MATH", "MATH/*")


@dataclass(frozen=True)
class SelectConfig:
    """The options of a selection run (the ``s1 select`` options, one field each)."""

    mode: str = "s1k"
    size: int = 1000
    easy_if: tuple[str, ...] = ("qwen7b_correct", "qwen32b_correct")
    length_column: str = "thinking_tokens"
    domain_column: str = "msc"
    trace_correct_column: str = "gemini_correct"
    preselect: bool | None = None  # None: on in s1k mode
    math_min_tokens: float = 5600
    aime_sources: tuple[str, ...] = DEFAULT_AIME
    gpqa_sources: tuple[str, ...] = DEFAULT_GPQA
    math_sources: tuple[str, ...] = DEFAULT_MATH
    benchmark_weighting_after: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"--mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if self.size < 1:
            raise ConfigError(f"--size {self.size}: must be at least 1")
        if self.mode != "s1k" and self.preselect:
            raise ConfigError(f"--preselect applies to --mode s1k only, not --mode {self.mode}")
        if self.benchmark_weighting_after is not None:
            if self.mode != "s1k":
                raise ConfigError(f"--benchmark-weighting-after applies to --mode s1k only, not --mode {self.mode}")
            if self.benchmark_weighting_after < 0:
                raise ConfigError(f"--benchmark-weighting-after {self.benchmark_weighting_after}: must be 0 or more")
        if any(not column.strip() for column in self.easy_if):
            raise ConfigError(f"--easy-if: empty column name in {','.join(self.easy_if)!r}")
        for option, value in (("--length-column", self.length_column), ("--domain-column", self.domain_column),
                              ("--trace-correct-column", self.trace_correct_column)):
            if not value.strip():
                raise ConfigError(f"{option}: needs a column name")
        if self.seed < 0:
            raise ConfigError(f"--seed {self.seed}: must be 0 or more")

    @property
    def preselecting(self) -> bool:
        return self.mode == "s1k" and self.preselect is not False

    def columns_read(self) -> tuple[str, ...]:
        """Every column selection may read; the rest of a row only needs to be carried through."""
        return tuple(dict.fromkeys(("question", "source", "thinking", self.length_column, self.domain_column,
                                    *self.easy_if, self.trace_correct_column)))


