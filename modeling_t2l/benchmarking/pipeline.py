"""Section 5, pipeline: for every registered family, the first zero-shot pipeline call with 400 labels vs later
calls vs the video forward alone."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from ..modeling_utils import video_embeddings
from ..models.registry import families
from .decoding import write_test_clip
from .models import _random_pixels, build_family, family_processor
from .rows import PipelineRow
from .settings import BenchmarkSettings
from .timing import measure_interleaved, synchronizer, time_call


def _build_pipeline(settings: BenchmarkSettings, model, model_type: str):
    """`pipeline("zero-shot-video-classification")` around `model`, with the processor of its family."""
    from transformers import pipeline

    from ..pipelines import zero_shot_video_classification as zero_shot

    processor = family_processor(settings, model_type)
    zero_shot.register_pipeline()
    return pipeline(zero_shot.TASK, model=model, tokenizer=processor.tokenizer,
                    image_processor=processor.image_processor, device=settings.device)


def run_pipeline(settings: BenchmarkSettings, workdir: Path, report_row: Callable = print) -> list[PipelineRow]:
    """Per family: the first call (encodes every label), later calls, and the video forward alone.

    The labels are the first `num_classes` Kinetics-400 class names. Full mode scores them the pipeline's default
    way for the family (T2L: its bundled GPT description of each class, up to 77 tokens); quick mode passes one
    short template, so the first call encodes 400 short texts instead. A family whose text depends on the video
    (TC-CLIP) has no label cache: every call encodes the labels with the video.
    """
    from ..zero_shot.prompts import load_descriptions

    clip = write_test_clip(Path(workdir) / "pipeline_clip.mp4", 2.0, 30, settings.decode_size, 1.0)
    labels = list(load_descriptions("k400"))[: settings.num_classes]
    options = {"hypothesis_template": "a video of a person {}."} if settings.quick else {}
    texts = "one short template per label" if settings.quick else "the family's default class texts"
    sync, timer = synchronizer(settings.device), settings.timer()
    pixels = _random_pixels(settings, 1)
    rows = []
    for family in families().values():
        model = build_family(settings, family.model_type, head=True).to(settings.device, settings.torch_dtype).eval()
        pipe = _build_pipeline(settings, model, family.model_type)

        def call():
            return pipe(str(clip), candidate_labels=labels, **options)

        # what the pipeline runs for the video: the embeddings alone, unless the text needs the video's outputs
        video_entry = "get_video_features" if model.text_depends_on_video else "get_video_embeddings"

        def video_forward():
            with torch.inference_mode():
                if model.text_depends_on_video:
                    model.get_video_features(pixel_values=pixels)
                else:
                    video_embeddings(model, pixels)

        first = time_call(call, timer=timer, synchronize=sync)
        timings = measure_interleaved({"later": call, "video forward": video_forward}, warmup=1,
                                      repeats=settings.pipeline_calls, synchronize=sync, timer=timer)
        cached = not model.text_depends_on_video
        later = "later call (label embeddings cached)" if cached else "later call (labels encoded with the video)"
        family_rows = [
            PipelineRow(f"first call (encodes {len(labels)} labels, {texts})", len(labels), first, 0.0,
                        family.name, cached),
            PipelineRow(later, len(labels), timings["later"].median, timings["later"].spread, family.name, cached),
            PipelineRow(f"video forward alone ({video_entry}, 1 clip)", 0, timings["video forward"].median,
                        timings["video forward"].spread, family.name, cached),
        ]
        for row in family_rows:
            report_row(row)
        rows += family_rows
        del pipe, model
    return rows
