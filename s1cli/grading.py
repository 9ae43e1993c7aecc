"""The grading pipeline behind ``s1 grade``: several judges per row, token counts, direct or batched
model calls, the agreement audit and the dry-run estimate.

Each judge writes ``<name>_correct`` and ``<name>_judge``; the first judge owns those names and each
further judge writes ``<name>_<label>_correct`` / ``_judge``, so adding an audit judge never changes
the columns later steps read. Rule judges and token counts run in the calling (main) thread; LLM
judges' calls run through ``llm.rows`` (a thread pool, or rounds of Message Batches). A row is
written only when every judge has an answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .errors import ConfigError
from .judges import Ask, JudgeResult, LLMJudge, RuleJudge
from .llm import ModelRef, parse_model_ref
from .llm.client import Client
from .llm.rows import CallEstimate, Pending, RowCalls
from .schema import KEY_COLUMNS, Row
from .tokens import TokenCounter

Judge = RuleJudge | LLMJudge
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")  # judge labels and --name: they become column names


@dataclass(frozen=True)
class JudgeSpec:
    label: str
    ref: ModelRef | None  # None: the rule judge


def parse_judges(specs: Iterable[str]) -> list[JudgeSpec]:
    """``rule``, ``anthropic:MODEL``, ``openai:MODEL``, each optionally ``LABEL=...`` (default labels:
    rule, anthropic, openai)."""
    judges: list[JudgeSpec] = []
    for spec in specs:
        label, sep, rest = spec.partition("=")
        if not sep:
            label, rest = "", spec
        rest = rest.strip()
        ref = None if rest == "rule" else parse_model_ref(rest, option="--judge")
        label = label.strip() or (ref.backend if ref else "rule")
        if not NAME.match(label):
            raise ConfigError(f"--judge {spec!r}: a label must be letters, digits, _ or -")
        if any(j.label == label for j in judges):
            raise ConfigError(f"--judge {spec!r}: two judges are labelled {label!r}; name them, "
                              f"e.g. --judge sonnet={rest}")
        judges.append(JudgeSpec(label, ref))
    if not judges:
        raise ConfigError("give at least one --judge (rule, anthropic:MODEL or openai:MODEL) or --count-tokens")
    return judges


@dataclass
class GradePlan:
    name: str
    judges: list[Judge]
    attempt_column: str = "response"
    reference_column: str = "answer"
    question_column: str = "question"
    count_tokens: tuple[str, ...] = ()
    counter: TokenCounter | None = None

    def columns(self, label: str) -> tuple[str, str]:
        prefix = self.name if self.judges and label == self.judges[0].label else f"{self.name}_{label}"
        return f"{prefix}_correct", f"{prefix}_judge"

    @property
    def llm_judges(self) -> list[LLMJudge]:
        return [j for j in self.judges if isinstance(j, LLMJudge)]

    def required(self) -> list[str]:
        columns = []
        if self.judges:
            columns += [self.attempt_column, self.reference_column]
        if self.llm_judges:
            columns.append(self.question_column)
        return columns


class Grader:
    def __init__(self, plan: GradePlan, asks: Mapping[str, Ask] | None = None) -> None:
        self.plan = plan
        self.asks = asks or {}

    def _texts(self, row: Row) -> tuple[str, str, str]:
        plan = self.plan
        return (str(row.get(plan.question_column) or ""), str(row.get(plan.attempt_column) or ""),
                str(row.get(plan.reference_column) or ""))

    def llm_part(self, row: Row) -> dict[str, JudgeResult]:
        """Every LLM judge's verdict for ``row`` (thread-safe). Raises Pending with every missing reply."""
        question, attempt, reference = self._texts(row)
        results, pending = {}, None
        for judge in self.plan.llm_judges:
            try:
                results[judge.label] = judge.judge(question, attempt, reference, self.asks[judge.label])
            except Pending as exc:
                pending = exc.merge(pending)
        if pending is not None:
            raise pending
        return results

    def finish(self, row: Row, llm: dict[str, JudgeResult]) -> Row:
        """The output row: rule verdicts (main thread), LLM verdicts and token counts added."""
        _, attempt, reference = self._texts(row)
        out = dict(row)
        for judge in self.plan.judges:
            result = llm[judge.label] if isinstance(judge, LLMJudge) else judge.judge(attempt, reference)
            correct_column, judge_column = self.plan.columns(judge.label)
            out[correct_column], out[judge_column] = result.correct, result.detail
        for column in self.plan.count_tokens:
            value = row.get(column)
            out[f"{column}_tokens"] = self.plan.counter.count(value) if isinstance(value, str) else None
        return out


def judge_calls(plan: GradePlan) -> RowCalls:
    """The LLM judges' calls over rows, for ``RowJob.call``: one ask per judge label."""
    return RowCalls({j.label: j.ref for j in plan.llm_judges}, lambda asks: Grader(plan, asks).llm_part,
                    Grader(plan).finish, thread_name="s1-grade")


# ------------------------------------------------------------------------------------------ audit


@dataclass
class PairAgreement:
    first: str
    second: str
    compared: int  # rows where both judges gave a verdict
    agreed: int

    @property
    def rate(self) -> float | None:
        return self.agreed / self.compared if self.compared else None


@dataclass
class Agreement:
    pairs: list[PairAgreement] = field(default_factory=list)
    disagreements: list[Row] = field(default_factory=list)


def agreement(rows: Iterable[Row], plan: GradePlan) -> Agreement:
    """Agreement of every pair of judges, and the rows where any two verdicts differ."""
    labels = [j.label for j in plan.judges]
    columns = {label: plan.columns(label) for label in labels}
    pairs = {(a, b): PairAgreement(a, b, 0, 0) for i, a in enumerate(labels) for b in labels[i + 1:]}
    result = Agreement(list(pairs.values()))
    keep = [*KEY_COLUMNS, plan.question_column, plan.reference_column, plan.attempt_column]
    for row in rows:
        verdicts = {label: row.get(columns[label][0]) for label in labels}
        differ = False
        for (a, b), pair in pairs.items():
            if verdicts[a] is None or verdicts[b] is None:
                continue
            pair.compared += 1
            if verdicts[a] == verdicts[b]:
                pair.agreed += 1
            else:
                differ = True
        if differ:
            audit = {c: row[c] for c in keep if c in row}
            for label in labels:
                audit.update({c: row.get(c) for c in columns[label]})
            result.disagreements.append(audit)
    return result


# ------------------------------------------------------------------------------------------ dry run


def estimate(rows: Iterable[Row], grader: Grader, clients: dict[str, Client], *, batch: bool) -> list[CallEstimate]:
    """What grading ``rows`` would send, and cost, without sending anything."""
    plan = grader.plan
    estimates = {j.label: CallEstimate(j.label, str(j.ref)) for j in plan.llm_judges}
    for row in rows:
        question, attempt, reference = grader._texts(row)
        if not attempt.strip():
            continue
        for judge in plan.llm_judges:
            estimates[judge.label].add(judge.request(question, attempt, reference), clients[judge.label], judge.ref,
                                       batch=batch)
    return list(estimates.values())
