"""Thinking formats: the delimiters around a model's reasoning, how a prompt opens thinking, and
how a generated text splits into thinking and response.

- ``s1``: ``<|im_start|>think`` ... ``<|im_start|>answer`` (the s1 models; Qwen ChatML tokens).
- ``r1`` / ``qwen3``: ``<think>`` ... ``</think>`` (DeepSeek-R1 and its distills, Qwen3).
- ``custom``: any pair of strings.
- ``auto``: ``choose_format`` picks one of them for a tokenizer: the pair it holds as single tokens.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, Notice


@dataclass(frozen=True)
class ThinkingFormat:
    """``start`` opens thinking; the model ends it by emitting ``stop``; budget forcing ends it by
    appending ``end`` (which holds ``stop`` and any answer opener)."""

    name: str
    start: str  # appended to the prompt to open thinking
    stop: str  # what the model emits to end thinking (detected in its output)
    end: str  # the text that ends thinking and opens the answer
    chat_template_kwargs: tuple[tuple[str, Any], ...] = ()

    def split(self, text: str) -> tuple[str | None, str]:
        """Split an assistant text (after ``start``) into (thinking, response).

        Text with no end-of-thinking delimiter is all thinking and has no response: a
        response is only what follows the delimiter, so an unfinished trace is never scored
        as an answer.
        """
        text = text.removeprefix(self.start)
        for marker in (self.end, self.stop):
            index = text.find(marker)
            if index >= 0:
                return text[:index], text[index + len(marker):]
        return text, ""

    def render(self, thinking: str, response: str) -> str:
        """The assistant text for a training example: start + thinking + end + response."""
        return f"{self.start}{thinking}{self.end}{response}"


FORMATS: dict[str, ThinkingFormat] = {
    "s1": ThinkingFormat("s1", start="<|im_start|>think\n", stop="<|im_start|>", end="<|im_start|>answer\n"),
    "r1": ThinkingFormat("r1", start="<think>\n", stop="</think>", end="\n</think>\n\n"),
    "qwen3": ThinkingFormat("qwen3", start="<think>\n", stop="</think>", end="\n</think>\n\n",
                            chat_template_kwargs=(("enable_thinking", True),)),
}


AUTO = "auto"


def get_format(name: str, *, start: str | None = None, end: str | None = None) -> ThinkingFormat:
    """A format by name; ``custom`` takes ``start`` and ``end`` (end is also the stop string). ``auto``
    depends on a tokenizer: see ``choose_format``."""
    if name == "custom":
        if not start or not end:
            raise ConfigError("--format custom needs --think-start and --think-end")
        return ThinkingFormat("custom", start=start, stop=end.strip() or end, end=end)
    if name not in FORMATS:
        raise ConfigError(f"unknown thinking format {name!r}; choose from {', '.join([AUTO, *FORMATS, 'custom'])}")
    if start or end:
        raise ConfigError("--think-start/--think-end apply only to --format custom")
    return FORMATS[name]


def build_prompt(tokenizer: Any, question: str, fmt: ThinkingFormat, *, system: str | None = None) -> str:
    """The text a model continues: the chat template's generation prompt plus the thinking opener.

    Models whose template already opens thinking (e.g. R1 distills end the generation prompt
    with ``<think>\\n``) do not get a second opener. Tokenizers without a chat template get the
    question as is.
    """
    messages = opening_messages(tokenizer, question, system)
    if getattr(tokenizer, "chat_template", None):
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                               **dict(fmt.chat_template_kwargs))
    else:
        prompt = (f"{system}\n\n" if system else "") + question + "\n"
    if prompt.rstrip().endswith(fmt.start.strip()):
        return prompt
    return prompt + fmt.start


def refuses_system(tokenizer: Any) -> bool:
    """Whether the tokenizer's chat template has no system role (Gemma's raises "System role not
    supported"): it renders a user turn alone but not after a system message."""
    if not getattr(tokenizer, "chat_template", None):
        return False
    user = {"role": "user", "content": "Q"}
    try:
        tokenizer.apply_chat_template([{"role": "system", "content": "S"}, user], tokenize=False,
                                      add_generation_prompt=True)
    except Exception:
        try:
            tokenizer.apply_chat_template([user], tokenize=False, add_generation_prompt=True)
        except Exception:
            return False  # it refuses more than the system role: let the caller's error say so
        return True
    return False


