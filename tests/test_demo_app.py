"""The demo page's logic (`demo_app.answer`) on the colour model, and the Gradio page it builds."""
from __future__ import annotations

import importlib.util
import os
import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from modeling_t2l.demo_app import LABEL_SETS, answer, label_set, parse_labels
from modeling_t2l.processing.video_io import VideoDecodeError
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


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    """Serve tmp_path on 127.0.0.1 from a daemon thread; shut down at teardown."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_url_is_streamed_to_a_file_and_scored(pipe, http_root):
    root, base = http_root
    write_colour_video(root / "remote.mp4", [("red", 5), ("blue", 5)], fps=10)
    result = answer(pipe, None, f"{base}/remote.mp4", LABELS_TEXT, window_s=4, stride_s=2, template="{}",
                    workdir=root / "out")
    assert [row[2] for row in result.segments] == ["red", "blue"]
    with pytest.raises(VideoDecodeError, match="larger than the limit of 1000 bytes"):
        pipe(f"{base}/remote.mp4", candidate_labels=LABELS_TEXT, chunk_length_s=4, max_download_bytes=1000)
    missing = answer(pipe, None, f"{base}/nothing.mp4", LABELS_TEXT)
    assert missing.status.startswith("**Error:** cannot read the video http") and "HTTP 404" in missing.status


def test_app_py_without_a_model_says_which_variable_to_set():
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {key: value for key, value in os.environ.items() if key != "T2L_MODEL"}
    result = subprocess.run([sys.executable, str(root / "app.py")], capture_output=True, text=True, env=env, cwd=root)
    assert result.returncode == 1
    assert "set T2L_MODEL" in result.stderr
