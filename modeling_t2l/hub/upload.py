"""What a model upload contains: an allow-list of the folder's files plus generated files, as one list.

`plan_upload(model_dir, card_text)` returns an `UploadPlan`: every `UploadFile` (path in the repository and its
content) and every file of the folder that is left out, with the reason. The dry run writes exactly these files
(`write_plan`); the upload sends exactly these files. Neither writes into the model folder: the pipeline entry of
config.json, the remote code and the description files are generated in memory.

Uploaded from the folder (anything else is left out and listed):
- weights: `*.safetensors` (and their `*.safetensors.index.json`) at the top level;
- configs: config.json, generation_config.json, processor / preprocessor / image-processor / video-processor
  configs;
- tokenizer files: tokenizer.json, tokenizer_config.json, vocab.json, merges.txt, special_tokens_map.json,
  added_tokens.json;
- remote code: top-level `*.py`;
- adapters: `adapters/*.safetensors`, `adapters/*.json`;
- results: results.json, eval_results.json, all_results.json at the top level, and `*.json` / `*.md` under
  `eval_results/` or `results/`;
- descriptions: `descriptions/*.csv`, `descriptions/LICENSE`, `descriptions/README.md`.
Never: a dotfile or anything under a dot-folder, a symbolic link that leads outside the folder (links are never
followed into folders), the folder's own README.md (the rendered card replaces it), train_results.json (the
training record: read for the card, but it holds local paths).
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from ..remote_code import bundle_modules

TASK = "zero-shot-video-classification"
# Modules a checkpoint needs for trust_remote_code (pipeline, model, processor); bundled from the package when the
# folder lacks them.
REMOTE_CODE_MODULES = ("modeling_t2l.pipelines.zero_shot_video_classification", "modeling_t2l.processing.processing_t2l")
REQUIRED_FILES = ("config.json",)
CARD_NAME = "README.md"
TRAINING_RECORD = "train_results.json"
DESCRIPTIONS_DIR = "descriptions"

_TOP_LEVEL = (
    "*.safetensors", "*.safetensors.index.json", "*.py",
    "config.json", "generation_config.json", "processor_config.json", "preprocessor_config.json",
    "image_processor_config.json", "video_preprocessor_config.json",
    "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json",
    "added_tokens.json",
    "results.json", "eval_results.json", "all_results.json",
)
_IN_FOLDER = {
    "adapters": ("*.safetensors", "*.json"),
    "eval_results": ("*.json", "*.md"),
    "results": ("*.json", "*.md"),
    DESCRIPTIONS_DIR: ("*.csv", "LICENSE", "README.md"),
}


@dataclass(frozen=True)
class UploadFile:
    """One file of the upload: a file of the model folder sent as it is (`Path`), or generated `bytes`."""

    path_in_repo: str
    content: bytes | Path

    def read_bytes(self) -> bytes:
        return self.content if isinstance(self.content, bytes) else self.content.read_bytes()


@dataclass
class UploadPlan:
    files: list[UploadFile]
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (path in the folder, why it is not uploaded)

    @property
    def names(self) -> list[str]:
        return [file.path_in_repo for file in self.files]

    def left_out_lines(self) -> list[str]:
        return [f"{name}: {reason}" for name, reason in self.left_out]


_NESTED_FOLDERS = ("eval_results", "results")  # folders whose sub-folders are uploaded too
_LEFT_OUT_MODEL_FILE = "not a model file (only weights, configs, tokenizer, code, adapters, results and descriptions)"


def _folder_allowed(relative: str) -> bool:
    parts = relative.split("/")
    return parts[0] in _IN_FOLDER and (len(parts) == 1 or parts[0] in _NESTED_FOLDERS)


def is_allowed(relative: str) -> bool:
    """Whether a file at this path of a model folder belongs in the model repository (see the module docstring)."""
    folder, _, name = relative.rpartition("/")
    if not folder:
        return any(fnmatch(name, pattern) for pattern in _TOP_LEVEL)
    patterns = _IN_FOLDER.get(folder.split("/")[0], ()) if _folder_allowed(folder) else ()
    return any(fnmatch(name, pattern) for pattern in patterns)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve(strict=True).relative_to(root)
        return True
    except (OSError, RuntimeError, ValueError):  # outside, dangling or looping
        return False


def select_files(model_dir) -> tuple[dict[str, Path], list[tuple[str, str]]]:
    """({path in repo: file} of the allowed files, [(path, reason)] of every other file, folder and link)."""
    root = Path(model_dir).resolve()
    selected: dict[str, Path] = {}
    left_out: list[tuple[str, str]] = []
    for directory, folders, files in os.walk(root, followlinks=False):
        base = Path(directory)
        prefix = "" if base == root else base.relative_to(root).as_posix() + "/"
        kept = []
        for name in sorted(folders):
            relative = prefix + name
            if (base / name).is_symlink():
                left_out.append((relative + "/", "symbolic link to a folder (links to folders are not followed)"))
            elif name.startswith("."):
                left_out.append((relative + "/", "hidden folder"))
            elif not _folder_allowed(relative):
                left_out.append((relative + "/", "folder not uploaded: " + _LEFT_OUT_MODEL_FILE))
            else:
                kept.append(name)
        folders[:] = kept  # os.walk descends only into these
        for name in sorted(files):
            path, relative = base / name, prefix + name
            if name.startswith("."):
                left_out.append((relative, "hidden file"))
            elif path.is_symlink() and not _inside(path, root):
                left_out.append((relative, "symbolic link to outside the folder"))
            elif relative == CARD_NAME:
                left_out.append((relative, "replaced by the rendered model card"))
            elif relative == TRAINING_RECORD:
                left_out.append((relative, "training record (read for the card; it holds local paths)"))
            elif not is_allowed(relative):
                left_out.append((relative, _LEFT_OUT_MODEL_FILE))
            else:
                selected[relative] = path
    return selected, left_out


def _config_with_pipeline(config_file: Path) -> bytes:
    """config.json as the repository needs it: with the pipeline entry, so `pipeline(model=repo_id,
    trust_remote_code=True)` infers the task. The folder's file is left as it is."""
    from ..pipelines.zero_shot_video_classification import PIPELINE_ENTRY

    config = json.loads(config_file.read_text(encoding="utf-8"))
    config.setdefault("custom_pipelines", {})[TASK] = dict(PIPELINE_ENTRY)
    return (json.dumps(config, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _bundled_descriptions() -> dict[str, bytes]:
    from ..zero_shot import prompts

    source = Path(prompts.DESCRIPTIONS_DIR)
    if not source.is_dir():
        return {}
    return {f"{DESCRIPTIONS_DIR}/{path.name}": path.read_bytes() for path in sorted(source.iterdir())
            if path.is_file() and (path.suffix == ".csv" or path.name in ("LICENSE", "README.md"))}


def _family_modules(config: dict) -> list[str]:
    """The config and model modules of the registered family a saved config names (none if unknown)."""
    from ..models.registry import get_family

    try:
        family = get_family(config.get("model_type"))
    except KeyError:
        return []
    return [family.config_class.__module__, family.classification_class.__module__]


def plan_upload(model_dir, card_text: str) -> UploadPlan:
    """Every file one commit uploads (allowed folder files, generated config / code / descriptions, the card)."""
    model_dir = Path(model_dir)
    selected, left_out = select_files(model_dir)
    files: dict[str, bytes | Path] = dict(selected)
    weights = [name for name in files if name.endswith(".safetensors") and "/" not in name]
    missing = [name for name in REQUIRED_FILES if name not in files] + ([] if weights else ["*.safetensors"])
    if missing:
        raise FileNotFoundError(f"{model_dir}: not a saved model, missing {missing} (save it with save_pretrained "
                                f"or `t2l train`)")
    config = json.loads(selected["config.json"].read_text(encoding="utf-8"))
    # package code fills the remote code the folder lacks (the folder's own files take precedence): the pipeline,
    # the processor and the family's config and model modules
    for name, source in bundle_modules([*REMOTE_CODE_MODULES, *_family_modules(config)]).items():
        files.setdefault(name, source.encode("utf-8"))
    if TASK not in config.get("custom_pipelines", {}):
        files["config.json"] = _config_with_pipeline(selected["config.json"])
    if not any(name.startswith(DESCRIPTIONS_DIR + "/") for name in files):
        files.update(_bundled_descriptions())
    files[CARD_NAME] = card_text.encode("utf-8")
    return UploadPlan([UploadFile(name, files[name]) for name in sorted(files)], left_out)


def write_plan(plan: UploadPlan, directory) -> Path:
    """Write the upload into `directory` (the dry run), file for file what the commit would send."""
    directory = Path(directory)
    for file in plan.files:
        target = directory / file.path_in_repo
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(file.content, bytes):
            target.write_bytes(file.content)
        else:
            shutil.copyfile(file.content, target)
    return directory


__all__ = ["REMOTE_CODE_MODULES", "UploadFile", "UploadPlan", "is_allowed", "plan_upload", "select_files",
           "write_plan"]
