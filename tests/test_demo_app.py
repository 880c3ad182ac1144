"""The demo page's logic (`demo_app.answer`) on the colour model, and the Gradio page it builds."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from modeling_t2l.demo_app import LABEL_SETS, answer, label_set, parse_labels
from tests.colour_model import colour_pipeline, write_colour_video

LABELS_TEXT = "red, green, blue"


@pytest.fixture(scope="module")
def pipe():
    return colour_pipeline()


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    short, _ = write_colour_video(root / "short.mp4", [("green", 3)], fps=10)
    long, _ = write_colour_video(root / "long.mp4", [("red", 5), ("green", 8), ("blue", 7)], fps=10)
    return str(short), str(long)


def test_a_short_video_gets_its_scores(pipe, videos):
    result = answer(pipe, videos[0], None, LABELS_TEXT)
    assert result.top_label == "green"
    assert set(result.scores) == {"red", "green", "blue"}
    assert result.status.startswith("Top label: **green**")
    assert result.timeline_png is None and result.segments == []


def test_a_long_video_gets_the_mean_scores_its_segments_and_a_timeline(pipe, videos, tmp_path):
    result = answer(pipe, videos[1], "", "red\ngreen\nblue", window_s=4, stride_s=2, template="{}", workdir=tmp_path)
    assert [row[2] for row in result.segments] == ["red", "green", "blue"]
    assert result.segments[0][0] == 0.0 and result.segments[-1][1] == 20.0
    assert result.top_label == "green"  # 8 of the 20 seconds
    assert "mean over 9 windows" in result.status
    if importlib.util.find_spec("matplotlib") is not None:
        assert Path(result.timeline_png).is_file()
    else:
        assert result.timeline_png is None and 'pip install "modeling-t2l[plots]"' in result.status


@pytest.mark.parametrize(
    "video, url, labels, template, message",
    [
        ("short", None, "  ", None, "type at least one label"),
        (None, None, LABELS_TEXT, None, "upload a video or give its URL"),
        ("short", "https://example.com/v.mp4", LABELS_TEXT, None, "either an uploaded video or a URL"),
        (None, "ftp://example.com/v.mp4", LABELS_TEXT, None, "must start with http:// or https://"),
        ("missing", None, LABELS_TEXT, None, "cannot read the video .*missing.mp4: file not found"),
        ("short", None, LABELS_TEXT, "a video of red", "must contain exactly one"),
    ],
)
def test_errors_are_written_on_the_page(pipe, videos, tmp_path, video, url, labels, template, message):
    path = {"short": videos[0], "missing": str(tmp_path / "missing.mp4"), None: None}[video]
    result = answer(pipe, path, url, labels, template=template)
    assert result.status.startswith("**Error:** ")
    assert result.scores == {}
    assert re.search(message, result.status), result.status


def test_labels_are_lines_or_comma_separated_and_sets_are_bundled():
    assert parse_labels("a, b ,c") == ["a", "b", "c"]
    assert parse_labels("one, two\nthree") == ["one, two", "three"]  # lines win: SSv2 names hold commas
    assert parse_labels("a\na") == ["a"]
    for name in LABEL_SETS:
        names = label_set(name)
        assert len(names) == int(name.split("(")[1].split()[0])
    with pytest.raises(ValueError, match="unknown label set"):
        label_set("nope")


def test_the_gradio_page_builds(pipe):
    pytest.importorskip("gradio", reason="the page needs the demo extra (gradio)")
    from modeling_t2l.demo_app import build_app

    app = build_app(pipe)
    ids = {getattr(block, "elem_id", None) for block in app.blocks.values()}
    assert {"video", "url", "labels", "label-set", "template", "window", "stride", "classify", "status", "scores",
            "timeline"} <= ids
