"""Section 1, inference: every registered family vs CLIP frame averaging vs X-CLIP; and the inference profiler."""
from __future__ import annotations

from typing import Callable

import torch

from ..models.registry import families
from ..modeling_utils import video_embeddings
from .official import build_official_pair, official_video_embeddings
from .models import _pooled, _random_pixels, build_clip, build_family, build_xclip, clip_frame_average, count_parameters
from .rows import InferenceRow
from .settings import BenchmarkSettings
from .timing import count_flops, measure_interleaved, synchronizer


# ---------------------------------------------------------------------------------------------------------------
# 1. Inference
# ---------------------------------------------------------------------------------------------------------------

CLIP_NAME = "CLIP frame averaging"
XCLIP_NAME = "X-CLIP video features"


def family_name(name: str, num_frames: int | None = None) -> str:
    """The inference row of a family: "<Family> get_video_embeddings" (the contract's `video_embeddings`: what
    the pipeline and evaluation call), with its frames when not the settings'."""
    return f"{name} get_video_embeddings" + (f" ({num_frames} frames)" if num_frames else "")


T2L_NAME = family_name("T2L")
OFFICIAL_NAME = "official T2L code (encode_image, frame mean)"


def inference_models(settings: BenchmarkSettings, notes: list[str] | None = None,
                     ) -> dict[str, tuple[torch.nn.Module, Callable, tuple[int, int]]]:
    """name -> (model, forward(pixel_values), (params total, params trainable as that method trains)).

    Every registered family at the settings' frames, and, when its released checkpoints use another number
    (TC-CLIP: 16), at those frames too (its forward then takes the first clip's frames repeated to that length).
    """
    models = {}
    for family in families().values():
        if not settings.wants(family.model_type):
            continue
        model = build_family(settings, family.model_type)
        forward = (lambda model: lambda x: video_embeddings(model, x))(model)
        models[family_name(family.name)] = (model, forward, count_parameters(model))
        native = family.processor_defaults.get("num_frames")
        if native and native != settings.num_frames:
            model = build_family(settings, family.model_type, num_frames=native)
            forward = (lambda model, native: lambda x: video_embeddings(model, _with_frames(x, native)))(model, native)
            models[family_name(family.name, native)] = (model, forward, count_parameters(model))
    if settings.official_t2l and settings.wants("official"):
        # the T2L row then runs the weights converted from the official model, so both compute the same function
        official, ours, difference = build_official_pair(settings)
        official_counts = count_parameters(official, lambda name, p: "prompt" in name or "Adapter" in name)
        models[T2L_NAME] = (ours.apply_trainable_set(),
                            (lambda model: lambda x: video_embeddings(model, x))(ours), count_parameters(ours))
        models[OFFICIAL_NAME] = (official, lambda x: official_video_embeddings(official, x), official_counts)
        (notes if notes is not None else []).append(f"official T2L code vs this library on the same (converted) weights: largest relative "
                              f"difference of the video embeddings {difference:.1e}")
    if settings.wants("clip"):
        clip = build_clip(settings)
        # ViFi-CLIP trains every CLIP parameter.
        models[CLIP_NAME] = (clip, lambda x: clip_frame_average(clip, x), count_parameters(clip))
    if settings.wants("xclip"):
        xclip = build_xclip(settings)
        # X-CLIP keeps its text encoder frozen (FIX_TEXT) and trains everything else.
        xclip_counts = count_parameters(xclip, lambda name, p: not name.startswith(("text_model.", "text_projection")))
        models[XCLIP_NAME] = (xclip, lambda x: _pooled(xclip.get_video_features(pixel_values=x)), xclip_counts)
    for model, _, _ in models.values():
        model.to(settings.device, settings.torch_dtype).eval()
    return models


def _with_frames(pixel_values: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B, T, ...) -> (B, num_frames, ...), repeating frames in order: the cost of a longer clip, same content."""
    index = torch.arange(num_frames, device=pixel_values.device) % pixel_values.shape[1]
    return pixel_values[:, index]


def run_inference(settings: BenchmarkSettings, models=None, report_row: Callable = print) -> list[InferenceRow]:
    models = models or inference_models(settings)
    sync = synchronizer(settings.device)
    rows = []
    flops_per_video: dict[str, float] = {}
    with torch.inference_mode():
        for batch_size in settings.batch_sizes:
            pixels = _random_pixels(settings, batch_size)
            functions = {name: (lambda fn=fn: fn(pixels)) for name, (_, fn, _) in models.items()}
            already_warm = []
            if not flops_per_video:  # the FLOP-counting call doubles as the first batch size's warm-up
                for name, function in functions.items():
                    flops_per_video[name] = count_flops(function, inference_of=models[name][0]) / batch_size
                already_warm = list(functions)
            timings = measure_interleaved(functions, warmup=settings.warmup, repeats=settings.repeats,
                                          synchronize=sync, skip_warmup=already_warm, timer=settings.timer())
            for name, (_, _, (total, trainable)) in models.items():
                timing = timings[name]
                row = InferenceRow(name, batch_size, timing.median, timing.spread, batch_size / timing.median,
                                   total, trainable, flops_per_video[name] / 1e9, samples_s=list(timing.samples))
                rows.append(row)
                report_row(row)
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Profiling (where the time goes when a target is missed)
# ---------------------------------------------------------------------------------------------------------------


def profile_inference(settings: BenchmarkSettings, models=None, row_limit: int = 25) -> str:
    """torch.profiler tables (self CPU/CUDA time per operator) of one batch-1 forward of each inference model."""
    from torch.profiler import ProfilerActivity, profile

    models = models or inference_models(settings)
    pixels = _random_pixels(settings, 1)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if settings.device.startswith("cuda") else [])
    sort_key = "self_cuda_time_total" if settings.device.startswith("cuda") else "self_cpu_time_total"
    sections = []
    with torch.inference_mode():
        for name, (_, function, _) in models.items():
            function(pixels)  # warm-up outside the profile
            with profile(activities=activities) as profiler:
                function(pixels)
            sections.append(f"== {name}, batch 1 ==\n"
                            + profiler.key_averages().table(sort_by=sort_key, row_limit=row_limit))
    return "\n\n".join(sections)
