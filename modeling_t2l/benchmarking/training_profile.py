"""Where a training step's time goes: torch.profiler tables of one step of T2L and of full fine-tuning, set up as
the training section sets them up (same inputs, same checkpointing, AdamW included), and their per-operator
difference, the table that says what T2L's step spends more or less on than the baseline's."""
from __future__ import annotations

import torch

from .settings import BenchmarkSettings
from .training import training_step_parts

BASELINE = "full_ft"


def _self_time_key(device: str) -> str:
    return "self_device_time_total" if device.startswith("cuda") else "self_cpu_time_total"


def _profiled_step(settings: BenchmarkSettings, method: str, checkpointing: bool):
    """(the profiler's averages of one step, after one unprofiled step) for `method` at the section's batch size."""
    from torch.profiler import ProfilerActivity, profile

    device = settings.device
    _, _, forward, optimizer_step = training_step_parts(settings, method, checkpointing)

    def step():
        forward().backward()
        optimizer_step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    step()  # allocates AdamW's state, warms the allocator
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    with profile(activities=activities) as profiler:
        step()
    return profiler.key_averages()


def _difference_table(method: str, ours, baseline, key: str, rows: int) -> str:
    """Per operator: self time in `method`'s step minus in the baseline's (ms), the largest either way."""
    mine = {event.key: (getattr(event, key) / 1e3, event.count) for event in ours}
    theirs = {event.key: (getattr(event, key) / 1e3, event.count) for event in baseline}
    deltas = sorted(((mine.get(name, (0.0, 0))[0] - theirs.get(name, (0.0, 0))[0], name)
                     for name in set(mine) | set(theirs)), reverse=True)
    shown = deltas[:rows] + [entry for entry in deltas[-rows:] if entry not in deltas[:rows]]
    lines = [f"{'operator':<64} {'difference ms':>14} {method + ' ms':>12} {'baseline ms':>12} {'calls':>13}"]
    for delta, name in shown:
        (ours_ms, ours_calls), (base_ms, base_calls) = mine.get(name, (0.0, 0)), theirs.get(name, (0.0, 0))
        lines.append(f"{name[:64]:<64} {delta:>+14.1f} {ours_ms:>12.1f} {base_ms:>12.1f} "
                     f"{f'{base_calls}->{ours_calls}':>13}")
    total_ours = sum(ms for ms, _ in mine.values())
    total_base = sum(ms for ms, _ in theirs.values())
    lines.append(f"{'total (self time of every operator)':<64} {total_ours - total_base:>+14.1f} "
                 f"{total_ours:>12.1f} {total_base:>12.1f}")
    return "\n".join(lines)


def profile_training(settings: BenchmarkSettings, methods=("t2l",), checkpointing: bool = True,
                     row_limit: int = 20) -> str:
    """One profiled training step (forward, backward, AdamW) per method and of full fine-tuning of CLIP, in this
    process, and the per-operator difference of each method against full fine-tuning.

    With `checkpointing` every method recomputes its encoder layers as in the section's checkpointed rows. One step
    each, so the table shows where the time goes, not a ratio to claim (the section's rows are that).
    """
    settings.apply_threads()  # the rows' thread count (one thread under the CPU clock)
    key = _self_time_key(settings.device)
    averages = {method: _profiled_step(settings, method, checkpointing) for method in (*methods, BASELINE)}
    mode = "with" if checkpointing else "without"
    sections = [f"== {method}, one training step at batch {settings.train_batch_size}, {mode} checkpointing ==\n"
                + table.table(sort_by=key, row_limit=row_limit) for method, table in averages.items()]
    for method in methods:
        sections.append(f"== {method} - full fine-tuning, self time per operator, {mode} checkpointing "
                        f"(positive: {method} spends more) ==\n"
                        + _difference_table(method, averages[method], averages[BASELINE], key, row_limit))
    return "\n\n".join(sections)
