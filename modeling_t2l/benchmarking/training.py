"""Section 2, training step: every registered family vs full fine-tuning of CLIP. Each configuration's memory is
measured in a fresh subprocess (the memory probe); the step times of one checkpointing setting in one subprocess,
every configuration's steps interleaved, so that a shared machine's drift falls on all of them alike."""
from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from ..models.registry import families, get_family
from .models import _pooled, _random_pixels, _random_text, build_clip, build_family, clip_frame_average
from .rows import TrainingRow
from .settings import BenchmarkSettings
from .timing import Timing, measure_interleaved, synchronizer, time_call


# ---------------------------------------------------------------------------------------------------------------
# Memory probes
# ---------------------------------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB: VmHWM from /proc on Linux, else getrusage's ru_maxrss."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, kB elsewhere


PROGRESS = "progress: "  # a line of a probe's stdout that reports progress, not its result


def run_probe(task: dict, timeout: float | None = 1800, progress: Callable[[str], None] | None = None) -> dict:
    """Run `task` in a fresh Python process (`python -m modeling_t2l.benchmarking probe <json>`); return its JSON.

    A fresh process is the only clean way to know the peak memory of one configuration on CPU: RSS peaks never go
    down within a process, and freed memory stays with the allocator. The process's progress lines go to
    `progress` as they come; `timeout=None` waits as long as it takes (the interleaved timing of a whole section).
    """
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[2])  # modeling_t2l/benchmarking/training.py
    env["PYTHONPATH"] = package_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    command = [sys.executable, "-m", "modeling_t2l.benchmarking", "probe", json.dumps(task)]
    output, timed_out = [], threading.Event()
    with tempfile.TemporaryFile(mode="w+") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)

        def kill():
            timed_out.set()
            process.kill()

        killer = threading.Timer(timeout, kill) if timeout else None
        if killer is not None:
            killer.start()
        try:
            for line in process.stdout:
                if line.startswith(PROGRESS):
                    if progress is not None:
                        progress(line[len(PROGRESS):].strip())
                else:
                    output.append(line)
            returncode = process.wait()
        finally:
            if killer is not None:
                killer.cancel()
            if process.poll() is None:  # interrupted while reading: the probe must not outlive its caller
                process.kill()
                process.wait()
        stderr.seek(0)
        errors = stderr.read()
    if returncode != 0:
        tail = (errors or "".join(output)).strip().splitlines()[-15:]
        why = f"was stopped after {timeout:g} s" if timed_out.is_set() else f"failed with exit code {returncode}"
        raise RuntimeError(f"benchmarking probe {task.get('kind')!r} {why}:\n" + "\n".join(tail))
    for line in reversed(output):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"benchmarking probe {task.get('kind')!r} printed no JSON result:\n{''.join(output)[-2000:]}")


def _report_progress(message: str) -> None:
    """Inside a probe: one progress line for `run_probe`'s caller."""
    print(PROGRESS + message, flush=True)


def _probe_main(task: dict) -> dict:
    """Inside the fresh process: run one task and return what it measured."""
    baseline = peak_rss_mb()
    if task["kind"] == "idle":
        return {"peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline}
    if task["kind"] == "train":
        return _train_probe(task, baseline)
    if task["kind"] == "train_timing":
        return _timing_probe(task)
    raise ValueError(f"benchmarking probe: unknown task kind {task['kind']!r} "
                     "(expected 'idle', 'train' or 'train_timing')")


# ---------------------------------------------------------------------------------------------------------------
# 2. Training step (memory: each configuration in its own process; time: one process per checkpointing setting)
# ---------------------------------------------------------------------------------------------------------------

FULL_FT_TRAIN = "full fine-tuning (ViFi-CLIP)"


def training_name(model_type: str) -> str:
    family = get_family(model_type)
    return f"{family.name} ({family.summary})"


T2L_TRAIN = "T2L (frozen CLIP, temporal tokens + adapters)"


def _settings_from_task(task: dict) -> BenchmarkSettings:
    fields = {f.name for f in dataclasses.fields(BenchmarkSettings)}
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in task["settings"].items() if k in fields}
    return BenchmarkSettings(**values)


