"""--system with a chat template that has no system role (Gemma's raises "System role not supported"):
the system text goes before the question in the first user message, with one note, in generate and
sft alike, instead of an unexpected TemplateError."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from s1cli.table import read_rows, write_table
from s1cli.thinking import FORMATS, build_prompt, opening_messages, refuses_system

from .conftest import run_s1

# Gemma's chat template, in its shape: no system role, alternating user / model turns.
NO_SYSTEM_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<|im_start|>' + role + '\\n' + message['content'] | trim + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>model\\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def no_system_model(tiny_model, tmp_path_factory) -> Path:
    """The tiny model with a template that refuses system messages (its own markers kept, so the
    model still knows its stop token)."""
    out = tmp_path_factory.mktemp("nosystem") / "model"
    shutil.copytree(tiny_model, out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    tokenizer.chat_template = NO_SYSTEM_TEMPLATE
    tokenizer.save_pretrained(out)
    return out


def test_a_template_without_a_system_role_gets_the_system_text_in_the_first_user_turn(no_system_model, tiny_model):
    tokenizer = AutoTokenizer.from_pretrained(no_system_model)
    assert refuses_system(tokenizer) and not refuses_system(AutoTokenizer.from_pretrained(tiny_model))
    with pytest.warns(UserWarning, match="has no system role"):
        messages = opening_messages(tokenizer, "What is 2 + 2?", "Be brief.")
    assert messages == [{"role": "user", "content": "Be brief.\n\nWhat is 2 + 2?"}]
    with pytest.warns(UserWarning):
        prompt = build_prompt(tokenizer, "What is 2 + 2?", FORMATS["s1"], system="Be brief.")
    assert "<|im_start|>user\nBe brief.\n\nWhat is 2 + 2?<|im_end|>\n<|im_start|>model\n" in prompt
    # a template with a system role keeps it as it is
    plain = opening_messages(AutoTokenizer.from_pretrained(tiny_model), "Q", "S")
    assert plain == [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]


def test_generate_and_sft_take_system_with_such_a_template_and_say_so(tmp_path, no_system_model):
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + {i}?"}) + "\n"
                                 for i in range(3)))
    result = run_s1("generate", questions, tmp_path / "out.jsonl", "--model", f"hf:{no_system_model}",
                    "--system", "Be brief.", "--max-thinking-tokens", "4", "--max-answer-tokens", "2")
    assert result.exit_code == 0, result.stderr
    assert len(read_rows(tmp_path / "out.jsonl")) == 3
    notes = [line for line in result.stderr.splitlines() if "has no system role" in line]
    assert len(notes) == 1 and notes[0].startswith("note: ")
    train = tmp_path / "train.jsonl"
    write_table(train, [{"id": "a", "question": "What is 1 + 1?", "thinking": "One and one.", "response": "2"}])
    result = run_s1("sft", train, tmp_path / "model", "--model", f"hf:{no_system_model}", "--system", "Be brief.",
                    "--block-size", "256", "--preflight-only")
    assert result.exit_code == 0, result.stderr
    assert "unexpected" not in result.stderr and "has no system role" in result.stderr
    assert "Be brief.\n\nWhat is 1 + 1?" in result.stderr  # the first example as trained
