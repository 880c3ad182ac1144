"""The whole quickstart, steps 1-6, as one function (`t2l demo` and scripts/quickstart.py call it).

    from modeling_t2l.quickstart import DemoOptions, run_demo
    result = run_demo(DemoOptions(out="t2l_demo", seeds=3))
    result["summary"]["full"]["novel"]   # (mean, std) novel-class top-1 of full T2L
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from pathlib import Path

from tqdm.auto import tqdm

from .ablation import VARIANTS, VARIANTS_BY_KEY, TrainSettings, run_variant
from .options import DemoOptions
from ..pipelines.zero_shot_video_classification import add_pipeline_to_checkpoint
from .dataset import generate_dataset
from .environment import DEFAULT_THREADS, environment, reproducible_torch
from .report import markdown_table, summarise, write_report
from .tiny_clip import pretrain_tiny_clip, pretraining_summary

logger = logging.getLogger(__name__)


def _check(options: DemoOptions) -> None:
    unknown = [key for key in options.variants if key not in VARIANTS_BY_KEY]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; choose from {list(VARIANTS_BY_KEY)}")
    if "full" not in options.variants:
        raise ValueError("the variants must include 'full' (the model that step 5 saves and reloads)")
    if options.num_frames > options.frames:
        raise ValueError(f"--num-frames {options.num_frames} is more than the {options.frames} frames per video")
    if options.seeds < 1 or options.num_videos < 1 or options.test_videos < 1:
        raise ValueError("--seeds, --num-videos and --test-videos must be at least 1")


def save_demo_model(model, processor, directory) -> Path:
    """Step 5's folder: weights, processor, and the pipeline's code and task, so that
    `pipeline(model=directory, trust_remote_code=True)` works, also where this package is not installed."""
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    add_pipeline_to_checkpoint(directory)
    return Path(directory)


def classify_with_pipeline(model_dir: Path, video: Path, candidate_labels: list[str], top_k: int = 3) -> list[dict]:
    """Step 5: load the saved model with transformers' `pipeline` and classify one video file.

    The folder carries the pipeline's code (`custom_pipelines`), so this is the README's call: it runs the code
    saved next to the weights, as it would where this package is not installed.
    """
    from transformers import pipeline

    classifier = pipeline("zero-shot-video-classification", model=str(model_dir), trust_remote_code=True)
    # the model was adapted on bare class names, so score bare names (not the ActionCLIP templates)
    return classifier(str(video), candidate_labels=candidate_labels, hypothesis_template="{}", top_k=top_k)


def run_demo(options: DemoOptions) -> dict:
    _check(options)
    with reproducible_torch(options.threads):
        return _run_demo(options)


def _run_demo(options: DemoOptions) -> dict:
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    say = print if options.progress else logger.info

    say(f"[1/6] generating videos under {out / 'data'}")
    data = generate_dataset(
        out / "data", videos_per_class=options.num_videos, test_videos_per_class=options.test_videos,
        base_test_videos_per_class=max(1, options.test_videos // 2), num_frames=options.frames,
        image_size=options.image_size, progress=options.progress,
    )
    say(f"      {len(data.base_classes)} base classes (training), {len(data.novel_classes)} novel classes "
        f"(never trained on), e.g. {data.novel_classes[0].name!r}")

    say("[2/6] pre-training a tiny CLIP on still images (cached after the first run)")
    clip_dir = pretrain_tiny_clip(options.cache_dir and Path(options.cache_dir), image_size=options.image_size,
                                  steps=options.pretrain_steps, progress=options.progress)
    pretraining = pretraining_summary(clip_dir)
    say(f"      {clip_dir}: zero-shot on stills: colour+shape {100 * pretraining['appearance_accuracy']:.1f} % (12-way), "
        f"place {100 * pretraining['position_accuracy']:.1f} % (5-way)")

    settings = TrainSettings(num_frames=options.num_frames, image_size=options.image_size, epochs=options.epochs,
                             batch_size=options.batch_size, learning_rate=options.learning_rate,
                             official_recipe=options.official_recipe)
    say(f"[3-4/6] adapting on base classes and scoring novel classes: {len(options.variants)} variants x "
        f"{options.seeds} seed(s)")
    scores: dict[str, list[dict]] = {key: [] for key in options.variants}
    model_dir = out / "model"
    runs = [(seed, key) for seed in range(options.seeds) for key in options.variants]
    frame_cache: dict = {}  # every training video decoded once for all the runs (64 MB at the default size)
    for seed, key in tqdm(runs, desc="ablation", unit="run", disable=not options.progress):
        result, model, processor = run_variant(VARIANTS_BY_KEY[key], clip_dir, data, settings, seed,
                                               progress=options.progress, frame_cache=frame_cache)
        scores[key].append(result)
        say(f"      seed {seed} {VARIANTS_BY_KEY[key].label}: base {result['base_test']:.1f} %, "
            f"novel {result['novel']:.1f} %")
        if key == "full" and seed == 0:
            save_demo_model(model, processor, model_dir)

    say(f"[5/6] reloading {model_dir} with pipeline('zero-shot-video-classification')")
    video, truth = data.example_video()
    predictions = classify_with_pipeline(model_dir, video, [c.name for c in data.novel_classes])
    say(f"      {video} (truly {truth!r}):")
    for prediction in predictions:
        say(f"        {prediction['score']:.3f}  {prediction['label']}")

    summary = summarise(scores)
    chance = 100.0 / len(data.novel_classes)
    paths = write_report(summary, scores, out, command=options.command, settings=asdict(options), chance=chance,
                         environment=environment())
    # the results are printed in quiet mode too: --quiet drops the progress, not the answer
    print("[6/6] ablation (zero-shot top-1 %, novel = classes never seen in training):\n")
    print(markdown_table(summary))
    print(f"chance on novel classes: {chance:.1f} %; written {paths['markdown']}, {paths['chart']}, the model "
          f"(pipeline-ready) in {model_dir}; total {math.ceil(time.time() - started)} s")
    return {"summary": summary, "scores": scores, "predictions": predictions, "example": (str(video), truth),
            "paths": paths, "model_dir": model_dir, "clip_dir": clip_dir}
