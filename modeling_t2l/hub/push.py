"""Publish a trained T2L model: card from `models/t2l/cards/`, then weights, processor, remote code and card in ONE commit.

    card = render_card("k400_zero_shot_vitb16", repo_id="me/t2l-k400", model_dir="runs/k400",
                       results=["eval_results/zero_shot_hmdb51/results.json"])
    push_model("runs/k400", "me/t2l-k400", "k400_zero_shot_vitb16", results=[...])

Cards are rendered with huggingface_hub's `ModelCard.from_template` and `ModelCardData`: library `transformers`,
pipeline tag `video-classification` (the Hub has no zero-shot video tag, spec hf_integration F7) with `zero-shot` in
the tags, `base_model`, `datasets`, and `eval_results` (the model-index) naming the protocol of every number.
Numbers reported by the authors and numbers reproduced with this library stay in separate tables and carry
different `source_name`s in the model-index.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Sequence

import yaml

from ..remote_code import bundle_modules

# package data, so `t2l push` renders cards from an installed wheel too
DEFAULT_CARDS_DIR = Path(__file__).resolve().parents[1] / "models" / "t2l" / "cards"
CARD_SPECS_NAME = "cards.yaml"
CARD_TEMPLATE_NAME = "model_card.md"
AUTHORS_SOURCE = ("T2L authors (README)", "https://github.com/Shahzadnit/T2L")
REPRODUCED_SOURCE = "reproduced with modeling_t2l"
TAGS = ["zero-shot", "video-classification", "action-recognition", "video-text", "clip", "t2l", "custom_code"]
# Modules a checkpoint needs for trust_remote_code (pipeline, model, processor); bundled from the package when the
# folder lacks them.
REMOTE_CODE_MODULES = ("modeling_t2l.pipelines.zero_shot_video_classification", "modeling_t2l.processing.processing_t2l")
REQUIRED_FILES = ("config.json", "configuration_t2l.py", "modeling_t2l.py")
# Local training leftovers that do not belong in a model repository.
EXCLUDED_PARTS = ("checkpoint-", "runs", "training_args.bin", "train_results.json", ".git", "__pycache__")


def load_card_spec(name: str, cards_dir=None) -> dict:
    path = Path(cards_dir or DEFAULT_CARDS_DIR) / CARD_SPECS_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: card metadata not found (pass cards_dir= / --cards-dir)")
    specs = yaml.safe_load(path.read_text())
    if name not in specs:
        raise KeyError(f"{path}: no card named {name!r}; cards: {', '.join(sorted(specs))}")
    return specs[name]


def _reproduced_rows(results: Sequence) -> tuple[list[dict], list[str]]:
    """Rows and one-line summaries from `results.json` files written by `t2l evaluate` (paths or dicts)."""
    rows, summaries = [], []
    for item in results:
        data = json.loads(Path(item).read_text()) if not isinstance(item, dict) else item
        protocol = data["protocol"]
        for split, result in data["splits"].items():
            rows.append({"protocol": protocol["protocol"], "dataset": protocol["dataset"], "split": split, **result})
        summary = data["aggregate"]
        if "hm" in summary:
            summaries.append(f"`{protocol['protocol']}`: base {summary['base']:.2f}, novel {summary['novel']:.2f}, "
                             f"HM {summary['hm']:.2f}" + (" (one seed)" if summary.get("single_seed") else ""))
        elif "mean" in summary:
            summaries.append(f"`{protocol['protocol']}`: top-1 {summary['mean']:.2f} ± {summary['std']:.2f} "
                             f"(population std over {summary['num_splits']} splits)")
        else:
            summaries.append(f"`{protocol['protocol']}`: top-1 {summary['top1']:.2f}")
    return rows, summaries


def render_card(name: str, repo_id: str, model_dir=None, results: Sequence = (), cards_dir=None, num_frames=None):
    """A `huggingface_hub.ModelCard` for a card of `models/t2l/cards/cards.yaml`, with reproduced results if given."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    spec = load_card_spec(name, cards_dir)
    if num_frames is None and model_dir is not None and (Path(model_dir) / "config.json").is_file():
        num_frames = json.loads((Path(model_dir) / "config.json").read_text()).get("num_frames")
    reproduced, summaries = _reproduced_rows(results)
    eval_results = [
        EvalResult(
            task_type="video-classification", dataset_type=row["dataset"], dataset_name=row["dataset_name"],
            dataset_config=row["protocol"], metric_type="accuracy", metric_name=row["metric"],
            metric_value=row["value"], source_name=AUTHORS_SOURCE[0], source_url=AUTHORS_SOURCE[1],
        )
        for row in spec.get("reported", [])
    ]
    eval_results += [
        EvalResult(
            task_type="video-classification", dataset_type=row["dataset"], dataset_name=f"{row['protocol']} {row['split']}",
            dataset_config=row["protocol"], dataset_split=row["split"], metric_type="accuracy", metric_name="top-1",
            metric_value=round(row["top1"], 2), source_name=REPRODUCED_SOURCE,
            source_url=f"https://huggingface.co/{repo_id}",  # measured on this very checkpoint
        )
        for row in reproduced
    ]
    card_data = ModelCardData(
        library_name="transformers",
        pipeline_tag="video-classification",
        license="mit",
        tags=TAGS,
        base_model=spec["base_model"],
        datasets=spec.get("datasets"),
        metrics=["accuracy"],
        model_name=spec["title"],
        eval_results=eval_results or None,
    )
    template = (Path(cards_dir or DEFAULT_CARDS_DIR) / CARD_TEMPLATE_NAME).read_text()
    return ModelCard.from_template(
        card_data, template_str=template, repo_id=repo_id, title=spec["title"], summary=spec["summary"].strip(),
        base_model=spec["base_model"], recipe=spec.get("recipe", ""), num_frames=num_frames or "?",
        eval_protocols=spec.get("eval_protocols", []), reported=spec.get("reported", []), reproduced=reproduced,
        reproduced_summaries=summaries, notes=spec.get("notes", []),
    )


