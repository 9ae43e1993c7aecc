"""Final answers: find the answer a response commits to, and decide whether it equals a reference.

Extraction, strongest signal first (the last occurrence of each wins, as a model often revises):
``\\boxed{...}`` / ``\\fbox{...}`` (nested braces kept whole), "Final Answer: ...", "the answer is
...", "Answer: ...", then the last markdown-bold span (``**73**``). For multiple-choice references
(a single letter A-E) the letter is read from that answer, else from the last "answer/option/choice
(is) B", else from a trailing "(B)"; when the choices' texts are known (GPQA), an answer that gives
a choice's text instead of its letter counts as that letter.

Equivalence goes through math-verify (fractions, decimals, LaTeX forms, intervals, sets, ``x=3`` vs
``3``, units and degree signs, integers with leading zeros such as AIME's ``073``) after a cheap
normalised string comparison. Plain words are compared as words: math-verify would read ``no`` and
``on`` as the same product of two symbols.

math-verify guards parsing and comparison with ``signal.alarm`` timeouts, which raise outside the
main thread; here the timeouts are used in the main thread and switched off elsewhere.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

CHOICES = "ABCDE"
TIMEOUT_SECONDS = 5  # math-verify's own default, used where signals work (the main thread)

_BOX = re.compile(r"\\(?:boxed|fbox)\b")
_FINAL = re.compile(r"final\s+answer\s*(?:is)?\s*[:：]?\s*", re.IGNORECASE)
_ANSWER_IS = re.compile(r"answer\s+(?:is|would\s+be|should\s+be)\s*[:：]?\s*", re.IGNORECASE)
_ANSWER_LINE = re.compile(r"(?:^|\n)[ \t>#*_]*answer\s*[:：]\s*", re.IGNORECASE)
_BOLD = re.compile(r"\*\*([^*\n]{1,80}?)\*\*")
_MINERVA_TAIL = re.compile(r"\.?\s*I hope it is correct\.?\s*$", re.IGNORECASE)
_LETTER = re.compile(r"^\(?([A-E])\)?(?:[.:),]|\s|$)")
_LONE_LETTER = re.compile(r"^\(?([a-eA-E])\)?\.?$")  # a bare "b" is a choice; "a prime" is not
_CHOICE_PHRASE = re.compile(r"\b(?i:answer|option|choice)(?:\s+(?i:is))?\s*[:：]?\s*\**\s*\(?([A-E])\)?(?![\w])")
_LAST_PAREN_LETTER = re.compile(r"\(([A-E])\)")
_WORDS = re.compile(r"[a-z][a-z\s'-]*")


@dataclass(frozen=True)
class Extraction:
    """The answer found in a text (None when there is none) and the rule that found it."""

    answer: str | None
    how: str  # boxed, final answer, answer is, answer line, bold, choice, none


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking a response against a reference answer."""

    pred: str | None
    gold: str | None
    correct: bool
    detail: str


# ------------------------------------------------------------------------------------------ extraction


