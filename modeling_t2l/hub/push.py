"""Publish a T2L model: a card describing the model in the folder, then its files in ONE commit.

    card = render_card("k400_zero_shot_vitb16", repo_id="me/t2l-k400", model_dir="runs/k400",
                       results=["eval_results/zero_shot_hmdb51/results.json"])
    result = push_model("runs/k400", "me/t2l-k400", "k400_zero_shot_vitb16", results=[...])
    result.left_out  # [(path, reason)] of the folder's files that were not uploaded

Cards are rendered with huggingface_hub's `ModelCard.from_template` and `ModelCardData`: library `transformers`,
pipeline tag `video-classification` (the Hub has no zero-shot video tag, spec hf_integration F7) with `zero-shot` in
the tags, `base_model`, `datasets`, and `eval_results` (the model-index) naming the protocol of every number.
A card template (the family's `cards/` folder, package data) names a setting; what the card says about the model (architecture, frames, base
model, training data) comes from the folder (`model_facts`). The authors' numbers appear only with
`released=True`, for a folder whose config is the card's declared architecture; numbers reproduced with this
library stay in their own table, with a different `source_name`, and partial evaluations carry their counts.

What is uploaded is `upload.plan_upload`: an allow-list of the folder's files plus generated ones. The dry run
(`staging_dir=`, no Hub) writes exactly the files the commit sends; neither modifies the model folder.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml

from .model_facts import check_released, read_model_facts, result_rows
from .upload import REMOTE_CODE_MODULES, UploadPlan, plan_upload, select_files, write_plan

# package data, so `t2l push` renders cards from an installed wheel too; a folder's own family is used when known
DEFAULT_CARDS_DIR = Path(__file__).resolve().parents[1] / "models" / "t2l" / "cards"
CARD_SPECS_NAME = "cards.yaml"
CARD_TEMPLATE_NAME = "model_card.md"
# T2L's card facts; another family's cards.yaml overrides them in its `family:` entry (name, summary, license,
# authors_source, tags)
AUTHORS_SOURCE = ("T2L authors (README)", "https://github.com/Shahzadnit/T2L")
REPRODUCED_SOURCE = "reproduced with modeling_t2l"
TAGS = ["zero-shot", "video-classification", "action-recognition", "video-text", "clip", "custom_code"]
T2L_FAMILY_CARD = {
    "name": "T2L",
    "license": "mit",
    "summary": "T2L (Temporal Token Learning, TMLR 2025): per-layer temporal tokens and bottleneck adapters on a "
               "frozen CLIP, for zero-shot action recognition through class texts.",
    "authors_source": list(AUTHORS_SOURCE),
    "tags": ["t2l"],
}


def family_cards_dir(model_dir) -> Path:
    """The card templates of the family of the model in `model_dir` (its config's `model_type`), else T2L's."""
    from ..models.registry import get_family

    config = Path(model_dir) / "config.json" if model_dir is not None else None
    if config is not None and config.is_file():
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
        try:
            cards = get_family(model_type).cards_dir
        except KeyError:
            cards = None
        if cards is not None and (Path(cards) / CARD_SPECS_NAME).is_file():
            return Path(cards)
    return DEFAULT_CARDS_DIR


def family_card(cards_dir) -> dict:
    """The family-wide card facts of a cards folder (its `family:` entry), T2L's by default."""
    path = Path(cards_dir) / CARD_SPECS_NAME
    specs = yaml.safe_load(path.read_text()) if path.is_file() else {}
    return {**T2L_FAMILY_CARD, **(specs or {}).get("family", {})}


def load_card_spec(name: str, cards_dir=None) -> dict:
    path = Path(cards_dir or DEFAULT_CARDS_DIR) / CARD_SPECS_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: card metadata not found (pass cards_dir= / --cards-dir)")
    specs = yaml.safe_load(path.read_text())
    if name not in specs or name == "family":
        raise KeyError(f"{path}: no card named {name!r}; cards: {', '.join(sorted(set(specs) - {'family'}))}")
    return specs[name]


def check_repo_id(repo_id: str) -> str:
    """huggingface_hub's own repo id rules, as a one-line ValueError."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        reason = " ".join(str(error).split())
        raise ValueError(f"invalid Hub repo id {repo_id!r}: {reason}") from None
    return repo_id


def render_card(name: str, repo_id: str, model_dir=None, results: Sequence = (), cards_dir=None,
                released: bool = False):
    """A `huggingface_hub.ModelCard` for the model in `model_dir`, in the setting `name` of its family's `cards.yaml`.

    `released=True` says the folder holds the authors' released weights (converted): the folder's config must then
    be the card's declared architecture, and the card carries the authors' title, summary, base model and numbers.
    """
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    cards_dir = cards_dir or family_cards_dir(model_dir)
    family = family_card(cards_dir)
    spec = load_card_spec(name, cards_dir)
    facts = read_model_facts(model_dir) if model_dir is not None else None
    if released:
        if facts is None:
            raise ValueError("released=True needs model_dir: the folder's config is checked against the card")
        check_released(facts, spec, name)
    reproduced, summaries = result_rows(results)
    reported = spec.get("reported", []) if released else []
    eval_results = [
        EvalResult(
            task_type="video-classification", dataset_type=row["dataset"], dataset_name=row["dataset_name"],
            dataset_config=row["protocol"], metric_type="accuracy", metric_name=row["metric"],
            metric_value=row["value"], source_name=family["authors_source"][0], source_url=family["authors_source"][1],
        )
        for row in reported
    ]
    eval_results += [
        EvalResult(
            task_type="video-classification", dataset_type=row["dataset"], dataset_name=f"{row['protocol']} {row['label']}",
            dataset_config=row["protocol"], dataset_split=row["split"], metric_type="accuracy", metric_name="top-1",
            metric_value=round(row["top1"], 2), source_name=REPRODUCED_SOURCE,
            source_url=f"https://huggingface.co/{repo_id}",  # measured on this very checkpoint
        )
        for row in reproduced
    ]
    if released:
        title, summary, base_model = spec["title"], spec["summary"].strip(), spec["base_model"]
        datasets, recipe = spec.get("datasets"), spec.get("recipe", "")
    else:
        base_model = facts.base_model if facts else None
        trained_on = f", trained on {facts.training_dataset}" if facts and facts.training_dataset else ""
        vit = facts.vit_name if facts else "ViT"
        frames = facts.architecture.get("num_frames") if facts else None
        title = f"{family['name']} {vit}{trained_on} ({frames or '?'} frames)"
        summary = (
            f"{family['summary']} What this card says about the model comes "
            "from the uploaded folder (its config and training record). The card follows the "
            f"`{name}` card template; the authors' numbers for that template belong to their released weights, "
            "not to this model."
        )
        datasets = sorted({d for d in [facts.training_dataset if facts else None, *(r["dataset"] for r in reproduced)]
                           if d}) or None
        recipe = facts.recipe_file if facts else None
    card_data = ModelCardData(
        library_name="transformers",
        pipeline_tag="video-classification",
        license=spec.get("license", family["license"]),
        tags=[*TAGS, *family["tags"]],
        base_model=base_model,
        datasets=datasets,
        metrics=["accuracy"],
        model_name=title,
        eval_results=eval_results or None,
    )
    # the template's notes are about the authors' evaluation of their release
    notes = [*(facts.notes if facts else []), *(spec.get("notes", []) if released else [])]
    template = (Path(cards_dir) / CARD_TEMPLATE_NAME).read_text()
    return ModelCard.from_template(
        card_data, template_str=template, repo_id=repo_id, title=title, summary=summary, card_name=name,
        architecture=facts.describe_architecture() if facts else "not known (no model folder given)",
        base_model=base_model, training=facts.describe_training() if facts else "not recorded", recipe=recipe,
        eval_protocols=spec.get("eval_protocols", []), reported=reported, reproduced=reproduced,
        reproduced_summaries=summaries, notes=notes, num_frames=facts.architecture.get("num_frames") if facts else None,
        source_checkpoint=spec.get("source_checkpoint"), wise_ft_alpha=spec.get("wise_ft_alpha"),
    )


def build_upload(model_dir, repo_id: str, card: str, *, results: Sequence = (), cards_dir=None,
                 released: bool = False) -> UploadPlan:
    """The whole upload of one commit: the allowed files of the folder, generated files, the rendered card."""
    check_repo_id(repo_id)
    model_card = render_card(card, repo_id, model_dir=model_dir, results=results, cards_dir=cards_dir,
                             released=released)
    return plan_upload(model_dir, str(model_card))


@dataclass
class PushResult:
    """What `push_model` did: the commit (None for a dry run), the files sent and the files left out."""

    commit: Any
    plan: UploadPlan

    @property
    def commit_url(self) -> str | None:
        return getattr(self.commit, "commit_url", None)

    @property
    def files(self) -> list[str]:
        return self.plan.names

    @property
    def left_out(self) -> list[tuple[str, str]]:
        return self.plan.left_out


def push_model(model_dir, repo_id: str, card: str, *, results: Sequence = (), api=None, token=None,
               private: bool = False, commit_message: str | None = None, cards_dir=None, staging_dir=None,
               dry_run: bool = False, released: bool = False) -> PushResult:
    """Create the repo if needed and upload the planned files (card included) in a single commit.

    `staging_dir`: also write the upload there, file for file; with `dry_run=True` only that (the Hub is never
    contacted). `api` defaults to `huggingface_hub.HfApi(token=token)`; tests pass a local fake with the same two
    methods (`create_repo`, `create_commit`).
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    plan = build_upload(model_dir, repo_id, card, results=results, cards_dir=cards_dir, released=released)
    if staging_dir is not None:
        write_plan(plan, staging_dir)
    if dry_run:
        return PushResult(None, plan)
    operations = [
        CommitOperationAdd(path_in_repo=file.path_in_repo,
                           path_or_fileobj=file.content if isinstance(file.content, bytes) else str(file.content))
        for file in plan.files
    ]
    api = api or HfApi(token=token)
    api.create_repo(repo_id=repo_id, private=private, exist_ok=True, repo_type="model")
    commit = api.create_commit(
        repo_id=repo_id, operations=operations, repo_type="model",
        commit_message=commit_message or f"Upload T2L model ({card})",
    )
    return PushResult(commit, plan)


def upload_files(model_dir) -> list[tuple[str, Path]]:
    """(path in repo, local file) of the folder's files an upload takes as they are (see `upload.select_files`)."""
    return sorted(select_files(model_dir)[0].items())


__all__ = ["PushResult", "REMOTE_CODE_MODULES", "build_upload", "check_repo_id", "load_card_spec", "push_model",
           "render_card", "upload_files"]