def _vifi_clip_loss(clip, pixel_values, input_ids, attention_mask, labels) -> torch.Tensor:
    """ViFi-CLIP's objective: frame-averaged video embedding, cross-entropy over the class texts."""
    video = torch.nn.functional.normalize(clip_frame_average(clip, pixel_values), dim=-1)
    text = torch.nn.functional.normalize(
        _pooled(clip.get_text_features(input_ids=input_ids, attention_mask=attention_mask)), dim=-1)
    logits = clip.logit_scale.exp() * video @ text.t()
    return torch.nn.functional.cross_entropy(logits.float(), labels)


def enable_activation_checkpointing(model) -> None:
    """Non-reentrant activation checkpointing of every encoder layer (what `TrainingArguments(gradient_checkpointing=
    True)` does): the same transformers mechanism (`GradientCheckpointingLayer`) for every method compared."""
    # transformers 5 renamed gradient_checkpointing_enable (deprecated) to activation_checkpointing_enable
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def checkpointed_layers(model) -> tuple[int, int]:
    """(layers that recompute their forward in backward, encoder layers in all): the check that every compared
    method checkpoints the same layers."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    return sum(bool(getattr(m, "gradient_checkpointing", False)) for m in layers), len(layers)


def recomputed_linears(model, backward: Callable[[], None]) -> str:
    """Run `backward` and say which linear layers of the encoder layers ran again inside it: per name within a
    layer (`self_attn.q_proj`, `mlp.fc2`, an adapter's), in how many layers, e.g. "mlp.fc1 24/24, mlp.fc2 0/24".

    The check that compared methods recompute alike: the recomputation of a checkpointed layer stops as soon as
    the last tensor autograd saved is back, so which matmuls it skips depends on what a layer saves after them.
    A forward hook fires only when a linear layer's forward completes, so a recomputation stopped inside it
    counts as not run.
    """
    from transformers.modeling_layers import GradientCheckpointingLayer

    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    present: dict[str, int] = {}
    ran: dict[str, set[int]] = {}
    handles = []
    for index, layer in enumerate(layers):
        for name, module in layer.named_modules():
            if isinstance(module, torch.nn.Linear):
                present[name] = present.get(name, 0) + 1
                ran.setdefault(name, set())
                handles.append(module.register_forward_hook(
                    lambda module, args, output, name=name, index=index: ran[name].add(index)))
    try:
        backward()
    finally:
        for handle in handles:
            handle.remove()
    return ", ".join(f"{name} {len(ran[name])}/{present[name]}" for name in sorted(present))


def build_training_model(method: str, settings: BenchmarkSettings, attention_dropout: float | None = None):
    """The model a training configuration trains: CLIP (every parameter) for full fine-tuning, else a registered
    family with its declared trainable set. `attention_dropout` replaces a family's attention-probability dropout
    (T2L's official default is each layer's drop-path rate; see the `attention` rows)."""
    if method == "full_ft":
        return build_clip(settings)
    if method not in families():
        raise ValueError(f"benchmarking: unknown training method {method!r}")
    if attention_dropout is None:
        return build_family(settings, method, head=True)
    return build_family(settings, method, head=True, attention_dropout=attention_dropout)


def training_loss(method: str, model, pixels, input_ids, attention_mask, labels) -> torch.Tensor:
    """One batch's loss: ViFi-CLIP's objective on CLIP for full fine-tuning, the family's own loss otherwise."""
    if method == "full_ft":
        return _vifi_clip_loss(model, pixels, input_ids, attention_mask, labels)
    return model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss


def saved_activation_mb(function: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, float]:
    """Run a forward and return (its output, MiB of the tensors autograd keeps for backward).

    Tensors saved inside a checkpointed layer are packed by the checkpoint's own hooks (innermost hooks win), so
    only what is really kept between forward and backward is counted. A tensor saved twice counts twice (an upper
    bound), the same way for every method.
    """
    saved = [0]

    def pack(tensor):
        saved[0] += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        output = function()
    return output, saved[0] / 2**20


def training_step_parts(settings: BenchmarkSettings, method: str, checkpointing: bool,
                        attention_dropout: float | None = None):
    """(model, trained parameters, forward returning the loss, AdamW step) of one training configuration: the one
    setup of the timed rows and of the training profile."""
    torch.manual_seed(0)
    device, batch_size = settings.device, settings.train_batch_size
    model = build_training_model(method, settings, attention_dropout)
    model.to(device, settings.torch_dtype).train()
    if checkpointing:
        enable_activation_checkpointing(model)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=1e-5, weight_decay=0.2)
    pixels = _random_pixels(settings, batch_size, seed=1)
    # Every video of its own class: the batch's classes are encoded, as the training collator does.
    input_ids, attention_mask = _random_text(settings, batch_size, seed=1)
    labels = torch.arange(batch_size, device=device)

    def forward():
        return training_loss(method, model, pixels, input_ids, attention_mask, labels)

    def optimizer_step():
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return model, parameters, forward, optimizer_step


