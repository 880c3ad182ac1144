"""What a model card may say about the model in a folder: read from its config and its training record only.

A card template (hub_cards/cards.yaml) describes the authors' released model of a setting (ViT-B/16, Kinetics-400,
their numbers). A folder holds some model: a tiny test model, a ViT-B/32 run, the converted release. So the card's
architecture, frames, base model and training data come from the folder (`read_model_facts`): config.json, the
training record `train_results.json` that `t2l train` writes (recipe, protocol, split) and the adapters' config.
The authors' numbers are shown only for their released weights: when the user says the folder is the converted
release AND its config has the card's declared architecture (`check_released`).

Reproduced results carry their counts: an evaluation that scored fewer videos than its split list holds is
labelled partial with the numbers scored, skipped (undecodable) and missing (`result_rows`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .upload import TRAINING_RECORD

ADAPTER_CONFIG = "adapters/t2l_adapter_config.json"
# The fields of a card's `architecture:` entry, where each lives in config.json.
ARCHITECTURE_FIELDS = {
    "patch_size": ("vision_config", "patch_size"),
    "hidden_size": ("vision_config", "hidden_size"),
    "num_hidden_layers": ("vision_config", "num_hidden_layers"),
    "image_size": ("vision_config", "image_size"),
    "num_frames": (None, "num_frames"),
}
# OpenAI CLIP names for (patch, width, layers).
_VIT_NAMES = {(32, 768, 12): "ViT-B/32", (16, 768, 12): "ViT-B/16", (14, 1024, 24): "ViT-L/14"}


@dataclass
class ModelFacts:
    """What the folder says about its model. `None` where nothing in the folder records it."""

    architecture: dict
    base_model: str | None = None
    training_dataset: str | None = None
    training_protocol: str | None = None
    training_split: str | None = None
    training_videos: int | None = None
    recipe_file: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def vit_name(self) -> str:
        a = self.architecture
        return _VIT_NAMES.get((a.get("patch_size"), a.get("hidden_size"), a.get("num_hidden_layers")), "ViT")

    def describe_architecture(self) -> str:
        a = self.architecture
        return (f"T2L on a CLIP {self.vit_name} (patch {a.get('patch_size')}, width {a.get('hidden_size')}, "
                f"{a.get('num_hidden_layers')} layers, {a.get('image_size')} px input), "
                f"{a.get('num_frames')} frames per video")

    def describe_training(self) -> str:
        if self.training_protocol is None:
            return "not recorded in this folder (no train_results.json from `t2l train`)"
        split = f", split `{self.training_split}`" if self.training_split else ""
        videos = f", {self.training_videos} videos" if self.training_videos is not None else ""
        return f"`{self.training_dataset}` (protocol `{self.training_protocol}`{split}{videos})"


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not readable JSON ({error})") from error


def _hub_model_id(value) -> str | None:
    """A base model for the Hub metadata must be a repo id, never a local path."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if not value or Path(str(value)).exists():
        return None
    try:
        validate_repo_id(str(value))
    except HFValidationError:
        return None
    return str(value)


def read_model_facts(model_dir) -> ModelFacts:
    model_dir = Path(model_dir)
    config = _read_json(model_dir / "config.json") or {}
    architecture = {}
    for name, (section, key) in ARCHITECTURE_FIELDS.items():
        source = config.get(section, {}) if section else config
        architecture[name] = source.get(key)
    facts = ModelFacts(architecture=architecture)
    record = _read_json(model_dir / TRAINING_RECORD)
    adapters = _read_json(model_dir / ADAPTER_CONFIG)
    base = None
    if record:
        recipe = record.get("recipe") or {}
        base = (recipe.get("model") or {}).get("clip")
        protocol = record.get("protocol") or {}
        facts.training_protocol = protocol.get("protocol")
        facts.training_dataset = protocol.get("dataset")
        facts.training_split = record.get("train_split")
        facts.training_videos = record.get("train_videos")
        facts.recipe_file = record.get("recipe_file")
    if base is None and adapters:
        base = adapters.get("base_model_name_or_path")
    facts.base_model = _hub_model_id(base)
    if base and facts.base_model is None:
        facts.notes.append(f"Built from a local CLIP ({Path(str(base)).name}); no Hub base model is recorded.")
    return facts


def check_released(facts: ModelFacts, spec: dict, card: str) -> None:
    """The folder must have the card's declared architecture to carry the authors' numbers."""
    declared = spec.get("architecture")
    if not declared:
        raise ValueError(f"card {card!r} declares no architecture, so no folder can be its released model")
    differences = [f"{name} {facts.architecture.get(name)} (card: {value})" for name, value in declared.items()
                   if facts.architecture.get(name) != value]
    if differences:
        raise ValueError(f"--released: the model in this folder is not the released {card!r} model; its config "
                         f"differs in {', '.join(differences)}")


# ------------------------------------------------------------------------------------------------- results
def _list_size(protocol: str, split: str) -> int | None:
    """How many videos the protocol's split list holds (None for a protocol or split this library cannot list)."""
    from ..data import get_protocol

    try:
        return len(get_protocol(protocol).entries(split.rpartition("/")[2]))
    except (KeyError, ValueError, FileNotFoundError):
        return None


def result_rows(results: Sequence) -> tuple[list[dict], list[str]]:
    """Rows and one-line summaries from `results.json` files written by `t2l evaluate` (paths or dicts).

    Each row has `label`: the split, and for a partial evaluation its counts ("split1 (partial: 3 of 1530 videos
    scored, 0 skipped, 1527 missing)").
    """
    rows, summaries = [], []
    for item in results:
        data = json.loads(Path(item).read_text()) if not isinstance(item, dict) else item
        protocol = data["protocol"]
        any_partial = False
        for split, result in data["splits"].items():
            scored, skipped = int(result["num_videos"]), int(result.get("skipped_videos", 0))
            size = _list_size(protocol["protocol"], split)
            missing = None if size is None else max(size - scored - skipped, 0)
            partial = bool(skipped or missing)
            if size is None:
                label = f"{split} ({scored} videos scored, {skipped} skipped; split list size unknown)"
            elif partial:
                label = (f"{split} (partial: {scored} of {size} videos scored, {skipped} skipped, "
                         f"{missing} missing)")
            else:
                label = split
            any_partial = any_partial or partial or size is None
            rows.append({"protocol": protocol["protocol"], "dataset": protocol["dataset"], "split": split,
                         "label": label, "partial": partial, "list_size": size, "missing_videos": missing, **result})
        summary = data["aggregate"]
        caveat = ""
        if any_partial:
            caveat = " (partial evaluation: see the counts per split)"
        if summary.get("partial"):
            caveat += f" (only {summary['num_splits']} of the protocol's scored splits)"
        if "hm" in summary:
            summaries.append(f"`{protocol['protocol']}`: base {summary['base']:.2f}, novel {summary['novel']:.2f}, "
                             f"HM {summary['hm']:.2f}" + (" (one seed)" if summary.get("single_seed") else "")
                             + caveat)
        elif "mean" in summary:
            summaries.append(f"`{protocol['protocol']}`: top-1 {summary['mean']:.2f} ± {summary['std']:.2f} "
                             f"(population std over {summary['num_splits']} splits)" + caveat)
        else:
            summaries.append(f"`{protocol['protocol']}`: top-1 {summary['top1']:.2f}" + caveat)
    return rows, summaries


__all__ = ["ModelFacts", "check_released", "read_model_facts", "result_rows"]
