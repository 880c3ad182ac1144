"""Errors a user can fix reach the command line as ONE line on stderr and exit code 2, never a traceback.

Through `modeling_t2l.cli.main` (what `t2l` runs): unknown protocols, bad label files, missing videos (whose
advice names a flag that exists), no checkpoint to resume, a read-only output folder and a full disk. For the last
two, nothing is left that a later `--resume` would take.
"""
import errno
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from transformers import Trainer

from modeling_t2l.cli import main
from modeling_t2l.training.checkpoints import STAGING_DIR, checkpoint_folders
from tests.test_training import make_tiny_run

REPO = Path(__file__).resolve().parent.parent
FAST = ["training.num_train_epochs=1", "training.per_device_train_batch_size=3", "training.save_steps=2"]


def _tiny_run(capsys, root: Path, output_dir: Path) -> Path:
    path = make_tiny_run(root, output_dir, broken_video=False)
    capsys.readouterr()  # what writing the tiny CLIP printed is not the command's
    return path


def _one_line_error(capsys, code: int, command: str) -> str:
    err = capsys.readouterr().err
    # progress bars (loading and writing weights) may come first; they are not part of the error
    lines = [line for line in err.splitlines() if line.strip() and not line.rstrip().endswith("it/s]")]
    assert code == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"t2l {command}: error: "), err
    return lines[0]


def test_unknown_protocol_in_evaluate(tmp_path, capsys):
    code = main(["evaluate", "--model", str(tmp_path), "--protocol", "zero_shot_hmdb52", "--data-root", str(tmp_path)])
    line = _one_line_error(capsys, code, "evaluate")
    assert "unknown protocol 'zero_shot_hmdb52'" in line and "zero_shot_hmdb51" in line


def test_unknown_protocol_option_in_evaluate(tmp_path, capsys, monkeypatch):
    from types import SimpleNamespace

    from modeling_t2l.commands import evaluate as command

    monkeypatch.setattr(command, "load_model_and_processor",
                        lambda path, device, dtype: (object(), SimpleNamespace(num_frames=8)))
    code = main(["evaluate", "--model", str(tmp_path), "--protocol", "zero_shot_hmdb51", "--data-root", str(tmp_path),
                 "--protocol-option", "colour=red"])
    assert "colour" in _one_line_error(capsys, code, "evaluate")


def test_unknown_protocol_in_a_recipe(tmp_path, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"data": {"protocol": "few_shot_hmdb99_k2", "data_root": str(tmp_path)},
                                      "training": {"output_dir": str(tmp_path / "out")}}))
    code = main(["train", "--config", str(recipe)])
    assert "unknown protocol 'few_shot_hmdb99_k2'" in _one_line_error(capsys, code, "train")


@pytest.mark.parametrize("content,problem", [
    ("id,name\n0,archery\none,bowling\n", "row 3 has id 'one', not an integer"),
    ("class,label\n0,archery\n", "needs the header 'id,name'"),
    ("\xff\xfeid,name", "must be UTF-8 text"),
])
def test_bad_label_file_names_the_file(tmp_path, capsys, content, problem):
    path = _tiny_run(capsys, tmp_path / "data", tmp_path / "out")
    labels = tmp_path / "data" / "labels.csv"
    labels.write_bytes(content.encode("latin-1"))
    code = main(["train", "--config", str(path)])
    line = _one_line_error(capsys, code, "train")
    assert str(labels) in line and problem in line


def test_missing_videos_of_a_shipped_recipe_name_real_remedies(tmp_path, capsys):
    code = main(["train", "--config", str(REPO / "configuration" / "t2l" / "few_shot_hmdb51_k2.yaml"),
                 f"data.data_root={tmp_path}", f"training.output_dir={tmp_path / 'out'}", "training.bf16=false",
                 "training.use_cpu=true"])
    line = _one_line_error(capsys, code, "train")
    assert "videos listed in few_shot_hmdb51_k2" in line and f"not found under {tmp_path}" in line
    assert "missing='skip'" not in line  # no such option of t2l train
    assert "t2l validate-data --protocol" in line


