"""Thinking formats: prompts open thinking once; outputs split into thinking and response."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from s1cli.errors import ConfigError
from s1cli.thinking import FORMATS, build_prompt, get_format, single_token_id


def test_s1_prompt_is_chatml_with_the_thinking_opener(tiny_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    prompt = build_prompt(tokenizer, "What is 2+2?", FORMATS["s1"], system="Be brief.")
    assert prompt == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                      "<|im_start|>assistant\n<|im_start|>think\n")


def test_a_template_that_already_opens_thinking_gets_no_second_opener(tiny_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    opener = "'<|im_start|>assistant\\n'"
    tokenizer.chat_template = tokenizer.chat_template.replace(opener, "'<|im_start|>assistant\\n<think>\\n'")
    prompt = build_prompt(tokenizer, "Hi", FORMATS["r1"])
    assert prompt.endswith("<|im_start|>assistant\n<think>\n") and prompt.count("<think>") == 1


def test_a_tokenizer_without_template_gets_the_question_and_opener(tiny_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    tokenizer.chat_template = None
    assert build_prompt(tokenizer, "Hi", FORMATS["r1"]) == "Hi\n<think>\n"


@pytest.mark.parametrize(("name", "text", "thinking", "response"), [
    ("s1", "<|im_start|>think\nsteps<|im_start|>answer\nAnswer: 4", "steps", "Answer: 4"),
    ("s1", "steps<|im_start|>answer\n4", "steps", "4"),
    ("r1", "<think>\nhmm\n</think>\n\n**4**", "hmm", "**4**"),
    ("r1", "hmm</think>4", "hmm", "4"),
    ("r1", "never finished thinking", "never finished thinking", ""),
])
def test_split(name, text, thinking, response):
    assert FORMATS[name].split(text) == (thinking, response)


def test_render_then_split_round_trips():
    for fmt in FORMATS.values():
        assert fmt.split(fmt.render("a\nb", "c")) == ("a\nb", "c")


def test_custom_formats_and_errors():
    fmt = get_format("custom", start="<reasoning>", end="</reasoning>\n")
    assert (fmt.start, fmt.stop, fmt.end) == ("<reasoning>", "</reasoning>", "</reasoning>\n")
    with pytest.raises(ConfigError, match="needs --think-start and --think-end"):
        get_format("custom", start="<r>")
    with pytest.raises(ConfigError, match="unknown thinking format 'o1'"):
        get_format("o1")
    with pytest.raises(ConfigError, match="apply only to --format custom"):
        get_format("s1", start="x")


def test_single_token_markers(tiny_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    assert single_token_id(tokenizer, "</think>") == tokenizer.convert_tokens_to_ids("</think>")
    assert single_token_id(tokenizer, "<|im_start|>") == tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert single_token_id(tokenizer, "</reasoning>") is None
