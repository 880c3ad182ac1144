"""Fine-tune T2L with `transformers.Trainer` from a YAML recipe (`configuration/*.yaml`).

    recipe = load_recipe("configuration/k400_zero_shot.yaml", ["training.num_train_epochs=2"])
    summary = run_training(recipe)            # or: t2l train --config ... [--resume]

What is T2L-specific here, and why:

* Optimizer (`T2LTrainer.create_optimizer`): AdamW on the trainable tensors only, with weight decay on *every*
  one of them, biases and temporal prompts included, as the official code does (Trainer's default would exempt
  biases and norms). Visual tensors can get `lr * visual_lr_ratio` (official ratio 1).
* Schedule (`official_lr_lambda`, a LambdaLR): linear warm-up from 0 for `warmup_epochs` epochs, then cosine to 0
  at the end of training. The official code steps it with the fractional epoch every 10 iterations; here it is
  evaluated every optimizer step (the same curve, without the 10-step staircase). `warmup_ratio` instead of
  `warmup_epochs` gives the paper's "10 % warm-up".
* Loss: the model returns `loss = loss_contrastive + w * loss_tfd`; both terms are logged (averaged over the
  logging window and the processes) as `loss_contrastive` and `loss_tfd`.
* Model selection (`T2LTrainer.evaluate`): zero-shot top-1 on the recipe's *validation* data only, i.e. an unscored
  split of the protocol (K400 val for the K400-trained zero-shot models) or a held-out part of the training list.
  The official code picked its checkpoints on the target test sets; this never does. With no validation data the
  last epoch is kept.
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
import copy
import json
import logging
import math
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import torch
import yaml
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, enable_full_determinism, rotate_checkpoints, set_seed

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
VISUAL_MARKER = "vision_model."

# Every recipe field and its default; `load_recipe` rejects unknown keys so a typo cannot be silently ignored.
DEFAULT_RECIPE: dict[str, Any] = {
    "protocol": None,  # registry name (modeling_t2l.data.list_protocols())
    "protocol_options": {},  # get_protocol options: train_list, hmdb_label_order, text_mode, llm_labels, ...
    "train_split": None,  # default: the protocol's only train split, or its first seed
    "data_root": None,  # the training videos
    "validation": {
        "split": None,  # an eval split of the protocol that is not a target test set (e.g. k400_val)
        "holdout_fraction": None,  # or hold out this fraction of the training list (seeded)
        "data_root": None,  # default: data_root
        "batch_size": 16,
        "num_workers": 0,
    },
    "model": {
        "clip": "openai/clip-vit-base-patch16",  # any transformers CLIP (Hub id or folder)
        "num_frames": 8,
        "config": {},  # T2LConfig overrides (use_temporal_tokens, adapter_ratio, contrastive_loss, ...)
        "text_adapter": "bottleneck",  # "bottleneck" (official) or "lora" (paper variant, peft LoRA)
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]},
    },
    "processor": {},  # T2LImageProcessor keyword arguments (crop size, resize, ...)
    "optimizer": {"lr": 1.0e-4, "betas": [0.9, 0.98], "eps": 1.0e-8, "weight_decay": 0.2, "visual_lr_ratio": 1.0},
    "schedule": {"warmup_epochs": 5, "warmup_ratio": None},
    "training": {},  # transformers.TrainingArguments fields (output_dir, num_train_epochs, batch size, bf16, ...)
    "text_templates": None,  # with text_mode "templates": these instead of the 16 ActionCLIP templates
    "target_protocols": [],  # what to evaluate after training (printed as commands; never used for selection)
}

# TrainingArguments values the library needs whatever the recipe says.
FORCED_ARGUMENTS = {"remove_unused_columns": False, "lr_scheduler_type": "constant"}
DEFAULT_ARGUMENTS = {
    "ddp_find_unused_parameters": False,  # every trainable tensor gets a gradient every step
    "report_to": "none",
    "logging_steps": 10,
    "save_strategy": "epoch",
    "save_total_limit": 2,
    "dataloader_drop_last": True,  # official train loader
    "seed": 1024,
}


# ------------------------------------------------------------------------------------------------- recipes
YAML_WORDS = {"yes", "no", "on", "off", "y", "n"}
FREE_FORM_SECTIONS = {"training", "processor", "protocol_options", "model.config"}


def _merge(base: dict, update: dict, where: str) -> dict:
    """Defaults updated by a recipe; keys outside the free-form sections must be known."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        path = f"{where}.{key}" if where else key
        if key not in base:
            raise KeyError(f"unknown recipe field {path}; known in this section: {sorted(base)}")
        if path in FREE_FORM_SECTIONS:
            if value is not None and not isinstance(value, dict):
                raise KeyError(f"recipe field {path} must be a mapping")
            merged[key] = {**(base[key] or {}), **(value or {})}
        elif isinstance(base[key], dict) and isinstance(value, dict):
            merged[key] = _merge(base[key], value, path)
        else:
            merged[key] = value
    return merged


