"""Evaluate any family as the papers do: closed-set zero-shot scoring of videos against class texts.

Building blocks, from small to large (each usable on its own):

* `zero_shot.classifier.build_zero_shot_classifier(model, tokenize, class_texts)`: the class texts encoded once
  per vocabulary and reused for every batch (the same classifier the pipeline uses);
* `evaluate_dataset(model, processor, dataset, class_texts)` -> `SplitResult` for any `datasets.Dataset` with
  `video` / `label` columns (what `build_video_dataset` returns): no protocol needed, e.g. a synthetic
  (dataset, class_texts) pair;
* `evaluate_videos(model, processor, paths, labels, class_texts)`: the same for a plain list of video files;
* `evaluate_protocol(model, processor, protocol, data_root)`: every scored split (or, for base-to-novel, the base
  and novel halves), then `aggregate` into the paper-table numbers; `write_reports` writes JSON, Markdown and one
  confusion-matrix PNG per split.

Scoring is the official test code's (t2l_reference §6.5): p = mean over templates (and views) of
softmax(scale * cos(video, text)), scale = the model's `zero_shot_logit_scale` (T2L: 100); top-1/top-5 through the `evaluate` metric shipped in `modeling_t2l/metrics`.
Unlike the official loaders, no partial batch is dropped. Videos that cannot be decoded are skipped, logged and
counted by the data layer (`VideoCollator.skipped`); accuracies are over the decoded videos and the count is in
every result.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import datasets
import numpy as np
import torch
from tqdm.auto import tqdm

from ..data import VideoCollator, get_protocol, harmonic_mean, make_transform, mean_std
from ..metrics import load_topk_accuracy
from ..plotting import confusion_matrix_png
from ..zero_shot.classifier import ZeroShotClassifier, build_zero_shot_classifier, template_groups
from ..zero_shot.prompts import model_class_texts


@dataclass
class SplitResult:
    """Accuracies of one split, in percent (the papers' unit)."""

    name: str
    top1: float
    top5: float
    num_videos: int  # scored (decoded) videos
    num_classes: int
    skipped_videos: int = 0
    skipped_examples: list = field(default_factory=list)
    confusion: list | None = None  # rows: true class, columns: predicted class
    class_names: list | None = None
    views: str = "1x1"  # clips x crops per video
    clip_sampling: str = "uniform"
    seed: int | None = None  # the clip draw's seed, with clip_sampling="random"
    text_mode: str | None = None  # what the class texts were: "descriptions", "templates", "model" (its own prompts)

    def summary(self) -> dict:
        """Everything but the confusion matrix, for tables and logs."""
        data = asdict(self)
        data.pop("confusion")
        data.pop("class_names")
        return data


def _tokenizer_of(processor):
    """The processor's text side as the classifier's `tokenize` callable."""
    return lambda texts: processor(text=texts, return_tensors="pt")


# ------------------------------------------------------------------------------------------------- datasets
def evaluation_loader(processor, dataset, class_texts, *, batch_size: int = 8, num_workers: int = 0,
                      num_clips: int = 1, num_crops: int = 1, clip_sampling: str = "uniform",
                      seed: int = 0) -> torch.utils.data.DataLoader:
    """The DataLoader `evaluate_dataset` reads: the eval transform with its views, the collator (which counts the
    videos it skips, `loader.collate_fn.skipped`), in order, no batch dropped."""
    image_processor = getattr(processor, "image_processor", processor)
    dataset = dataset.with_transform(make_transform(image_processor, train=False, num_clips=num_clips, num_crops=num_crops,
                                                    clip_sampling=clip_sampling, seed=seed))
    collator = VideoCollator(processor, template_groups(class_texts), train=False)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=False, drop_last=False, num_workers=num_workers, collate_fn=collator
    )


def videos_dataset(videos: Sequence, labels: Sequence[int]) -> datasets.Dataset:
    """A dataset of video files (paths) and their class ids, in the layout `evaluate_dataset` reads."""
    if len(videos) != len(labels):
        raise ValueError(f"{len(videos)} videos but {len(labels)} labels")
    return datasets.Dataset.from_dict(
        {"video": [{"path": str(path), "bytes": None} for path in videos], "label": [int(label) for label in labels]},
        features=datasets.Features({"video": datasets.Video(decode=False), "label": datasets.Value("int64")}),
    )


