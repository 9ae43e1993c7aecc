"""Tiny offline models: built locally, loadable by transformers, deterministic, and they generate."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from s1cli.errors import ConfigError
from s1cli.tiny import IM_END, IM_START, TINY_RECORD, build_model, build_tokenizer, spec_for

from .conftest import run_s1

TEXT = ("<|im_start|>think\nLet $x = \\frac{1}{2}$. Wait, is x² ≥ 0? Ünïcode 中文 🎲 <think>hmm</think>"
        "\n\n  spaces\ttabs<|im_end|><|endoftext|>")


def test_cli_builds_a_model_transformers_loads_and_that_generates(tmp_path):
    out = tmp_path / "t"
    result = run_s1("tiny", out)
    assert result.exit_code == 0, result.stderr
    assert "parameters" in result.stderr
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.model_type == "qwen2"
    messages = [{"role": "user", "content": "What is 1 + 1?"}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    output = model.generate(**inputs, max_new_tokens=12, min_new_tokens=12, do_sample=False)
    assert output.shape[1] == inputs["input_ids"].shape[1] + 12
    record = json.loads((out / TINY_RECORD).read_text())
    assert record["parameters"] == sum(p.numel() for p in model.parameters())


def test_saved_tokenizer_reloads_with_identical_ids(tiny_model):
    fresh = build_tokenizer(2048)
    loaded = AutoTokenizer.from_pretrained(tiny_model)
    assert fresh(TEXT)["input_ids"] == loaded(TEXT)["input_ids"]
    assert loaded.decode(loaded(TEXT)["input_ids"]) == TEXT
    assert len(loaded) == 2048


def test_special_tokens_are_single_ids(tiny_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    for token in ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>"):
        ids = tokenizer(token, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1, token
    assert tokenizer.eos_token == IM_END
    assert tokenizer.pad_token == "<|endoftext|>"


def test_chat_template_renders_thinking_and_marks_assistant_tokens(tiny_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                {"role": "assistant", "content": "4", "thinking": "2+2 is 4"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    assert text == (f"{IM_START}system\nBe brief.{IM_END}\n{IM_START}user\n2+2?{IM_END}\n"
                    f"{IM_START}assistant\n<think>\n2+2 is 4\n</think>\n\n4{IM_END}\n")
    rendered = tokenizer.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=True)
    mask, ids = rendered["assistant_masks"], rendered["input_ids"]
    assistant_text = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert assistant_text == f"<think>\n2+2 is 4\n</think>\n\n4{IM_END}"
    prompt = tokenizer.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith(f"{IM_START}assistant\n")


def test_same_seed_same_weights_other_seed_other_weights():
    tokenizer = build_tokenizer(512)
    a = build_model(spec_for("tiny", seed=3, vocab_size=512), tokenizer)
    b = build_model(spec_for("tiny", seed=3, vocab_size=512), tokenizer)
    c = build_model(spec_for("tiny", seed=4, vocab_size=512), tokenizer)
    weight = "model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(a.state_dict()[weight], b.state_dict()[weight])
    assert not torch.equal(a.state_dict()[weight], c.state_dict()[weight])


def test_tokenizer_training_is_deterministic():
    assert build_tokenizer(600).get_vocab() == build_tokenizer(600).get_vocab()


def test_bad_shapes_are_config_errors():
    with pytest.raises(ConfigError, match="not divisible"):
        spec_for("tiny", hidden_size=100, num_attention_heads=3)
    with pytest.raises(ConfigError, match="unknown tiny preset"):
        spec_for("huge")
    with pytest.raises(ConfigError, match="too small"):
        spec_for("tiny", vocab_size=100)


def test_cli_refuses_to_replace_a_foreign_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = run_s1("tiny", tmp_path)
    assert result.exit_code == 2 and "not empty; pass --force" in result.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_cli_rebuilds_a_tiny_model_in_place_with_new_options(tmp_path):
    out = tmp_path / "m"
    assert run_s1("tiny", out).exit_code == 0
    result = run_s1("tiny", out, "--layers", "1", "--vocab-size", "700", "--seed", "2")
    assert result.exit_code == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["num_hidden_layers"] == 1 and config["vocab_size"] == 700
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