def parse_value(raw: str):
    """A command-line value as YAML, except that yes/no/on/off stay strings (`save_strategy=no`) and numbers like
    `3e-5`, which YAML 1.1 reads as strings, become floats."""
    raw = raw.strip()
    if raw.lower() in YAML_WORDS:
        return raw
    value = yaml.safe_load(raw)
    return _as_number(value)


def _as_number(value):
    if isinstance(value, str):
        try:
            return float(value) if any(c in value.lower() for c in ".e") else int(value)
        except ValueError:
            return value
    return value


def apply_overrides(recipe: dict, overrides: Sequence[str]) -> dict:
    """`key.sub=value` strings (value parsed as YAML) applied to a recipe dict."""
    recipe = copy.deepcopy(recipe)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like key.sub=value")
        dotted, raw = item.split("=", 1)
        keys = dotted.strip().split(".")
        target = recipe
        for key in keys[:-1]:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise ValueError(f"override {item!r}: {key} is not a section")
        target[keys[-1]] = parse_value(raw)
    return recipe


def load_recipe(path, overrides: Sequence[str] = ()) -> dict:
    """Read a recipe YAML, apply `key=value` overrides and fill defaults (unknown keys raise, naming the file)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"recipe {path} does not exist (recipes live in configuration/)")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a recipe is a YAML mapping")
    raw = apply_overrides(raw, overrides)
    try:
        recipe = _merge(DEFAULT_RECIPE, raw, "")
    except KeyError as error:
        raise KeyError(f"{path}: {error.args[0]}") from None
    if not recipe["protocol"]:
        raise ValueError(f"{path}: 'protocol' is required (one of modeling_t2l.data.list_protocols())")
    if not recipe["data_root"]:
        raise ValueError(f"{path}: 'data_root' is required (set it in the file or pass data_root=/path/to/videos)")
    if recipe["model"]["text_adapter"] not in ("bottleneck", "lora"):
        raise ValueError(f"{path}: model.text_adapter must be 'bottleneck' or 'lora'")
    # `lr: 1e-4` in a YAML file is a string for PyYAML (YAML 1.1); the optimizer needs numbers.
    for section in ("optimizer", "schedule"):
        recipe[section] = {key: _as_number(value) for key, value in recipe[section].items()}
    recipe["_source"] = str(path)
    return recipe


# ---------------------------------------------------------------------------------------------- schedule
def official_lr_lambda(num_training_steps: int, warmup_steps: int):
    """Multiplier of the base lr at optimizer step `step`: step/warmup during warm-up (starting at 0), then
    0.5 * (1 + cos(pi * progress)) down to 0 at `num_training_steps`."""

    def multiplier(step: int) -> float:
        if step < warmup_steps:
            return step / warmup_steps
        progress = (step - warmup_steps) / max(1, num_training_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return multiplier


def warmup_steps_for(num_training_steps: int, num_epochs: float, warmup_epochs: float | None, warmup_ratio: float | None) -> int:
    """Warm-up in optimizer steps from epochs (official) or a fraction of training (paper)."""
    if warmup_ratio is not None:
        return int(round(warmup_ratio * num_training_steps))
    if not warmup_epochs:
        return 0
    return int(round(num_training_steps * min(1.0, warmup_epochs / num_epochs)))


# ----------------------------------------------------------------------------------------------- trainer
class T2LTrainer(Trainer):
    """Trainer with T2L's optimizer, schedule, loss-term logging and validation-only model selection."""

    def __init__(self, *args, recipe: dict, validation=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.recipe = recipe
        self.validation = validation  # (dataset, class_texts, class_names) or None
        # T2L's forward takes **kwargs but does not use num_items_in_batch: let Trainer average over accumulation.
        self.model_accepts_loss_kwargs = False
        self._loss_terms = {"loss_contrastive": 0.0, "loss_tfd": 0.0}
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
            options = self.recipe["optimizer"]
            model = self.model if model is None else model
            text, visual = [], []
            for name, parameter in model.named_parameters():
                if parameter.requires_grad:
                    (visual if VISUAL_MARKER in name else text).append(parameter)
            groups = [{"params": text, "lr": options["lr"]}]
            if visual:
                groups.append({"params": visual, "lr": options["lr"] * options["visual_lr_ratio"]})
            groups = [group for group in groups if group["params"]]
            self.optimizer = torch.optim.AdamW(
                groups, lr=options["lr"], betas=tuple(options["betas"]), eps=options["eps"],
                weight_decay=options["weight_decay"],  # every trainable tensor, biases and prompts included
            )
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.lr_scheduler is None:
            schedule = self.recipe["schedule"]
            warmup = warmup_steps_for(num_training_steps, self.args.num_train_epochs,
                                      schedule["warmup_epochs"], schedule["warmup_ratio"])
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer or self.optimizer, official_lr_lambda(num_training_steps, warmup)
            )
        return self.lr_scheduler

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        from ..data.collator import SKIPPED_KEY

        skipped = inputs.pop(SKIPPED_KEY, None)
        if skipped is not None:
            self._skipped_here = self._skipped_here + skipped  # a tensor: no device sync here
        outputs = model(**inputs)
        if model.training and outputs.loss_contrastive is not None:
            # kept as tensors (no .item() here: that would synchronise the GPU every step)
            self._loss_terms["loss_contrastive"] = self._loss_terms["loss_contrastive"] + outputs.loss_contrastive.detach().float()
            self._loss_terms["loss_tfd"] = self._loss_terms["loss_tfd"] + outputs.loss_tfd.detach().float()
            self._loss_term_count += 1
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def log(self, logs: dict, start_time: float | None = None) -> None:
        if "loss" in logs and self._loss_term_count:
            values = torch.stack([torch.as_tensor(self._loss_terms["loss_contrastive"], device=self.args.device),
                                  torch.as_tensor(self._loss_terms["loss_tfd"], device=self.args.device),
                                  torch.tensor(float(self._loss_term_count), device=self.args.device)]).float()
            values = self.accelerator.reduce(values, reduction="sum")  # every rank logs at the same steps
            logs["loss_contrastive"] = round(values[0].item() / values[2].item(), 6)
            logs["loss_tfd"] = round(values[1].item() / values[2].item(), 6)
            self._loss_terms = {key: 0.0 for key in self._loss_terms}
            self._loss_term_count = 0
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
        from ..evaluation.evaluate import evaluate_dataset

        if self.validation is None:
            return {}
        dataset, class_texts, class_names = self.validation
        options = self.recipe["validation"]
        model = self.accelerator.unwrap_model(self.model)
        result = evaluate_dataset(
            model, self.processing_class, dataset, class_texts, name="validation", class_names=class_names,
            batch_size=options["batch_size"], num_workers=options["num_workers"],
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
def build_model(recipe: dict):
    from ..models.t2l.adapters import apply_text_lora
    from ..models.t2l.modeling_t2l import T2LForVideoClassification

    options = recipe["model"]
    overrides = dict(options["config"] or {})
    if options["text_adapter"] == "lora":
        overrides["use_text_adapters"] = False  # the paper variant replaces the text bottleneck adapters
    model = T2LForVideoClassification.from_clip(options["clip"], num_frames=options["num_frames"], **overrides)
    if options["text_adapter"] == "lora":
        apply_text_lora(model, **options["lora"])
    return model


def build_processor(recipe: dict, protocol):
    """The official processor (bundled CLIP BPE, 256/224 resize and crop) with the protocol's normalisation."""
    from ..processing.processing_t2l import T2LProcessor

    kwargs = dict(recipe["processor"] or {})
    kwargs.setdefault("image_mean", list(protocol.image_mean))
    kwargs.setdefault("image_std", list(protocol.image_std))
    return T2LProcessor.from_clip_tokenizer(num_frames=recipe["model"]["num_frames"], **kwargs)


def custom_protocol(spec: dict, num_frames: int, text_mode: str = "templates"):
    """A protocol for your own videos: `{name, labels: <csv>, train: <list>, eval: {<split>: <list>, ...}}`.

    Lists use the usual formats (`<video> <label>` lines, label CSV `id,name`). Eval splits are unscored, i.e. usable
    as validation data. Class texts default to the ActionCLIP templates (no bundled descriptions).
    """
    from ..data import Protocol, SplitSpec

    missing = [key for key in ("name", "labels", "train") if not spec.get(key)]
    if missing:
        raise ValueError(f"custom protocol needs {missing} (got keys {sorted(spec)})")
    labels = str(Path(spec["labels"]).expanduser().resolve())
    splits = [SplitSpec("train", "train", labels, list_file=str(Path(spec["train"]).expanduser().resolve()))]
    for name, list_file in (spec.get("eval") or {}).items():
        splits.append(SplitSpec(name, "eval", labels, list_file=str(Path(list_file).expanduser().resolve()), scored=False))
    return Protocol(name=spec["name"], task="fully_supervised", dataset=spec["name"], summary="custom protocol",
                    splits=tuple(splits), aggregation="mean_std", layout="any", num_frames=num_frames,
                    text_mode=text_mode)


def build_protocol(recipe: dict):
    """The recipe's protocol: a registry name (with `protocol_options`) or a custom mapping."""
    from ..data import get_protocol

    options = dict(recipe["protocol_options"] or {})
    options.setdefault("num_frames", recipe["model"]["num_frames"])
    if isinstance(recipe["protocol"], dict):
        return custom_protocol(recipe["protocol"], options["num_frames"], options.get("text_mode", "templates"))
    return get_protocol(recipe["protocol"], **options)


def _train_split(recipe: dict, protocol) -> str:
    if recipe["train_split"]:
        return recipe["train_split"]
    if protocol.seeds:
        return protocol.seeds[0]
    (only,) = protocol.train_splits
    return only


def check_validation(recipe: dict, protocol) -> None:
    """Refuse validation data that is a target test set (the official code selected checkpoints on those)."""
    options = recipe["validation"]
    if options["split"] and options["holdout_fraction"]:
        raise ValueError(f"{recipe['_source']}: set validation.split or validation.holdout_fraction, not both")
    name = options["split"]
    if name and name not in protocol.eval_splits:
        raise ValueError(f"{recipe['_source']}: validation.split {name!r} is not an eval split of {protocol.name} "
                         f"({list(protocol.eval_splits)})")
    if name and name in protocol.scored_splits:
        raise ValueError(
            f"{recipe['_source']}: validation.split {name!r} is a target test split of {protocol.name}; "
            f"model selection must not see test data (unscored eval splits: "
            f"{[s for s in protocol.eval_splits if s not in protocol.scored_splits] or 'none'}; "
            f"or use validation.holdout_fraction)"
        )


def build_datasets(recipe: dict, protocol, processor):
    """(train dataset with its transform, train class texts, train transform, validation triple or None)."""
    from ..data import make_transform

    split = _train_split(recipe, protocol)
    if protocol.split(split).role != "train":
        raise ValueError(f"{recipe['_source']}: train_split {split!r} of {protocol.name} is not a training split")
    try:
        train = protocol.build_dataset(split, video_root=recipe["data_root"])
    except ValueError as error:
        if "train_list" not in str(error):
            raise
        raise ValueError(f"{recipe['_source']}: {error}; in a recipe: protocol_options.train_list=<list>") from None
    class_texts = protocol.class_texts(split, templates=recipe["text_templates"])
    options = recipe["validation"]
    validation = None
    check_validation(recipe, protocol)
    if options["split"]:
        name = options["split"]
        dataset = protocol.build_dataset(name, video_root=options["data_root"] or recipe["data_root"])
        validation = (dataset, protocol.class_texts(name, templates=recipe["text_templates"]), protocol.class_names(name))
    elif options["holdout_fraction"]:
        seed = int(recipe["training"].get("seed", DEFAULT_ARGUMENTS["seed"]))
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed)).tolist()
        held = max(1, int(round(options["holdout_fraction"] * len(train))))
        validation = (train.select(sorted(order[:held])), class_texts, protocol.class_names(split))
        train = train.select(sorted(order[held:]))
    transform = make_transform(processor.image_processor, train=True, seed=int(recipe["training"].get("seed", 1024)))
    train.set_transform(transform)
    return train, class_texts, transform, validation


