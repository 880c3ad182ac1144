"""Attention with dropout on the attention probabilities, on CPU, without storing the attention matrices.

Why: any `dropout_p > 0` sends `torch.nn.functional.scaled_dot_product_attention` on CPU to its unfused math
kernel (the fused CPU kernel has no dropout), and autograd then keeps, per layer, the softmax output, the dropout
noise and the dropped probabilities: three (batch, heads, queries, keys) tensors, 9 bytes per score in fp32. T2L's
official recipe puts dropout on the attention probabilities of every layer, so in training these matrices are
most of what a frozen backbone would otherwise save.

`dropout_attention` computes exactly what the math kernel computes, in the same order:
`softmax(q k^T * scale + mask) * noise @ v` with `noise = bernoulli(1 - p) / (1 - p)` drawn by the same call
(`empty_like(scores).bernoulli_(1 - p)` on a tensor of the same shape) from the same generator, so for a given
RNG state the dropout mask is the math kernel's own, bit for bit, and a seeded run keeps its random stream. What
it keeps for backward is q, k, v and the dropout mask as one byte per score; backward recomputes the softmax from
them (one extra q k^T matmul per layer), as fused attention kernels do.

Used only where it is the cheaper exact path: training on CPU with dropout > 0 and float32/float64 inputs. On
CUDA, SDPA's flash and memory-efficient kernels implement dropout themselves (with their own Philox generator,
as they always have), and everything else runs the regular attention.
"""
from __future__ import annotations

import torch


def _probabilities(query, key, attention_mask, scaling, is_causal) -> torch.Tensor:
    """softmax(q k^T * scale + mask), in the math kernel's order (q and k each scaled by sqrt(scale) first), so the
    values are its values, and backward's recomputation is forward's result exactly."""
    root = scaling ** 0.5
    scores = torch.matmul(query * root, (key * root).transpose(-2, -1))
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            scores.masked_fill_(~attention_mask, float("-inf"))
        else:
            scores.add_(attention_mask)
    elif is_causal:
        length_q, length_k = scores.shape[-2:]
        future = torch.ones(length_q, length_k, dtype=torch.bool, device=scores.device).triu(1)
        scores.masked_fill_(future, float("-inf"))
    return torch.softmax(scores, dim=-1)


class _DropoutAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, query, key, value, attention_mask, scaling: float, dropout: float, is_causal: bool):
        probabilities = _probabilities(query, key, attention_mask, scaling, is_causal)
        noise = torch.empty_like(probabilities).bernoulli_(1 - dropout)  # what at::dropout draws
        dropped = noise == 0
        output = torch.matmul(probabilities.mul_(noise.div_(1 - dropout)), value)
        ctx.save_for_backward(query, key, value, dropped, attention_mask)
        ctx.scaling, ctx.dropout, ctx.is_causal = scaling, dropout, is_causal
        return output

    @staticmethod
    def backward(ctx, grad_output):
        query, key, value, dropped, attention_mask = ctx.saved_tensors
        inverse_keep = 1.0 / (1.0 - ctx.dropout)
        probabilities = _probabilities(query, key, attention_mask, ctx.scaling, ctx.is_causal)
        # the 1 / (1 - p) factors go on the (queries, head_dim) products, not on the (queries, keys) matrices
        grad_value = torch.matmul(probabilities.masked_fill(dropped, 0).transpose(-2, -1), grad_output)
        grad_value.mul_(inverse_keep)
        grad_dropped = torch.matmul(grad_output, value.transpose(-2, -1)).masked_fill_(dropped, 0)
        grad_scores = torch.ops.aten._softmax_backward_data(grad_dropped, probabilities, -1, probabilities.dtype)
        del probabilities, grad_dropped
        factor = inverse_keep * ctx.scaling
        grad_query = torch.matmul(grad_scores, key).mul_(factor)
        grad_key = torch.matmul(grad_scores.transpose(-2, -1), query).mul_(factor)
        return grad_query, grad_key, grad_value, None, None, None, None


def dropout_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      attention_mask: torch.Tensor | None, scaling: float, dropout: float,
                      is_causal: bool = False) -> torch.Tensor:
    """(batch, heads, queries, head_dim) attention with probability dropout; the math kernel's result and mask.

    `attention_mask`: boolean (True = attend) or additive float, broadcastable to the scores; `is_causal` applies
    only without a mask, as in `scaled_dot_product_attention`.
    """
    return _DropoutAttention.apply(query, key, value, attention_mask, float(scaling), float(dropout),
                                   bool(is_causal))


def uses_dropout_attention(module: torch.nn.Module, hidden_states: torch.Tensor) -> bool:
    """Whether an attention module's call is one `dropout_attention` serves better than SDPA: training with
    dropout on CPU in fp32/fp64 without autocast, under the SDPA implementation (eager keeps its own path: it
    returns the weights)."""
    return (module.training and module.dropout > 0 and hidden_states.device.type == "cpu"
            and hidden_states.dtype in (torch.float32, torch.float64)
            and getattr(module.config, "_attn_implementation", None) == "sdpa"
            and torch.is_grad_enabled() and not torch.is_autocast_enabled("cpu"))
