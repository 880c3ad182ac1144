"""`t2l train` as separate processes: reproducible weights, kill -9 then `--resume`, partial checkpoints.

Every run here is `python -m modeling_t2l.cli train` in its own process, on the tiny recipe of test_training (tiny
CLIP, 8 generated videos and one undecodable file), with two text templates per class so that the collator's
template draws are part of what must be reproduced. All processes get the same thread count
(OMP_NUM_THREADS=1): bit-identical weights are promised for the same recipe, machine, library versions and
thread count, so the comparisons below are exact (`torch.equal`), not within a tolerance.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from modeling_t2l.training.checkpoints import MANIFEST_NAME, STAGING_DIR, checkpoint_folders
from tests.test_training import make_tiny_run

REPO = Path(__file__).resolve().parent.parent
# 9 listed videos (one undecodable), batch 3: 3 steps per epoch, 6 epochs = 18 steps, a checkpoint every 3
SETTINGS = ["training.per_device_train_batch_size=3", "training.num_train_epochs=6", "training.save_steps=3",
            "training.save_total_limit=10"]
STEPS, EPOCHS = 18, 6
TEMPLATES = ["a video of a person doing {}.", "a clip of {}."]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def _command(recipe: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "modeling_t2l.cli", "train", "--config", str(recipe), *SETTINGS, *extra]


def _train(recipe: Path, *extra: str) -> subprocess.CompletedProcess:
    completed = subprocess.run(_command(recipe, *extra), cwd=REPO, env=_env(), capture_output=True, text=True,
                               timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


def _recipe(data: Path, output_dir: Path) -> Path:
    path = make_tiny_run(data, output_dir)
    recipe = yaml.safe_load(path.read_text())
    recipe["data"]["text_templates"] = TEMPLATES
    path.write_text(yaml.safe_dump(recipe))
    return path


def _weights(folder: Path) -> dict:
    return load_file(str(folder / "model.safetensors"))


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    different = [key for key in a if not torch.equal(a[key], b[key])]
    assert different == [], f"{len(different)} of {len(a)} tensors differ, e.g. {different[:3]}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The data and one uninterrupted run, in its own process."""
    root = tmp_path_factory.mktemp("reliability")
    recipe = _recipe(root / "data", root / "first")
    _train(recipe)
    return root


def test_two_processes_train_bit_identical_weights(reference):
    second = _recipe(reference / "data", reference / "second")
    _train(second)
    first, again = _weights(reference / "first"), _weights(reference / "second")
    _assert_same_weights(first, again)
    # what is compared did train: the new tensors moved away from their initial values
    start = _weights(reference / "first" / "checkpoint-3")
    assert any(not torch.equal(first[key], start[key]) for key in first)
    assert any("temporal" in key or "adapter" in key for key in first)


def test_kill_9_then_resume_gives_the_uninterrupted_weights_and_skip_count(reference):
    output = reference / "killed"
    recipe = _recipe(reference / "data", output)
    seed = random.randrange(1 << 30)
    delay = random.Random(seed).uniform(0.0, 0.15)  # after the first complete checkpoint: a step or a save
    process = subprocess.Popen(_command(recipe), cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 600
        while not (output / "checkpoint-3" / MANIFEST_NAME).is_file():
            assert process.poll() is None, process.stderr.read()[-3000:]
            assert time.time() < deadline
            time.sleep(0.01)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, f"the run ended before the kill (delay {delay:.3f} s, seed {seed})"
    assert not (output / "train_results.json").exists()
    killed_at = [folder.name for folder in checkpoint_folders(output)]

    _train(recipe, "--resume")
    _assert_same_weights(_weights(reference / "first"), _weights(output))
    uninterrupted = json.loads((reference / "first" / "train_results.json").read_text())
    resumed = json.loads((output / "train_results.json").read_text())
    assert resumed["global_step"] == STEPS
    # the undecodable video, once per epoch over the whole run, not only since the resume
    assert uninterrupted["skipped_videos"] == EPOCHS
    assert resumed["skipped_videos"] == EPOCHS, (killed_at, delay, seed)
    assert [example["path"] for example in resumed["skipped_examples"]] == [
        example["path"] for example in uninterrupted["skipped_examples"]]


def test_resume_passes_over_partial_checkpoints_with_a_warning(reference):
    output = reference / "partial"
    output.mkdir()
    for step in (3, 6, 9):
        shutil.copytree(reference / "first" / f"checkpoint-{step}", output / f"checkpoint-{step}")
    # what a full disk leaves: weights cut short; what a kill during a save leaves: a folder without weights
    weights = output / "checkpoint-6" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    (output / "checkpoint-9" / "model.safetensors").unlink()
    (output / "checkpoint-9" / MANIFEST_NAME).unlink()
    recipe = _recipe(reference / "data", output)

    completed = _train(recipe, "--resume")
    assert "not resuming from" in completed.stderr and "checkpoint-9" in completed.stderr
    assert "checkpoint-6" in completed.stderr and "model.safetensors has" in completed.stderr
    _assert_same_weights(_weights(reference / "first"), _weights(output))
    assert json.loads((output / "train_results.json").read_text())["skipped_videos"] == EPOCHS
    # the re-written checkpoints are complete; nothing is left half-written
    assert all((folder / MANIFEST_NAME).is_file() for folder in checkpoint_folders(output))
    assert not (output / STAGING_DIR).exists()


def test_best_checkpoint_is_named_by_its_final_folder(tmp_path):
    """Checkpoints are written under .incomplete/ and renamed: the best one is recorded under its final name, in the
    trainer's state and in every checkpoint's trainer_state.json (what a resumed run reads)."""
    from modeling_t2l.training.trainer import load_recipe, prepare_training

    output = tmp_path / "out"
    recipe = load_recipe(make_tiny_run(tmp_path / "data", output, broken_video=False),
                         ["data.validation_split=val", "training.save_strategy=epoch", "training.num_train_epochs=2"])
    trainer = prepare_training(recipe)
    trainer.train()
    best = Path(trainer.state.best_model_checkpoint)
    assert best.parent == output and best.is_dir() and (best / MANIFEST_NAME).is_file()
    for folder in checkpoint_folders(output):
        state = json.loads((folder / "trainer_state.json").read_text())
        assert STAGING_DIR not in state["best_model_checkpoint"]
        assert Path(state["best_model_checkpoint"]).parent == output
