"""Fine-tune any family with `transformers.Trainer` from a typed recipe (`configuration/<family>/*.yaml`).

    recipe = load_recipe("configuration/t2l/k400_zero_shot.yaml", ["training.num_train_epochs=2"])
    summary = run_training(recipe)            # or: t2l train --config ... [--resume]

What the shared trainer adds to `Trainer`, and why:

* Optimizer (`ZeroShotVideoTrainer.create_optimizer`): AdamW on the parameter groups the family gives
  (`model.optimizer_parameter_groups(args)`; the default: the trainable tensors, i.e. the family's declared set,
  with weight decay on *every* one of them, biases and temporal prompts included, as the official T2L code does,
  vision-tower tensors at `lr * visual_lr_ratio`; TC-CLIP: its prompting tensors at 10x).
* Schedule: transformers' own (`lr_scheduler_type`, cosine to 0 by default, which is the official T2L curve) after
  a linear warm-up from 0 of `warmup_epochs` epochs (the official unit) or `warmup_steps`. The official code steps
  it with the fractional epoch every 10 iterations; here it is evaluated every optimizer step (the same curve,
  without the 10-step staircase). With `cosine_lr_min` set: timm's cosine to that lr, counted over the whole run
  (`schedules.cosine_with_warmup_inside`, the TC-CLIP recipes).
* Batch transform: a family's `training_batch_transform()` (TC-CLIP: mixup / cutmix into soft targets) is applied
  to every training micro-batch, with a generator seeded from the run's seed, the step and the micro-batch.
* Loss: the model returns `loss` and every term as a `loss_*` field; each term is logged (averaged over the
  logging window and the processes) under its own name.
* Model selection (`ZeroShotVideoTrainer.evaluate`): zero-shot top-1 on the recipe's *validation* data only, i.e.
  an unscored split of the protocol (K400 val for the K400-trained zero-shot models) or a held-out part of the
  training list. The official code picked its checkpoints on the target test sets; this never does. With no
  validation data the last epoch is kept.
* Undecodable videos are dropped by the data layer's collator; the count over the batches trained on (the whole
  run, across resumes: each checkpoint stores it) is in `train_results.json`.
* Reproducible runs: `training.seed` is set before the model's new tensors are drawn. Reproducible resume: data
  order comes from Trainer's seeded sampler, dropout from the RNG state saved with each checkpoint, augmentation
  from the data layer's per-(epoch, video) seeds, which `AugmentationEpochCallback` keeps in step with the epoch,
  and text templates from the batch's clip seeds. Exactness is tested with `dataloader_num_workers=0`.
* Checkpoints are complete or absent (written under `.incomplete/`, sealed, renamed; see `checkpoints.py`), and
  `--resume` takes the newest complete one.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from transformers import Trainer, TrainerCallback, get_scheduler
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, enable_full_determinism, rotate_checkpoints, set_seed

from ..data import VideoCollator, custom_protocol, get_protocol, make_transform
from ..data.builder import _clip_seed
from ..evaluation.evaluate import evaluate_dataset, split_class_texts
from ..models.registry import get_family
from ..pipelines.zero_shot_video_classification import add_pipeline_to_checkpoint
from ..processing.processing_t2l import T2LProcessor
from .arguments import Recipe, load_recipe
from .schedules import cosine_with_warmup_inside
from .checkpoints import (
    SKIPS_NAME,
    STAGING_DIR,
    OutputWriteError,
    check_writable,
    describe_os_error,
    publish,
    resolve_resume,
    seal,
    write_json,
)

logger = logging.getLogger(__name__)

RESULTS_NAME = "train_results.json"
LOSS_PREFIX = "loss_"

# ---------------------------------------------------------------------------------------------- schedule
def warmup_steps_for(num_training_steps: int, num_epochs: float, warmup_epochs: float | None, warmup_steps: float) -> int:
    """Warm-up in optimizer steps: from epochs (the official recipes), else `warmup_steps`, where a value below 1 is
    a fraction of the run (the paper's "10 % warm-up"), rounded to the nearest step."""
    if warmup_epochs is not None:
        return int(round(num_training_steps * min(1.0, warmup_epochs / num_epochs))) if warmup_epochs else 0
    if 0 < warmup_steps < 1:
        return int(round(warmup_steps * num_training_steps))
    return int(warmup_steps)


# ----------------------------------------------------------------------------------------------- trainer
class ZeroShotVideoTrainer(Trainer):
    """Trainer with the official optimizer and schedule, loss-term logging and validation-only model selection.

    `validation`: (dataset, class_texts, class_names) scored by `evaluate`, or None. `args` may be plain
    `TrainingArguments`; `VideoTrainingArguments` adds `warmup_epochs` and `visual_lr_ratio`.
    """

    def __init__(self, *args, validation=None, validation_batch_size: int = 16, validation_num_workers: int = 0,
                 validation_num_clips: int = 1, validation_clip_sampling: str = "uniform", **kwargs):
        super().__init__(*args, **kwargs)
        self.validation = validation
        self.validation_batch_size = validation_batch_size
        self.validation_num_workers = validation_num_workers
        self.validation_num_clips = validation_num_clips
        self.validation_clip_sampling = validation_clip_sampling
        family_transform = getattr(self.accelerator.unwrap_model(self.model), "training_batch_transform", None)
        self.batch_transform = family_transform() if callable(family_transform) else None
        self._transform_step, self._transform_calls = -1, 0
        # the families' forward takes no num_items_in_batch: let Trainer average over accumulation steps
        self.model_accepts_loss_kwargs = False
        self._loss_terms: dict[str, torch.Tensor] = {}
        self._loss_term_count = 0
        # Skipped videos of the batches trained on: this process in this run, and the whole run up to the
        # checkpoint it resumed from (restored from the checkpoint's SKIPS_NAME).
        if hasattr(self.data_collator, "count_in_batch"):
            self.data_collator.count_in_batch = True
        self._skipped_here = 0
        self._skipped_before = {"skipped_videos": 0, "skipped_examples": []}
        self._staging = False
        self.resume_checkpoint = None  # what prepare_training resolved `resume` to (already checked)

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            args = self.args
            model = self.accelerator.unwrap_model(self.model if model is None else model)
            groups = model.optimizer_parameter_groups(args)  # the family's official groups (see the mixin)
            grouped = [id(parameter) for group in groups for parameter in group["params"]]
            trainable = [id(parameter) for parameter in model.parameters() if parameter.requires_grad]
            if sorted(grouped) != sorted(trainable):
                raise ValueError(
                    f"{type(model).__name__}.optimizer_parameter_groups must hold every trainable tensor exactly once "
                    f"({len(grouped)} grouped, {len(trainable)} trainable)"
                )
            self.optimizer = torch.optim.AdamW(
                groups, lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2), eps=args.adam_epsilon,
                weight_decay=args.weight_decay,  # every trainable tensor, biases and prompts included
            )
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.lr_scheduler is None:
            warmup = warmup_steps_for(num_training_steps, self.args.num_train_epochs,
                                      getattr(self.args, "warmup_epochs", None), self.args.warmup_steps)
            lr_min = getattr(self.args, "cosine_lr_min", None)
            if lr_min is not None:
                self.lr_scheduler = cosine_with_warmup_inside(optimizer or self.optimizer, warmup, num_training_steps,
                                                              lr_min)
                return self.lr_scheduler
            self.lr_scheduler = get_scheduler(
                self.args.lr_scheduler_type, optimizer or self.optimizer, num_warmup_steps=warmup,
                num_training_steps=num_training_steps, scheduler_specific_kwargs=self.args.lr_scheduler_kwargs,
            )
        return self.lr_scheduler

    def _transform_rng(self) -> np.random.Generator:
        """A generator for the batch transform: from the seed, the optimizer step and the micro-batch within it, so
        a resumed run blends its batches as an uninterrupted one does."""
        if self.state.global_step != self._transform_step:
            self._transform_step, self._transform_calls = self.state.global_step, 0
        self._transform_calls += 1
        rank = self.args.process_index
        return np.random.default_rng(_clip_seed(self.args.seed, rank, self._transform_step, self._transform_calls))

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        from ..data.collator import SKIPPED_KEY

        skipped = inputs.pop(SKIPPED_KEY, None)
        if skipped is not None:
            self._skipped_here = self._skipped_here + skipped  # a tensor: no device sync here
        if self.batch_transform is not None and model.training:
            inputs = self.batch_transform(inputs, self._transform_rng())
        outputs = model(**inputs)
        if model.training:
            terms = {key: value for key, value in outputs.items() if key.startswith(LOSS_PREFIX) and value is not None}
            for key, value in terms.items():
                # kept as tensors (no .item() here: that would synchronise the GPU every step)
                self._loss_terms[key] = self._loss_terms.get(key, 0.0) + value.detach().float()
            self._loss_term_count += bool(terms)
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def log(self, logs: dict, start_time: float | None = None) -> None:
        if "loss" in logs and self._loss_term_count:
            names = sorted(self._loss_terms)
            values = torch.stack([torch.as_tensor(self._loss_terms[name], device=self.args.device) for name in names]
                                 + [torch.tensor(float(self._loss_term_count), device=self.args.device)]).float()
            values = self.accelerator.reduce(values, reduction="sum")  # every rank logs at the same steps
            for index, name in enumerate(names):
                logs[name] = round(values[index].item() / values[-1].item(), 6)
            self._loss_terms, self._loss_term_count = {}, 0
        super().log(logs, start_time)

    # ------------------------------------------------------------------------------ skips, checkpoints, resume
    def skipped_videos(self) -> dict:
        """Skipped videos of the whole run (all processes, and the run before a resume): count and examples.
        Every process must call it (the count is summed over processes)."""
        here = torch.tensor([float(self._skipped_here)], device=self.args.device)
        count = int(self.accelerator.reduce(here, reduction="sum").item()) + self._skipped_before["skipped_videos"]
        examples = list(self._skipped_before["skipped_examples"])
        seen = {example["path"] for example in examples}
        collator_skips = getattr(self.data_collator, "skipped", None)
        for example in collator_skips.as_dict()["skipped_examples"] if collator_skips is not None else []:
            if example["path"] not in seen:  # each bad video once (it fails again every epoch)
                seen.add(example["path"])
                examples.append(example)
        return {"skipped_videos": count, "skipped_examples": examples}

    def _get_output_dir(self, trial) -> str:
        run_dir = super()._get_output_dir(trial)
        return os.path.join(run_dir, STAGING_DIR) if self._staging else run_dir

    def _save_checkpoint(self, model, trial) -> None:
        """Trainer's checkpoint, written under `.incomplete/`, sealed with a manifest and the skip counts, then
        renamed into place (see `checkpoints`): a kill or a full disk mid-save leaves no `checkpoint-N` behind."""
        run_dir = super()._get_output_dir(trial)
        staging_root = os.path.join(run_dir, STAGING_DIR)
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        staged, final = Path(staging_root) / name, Path(run_dir) / name
        skips = self.skipped_videos()  # before anything is written: every process takes part in the sum
        try:
            if self.args.should_save:
                shutil.rmtree(staging_root, ignore_errors=True)  # what an interrupted save left
            self.accelerator.wait_for_everyone()
            self._staging = True
            try:
                super()._save_checkpoint(model, trial)
            finally:
                self._staging = False
            best = self.state.best_model_checkpoint
            if best and best.startswith(staging_root + os.sep):  # Trainer named it where it was written
                self.state.best_model_checkpoint = os.path.join(run_dir, os.path.relpath(best, staging_root))
            self.accelerator.wait_for_everyone()  # every process has written its RNG state
            if self.args.should_save:
                self.state.save_to_json(str(staged / "trainer_state.json"))
                write_json(staged / SKIPS_NAME, skips)
                seal(staged, self.state.global_step)
                publish(staged, final)
                with contextlib.suppress(OSError):
                    os.rmdir(staging_root)  # empty now
                rotate_checkpoints(run_dir, self.args.save_total_limit, self.state.best_model_checkpoint,
                                   use_mtime=True)
        except OSError as error:
            if self.args.should_save:
                shutil.rmtree(staging_root, ignore_errors=True)
            raise OutputWriteError(f"cannot write checkpoint {final}: {describe_os_error(error)}") from error
        self.accelerator.wait_for_everyone()

    def train(self, resume_from_checkpoint=None, trial=None, **kwargs):
        """`resume_from_checkpoint=True` takes the newest *complete* checkpoint of the output folder (warning about
        newer incomplete ones), and the skipped-video count continues from that checkpoint's."""
        if resume_from_checkpoint and resume_from_checkpoint != self.resume_checkpoint:
            resume_from_checkpoint = resolve_resume(resume_from_checkpoint, self.args.output_dir)
        if resume_from_checkpoint:
            skips = Path(resume_from_checkpoint) / SKIPS_NAME
            if skips.is_file():
                self._skipped_before = json.loads(skips.read_text())
            else:
                logger.warning("%s has no %s: the skipped-video count restarts at 0", resume_from_checkpoint, SKIPS_NAME)
        return super().train(resume_from_checkpoint=resume_from_checkpoint or None, trial=trial, **kwargs)

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict:
        """Zero-shot top-1/top-5 on the validation data (every rank computes the same numbers)."""
        if self.validation is None:
            return {}
        dataset, class_texts, class_names = self.validation
        model = self.accelerator.unwrap_model(self.model)
        result = evaluate_dataset(
            model, self.processing_class, dataset, class_texts, name="validation", class_names=class_names,
            batch_size=self.validation_batch_size, num_workers=self.validation_num_workers,
            num_clips=self.validation_num_clips, clip_sampling=self.validation_clip_sampling, seed=self.args.seed,
            progress=self.is_world_process_zero(),
        )
        metrics = {f"{metric_key_prefix}_top1": result.top1, f"{metric_key_prefix}_top5": result.top5,
                   f"{metric_key_prefix}_skipped_videos": result.skipped_videos}
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