def evaluate_dataset(
    model,
    processor,
    dataset,
    class_texts,
    *,
    name: str = "eval",
    class_names: Sequence[str] | None = None,
    batch_size: int = 8,
    num_workers: int = 0,
    num_clips: int = 1,
    num_crops: int = 1,
    clip_sampling: str = "uniform",
    seed: int = 0,
    scale: float | None = None,
    progress: bool = True,
    classifier: ZeroShotClassifier | None = None,
) -> SplitResult:
    """Evaluate `model` on a dataset with columns `video` (`Video(decode=False)`) and `label` (class ids).

    Decoding uses the data layer's eval transform (segment-centre frames, resize 256/224 + centre crop) with
    `num_clips` x `num_crops` views; no batch is dropped. `clip_sampling="random"` draws each clip as a random
    TSN sample instead, seeded by `seed` and the video (the TC-CLIP / ViFi-CLIP multi-view test: 2 random clips x
    1 crop), so a run is repeatable and the seed is reported. Scores come from the shared zero-shot classifier;
    `classifier` (from `build_zero_shot_classifier`) skips re-encoding a vocabulary already encoded.
    """
    groups = template_groups(class_texts)
    num_classes = len(groups[0])
    if class_names is None and hasattr(dataset, "features") and hasattr(dataset.features.get("label"), "names"):
        class_names = dataset.features["label"].names
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"split {name!r}: {len(class_names)} class names but {num_classes} class texts")
    was_training = model.training
    model.eval()
    if classifier is None:
        classifier = build_zero_shot_classifier(model, _tokenizer_of(processor), groups, scale=scale)
    loader = evaluation_loader(processor, dataset, groups, batch_size=batch_size, num_workers=num_workers,
                               num_clips=num_clips, num_crops=num_crops, clip_sampling=clip_sampling, seed=seed)
    collator = loader.collate_fn
    metric = load_topk_accuracy()
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    scored = 0
    # One iterator, made here: tqdm.auto's bar calls iter() on what it wraps in __init__ and again when looped
    # over, and each DataLoader iterator starts its own workers, which decode (and count as skipped) batches.
    batches = iter(loader)
    for batch in tqdm(batches, total=len(loader), desc=f"evaluate {name}", disable=not progress, unit="batch"):
        labels = batch["labels"]
        if labels.numel() == 0:
            continue
        probabilities = classifier(model, batch["pixel_values"]).cpu()
        metric.add_batch(predictions=probabilities.numpy(), references=labels.numpy())
        np.add.at(confusion, (labels.numpy(), probabilities.argmax(dim=-1).numpy()), 1)
        scored += labels.numel()
    model.train(was_training)
    skipped = collator.skipped.as_dict()
    if scored == 0:
        raise RuntimeError(f"split {name!r}: none of the {len(dataset)} videos could be decoded "
                           f"(first: {skipped['skipped_examples'][:3]})")
    accuracy = metric.compute()
    return SplitResult(
        name=name,
        top1=100.0 * accuracy["top1"],
        top5=100.0 * accuracy["top5"],
        num_videos=scored,
        num_classes=num_classes,
        skipped_videos=skipped["skipped_videos"],
        skipped_examples=skipped["skipped_examples"],
        confusion=confusion.tolist(),
        class_names=list(class_names) if class_names is not None else [str(i) for i in range(num_classes)],
        views=f"{num_clips}x{num_crops}",
        clip_sampling=clip_sampling,
        seed=int(seed) if clip_sampling == "random" else None,
        text_mode=getattr(class_texts, "mode", None),
    )


def evaluate_videos(model, processor, videos: Sequence, labels: Sequence[int], class_texts, *,
                    class_names: Sequence[str] | None = None, **kwargs) -> SplitResult:
    """`evaluate_dataset` for a plain list of video files (paths) and their class ids."""
    return evaluate_dataset(model, processor, videos_dataset(videos, labels), class_texts, class_names=class_names,
                            **kwargs)


