"""Typed training recipes: three argument dataclasses parsed with transformers' `HfArgumentParser`.

A recipe is a YAML file with three sections, one per dataclass (`configuration/<family>/*.yaml`):

    model:     ModelArguments          which family, which CLIP to start from, frames, config overrides
    data:      DataArguments           protocol (or your own split files), videos, validation data, processor
    training:  VideoTrainingArguments  transformers.TrainingArguments plus the official optimizer/schedule extras

`load_recipe(path, ["training.learning_rate=3e-5", "data.data_root=/videos"])` applies `section.field=value`
overrides (values read as YAML) and refuses unknown sections and fields, naming the file.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml
from transformers import HfArgumentParser, TrainingArguments

from .recipes import resolve_recipe


@dataclass
class ModelArguments:
    """What to train."""

    family: str = field(default="t2l", metadata={"help": "model_type of the family (modeling_t2l.families())"})
    clip: str = field(default="openai/clip-vit-base-patch16", metadata={"help": "CLIP checkpoint to start from"})
    num_frames: int = field(default=8, metadata={"help": "frames per clip"})
    config: dict = field(default_factory=dict, metadata={"help": "overrides of the family's config fields"})
    options: dict = field(
        default_factory=dict, metadata={"help": "the family's build options (T2L: text_adapter, lora)"}
    )


@dataclass
class DataArguments:
    """What to train on, and what to select the model with."""

    protocol: str | dict | None = field(
        default=None,
        metadata={"help": "a registered protocol (modeling_t2l.data.list_protocols()) or a mapping for your own "
                          "data: {name, labels: <id,name CSV>, train: <list>, eval: {<split>: <list>}}"},
    )
    protocol_options: dict = field(default_factory=dict, metadata={"help": "get_protocol options (train_list, ...)"})
    train_split: str | None = field(default=None, metadata={"help": "default: the protocol's only/first train split"})
    data_root: str | None = field(default=None, metadata={"help": "folder with the training videos"})
    text_templates: list[str] | None = field(default=None, metadata={"help": "templates instead of the defaults"})
    processor: dict = field(default_factory=dict, metadata={"help": "image processor settings (crop_size, ...)"})
    validation_split: str | None = field(
        default=None, metadata={"help": "an UNSCORED eval split of the protocol (never a target test set)"}
    )
    validation_holdout_fraction: float | None = field(
        default=None, metadata={"help": "or hold out this (seeded) fraction of the training list"}
    )
    validation_data_root: str | None = field(default=None, metadata={"help": "default: data_root"})
    validation_batch_size: int = 16
    validation_num_workers: int = 0
    validation_num_clips: int = field(default=1, metadata={"help": "clips per validation video"})
    validation_clip_sampling: str = field(
        default="uniform", metadata={"help": "'uniform' or 'random' (TC-CLIP validates on 2 random clips)"}
    )
    target_protocols: list[str] = field(
        default_factory=list, metadata={"help": "what to evaluate afterwards (never used during training)"}
    )

    @property
    def has_validation(self) -> bool:
        return bool(self.validation_split or self.validation_holdout_fraction)


@dataclass
class VideoTrainingArguments(TrainingArguments):
    """`TrainingArguments` with the defaults of the official recipes and two extras transformers lacks.

    * `warmup_epochs`: linear warm-up over this many epochs (the official recipes' unit), then the schedule of
      `lr_scheduler_type` (cosine to 0 by default, transformers' `get_cosine_schedule_with_warmup`). Leave it
      unset (`null`) to use `warmup_steps` (a count, or a fraction of the run below 1, rounded to a step).
    * `visual_lr_ratio`: vision-tower tensors train at `learning_rate * visual_lr_ratio` (the default parameter
      groups; a family may define its own, `model.optimizer_parameter_groups`).
    * `cosine_lr_min`: timm's cosine schedule to this lr, as the TC-CLIP recipes use it (`training/schedules.py`).

    Weight decay applies to every trainable tensor, biases and temporal prompts included, as the official code
    does (Trainer's default would exempt biases and norms).
    """

    learning_rate: float = 1.0e-4
    adam_beta2: float = 0.98
    weight_decay: float = 0.2
    lr_scheduler_type: str = "cosine"
    warmup_epochs: float | None = field(default=5.0, metadata={"help": "linear warm-up length in epochs"})
    visual_lr_ratio: float = field(default=1.0, metadata={"help": "vision-tower lr = learning_rate * ratio"})
    cosine_lr_min: float | None = field(
        default=None,
        metadata={"help": "timm's CosineLRScheduler instead of lr_scheduler_type: warm-up from 0, then a cosine to "
                          "this absolute lr counted over the whole run, warm-up included (the TC-CLIP recipes)"},
    )
    seed: int = 1024
    report_to: None | str | list[str] = "none"
    logging_steps: float = 10
    save_strategy: str = "epoch"
    save_total_limit: int | None = 2
    dataloader_drop_last: bool = True  # the official train loaders drop the last partial batch
    ddp_find_unused_parameters: bool | None = False  # every trainable tensor gets a gradient every step
    remove_unused_columns: bool = False  # the collator needs the raw video column

    def __post_init__(self):
        if self.cosine_lr_min is not None and self.cosine_lr_min < 0:
            raise ValueError(f"cosine_lr_min must be >= 0, got {self.cosine_lr_min}")
        if self.remove_unused_columns:
            raise ValueError("remove_unused_columns must stay false: the video collator reads the raw columns")
        super().__post_init__()


SECTIONS = {"model": ModelArguments, "data": DataArguments, "training": VideoTrainingArguments}
YAML_WORDS = {"yes", "no", "on", "off", "y", "n"}


@dataclass
class Recipe:
    """A parsed recipe: the three argument objects and the file they came from."""

    model: ModelArguments
    data: DataArguments
    training: VideoTrainingArguments
    source: str = "<recipe>"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the run summary (`train_results.json`)."""
        return {
            "model": dataclasses.asdict(self.model),
            "data": dataclasses.asdict(self.data),
            "training": self.training.to_dict(),
        }


def parse_value(raw: str):
    """A command-line value as YAML, except that yes/no/on/off stay strings (`save_strategy=no`) and numbers like
    `3e-5`, which YAML 1.1 reads as strings, become floats."""
    raw = raw.strip()
    if raw.lower() in YAML_WORDS:
        return raw
    return _as_number(yaml.safe_load(raw))


def _as_number(value):
    if isinstance(value, str):
        try:
            return float(value) if any(c in value.lower() for c in ".e") else int(value)
        except ValueError:
            return value
    return value


def apply_overrides(raw: dict, overrides: Sequence[str]) -> dict:
    """`section.field=value` (or `section.field.key=value` inside a mapping field) applied to a recipe mapping."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like section.field=value (e.g. training.learning_rate=3e-5)")
        dotted, value = item.split("=", 1)
        keys = dotted.strip().split(".")
        if len(keys) < 2 or keys[0] not in SECTIONS:
            raise ValueError(f"override {item!r}: start with a section, one of {sorted(SECTIONS)}")
        target = raw
        for key in keys[:-1]:
            target = target.setdefault(key, {})
            if target is None or not isinstance(target, dict):
                raise ValueError(f"override {item!r}: {key} is not a mapping")
        target[keys[-1]] = parse_value(value)
    return raw


def _section_values(section: str, values: dict) -> dict:
    values = dict(values or {})
    if section == "training":
        for key in ("save_strategy", "eval_strategy", "logging_strategy"):
            if values.get(key) is False:  # an unquoted `no` in YAML
                values[key] = "no"
        # `1e-4` in a YAML file is a string for PyYAML (YAML 1.1)
        values = {key: _as_number(value) for key, value in values.items()}
    return values


def parse_recipe(raw: dict, source: str = "<recipe>") -> Recipe:
    """A recipe mapping ({model, data, training}) -> `Recipe`; unknown sections or fields raise, naming `source`."""
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: a recipe is a YAML mapping with the sections {sorted(SECTIONS)}")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ValueError(f"{source}: unknown recipe section(s) {unknown}; the sections are {sorted(SECTIONS)}")
    data_values = _section_values("data", raw.get("data"))
    training_values = _section_values("training", raw.get("training"))
    if not training_values.get("output_dir"):
        raise ValueError(f"{source}: training.output_dir is required")
    if DataArguments(**{k: v for k, v in data_values.items() if k.startswith("validation_")}).has_validation:
        # select on validation top-1, evaluated as often as checkpoints are saved
        training_values.setdefault("eval_strategy", training_values.get("save_strategy", "epoch"))
        training_values.setdefault("load_best_model_at_end", True)
        training_values.setdefault("metric_for_best_model", "top1")
        training_values.setdefault("greater_is_better", True)
    else:
        training_values["eval_strategy"] = "no"
        training_values["load_best_model_at_end"] = False
    parsed = {}
    for section, values in (("model", _section_values("model", raw.get("model"))), ("data", data_values),
                            ("training", training_values)):
        try:
            (parsed[section],) = HfArgumentParser(SECTIONS[section]).parse_dict(values)
        except ValueError as error:  # HfArgumentParser: "Some keys are not used ...: [...]"
            known = sorted(f.name for f in dataclasses.fields(SECTIONS[section]) if f.init)
            message = str(error)
            if "not used" in message:
                message = f"unknown field(s) in {section}: {message.split(':', 1)[1].strip()}"
                if section != "training":
                    message += f"; known: {known}"
            raise ValueError(f"{source}: {message}") from None
        except TypeError as error:
            raise ValueError(f"{source}: {section}: {error}") from None
    recipe = Recipe(source=source, **parsed)
    if not recipe.data.protocol:
        raise ValueError(f"{source}: data.protocol is required (one of modeling_t2l.data.list_protocols())")
    if not recipe.data.data_root:
        raise ValueError(f"{source}: data.data_root is required (in the file, or data.data_root=/path/to/videos)")
    return recipe


def load_recipe(path, overrides: Sequence[str] = ()) -> Recipe:
    """Read a recipe (a YAML file, or a bundled recipe's name such as "k400_zero_shot" or "t2l/k400_zero_shot"),
    apply `section.field=value` overrides and parse it into typed arguments."""
    path = resolve_recipe(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a recipe is a YAML mapping with the sections {sorted(SECTIONS)}")
    return parse_recipe(apply_overrides(raw, overrides), source=str(path))


__all__ = [
    "DataArguments",
    "ModelArguments",
    "Recipe",
    "VideoTrainingArguments",
    "apply_overrides",
    "load_recipe",
    "parse_recipe",
    "parse_value",
]
