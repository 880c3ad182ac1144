"""`on_error`: one unreadable video in a batch or a stream does not lose the others' results."""
from __future__ import annotations

import numpy as np
import pytest

from modeling_t2l.processing.video_io import VideoDecodeError
from tests.test_pipeline import LABELS, model, pipe, processor, random_video  # noqa: F401  (fixtures)


def _scores(result):
    return [item["score"] for item in sorted(result, key=lambda item: item["label"])]


@pytest.fixture
def videos(tmp_path):
    missing = str(tmp_path / "missing.mp4")
    not_video = tmp_path / "notes.mp4"
    not_video.write_bytes(b"plain text, not a video " * 20)
    return [random_video(1), missing, random_video(2), str(not_video), np.zeros((4, 8, 8, 3), np.float32)]


def test_default_raises_naming_the_bad_video(pipe, videos):
    with pytest.raises(VideoDecodeError, match="missing.mp4.*not found"):
        pipe(videos[:3], candidate_labels=LABELS, hypothesis_template="{}")


@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_return_puts_an_error_entry_in_each_bad_videos_place(pipe, videos, batch_size):
    results = pipe(videos, candidate_labels=LABELS, hypothesis_template="{}", on_error="return",
                   batch_size=batch_size)
    assert len(results) == 5
    assert results[1] == {"error": f"Cannot decode video {videos[1]}: file not found", "input": videos[1]}
    assert results[3]["input"] == videos[3] and "notes.mp4" in results[3]["error"]
    assert results[4] == {"error": results[4]["error"], "input": "<array (4, 8, 8, 3) float32>"}
    assert "must be uint8" in results[4]["error"]
    # the good videos get exactly the scores they get alone
    for index in (0, 2):
        alone = pipe(videos[index], candidate_labels=LABELS, hypothesis_template="{}")
        np.testing.assert_allclose(_scores(results[index]), _scores(alone), atol=1e-6)


def test_return_works_on_a_stream(pipe, videos):
    streamed = pipe((video for video in videos), candidate_labels=LABELS, hypothesis_template="{}",
                    on_error="return", batch_size=2)
    streamed = list(streamed)
    assert [("error" in item) if isinstance(item, dict) else False for item in streamed] == [
        False, True, False, True, True]
    assert streamed[1]["input"] == videos[1]


def test_a_single_bad_video_returns_its_entry_and_bad_choice_is_refused(pipe, videos):
    assert pipe(videos[1], candidate_labels=LABELS, on_error="return")["input"] == videos[1]
    with pytest.raises(ValueError, match="on_error must be one of"):
        pipe(videos[0], candidate_labels=LABELS, on_error="skip")