def test_missing_videos_in_evaluate_advise_the_missing_flag(tmp_path, capsys, monkeypatch):
    from types import SimpleNamespace

    from modeling_t2l.commands import evaluate as command

    monkeypatch.setattr(command, "load_model_and_processor",
                        lambda path, device, dtype: (object(), SimpleNamespace(num_frames=8)))
    (tmp_path / "kick_ball").mkdir()  # one video of HMDB's test split 1 is there, the others are not
    (tmp_path / "kick_ball" / "funny_soccer_commercial_kick_ball_f_cm_np1_fr_med_0.avi").write_bytes(b"")
    code = main(["evaluate", "--model", "unused", "--protocol", "zero_shot_hmdb51", "--data-root", str(tmp_path)])
    line = _one_line_error(capsys, code, "evaluate")
    assert "1529 of 1530 videos listed in zero_shot_hmdb51/split1" in line
    assert "--missing skip" in line and "missing='skip'" not in line
    # the flag exists and does what the advice says: the one video that is there is kept
    from modeling_t2l.evaluation import evaluate as evaluation

    def dataset_size(model, processor, protocol, data_root, splits=None, missing="error", **kwargs):
        raise ValueError(f"would evaluate {len(protocol.build_dataset('split1', data_root, missing=missing))} video")

    monkeypatch.setattr(evaluation, "evaluate_protocol", dataset_size)
    code = main(["evaluate", "--model", "unused", "--protocol", "zero_shot_hmdb51", "--data-root", str(tmp_path),
                 "--missing", "skip"])
    assert _one_line_error(capsys, code, "evaluate").endswith("would evaluate 1 video")
    # with no video at all, leaving the missing ones out cannot help, and the advice does not say it would
    monkeypatch.undo()
    monkeypatch.setattr(command, "load_model_and_processor",
                        lambda path, device, dtype: (object(), SimpleNamespace(num_frames=8)))
    (tmp_path / "x").mkdir()
    code = main(["evaluate", "--model", "unused", "--protocol", "zero_shot_hmdb51", "--data-root", str(tmp_path / "x"),
                 "--missing", "skip"])
    line = _one_line_error(capsys, code, "evaluate")
    assert "1530 of 1530" in line and "--missing skip" not in line


def test_resume_without_any_checkpoint(tmp_path, capsys):
    path = _tiny_run(capsys, tmp_path / "data", tmp_path / "out")
    code = main(["train", "--config", str(path), "--resume", *FAST])
    line = _one_line_error(capsys, code, "train")
    assert f"nothing to resume in {tmp_path / 'out'}" in line and "no complete checkpoint" in line


def _make_read_only(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root writes through permission bits; the immutable flag stops root as well
        subprocess.run(["chattr", "+i", str(folder)], check=False, capture_output=True)
    try:
        (folder / "probe").write_bytes(b"")
    except OSError:
        return
    (folder / "probe").unlink()
    _make_writable(folder)
    pytest.skip(f"cannot make {folder} read-only here (no chattr for root on this file system)")


def _make_writable(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], check=False, capture_output=True)
    folder.chmod(0o755)


def test_read_only_output_folder(tmp_path, capsys):
    output = tmp_path / "out"
    path = _tiny_run(capsys, tmp_path / "data", output)
    _make_read_only(output)
    try:
        code = main(["train", "--config", str(path), *FAST])
        line = _one_line_error(capsys, code, "train")
        assert f"cannot write to the output folder {output}" in line
        assert list(output.iterdir()) == []
    finally:
        _make_writable(output)


def test_full_disk_during_a_checkpoint_leaves_nothing_to_resume(tmp_path, capsys, monkeypatch):
    output = tmp_path / "out"
    path = _tiny_run(capsys, tmp_path / "data", output)

    def disk_full(self, output_dir):  # the weights are written by then: the folder is a partial checkpoint
        assert (Path(output_dir) / "model.safetensors").is_file()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(Path(output_dir) / "optimizer.pt"))

    monkeypatch.setattr(Trainer, "_save_optimizer_and_scheduler", disk_full)
    code = main(["train", "--config", str(path), *FAST])
    line = _one_line_error(capsys, code, "train")
    assert f"cannot write checkpoint {output / 'checkpoint-2'}" in line and os.strerror(errno.ENOSPC) in line
    assert checkpoint_folders(output) == [] and not (output / STAGING_DIR).exists()
    assert not (output / "train_results.json").exists()

    monkeypatch.undo()
    code = main(["train", "--config", str(path), "--resume", *FAST])
    assert "nothing to resume" in _one_line_error(capsys, code, "train")


def test_full_disk_when_saving_the_trained_model_keeps_the_checkpoints_to_resume(tmp_path, capsys, monkeypatch):
    from modeling_t2l.models.t2l.modeling_t2l import T2LForVideoClassification

    output = tmp_path / "out"
    path = _tiny_run(capsys, tmp_path / "data", output)

    def disk_full(model, folder, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder))

    monkeypatch.setattr(T2LForVideoClassification, "save_adapters", disk_full)
    code = main(["train", "--config", str(path), *FAST])
    line = _one_line_error(capsys, code, "train")
    assert f"cannot write the trained model to {output}" in line and os.strerror(errno.ENOSPC) in line
    assert [folder.name for folder in checkpoint_folders(output)] == ["checkpoint-2"]  # 8 videos, batch 3: 2 steps

    monkeypatch.undo()  # space freed: --resume finds the last checkpoint at the end of training and saves the model
    assert main(["train", "--config", str(path), "--resume", *FAST]) == 0
    assert (output / "train_results.json").is_file() and (output / "adapters").is_dir()