def boxed_contents(text: str) -> list[str]:
    """Every ``\\boxed{...}`` / ``\\fbox{...}`` body in order, nested braces kept (``\\boxed{\\frac{a}{b}}``).

    ``\\boxed 5`` (no braces) gives ``5``; an unclosed brace gives nothing for that box.
    """
    found = []
    for match in _BOX.finditer(text):
        i = match.end()
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{":
            depth, start = 0, i + 1
            for j in range(i, len(text)):
                if text[j] == "{" and text[j - 1] != "\\":
                    depth += 1
                elif text[j] == "}" and text[j - 1] != "\\":
                    depth -= 1
                    if depth == 0:
                        found.append(text[start:j].strip())
                        break
        elif i > match.end():
            bare = re.match(r"[^\s$]+", text[i:])
            if bare:
                found.append(bare.group(0))
    return [item for item in found if item]


def _clause(text: str) -> str:
    """The answer at the start of ``text``: a whole ``$...$`` / ``\\(...\\)`` span or bold span, else the
    text up to the end of the sentence or line."""
    text = text.lstrip()
    for opener, closer in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**")):
        if text.startswith(opener):
            end = text.find(closer, len(opener))
            if end > len(opener):
                return text[len(opener):end].strip()
    boxed = boxed_contents(text.split("\n", 1)[0])
    if boxed:
        return boxed[0]
    line = text.split("\n", 1)[0]
    line = _MINERVA_TAIL.sub("", line)
    line = re.split(r"\.\s|\.$|;\s", line, maxsplit=1)[0]
    return line.strip().strip("*").strip()


def _after_last(pattern: re.Pattern, text: str) -> str | None:
    last = None
    for match in pattern.finditer(text):
        last = match
    if last is None:
        return None
    clause = _clause(text[last.end():])
    # "The final answer is $5$" inside a "Final Answer:" line (the Minerva format)
    inner = _ANSWER_IS.search(clause)
    if inner and clause[: inner.start()].strip().lower() in ("the final", "final", "the"):
        clause = _clause(clause[inner.end():])
    return clause or None


def extract_answer(text: str | None) -> Extraction:
    """The final answer a response commits to, or ``Extraction(None, "none")``."""
    if not text or not text.strip():
        return Extraction(None, "none")
    boxes = boxed_contents(text)
    if boxes:
        return Extraction(boxes[-1], "boxed")
    for how, pattern in (("final answer", _FINAL), ("answer is", _ANSWER_IS), ("answer line", _ANSWER_LINE)):
        found = _after_last(pattern, text)
        if found:
            return Extraction(found, how)
    bold = [m.group(1).strip() for m in _BOLD.finditer(text)]
    bold = [b for b in bold if b and not b.endswith(":")]
    if bold:
        return Extraction(bold[-1], "bold")
    return Extraction(None, "none")


def extract_choice(text: str | None, choices: Sequence[str] | None = None) -> Extraction:
    """A multiple-choice letter (A-E) from a response: from its final answer; else the last "answer /
    option / choice (is) B"; else, given the ``choices``' texts (A, B, ... in order), the one choice the
    final answer equals; else a last "(B)"."""
    found = extract_answer(text)
    if found.answer is not None:
        letter = choice_letter(found.answer)
        if letter:
            return Extraction(letter, found.how)
    if text:
        phrases = _CHOICE_PHRASE.findall(text)
        if phrases:
            return Extraction(phrases[-1], "choice phrase")
    if found.answer is not None and choices:
        matching = [CHOICES[i] for i, choice in enumerate(choices[: len(CHOICES)])
                    if choice is not None and equivalent(found.answer, str(choice))]
        if len(matching) == 1:
            return Extraction(matching[0], "choice text")
    if text:
        tail = _LAST_PAREN_LETTER.findall(text[-300:])
        if tail:
            return Extraction(tail[-1], "choice")
    return Extraction(None, "none")


def choice_letter(answer: str | None) -> str | None:
    """``B``, ``(B)``, ``\\text{(B)}``, ``B.``, ``B) 42`` → ``B``; anything else → None."""
    if answer is None:
        return None
    text = _strip_markup(answer).strip().strip("*").strip()
    match = _LETTER.match(text) or _LONE_LETTER.match(text)
    return match.group(1).upper() if match else None


# ------------------------------------------------------------------------------------------ equivalence


def _strip_markup(text: str) -> str:
    text = text.strip()
    for opener, closer in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if text.startswith(opener) and text.endswith(closer) and len(text) > len(opener) + len(closer) - 1:
            text = text[len(opener): len(text) - len(closer)]
    text = re.sub(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}", r"\1", text)
    return text.strip()


def normalise(answer: str) -> str:
    """A canonical string for a cheap first comparison (never the last word: math-verify is)."""
    text = _strip_markup(answer)
    text = re.sub(r"\\(?:left|right)\b", "", text)
    text = re.sub(r"\\[,;:! ]|~", "", text)
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = re.sub(r"\^\s*\{?\\circ\}?|°", "", text)
    text = re.sub(r"\s+", "", text).rstrip(".").lower()
    return text


def is_choice(reference: str | None) -> bool:
    """A reference that is a bare multiple-choice letter (A-E), e.g. GPQA's shuffled choices."""
    if reference is None:
        return False
    return re.fullmatch(r"\(?[A-E]\)?", _strip_markup(reference).strip()) is not None


def _words(text: str) -> str | None:
    """Plain words (a name, yes/no, a word answer) in lower case, or None for anything mathematical."""
    plain = _strip_markup(text).strip().rstrip(".").lower()
    return plain if len(plain) > 1 and _WORDS.fullmatch(plain) else None


def _timeouts() -> int | None:
    if threading.current_thread() is threading.main_thread():
        return TIMEOUT_SECONDS
    # Off on purpose outside the main thread; math-verify would warn about it on every call.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    return None


def _parse(answer: str):
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    text = _strip_markup(answer)
    return parse(f"${text}$", extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()],
                 parsing_timeout=_timeouts())


def equivalent(pred: str | None, gold: str | None) -> bool:
    """Whether answer ``pred`` equals reference ``gold`` (both final answers, not whole responses)."""
    if pred is None or gold is None:
        return False
    if is_choice(gold):
        return choice_letter(pred) == choice_letter(gold)
    if normalise(pred) == normalise(gold):
        return True
    gold_words, pred_words = _words(gold), _words(pred)
    if gold_words is not None or pred_words is not None:
        return gold_words == pred_words
    from math_verify import verify

    try:
        parsed_gold, parsed_pred = _parse(gold), _parse(pred)
        if not parsed_gold or not parsed_pred:
            return False
        return bool(verify(parsed_gold, parsed_pred, timeout_seconds=_timeouts()))
    except Exception:  # math-verify's timeout and sympy's own failures: not provably equal
        return False


def reference_answer(reference: str | None, *, solution: bool = False) -> str | None:
    """The final answer in a reference: a short answer as given (its box if it has one), or the last box
    of a worked solution (else its extracted final answer)."""
    if reference is None or not str(reference).strip():
        return None
    reference = str(reference)
    boxes = boxed_contents(reference)
    if boxes:
        return boxes[-1]
    if solution:
        found = extract_answer(reference).answer
        if found is None and _is_bare_answer(reference):
            return reference.strip()  # s1K's "solution" is a bare answer for AIME and TheoremQA rows ("125")
        return found
    return reference.strip()


def _is_bare_answer(text: str) -> bool:
    """One short line: a final answer given alone, not a worked solution without a conclusion."""
    text = text.strip()
    return "\n" not in text and len(text) <= 40 and len(text.split()) <= 4


def check(response: str | None, reference: str | None, *, solution: bool = False,
          choices: Sequence[str] | None = None) -> Verdict:
    """Extract the answer from ``response`` and compare it with ``reference``.

    ``solution=True`` when the reference is a worked solution rather than a short answer;
    ``choices`` are a multiple-choice question's option texts in letter order (A, B, ...).
    """
    gold = reference_answer(reference, solution=solution)
    if gold is None:
        return Verdict(None, None, False, "no answer found in the reference")
    found = extract_choice(response, choices) if is_choice(gold) else extract_answer(response)
    if found.answer is None:
        return Verdict(None, gold, False, f"no answer found in the response (reference {gold})")
    correct = equivalent(found.answer, gold)
    relation = "equals" if correct else "differs from"
    return Verdict(found.answer, gold, correct, f"{found.answer} ({found.how}) {relation} reference {gold}")
