"""Activation checkpointing of T2L: the same training step as without it (every dropout included), and a
recomputation that stops where a plain CLIP block's does, before the MLP's second matmul."""
import copy

import pytest
import torch

from modeling_t2l import T2LForVideoClassification
from modeling_t2l.benchmarking.training import enable_activation_checkpointing, recomputed_linears

from .tiny import tiny_t2l_config


def _batch(num_frames=4):
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(1, 49000, (2, 7), generator=generator)
    input_ids[:, 0], input_ids[:, -1] = 49406, 49407
    return dict(pixel_values=torch.randn(2, num_frames, 3, 32, 32, generator=generator), input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids), labels=torch.tensor([0, 1]))


def _model(**overrides):
    torch.manual_seed(0)
    # every random part of the official recipe on, and strong enough to matter in two layers
    config = tiny_t2l_config(drop_path_rate=0.3, temporal_token_dropout=0.2, **overrides)
    return T2LForVideoClassification(config).apply_trainable_set().train()


def _step(model, seed=5):
    torch.manual_seed(seed)
    loss = model(**_batch()).loss
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("attention_dropout", [None, 0.0])
def test_checkpointed_step_equals_the_plain_step(attention_dropout):
    plain = _model(attention_dropout=attention_dropout)
    checkpointed = copy.deepcopy(plain)
    enable_activation_checkpointing(checkpointed)
    (loss, grads), (ckpt_loss, ckpt_grads) = _step(plain), _step(checkpointed)
    assert grads.keys() == ckpt_grads.keys() == set(plain.trainable_parameter_names())
    torch.testing.assert_close(ckpt_loss, loss, rtol=1e-6, atol=0)
    for name in grads:
        scale = float(grads[name].abs().max()) + 1e-12
        torch.testing.assert_close(ckpt_grads[name], grads[name], rtol=0, atol=1e-5 * scale, msg=name)
    # the random parts were drawn: another seed gives another loss
    assert not torch.isclose(_step(plain, seed=6)[0], loss)


def test_recomputation_skips_the_mlp_output_matmul_as_for_clip():
    """Drop path multiplies the MLP's output last in a T2L block; keeping its mask outside autograd's saved tensors
    lets recomputation stop before `mlp.fc2`, in every layer, drop path on or not."""
    model = _model()
    enable_activation_checkpointing(model)
    rates = [layer.drop_path.drop_prob for layer in model.t2l.vision_model.encoder.layers]
    assert rates[0] == 0.0 and rates[-1] > 0  # layers without and with drop path are both checked
    torch.manual_seed(5)
    loss = model(**_batch()).loss
    ran = dict(item.rsplit(" ", 1) for item in recomputed_linears(model, loss.backward).split(", "))
    layers = len(model.t2l.vision_model.encoder.layers) + len(model.t2l.text_model.encoder.layers)
    assert ran.pop("mlp.fc2") == f"0/{layers}"
    assert ran == {name: f"{layers}/{layers}" for name in ("adapter.fc1", "adapter.fc2", "mlp.fc1", "self_attn.q_proj",
                                                          "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj")}
