"""Weighted cross-entropy whose gradient is computed in the forward pass, a chunk of rows at a time.

The loss of a training step is Σ wᵢ · (log Σⱼ exp zᵢⱼ − zᵢ,targetᵢ) over the positions that carry a
target. Its gradient with respect to the logits is wᵢ · (softmax(zᵢ) − onehot(targetᵢ)), which needs
the same exponentials as the loss. ``F.cross_entropy`` computes them twice (log-softmax forward, then
its backward) and allocates a zero-filled gradient the size of the logits on the way; here one pass
over the logits gives both, and backward only scales the stored gradient in place.

Memory: the gradient is kept in the logits' dtype (what autograd would hand back for them anyway),
and the fp32 working copy covers ``chunk_rows`` rows at a time, so bf16 logits of a long packed row
with a 150K-token vocabulary need one more logits-sized buffer, not three fp32 ones.
"""

from __future__ import annotations

from typing import Any

import torch

CHUNK_ROWS = 4096


class _WeightedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor,
                chunk_rows: int) -> torch.Tensor:
        n = logits.shape[0]
        whole = n <= chunk_rows and logits.dtype == torch.float32
        grad = None if whole else torch.empty_like(logits)
        loss = torch.zeros((), dtype=torch.float32, device=logits.device)
        for start in range(0, n, chunk_rows):
            end = min(start + chunk_rows, n)
            rows = torch.arange(end - start, device=logits.device)
            target, weight = targets[start:end], weights[start:end].float()
            z = logits[start:end].float()
            z = z - z.amax(dim=-1, keepdim=True)  # a new tensor: the caller's logits stay as they are
            picked = z[rows, target]
            z.exp_()
            total = z.sum(dim=-1)
            loss += ((total.log() - picked) * weight).sum()
            z.mul_((weight / total).unsqueeze(-1))  # wᵢ · softmax(zᵢ)
            z[rows, target] -= weight
            if whole:
                grad = z
            else:
                grad[start:end] = z
        ctx.grad = grad  # not save_for_backward: backward scales it in place, once
        return loss

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        grad, ctx.grad = ctx.grad, None
        if grad is None:
            raise RuntimeError("weighted_cross_entropy: backward can run only once (no retain_graph)")
        # A Python float: bf16 kernels multiply by it in fp32, where a bf16 copy of it would be rounded.
        return grad.mul_(float(grad_output)), None, None, None


def weighted_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, *,
                           chunk_rows: int = CHUNK_ROWS) -> torch.Tensor:
    """Σ weights · cross-entropy(logits, targets), computed in fp32: logits (n, vocab), targets and
    weights (n,). Differentiable with respect to the logits only."""
    return _WeightedCrossEntropy.apply(logits, targets, weights, chunk_rows)
