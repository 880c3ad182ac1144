"""Attention with dropout on the attention probabilities, on CPU, without storing the attention matrices.

Why: any `dropout_p > 0` sends `torch.nn.functional.scaled_dot_product_attention` on CPU to its unfused math
kernel (the fused CPU kernel has no dropout), and autograd then keeps, per layer, the softmax output, the dropout
noise and the dropped probabilities: three (batch, heads, queries, keys) tensors, 9 bytes per score in fp32. T2L's
official recipe puts dropout on the attention probabilities of every layer, so in training these matrices are
most of what a frozen backbone would otherwise save.

`dropout_attention` computes what the math kernel computes, `softmax(q k^T * scale + mask) * keep / (1 - p) @ v`,
with the same distribution of dropout masks, drawn faster: each score is dropped independently with probability
p (`dropped_positions`). At T2L's rates (p <= 0.1) the drops are drawn as the gaps between them, one random number
per dropped score instead of one per score, and only the dropped entries are written; `bernoulli_` over every score
was the largest single operation of the attention's forward. The masks are therefore not the math kernel's for a
given seed (a seeded run is reproducible, and checkpointing's recomputation replays it, but it does not draw what
SDPA would). The 1 / (1 - p) goes on the (queries, head_dim) output rather than on the (queries, keys) matrix.
What it keeps for backward is q, k, v and the dropped scores' indices (4 bytes per dropped score: 0.4 bytes per
score at p = 0.1); backward recomputes the softmax from them (one extra q k^T matmul per layer), as fused
attention kernels do.

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


GEOMETRIC_UP_TO = 0.125
"""Up to this dropout rate the dropped scores are drawn as the gaps between them (one draw per dropped score, about
p of them), above it as 32 random bits per score; both give independent Bernoulli(p) entries. Measured on one
ViT-B/16 layer's 7.5 M scores (one thread, 2026-12-01): 7 ms at p = 0.1 and 5 ms at 0.05 against 19 ms for the bits,
and the masking then writes only the dropped entries (2 against 11 ms per pass at p = 0.1)."""


def dropped_positions(numel: int, dropout: float, device=None) -> torch.Tensor:
    """The sorted flat indices, in `[0, numel)`, of the scores dropout drops: each index independently with
    probability `dropout`, from the default generator of `device`. int32 where the indices fit (it is what backward
    keeps), int64 otherwise.

    Up to `GEOMETRIC_UP_TO`: a Bernoulli(p) sequence is the sequence whose gaps between successive drops are
    independent geometric variables, P(gap > k) = (1 - p)^k, drawn by inversion from float64 uniforms (exact to
    float64 rounding). Enough gaps for `numel` scores plus eight standard deviations are drawn at once (more in the
    rare case that was short), so a seeded call always draws the same. Above it: 32 uniform bits per score
    (`torch.randint` over the whole int64 range is uniform to 2^-64, two scores per draw); a score is dropped when
    its bits, read as int32, reach round((1 - p) 2^32) - 2^31 (exact to 2^-32).
    """
    index_dtype = torch.int32 if numel < 2**31 else torch.int64
    if dropout <= 0.0 or numel == 0:
        return torch.empty(0, dtype=index_dtype, device=device)
    if dropout > GEOMETRIC_UP_TO:
        bits = torch.randint(-(2**63), 2**63 - 1, ((numel + 1) // 2,), dtype=torch.int64, device=device)
        threshold = round((1.0 - dropout) * 2**32) - 2**31
        dropped = bits.view(torch.int32)[:numel] >= threshold
        return torch.nonzero(dropped).squeeze(1).to(index_dtype)
    draws = _gap_draws(numel, dropout)
    log_keep = math.log1p(-dropout)
    pieces, last = [], -1
    while last < numel - 1:
        uniform = torch.rand(draws, dtype=torch.float64, device=device)  # [0, 1): 1 - u is in (0, 1]
        gaps = torch.log1p(-uniform).div_(log_keep).floor_().add_(1)
        # any gap past the end ends the range the same way; clamped, a vanishing p cannot overflow int64
        gaps = gaps.clamp_(max=numel + 1.0).to(torch.int64)
        positions = gaps.cumsum_(0).add_(last)
        pieces.append(positions)
        last = int(positions[-1])
    positions = pieces[0] if len(pieces) == 1 else torch.cat(pieces)
    return positions[: int(torch.searchsorted(positions, numel))].to(index_dtype)


def _gap_draws(numel: int, dropout: float) -> int:
    """Gaps drawn per round: the expected number of drops plus eight standard deviations, so one round nearly
    always covers `numel` scores (a short round draws another; the result is the same sequence either way)."""
    expected = numel * dropout
    return int(expected + 8.0 * math.sqrt(expected * (1.0 - dropout)) + 64)


def dropped_scores(shape: tuple[int, ...], dropout: float, device=None) -> torch.Tensor:
    """`dropped_positions` as a boolean mask of `shape` (True = dropped): the same draw, so a call after the same
    seed gives the mask `dropout_attention` applies."""
    numel = math.prod(shape)
    mask = torch.zeros(numel, dtype=torch.bool, device=device)
    mask[dropped_positions(numel, dropout, device).long()] = True
    return mask.view(shape)


def _zero_at(matrices: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Set the entries at flat `positions` of contiguous `matrices` to zero, in place: only the dropped entries are
    written, not the whole (queries, keys) matrices."""
    return matrices.view(-1).index_fill_(0, positions, 0).view(matrices.shape)


