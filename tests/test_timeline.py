"""Long and live videos (modeling_t2l.timeline): window plans, seeking decode, scores, segments, bounded memory.

The scored videos change colour at known times and are scored by `tests/colour_model.py`, whose scores follow the
mean colour of a clip, so the expected windows (times, sampled frames) are written out by hand and the expected
scores are computed by hand from the decoded frames through the same model.
"""
from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest
import torch
from PIL import Image

from modeling_t2l import T2LForVideoClassification
from modeling_t2l.pipelines.zero_shot_video_classification import ZeroShotVideoClassificationPipeline
from modeling_t2l.processing.processing_t2l import T2LProcessor
from modeling_t2l.timeline import (
    FrameStream,
    SeekingReader,
    WindowPlan,
    iter_windows,
    merge_segments,
    plan_windows,
    read_live,
)
from modeling_t2l.processing.video_io import VideoDecodeError
from tests.colour_model import (
    ColourConfig,
    ColourModel,
    ConditionedColourModel,
    colour_pipeline,
    write_colour_video,
)
from tests.tiny import tiny_t2l_config
from tests.video_factory import decode_all_frames, frame_index_from_pixels, write_video

LABELS = ["red", "green", "blue"]
FPS = 10
# red 0-5 s, green 5-13 s, blue 13-20 s: 200 frames
SCHEDULE = [("red", 5), ("green", 8), ("blue", 7)]
# chunk 4 s, stride 2 s at 10 fps: 40-frame windows every 20 frames; TSN over 40 frames with T=4 takes the segment
# centres int(i * 10 + 4.5) = 4, 14, 24, 34
EXPECTED_TIMES = [(2.0 * k, 2.0 * k + 4.0) for k in range(9)]
EXPECTED_SAMPLES = [[20 * k + 4, 20 * k + 14, 20 * k + 24, 20 * k + 34] for k in range(9)]


@pytest.fixture(scope="module")
def colour_video(tmp_path_factory):
    path, colours = write_colour_video(tmp_path_factory.mktemp("timeline") / "colours.mp4", SCHEDULE, fps=FPS, gop=30)
    return str(path), colours


@pytest.fixture(scope="module")
def pipe():
    return colour_pipeline()


@torch.no_grad()
def hand_scores(pipe, frames: list[np.ndarray], indices: list[int], conditioned_strength: float | None = None):
    """softmax(scale * cos(video, text)) for one clip, written out: the texts are the one-hot colour axes."""
    pixel_values = pipe.image_processor([frames[i] for i in indices], return_tensors="pt")["pixel_values"]
    video = pipe.model.get_video_features(pixel_values).pooler_output[0]
    video = video / video.norm()
    text = torch.eye(3)
    if conditioned_strength is not None:
        text = text + conditioned_strength * video[None]
    text = text / text.norm(dim=-1, keepdim=True)
    return torch.softmax(pipe.model.config.eval_logit_scale * (text @ video), dim=0).numpy()


def as_vector(window: dict) -> np.ndarray:
    scores = {item["label"]: item["score"] for item in window["scores"]}
    return np.array([scores[label] for label in LABELS])


# -- planning ----------------------------------------------------------------------------------------------------


def test_plan_windows_by_hand():
    windows = plan_windows(200, FPS, 4, 2, num_frames=4)
    assert [(w.start, w.end) for w in windows] == EXPECTED_TIMES
    assert [list(w.clips[0]) for w in windows] == EXPECTED_SAMPLES


def test_plan_adds_an_end_aligned_window_when_the_last_full_one_stops_short():
    # 13 s: full windows start at 0, 2, 4, 6, 8 s (8 + 4 = 12 <= 13); the tail window covers 9-13 s
    windows = plan_windows(130, FPS, 4, 2, num_frames=4)
    assert [(w.start, w.end) for w in windows] == [(0, 4), (2, 6), (4, 8), (6, 10), (8, 12), (9, 13)]
    assert list(windows[-1].clips[0]) == [94, 104, 114, 124]


def test_video_shorter_than_a_window_is_one_window_over_all_frames():
    (window,) = plan_windows(25, FPS, 4, 2, num_frames=4)
    assert (window.start, window.end) == (0.0, 2.5)
    assert list(window.clips[0]) == [2, 8, 15, 21]  # int(i * 6.25 + 2.625), the official centres over 25 frames