def opening_messages(tokenizer: Any, question: str, system: str | None) -> list[Mapping[str, str]]:
    """The system message (if any) and the question. A template without a system role gets the
    system text at the start of the first user message instead, as those models' own guides do,
    and the user a note that says so."""
    if not system:
        return [{"role": "user", "content": question}]
    if refuses_system(tokenizer):
        warnings.warn(Notice("the model's chat template has no system role: --system is put before the question, "
                             "in the first user message"), stacklevel=2)
        return [{"role": "user", "content": f"{system}\n\n{question}"}]
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def single_token_id(tokenizer: Any, text: str) -> int | None:
    """The id of ``text`` when the tokenizer holds it as one added/special token, else None."""
    added: Sequence[str] = list(getattr(tokenizer, "get_added_vocab", dict)().keys())
    if text in added:
        return tokenizer.convert_tokens_to_ids(text)
    return None


@dataclass(frozen=True)
class FormatChoice:
    fmt: ThinkingFormat
    why: str  # how it was chosen, for the user: "auto: ...", "recorded by s1 sft in ...", "--format"

    def describe(self) -> str:
        return f"{self.fmt.name} ({self.why})"


def pieces(tokenizer: Any, text: str) -> int:
    """How many tokens ``text`` is for this tokenizer."""
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _generation_prompt(tokenizer: Any) -> str:
    try:
        return tokenizer.apply_chat_template([{"role": "user", "content": "Q"}], tokenize=False,
                                             add_generation_prompt=True)
    except Exception:  # a template that needs more than a user turn: judge by its tokens alone
        return ""


def choose_format(tokenizer: Any) -> FormatChoice:
    """The thinking format that fits a tokenizer (``--format auto``), and why.

    A model whose template thinks already keeps its own way (Qwen3's ``enable_thinking``, an R1 distill's
    generation prompt that opens ``<think>``). Otherwise the delimiters the tokenizer holds as single
    tokens: Qwen's ``<|im_start|>`` (the s1 models' format), else ``<think>``/``</think>``. Where
    neither is a token (Llama 3, Gemma, Mistral as released) r1's text delimiters are the clearest
    plain text, and the choice says what they cost."""
    template = str(getattr(tokenizer, "chat_template", None) or "")
    if "enable_thinking" in template:
        return FormatChoice(FORMATS["qwen3"], "auto: the chat template takes enable_thinking (Qwen3)")
    if _generation_prompt(tokenizer).rstrip().endswith("<think>"):
        return FormatChoice(FORMATS["r1"], "auto: the chat template opens thinking with <think> (an R1 distill)")
    if single_token_id(tokenizer, "<|im_start|>") is not None:
        return FormatChoice(FORMATS["s1"], "auto: <|im_start|> is one token (Qwen's ChatML), as the s1 models use")
    if single_token_id(tokenizer, "<think>") is not None and single_token_id(tokenizer, "</think>") is not None:
        return FormatChoice(FORMATS["r1"], "auto: <think> and </think> are single tokens")
    return FormatChoice(FORMATS["r1"], f"auto: no thinking delimiter is one token here (<think> is "
                                       f"{pieces(tokenizer, '<think>')} tokens, <|im_start|>think "
                                       f"{pieces(tokenizer, '<|im_start|>think')}); r1's plain-text <think> is "
                                       "the shorter, and vLLM forces it in several rounds")


def foreign_delimiter(tokenizer: Any, fmt: ThinkingFormat) -> str | None:
    """A note when ``fmt`` writes control markers this tokenizer does not have as tokens while another
    format's are (``--format s1`` on Llama: ``<|im_start|>`` becomes six ordinary pieces), else None."""
    marker = fmt.stop
    if not marker.startswith("<") or single_token_id(tokenizer, marker) is not None:
        return None
    fitting = choose_format(tokenizer)
    if fitting.fmt.name == fmt.name:
        return None
    return (f"--format {fmt.name}: {marker} is {pieces(tokenizer, marker)} ordinary tokens for this tokenizer, "
            f"so the model learns another family's marker as text; --format auto would choose {fitting.fmt.name} "
            f"({fitting.why.removeprefix('auto: ')})")
