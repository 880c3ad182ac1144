"""Attention with dropout on the attention probabilities, on CPU, without storing the attention matrices.

Why: any `dropout_p > 0` sends `torch.nn.functional.scaled_dot_product_attention` on CPU to its unfused math
kernel (the fused CPU kernel has no dropout), and autograd then keeps, per layer, the softmax output, the dropout
noise and the dropped probabilities: three (batch, heads, queries, keys) tensors, 9 bytes per score in fp32. T2L's
official recipe puts dropout on the attention probabilities of every layer, so in training these matrices are
most of what a frozen backbone would otherwise save.

`dropout_attention` computes what the math kernel computes, `softmax(q k^T * scale + mask) * keep / (1 - p) @ v`,
with the same distribution of dropout masks, drawn faster: each score is dropped independently with probability
p (to 2^-32), from 32 random bits of torch's CPU generator (`torch.randint` on 64-bit integers, two scores per
draw), where `bernoulli_` takes 2.7x as long (50 against 19 ms for one ViT-B/16 layer's 7.5 M scores, one
thread) and was the largest single operation of the attention's forward. The masks are
therefore not the math kernel's for a given seed (a seeded run is reproducible, and checkpointing's recomputation
replays it, but it does not draw what SDPA would). The 1 / (1 - p) goes on the (queries, head_dim) output rather
than on the (queries, keys) matrix. What it keeps for backward is q, k, v and the mask as one byte per score;
backward recomputes the softmax from them (one extra q k^T matmul per layer), as fused attention kernels do.

Used only where it is the cheaper exact path: training on CPU with dropout > 0 and float32/float64 inputs. On
CUDA, SDPA's flash and memory-efficient kernels implement dropout themselves (with their own Philox generator,
as they always have), and everything else runs the regular attention.
"""
from __future__ import annotations

import math

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


def dropped_scores(shape: tuple[int, ...], dropout: float, device=None) -> torch.Tensor:
    """A boolean mask of `shape`, True where a score is dropped: independent entries, each True with probability
    `dropout` (to within 2^-32), from the default generator of `device`.

    Each 64-bit draw of `torch.randint` gives two scores their 32 uniform bits (`randint` over the whole int64 range
    is uniform to 2^-64); a score is kept when its bits, read as int32, fall below round((1 - p) 2^32) - 2^31.
    """
    numel = math.prod(shape)
    bits = torch.randint(-(2**63), 2**63 - 1, ((numel + 1) // 2,), dtype=torch.int64, device=device)
    threshold = round((1.0 - dropout) * 2**32) - 2**31
    if threshold >= 2**31:  # nothing is dropped (and the bound is not an int32)
        return torch.zeros(shape, dtype=torch.bool, device=device)
    return bits.view(torch.int32)[:numel].view(shape) >= threshold


CHUNK_BYTES = 4 * 2**20
"""Attention matrices are computed a few (queries, keys) planes at a time, about this many bytes of them at once,
so that the softmax, the masking and the matmuls find them in cache. Measured on a ViT-B/16 layer (16 frames, 12
heads, 198 tokens, one thread, interleaved): backward 120 ms against 148 ms computing them whole; the forward is
the same either way (72 ms)."""


def _chunks(batch_size: int, plane_bytes: int):
    step = max(1, CHUNK_BYTES // max(1, plane_bytes))
    return [slice(start, start + step) for start in range(0, batch_size, step)]


def _rows(tensor: torch.Tensor | None, rows: slice) -> torch.Tensor | None:
    """A mask's rows for a chunk of the batch (a mask without its own batch dimension broadcasts)."""
    if tensor is None or tensor.dim() < 4 or tensor.shape[0] == 1:
        return tensor
    return tensor[rows]


class _DropoutAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, query, key, value, attention_mask, scaling: float, dropout: float, is_causal: bool):
        batch, heads, length_q = query.shape[:3]
        length_k = key.shape[2]
        # the whole mask in one draw: the random stream does not depend on the chunking
        dropped = dropped_scores((batch, heads, length_q, length_k), dropout, query.device)
        output = query.new_empty(batch, heads, length_q, value.shape[-1])
        for rows in _chunks(batch, heads * length_q * length_k * query.element_size()):
            probabilities = _probabilities(query[rows], key[rows], _rows(attention_mask, rows), scaling, is_causal)
            torch.matmul(probabilities.masked_fill_(dropped[rows], 0), value[rows], out=output[rows])
        output.mul_(1.0 / (1.0 - dropout))
        ctx.save_for_backward(query, key, value, dropped, attention_mask)
        ctx.scaling, ctx.dropout, ctx.is_causal = scaling, dropout, is_causal
        return output

    @staticmethod
    def backward(ctx, grad_output):
        query, key, value, dropped, attention_mask = ctx.saved_tensors
        grad_query, grad_key, grad_value = torch.empty_like(query), torch.empty_like(key), torch.empty_like(value)
        heads, length_q, length_k = dropped.shape[1:]
        for rows in _chunks(query.shape[0], heads * length_q * length_k * query.element_size()):
            probabilities = _probabilities(query[rows], key[rows], _rows(attention_mask, rows), ctx.scaling,
                                           ctx.is_causal)
            kept = dropped[rows]
            torch.matmul(probabilities.masked_fill(kept, 0).transpose(-2, -1), grad_output[rows], out=grad_value[rows])
            grad_kept = torch.matmul(grad_output[rows], value[rows].transpose(-2, -1)).masked_fill_(kept, 0)
            grad_scores = torch.ops.aten._softmax_backward_data(grad_kept, probabilities, -1, probabilities.dtype)
            torch.matmul(grad_scores, key[rows], out=grad_query[rows])
            torch.matmul(grad_scores.transpose(-2, -1), query[rows], out=grad_key[rows])
        # the 1 / (1 - p) factors go on the (positions, head_dim) products, not on the (queries, keys) matrices
        inverse_keep = 1.0 / (1.0 - ctx.dropout)
        factor = inverse_keep * ctx.scaling
        return grad_query.mul_(factor), grad_key.mul_(factor), grad_value.mul_(inverse_keep), None, None, None, None


def dropout_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      attention_mask: torch.Tensor | None, scaling: float, dropout: float,
                      is_causal: bool = False) -> torch.Tensor:
    """(batch, heads, queries, head_dim) attention with probability dropout: the math kernel's computation, its
    distribution of masks (`dropped_scores`).

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
