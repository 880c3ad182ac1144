"""Section 5, pipeline: the first zero-shot pipeline call vs cached calls vs the video forward alone."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from .decoding import write_test_clip
from .models import _random_pixels, build_t2l
from .rows import PipelineRow
from .settings import BenchmarkSettings
from .timing import measure_interleaved, synchronizer


# ---------------------------------------------------------------------------------------------------------------
# 5. Pipeline
# ---------------------------------------------------------------------------------------------------------------


def _build_pipeline(settings: BenchmarkSettings, model):
    """`pipeline("zero-shot-video-classification")` around `model`, with the bundled tokenizer and T2L's processor."""
    from ..pipelines import zero_shot_video_classification as zero_shot
    from ..processing.processing_t2l import T2LProcessor

    processor = T2LProcessor.from_clip_tokenizer(num_frames=settings.num_frames, crop_size=settings.image_size,
                                                 shortest_edge=settings.image_size)
    components = dict(model=model, tokenizer=processor.tokenizer, image_processor=processor.image_processor,
                      device=settings.device)
    if hasattr(zero_shot, "register_pipeline"):
        from transformers import pipeline

        zero_shot.register_pipeline()
        return pipeline(zero_shot.TASK, **components)
    return zero_shot.ZeroShotVideoClassificationPipeline(**components)


def run_pipeline(settings: BenchmarkSettings, workdir: Path, report_row: Callable = print) -> list[PipelineRow]:
    """First call (encodes every label) vs later calls (label embeddings cached) vs the video forward alone.

    The labels are the first `num_classes` Kinetics-400 class names. Full mode scores them the pipeline's default
    way (T2L's bundled GPT description of each class, up to 77 tokens); quick mode passes one short template,
    so the first call encodes 400 short texts instead.
    """
    from ..zero_shot.prompts import load_descriptions

    model = build_t2l(settings, head=True).to(settings.device, settings.torch_dtype).eval()
    pipe = _build_pipeline(settings, model)
    clip = write_test_clip(Path(workdir) / "pipeline_clip.mp4", 2.0, 30, settings.decode_size, 1.0)
    labels = list(load_descriptions("k400"))[: settings.num_classes]
    options = {"hypothesis_template": "a video of a person {}."} if settings.quick else {}
    sync = synchronizer(settings.device)

    def call():
        return pipe(str(clip), candidate_labels=labels, **options)

    timer = settings.timer()
    sync()
    start = timer()
    call()
    sync()
    first = timer() - start

    pixels = _random_pixels(settings, 1)

    def video_forward():
        with torch.inference_mode():
            model.get_video_features(pixels)

    timings = measure_interleaved({"cached": call, "video forward": video_forward}, warmup=1,
                                  repeats=settings.pipeline_calls, synchronize=sync, timer=timer)
    texts = "one short template per label" if settings.quick else "default class texts"
    rows = [
        PipelineRow(f"first call (encodes {len(labels)} labels, {texts})", len(labels), first, 0.0),
        PipelineRow("later call (label embeddings cached)", len(labels), timings["cached"].median,
                    timings["cached"].spread),
        PipelineRow("video forward alone (get_video_features, 1 clip)", 0, timings["video forward"].median,
                    timings["video forward"].spread),
    ]
    for row in rows:
        report_row(row)
    return rows