class AugmentationEpochCallback(TrainerCallback):
    """Tells the training transform which epoch it is, so augmentation seeds depend on (epoch, video) only.

    `set_epoch` also restarts the transform's per-video draw counts (each video is drawn once per epoch), which
    keeps a resumed run on the same seeds as an uninterrupted one.
    """

    def __init__(self, transform):
        self.transform = transform

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.transform.set_epoch(int(state.epoch or 0))


# ------------------------------------------------------------------------------------------------ building
def build_model(recipe: Recipe):
    """The recipe's family, built from its CLIP checkpoint with the family's declared trainable set."""
    options = recipe.model
    family = get_family(options.family)
    return family.classification_class.for_training(
        options.clip, num_frames=options.num_frames, config=options.config, options=options.options
    )


def build_processor(recipe: Recipe):
    """The processor (bundled CLIP BPE, 256/224 resize and crop) with the family's normalisation."""
    family = get_family(recipe.model.family)
    kwargs = {key: value for key, value in family.processor_defaults.items() if key != "num_frames"}
    kwargs.update(recipe.data.processor or {})
    return T2LProcessor.from_clip_tokenizer(num_frames=recipe.model.num_frames, **kwargs)


def build_protocol(recipe: Recipe):
    """The recipe's protocol: a registry name (with `protocol_options`) or a custom mapping."""
    options = dict(recipe.data.protocol_options or {})
    options.setdefault("num_frames", recipe.model.num_frames)
    if isinstance(recipe.data.protocol, dict):
        return custom_protocol(recipe.data.protocol, options["num_frames"], options.get("text_mode", "templates"))
    return get_protocol(recipe.data.protocol, **options)


