"""Chat models other than Qwen2 (issue 19, first part): `s1 tiny --arch` builds Llama 3, Gemma, Gemma 2
and Mistral models with their families' tokens and templates; sft then generate run on each family
sft can train (the stop token its template ends a turn with), and Gemma 2 is refused in one line."""

from __future__ import annotations

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from s1cli.table import read_rows, write_table
from s1cli.tiny import ARCHS, FAMILIES, build_tiny, read_record, spec_for

from .conftest import run_s1

STOPS = {"llama": "<|eot_id|>", "gemma": "<end_of_turn>", "mistral": "</s>"}


@pytest.fixture(scope="module")
def family_models(tmp_path_factory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("families")
    return {arch: build_tiny(root / arch, spec_for("tiny", arch=arch)) for arch in ARCHS if arch != "qwen2"}


def test_each_family_loads_with_its_own_tokens_and_template(family_models):
    for arch, path in family_models.items():
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


@pytest.mark.parametrize("arch", ["llama", "gemma", "mistral"])
def test_sft_then_generate_on_a_family(tmp_path, family_models, arch):
    train = tmp_path / "train.jsonl"
    write_table(train, [{"id": f"q{i}", "question": f"What is {i} + {i}?", "thinking": f"Add {i} and {i}.",
                         "response": f"\\boxed{{{2 * i}}}"} for i in range(4)])
    result = run_s1("sft", train, tmp_path / "model", "--model", f"hf:{family_models[arch]}", "--block-size", "256",
                    "--max-steps", "2", "--batch-size", "2", "--lr", "1e-3", "--system", "Be brief.")
    assert result.exit_code == 0, result.stderr
    assert f"learns to stop on: {STOPS[arch]!r}" in result.stderr
    assert "not an end-of-sequence token" not in result.stderr
    assert ("has no system role" in result.stderr) == (arch == "gemma")
    result = run_s1("generate", train, tmp_path / "gens.jsonl", "--model", f"hf:{tmp_path / 'model'}",
                    "--max-thinking-tokens", "6", "--max-answer-tokens", "4", "--system", "Be brief.")
    assert result.exit_code == 0, result.stderr
    rows = read_rows(tmp_path / "gens.jsonl")
    assert len(rows) == 4 and all(r["thinking_tokens"] <= 6 and r["response_tokens"] <= 4 for r in rows)


def test_gemma2_is_refused_in_one_line_not_trained_wrong(tmp_path, family_models):
    train = tmp_path / "train.jsonl"
    write_table(train, [{"id": "a", "question": "Q?", "thinking": "T.", "response": "R"}])
    result = run_s1("sft", train, tmp_path / "model", "--model", f"hf:{family_models['gemma2']}", "--block-size", "256")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "cannot yet train Gemma2ForCausalLM (attention-logit softcapping 50)" in line and "unexpected" not in line
    assert not (tmp_path / "model").exists()
