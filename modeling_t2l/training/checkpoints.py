"""Checkpoints that are either complete or invisible, and the choice of the one to resume from.

A kill or a full disk during a save leaves a folder with some files missing or truncated. Trainer's own
`get_last_checkpoint` takes the highest-numbered `checkpoint-N` folder whatever it holds, and the resumed run then
crashes in safetensors. So `ZeroShotVideoTrainer` writes each checkpoint under `<output_dir>/.incomplete/checkpoint-N`,
adds a manifest (every file and its size, written last) and only then renames the folder to
`<output_dir>/checkpoint-N`; a rename within one file system is atomic. `latest_complete_checkpoint` takes the
newest folder whose manifest matches its files and warns about every newer one it passes over (a folder written by
another tool, or damaged afterwards).
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

MANIFEST_NAME = "checkpoint_complete.json"
SKIPS_NAME = "skipped_videos.json"  # the run's skipped-video count up to this checkpoint (restored on resume)
STAGING_DIR = ".incomplete"  # not matched by Trainer's `^checkpoint-(\d+)$`, so never taken for a checkpoint
CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")


class NoCompleteCheckpointError(FileNotFoundError):
    """`--resume` found no checkpoint that was written to the end."""


class OutputWriteError(OSError):
    """The output folder cannot be written (read-only, full disk, ...); the message names the path."""


def describe_os_error(error: OSError) -> str:
    """`No space left on device` rather than `[Errno 28] No space left on device: '...'` (the caller names the path)."""
    return error.strerror or str(error) or type(error).__name__


def _fsync(path: Path) -> None:
    # Flushed to the disk before the rename, so a power cut cannot leave a renamed folder with empty files.
    # Folders cannot be opened for fsync on some systems (Windows); their entries are then left to the OS.
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_json(path: Path, data: dict) -> None:
    """Write JSON to a temporary name and rename it over `path` (never a half-written file)."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _files(folder: Path) -> dict[str, int]:
    return {str(path.relative_to(folder)): path.stat().st_size
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name != MANIFEST_NAME}


def seal(folder: Path, step: int) -> None:
    """Flush every file of a written checkpoint and record them in the manifest (the last file written)."""
    files = _files(folder)
    for name in files:
        _fsync(folder / name)
    write_json(folder / MANIFEST_NAME, {"global_step": step, "files": files})
    _fsync(folder)


def check_complete(folder) -> str | None:
    """None when `folder` is a complete checkpoint, else what is wrong with it (for messages)."""
    folder = Path(folder)
    manifest = folder / MANIFEST_NAME
    if not folder.is_dir():
        return "not a folder"
    if not manifest.is_file():
        return f"no {MANIFEST_NAME} (the save did not finish)"
    try:
        expected = json.loads(manifest.read_text())["files"]
    except (ValueError, KeyError, TypeError):
        return f"unreadable {MANIFEST_NAME}"
    for name, size in expected.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != size:
            return f"{name} has {path.stat().st_size} bytes, {size} were written"
    return None


def checkpoint_folders(output_dir) -> list[Path]:
    """`checkpoint-N` folders of a run, newest (highest N) first."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [(int(match.group(1)), path) for path in output_dir.iterdir()
             if path.is_dir() and (match := CHECKPOINT_PATTERN.match(path.name))]
    return [path for _, path in sorted(found, reverse=True)]


def latest_complete_checkpoint(output_dir) -> Path:
    """The newest complete checkpoint of `output_dir`, warning about each incomplete one passed over.

    Raises `NoCompleteCheckpointError` (one line, naming the folder) when there is none."""
    skipped = []
    for folder in checkpoint_folders(output_dir):
        problem = check_complete(folder)
        if problem is None:
            for name, reason in skipped:
                logger.warning("not resuming from %s: incomplete checkpoint (%s); using %s", name, reason, folder)
            return folder
        skipped.append((folder, problem))
    detail = "; ".join(f"{folder.name}: {reason}" for folder, reason in skipped) or "no checkpoint-N folder"
    raise NoCompleteCheckpointError(f"nothing to resume in {output_dir}: no complete checkpoint ({detail})")


def resolve_resume(resume, output_dir) -> str | None:
    """What to resume from: `True` -> the newest complete checkpoint of `output_dir`; a path -> that checkpoint,
    refused when its manifest does not match its files (one without a manifest is taken, with a warning: it was
    named explicitly); `False` / `None` -> None."""
    if not resume:
        return None
    if resume is True:
        return str(latest_complete_checkpoint(output_dir))
    problem = check_complete(resume)
    if problem == "not a folder":
        raise NoCompleteCheckpointError(f"cannot resume from {resume}: no such folder")
    if problem is not None and problem.startswith(f"no {MANIFEST_NAME}"):
        logger.warning("resuming from %s, which has no %s to check its files against (written by another tool?)",
                       resume, MANIFEST_NAME)
    elif problem is not None:
        raise NoCompleteCheckpointError(f"cannot resume from {resume}: incomplete checkpoint ({problem})")
    return str(resume)


def publish(staged: Path, final: Path) -> None:
    """Move a sealed checkpoint to its final name. An older folder of that name (an explicit resume from an earlier
    step re-writes it) is moved aside first and deleted after, so a complete one exists at every moment."""
    old = None
    if final.exists():
        old = final.with_name(final.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(staged, final)
    _fsync(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def check_writable(folder) -> None:
    """Fail before training when the output folder cannot be created or written (one line, naming it)."""
    folder = Path(folder)
    probe = folder / f".write-test-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise OutputWriteError(f"cannot write to the output folder {folder}: {describe_os_error(error)}") from None


__all__ = [
    "MANIFEST_NAME",
    "NoCompleteCheckpointError",
    "OutputWriteError",
    "SKIPS_NAME",
    "STAGING_DIR",
    "check_complete",
    "check_writable",
    "checkpoint_folders",
    "latest_complete_checkpoint",
    "publish",
    "resolve_resume",
    "seal",
]
