"""Verdict parsing, the LLM judge's retry-once-then-null rule, judge specs and the agreement audit."""

from __future__ import annotations

import pytest

from s1cli.errors import ConfigError
from s1cli.grading import GradePlan, JudgeSpec, agreement, parse_judges
from s1cli.judges import LLMJudge, RuleJudge, parse_verdict
from s1cli.llm import ModelRef
from s1cli.llm.base import Response, Usage
from s1cli.prompts import load_prompt

VERDICTS = [
    ("Yes", True), ("No.", False), ("**Yes**", True), ("The attempt is right.\n\nYes\n", True),
    ("Reasoning...\nVerdict: No", False), ("Final answer: YES!", True), (r"\boxed{No}", False),
    ("So the answer is: No.", False), ("> **Final verdict:** yes", True), ('"No"', False),
    ("Yes or no?", None), ("yes/no", None), ("No, wait, yes", None), ("", None), ("I cannot tell.", None),
    ("Yes, the attempt matches the reference answer of 12 exactly as required here", None),
]


@pytest.mark.parametrize(("text", "verdict"), VERDICTS)
def test_parse_verdict(text, verdict):
    assert parse_verdict(text) is verdict


class ScriptedAsk:
    """Replies in order; records what was asked."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.asked = []

    def __call__(self, request):
        self.asked.append(request)
        return Response(self.replies.pop(0), Usage(1, 1))


def judge() -> LLMJudge:
    return LLMJudge("claude", ModelRef("anthropic", "claude-x"), max_tokens=100)


def test_llm_judge_retries_once_with_the_reply_quoted_then_records_null():
    ask = ScriptedAsk("Hmm.", "Still unsure.")
    result = judge().judge("What is 1+1?", "2", "2", ask)
    assert result.correct is None and result.detail == "no verdict after a retry: Still unsure."
    first, second = ask.asked
    assert second.messages[:1] == first.messages
    assert second.messages[1] == {"role": "assistant", "content": "Hmm."}
    assert second.messages[2]["content"] == load_prompt("judge_v1_retry").text.strip()
    assert first.key("anthropic") != second.key("anthropic")  # the retry is not answered from the cache


def test_llm_judge_prompt_and_request():
    ask = ScriptedAsk("Same number.\nYes")
    result = judge().judge("What is $1+1$?", r"\boxed{2}", "2", ask)
    assert result.correct is True and result.detail == "Same number.\nYes"
    text = ask.asked[0].messages[0]["content"]
    assert "# Problem\nWhat is $1+1$?" in text and "# Attempt\n\\boxed{2}" in text and "# Reference\n2" in text
    assert dict(ask.asked[0].params) == {"temperature": 0.0}
    assert ask.asked[0].prompt_version.startswith("judge_v1@")
    assert judge().judge("q", "   ", "2", ScriptedAsk()).correct is False  # an empty attempt costs no call


def test_rule_judge():
    assert RuleJudge("rule").judge(r"so $\boxed{\frac{1}{2}}$", "0.5").correct is True
    assert RuleJudge("rule", solution=True).judge("x = 3", r"We find $x=\boxed{4}$.").correct is False


def test_judge_specs_and_column_names():
    specs = parse_judges(["anthropic:claude-x", "rule", "local=openai:qwen"])
    assert specs == [JudgeSpec("anthropic", ModelRef("anthropic", "claude-x")), JudgeSpec("rule", None),
                     JudgeSpec("local", ModelRef("openai", "qwen"))]
    plan = GradePlan("q7", [RuleJudge("rule"), RuleJudge("strict")])
    assert plan.columns("rule") == ("q7_correct", "q7_judge")
    assert plan.columns("strict") == ("q7_strict_correct", "q7_strict_judge")
    with pytest.raises(ConfigError, match="two judges are labelled 'anthropic'"):
        parse_judges(["anthropic:a", "anthropic:b"])
    with pytest.raises(ConfigError, match="a label must be"):
        parse_judges(["bad label=rule"])


def test_agreement_ignores_missing_verdicts():
    plan = GradePlan("m", [RuleJudge("a"), RuleJudge("b"), RuleJudge("c")])
    rows = [{"id": "1", "m_correct": True, "m_b_correct": True, "m_c_correct": None},
            {"id": "2", "m_correct": True, "m_b_correct": False, "m_c_correct": False},
            {"id": "3", "m_correct": False, "m_b_correct": False, "m_c_correct": False}]
    result = agreement(rows, plan)
    rates = {(p.first, p.second): (p.agreed, p.compared) for p in result.pairs}
    assert rates == {("a", "b"): (2, 3), ("a", "c"): (1, 2), ("b", "c"): (2, 2)}
    assert [r["id"] for r in result.disagreements] == ["2"]
