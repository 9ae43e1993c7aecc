"""Chat models other than Qwen2 (issue 19): `s1 tiny --arch` builds Llama 3, Gemma, Gemma 2 and Mistral
models with their families' tokens and templates; on every family sft memorises rows with the stop token
its template ends a turn with, and generate and bench reproduce them in the format sft recorded."""

from __future__ import annotations

import json

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from s1cli.table import read_rows, write_table
from s1cli.tiny import FAMILIES, read_record

from .conftest import run_s1


def test_each_family_loads_with_its_own_tokens_and_template(family_models):
    for arch, path in family_models.items():
        if arch == "qwen2":
            continue
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path)
        assert type(model).__name__.lower().startswith(arch.replace("2", "")) and read_record(path)["arch"] == arch
        family = FAMILIES[arch]
        for token in family.special:
            assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1, (arch, token)
        text = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2 + 2?"},
                                              {"role": "assistant", "content": "4"}], tokenize=False)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text  # saved and loaded, the ids round-trip
        stops = {tokenizer.convert_ids_to_tokens(i) for i in model.generation_config.eos_token_id}
        assert stops == set(family.stops)
    gemma2 = AutoModelForCausalLM.from_pretrained(family_models["gemma2"]).config
    assert gemma2.attn_logit_softcapping == 50.0 and gemma2.sliding_window == 4096


def test_s1_tiny_arch_on_the_command_line(tmp_path):
    result = run_s1("tiny", tmp_path / "m", "--arch", "mistral")
    assert result.exit_code == 0 and "wrote a tiny mistral model" in result.stderr
    result = run_s1("tiny", tmp_path / "x", "--arch", "gpt2")
    assert result.exit_code == 2 and "--arch 'gpt2': choose from qwen2, llama, gemma, gemma2, mistral" in result.stderr


ROWS = [{"id": f"q{i}", "question": f"What is {a} + {b}?", "thinking": f"Add {a} and {b}. The sum is {a + b}.",
         "response": f"\\boxed{{{a + b}}}", "answer": str(a + b)} for i, (a, b) in enumerate([(3, 4), (6, 2)])]
# What --format auto picks: the s1 models' <|im_start|> where it is a token (Qwen), else <think>, which
# `s1 tiny` adds to every family as released R1-style models have it.
AUTO_FORMAT = {"qwen2": "s1", "llama": "r1", "gemma": "r1", "gemma2": "r1", "mistral": "r1"}
STOPS = {"qwen2": "<|im_end|>", "llama": "<|eot_id|>", "gemma": "<end_of_turn>", "gemma2": "<end_of_turn>",
         "mistral": "</s>"}


@pytest.mark.parametrize("arch", list(AUTO_FORMAT))
def test_sft_then_generate_and_bench_on_a_family(tmp_path, family_models, arch):
    """Memorise two rows, then reproduce them: thinking, delimiter, answer and stop token, with the format
    auto chose recorded in the model directory and read back by generate and bench; a cap forces the
    answer after exactly the capped thinking."""
    train = tmp_path / "train.jsonl"
    write_table(train, ROWS)
    model = tmp_path / "model"
    result = run_s1("sft", train, model, "--model", f"hf:{family_models[arch]}", "--block-size", "256",
                    "--max-steps", "40", "--batch-size", "2", "--lr", "3e-3", "--system", "Be brief.")
    assert result.exit_code == 0, result.stderr
    assert f"learns to stop on: {STOPS[arch]!r}" in result.stderr
    assert "not an end-of-sequence token" not in result.stderr
    assert ("has no system role" in result.stderr) == arch.startswith("gemma")
    assert f"thinking format: {AUTO_FORMAT[arch]} (auto: " in result.stderr
    expected_attention = "eager per example" if arch == "gemma2" else "SDPA per example"
    assert f"attention: {expected_attention} (no cross-example attention" in result.stderr
    record = json.loads((model / "s1_sft.json").read_text())
    assert record["thinking_format"]["name"] == record["config"]["format"] == AUTO_FORMAT[arch]

    gens = tmp_path / "gens.jsonl"
    result = run_s1("generate", train, gens, "--model", f"hf:{model}", "--max-thinking-tokens", "64",
                    "--max-answer-tokens", "16", "--system", "Be brief.")
    assert result.exit_code == 0, result.stderr
    assert f"thinking format: {AUTO_FORMAT[arch]} (recorded by s1 sft in {model / 's1_sft.json'})" in result.stderr
    prefix = "Answer: " if AUTO_FORMAT[arch] == "s1" else ""
    for row, gen in zip(ROWS, read_rows(gens), strict=True):
        assert (gen["thinking"].strip(), gen["response"], gen["finish"]) == \
            (row["thinking"], prefix + row["response"], "stop"), arch

    capped = tmp_path / "capped.jsonl"
    result = run_s1("generate", train, capped, "--model", f"hf:{model}", "--max-thinking-tokens", "4",
                    "--max-answer-tokens", "16", "--system", "Be brief.")
    assert result.exit_code == 0, result.stderr
    for gen in read_rows(capped):
        assert gen["thinking_tokens"] == 4 and gen["finish"] == "forced" and gen["response"]

    tasks = tmp_path / "sums.jsonl"
    write_table(tasks, [{"id": r["id"], "question": r["question"], "answer": r["answer"]} for r in ROWS])
    bench = tmp_path / "bench"
    result = run_s1("bench", bench, "--model", f"hf:{model}", "--tasks", f"sums={tasks}", "--budgets", "64",
                    "--max-answer-tokens", "16", "--system", "Be brief.")
    assert result.exit_code == 0, result.stderr
    assert f"thinking format: {AUTO_FORMAT[arch]} (recorded by s1 sft" in result.stderr
    (summary,) = read_rows(bench / "summary.csv")
    assert (summary["task"], int(summary["budget"]), float(summary["accuracy"])) == ("sums", 64, 1.0), summary


def test_s1_markers_on_another_family_are_trained_as_asked_with_a_warning(tmp_path, family_models):
    """--format s1 on Llama writes Qwen's <|im_start|> as ordinary pieces: allowed, and said."""
    train = tmp_path / "train.jsonl"
    write_table(train, ROWS)
    result = run_s1("sft", train, tmp_path / "m", "--model", f"hf:{family_models['llama']}", "--format", "s1",
                    "--preflight-only")
    assert result.exit_code == 0, result.stderr
    assert "thinking format: s1 (--format)" in result.stderr
    pieces = len(AutoTokenizer.from_pretrained(family_models["llama"])("<|im_start|>", add_special_tokens=False)[
        "input_ids"])
    assert pieces > 1
    assert (f"warning: --format s1: <|im_start|> is {pieces} ordinary tokens for this tokenizer, so the model learns "
            "another family's marker as text; --format auto would choose r1 (<think> and </think> are single tokens)"
            ) in result.stderr
