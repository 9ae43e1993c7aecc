"""The fused weighted cross-entropy (``training/loss.py``) against PyTorch's own, value and gradient."""

import pytest
import torch

from s1cli.training.loss import weighted_cross_entropy


def reference(logits, targets, weights):
    return (torch.nn.functional.cross_entropy(logits.float(), targets, reduction="none") * weights).sum()


@pytest.mark.parametrize("scale", [1.0, 30.0])  # 30: large logits, where a naive exp overflows
def test_loss_and_gradient_equal_pytorch_cross_entropy(scale):
    torch.manual_seed(0)
    logits = (torch.randn(37, 101) * scale).requires_grad_()
    targets = torch.randint(0, 101, (37,))
    weights = torch.rand(37)
    weights[3] = 0.0  # a position that carries no loss contributes nothing, gradient included
    ours = weighted_cross_entropy(logits, targets, weights)
    (ours * 0.25).backward()  # an upstream scale, as the trainer's 1/normaliser
    grad, logits.grad = logits.grad, None
    theirs = reference(logits, targets, weights)
    (theirs * 0.25).backward()
    assert torch.isfinite(ours)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(grad, logits.grad, rtol=1e-5, atol=1e-7)
    assert grad[3].abs().max() == 0


@pytest.mark.parametrize("chunk_rows", [1, 5, 37, 4096])
def test_chunks_of_rows_give_the_same_loss_and_gradient(chunk_rows):
    torch.manual_seed(2)
    logits = (torch.randn(37, 64) * 4).requires_grad_()
    targets = torch.randint(0, 64, (37,))
    weights = torch.rand(37)
    ours = weighted_cross_entropy(logits, targets, weights, chunk_rows=chunk_rows)
    ours.backward()
    grad, logits.grad = logits.grad, None
    reference(logits, targets, weights).backward()
    torch.testing.assert_close(ours, reference(logits, targets, weights), rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(grad, logits.grad, rtol=1e-5, atol=1e-7)


def test_bf16_logits_compute_in_fp32_and_return_a_bf16_gradient():
    torch.manual_seed(1)
    logits = torch.randn(8, 50).bfloat16().requires_grad_()
    targets = torch.randint(0, 50, (8,))
    weights = torch.ones(8)
    ours = weighted_cross_entropy(logits, targets, weights, chunk_rows=3)
    (ours / 7).backward()
    grad, logits.grad = logits.grad, None
    assert ours.dtype == torch.float32 and grad.dtype == torch.bfloat16
    torch.testing.assert_close(ours, reference(logits, targets, weights), rtol=1e-6, atol=1e-5)
    (reference(logits, targets, weights) / 7).backward()
    torch.testing.assert_close(grad, logits.grad)  # bf16 tolerance: one rounding of the same values


def test_a_second_backward_is_refused():
    logits = torch.randn(4, 9, requires_grad=True)
    loss = weighted_cross_entropy(logits, torch.tensor([0, 1, 2, 3]), torch.ones(4))
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="only once"):
        loss.backward()


def test_the_callers_logits_are_left_untouched():
    logits = torch.randn(4, 9)
    before = logits.clone()
    weighted_cross_entropy(logits, torch.tensor([0, 1, 2, 3]), torch.ones(4))
    assert torch.equal(logits, before)