def _train_split(recipe: Recipe, protocol) -> str:
    if recipe.data.train_split:
        return recipe.data.train_split
    if protocol.seeds:
        return protocol.seeds[0]
    (only,) = protocol.train_splits
    return only


def check_validation(recipe: Recipe, protocol) -> None:
    """Refuse validation data that is a target test set (the official code selected checkpoints on those)."""
    data, source = recipe.data, recipe.source
    if data.validation_split and data.validation_holdout_fraction:
        raise ValueError(f"{source}: set data.validation_split or data.validation_holdout_fraction, not both")
    name = data.validation_split
    if name and name not in protocol.eval_splits:
        raise ValueError(f"{source}: data.validation_split {name!r} is not an eval split of {protocol.name} "
                         f"({list(protocol.eval_splits)})")
    if name and name in protocol.scored_splits:
        raise ValueError(
            f"{source}: data.validation_split {name!r} is a target test split of {protocol.name}; "
            f"model selection must not see test data (unscored eval splits: "
            f"{[s for s in protocol.eval_splits if s not in protocol.scored_splits] or 'none'}; "
            f"or use data.validation_holdout_fraction)"
        )


def build_datasets(recipe: Recipe, protocol, processor):
    """(train dataset with its transform, train class texts, train transform, validation triple or None)."""
    data, seed = recipe.data, recipe.training.seed
    split = _train_split(recipe, protocol)
    if protocol.split(split).role != "train":
        raise ValueError(f"{recipe.source}: train_split {split!r} of {protocol.name} is not a training split")
    try:
        train = protocol.build_dataset(split, video_root=data.data_root)
    except ValueError as error:
        if "train_list" not in str(error):
            raise
        raise ValueError(f"{recipe.source}: {error}; in a recipe: data.protocol_options.train_list=<list>") from None
    class_texts = protocol.class_texts(split, templates=data.text_templates)
    validation = None
    check_validation(recipe, protocol)
    if data.validation_split:
        name = data.validation_split
        dataset = protocol.build_dataset(name, video_root=data.validation_data_root or data.data_root)
        validation = (dataset, protocol.class_texts(name, templates=data.text_templates), protocol.class_names(name))
    elif data.validation_holdout_fraction:
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed)).tolist()
        held = max(1, int(round(data.validation_holdout_fraction * len(train))))
        validation = (train.select(sorted(order[:held])), class_texts, protocol.class_names(split))
        train = train.select(sorted(order[held:]))
    transform = make_transform(processor.image_processor, train=True, seed=seed)
    train.set_transform(transform)
    return train, class_texts, transform, validation