def test_window_starts_stay_on_time_at_ntsc_rates():
    windows = plan_windows(6000, 30000 / 1001, 4, 2, num_frames=8)
    assert [w.first for w in windows[:4]] == [0, 60, 120, 180]
    assert windows[50].first == round(50 * 2 * 30000 / 1001)  # 2997, not 50 * 60 = 3000
    assert all(w.length == 120 for w in windows)


def test_lazy_plan_sampled_indices_are_the_union_of_the_windows():
    plan = WindowPlan(29.97, 4, 1.5, num_frames=8, num_clips=2, total_frames=5000)
    union = sorted(set().union(*(w.sampled for w in plan)))
    assert list(plan.sampled_indices()) == union
    assert [i for i in range(5000) if plan.is_sampled(i)] == union
    live = WindowPlan(29.97, 4, 1.5, num_frames=8, num_clips=2)
    assert [w.clips for w in itertools.islice(live, 10)] == [w.clips for w in itertools.islice(plan, 10)]


@pytest.mark.parametrize(
    "chunk, stride, message",
    [(0, 1, "chunk_length_s"), (-2, 1, "chunk_length_s"), (4, 0, "stride_length_s"), (4, 0.01, "shorter than one frame")],
)
def test_bad_window_lengths_are_rejected(chunk, stride, message):
    with pytest.raises(ValueError, match=message):
        plan_windows(100, FPS, chunk, stride, num_frames=4)


# -- decoding ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt, options",
    [("mp4-h264", {"gop": 30, "bframes": 2}), ("mp4-h264", {"gop": 30, "open_gop": True}), ("webm-vp9", {"gop": 30}),
     ("mkv-h264", {"gop": 30}), ("avi-mpeg4", {"gop": 30})],
)
def test_seeking_reader_returns_exactly_the_wanted_frames(tmp_path, fmt, options):
    path = write_video(tmp_path / f"v.{fmt.split('-')[0]}", 300, fmt=fmt, fps=30, **options)
    wanted = sorted({*range(3, 300, 41), 100, 101, 298, 299})
    with SeekingReader(str(path)) as reader:
        got = [(index, frame_index_from_pixels(frame)) for index, frame in reader.read(wanted)]
        assert reader.info.num_frames == 300 and reader.info.fps == 30
        assert [index for index, _ in got] == wanted
        assert [pixels for _, pixels in got] == wanted
        assert reader.seeks > 0  # far frames are reached by seeking...
        assert reader.frames_decoded < 300  # ...so most of the video is never decoded


def test_seeking_reader_names_a_missing_file(tmp_path):
    with pytest.raises(VideoDecodeError, match="missing.mp4.*file not found"):
        SeekingReader(str(tmp_path / "missing.mp4"))


# -- scores and segments -----------------------------------------------------------------------------------------


def test_window_times_and_scores_match_the_hand_computation(pipe, colour_video):
    path, _ = colour_video
    windows = pipe(path, candidate_labels=LABELS, hypothesis_template="{}", chunk_length_s=4, stride_length_s=2)
    assert [(w["start"], w["end"]) for w in windows] == EXPECTED_TIMES
    frames = decode_all_frames(path)
    for window, indices in zip(windows, EXPECTED_SAMPLES):
        np.testing.assert_allclose(as_vector(window), hand_scores(pipe, frames, indices), rtol=1e-5, atol=1e-6)


def test_segments_find_each_change_within_one_stride(pipe, colour_video):
    path, _ = colour_video
    windows = pipe(path, candidate_labels=LABELS, hypothesis_template="{}", chunk_length_s=4, stride_length_s=2)
    segments = merge_segments(windows)
    assert [s["label"] for s in segments] == ["red", "green", "blue"]
    assert segments[0]["start"] == 0.0 and segments[-1]["end"] == 20.0
    for segment, following, change in zip(segments, segments[1:], (5.0, 13.0)):
        assert segment["end"] == following["start"]
        assert abs(segment["end"] - change) <= 2.0
    for segment in segments:  # windows inside one colour are sure of it
        assert segment["score"] > 0.9


def test_batched_windows_score_as_single_windows(pipe, colour_video):
    path, _ = colour_video
    one = pipe(path, candidate_labels=LABELS, hypothesis_template="{}", chunk_length_s=4, stride_length_s=2)
    batched = pipe(path, candidate_labels=LABELS, hypothesis_template="{}", chunk_length_s=4, stride_length_s=2,
                   batch_size=4)
    assert [(w["start"], w["end"]) for w in batched] == [(w["start"], w["end"]) for w in one]
    np.testing.assert_allclose([as_vector(w) for w in batched], [as_vector(w) for w in one], rtol=1e-5, atol=1e-7)


