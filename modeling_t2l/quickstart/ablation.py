"""Steps 3-4: adapt the tiny CLIP with T2L on the base classes and score it zero-shot on the novel classes, for
every row of the paper's component ablation (Table 7), through the library's own training and evaluation code.

One run = `T2LForVideoClassification.from_clip(tiny_clip)` with the variant's config switches, the data builder
and collator on the generated files, `ZeroShotVideoTrainer` (the library's Trainer: AdamW on the T2L tensors,
warm-up + cosine), then `evaluate_dataset` on the base and novel test videos.

How the miniature trains (`MINIATURE_RECIPE`), and why, as measured on it:
- The text tower stays frozen (no text adapters). The only thing that tells "growing big" from "shrinking small"
  is the order of the frames, which the temporal tokens learn slowly; trainable text adapters find the cheaper
  way down the loss first: they pull the two names together, after which nothing separates them.
- The loss is the paper's eq. 1, a cross-entropy over every base class (`contrastive_loss="cross_entropy"`).
  The official KL runs over the batch's classes only, and in a batch of 8 from 54 classes a clip's time-reversed
  twin is almost never there to be told apart from.
- No drop-path or temporal-token dropout: they are regularisers for ViT-B on Kinetics-400 (their own effect
  here was not isolated; the README gives the runs).
`official_recipe=True` trains with the official settings instead (text adapters, KL, dropouts).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field

import torch
from transformers.trainer_callback import PrinterCallback
from transformers.utils import logging as hf_logging

from ..data import VideoCollator, build_video_dataset, make_transform
from ..evaluation.evaluate import evaluate_dataset
from ..models.t2l.modeling_t2l import T2LForVideoClassification
from ..processing.processing_t2l import T2LProcessor
from ..training.arguments import VideoTrainingArguments
from ..training.trainer import AugmentationEpochCallback, ZeroShotVideoTrainer
from .dataset import DemoDataset
from .variants import VARIANTS, VARIANTS_BY_KEY, Variant  # noqa: F401  (re-exported)


# T2LConfig settings of every trained row (see the module docstring); the official defaults when official_recipe
MINIATURE_RECIPE = dict(use_text_adapters=False, contrastive_loss="cross_entropy", drop_path_rate=0.0,
                        temporal_token_dropout=0.0)


@dataclass(frozen=True)
class TrainSettings:
    num_frames: int = 8  # frames per clip the model sees (the generated videos have more)
    image_size: int = 32
    epochs: float = 8
    batch_size: int = 8
    learning_rate: float = 1e-2
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1
    official_recipe: bool = False

    def model_overrides(self, variant: Variant) -> dict:
        """The T2LConfig switches of one row: the miniature's recipe (unless official), then the variant's."""
        recipe = {} if self.official_recipe or not variant.trains else MINIATURE_RECIPE
        return {**recipe, **variant.overrides}


def demo_processor(settings: TrainSettings) -> T2LProcessor:
    """The processor for the miniature: frames are already the model's size (no resize/crop), and the train-time
    augmentations that would change a label are off: a horizontal flip turns "moving to the left" into "moving to the right",
    grayscale and hue jitter change the colour a class name states."""
    return T2LProcessor.from_clip_tokenizer(
        num_frames=settings.num_frames, crop_size=settings.image_size, shortest_edge=settings.image_size,
        multi_scale_crop_scales=(1.0,), max_distort=0, do_flip=False, jitter_probability=0.0,
        grayscale_probability=0.0,
    )


def train_variant(model, processor, data: DemoDataset, settings: TrainSettings, seed: int, progress: bool = True,
                  frame_cache: dict | None = None):
    """Fine-tune the T2L tensors of `model` on the base classes with the library's Trainer. `frame_cache`: decoded
    videos shared between runs (each file is then decoded once for the whole ablation, not once per step)."""
    train = build_video_dataset(data.train_list, data.base_labels, data.video_root, source="t2l demo train list")
    transform = make_transform(processor.image_processor, train=True, seed=seed, frame_cache=frame_cache)
    train.set_transform(transform)
    class_texts = [c.name for c in data.base_classes]
    with tempfile.TemporaryDirectory(prefix="t2l-demo-") as scratch:
        args = VideoTrainingArguments(
            output_dir=scratch, num_train_epochs=settings.epochs, per_device_train_batch_size=settings.batch_size,
            learning_rate=settings.learning_rate, weight_decay=settings.weight_decay, seed=seed, data_seed=seed,
            warmup_epochs=None, warmup_steps=settings.warmup_ratio,
            save_strategy="no", eval_strategy="no", logging_strategy="no", use_cpu=True, disable_tqdm=not progress,
        )
        trainer = ZeroShotVideoTrainer(
            model=model, args=args, train_dataset=train,
            data_collator=VideoCollator(processor, class_texts, train=True, seed=seed,
                                        negatives=model.training_negatives),
            processing_class=processor, callbacks=[AugmentationEpochCallback(transform)],
        )
        if not progress:
            # with its progress bar off, Trainer prints every log dict (PrinterCallback): not in quiet mode
            trainer.remove_callback(PrinterCallback)
        trainer.train()
    model.eval()
    return model


def evaluate_split(model, processor, data: DemoDataset, split: str, progress: bool = True) -> float:
    """Zero-shot top-1 (%) on the `novel` (unseen classes) or `base_test` split, each against its own vocabulary."""
    classes = data.novel_classes if split == "novel" else data.base_classes
    labels = data.novel_labels if split == "novel" else data.base_labels
    dataset = build_video_dataset(data.root / f"{split}.txt", labels, data.video_root, source=f"t2l demo {split} list")
    result = evaluate_dataset(model, processor, dataset, [c.name for c in classes], name=split, batch_size=32,
                              progress=progress)
    return result.top1


def run_variant(variant: Variant, clip_dir, data: DemoDataset, settings: TrainSettings, seed: int,
                progress: bool = True, frame_cache: dict | None = None):
    """Build, train (unless the variant is the frozen baseline) and score one row; returns (scores, model)."""
    torch.manual_seed(seed)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialised weights" is expected: the T2L tensors are new
    try:
        model = T2LForVideoClassification.from_clip(str(clip_dir), num_frames=settings.num_frames,
                                                    **settings.model_overrides(variant))
    finally:
        hf_logging.set_verbosity(verbosity)
    processor = demo_processor(settings)
    if variant.trains:
        train_variant(model, processor, data, settings, seed, progress, frame_cache)
    model.eval()
    scores = {split: evaluate_split(model, processor, data, split, progress) for split in ("base_test", "novel")}
    return scores, model, processor