def upload_files(model_dir) -> list[tuple[str, Path | bytes]]:
    """(path in repo, local file or bytes) for everything a model repo needs; package code fills missing remote code."""
    model_dir = Path(model_dir)
    files = {}
    for path in sorted(model_dir.rglob("*")):
        relative = path.relative_to(model_dir).as_posix()
        if path.is_file() and not any(part.startswith(EXCLUDED_PARTS) for part in relative.split("/")):
            files[relative] = path
    for name, source in bundle_modules(REMOTE_CODE_MODULES).items():
        files.setdefault(name, source.encode("utf-8"))
    weights = [name for name in files if name.endswith(".safetensors") and "/" not in name]
    missing = [name for name in REQUIRED_FILES if name not in files] + ([] if weights else ["*.safetensors"])
    if missing:
        raise FileNotFoundError(f"{model_dir}: not a saved T2L model, missing {missing} (save it with save_pretrained "
                                f"or `t2l train`)")
    return sorted(files.items())


def push_model(model_dir, repo_id: str, card: str, *, results: Sequence = (), api=None, token=None,
               private: bool = False, commit_message: str | None = None, cards_dir=None, staging_dir=None):
    """Create the repo if needed and upload the model folder plus the rendered README.md in a single commit.

    `api` defaults to `huggingface_hub.HfApi(token=token)`; tests pass a local fake with the same two methods
    (`create_repo`, `create_commit`). Returns what `create_commit` returns.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    from ..pipelines.zero_shot_video_classification import TASK, add_pipeline_to_checkpoint

    config_file = Path(model_dir) / "config.json"
    if config_file.is_file() and TASK not in json.loads(config_file.read_text()).get("custom_pipelines", {}):
        # a folder saved with `save_pretrained` only: add the pipeline code and task so the Hub repo works with
        # `pipeline(model=repo_id, trust_remote_code=True)`
        add_pipeline_to_checkpoint(model_dir)
    files = upload_files(model_dir)
    model_card = render_card(card, repo_id, model_dir=model_dir, results=results, cards_dir=cards_dir)
    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=path if isinstance(path, bytes) else str(path))
                  for name, path in files if name != "README.md"]
    operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=str(model_card).encode("utf-8")))
    if staging_dir is not None:  # keep a copy of exactly what is uploaded (for inspection / dry runs)
        staging = Path(staging_dir)
        for name, path in files:
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            if isinstance(path, bytes):
                (staging / name).write_bytes(path)
            else:
                shutil.copyfile(path, staging / name)
        (staging / "README.md").write_text(str(model_card))
    api = api or HfApi(token=token)
    api.create_repo(repo_id=repo_id, private=private, exist_ok=True, repo_type="model")
    return api.create_commit(
        repo_id=repo_id, operations=operations, repo_type="model",
        commit_message=commit_message or f"Upload T2L model ({card})",
    )


__all__ = ["load_card_spec", "push_model", "render_card", "upload_files"]
