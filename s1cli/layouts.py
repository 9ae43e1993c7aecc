"""Column maps for the published reasoning datasets, so ``--layout s1k`` reads a release as it ships.

A layout is a named set of ``--map NEW=OLD`` renames, plus, where a release stores what the
contract wants in another shape, a function that derives it (OpenR1-Math keeps several traces per
question in one list). ``column_map`` merges a layout with the user's own ``--map``: the user's
renames win over the layout's for the same column.

Everything else the reader already does for every table: ``metadata`` as Python-literal text
becomes an object, a one-element list of text (``thinking_trajectories``) becomes the text,
``Yes``/``No`` grades become booleans, and a row without an id gets one from its source and question.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .errors import ConfigError
from .schema import Renames, Row
from .thinking import FORMATS


@dataclass(frozen=True)
class Layout:
    name: str
    reads: str  # the releases this layout reads, as their hub ids
    columns: tuple[tuple[str, str], ...]  # (NEW, OLD), as --map NEW=OLD
    derive: Callable[[Row], Row] | None = None
    note: str = ""

    def renames(self) -> Renames:
        return Renames(self.columns, layout=self.name, derive=self.derive)


_S1K = (("thinking", "thinking_trajectories"), ("response", "attempt"), ("source", "source_type"))
_S1K_11_GRADES = (("deepseek_correct", "deepseek_grade"), ("gemini_correct", "gemini_grade"))


def _openr1_trace(row: Row) -> Row:
    """OpenR1-Math keeps two to four R1 generations per problem (``generations``) with per-trace
    math-verify verdicts: take the first one math-verify accepted (else the first), split at
    ``</think>``, and record which one was taken."""
    generations = row.get("generations")
    if not isinstance(generations, list) or not generations or "thinking" in row:
        return row
    verdicts = row.get("correctness_math_verify")
    verdicts = verdicts if isinstance(verdicts, list) else []
    index = next((i for i, ok in enumerate(verdicts[: len(generations)]) if ok is True), 0)
    text = generations[index]
    if isinstance(text, str):
        thinking, response = FORMATS["r1"].split(text.lstrip())
        row["thinking"], row["response"] = (thinking or "").strip(), response.strip()
        row["generation"] = index
        row["math_verify_correct"] = verdicts[index] if index < len(verdicts) else None
    return row


LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (
    Layout("s1k", "simplescaling/s1K, simplescaling/data_ablation_full59K", _S1K,
           note="Gemini Flash Thinking traces"),
    Layout("s1k-1.1", "simplescaling/s1K-1.1",
           (("thinking", "deepseek_thinking_trajectory"), ("response", "deepseek_attempt"),
            ("source", "source_type"), *_S1K_11_GRADES),
           note="DeepSeek-R1 traces; both models' Yes/No grades as deepseek_correct, gemini_correct"),
    Layout("s1k-1.1-gemini", "simplescaling/s1K-1.1",
           (("thinking", "gemini_thinking_trajectory"), ("response", "gemini_attempt"),
            ("source", "source_type"), *_S1K_11_GRADES),
           note="the same table's Gemini traces"),
    Layout("s1-featurized", "qfq/train_featurized (the 59K pool with selection features)",
           (*_S1K, ("gemini_correct", "isgeminicorrect"), ("qwen7b_correct", "isqwen7bcorrect"),
            ("qwen32b_correct", "isqwen32bcorrect"), ("qwq_correct", "isqwqcorrect"),
            ("thinking_tokens", "gemini_length"), ("msc", "domain")),
           note="select's defaults then read it as it is"),
    Layout("openr1-math", "open-r1/OpenR1-Math-220k",
           (("id", "uuid"), ("question", "problem"), ("domain", "problem_type")), derive=_openr1_trace,
           note="thinking, response from the first generation math-verify accepted (else the first); "
                "generation, math_verify_correct say which"),
    Layout("numina", "AI-MO/NuminaMath-CoT, AI-MO/NuminaMath-1.5", (("question", "problem"),),
           note="no ids: each row gets one from source and question"),
)}


def get_layout(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ConfigError(f"--layout {name!r}: unknown layout; choose one of {', '.join(LAYOUTS)} "
                          "(or give the columns with --map NEW=OLD)") from None


def column_map(specs: Iterable[str] | None, layout: str | None = None) -> Renames:
    """The renames a command applies as it reads: ``--layout``'s, then ``--map``'s on top of them (a
    ``--map`` for the same new column, or from the same old column, replaces the layout's)."""
    own = Renames.parse(specs)
    if not layout:
        return own
    preset = get_layout(layout)
    news = {new for new, _ in own.pairs}
    olds = {old for _, old in own.pairs}
    kept = tuple((new, old) for new, old in preset.columns if new not in news and old not in olds)
    return Renames(kept + own.pairs, layout=preset.name, derive=preset.derive)
