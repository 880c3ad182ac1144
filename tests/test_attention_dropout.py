"""`dropout_attention`: SDPA's math kernel with dropout (the same computation, the same distribution of masks,
drawn faster), without storing the attention matrices; and T2L's attention using it in CPU training only."""
import copy

import pytest
import torch
import torch.nn.functional as F

import modeling_t2l.attention_dropout as attention_dropout
from modeling_t2l import T2LConfig, T2LForVideoClassification
from modeling_t2l.attention_dropout import (dropout_attention, dropped_positions, dropped_scores,
                                           uses_dropout_attention)


def _inputs(batch=2, heads=3, queries=7, keys=7, dim=8, dtype=torch.float64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, heads, length, dim, generator=generator, dtype=dtype).requires_grad_()
            for length in (queries, keys, keys)]


def _run(function, tensors, seed):
    torch.manual_seed(seed)
    output = function(*tensors)
    grad = torch.randn(output.shape, generator=torch.Generator().manual_seed(99), dtype=torch.float64)
    grad = grad.to(output.dtype)  # the same numbers in either precision
    grads = torch.autograd.grad(output, tensors, grad)
    return output, grads


def naive_dropout_attention(q, k, v, mask, scale, p, is_causal=False):
    """The math kernel's formula through autograd, with the mask `dropout_attention` draws (the same call, first)."""
    dropped = dropped_scores((q.shape[0], q.shape[1], q.shape[2], k.shape[2]), p, q.device)
    scores = q @ k.transpose(-2, -1) * scale
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    elif is_causal:
        scores = scores.masked_fill(torch.ones(scores.shape[-2:], dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(scores, dim=-1).masked_fill(dropped, 0) @ v / (1 - p)


MASKS = {
    "none": lambda q, k: None,
    "bool": lambda q, k: torch.rand(q, k, generator=torch.Generator().manual_seed(3)) > 0.3,
    "additive": lambda q, k: torch.randn(1, 1, q, k, generator=torch.Generator().manual_seed(4), dtype=torch.float64),
    "per sample": lambda q, k: torch.randn(2, 1, q, k, generator=torch.Generator().manual_seed(5), dtype=torch.float64),
}


@pytest.mark.parametrize("chunk_bytes", [8, attention_dropout.CHUNK_BYTES])  # a plane per chunk, and whole
@pytest.mark.parametrize("mask_kind", list(MASKS))
@pytest.mark.parametrize("causal", [False, True])
def test_same_values_and_gradients_as_the_math_formula_with_its_mask(mask_kind, causal, chunk_bytes, monkeypatch):
    monkeypatch.setattr(attention_dropout, "CHUNK_BYTES", chunk_bytes)
    q, k, v = _inputs(queries=6, keys=6)
    mask = MASKS[mask_kind](6, 6)
    if mask is not None and mask.dtype == torch.bool:
        mask[:, 0] = True  # no row fully masked
    scale, p = 0.3, 0.25
    for seed in (0, 1):
        out, grads = _run(lambda *t: dropout_attention(*t, mask, scale, p, is_causal=causal), (q, k, v), seed)
        ref_out, ref_grads = _run(lambda *t: naive_dropout_attention(*t, mask, scale, p, causal), (q, k, v), seed)
        torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
        for grad, ref in zip(grads, ref_grads):
            torch.testing.assert_close(grad, ref, rtol=1e-10, atol=1e-10)
    # a different random state draws a different mask (the dropout is real)
    assert not torch.allclose(_run(lambda *t: dropout_attention(*t, None, scale, p), (q, k, v), 0)[0],
                              _run(lambda *t: dropout_attention(*t, None, scale, p), (q, k, v), 1)[0])


def _near(value, expected, count):
    """Within six standard errors of a mean of `count` Bernoulli(`expected`) draws."""
    assert abs(value - expected) < 6 * (expected * (1 - expected) / count) ** 0.5, (value, expected)


# both samplers (gaps up to GEOMETRIC_UP_TO, 32 bits per score above it), on either side of the switch
@pytest.mark.parametrize("p", [0.01, 0.1, attention_dropout.GEOMETRIC_UP_TO, 0.13, 0.5])
def test_each_score_is_dropped_independently_with_probability_p(p):
    torch.manual_seed(0)
    dropped = dropped_scores((1000, 1001), p).double()  # odd: the last 64-bit draw of the bits is half used
    assert dropped.shape == (1000, 1001)
    n = dropped.numel()
    _near(dropped.mean().item(), p, n)
    flat = dropped.flatten()
    _near(flat[0::2].mean().item(), p, n // 2)  # both halves of each 64-bit draw
    _near(flat[1::2].mean().item(), p, n // 2)
    _near(flat[-1000:].mean().item() if p >= 0.1 else flat[-100_000:].mean().item(), p,
          1000 if p >= 0.1 else 100_000)  # the end of the range is covered like the rest
    _near((flat[:-1] * flat[1:]).mean().item(), p * p, n - 1)  # neighbours independent
    _near((flat[:-2] * flat[2:]).mean().item(), p * p, n - 2)
    _near((dropped[:-1] * dropped[1:]).mean().item(), p * p, n - 1001)
    # the gaps between drops are geometric: P(gap > k) = (1 - p)^k
    gaps = torch.diff(torch.nonzero(flat).squeeze(1)).double()
    for k in (1, 2, 5, round(1 / p)):
        _near((gaps > k).double().mean().item(), (1 - p) ** k, gaps.numel())
    assert not dropped_scores((10, 10), 0.0).any()


@pytest.mark.parametrize("p", [0.05, 0.5])
def test_dropped_positions_are_sorted_unique_indices_and_a_seed_repeats_them(p):
    torch.manual_seed(3)
    positions = dropped_positions(50_000, p)
    assert positions.dtype == torch.int32 and positions.dim() == 1
    assert (torch.diff(positions) > 0).all() and positions[0] >= 0 and positions[-1] < 50_000
    torch.manual_seed(3)
    assert torch.equal(dropped_positions(50_000, p), positions)
    torch.manual_seed(3)
    assert torch.equal(torch.nonzero(dropped_scores((50, 1000), p).flatten()).squeeze(1), positions.long())
    assert dropped_positions(10, 0.0).numel() == 0 and dropped_positions(0, 0.1).numel() == 0


def test_a_short_round_of_gaps_draws_more_and_keeps_the_distribution(monkeypatch):
    monkeypatch.setattr(attention_dropout, "_gap_draws", lambda numel, p: 7)  # many rounds of 7 gaps
    torch.manual_seed(0)
    positions = dropped_positions(200_000, 0.1).long()
    assert (torch.diff(positions) > 0).all() and positions[-1] < 200_000
    _near(positions.numel() / 200_000, 0.1, 200_000)
    _near(positions[positions >= 190_000].numel() / 10_000, 0.1, 10_000)


def test_vanishing_rates_drop_nothing_without_overflowing():
    torch.manual_seed(0)
    for p in (1e-30, 1e-300):  # gaps of about 1e31 and 1e301 scores: past the end of the range, not wrapped around
        assert dropped_positions(10_000, p).numel() == 0


def test_indices_past_int32_are_int64():
    torch.manual_seed(0)
    positions = dropped_positions(2**31 + 5, 1e-9)  # about two drops in 2^31 scores: a few dozen draws
    assert positions.dtype == torch.int64 and (positions < 2**31 + 5).all()


def test_outputs_have_the_math_kernels_distribution():
    """Over many seeds, the mean and spread of every output element match SDPA's math kernel with dropout."""
    q, k, v = (t.detach() for t in _inputs(batch=1, heads=1, queries=3, keys=4, dim=2))
    draws = 4000
    ours = torch.stack([dropout_attention(q, k, v, None, 0.5, 0.3) for _ in range(draws)])
    sdpa = torch.stack([F.scaled_dot_product_attention(q, k, v, dropout_p=0.3, scale=0.5) for _ in range(draws)])
    standard_error = (ours.var(dim=0) / draws + sdpa.var(dim=0) / draws).sqrt()
    assert ((ours.mean(dim=0) - sdpa.mean(dim=0)).abs() < 5 * standard_error).all()
    torch.testing.assert_close(ours.std(dim=0), sdpa.std(dim=0), rtol=0.1, atol=0)
    without = F.scaled_dot_product_attention(q, k, v, scale=0.5)  # the expectation: attention without dropout
    assert ((ours.mean(dim=0) - without).abs() < 5 * ours.std(dim=0) / draws ** 0.5).all()


def test_float32_matches_the_float64_formula_within_tolerance_and_passes_gradcheck():
    q, k, v = _inputs(queries=9, keys=5, dtype=torch.float32)
    out, grads = _run(lambda *t: dropout_attention(*t, None, 0.125, 0.1), (q, k, v), 5)
    as64 = [t.detach().double().requires_grad_() for t in (q, k, v)]
    ref, ref_grads = _run(lambda *t: naive_dropout_attention(*t, None, 0.125, 0.1), as64, 5)
    torch.testing.assert_close(out, ref.float(), rtol=1e-5, atol=1e-6)
    for grad, ref_grad in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad.float(), rtol=1e-4, atol=1e-6)
    q64, k64, v64 = _inputs(batch=1, heads=2, queries=4, keys=3)

    def seeded(q, k, v):  # gradcheck calls the function many times: the same mask each time
        torch.manual_seed(7)
        return dropout_attention(q, k, v, None, 0.5, 0.3)

    assert torch.autograd.gradcheck(seeded, (q64, k64, v64))


def _tiny_t2l(attn="sdpa", dropout=None):
    text = dict(vocab_size=99, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=16, bos_token_id=96, eos_token_id=98, pad_token_id=98, projection_dim=16)
    vision = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                  patch_size=8, projection_dim=16)
    config = T2LConfig(text_config=text, vision_config=vision, projection_dim=16, num_frames=2, drop_path_rate=0.0,
                       attention_dropout=dropout)
    config._attn_implementation = attn
    torch.manual_seed(0)
    return T2LForVideoClassification(config)


def _batch():
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(1, 96, (2, 7), generator=generator)
    input_ids[:, 0], input_ids[0, 5:], input_ids[1, 3:] = 96, 98, 98
    attention_mask = (torch.arange(7) <= torch.tensor([[5], [3]])).long()
    return dict(pixel_values=torch.randn(2, 2, 3, 32, 32, generator=generator), input_ids=input_ids,
                attention_mask=attention_mask, labels=torch.tensor([0, 1]))


def test_t2l_training_step_equals_the_math_formula_with_the_same_seed(monkeypatch):
    """The whole model in training with attention dropout 0.3: loss and every trained gradient as with the math
    kernel's formula through autograd, the same random stream drawing the same masks."""
    import modeling_t2l.models.t2l.modeling_t2l as t2l_modeling

    model = _tiny_t2l(dropout=0.3).train()
    reference = copy.deepcopy(model)
    results = []
    for net, attention in ((model, dropout_attention), (reference, naive_dropout_attention)):
        monkeypatch.setattr(t2l_modeling, "dropout_attention", attention)
        torch.manual_seed(11)
        loss = net(**_batch()).loss
        loss.backward()
        results.append((loss.detach(), {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}))
    (loss, grads), (ref_loss, ref_grads) = results
    assert grads.keys() == ref_grads.keys() and len(grads) > 0
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=0)
    for name in grads:
        scale = ref_grads[name].abs().max()
        torch.testing.assert_close(grads[name], ref_grads[name], rtol=0, atol=1e-4 * float(scale) + 1e-12, msg=name)
    # and the dropout mattered: another seed gives another loss
    monkeypatch.setattr(t2l_modeling, "dropout_attention", dropout_attention)
    torch.manual_seed(12)
    assert not torch.isclose(model(**_batch()).loss, loss)


def test_used_only_in_cpu_fp32_training_with_dropout_under_sdpa():
    model = _tiny_t2l(dropout=0.3)
    attention = model.t2l.vision_model.encoder.layers[0].self_attn
    hidden = torch.zeros(1, 3, 32)
    model.train()
    assert uses_dropout_attention(attention, hidden)
    assert not uses_dropout_attention(attention, hidden.to(torch.bfloat16))
    with torch.no_grad():
        assert not uses_dropout_attention(attention, hidden)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not uses_dropout_attention(attention, hidden)
    model.eval()
    assert not uses_dropout_attention(attention, hidden)
    eager = _tiny_t2l(attn="eager", dropout=0.3).train()
    assert not uses_dropout_attention(eager.t2l.vision_model.encoder.layers[0].self_attn, hidden)
    no_dropout = _tiny_t2l(dropout=0.0).train()
    assert not uses_dropout_attention(no_dropout.t2l.vision_model.encoder.layers[0].self_attn, hidden)


def test_keeps_less_for_backward_than_the_math_kernel():
    q, k, v = _inputs(batch=2, heads=4, queries=64, keys=64, dim=16, dtype=torch.float32)

    def saved_bytes(function):
        total = [0]

        def pack(tensor):
            total[0] += tensor.numel() * tensor.element_size()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            function()
        return total[0]

    ours = saved_bytes(lambda: dropout_attention(q, k, v, None, 0.25, 0.1))
    math = saved_bytes(lambda: F.scaled_dot_product_attention(q, k, v, dropout_p=0.1, scale=0.25))
    scores = 2 * 4 * 64 * 64
    assert math >= 9 * scores  # softmax output + dropout noise + dropped probabilities, fp32 each (+ q, k, v)
    # q, k, v and the dropped scores' int32 indices: about 4 p bytes per score
    assert ours <= 4 * 0.1 * scores * 1.2 + 4 * 3 * q.numel() + 1024