# ------------------------------------------------------------------------------------------------ protocols
def split_class_texts(model, protocol, split: str, templates=None):
    """The texts a split's classes are scored with: the protocol's (`text_mode`), unless the model's family has its
    own prompt form (`model.class_prompts`), which then wraps the protocol's class names (with
    text_mode="llm_labels", the user's LLM names: TC-CLIP's "(LLM)" rows), or, in templates mode, the family's own
    test templates (`model.zero_shot_templates`). Explicit `templates` always win."""
    if templates is None:
        names = protocol.class_names(split)
        # the LLM names replace the class names inside the family's prompts
        words = protocol.class_texts(split).texts[0] if protocol.text_mode == "llm_labels" else names
        own = model_class_texts(model, words)
        if own is not None:
            return type(own)(texts=own.texts, mode="model", class_names=tuple(names))
        if protocol.text_mode == "templates":
            # in templates mode, a family's own test prompt (ViFi-CLIP's "a photo of a {}.") instead of the 16
            # ActionCLIP templates; families without one (T2L) keep the protocol's default
            templates = getattr(model, "zero_shot_templates", None)
    return protocol.class_texts(split, templates=templates) if templates else protocol.class_texts(split)


def evaluate_split(model, processor, protocol, split: str, data_root, *, missing: str = "error", **kwargs) -> SplitResult:
    """One split of a registered protocol: its list, its own vocabulary and class texts (`split_class_texts`), the
    protocol's views and clip sampling."""
    dataset = protocol.build_dataset(split, video_root=data_root, missing=missing)
    kwargs.setdefault("num_clips", protocol.num_clips)
    kwargs.setdefault("num_crops", protocol.num_crops)
    kwargs.setdefault("clip_sampling", protocol.clip_sampling)
    kwargs.setdefault("seed", protocol.clip_seed)
    return evaluate_dataset(model, processor, dataset, split_class_texts(model, protocol, split), name=split,
                            class_names=protocol.class_names(split), **kwargs)


def evaluate_protocol(model, processor, protocol, data_root, *, splits: Sequence[str] | None = None, **kwargs) -> dict:
    """Evaluate every scored split of `protocol` and aggregate.

    `model` is one model, or for base-to-novel a mapping {seed split name: model} (e.g. `{"train_seed1": m1, ...}`)
    to get the protocol's 3-seed aggregate. Returns `{"protocol": ..., "splits": {name: SplitResult}, "aggregate":
    ...}`; with several models the split keys are `<seed>/<split>`.
    """
    if isinstance(protocol, str):
        protocol = get_protocol(protocol)
    if processor is not None and hasattr(processor, "check_num_frames"):
        processor.check_num_frames(next(iter(model.values())) if isinstance(model, Mapping) else model)
    # default: the scored splits; a custom protocol (only unscored eval splits) runs all of them
    names = list(splits) if splits is not None else list(protocol.scored_splits or protocol.eval_splits)
    unknown = [n for n in names if n not in protocol.eval_splits]
    if unknown:
        raise KeyError(f"protocol {protocol.name!r} has no eval split(s) {unknown}; eval splits: {list(protocol.eval_splits)}")
    models = dict(model) if isinstance(model, Mapping) else {None: model}
    results: dict[str, SplitResult] = {}
    for seed, seed_model in models.items():
        for split in names:
            result = evaluate_split(seed_model, processor, protocol, split, data_root, **kwargs)
            key = split if seed is None else f"{seed}/{split}"
            result.name = key
            results[key] = result
    described = protocol.describe()
    modes = {result.text_mode for result in results.values()}
    if modes == {"model"}:  # the family's own prompts (e.g. TC-CLIP's), around the protocol's class names
        described["text_mode"] = f"model prompts ({protocol.text_mode} names)" if protocol.text_mode == "llm_labels" \
            else "model prompts"
    return {"protocol": described, "splits": results, "aggregate": aggregate(protocol, results)}


