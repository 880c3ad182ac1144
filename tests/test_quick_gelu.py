"""The lean QuickGELU: bit for bit transformers' `QuickGELUActivation` (values, gradients, double backward), keeping
only its input for backward, and the activation of the T2L and TC-CLIP MLPs."""
import copy

import pytest
import torch
from transformers.activations import QuickGELUActivation

from modeling_t2l import T2LForVideoClassification
from modeling_t2l.models.tc_clip import TCCLIPForVideoClassification
from modeling_t2l.quick_gelu import LeanQuickGELU, use_lean_quick_gelu

from .test_activation_checkpointing import _batch as checkpointing_batch
from .test_tc_clip_modeling import tiny_config as tiny_tc_clip_config
from .tiny import tiny_t2l_config

STOCK, LEAN = QuickGELUActivation(), LeanQuickGELU()


def _input(dtype, shape=(3, 5, 37), transposed=False):
    generator = torch.Generator().manual_seed(0)
    # wide enough to reach both tails of the sigmoid; 37 columns leave a tail after the vectorised part
    values = (torch.randn(shape, generator=generator, dtype=torch.float64) * 6).to(dtype)
    return values.transpose(0, 2) if transposed else values


def _value_and_grad(activation, values, grad):
    leaf = values.detach().clone().requires_grad_()
    output = activation(leaf)
    output.backward(grad)
    return output.detach(), leaf.grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("transposed", [False, True])
def test_values_and_gradients_are_transformers_bit_for_bit(dtype, transposed):
    values = _input(dtype, transposed=transposed)
    grad = torch.randn(values.shape, generator=torch.Generator().manual_seed(1)).to(dtype)
    stock_out, stock_grad = _value_and_grad(STOCK, values, grad)
    lean_out, lean_grad = _value_and_grad(LEAN, values, grad)
    assert torch.equal(lean_out, stock_out)
    assert torch.equal(lean_grad, stock_grad)
    with torch.no_grad():
        assert torch.equal(LEAN(values), stock_out)  # the inference path, without autograd


def test_only_the_input_is_kept_for_backward():
    def saved_bytes(activation):
        saved = []
        leaf = _input(torch.float32).requires_grad_()
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel() * t.element_size()) or t,
                                                      lambda t: t):
            activation(leaf)
        return sum(saved), leaf.numel() * leaf.element_size()

    lean, input_bytes = saved_bytes(LEAN)
    stock, _ = saved_bytes(STOCK)
    assert lean == input_bytes
    assert stock == 3 * input_bytes  # the input and the sigmoid (saved twice: by the sigmoid and by the product)


def test_double_backward_matches_transformers():
    values = _input(torch.float64)
    leaf = values.clone().requires_grad_()
    assert torch.autograd.gradgradcheck(LEAN, (leaf,))

    def second_derivative(activation):
        x = values.clone().requires_grad_()
        (first,) = torch.autograd.grad(activation(x).sum(), x, create_graph=True)
        (second,) = torch.autograd.grad(first.sum(), x)
        return first.detach(), second

    lean_first, lean_second = second_derivative(LEAN)
    stock_first, stock_second = second_derivative(STOCK)
    assert torch.equal(lean_first, stock_first)
    torch.testing.assert_close(lean_second, stock_second, rtol=1e-12, atol=1e-12)


def test_other_activations_are_left_alone():
    class MLP(torch.nn.Module):
        activation_fn = torch.nn.GELU()

    mlp = MLP()
    assert use_lean_quick_gelu(mlp).activation_fn is MLP.activation_fn


def _mlps(model):
    return [module for name, module in model.named_modules() if name.endswith("mlp")]


@pytest.mark.parametrize("build", [
    lambda: T2LForVideoClassification(tiny_t2l_config()),
    lambda: TCCLIPForVideoClassification(tiny_tc_clip_config()),
], ids=["t2l", "tc_clip"])
def test_families_use_it_in_every_clip_mlp(build):
    mlps = _mlps(build())
    assert mlps and all(isinstance(mlp.activation_fn, LeanQuickGELU) for mlp in mlps)


def test_a_t2l_training_step_is_the_same_as_with_transformers_activation():
    torch.manual_seed(0)
    lean = T2LForVideoClassification(tiny_t2l_config(drop_path_rate=0.2)).apply_trainable_set().train()
    stock = copy.deepcopy(lean)
    for mlp in _mlps(stock):
        mlp.activation_fn = QuickGELUActivation()
    assert lean.state_dict().keys() == stock.state_dict().keys()
    batch = checkpointing_batch()
    results = []
    for model in (lean, stock):
        torch.manual_seed(5)  # the same dropout and drop-path draws for both
        loss = model(**batch).loss
        loss.backward()
        results.append((loss.detach(), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}))
    (lean_loss, lean_grads), (stock_loss, stock_grads) = results
    assert torch.equal(lean_loss, stock_loss)
    assert lean_grads.keys() == stock_grads.keys() and lean_grads
    for name in lean_grads:
        assert torch.equal(lean_grads[name], stock_grads[name]), name


def test_the_one_process_comparison_runs_on_tiny_models():
    from modeling_t2l.benchmarking import BenchmarkSettings
    from modeling_t2l.benchmarking.activation_ab import main

    medians = main(["--rounds", "1"], settings=BenchmarkSettings.tiny())
    assert set(medians) == {"t2l", "t2l_transformers_gelu", "full_ft"} and all(v > 0 for v in medians.values())
