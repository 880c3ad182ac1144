"""Section 2, training step: each configuration in a fresh subprocess (the memory probe), every registered family
vs full fine-tuning of CLIP."""
from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from ..models.registry import families, get_family
from .models import _pooled, _random_pixels, _random_text, build_clip, build_family, clip_frame_average
from .rows import TrainingRow
from .settings import BenchmarkSettings
from .timing import Timing, synchronizer


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


def run_probe(task: dict, timeout: float = 1800) -> dict:
    """Run `task` in a fresh Python process (`python -m modeling_t2l.benchmarking probe <json>`); return its JSON.

    A fresh process is the only clean way to know the peak memory of one configuration on CPU: RSS peaks never go
    down within a process, and freed memory stays with the allocator.
    """
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[2])  # modeling_t2l/benchmarking/training.py
    env["PYTHONPATH"] = package_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    command = [sys.executable, "-m", "modeling_t2l.benchmarking", "probe", json.dumps(task)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-15:]
        raise RuntimeError(
            f"benchmarking probe {task.get('kind')!r} failed with exit code {completed.returncode}:\n" + "\n".join(tail)
        )
    for line in reversed(completed.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"benchmarking probe {task.get('kind')!r} printed no JSON result:\n{completed.stdout[-2000:]}")


def _probe_main(task: dict) -> dict:
    """Inside the fresh process: run one task and return what it measured."""
    baseline = peak_rss_mb()
    if task["kind"] == "idle":
        return {"peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline}
    if task["kind"] == "train":
        return _train_probe(task, baseline)
    raise ValueError(f"benchmarking probe: unknown task kind {task['kind']!r} (expected 'idle' or 'train')")


# ---------------------------------------------------------------------------------------------------------------
# 2. Training step (each configuration in its own process)
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
    """Non-reentrant activation checkpointing of every layer (what `TrainingArguments(gradient_checkpointing=True)`
    does)."""
    # transformers 5 renamed gradient_checkpointing_enable (deprecated) to activation_checkpointing_enable
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def _train_probe(task: dict, baseline_rss_mb: float) -> dict:
    settings = _settings_from_task(task)
    settings.apply_threads()
    torch.manual_seed(0)
    device, dtype = settings.device, settings.torch_dtype
    batch_size = settings.train_batch_size
    if task["method"] == "full_ft":
        model = build_clip(settings)
    elif task["method"] in families():
        model = build_family(settings, task["method"], head=True)
    else:
        raise ValueError(f"benchmarking: unknown training method {task['method']!r}")
    model.to(device, dtype).train()
    if task["checkpointing"]:
        enable_activation_checkpointing(model)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=1e-5, weight_decay=0.2)
    pixels = _random_pixels(settings, batch_size, seed=1)
    # Every video of its own class: the batch's classes are encoded, as the training collator does.
    input_ids, attention_mask = _random_text(settings, batch_size, seed=1)
    labels = torch.arange(batch_size, device=device)

    def step():
        if task["method"] == "full_ft":
            loss = _vifi_clip_loss(model, pixels, input_ids, attention_mask, labels)
        else:
            loss = model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    sync, timer = synchronizer(device), settings.timer()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    for _ in range(settings.train_warmup):
        step()  # the first step also allocates AdamW's state
    times = []
    for _ in range(settings.train_steps):
        sync()
        start = timer()
        step()
        sync()
        times.append(timer() - start)
    result = {"step_s": times, "params_trainable": sum(p.numel() for p in parameters)}
    if device.startswith("cuda"):
        result.update(peak_memory_mb=torch.cuda.max_memory_allocated() / 2**20, baseline_memory_mb=0.0,
                      memory_source="CUDA max_memory_allocated")
    else:
        result.update(peak_memory_mb=peak_rss_mb(), baseline_memory_mb=baseline_rss_mb,
                      memory_source="peak RSS (VmHWM) of a fresh process")
    return result


def training_configurations() -> list[tuple[str, str, bool]]:
    """(row name, method, checkpointing): every registered family, then CLIP fully fine-tuned."""
    methods = [(training_name(model_type), model_type) for model_type in families()] + [(FULL_FT_TRAIN, "full_ft")]
    return [(name, method, checkpointing) for checkpointing in (False, True) for name, method in methods]


def run_training(settings: BenchmarkSettings, report_row: Callable = print) -> list[TrainingRow]:
    task_settings = asdict(settings)
    results: dict[tuple[str, bool], list[dict]] = {}
    configurations = training_configurations()
    for round_index in range(settings.train_rounds):
        shift = round_index % len(configurations)
        for name, method, checkpointing in configurations[shift:] + configurations[:shift]:
            task = {"kind": "train", "method": method, "checkpointing": checkpointing, "settings": task_settings}
            results.setdefault((name, checkpointing), []).append(run_probe(task))
    rows = []
    for name, _, checkpointing in configurations:
        runs = results[(name, checkpointing)]
        timing = Timing([t for run in runs for t in run["step_s"]])
        row = TrainingRow(
            method=name, checkpointing=checkpointing, batch_size=settings.train_batch_size,
            median_step_s=timing.median, spread_s=timing.spread,
            peak_memory_mb=statistics.median(run["peak_memory_mb"] for run in runs),
            memory_source=runs[0]["memory_source"],
            baseline_memory_mb=statistics.median(run["baseline_memory_mb"] for run in runs),
            params_trainable=runs[0]["params_trainable"],
        )
        rows.append(row)
        report_row(row)
    return rows