def family_class_texts(recipe: Recipe, protocol, model, class_texts, validation):
    """The family's own prompts (`model.class_prompts`, e.g. TC-CLIP's) for the train and validation classes,
    when it has them; otherwise the protocol's texts unchanged."""
    own = split_class_texts(model, protocol, _train_split(recipe, protocol))
    if own.mode != "model":
        return class_texts, validation
    if validation is not None:
        name = recipe.data.validation_split
        validation = (validation[0], split_class_texts(model, protocol, name) if name else own, validation[2])
    return own, validation


# ---------------------------------------------------------------------------------------------------- run
def prepare_training(recipe: Recipe, resume: bool | str = False) -> ZeroShotVideoTrainer:
    """Model, processor, data, collator and a ready trainer (call `.train()`); `run_training` wraps it.

    `resume` (True: the newest complete checkpoint of the output folder, or a checkpoint path) is checked before
    the model is built, so a run with nothing to resume fails at once; the choice is `trainer.resume_checkpoint`."""
    protocol = build_protocol(recipe)
    check_validation(recipe, protocol)  # before any model or data is loaded
    processor = build_processor(recipe)
    train, class_texts, transform, validation = build_datasets(recipe, protocol, processor)  # data errors first
    args = recipe.training
    check_writable(args.output_dir)  # a read-only or missing disk fails now, not at the first checkpoint
    checkpoint = resolve_resume(resume, args.output_dir)
    # The model's new tensors (adapters, temporal prompts) are drawn when it is built, before Trainer would seed.
    if args.full_determinism:
        enable_full_determinism(args.seed)
    else:
        set_seed(args.seed)
    model = build_model(recipe)
    processor.check_num_frames(model)
    if recipe.data.text_templates is None:
        class_texts, validation = family_class_texts(recipe, protocol, model, class_texts, validation)
    collator = VideoCollator(processor, class_texts, train=True, seed=recipe.training.seed,
                             negatives=model.training_negatives)
    trainer = ZeroShotVideoTrainer(
        model=model, args=recipe.training, train_dataset=train, data_collator=collator, processing_class=processor,
        # Trainer insists on an eval_dataset when evaluating; `evaluate` reads `validation` instead
        eval_dataset=validation[0] if validation is not None else None,
        validation=validation, validation_batch_size=recipe.data.validation_batch_size,
        validation_num_workers=recipe.data.validation_num_workers,
        validation_num_clips=recipe.data.validation_num_clips,
        validation_clip_sampling=recipe.data.validation_clip_sampling,
        callbacks=[AugmentationEpochCallback(transform)],
    )
    trainer.protocol = protocol
    trainer.recipe = recipe
    trainer.resume_checkpoint = checkpoint
    return trainer


