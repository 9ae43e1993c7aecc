"""`--format auto` and the format sft records with a model (thinking.choose_format, model_format):
the delimiters a tokenizer holds as single tokens, a template that thinks its own way, the record read
back, and a format asked for that differs from the record."""

from __future__ import annotations

import json
import warnings

import pytest
from tokenizers import Tokenizer
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from s1cli.errors import ConfigError, Notice
from s1cli.model_format import RUN_RECORD, format_for_model, format_record, recorded_format, resolve_format
from s1cli.thinking import FORMATS, choose_format, foreign_delimiter, get_format

from .conftest import run_s1


def without_think_tokens(path) -> PreTrainedTokenizerFast:
    """The tokenizer at ``path`` as released families ship: <think> and </think> not among its tokens."""
    data = json.loads((path / "tokenizer.json").read_text())
    data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] not in ("<think>", "</think>")]
    loaded = AutoTokenizer.from_pretrained(path)
    bare = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(data)))
    bare.chat_template = loaded.chat_template
    return bare


def test_auto_picks_the_delimiters_the_tokenizer_holds_as_single_tokens(family_models):
    qwen = AutoTokenizer.from_pretrained(family_models["qwen2"])
    assert choose_format(qwen).fmt == FORMATS["s1"]
    assert choose_format(qwen).why == "auto: <|im_start|> is one token (Qwen's ChatML), as the s1 models use"
    llama = AutoTokenizer.from_pretrained(family_models["llama"])
    assert choose_format(llama).fmt == FORMATS["r1"]
    assert choose_format(llama).why == "auto: <think> and </think> are single tokens"

    bare = without_think_tokens(family_models["llama"])
    assert len(bare("<think>", add_special_tokens=False)["input_ids"]) > 1
    choice = choose_format(bare)
    assert choice.fmt == FORMATS["r1"]
    assert choice.why.startswith("auto: no thinking delimiter is one token here (<think> is ")
    assert foreign_delimiter(bare, FORMATS["r1"]) is None  # nothing fits better: no note
    assert foreign_delimiter(llama, FORMATS["r1"]) is None and foreign_delimiter(qwen, FORMATS["s1"]) is None
    assert "--format auto would choose r1" in foreign_delimiter(llama, FORMATS["s1"])


def test_a_template_that_thinks_its_own_way_keeps_it(family_models):
    qwen3 = AutoTokenizer.from_pretrained(family_models["qwen2"])
    qwen3.chat_template = "{%- if enable_thinking is defined %}{% endif %}" + qwen3.chat_template
    assert choose_format(qwen3).fmt == FORMATS["qwen3"]
    distill = AutoTokenizer.from_pretrained(family_models["qwen2"])
    distill.chat_template = distill.chat_template.replace("'<|im_start|>assistant\\n'",
                                                          "'<|im_start|>assistant\\n<think>\\n'")
    assert choose_format(distill).fmt == FORMATS["r1"]
    assert choose_format(distill).why == "auto: the chat template opens thinking with <think> (an R1 distill)"


def write_record(model_dir, **record) -> None:
    (model_dir / RUN_RECORD).write_text(json.dumps(record))


def test_the_recorded_format_wins_over_auto_and_loses_to_format(tmp_path, family_models):
    custom = get_format("custom", start="<reason>", end="</reason>")
    write_record(tmp_path, thinking_format=format_record(custom), config={"format": "custom"})
    loaded = []
    choice = resolve_format(None, model_dir=tmp_path, tokenizer=lambda: loaded.append(1))
    assert choice.fmt == custom and choice.why == f"recorded by s1 sft in {tmp_path / RUN_RECORD}"
    assert resolve_format("auto", model_dir=tmp_path).fmt == custom
    assert not loaded  # the tokenizer is not read when the record says
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asked = resolve_format("r1", model_dir=tmp_path)
    assert asked.fmt == FORMATS["r1"] and asked.why == "--format"
    (note,) = [str(w.message) for w in caught if issubclass(w.category, Notice)]
    assert note.startswith("--format r1: the model was fine-tuned with the custom format (recorded by s1 sft in ")

    old = tmp_path / "old"
    old.mkdir()
    write_record(old, config={"format": "r1", "think_start": None, "think_end": None})  # before the block existed
    assert recorded_format(old).fmt == FORMATS["r1"]
    assert recorded_format(tmp_path / "nowhere") is None and recorded_format(None) is None
    (old / RUN_RECORD).write_text("{not json")
    with pytest.raises(ConfigError, match=r"s1_sft.json: not a readable run record .*; pass --format"):
        recorded_format(old)

    plain = AutoTokenizer.from_pretrained(family_models["llama"])
    assert resolve_format(None, model_dir=tmp_path / "nowhere", tokenizer=lambda: plain).fmt == FORMATS["r1"]
    assert resolve_format(None).why == "the s1 format: no tokenizer to choose by"
    assert resolve_format(None, start="<a>", end="</a>").fmt.name == "custom"  # the delimiters say it
    with pytest.raises(ConfigError, match="apply only to --format custom"):
        resolve_format("auto", start="<a>", end="</a>")


def test_format_for_a_model_reference(tmp_path, family_models):
    llama = family_models["llama"]
    assert format_for_model(None, f"hf:{llama}").fmt == FORMATS["r1"]
    assert format_for_model(None, f"vllm:{family_models['qwen2']}").fmt == FORMATS["s1"]
    # a completions server: the model is known here by its --tokenizer directory
    assert format_for_model(None, "openai:served", tokenizer=str(llama)).fmt == FORMATS["r1"]
    assert format_for_model(None, "openai:served").fmt == FORMATS["s1"]
    # no such model: the engine's loading says so, after the options are checked
    assert format_for_model(None, f"hf:{tmp_path / 'missing'}").why == "the s1 format: no tokenizer to choose by"


def test_generate_with_format_unlike_the_record_says_so_and_uses_it(tmp_path, family_models):
    model = tmp_path / "model"
    model.symlink_to(family_models["llama"], target_is_directory=True)
    (tmp_path / "q.jsonl").write_text('{"id": "a", "question": "What is 1 + 1?"}\n')
    write_record(family_models["llama"], thinking_format=format_record(FORMATS["r1"]))
    try:
        result = run_s1("generate", tmp_path / "q.jsonl", tmp_path / "g.jsonl", "--model", f"hf:{model}",
                        "--format", "s1", "--max-thinking-tokens", "4", "--max-answer-tokens", "2")
    finally:
        (family_models["llama"] / RUN_RECORD).unlink()
    assert result.exit_code == 0, result.stderr
    assert "note: --format s1: the model was fine-tuned with the r1 format" in result.stderr
    assert "thinking format:" not in result.stderr  # said only when not asked for
