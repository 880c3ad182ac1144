"""`pipeline(model=dir, trust_remote_code=True)` where `modeling_t2l` is NOT importable.

The parent builds the pipeline on a tiny random T2L and saves it with `pipe.save_pretrained`, which must write
`custom_pipelines` into config.json and copy the pipeline module plus every sibling it imports. A child Python
(`-I`: no PYTHONPATH, no user site; working directory outside the repository; an import blocker for
`modeling_t2l`, since an editable install would otherwise expose it; HF_HUB_OFFLINE=1) loads the directory with
`transformers.pipeline` alone, infers the task from the config, classifies a video file and reports its scores,
which must equal the in-process pipeline's.
"""
from __future__ import annotations

import json
import re
import shutil
import textwrap

import numpy as np
import pytest
import torch

from modeling_t2l import T2LForVideoClassification
from modeling_t2l.pipelines.zero_shot_video_classification import (
    TASK,
    ZeroShotVideoClassificationPipeline,
    add_pipeline_to_checkpoint,
)
from modeling_t2l.processing.processing_t2l import T2LProcessor
from tests.isolated import run_without_package
from tests.tiny import tiny_t2l_config
from tests.video_factory import write_video

LABELS = ["archery", "juggling balls", "surfing water"]
TEMPLATES = ["a video of {}", "{}"]

CHILD = textwrap.dedent(
    """
    import json, sys

    from transformers import pipeline

    folders, video = json.loads(sys.argv[1]), sys.argv[2]
    labels, templates, out = json.loads(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]
    reports = {}
    for folder in folders:
        report = reports[folder] = {}
        try:
            pipeline(model=folder)
        except ValueError as error:
            report["refused_without_flag"] = "trust_remote_code" in str(error)
        pipe = pipeline(model=folder, trust_remote_code=True, device=-1)
        report["task"] = pipe.task
        report["class"] = type(pipe).__module__ + "." + type(pipe).__name__
        report["model"] = type(pipe.model).__module__ + "." + type(pipe.model).__name__
        report["image_processor"] = type(pipe.image_processor).__name__
        report["scores"] = pipe(video, candidate_labels=labels, hypothesis_template=templates)
        report["batch"] = pipe([video, video], candidate_labels=labels, hypothesis_template=templates, batch_size=2)
        # default text mode without the bundled description files next to the code
        report["default"] = pipe(video, candidate_labels=labels)
        report["default_mode"] = pipe.last_class_texts.mode
        report["default_set"] = pipe.last_class_texts.description_set
    with open(out, "w") as handle:  # not stdout: transformers may prompt there
        json.dump(reports, handle)
    """
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("remote_pipeline")
    torch.manual_seed(0)
    model = T2LForVideoClassification(tiny_t2l_config(num_frames=4, image_size=32)).eval()
    processor = T2LProcessor.from_clip_tokenizer(num_frames=4, crop_size=32, shortest_edge=32)
    pipe = ZeroShotVideoClassificationPipeline(
        model=model, tokenizer=processor.tokenizer, image_processor=processor.image_processor, device=-1
    )
    pipe.save_pretrained(root / "t2l-tiny")
    # a checkpoint saved without a pipeline (conversion, training), made pipeline-ready afterwards
    model.save_pretrained(root / "t2l-model-only")
    processor.save_pretrained(root / "t2l-model-only")
    add_pipeline_to_checkpoint(root / "t2l-model-only")
    # and one whose description files were not uploaded
    shutil.copytree(root / "t2l-tiny", root / "t2l-no-descriptions")
    shutil.rmtree(root / "t2l-no-descriptions" / "descriptions")
    video = write_video(root / "clip.mp4", num_frames=20)
    return root, pipe, video


@pytest.mark.parametrize("name", ["t2l-tiny", "t2l-model-only"])
def test_save_writes_custom_pipeline_and_all_code(saved, name):
    root, _, _ = saved
    folder = root / name
    config = json.loads((folder / "config.json").read_text())
    assert config["custom_pipelines"] == {
        TASK: {
            "impl": "zero_shot_video_classification.ZeroShotVideoClassificationPipeline",
            "pt": ["AutoModelForVideoClassification"],
            "type": "multimodal",
        }
    }
    assert config["auto_map"]["AutoModelForVideoClassification"] == "modeling_t2l.T2LForVideoClassification"
    code = {path.name for path in folder.glob("*.py")}
    # the pipeline and everything it imports, recursively (relative imports only)
    assert {
        "zero_shot_video_classification.py", "modeling_t2l.py", "configuration_t2l.py", "video_io.py",
        "image_processing_t2l.py", "prompts.py", "tokenization.py",
    } <= code
    for name in code:
        absolute = re.findall(r"^\s*(?:from|import)\s+modeling_t2l\b.*$", (folder / name).read_text(), re.MULTILINE)
        assert not absolute, f"{name} imports the package: {absolute}"
    assert (folder / "preprocessor_config.json").is_file() and (folder / "tokenizer_config.json").is_file()
    assert {path.name for path in (folder / "descriptions").glob("*.csv")} == {
        "hmdb51.csv", "ucf101.csv", "ssv2.csv", "k600_exclusive.csv", "k400.csv", "k600.csv"
    }


def test_remote_code_pipeline_without_the_package(saved, tmp_path):
    root, pipe, video = saved
    folders = [str(root / name) for name in ("t2l-tiny", "t2l-model-only", "t2l-no-descriptions")]
    run_without_package(CHILD, [json.dumps(folders), video, json.dumps(LABELS), json.dumps(TEMPLATES),
                                tmp_path / "report.json"], tmp_path)
    reports = json.loads((tmp_path / "report.json").read_text())

    local = pipe(str(video), candidate_labels=LABELS, hypothesis_template=TEMPLATES)
    for folder in folders:
        report = reports[folder]
        assert report["refused_without_flag"] is True
        assert report["task"] == TASK  # inferred from config.custom_pipelines
        assert report["class"].startswith("transformers_modules.")
        assert report["class"].endswith(".ZeroShotVideoClassificationPipeline")
        assert report["model"].startswith("transformers_modules.")
        assert report["model"].endswith(".T2LForVideoClassification")
        assert report["image_processor"] == "T2LImageProcessor"

        assert [item["label"] for item in report["scores"]] == [item["label"] for item in local]
        np.testing.assert_allclose(
            [item["score"] for item in report["scores"]], [item["score"] for item in local], atol=1e-6
        )
        # a batch of two runs other matrix shapes than one video: equal labels, scores equal to float tolerance
        assert len(report["batch"]) == 2
        for batched in report["batch"]:
            assert [item["label"] for item in batched] == [item["label"] for item in report["scores"]]
            np.testing.assert_allclose(
                [item["score"] for item in batched], [item["score"] for item in report["scores"]], rtol=1e-5, atol=1e-7
            )
        assert abs(sum(item["score"] for item in report["default"]) - 1.0) < 1e-5
    # the default text choice matches the package's: K400 descriptions, read from the copy saved with the weights
    local_default = pipe(str(video), candidate_labels=LABELS)
    assert pipe.last_class_texts.mode == "descriptions" and pipe.last_class_texts.description_set == "k400"
    for folder in folders[:2]:
        assert (reports[folder]["default_mode"], reports[folder]["default_set"]) == ("descriptions", "k400")
        np.testing.assert_allclose(
            [item["score"] for item in reports[folder]["default"]], [item["score"] for item in local_default], atol=1e-6
        )
    # without the saved copy: the templates, not a crash
    assert reports[folders[2]]["default_mode"] == "templates"