def test_a_short_video_is_one_window_scored_as_the_plain_call(tmp_path):
    # a tiny random T2L: the window path and the plain pipeline call must agree on the same frames
    torch.manual_seed(0)
    model = T2LForVideoClassification(tiny_t2l_config(num_frames=4, image_size=32)).eval()
    processor = T2LProcessor.from_clip_tokenizer(num_frames=4, crop_size=32, shortest_edge=32)
    t2l = ZeroShotVideoClassificationPipeline(model=model, tokenizer=processor.tokenizer,
                                              image_processor=processor.image_processor, device=-1)
    path = str(write_video(tmp_path / "short.mp4", 25, fps=FPS))
    labels = ["archery", "juggling balls", "surfing water"]
    (window,) = t2l(path, candidate_labels=labels, chunk_length_s=4)
    assert (window["start"], window["end"]) == (0.0, 2.5)
    plain = t2l(path, candidate_labels=labels)
    assert [item["label"] for item in window["scores"]] == [item["label"] for item in plain]
    np.testing.assert_allclose([item["score"] for item in window["scores"]], [item["score"] for item in plain],
                               rtol=1e-5, atol=1e-7)


def test_text_that_depends_on_the_video_is_encoded_per_window(colour_video):
    path, _ = colour_video
    # a small scale keeps the probabilities away from 0 and 1, where the conditioning shows
    model = ConditionedColourModel(ColourConfig(num_frames=4, eval_logit_scale=3.0, condition_strength=0.5)).eval()
    conditioned = colour_pipeline(model)
    windows = conditioned(path, candidate_labels=LABELS, hypothesis_template="{}", chunk_length_s=4, stride_length_s=2,
                          batch_size=3)
    frames = decode_all_frames(path)
    plain = colour_pipeline(ColourModel(ColourConfig(num_frames=4, eval_logit_scale=3.0)).eval())
    for window, indices in zip(windows, EXPECTED_SAMPLES):
        expected = hand_scores(conditioned, frames, indices, conditioned_strength=0.5)
        np.testing.assert_allclose(as_vector(window), expected, rtol=1e-5, atol=1e-6)
        # the conditioning changes the scores, so a shared text set would have been caught above
        assert not np.allclose(expected, hand_scores(plain, frames, indices), rtol=1e-2, atol=1e-3)


def test_merge_segments_places_boundaries_between_window_centres():
    def window(start, end, top, score):
        other = "b" if top == "a" else "a"
        return {"start": start, "end": end, "scores": [{"label": top, "score": score}, {"label": other, "score": 1 - score}]}

    windows = [window(0, 4, "a", 0.9), window(2, 6, "a", 0.7), window(4, 8, "b", 0.6), window(6, 10, "b", 0.8)]
    assert merge_segments(windows) == [
        {"label": "a", "start": 0, "end": 5.0, "score": pytest.approx(0.8), "windows": 2},  # centres 4 and 6 -> 5
        {"label": "b", "start": 5.0, "end": 10, "score": pytest.approx(0.7), "windows": 2},
    ]
    assert merge_segments([]) == []


# -- live sources ------------------------------------------------------------------------------------------------


def test_live_frames_are_scored_as_they_arrive_and_match_the_file(pipe, colour_video):
    path, _ = colour_video
    frames = decode_all_frames(path)
    consumed = []

    def camera():
        for index, frame in enumerate(frames + [frames[-1]] * 12):  # 1.2 s more: window 18-22 s never completes
            consumed.append(index)
            yield Image.fromarray(frame) if index % 2 else frame  # PIL images and arrays alike

    stats = {}
    live = iter_windows(pipe, FrameStream(camera(), fps=FPS), candidate_labels=LABELS, hypothesis_template="{}",
                        chunk_length_s=4, stride_length_s=2, stats=stats)
    first = next(live)
    assert len(consumed) == EXPECTED_SAMPLES[0][-1] + 1  # yielded as soon as its last sampled frame arrived
    windows = [first, *live]
    assert [(w["start"], w["end"]) for w in windows] == EXPECTED_TIMES  # the unfinished window is not scored
    file_windows = pipe(path, candidate_labels=LABELS, hypothesis_template="{}", chunk_length_s=4, stride_length_s=2)
    np.testing.assert_allclose([as_vector(w) for w in windows], [as_vector(w) for w in file_windows], rtol=1e-5,
                               atol=1e-7)
    assert stats["peak_frames_held"] <= 8  # two overlapping windows' samples at most, never the stream


