"""Judges decide whether an attempt is correct: ``rule`` (answer extraction + math-verify, offline) and
LLM judges (a model compares the attempt with the reference and ends with Yes or No).

An LLM reply without a clear verdict is asked once more, as a follow-up turn quoting the reply (a
new request, so the cache cannot hand back the same reply); a second reply without one is recorded
as ``correct = None`` with the raw text, never guessed. API errors are not verdicts either: they
propagate (``RequestFailed``) and the row is left ungraded for a rerun.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .answers import check
from .llm import ModelRef
from .llm.base import Request, Response
from .prompts import Prompt, load_prompt

Ask = Callable[[Request], Response]

_LABEL = re.compile(r"^(?:final\s+)?(?:verdict|answer|judgement|judgment|grade|decision|correct)\s*[:：-]\s*",
                    re.IGNORECASE)
_WORD = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


@dataclass(frozen=True)
class JudgeResult:
    correct: bool | None  # None: no verdict (recorded with the raw reply in ``detail``)
    detail: str


def parse_verdict(text: str | None) -> bool | None:
    """Yes → True, No → False, anything unclear → None.

    Reads the last non-empty line, ignoring markdown, ``\\boxed{}``, quotes, trailing punctuation and
    a label such as "Verdict:" or "Final answer:"; a short last line holding exactly one of yes/no
    also counts ("So the answer is: No."). "Yes or no", "yes/no" and lines naming both are unclear.
    """
    if not text:
        return None
    lines = [line for line in text.strip().splitlines() if line.strip(" \t*_#`>")]
    if not lines:
        return None
    line = lines[-1]
    line = re.sub(r"\\boxed\{([^{}]*)\}|\\text\{([^{}]*)\}", lambda m: m.group(1) or m.group(2) or "", line)
    line = re.sub(r"[*_#`>\"'“”$]", "", line).strip()
    line = _LABEL.sub("", line).strip().rstrip(".!").strip().lower()
    if line in ("yes", "no"):
        return line == "yes"
    words = {w.lower() for w in _WORD.findall(line)}
    if len(words) == 1 and len(line.split()) <= 6:
        return words == {"yes"}
    return None


class RuleJudge:
    """Answer extraction + math-verify; needs no network. Run it in the main thread (math-verify's
    timeouts are signal-based there; elsewhere they are off)."""

    llm = False

    def __init__(self, label: str, *, solution: bool = False) -> None:
        self.label = label
        self.solution = solution

    def judge(self, attempt: str, reference: str) -> JudgeResult:
        verdict = check(attempt, reference, solution=self.solution)
        return JudgeResult(verdict.correct, verdict.detail)


class LLMJudge:
    llm = True

    def __init__(self, label: str, ref: ModelRef, *, max_tokens: int = 1024, prompt: Prompt | None = None,
                 retry_prompt: Prompt | None = None, params: dict[str, Any] | None = None) -> None:
        self.label = label
        self.ref = ref
        self.max_tokens = max_tokens
        self.prompt = prompt or load_prompt("judge_v1")
        self.retry_prompt = retry_prompt or load_prompt("judge_v1_retry")
        self.params = {"temperature": 0.0} if params is None else params

    def request(self, question: str, attempt: str, reference: str) -> Request:
        text = self.prompt.render(question=question.strip(), attempt=attempt.strip(), reference=reference.strip())
        version = f"{self.prompt.version}+{self.retry_prompt.version}"
        return Request.make(self.ref.model, [{"role": "user", "content": text}], self.max_tokens,
                            params=self.params, prompt_version=version)

    def judge(self, question: str, attempt: str, reference: str, ask: Ask) -> JudgeResult:
        if not attempt.strip():
            return JudgeResult(False, "empty attempt")
        first = self.request(question, attempt, reference)
        reply = ask(first).text
        verdict = parse_verdict(reply)
        if verdict is None:
            reply = ask(first.follow_up(reply, self.retry_prompt.text.strip())).text
            verdict = parse_verdict(reply)
            if verdict is None:
                return JudgeResult(None, f"no verdict after a retry: {reply.strip()}")
        return JudgeResult(verdict, reply.strip())
