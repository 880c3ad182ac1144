"""`t2l classify` end to end on a tiny saved model (weights + processor) and tiny mp4 files written with PyAV."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from modeling_t2l import T2LForVideoClassification
from modeling_t2l.cli import main
from modeling_t2l.pipelines.zero_shot_video_classification import ZeroShotVideoClassificationPipeline
from modeling_t2l.processing.processing_t2l import T2LProcessor
from tests.tiny import tiny_t2l_config
from tests.video_factory import write_video

LABELS = ["archery", "juggling balls", "surfing water"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify")
    torch.manual_seed(0)
    model = T2LForVideoClassification(tiny_t2l_config(num_frames=4, image_size=32)).eval()
    model.save_pretrained(root / "model")
    T2LProcessor.from_clip_tokenizer(num_frames=4, crop_size=32, shortest_edge=36).save_pretrained(root / "model")
    videos = [write_video(root / f"clip{i}.mp4", num_frames=12 + 5 * i, width=48 + 16 * i, height=40) for i in range(3)]
    broken = root / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"not really a video" * 40)
    return root, [str(path) for path in videos], str(broken)


def expected_scores(root, video, **kwargs):
    pipe = ZeroShotVideoClassificationPipeline(model=T2LForVideoClassification.from_pretrained(root / "model"), device=-1)
    return pipe(video, candidate_labels=LABELS, **kwargs)


def test_json_results_and_exit_code_2_for_an_unreadable_video(workspace, capsys):
    root, videos, broken = workspace
    argv = [
        "classify", videos[0], broken, videos[1], videos[2], "--model", str(root / "model"),
        "--labels", ",".join(LABELS), "--json", "--top-k", "0", "--batch-size", "2",
        "--template", "a video of {}", "{}",  # an ensemble of two templates
    ]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2
    assert "broken.mp4" in captured.err
    document = json.loads(captured.out)
    assert [entry["video"] for entry in document["results"]] == videos  # the others are still classified, in order
    assert [entry["video"] for entry in document["errors"]] == [broken]
    assert document["text_mode"] == "templates"
    for entry in document["results"]:
        predictions = entry["predictions"]
        assert sorted(p["label"] for p in predictions) == sorted(LABELS)
        assert sum(p["score"] for p in predictions) == pytest.approx(1.0, abs=1e-5)
    # the command's scores are the pipeline's
    expected = expected_scores(root, videos[1], hypothesis_template=["a video of {}", "{}"])
    got = document["results"][1]["predictions"]
    assert [p["label"] for p in got] == [p["label"] for p in expected]
    np.testing.assert_allclose([p["score"] for p in got], [p["score"] for p in expected], atol=1e-6)


def test_text_output_top_k_and_labels_file(workspace, capsys, tmp_path):
    root, videos, _ = workspace
    labels_file = tmp_path / "labels.csv"
    labels_file.write_text("id,name\n" + "".join(f"{i},{label}\n" for i, label in enumerate(LABELS)))
    code = main(["classify", videos[0], "--model", str(root / "model"), "--labels-file", str(labels_file), "--top-k", "2"])
    captured = capsys.readouterr()
    assert code == 0
    lines = captured.out.strip().splitlines()
    assert lines[0] == videos[0] and len(lines) == 3  # the video, then its two best labels
    expected = expected_scores(root, videos[0])
    for line, prediction in zip(lines[1:], expected[:2]):
        score, label = line.strip().split("  ", 1)
        assert label == prediction["label"] and float(score) == pytest.approx(prediction["score"], abs=1e-4)
    assert "3 labels scored with descriptions (k400)" in captured.err  # the default text choice is visible


def test_plain_labels_file_and_descriptions_mode(workspace, capsys, tmp_path):
    root, videos, _ = workspace
    labels_file = tmp_path / "labels.txt"
    labels_file.write_text("# UCF101 classes\nApplyEyeMakeup\n\nArchery\n")
    code = main(["classify", videos[0], "--model", str(root / "model"), "--labels-file", str(labels_file), "--json"])
    captured = capsys.readouterr()
    assert code == 0
    document = json.loads(captured.out)
    assert document["text_mode"] == "descriptions" and document["description_set"] == "ucf101"
    assert {p["label"] for p in document["results"][0]["predictions"]} == {"ApplyEyeMakeup", "Archery"}


def test_descriptions_from_a_csv(workspace, capsys, tmp_path):
    root, videos, _ = workspace
    table = tmp_path / "mine.csv"
    table.write_text('Class Name,GPT3 discription\nrun,"a person runs"\njump,"a person jumps"\n')
    code = main(["classify", videos[0], "--model", str(root / "model"), "--labels", "run,jump",
                 "--descriptions", str(table), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0 and document["text_mode"] == "descriptions" and document["description_set"] == "custom"
    pipe = ZeroShotVideoClassificationPipeline(model=T2LForVideoClassification.from_pretrained(root / "model"), device=-1)
    expected = pipe(videos[0], candidate_labels=["run", "jump"], descriptions={"run": "a person runs", "jump": "a person jumps"})
    got = document["results"][0]["predictions"]
    assert [p["label"] for p in got] == [p["label"] for p in expected]
    np.testing.assert_allclose([p["score"] for p in got], [p["score"] for p in expected], atol=1e-6)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--labels", "run,jump,run"], "duplicates: 'run'"),
        (["--labels", "run,jump", "--template", "no placeholder"], "exactly one"),
        (["--labels-file", "/nonexistent/labels.txt"], "does not exist"),
    ],
)
def test_bad_arguments_exit_1(workspace, capsys, extra, message):
    root, videos, _ = workspace
    assert main(["classify", videos[0], "--model", str(root / "model"), *extra]) == 1
    assert message in capsys.readouterr().err


def test_missing_model_exit_1(workspace, capsys, tmp_path):
    _, videos, _ = workspace
    assert main(["classify", videos[0], "--model", str(tmp_path / "no-model"), "--labels", "a,b"]) == 1
    assert "cannot load model" in capsys.readouterr().err


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--labels-file" in out and "--top-k" in out and "--json" in out


def test_transformers_pipeline_loads_a_saved_directory(workspace):
    """The README's form: `pipeline(task, model=dir)` on a directory saved with model + processor (no pipeline)."""
    from transformers import pipeline

    from modeling_t2l.pipelines.zero_shot_video_classification import TASK, register_pipeline

    root, videos, _ = workspace
    register_pipeline()  # what `import modeling_t2l` does
    pipe = pipeline(TASK, model=str(root / "model"), device=-1)
    assert isinstance(pipe, ZeroShotVideoClassificationPipeline)
    assert type(pipe.model) is T2LForVideoClassification
    assert pipe.image_processor.shortest_edge == 36  # the saved processor, not a default one
    got, expected = pipe(videos[0], candidate_labels=LABELS), expected_scores(root, videos[0])
    assert [p["label"] for p in got] == [p["label"] for p in expected]
    np.testing.assert_allclose([p["score"] for p in got], [p["score"] for p in expected], rtol=1e-5, atol=1e-7)
