"""The one timing harness of the benchmarks: `time_call` (one timed call), `measure_interleaved` (warm-up, then
repetitions interleaved round-robin), `Timing` (median and spread); and the FLOP counter.

Every section of `t2l benchmark` and of the device check times through these, so a number in one table was taken
the same way as a number in another.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch


# ---------------------------------------------------------------------------------------------------------------
# The timing harness
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Timing:
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """Half the inter-quartile range (0 with fewer than 2 samples): robust to one disturbed repetition."""
        if len(self.samples) < 2:
            return 0.0
        quartiles = statistics.quantiles(self.samples, n=4, method="inclusive")
        return (quartiles[2] - quartiles[0]) / 2


def synchronizer(device: str) -> Callable[[], None]:
    """A function that waits for queued device work, so wall-clock time covers the work itself."""
    if str(device).startswith("cuda"):
        return torch.cuda.synchronize
    return lambda: None


def time_call(function: Callable[[], Any], *, timer: Callable[[], float] = time.perf_counter,
              synchronize: Callable[[], None] = lambda: None) -> float:
    """Seconds one call of `function` takes by `timer`, queued device work included (`synchronize` before and after)."""
    synchronize()
    start = timer()
    function()
    synchronize()
    return timer() - start


def measure_interleaved(
    functions: Mapping[str, Callable[[], Any]],
    *,
    warmup: int = 1,
    repeats: int = 5,
    synchronize: Callable[[], None] = lambda: None,
    skip_warmup: Sequence[str] = (),
    timer: Callable[[], float] = time.perf_counter,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Timing]:
    """Time each function `repeats` times, round-robin, after `warmup` untimed calls each.

    Interleaving spreads slow drifts of a shared machine (other jobs, thermal state) over every function instead
    of charging them to whichever ran last; the starting function rotates each round. `skip_warmup` names
    functions that were already run once (e.g. by the FLOP counter) and need no extra warm-up. `progress(done,
    total)` is called after each round.
    """
    names = list(functions)
    for name in names:
        for _ in range(0 if name in skip_warmup else warmup):
            functions[name]()
        synchronize()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(time_call(functions[name], timer=timer, synchronize=synchronize))
        if progress is not None:
            progress(round_index + 1, repeats)
    return {name: Timing(values) for name, values in samples.items()}


def count_flops(function: Callable[[], Any], inference_of: torch.nn.Module | None = None) -> float:
    """Total FLOPs of one call, as torch.utils.flop_counter counts them (a multiply-add is 2 FLOPs).

    For a no-grad call pass the model as `inference_of`: the counter's module tracker hooks the autograd graph of
    every module input that requires grad (T2L feeds its temporal-prompt parameter through a Dropout module), which
    fails when no graph is recorded, so those flags are switched off for the count and restored afterwards.
    """
    from torch.utils.flop_counter import FlopCounterMode

    trainable = [p for p in inference_of.parameters() if p.requires_grad] if inference_of is not None else []
    counter = FlopCounterMode(display=False)
    try:
        for parameter in trainable:
            parameter.requires_grad_(False)
        with counter:
            function()
    finally:
        for parameter in trainable:
            parameter.requires_grad_(True)
    return float(counter.get_total_flops())