def build_training_arguments(recipe: dict, has_validation: bool) -> TrainingArguments:
    values = {**DEFAULT_ARGUMENTS, **(recipe["training"] or {}), **FORCED_ARGUMENTS}
    for key in ("save_strategy", "eval_strategy", "logging_strategy"):
        if values.get(key) is False:  # an unquoted `no` in YAML
            values[key] = "no"
    if not values.get("output_dir"):
        raise ValueError(f"{recipe['_source']}: training.output_dir is required")
    values["learning_rate"] = recipe["optimizer"]["lr"]  # for logs; the optimizer is built by T2LTrainer
    values["weight_decay"] = recipe["optimizer"]["weight_decay"]
    if has_validation:
        values.setdefault("eval_strategy", values["save_strategy"])
        values.setdefault("load_best_model_at_end", True)
        values.setdefault("metric_for_best_model", "top1")
        values.setdefault("greater_is_better", True)
    else:
        values["eval_strategy"] = "no"
        values["load_best_model_at_end"] = False
    return TrainingArguments(**values)


# ---------------------------------------------------------------------------------------------------- run
def training_negatives(config) -> str:
    """The texts a training step contrasts against: the official KL loss uses the batch's classes (its B x B
    matrix); the paper's cross-entropy (eq. 1) runs over every class of the vocabulary."""
    return "vocabulary" if config.contrastive_loss == "cross_entropy" else "batch"