def _train_probe(task: dict, baseline_rss_mb: float) -> dict:
    """The memory probe of one configuration: `train_warmup` steps (the first allocates AdamW's state; the saved
    activations and the recomputed layers are read there), then one more, so that the peak covers a step taken
    with the optimizer's state already in memory, as every later step is."""
    settings = _settings_from_task(task)
    settings.apply_threads()
    device = settings.device
    model, parameters, forward, optimizer_step = training_step_parts(
        settings, task["method"], task["checkpointing"], task.get("attention_dropout"))
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    saved_mb, recomputed = None, ""
    for _ in range(settings.train_warmup):
        loss, saved_mb = saved_activation_mb(forward)
        recomputed = recomputed_linears(model, loss.backward)
        optimizer_step()
    forward().backward()
    optimizer_step()
    done, total = checkpointed_layers(model)
    result = dict(params_trainable=sum(p.numel() for p in parameters), saved_activations_mb=saved_mb,
                  checkpointed_layers=done, encoder_layers=total, recomputed_linears=recomputed)
    if device.startswith("cuda"):
        result.update(peak_memory_mb=torch.cuda.max_memory_allocated() / 2**20, baseline_memory_mb=0.0,
                      memory_source="CUDA max_memory_allocated")
    else:
        result.update(peak_memory_mb=peak_rss_mb(), baseline_memory_mb=baseline_rss_mb,
                      memory_source="peak RSS (VmHWM) of a fresh process")
    return result


def _timed_step(forward: Callable[[], torch.Tensor], optimizer_step: Callable[[], None], phases: dict,
                timer: Callable[[], float], sync: Callable[[], None]) -> Callable[[], None]:
    """One training step that appends the time of each of its phases (forward, backward, AdamW) to `phases`."""

    def step():
        holder = {}
        phases["forward_s"].append(time_call(lambda: holder.update(loss=forward()), timer=timer, synchronize=sync))
        phases["backward_s"].append(time_call(lambda: holder.pop("loss").backward(), timer=timer, synchronize=sync))
        phases["optimizer_s"].append(time_call(optimizer_step, timer=timer, synchronize=sync))

    return step


def _timing_probe(task: dict) -> dict:
    """The step times of several configurations in this one process: each built as it is trained, then
    `train_warmup` untimed steps each and `train_steps` timed rounds, one step of every configuration per round in
    a rotating order (`measure_interleaved`), so that the i-th steps of two configurations were taken side by side.
    Returns per configuration name its step times and phase times, in round order."""
    settings = _settings_from_task(task)
    settings.apply_threads()
    sync, timer = synchronizer(settings.device), settings.timer()
    steps, phases = {}, {}
    for values in task["configurations"]:
        configuration = TrainingConfiguration(**values)
        _, _, forward, optimizer_step = training_step_parts(
            settings, configuration.method, configuration.checkpointing, configuration.attention_dropout)
        phases[configuration.name] = {"forward_s": [], "backward_s": [], "optimizer_s": []}
        steps[configuration.name] = _timed_step(forward, optimizer_step, phases[configuration.name], timer, sync)
    label = task.get("label", "training")
    timings = measure_interleaved(steps, warmup=settings.train_warmup, repeats=settings.train_steps,
                                  synchronize=sync, timer=timer,
                                  progress=lambda done, total: _report_progress(f"{label}: round {done}/{total}"))
    warm = settings.train_warmup  # the phases of the warm-up steps come first: not timed rounds
    return {name: dict(step_s=timings[name].samples, **{phase: values[warm:] for phase, values in phases[name].items()})
            for name in steps}


