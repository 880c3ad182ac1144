"""The demo page in a real browser: headless Chromium uploads a generated mp4, types labels, presses Classify and
reads the top label back from the page; it must be the pipeline's own top label for that video.

Skipped, with the reason, where Chromium, its driver, selenium or gradio is missing. CI installs them with
`apt-get install -y chromium chromium-driver` and `pip install -e ".[test,demo,browser-test]"`.
"""
from __future__ import annotations

import os

import pytest
import torch
from PIL import Image

from tests.browser_page import chromium, classify_on_page, missing_requirements, served

MISSING = missing_requirements()
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"the browser test needs {', '.join(MISSING)}")

LABELS = ["archery", "juggling balls", "surfing water"]


@pytest.fixture(scope="module")
def pipe():
    from modeling_t2l import T2LForVideoClassification
    from modeling_t2l.pipelines.zero_shot_video_classification import ZeroShotVideoClassificationPipeline
    from modeling_t2l.processing.processing_t2l import T2LProcessor
    from tests.tiny import tiny_t2l_config

    torch.manual_seed(0)
    model = T2LForVideoClassification(tiny_t2l_config(num_frames=4, image_size=32)).eval()
    processor = T2LProcessor.from_clip_tokenizer(num_frames=4, crop_size=32, shortest_edge=32)
    return ZeroShotVideoClassificationPipeline(model=model, tokenizer=processor.tokenizer,
                                               image_processor=processor.image_processor, device=-1)


@pytest.mark.timeout(600)
def test_upload_labels_and_read_the_top_label_from_the_page(pipe, tmp_path):
    from modeling_t2l.demo_app import build_app
    from tests.video_factory import write_video

    video = str(write_video(tmp_path / "clip.mp4", num_frames=30, width=64, height=48, fps=10))  # 3 s: one window
    expected = pipe(video, candidate_labels=LABELS, hypothesis_template="a video of {}")
    screenshot = os.environ.get("T2L_DEMO_SCREENSHOT") or str(tmp_path / "screenshot.png")
    with served(build_app(pipe)) as url, chromium() as driver:
        page = classify_on_page(driver, url, video, ", ".join(LABELS), template="a video of {}", screenshot=screenshot)
    assert page["top_label"] == expected[0]["label"], page["status"]
    assert f"({expected[0]['score']:.3f})" in page["status"]
    assert expected[0]["label"] in page["scores"]
    with Image.open(screenshot) as image:
        assert image.format == "PNG" and image.width >= 1000
