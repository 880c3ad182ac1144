"""CLIP's QuickGELU, `x * sigmoid(1.702 * x)`, computed in place: bit for bit the values and gradients of
transformers' `QuickGELUActivation`, with one buffer per call instead of three and only `x` kept for backward.

Why: the MLP's activation runs on the largest tensors of a CLIP block, (tokens, 4 * width). transformers' version
allocates three of them (`1.702 * x`, its sigmoid, the product), and autograd keeps two (`x` and the sigmoid). On
CPU every fresh buffer of that size is paid for again in page faults, and in a frozen backbone nothing else keeps
those tensors alive: T2L's `fc2` is frozen, so autograd does not save its input, and the activation's two saved
tensors are the largest thing a T2L block keeps for backward. This version writes the sigmoid and the product into
one buffer, keeps `x` alone, and recomputes the sigmoid in backward, whose other steps run in place as well.

The operations are autograd's own, in the same order (`sigmoid_backward`, the products, one sum of the two terms),
so outputs and gradients are identical, not merely close; tests compare them with `torch.equal`. Double backward
(`create_graph=True`) takes the same formula out of place, which autograd can differentiate.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers.activations import QuickGELUActivation

SCALE = 1.702  # transformers' and OpenAI CLIP's constant


class _QuickGELUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden_states: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(hidden_states)
        return _quick_gelu(hidden_states)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        (hidden_states,) = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: out of place, so that autograd can differentiate it
            sigmoid = torch.sigmoid(hidden_states * SCALE)
            through_sigmoid = torch.ops.aten.sigmoid_backward(grad_output * hidden_states, sigmoid) * SCALE
            return grad_output * sigmoid + through_sigmoid
        sigmoid = torch.mul(hidden_states, SCALE).sigmoid_()
        through_sigmoid = grad_output * hidden_states
        torch.ops.aten.sigmoid_backward.grad_input(through_sigmoid, sigmoid, grad_input=through_sigmoid)
        through_sigmoid.mul_(SCALE)
        return sigmoid.mul_(grad_output).add_(through_sigmoid)


def _quick_gelu(hidden_states: torch.Tensor) -> torch.Tensor:
    return torch.mul(hidden_states, SCALE).sigmoid_().mul_(hidden_states)


class LeanQuickGELU(nn.Module):
    """Drop-in for transformers' `QuickGELUActivation` (no parameters: state dicts are unchanged)."""

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and hidden_states.requires_grad:
            return _QuickGELUFunction.apply(hidden_states)
        return _quick_gelu(hidden_states)


def use_lean_quick_gelu(mlp: nn.Module) -> nn.Module:
    """Give a transformers `CLIPMLP` the lean QuickGELU (in place; returns it). Other activations stay as they are."""
    if isinstance(mlp.activation_fn, QuickGELUActivation):
        mlp.activation_fn = LeanQuickGELU()
    return mlp


__all__ = ["LeanQuickGELU", "use_lean_quick_gelu"]
