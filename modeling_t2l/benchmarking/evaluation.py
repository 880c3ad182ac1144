"""Section 6, evaluation throughput: `evaluate_videos` end to end (decode + preprocess in DataLoader workers,
collate, forward, scores) against its parts measured alone, at `t2l evaluate`'s default batch size and workers.

If data loading is hidden behind the forward, the end-to-end time is about the forward alone (target <= 1.1x);
the data-alone row (the same DataLoader, no model) says how much headroom the workers have. All three are wall
clock: the workers are other processes, whose time a process clock would not see.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..evaluation.evaluate import _tokenizer_of, evaluate_videos, evaluation_loader, videos_dataset
from ..zero_shot.classifier import build_zero_shot_classifier
from .decoding import write_test_clip
from .models import build_family, family_processor
from .rows import EvaluationRow
from .settings import BenchmarkSettings
from .timing import measure_interleaved, synchronizer

# `t2l evaluate`'s defaults (modeling_t2l/commands/evaluate.py)
EVALUATE_BATCH_SIZE = 8
EVALUATE_WORKERS = 2


def run_evaluation(settings: BenchmarkSettings, workdir: Path, report_row: Callable = print) -> list[EvaluationRow]:
    num_videos = settings.eval_videos
    batch_size = min(settings.eval_batch_size, num_videos)
    paths = [write_test_clip(Path(workdir) / "evaluation" / f"video_{index:03d}.mp4", settings.decode_seconds,
                             settings.decode_fps, settings.decode_size, settings.keyframe_intervals[0], seed=index)
             for index in range(num_videos)]
    labels = [index % settings.eval_classes for index in range(num_videos)]
    class_texts = [f"a video of a person doing action {index}." for index in range(settings.eval_classes)]
    model = build_family(settings, "t2l", head=True).to(settings.device, settings.torch_dtype).eval()
    processor = family_processor(settings, "t2l", shortest_edge=settings.image_size * 256 // 224)
    classifier = build_zero_shot_classifier(model, _tokenizer_of(processor), class_texts)  # labels encoded once

    def end_to_end():
        evaluate_videos(model, processor, paths, labels, class_texts, batch_size=batch_size,
                        num_workers=settings.eval_workers, progress=False, classifier=classifier)

    dataset = videos_dataset(paths, labels)

    def loader():
        return evaluation_loader(processor, dataset, class_texts, batch_size=batch_size,
                                 num_workers=settings.eval_workers)

    def data_alone():
        for _ in loader():
            pass

    batches = [batch["pixel_values"].to(settings.device, settings.torch_dtype) for batch in loader()]

    def forward_alone():
        for pixel_values in batches:
            classifier(model, pixel_values)

    timings = measure_interleaved({"end to end": end_to_end, "data alone": data_alone, "forward alone": forward_alone},
                                  warmup=1, repeats=settings.eval_repeats, synchronize=synchronizer(settings.device))
    described = {
        "end to end": "evaluate_videos: decode + preprocess (workers) + forward + scores",
        "data alone": "the same DataLoader without the model (decode + preprocess + collate)",
        "forward alone": "the classifier's forward on the same batches, already in memory",
    }
    rows = []
    for name, timing in timings.items():
        row = EvaluationRow(described[name], num_videos, batch_size, settings.eval_workers, timing.median,
                            timing.spread, num_videos / timing.median)
        rows.append(row)
        report_row(row)
    return rows
