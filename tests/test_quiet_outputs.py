"""`--quiet` prints the results and nothing else, and commands say where they wrote their outputs."""
import json

import pytest

from modeling_t2l.cli import main


@pytest.fixture(scope="module")
def quiet_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("quiet")
    argv = ["demo", "--quiet", "--out", str(out / "run"), "--num-videos", "1", "--test-videos", "2", "--frames", "8",
            "--num-frames", "4", "--image-size", "32", "--epochs", "1", "--batch-size", "16", "--pretrain-steps", "2",
            "--cache-dir", str(out / "cache"), "--variants", "frozen,full"]
    return out / "run", argv


def test_quiet_demo_prints_the_results_and_nothing_else(quiet_demo, capfd):
    out, argv = quiet_demo
    assert main(argv) == 0
    captured = capfd.readouterr()  # the file descriptors: also what transformers prints itself
    printed = captured.out
    assert "it/s" not in captured.err and "%|" not in captured.err, captured.err[-2000:]
    assert "| Frozen CLIP (frame average) |" in printed and "| T2L (adapters + temporal tokens + TFD) |" in printed
    assert str(out / "ablation.md") in printed and str(out / "model") in printed  # where it wrote them
    assert "train_runtime" not in printed and "'loss'" not in printed  # no Trainer log dicts
    assert "[1/6]" not in printed and "it/s" not in printed  # no step messages or progress bars
    # the saved model carries the pipeline code and task: usable as the README's pipeline block uses it
    config = json.loads((out / "model" / "config.json").read_text())
    assert "zero-shot-video-classification" in config["custom_pipelines"]
    assert (out / "model" / "zero_shot_video_classification.py").is_file()
