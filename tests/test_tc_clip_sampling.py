"""TC-CLIP's frame sampler (mmaction2 `SampleFrames`, spec tc_clip_reference §6.2) and how a checkpoint's processor
selects it for the decoder, the data layer and the pipeline."""
from __future__ import annotations

import numpy as np
import pytest

from modeling_t2l.data import make_transform
from modeling_t2l.models.tc_clip.processing_defaults import build_image_processor, build_processor
from modeling_t2l.processing.image_processing_t2l import T2LImageProcessor
from modeling_t2l.processing.processing_t2l import T2LProcessor
from modeling_t2l.processing.video_io import read_video, sample_frame_indices, sample_mmaction_indices
from tests.video_factory import frame_index_from_pixels, write_video


@pytest.mark.parametrize("n, t, expected", [
    (20, 8, [1, 3, 6, 8, 11, 13, 16, 18]),  # int(i * 2.5 + 1.25)
    (16, 16, list(range(16))),
    (5, 8, [0, 0, 1, 2, 2, 3, 4, 4]),  # int(i * 0.625 + 0.3125)
    (300, 16, [int(i * 18.75 + 9.375) for i in range(16)]),
])
def test_test_clip_is_the_float_segment_centre(n, t, expected):
    assert sample_mmaction_indices(n, t, "eval") == expected
    assert sample_frame_indices(n, t, "eval", sampling="mmaction") == expected


def test_test_clip_differs_from_the_actionclip_centre():
    # ActionCLIP (T2L) takes int(i * N/T + (N/T - 1) / 2): half a frame earlier
    assert sample_frame_indices(20, 8, "eval") == [0, 3, 5, 8, 10, 13, 15, 18]
    assert sample_frame_indices(20, 8, "eval") != sample_mmaction_indices(20, 8, "eval")


def test_train_draws_one_frame_per_segment_of_n_div_t_frames():
    rng = np.random.default_rng(0)
    draws = np.array([sample_mmaction_indices(21, 8, "train", rng) for _ in range(400)])
    segments = np.arange(8) * 2  # N // T = 2: segment i is frames 2i, 2i + 1
    assert ((draws - segments >= 0) & (draws - segments < 2)).all()
    assert set(np.unique(draws - segments)) == {0, 1}
    assert draws.max() <= 15  # the last N mod T = 5 frames are never drawn
    # fewer frames than samples: round(i * N / T), numpy's round-half-to-even
    assert sample_mmaction_indices(5, 8, "train", rng) == [0, 1, 1, 2, 2, 3, 4, 4]


def test_unknown_sampling_is_refused():
    with pytest.raises(ValueError, match="frame sampling must be one of"):
        sample_frame_indices(10, 4, sampling="uniform")
    with pytest.raises(ValueError, match="frame_sampling must be 'actionclip' or 'mmaction'"):
        T2LImageProcessor(frame_sampling="tsn")


def test_read_video_decodes_the_mmaction_frames(tmp_path):
    path = write_video(tmp_path / "v.mp4", num_frames=20, width=48, height=40, gop=4)
    frames = read_video(path, 8, sampling="mmaction")
    assert [frame_index_from_pixels(frame) for frame in frames] == [1, 3, 6, 8, 11, 13, 16, 18]


def test_the_tc_clip_processor_carries_its_sampler_to_the_data_layer(tmp_path):
    assert build_image_processor().frame_sampling == "mmaction"
    assert T2LImageProcessor().frame_sampling == "actionclip"  # T2L and processors saved before the field
    build_processor(num_frames=8, crop_size=32).save_pretrained(tmp_path / "processor")
    loaded = T2LProcessor.from_pretrained(tmp_path / "processor")
    assert loaded.image_processor.frame_sampling == "mmaction"
    video = write_video(tmp_path / "v.mp4", num_frames=20, width=48, height=40, gop=4)
    transform = make_transform(loaded.image_processor, train=False)
    expected = loaded.image_processor([read_video(video, 8, sampling="mmaction")], return_tensors="pt")["pixel_values"][0]
    actionclip = loaded.image_processor([read_video(video, 8)], return_tensors="pt")["pixel_values"][0]
    got = transform.decode({"path": str(video), "bytes": None})
    assert (got == expected).all() and not (got == actionclip).all()
