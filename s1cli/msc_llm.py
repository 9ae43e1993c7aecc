"""MSC classification by a language model: an API model through the client layer (``anthropic:MODEL``,
``openai:MODEL``) or a local model through the generation engines (``hf:PATH``, ``vllm:PATH``), both
with the same prompt (``s1cli/prompts/msc_v1.md``), and the loops that run a table through them.

The reply must end with a two-digit code from the candidate list. Anything else is asked once more
as a follow-up turn quoting the invalid answer (``msc_v1_retry.md``; a new request, so the cache
cannot hand back the same reply); a second invalid reply is recorded as ``code = None`` with the raw
text, never guessed. API errors are not answers either: they propagate (``RequestFailed``) and the
row is left out for a rerun (``llm.rows``), exactly as ``grade`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .engines.base import Engine, Sampling
from .forcing import Continuation, StopMatcher
from .llm import ModelRef
from .llm.base import Request
from .llm.client import Client
from .llm.rows import Ask, CallEstimate, RowCalls, RunStats
from .msc import LabelSet, MSCResult, labelled, parse_reply
from .prompts import Prompt, load_prompt
from .schema import Row


def render_classes(labels: LabelSet) -> str:
    """The subject list as the s1 repository offered it: title, code, description of subfields."""
    blocks = []
    for c in labels.classes:
        blocks.append(f"### {c.name}\n* Code: {c.code}\n* Description: {c.description or c.name}")
    return "\n\n".join(blocks)


class Conversation:
    """The prompt and the retry rule, shared by API and local models."""

    def __init__(self, labels: LabelSet, prompt: Prompt | None = None, retry_prompt: Prompt | None = None) -> None:
        self.labels = labels
        self.prompt = prompt or load_prompt("msc_v1")
        self.retry_prompt = retry_prompt or load_prompt("msc_v1_retry")
        self._classes = render_classes(labels)

    @property
    def version(self) -> str:
        return f"{self.prompt.version}+{self.retry_prompt.version}"

    def first(self, question: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": self.prompt.render(question=question.strip(), classes=self._classes)}]

    def retry_message(self, reply: str) -> str | None:
        """None when ``reply`` holds a valid code; else the follow-up that quotes the invalid answer."""
        parsed = parse_reply(reply, self.labels)
        if parsed.code is not None:
            return None
        answer = parsed.answer if len(parsed.answer) <= 200 else parsed.answer[:199] + "…"
        return self.retry_prompt.render(answer=answer, problem=parsed.problem).strip()

    def result(self, reply: str, *, retried: bool) -> MSCResult:
        code = parse_reply(reply, self.labels).code
        if code is None:
            return MSCResult(None, f"no valid code{' after a retry' if retried else ''}: {reply.strip()}")
        return MSCResult(code, reply.strip())


class LLMClassifier:
    """An API model (``anthropic:MODEL`` or ``openai:MODEL``) asked through the client layer."""

    def __init__(self, ref: ModelRef, labels: LabelSet, *, max_tokens: int = 1024,
                 conversation: Conversation | None = None, params: dict[str, Any] | None = None) -> None:
        self.ref = ref
        self.labels = labels
        self.max_tokens = max_tokens
        self.conversation = conversation or Conversation(labels)
        self.params = {"temperature": 0.0} if params is None else params

    def request(self, question: str) -> Request:
        return Request.make(self.ref.model, self.conversation.first(question), self.max_tokens, params=self.params,
                            prompt_version=self.conversation.version)

    def classify(self, question: str, ask: Ask) -> MSCResult:
        if not question.strip():
            return MSCResult(None, "empty question")
        first = self.request(question)
        reply = ask(first).text
        follow_up = self.conversation.retry_message(reply)
        if follow_up is None:
            return self.conversation.result(reply, retried=False)
        reply = ask(first.follow_up(reply, follow_up)).text
        return self.conversation.result(reply, retried=True)


class LocalClassifier:
    """A local model (``hf:PATH``, ``vllm:PATH``) run through a generation engine, greedy, with the
    same prompt in the model's chat template and the same retry rule."""

    def __init__(self, engine: Engine, labels: LabelSet, *, max_tokens: int = 1024,
                 conversation: Conversation | None = None) -> None:
        self.engine = engine
        self.labels = labels
        self.max_tokens = max_tokens
        self.conversation = conversation or Conversation(labels)
        tokenizer = engine.tokenizer
        self._stop = StopMatcher(tokenizer, [], engine.eos_ids)

    def _ids(self, messages: list[dict[str, str]]) -> list[int]:
        tokenizer = self.engine.tokenizer
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = "\n\n".join(m["content"] for m in messages) + "\n"
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    def _generate(self, conversations: Sequence[list[dict[str, str]]], keys: Sequence[str]) -> list[str]:
        requests = [Continuation(self._ids(messages), self.max_tokens, self._stop, key)
                    for messages, key in zip(conversations, keys, strict=True)]
        outputs = self.engine.continue_batch(requests, Sampling())
        tokenizer = self.engine.tokenizer
        replies = []
        for ids in outputs:
            span = self._stop.match(ids) if ids else 0
            replies.append(tokenizer.decode(ids[: len(ids) - span], skip_special_tokens=True))
        return replies

    def classify_batch(self, questions: Sequence[str], keys: Sequence[str]) -> list[MSCResult]:
        results: list[MSCResult | None] = [MSCResult(None, "empty question") if not q.strip() else None
                                           for q in questions]
        asked = [i for i, r in enumerate(results) if r is None]
        conversations = {i: self.conversation.first(questions[i]) for i in asked}
        replies = dict(zip(asked, self._generate([conversations[i] for i in asked], [keys[i] for i in asked]),
                           strict=True))
        again = []
        for i in asked:
            follow_up = self.conversation.retry_message(replies[i])
            if follow_up is None:
                results[i] = self.conversation.result(replies[i], retried=False)
            else:
                conversations[i] = [*conversations[i], {"role": "assistant", "content": replies[i]},
                                    {"role": "user", "content": follow_up}]
                again.append(i)
        if again:
            second = self._generate([conversations[i] for i in again], [f"{keys[i]}#retry" for i in again])
            for i, reply in zip(again, second, strict=True):
                results[i] = self.conversation.result(reply, retried=True)
        return [r for r in results if r is not None]