def aggregate(protocol, results: Mapping[str, SplitResult | float]) -> dict:
    """Paper-table numbers from split results (`SplitResult` or top-1 floats, keys as `evaluate_protocol` makes).

    mean ± population std over splits; for base-to-novel the seed-averaged base and novel accuracies and the
    harmonic mean of those averages (with one model: its own base, novel and HM, flagged `single_seed`).
    """
    top1 = {key: (value.top1 if isinstance(value, SplitResult) else float(value)) for key, value in results.items()}
    if protocol.aggregation == "harmonic_mean_of_means":
        if "base" in top1 and "novel" in top1:  # one model, not the 3-seed protocol
            return {"base": top1["base"], "novel": top1["novel"], "hm": harmonic_mean(top1["base"], top1["novel"]),
                    "single_seed": True}
        per_seed: dict[str, dict] = {}
        for key, value in top1.items():
            seed, _, half = key.partition("/")
            per_seed.setdefault(seed, {})[half] = value
        return protocol.aggregate(per_seed)
    scored = {key: value for key, value in top1.items() if key in protocol.scored_splits}
    if protocol.scored_splits and set(scored) == set(protocol.scored_splits):
        return protocol.aggregate(scored)
    # a subset of splits was asked for: summarise what was run
    mean, std = mean_std(list(top1.values()))
    return {"mean": mean, "std": std, "num_splits": len(top1), "per_split": top1, "partial": True}


# -------------------------------------------------------------------------------------------------- reports
def _format(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def markdown_table(results: dict) -> str:
    """Per-split rows and the aggregate line, as a Markdown table."""
    described = results["protocol"]
    sampling = (f", random clips, seed {described['clip_seed']}" if described.get("clip_sampling") == "random"
                else "")
    lines = [f"Protocol `{described['protocol']}` ({described['views']} views{sampling}, "
             f"{described['num_frames']} frames, text: {described['text_mode']})", "",
             "| split | videos | skipped | classes | top-1 | top-5 |", "|---|---:|---:|---:|---:|---:|"]
    for result in results["splits"].values():
        lines.append(f"| {result.name} | {result.num_videos} | {result.skipped_videos} | {result.num_classes} | "
                     f"{result.top1:.2f} | {result.top5:.2f} |")
    summary = results["aggregate"]
    lines.append("")
    if "hm" in summary:
        lines.append(f"**Base {summary['base']:.2f} / Novel {summary['novel']:.2f} / HM {summary['hm']:.2f}**"
                     + (" (one seed)" if summary.get("single_seed") else f" (mean over {summary.get('num_seeds')} seeds)"))
    elif "mean" in summary:
        lines.append(f"**Top-1 {summary['mean']:.2f} ± {summary['std']:.2f}** (mean ± population std over "
                     f"{summary['num_splits']} splits)")
    else:
        lines.append(f"**Top-1 {summary['top1']:.2f}**")
    return "\n".join(lines) + "\n"


def results_to_json(results: dict) -> dict:
    return {
        "protocol": results["protocol"],
        "aggregate": results["aggregate"],
        "splits": {key: value.summary() for key, value in results["splits"].items()},
        "skipped_videos": sum(value.skipped_videos for value in results["splits"].values()),
    }


def write_reports(results: dict, output_dir) -> dict[str, Path]:
    """Write `results.json`, `results.md` and `confusion_<split>.png` per split (with matplotlib); return their
    paths."""
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    paths = {"json": output / "results.json", "markdown": output / "results.md"}
    paths["json"].write_text(json.dumps(results_to_json(results), indent=2) + "\n")
    paths["markdown"].write_text(markdown_table(results))
    for key, result in results["splits"].items():
        safe = key.replace("/", "_")
        png = confusion_matrix_png(
            output / f"confusion_{safe}.png", result.confusion, result.class_names,
            title=f"{results['protocol']['protocol']} {key}: top-1 {result.top1:.2f}",
        )
        if png is not None:
            paths[f"confusion_{safe}"] = png
    return paths


__all__ = [
    "SplitResult",
    "aggregate",
    "evaluate_dataset",
    "evaluate_protocol",
    "evaluate_split",
    "evaluate_videos",
    "markdown_table",
    "results_to_json",
    "split_class_texts",
    "write_reports",
]
