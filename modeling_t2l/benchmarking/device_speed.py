"""Device check, speed: inference videos/s per family in autocast (eager and torch.compile), and the training step
(time and peak memory) of T2L and of full fine-tuning, with and without activation checkpointing."""
from __future__ import annotations

import gc
import time

import torch

from .device_correctness import autocast
from .families import Family, primary_family
from .models import _random_pixels, _random_text
from .settings import BenchmarkSettings
from .timing import Timing, measure_interleaved, synchronizer, time_call
from .training import (FULL_FT_TRAIN, T2L_TRAIN, build_training_model, enable_activation_checkpointing,
                       training_loss)

GIB = 2**30


def free_device_memory(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


# ---------------------------------------------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------------------------------------------


def build_inference_models(families: list[Family], settings: BenchmarkSettings) -> dict[str, torch.nn.Module]:
    """fp32 weights on the device (autocast computes in bf16), eval mode; one model per family."""
    models = {}
    for family in families:
        torch.manual_seed(0)
        models[family.name] = family.build(settings).to(settings.device).eval()
    return models


def run_inference_speed(families: list[Family], models: dict, settings: BenchmarkSettings, batch_sizes,
                        dtype: torch.dtype, *, warmup: int, repeats: int, compiled: bool = False,
                        compile_backend: str = "inductor", first_compile_estimate_s: float = 0.0, budget=None,
                        notes: list | None = None) -> list[dict]:
    """videos/s of every family's video embedding at each batch size, timed interleaved across the families.

    With `compiled`, each family's video embedding is `torch.compile`d once, with the batch dimension marked
    dynamic, so batch sizes above 1 share one graph (batch 1 is specialised by torch and compiles again); the
    larger batch sizes run first. The first call at each batch size is reported as `compile_s` (compile time when
    it compiled). Before a first call, the time budget left must cover 1.5 times the slowest compile so far
    (`first_compile_estimate_s` before any).
    """
    sync = synchronizer(settings.device)
    notes = notes if notes is not None else []
    precision = f"{str(dtype).removeprefix('torch.')} autocast"
    by_name = {family.name: family for family in families}
    forwards = {name: (lambda x, model=model, family=by_name[name]: family.video(model, x))
                for name, model in models.items()}
    if compiled:
        import torch._dynamo as dynamo

        # every family's graphs stay cached (the default limit could send a later batch size back to eager)
        dynamo.config.cache_size_limit = max(dynamo.config.cache_size_limit, 64)
        forwards = {name: torch.compile(forward, backend=compile_backend) for name, forward in forwards.items()}
        batch_sizes = sorted(batch_sizes, reverse=True)

    def call(forward, pixels):
        with torch.inference_mode(), autocast(settings.device, dtype):
            return forward(pixels)

    slowest_compile, rows_compiled = first_compile_estimate_s, []
    rows = []
    for batch_size in batch_sizes:
        pixels = _random_pixels(settings, batch_size).float()
        if compiled and batch_size > 1:
            dynamo.mark_dynamic(pixels, 0)
        functions, first_call = {}, {}
        for name, forward in forwards.items():
            if compiled:
                if budget is not None and budget.left() < 1.5 * slowest_compile + 10:
                    notes.append(f"{name}, batch {batch_size}: not compiled, {budget.left():.0f} s of the time "
                                 f"budget left and a compile takes about {slowest_compile:.0f} s")
                    continue
                try:
                    first_call[name] = time_call(lambda: call(forward, pixels), synchronize=sync)
                except Exception as error:  # noqa: BLE001 - a family that fails to compile is reported
                    message = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
                    notes.append(f"{name}, batch {batch_size}: torch.compile failed ({type(error).__name__}: {message})")
                    continue
                if first_call[name] > slowest_compile or not rows_compiled:
                    slowest_compile = first_call[name]  # the first measured compile replaces the estimate
                rows_compiled.append(name)
            functions[name] = lambda forward=forward: call(forward, pixels)
        if not functions:
            continue
        if budget is not None and budget.exhausted():
            notes.append(f"batch {batch_size}: not timed, time budget spent")
            break
        try:
            timings = measure_interleaved(functions, warmup=warmup, repeats=repeats, synchronize=sync)
        except Exception as error:  # noqa: BLE001
            if not _is_out_of_memory(error):
                raise
            notes.append(f"batch {batch_size}: out of device memory")
            timings = None
        if timings is None:
            free_device_memory(settings.device)
            continue
        for name, timing in timings.items():
            rows.append(dict(family=name, batch_size=batch_size, compiled=compiled,
                             compile_backend=compile_backend if compiled else "-", precision=precision,
                             median_ms=timing.median * 1000, spread_ms=timing.spread * 1000,
                             videos_per_s=batch_size / timing.median, compile_s=first_call.get(name)))
        del pixels, functions
        free_device_memory(settings.device)
    return rows


def inference_ratios(rows: list[dict], families: list[Family]) -> list[dict]:
    """T2L time / CLIP frame averaging time at each batch size, eager and compiled (T2L's target: <= 1.08)."""
    from .families import CLIP_FRAME_AVERAGING

    t2l = primary_family(families)
    if t2l is None:
        return []
    by_key = {(r["family"], r["batch_size"], r["compiled"]): r for r in rows}
    ratios = []
    for (family, batch_size, compiled), row in sorted(by_key.items(), key=lambda item: (item[0][2], item[0][1])):
        if family != t2l.name:
            continue
        clip = by_key.get((CLIP_FRAME_AVERAGING, batch_size, compiled))
        if clip is None:
            continue
        value = row["median_ms"] / clip["median_ms"]
        ratios.append(dict(name=f"inference time {t2l.name} / {CLIP_FRAME_AVERAGING}, batch {batch_size}"
                                f"{', compiled' if compiled else ''}", value=value, target="<= 1.08",
                           passed=bool(value <= 1.08)))
    return ratios


# ---------------------------------------------------------------------------------------------------------------
# Training step
# ---------------------------------------------------------------------------------------------------------------


def measure_training_step(method: str, checkpointing: bool, families: list[Family], settings: BenchmarkSettings,
                          dtype: torch.dtype, *, warmup: int, steps: int) -> dict:
    """One configuration in this process: fp32 weights and AdamW, forward in `dtype` autocast (what
    `TrainingArguments(bf16=True)` does). On CUDA the peak is `max_memory_allocated` above what was allocated
    before the model was built (the allocator's statistics are exact per configuration once the previous one is
    freed); on CPU no per-configuration peak exists in one process and memory is not reported."""
    device = settings.device
    cuda = device.startswith("cuda")
    free_device_memory(device)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
    torch.manual_seed(0)
    if method == "t2l" and primary_family(families) is None:
        raise RuntimeError("no T2L family registered")
    model = build_training_model(method, settings).to(device).train()
    if checkpointing:
        enable_activation_checkpointing(model)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=1e-5, weight_decay=0.2)
    batch_size = settings.train_batch_size
    pixels = _random_pixels(settings, batch_size, seed=1).float()
    input_ids, attention_mask = _random_text(settings, batch_size, seed=1)
    labels = torch.arange(batch_size, device=device)

    def step():
        with autocast(device, dtype):
            loss = training_loss(method, model, pixels, input_ids, attention_mask, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    sync = synchronizer(device)
    try:
        for _ in range(warmup):
            step()  # the first step also allocates AdamW's state
        samples = [time_call(step, synchronize=sync) for _ in range(steps)]
        peak_allocated = (torch.cuda.max_memory_allocated() - baseline) / GIB if cuda else None
        peak_reserved = torch.cuda.max_memory_reserved() / GIB if cuda else None
        trainable = sum(p.numel() for p in parameters)
    finally:
        del model, optimizer, parameters, pixels
        free_device_memory(device)
    timing = Timing(samples)
    return dict(median_step_s=timing.median, spread_s=timing.spread, videos_per_s=batch_size / timing.median,
                peak_allocated_gib=peak_allocated, peak_reserved_gib=peak_reserved, params_trainable=trainable)


def run_training_speed(families: list[Family], settings: BenchmarkSettings, dtype: torch.dtype, *, warmup: int,
                       steps: int, fits_gib: float, budget=None, notes: list | None = None) -> list[dict]:
    """T2L and full fine-tuning (ViFi-CLIP), without then with activation checkpointing."""
    notes = notes if notes is not None else []
    precision = f"{str(dtype).removeprefix('torch.')} autocast"
    rows = []
    slowest = 0.0  # seconds of the slowest configuration so far: the next one must fit in what is left
    for checkpointing in (False, True):
        for label, method in ((T2L_TRAIN, "t2l"), (FULL_FT_TRAIN, "full_ft")):
            if budget is not None and budget.left() < slowest:
                notes.append(f"{label}, checkpointing {checkpointing}: skipped, {max(budget.left(), 0):.0f} s of "
                             f"the time budget left and a configuration took up to {slowest:.0f} s")
                continue
            start = time.monotonic()
            row = dict(method=label, checkpointing=checkpointing, batch_size=settings.train_batch_size,
                       frames=settings.num_frames, image_size=settings.image_size, precision=precision,
                       status="ok", median_step_s=None, spread_s=None, videos_per_s=None, peak_allocated_gib=None,
                       peak_reserved_gib=None, fits=None, params_trainable=None)
            try:
                row.update(measure_training_step(method, checkpointing, families, settings, dtype, warmup=warmup,
                                                 steps=steps))
            except Exception as error:  # noqa: BLE001 - an out-of-memory configuration is a result, not a crash
                if not _is_out_of_memory(error):
                    raise
                row.update(status="out of memory", fits=False)
            free_device_memory(settings.device)  # after the except block: the traceback no longer holds tensors
            slowest = max(slowest, time.monotonic() - start)
            if row["peak_reserved_gib"] is not None:
                # an 80 GB card exposes about 79.2 GiB to the allocator once the CUDA context is up; the reserved
                # peak (what the allocator holds, including its cache) is the conservative measure
                row["fits"] = bool(row["peak_reserved_gib"] <= fits_gib)
            rows.append(row)
    return rows
