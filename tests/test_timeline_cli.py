"""`t2l timeline` and `t2l serve` from the shell, on a tiny saved T2L and PyAV-written videos."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from modeling_t2l import T2LForVideoClassification
from modeling_t2l.cli import main
from modeling_t2l.pipelines.zero_shot_video_classification import ZeroShotVideoClassificationPipeline
from modeling_t2l.processing.processing_t2l import T2LProcessor
from modeling_t2l.timeline import merge_segments
from tests.tiny import tiny_t2l_config
from tests.video_factory import write_video

LABELS = ["archery", "juggling balls", "surfing water"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("timeline_cli")
    torch.manual_seed(0)
    T2LForVideoClassification(tiny_t2l_config(num_frames=4, image_size=32)).eval().save_pretrained(root / "model")
    T2LProcessor.from_clip_tokenizer(num_frames=4, crop_size=32, shortest_edge=36).save_pretrained(root / "model")
    video = write_video(root / "long.mp4", num_frames=45, fps=10, gop=10)  # 4.5 s
    return root, str(video)


def run_timeline(root, video, out, *extra):
    return main(["timeline", video, "--model", str(root / "model"), "--labels", ",".join(LABELS),
                 "--template", "a video of {}", "--window", "1", "--stride", "0.5", "--out", str(out), *extra])


def test_timeline_writes_json_segments_and_png(workspace, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the PNG needs the plots extra (matplotlib)")
    root, video = workspace
    assert run_timeline(root, video, tmp_path / "out") == 0
    document = json.loads((tmp_path / "out" / "timeline.json").read_text())
    pipe = ZeroShotVideoClassificationPipeline(model=T2LForVideoClassification.from_pretrained(root / "model"), device=-1)
    expected = pipe(video, candidate_labels=LABELS, hypothesis_template="a video of {}", chunk_length_s=1,
                    stride_length_s=0.5)
    # 1 s windows every 0.5 s over 4.5 s: starts 0, 0.5, ..., 3.5 (3.5 + 1 = 4.5)
    assert [(w["start"], w["end"]) for w in document["windows"]] == [(k / 2, k / 2 + 1) for k in range(8)]
    assert [(w["start"], w["end"]) for w in expected] == [(w["start"], w["end"]) for w in document["windows"]]
    for got, want in zip(document["windows"], expected):
        assert [item["label"] for item in got["scores"]] == [item["label"] for item in want["scores"]]
        np.testing.assert_allclose([i["score"] for i in got["scores"]], [i["score"] for i in want["scores"]], rtol=1e-5)
    assert document["segments"] == merge_segments(document["windows"])
    assert json.loads((tmp_path / "out" / "segments.json").read_text()) == document["segments"]
    assert (document["fps"], document["duration_s"], document["labels"]) == (10.0, 4.5, LABELS)
    with Image.open(tmp_path / "out" / "timeline.png") as png:
        assert png.format == "PNG" and png.width > 600
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == len(document["segments"])
    assert printed[0].endswith(document["segments"][0]["label"])


def test_without_matplotlib_the_png_is_skipped_with_one_line(workspace, tmp_path, capsys, monkeypatch):
    root, video = workspace
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert run_timeline(root, video, tmp_path / "out") == 0
    assert (tmp_path / "out" / "timeline.json").is_file() and (tmp_path / "out" / "segments.json").is_file()
    assert not (tmp_path / "out" / "timeline.png").exists()
    hints = [line for line in capsys.readouterr().err.splitlines() if 'pip install "modeling-t2l[plots]"' in line]
    assert len(hints) == 1 and "timeline.png" in hints[0]


def test_unreadable_video_exits_2_and_bad_arguments_exit_1(workspace, tmp_path, capsys):
    root, _ = workspace
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"not a video" * 50)
    assert run_timeline(root, str(broken), tmp_path / "out") == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["timeline", str(broken), "--model", str(root / "model"), "--labels", "a", "--window", "0",
                 "--out", str(tmp_path / "o")]) == 1
    assert "--window and --stride must be positive seconds" in capsys.readouterr().err


def test_serve_without_gradio_says_how_to_install_it(workspace, monkeypatch, capsys):
    root, _ = workspace
    monkeypatch.setitem(sys.modules, "gradio", None)
    assert main(["serve", "--model", str(root / "model")]) == 1
    assert 'pip install "modeling-t2l[demo]"' in capsys.readouterr().err


def test_the_package_never_imports_gradio_or_matplotlib():
    code = (
        "import sys, modeling_t2l, modeling_t2l.timeline, modeling_t2l.demo_app, modeling_t2l.commands.timeline, "
        "modeling_t2l.commands.serve\n"
        "print(sorted(name for name in ('gradio', 'matplotlib') if name in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