# ------------------------------------------------------------------------------------------ runs


def classifier_calls(classifier: LLMClassifier, question_column: str) -> RowCalls:
    """An API classifier's calls over rows, for ``RowJob.call``: one model, labelled ``msc``."""

    def work(asks: Mapping[str, Ask]) -> Callable[[Row], MSCResult]:
        return lambda row: classifier.classify(str(row.get(question_column) or ""), asks["msc"])

    return RowCalls({"msc": classifier.ref}, work, lambda row, result: labelled(row, result, classifier.labels),
                    thread_name="s1-msc")


def run_local(rows: Sequence[Row], classifier: LocalClassifier, question_column: str,
              write: Callable[[Row], None], *, batch_size: int,
              advance: Callable[[int], None] = lambda n: None) -> RunStats:
    """Label rows with a local model, ``batch_size`` questions decoded together."""
    stats = RunStats()
    for start in range(0, len(rows), batch_size):
        batch = rows[start:start + batch_size]
        results = classifier.classify_batch([str(r.get(question_column) or "") for r in batch],
                                            [str(r.get("id")) for r in batch])
        for row, result in zip(batch, results, strict=True):
            write(labelled(row, result, classifier.labels))
            stats.done += 1
        advance(len(batch))
    return stats


def estimate(questions: Iterable[str], classifier: LLMClassifier, client: Client, *, batch: bool) -> CallEstimate:
    """What classifying ``questions`` would send and cost (first tries; an invalid answer adds a follow-up)."""
    entry = CallEstimate("msc", str(classifier.ref))
    for question in questions:
        if question.strip():
            entry.add(classifier.request(question), client, classifier.ref, batch=batch)
    return entry
