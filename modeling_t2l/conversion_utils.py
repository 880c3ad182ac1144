"""Value checks every family's checkpoint converter runs before writing weights.

A converter that checks only key names and shapes lets two kinds of broken tensors through silently:

- NaN / Inf values (a diverged run, a bad fp16 cast): the converted model loads and returns NaN scores;
- integer (or bool) tensors where parameters belong: `load_state_dict` copies them into float parameters
  without a word, so a corrupted or foreign file converts into a model whose weights are rounded garbage.

`tensor_value_problems` lists both, naming the keys; `check_tensor_values` raises with every problem at once, so a
user sees the whole list in one run. Converters call it on the state dict they are about to map, e.g.

    check_tensor_values(state_dict, float_keys=expected_shapes, error=ConversionError)
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

# Keys listed in one message before "... and N more": a whole broken checkpoint would otherwise print thousands.
MAX_LISTED_KEYS = 20


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:MAX_LISTED_KEYS])
    return shown + (f", ... and {len(keys) - MAX_LISTED_KEYS} more" if len(keys) > MAX_LISTED_KEYS else "")


def tensor_value_problems(state_dict: Mapping[str, torch.Tensor], float_keys: Iterable[str] | None = None) -> list[str]:
    """One line per kind of problem: keys of `float_keys` (default: every key) that are not floating point, and
    floating tensors holding NaN or Inf. An empty list means the values are fit to convert."""
    float_keys = set(state_dict) if float_keys is None else set(float_keys)
    not_float, not_finite = [], []
    for key in sorted(state_dict):
        tensor = state_dict[key]
        if tensor.is_floating_point() or tensor.is_complex():
            # fp16 / bf16 checkpoints are checked in their own dtype: a finite fp16 value stays finite in fp32
            if not bool(torch.isfinite(tensor).all()):
                count = int((~torch.isfinite(tensor)).sum())
                not_finite.append(f"{key} ({count} of {tensor.numel()} values)")
        elif key in float_keys:
            not_float.append(f"{key} ({str(tensor.dtype).replace('torch.', '')})")
    problems = []
    if not_finite:
        problems.append(f"{len(not_finite)} tensor(s) with NaN or Inf values: {_listing(not_finite)}")
    if not_float:
        problems.append(f"{len(not_float)} integer/bool tensor(s) where floating-point weights belong: "
                        f"{_listing(not_float)}")
    return problems


def check_tensor_values(state_dict: Mapping[str, torch.Tensor], float_keys: Iterable[str] | None = None, *,
                        error: type[Exception] = ValueError) -> None:
    """Raise `error` listing every key of `tensor_value_problems`; do nothing when there are none."""
    problems = tensor_value_problems(state_dict, float_keys)
    if problems:
        raise error("refusing to convert tensors with invalid values; " + "; ".join(problems))


__all__ = ["check_tensor_values", "tensor_value_problems"]