def prepare_training(recipe: dict, resume: bool | str = False) -> "T2LTrainer":
    """Model, processor, data, collator and a ready `T2LTrainer` (call `.train()`); `run_training` wraps it.

    `resume` (True: the newest complete checkpoint of the output folder, or a checkpoint path) is checked before
    the model is built, so a run with nothing to resume fails at once; the choice is `trainer.resume_checkpoint`."""
    from ..data import T2LVideoCollator

    protocol = build_protocol(recipe)
    check_validation(recipe, protocol)  # before any model or data is loaded
    processor = build_processor(recipe, protocol)
    train, class_texts, transform, validation = build_datasets(recipe, protocol, processor)  # data errors first
    args = build_training_arguments(recipe, validation is not None)
    check_writable(args.output_dir)  # a read-only or missing disk fails now, not at the first checkpoint
    checkpoint = resolve_resume(resume, args.output_dir)
    # The model's new tensors (adapters, temporal prompts) are drawn when it is built, before Trainer would seed.
    if args.full_determinism:
        enable_full_determinism(args.seed)
    else:
        set_seed(args.seed)
    model = build_model(recipe)
    processor.check_num_frames(model)
    collator = T2LVideoCollator(processor, class_texts, train=True, seed=int(recipe["training"].get("seed", 1024)),
                                negatives=training_negatives(model.config))
    trainer = T2LTrainer(
        model=model, args=args, train_dataset=train, data_collator=collator, processing_class=processor,
        # Trainer insists on an eval_dataset when evaluating; T2LTrainer.evaluate reads `validation` instead
        eval_dataset=validation[0] if validation is not None else None,
        recipe=recipe, validation=validation, callbacks=[AugmentationEpochCallback(transform)],
    )
    trainer.protocol = protocol
    trainer.resume_checkpoint = checkpoint
    return trainer