CHUNK_BYTES = 4 * 2**20
"""Attention matrices are computed a few (queries, keys) planes at a time, about this many bytes of them at once,
so that the softmax, the masking and the matmuls find them in cache. Measured on a ViT-B/16 layer (16 frames, 12
heads, 198 tokens, one thread, interleaved, with the earlier whole-matrix masking): backward 120 ms against 148 ms
computing them whole; the forward the same either way."""


def _chunks(batch_size: int, plane_bytes: int):
    step = max(1, CHUNK_BYTES // max(1, plane_bytes))
    return [slice(start, start + step) for start in range(0, batch_size, step)]


def _rows(tensor: torch.Tensor | None, rows: slice) -> torch.Tensor | None:
    """A mask's rows for a chunk of the batch (a mask without its own batch dimension broadcasts)."""
    if tensor is None or tensor.dim() < 4 or tensor.shape[0] == 1:
        return tensor
    return tensor[rows]


def _chunk_positions(positions: torch.Tensor, chunks: list[slice], plane: int, batch_size: int):
    """For each chunk of the batch, its dropped positions relative to the chunk's first score (int64 for indexing)."""
    starts = torch.tensor([rows.start * plane for rows in chunks] + [batch_size * plane], dtype=positions.dtype,
                          device=positions.device)
    bounds = torch.searchsorted(positions, starts).tolist()
    return [positions[bounds[i]:bounds[i + 1]].long() - chunks[i].start * plane for i in range(len(chunks))]


class _DropoutAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, query, key, value, attention_mask, scaling: float, dropout: float, is_causal: bool):
        # the projections arrive as (batch, heads) views of (batch, positions, heads * dim): batched matmuls would
        # copy them on every call (twice here, five times in backward); once here, and these copies are what is kept
        query, key, value = query.contiguous(), key.contiguous(), value.contiguous()
        batch, heads, length_q = query.shape[:3]
        length_k = key.shape[2]
        plane = heads * length_q * length_k  # scores per batch row
        # the whole draw at once: the random stream does not depend on the chunking
        dropped = dropped_positions(batch * plane, dropout, query.device)
        output = query.new_empty(batch, heads, length_q, value.shape[-1])
        chunks = _chunks(batch, plane * query.element_size())
        for rows, positions in zip(chunks, _chunk_positions(dropped, chunks, plane, batch)):
            probabilities = _probabilities(query[rows], key[rows], _rows(attention_mask, rows), scaling, is_causal)
            torch.matmul(_zero_at(probabilities, positions), value[rows], out=output[rows])
        output.mul_(1.0 / (1.0 - dropout))
        ctx.save_for_backward(query, key, value, dropped, attention_mask)
        ctx.scaling, ctx.dropout, ctx.is_causal, ctx.length_k = scaling, dropout, is_causal, length_k
        return output

    @staticmethod
    def backward(ctx, grad_output):
        query, key, value, dropped, attention_mask = ctx.saved_tensors
        grad_output = grad_output.contiguous()  # a (batch, heads) view, like the projections
        grad_query, grad_key, grad_value = torch.empty_like(query), torch.empty_like(key), torch.empty_like(value)
        batch, heads, length_q = query.shape[:3]
        plane = heads * length_q * ctx.length_k
        chunks = _chunks(batch, plane * query.element_size())
        for rows, positions in zip(chunks, _chunk_positions(dropped, chunks, plane, batch)):
            probabilities = _probabilities(query[rows], key[rows], _rows(attention_mask, rows), ctx.scaling,
                                           ctx.is_causal)
            grad_kept = _zero_at(torch.matmul(grad_output[rows], value[rows].transpose(-2, -1)), positions)
            grad_scores = torch.ops.aten._softmax_backward_data(grad_kept, probabilities, -1, probabilities.dtype)
            # the softmax's backward needed the probabilities before dropout; the value gradient needs them after
            kept = _zero_at(probabilities, positions)
            torch.matmul(kept.transpose(-2, -1), grad_output[rows], out=grad_value[rows])
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