def test_live_source_through_the_pipeline_is_a_generator(pipe):
    stream = FrameStream((np.full((24, 32, 3), (0, 0, 255), np.uint8) for _ in range(60)), fps=FPS)
    windows = pipe(stream, candidate_labels=LABELS, hypothesis_template="{}", chunk_length_s=2, stride_length_s=2)
    assert not isinstance(windows, list)
    windows = list(windows)
    assert [(w["start"], w["end"]) for w in windows] == [(0, 2), (2, 4), (4, 6)]
    assert all(w["scores"][0]["label"] == "blue" for w in windows)


def test_a_bad_live_frame_is_named(pipe):
    stream = FrameStream(iter([np.zeros((24, 32, 3), np.uint8), np.zeros((24, 32), np.uint8)]), fps=FPS)
    with pytest.raises(ValueError, match="live frame 1: expected .*uint8 \\(24, 32\\)"):
        list(pipe(stream, candidate_labels=LABELS, chunk_length_s=0.1, stride_length_s=0.1))


def test_long_video_mode_errors(pipe, tmp_path, colour_video):
    with pytest.raises(ValueError, match="chunk_length_s is required"):
        pipe(colour_video[0], candidate_labels=LABELS, stride_length_s=2)
    with pytest.raises(ValueError, match="FrameStream"):
        pipe(np.zeros((10, 24, 32, 3), np.uint8), candidate_labels=LABELS, chunk_length_s=4)
    with pytest.raises(ValueError, match="FrameStream needs a positive frame rate"):
        FrameStream([], fps=0)
    with pytest.raises(VideoDecodeError, match="nothing.mp4"):
        pipe(str(tmp_path / "nothing.mp4"), candidate_labels=LABELS, chunk_length_s=4)
    with pytest.raises(ValueError, match="on_error='return' is for batches"):
        pipe(colour_video[0], candidate_labels=LABELS, chunk_length_s=4, on_error="return")


# -- bounded memory ----------------------------------------------------------------------------------------------


def _peak_bytes(pipe, path) -> tuple[int, dict]:
    stats = {}
    tracemalloc.start()
    try:
        windows = iter_windows(pipe, path, candidate_labels=LABELS, hypothesis_template="{}", chunk_length_s=4,
                               stride_length_s=2, stats=stats)
        tracemalloc.reset_peak()
        for _ in windows:  # consumed, not kept: only the reading and scoring are measured
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, stats


def test_memory_stays_flat_from_one_to_ten_minutes(pipe, tmp_path):
    one, _ = write_colour_video(tmp_path / "one.mp4", [("red", 30), ("green", 30)], fps=FPS)
    ten, _ = write_colour_video(tmp_path / "ten.mp4", [("red", 300), ("green", 300)], fps=FPS)
    _peak_bytes(pipe, str(one))  # warm-up: text embeddings cached, lazy imports done
    peak_one, stats_one = _peak_bytes(pipe, str(one))
    peak_ten, stats_ten = _peak_bytes(pipe, str(ten))
    assert (stats_one["windows"], stats_ten["windows"]) == (29, 299)
    assert stats_ten["peak_frames_held"] == stats_one["peak_frames_held"] <= 8
    # Python-side allocations (decoded RGB frames, pixel tensors, results): the same bound for 10x the duration.
    assert peak_ten < 1.1 * peak_one + 32 * 1024, (peak_one, peak_ten)


def test_read_live_decodes_a_pyav_source_as_it_arrives(pipe, colour_video):
    # any PyAV input works as a live source (a webcam is read_live("/dev/video0", format="v4l2")); a file stands in
    path, _ = colour_video
    stream = read_live(path)
    assert stream.fps == FPS
    live = list(pipe(stream, candidate_labels=LABELS, hypothesis_template="{}", chunk_length_s=4, stride_length_s=2))
    file_windows = pipe(path, candidate_labels=LABELS, hypothesis_template="{}", chunk_length_s=4, stride_length_s=2)
    assert [(w["start"], w["end"]) for w in live] == EXPECTED_TIMES
    np.testing.assert_allclose([as_vector(w) for w in live], [as_vector(w) for w in file_windows], rtol=1e-5,
                               atol=1e-7)
