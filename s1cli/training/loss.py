"""Weighted cross-entropy whose gradient is computed in the forward pass.

The loss of a training step is Σ wᵢ · (log Σⱼ exp zᵢⱼ − zᵢ,targetᵢ) over the positions that carry a
target. Its gradient with respect to the logits is wᵢ · (softmax(zᵢ) − onehot(targetᵢ)), which needs
the same exponentials as the loss. ``F.cross_entropy`` computes them twice (log-softmax forward, then
its backward) and allocates a zero-filled gradient the size of the logits on the way; here one pass
over the logits gives both, and backward only scales the stored gradient. Same result to float
rounding, with one full-size buffer instead of three (logits × vocabulary is the largest activation
of a model with a big vocabulary).
"""

from __future__ import annotations

from typing import Any

import torch


class _WeightedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        rows = torch.arange(targets.shape[0], device=targets.device)
        grad = logits.float()
        grad = grad - grad.amax(dim=-1, keepdim=True)  # a new tensor: the caller's logits stay as they are
        picked = grad[rows, targets]
        grad.exp_()
        total = grad.sum(dim=-1)
        loss = ((total.log() - picked) * weights).sum()
        grad.mul_((weights / total).unsqueeze(-1))  # wᵢ · softmax(zᵢ)
        grad[rows, targets] -= weights
        ctx.save_for_backward(grad)
        ctx.dtype = logits.dtype
        return loss

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (grad,) = ctx.saved_tensors
        return (grad * grad_output).to(ctx.dtype), None, None


def weighted_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Σ weights · cross-entropy(logits, targets), computed in fp32: logits (n, vocab), targets and
    weights (n,). Differentiable with respect to the logits only."""
    return _WeightedCrossEntropy.apply(logits, targets, weights)