def run_training(recipe: dict, resume: bool | str = False) -> dict:
    """Train from a loaded recipe; returns (and writes to `<output_dir>/train_results.json`) the run summary.

    `resume=True` continues from the last checkpoint in the output directory (or give a checkpoint path).
    The final model (the best on validation when there is validation data) is saved to `<output_dir>` with its
    processor and remote code, and its adapters to `<output_dir>/adapters`.
    """
    from ..models.t2l.adapters import save_adapters

    trainer = prepare_training(recipe, resume=resume)
    args, protocol, train = trainer.args, trainer.protocol, trainer.train_dataset
    validation = trainer.validation
    output = trainer.train(resume_from_checkpoint=trainer.resume_checkpoint)

    skipped = trainer.skipped_videos()
    summary = {
        "recipe": {key: value for key, value in recipe.items() if not key.startswith("_")},
        "recipe_file": recipe.get("_source"),
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
        "target_protocols": list(recipe["target_protocols"]),
    }
    try:
        trainer.save_model(args.output_dir)  # every rank calls it; Trainer writes from the main process only
        if trainer.is_world_process_zero():
            # the pipeline's code and task next to the weights: `pipeline(model=dir, trust_remote_code=True)`
            from ..pipelines.zero_shot_video_classification import add_pipeline_to_checkpoint

            add_pipeline_to_checkpoint(args.output_dir)
            save_adapters(trainer.accelerator.unwrap_model(trainer.model), Path(args.output_dir) / "adapters",
                          base_model_name_or_path=recipe["model"]["clip"])
            write_json(Path(args.output_dir) / RESULTS_NAME, json.loads(json.dumps(summary, default=str)))
    except OSError as error:  # the checkpoints stay as they were: `--resume` continues from the last one
        raise OutputWriteError(f"cannot write the trained model to {args.output_dir}: "
                               f"{describe_os_error(error)}") from error
        for target in summary["target_protocols"]:
            logger.info("evaluate with: t2l evaluate --model %s --protocol %s --data-root <videos>", args.output_dir, target)
    return summary


__all__ = [
    "AugmentationEpochCallback",
    "DEFAULT_RECIPE",
    "T2LTrainer",
    "apply_overrides",
    "build_datasets",
    "build_model",
    "build_processor",
    "build_training_arguments",
    "load_recipe",
    "custom_protocol",
    "official_lr_lambda",
    "prepare_training",
    "run_training",
    "warmup_steps_for",
]