def run_training(recipe: Recipe, resume: bool | str = False) -> dict:
    """Train from a loaded recipe; returns (and writes to `<output_dir>/train_results.json`) the run summary.

    `resume=True` continues from the last checkpoint in the output directory (or give a checkpoint path).
    The final model (the best on validation when there is validation data) is saved to `<output_dir>` with its
    processor and remote code, and, for families that train a small set (`save_adapters`), that set to
    `<output_dir>/adapters`.
    """
    trainer = prepare_training(recipe, resume=resume)
    args, protocol, train = trainer.args, trainer.protocol, trainer.train_dataset
    validation = trainer.validation
    output = trainer.train(resume_from_checkpoint=trainer.resume_checkpoint)

    skipped = trainer.skipped_videos()
    summary = {
        "recipe": recipe.to_dict(),
        "recipe_file": recipe.source,
        "protocol": protocol.describe(),
        "train_split": _train_split(recipe, protocol),
        "train_videos": len(train),
        "metrics": output.metrics,
        "global_step": trainer.state.global_step,
        "best_model_checkpoint": trainer.state.best_model_checkpoint,
        "best_validation_top1": trainer.state.best_metric,
        "model_selection": "validation top-1" if validation is not None else "last epoch (no validation data)",
        "skipped_videos": skipped["skipped_videos"],
        "skipped_examples": skipped["skipped_examples"],
        "target_protocols": list(recipe.data.target_protocols),
    }
    try:
        trainer.save_model(args.output_dir)  # every rank calls it; Trainer writes from the main process only
        if trainer.is_world_process_zero():
            # the pipeline's code and task next to the weights: `pipeline(model=dir, trust_remote_code=True)`
            add_pipeline_to_checkpoint(args.output_dir)
            model = trainer.accelerator.unwrap_model(trainer.model)
            if hasattr(model, "save_adapters"):
                model.save_adapters(Path(args.output_dir) / "adapters", base_model_name_or_path=recipe.model.clip)
            write_json(Path(args.output_dir) / RESULTS_NAME, json.loads(json.dumps(summary, default=str)))
    except OSError as error:  # the checkpoints stay as they were: `--resume` continues from the last one
        raise OutputWriteError(f"cannot write the trained model to {args.output_dir}: "
                               f"{describe_os_error(error)}") from error
    if trainer.is_world_process_zero():
        for target in summary["target_protocols"]:
            logger.info("evaluate with: t2l evaluate --model %s --protocol %s --data-root <videos>", args.output_dir, target)
    # a distributed run's process group is destroyed before the interpreter exits: left to teardown, its gloo
    # threads can abort the process (SIGABRT) after a run that succeeded
    trainer.accelerator.end_training()
    return summary


__all__ = [
    "AugmentationEpochCallback",
    "ZeroShotVideoTrainer",
    "build_datasets",
    "build_model",
    "build_processor",
    "build_protocol",
    "load_recipe",
    "prepare_training",
    "run_training",
    "warmup_steps_for",
]