T2L_NO_ATTENTION_DROPOUT = "T2L, attention dropout off (fused SDPA kernel)"


@dataclasses.dataclass(frozen=True)
class TrainingConfiguration:
    name: str
    method: str  # a registered model_type, or "full_ft" (CLIP, every parameter)
    checkpointing: bool
    attention_dropout: float | None = None  # None: the family's own (T2L: the official per-layer rates)


def training_configurations() -> list[TrainingConfiguration]:
    """Every registered family and CLIP fully fine-tuned, without and with activation checkpointing; and T2L with
    its official attention-probability dropout switched off, which is what the `attention` rows compare it with
    (any dropout on the attention probabilities sends CPU SDPA to its unfused math kernel)."""
    methods = [(training_name(model_type), model_type, None) for model_type in families()]
    methods += [(FULL_FT_TRAIN, "full_ft", None)]
    if "t2l" in families():
        methods += [(T2L_NO_ATTENTION_DROPOUT, "t2l", 0.0)]
    return [TrainingConfiguration(name, method, checkpointing, dropout)
            for checkpointing in (False, True) for name, method, dropout in methods]


def run_training(settings: BenchmarkSettings, report_row: Callable = print,
                 progress: Callable[[str], None] | None = None) -> list[TrainingRow]:
    """Memory: each configuration in a fresh process. Time: the configurations of one checkpointing setting in one
    process, interleaved step by step (fresh processes disagree by more than the differences measured on a shared
    machine: their memory layout and the machine's load differ; steps side by side share both)."""
    progress = progress or (lambda message: None)
    task_settings = asdict(settings)
    configurations = training_configurations()
    memory: dict[TrainingConfiguration, dict] = {}
    for index, configuration in enumerate(configurations, 1):
        progress(f"training: memory, {index}/{len(configurations)} fresh processes")
        memory[configuration] = run_probe({
            "kind": "train", "method": configuration.method, "checkpointing": configuration.checkpointing,
            "attention_dropout": configuration.attention_dropout, "settings": task_settings})
    timing: dict[TrainingConfiguration, dict] = {}
    for checkpointing in (False, True):
        group = [c for c in configurations if c.checkpointing == checkpointing]
        label = f"training: time {'with' if checkpointing else 'without'} checkpointing"
        progress(f"{label}, {len(group)} configurations in one process")
        measured = run_probe({"kind": "train_timing", "label": label, "settings": task_settings,
                              "configurations": [asdict(c) for c in group]}, timeout=None, progress=progress)
        timing.update({c: measured[c.name] for c in group})
    rows = []
    for configuration in configurations:
        probe, times = memory[configuration], timing[configuration]
        step = Timing(times["step_s"])
        row = TrainingRow(
            method=configuration.name, checkpointing=configuration.checkpointing,
            batch_size=settings.train_batch_size, median_step_s=step.median, spread_s=step.spread,
            peak_memory_mb=probe["peak_memory_mb"], memory_source=probe["memory_source"],
            baseline_memory_mb=probe["baseline_memory_mb"], params_trainable=probe["params_trainable"],
            forward_s=statistics.median(times["forward_s"]), backward_s=statistics.median(times["backward_s"]),
            optimizer_s=statistics.median(times["optimizer_s"]),
            saved_activations_mb=probe["saved_activations_mb"],
            checkpointed_layers=f"{probe['checkpointed_layers']} / {probe['encoder_layers']}",
            recomputed_linears=probe["recomputed_linears"], step_samples_s=list(step.samples),
        )
        rows.append(row)
        report_row(row)
    return rows
