"""Packed attention (training/attention.py): each example of a packed row attends only to itself, with
the model's own softcapping and sliding window, on every family `s1 tiny --arch` builds; and
`--attention` picks a correct path per model and device, or says in one line why not."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from s1cli.errors import ConfigError
from s1cli.training.attention import (
    FLASH,
    PACKED_EAGER,
    PACKED_SDPA,
    ModelAttention,
    choose,
    packed_attention,
    register,
)
from s1cli.training.data import Example, collate
from s1cli.training.loss import weighted_cross_entropy

LENGTHS = (9, 3, 12, 6)
# Small enough that the tiny models' attention feels them: a window shorter than the examples, and a
# softcap below the size of their attention logits.
WINDOW, SOFTCAP = 4, 0.5


def masked_reference(q, k, v, lengths, *, window=None, softcap=None):
    """Attention over the whole row with an explicit block-diagonal causal (and banded) mask."""
    segment = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
    position = torch.cat([torch.arange(n) for n in lengths])
    offset = position[:, None] - position[None, :]
    allowed = (segment[:, None] == segment[None, :]) & (offset >= 0)
    if window:
        allowed &= offset < window
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
    scores = q @ k.transpose(2, 3) * q.shape[-1] ** -0.5
    if softcap:
        scores = torch.tanh(scores / softcap) * softcap
    return (scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ v).transpose(1, 2)


@pytest.mark.parametrize("kernel", ["sdpa", "eager"])
@pytest.mark.parametrize(("window", "softcap"), [(None, None), (WINDOW, None), (None, 2.0), (WINDOW, 2.0)])
def test_per_example_attention_equals_a_block_diagonal_mask(kernel, window, softcap):
    if kernel == "sdpa" and softcap:
        with pytest.raises(ConfigError, match="SDPA cannot"):
            packed_attention(None, *torch.randn(3, 1, 2, 4, 8), None, kernel=kernel, softcap=softcap)
        return
    torch.manual_seed(0)
    total = sum(LENGTHS)
    q, k, v = (torch.randn(1, h, total, 8, dtype=torch.float64) * 3 for h in (4, 2, 2))
    bounds = torch.tensor([0, *torch.tensor(LENGTHS).cumsum(0).tolist()], dtype=torch.int32)
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    out, _ = packed_attention(None, *leaves, None, kernel=kernel, cu_seq_lens_q=bounds, sliding_window=window,
                              softcap=softcap)
    masked = [t.clone().requires_grad_() for t in (q, k, v)]
    expected = masked_reference(*masked, list(LENGTHS), window=window, softcap=softcap)
    assert out.shape == (1, total, 4, 8)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-10)
    # The gradients too (the backward of the per-example split is the training path).
    upstream = torch.randn_like(out)
    (out * upstream).sum().backward()
    (expected * upstream).sum().backward()
    for ours, theirs in zip(leaves, masked, strict=True):
        torch.testing.assert_close(ours.grad, theirs.grad, rtol=0, atol=1e-10)
    # Without boundaries: one causal sequence per row (what a caller with no packing sends).
    whole, _ = packed_attention(None, q, k, v, None, kernel=kernel, sliding_window=window, softcap=softcap)
    torch.testing.assert_close(whole, masked_reference(q, k, v, [total], window=window, softcap=softcap),
                               rtol=0, atol=1e-10)


def examples(vocab: int) -> list[Example]:
    generator = torch.Generator().manual_seed(1)
    return [Example(row=i + 1, id=str(i), ids=torch.randint(300, vocab, (n,), generator=generator).tolist(),
                    train_start=1, train_end=n) for i, n in enumerate(LENGTHS)]


def load(path, implementation: str, **overrides):
    config = AutoConfig.from_pretrained(path, **overrides)
    return AutoModelForCausalLM.from_pretrained(path, config=config, attn_implementation=implementation,
                                                dtype=torch.float32)


def packed_loss(model, rows: list[Example]):
    batch = collate(list(range(len(rows))), rows, pad_id=0, loss_average="token")
    logits = model(input_ids=batch.input_ids, position_ids=batch.position_ids, use_cache=False,
                   **batch.attention_kwargs()).logits[0]
    return weighted_cross_entropy(logits, batch.targets[0], batch.weights[0])


def unpacked_loss(model, rows: list[Example]):
    """Each example alone through the model's own (transformers') eager attention."""
    total = 0
    for ex in rows:
        batch = collate([0], [ex], pad_id=0, loss_average="token")
        logits = model(input_ids=batch.input_ids, use_cache=False).logits[0]
        total = total + weighted_cross_entropy(logits, batch.targets[0], batch.weights[0])
    return total


def gradients(model, loss):
    model.zero_grad()
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


# Each family as `s1 tiny` builds it; Mistral and Gemma 2 with a sliding window shorter than the examples,
# Gemma 2 with a softcap its logits reach, so the test fails if either is dropped.
OVERRIDES = {"qwen2": {}, "llama": {}, "gemma": {}, "mistral": {"sliding_window": WINDOW},
             "gemma2": {"sliding_window": WINDOW, "attn_logit_softcapping": SOFTCAP}}


@pytest.mark.parametrize("arch", list(OVERRIDES))
def test_packed_loss_and_gradients_equal_unpacked_eager_on_every_family(family_models, arch):
    register()
    path, overrides = family_models[arch], OVERRIDES[arch]
    reference = load(path, "eager", **overrides)
    rows = examples(reference.config.vocab_size)
    expected = unpacked_loss(reference, rows)
    expected_grads = gradients(reference, expected)
    kernels = [PACKED_EAGER] + ([PACKED_SDPA] if arch != "gemma2" else [])
    for kernel in kernels:
        model = load(path, kernel, **overrides)
        loss = packed_loss(model, rows)
        torch.testing.assert_close(loss, expected, rtol=1e-5, atol=0, msg=f"{arch} {kernel}")
        for name, grad in gradients(model, loss).items():
            scale = float(expected_grads[name].abs().max())  # fp32 sums in another order: error ~1e-6 of it
            torch.testing.assert_close(grad, expected_grads[name], rtol=0, atol=1e-5 * scale,
                                       msg=f"{arch} {kernel} {name}")
    for key in overrides:  # each setting changes the loss: a path that dropped it could not pass the above
        without = load(path, PACKED_EAGER, **{**overrides, key: None})
        assert abs(packed_loss(without, rows).item() - expected.item()) > 1e-2, key
        ours = ModelAttention.of(str(path))
        assert (ours.softcap, ours.sliding_window) == ((50.0, 4096) if arch == "gemma2" else (None, None))


def test_auto_picks_a_correct_path_for_the_model_and_device(family_models):
    qwen2, gemma2 = ModelAttention.of(str(family_models["qwen2"])), ModelAttention.of(str(family_models["gemma2"]))
    assert gemma2.name == "Gemma2ForCausalLM" and not gemma2.supports_sdpa
    cpu = {"cpu": True, "flash_installed": False}
    gpu = {"cpu": False, "flash_installed": True}
    assert choose("auto", qwen2, **cpu).implementation == PACKED_SDPA
    picked = choose("auto", gemma2, **cpu)
    assert picked.implementation == PACKED_EAGER
    assert picked.describe() == ("eager per example (no cross-example attention; Gemma2ForCausalLM softcaps "
                                 "attention logits (50), which SDPA cannot)")
    assert choose("auto", gemma2, **gpu).implementation == FLASH  # flash-attn softcaps and windows itself
    assert choose("auto", qwen2, cpu=False, flash_installed=False).implementation == PACKED_SDPA
    assert choose("eager", qwen2, **gpu).implementation == PACKED_EAGER
    assert choose("sdpa", qwen2, **gpu).implementation == PACKED_SDPA


@pytest.mark.parametrize(("requested", "device", "message"), [
    ("sdpa", {"cpu": True, "flash_installed": False},
     "--attention sdpa: Gemma2ForCausalLM softcaps attention logits (50), which SDPA cannot; "
     "use --attention eager (or auto)"),
    ("flash", {"cpu": True, "flash_installed": True},
     "--attention flash needs a CUDA GPU; --attention auto picks what runs here"),
    ("flash", {"cpu": False, "flash_installed": False},
     "--attention flash needs the flash-attn package (pip install flash-attn); --attention auto picks what runs here"),
    ("fast", {"cpu": True, "flash_installed": False}, "--attention 'fast': choose from auto, flash, sdpa, eager"),
])
def test_a_path_that_cannot_run_is_refused_in_one_line(family_models, requested, device, message):
    with pytest.raises(ConfigError) as caught:
        choose(requested, ModelAttention.of(str(family_models["gemma2"])), **device)
    assert str(caught.value) == message


def test_eager_attention_weights_are_in_the_memory_estimate(tmp_path, family_models):
    from s1cli.table import write_table
    from s1cli.training.preflight import GIB, ModelShape, estimate_memory

    from .conftest import run_s1

    shape = ModelShape(parameters=10**9, hidden_size=4096, intermediate_size=14336, layers=32, vocab_size=1000,
                       max_positions=None, heads=16)
    common = {"pass_tokens": 8192, "pass_targets": 8000, "bf16": True, "liger": False}
    flash = estimate_memory(shape, checkpointing=True, **common)
    eager = estimate_memory(shape, checkpointing=True, eager_squares=8192**2, **common)
    # one 8,192-token example: 16 heads × 8192² scores × (2 + 2 + 4 bytes), one layer at a time
    assert eager.attention_weights == 16 * 8192**2 * 8 == 8 * GIB and flash.attention_weights == 0
    every_layer = estimate_memory(shape, checkpointing=False, eager_squares=8192**2, **common)
    assert every_layer.attention_weights == 32 * 8 * GIB
    assert eager.total == flash.total + 8 * GIB

    train = tmp_path / "train.jsonl"
    write_table(train, [{"question": "What is 2 + 2?", "thinking": "Two and two.", "response": "4"}])

    def memory_line(arch: str, *args: str) -> str:
        result = run_s1("sft", train, tmp_path / arch, "--model", f"hf:{family_models[arch]}", "--preflight-only",
                        *args)
        assert result.exit_code == 0, result.stderr
        (line,) = [line for line in result.stderr.splitlines() if "memory (rough" in line]
        return line

    assert "+ attention weights" in memory_line("gemma2")
    assert "+ attention weights" in memory_line("qwen2", "--attention", "eager")
    assert "attention weights" not in memory_line("qwen2")


@pytest.mark.parametrize(("args", "message"), [
    (["--attention", "sdpa"], "error: --attention sdpa: Gemma2ForCausalLM softcaps attention logits (50), which SDPA "
                              "cannot; use --attention eager (or auto)"),
    (["--attention", "flash"], "error: --attention flash needs a CUDA GPU; --attention auto picks what runs here"),
    (["--attention", "fast"], "error: --attention: Input should be 'auto', 'flash', 'sdpa' or 'eager'"),
])
def test_sft_refuses_an_attention_that_cannot_run_in_one_line(tmp_path, family_models, args, message):
    from s1cli.table import write_table

    from .conftest import run_s1

    train = tmp_path / "train.jsonl"
    write_table(train, [{"id": "a", "question": "Q?", "thinking": "T.", "response": "R"}])
    result = run_s1("sft", train, tmp_path / "out", "--model", f"hf:{family_models['gemma2']}", *args)
    assert result.exit_code == 2 and result.stderr.strip().splitlines() == [message]
    assert not (tmp_path / "out").exists()
