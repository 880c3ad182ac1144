"""Learning-rate schedules transformers does not ship.

`cosine_with_warmup_inside`: the schedule of timm's `CosineLRScheduler` as the TC-CLIP (and ViFi-CLIP) recipes use
it (`warmup_lr_init=0`, `warmup_prefix=False`, `cycle_limit=1`): a linear warm-up from 0 to each group's base lr,
and a cosine from the base lr to an absolute `lr_min` that is counted over the *whole* run, warm-up included, so
the lr steps down slightly when the warm-up ends. Every group decays to the same `lr_min` (the official 10x
group too). transformers' `get_cosine_schedule_with_warmup` instead starts its cosine after the warm-up and ends
at 0.
"""
from __future__ import annotations

import math
from functools import partial

from torch.optim.lr_scheduler import LambdaLR


def _factor(step: int, *, base_lr: float, lr_min: float, num_warmup_steps: int, num_training_steps: int) -> float:
    if base_lr == 0:
        return 0.0
    if step < num_warmup_steps:
        return step / num_warmup_steps
    if step >= num_training_steps:
        return lr_min / base_lr
    cosine = lr_min + 0.5 * (base_lr - lr_min) * (1.0 + math.cos(math.pi * step / num_training_steps))
    return cosine / base_lr


def cosine_with_warmup_inside(optimizer, num_warmup_steps: int, num_training_steps: int, lr_min: float) -> LambdaLR:
    """A `LambdaLR` giving each parameter group the timm curve above, from its own initial lr to `lr_min`."""
    if num_training_steps < 1:
        raise ValueError(f"num_training_steps must be >= 1, got {num_training_steps}")
    if lr_min < 0:
        raise ValueError(f"lr_min must be >= 0, got {lr_min}")
    lambdas = [
        partial(_factor, base_lr=group.get("initial_lr", group["lr"]), lr_min=lr_min,
                num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps)
        for group in optimizer.param_groups
    ]
    return LambdaLR(optimizer, lambdas)


__all__ = ["cosine_with_warmup_inside"]
