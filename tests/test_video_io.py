"""modeling_t2l.processing.video_io: official TSN indices, seek decoding == sequential decoding, sources, errors, formats."""

import io
import logging
import pickle
from fractions import Fraction

import av
import numpy as np
import pytest

from modeling_t2l.processing.video_io import (
    VideoDecodeError,
    VideoInfo,
    _decode_by_pts,
    _Packets,
    probe_video,
    read_all_frames,
    read_video,
    sample_clip_indices,
    sample_frame_indices,
)
from tests.video_factory import (
    FORMATS,
    decode_all_frames,
    frame_index_from_pixels,
    frame_pixels,
    write_frame_folder,
    write_video,
)

# ----------------------------------------------------------------------------------------------------------------
# Sampling: the official formulas, written out independently of the implementation
# ----------------------------------------------------------------------------------------------------------------


def official_eval_indices(n, t):
    """ActionCLIP/T2L ``_get_val_indices`` with seg_length=1, index_bias removed, np.int -> int."""
    if t == 1:
        return [n // 2]
    if n <= t:
        return list(np.array([i * n // t for i in range(t)], dtype=int))
    offset = (n / t - 1) / 2.0
    return list(np.array([i * n / t + offset for i in range(t)], dtype=int))


@pytest.mark.parametrize("t", [1, 2, 3, 5, 8, 16, 32])
def test_eval_indices_equal_official_formula(t):
    for n in range(1, 400):
        assert sample_frame_indices(n, t, "eval") == official_eval_indices(n, t), (n, t)


def test_eval_indices_known_values():
    assert sample_frame_indices(100, 8) == [5, 18, 30, 43, 55, 68, 80, 93]  # segment centres, truncated
    assert sample_frame_indices(300, 8) == [18, 55, 93, 130, 168, 205, 243, 280]
    assert sample_frame_indices(8, 8) == list(range(8))  # N == T: every frame once
    assert sample_frame_indices(4, 8) == [0, 0, 1, 1, 2, 2, 3, 3]  # N < T: frames repeat
    assert sample_frame_indices(1, 8) == [0] * 8
    assert sample_frame_indices(10, 1) == [5]  # official T == 1 special case: N // 2


@pytest.mark.parametrize("n,t", [(9, 8), (17, 8), (100, 8), (301, 16), (50, 3)])
def test_train_indices_one_random_frame_per_official_segment(n, t):
    ticks = [i * n // t for i in range(t + 1)]
    seen = [set() for _ in range(t)]
    for seed in range(300):
        indices = sample_frame_indices(n, t, "train", generator=seed)
        assert len(indices) == t
        for i, index in enumerate(indices):
            assert ticks[i] <= index < ticks[i + 1]
            seen[i].add(index)
    # Every frame of every segment is reachable (uniform randint over the segment).
    assert all(seen[i] == set(range(ticks[i], ticks[i + 1])) for i in range(t))


@pytest.mark.parametrize("n,t", [(1, 8), (5, 8), (8, 8), (3, 16)])
def test_train_indices_short_video_all_frames_plus_sorted_extras(n, t):
    for seed in range(50):
        indices = sample_frame_indices(n, t, "train", generator=np.random.default_rng(seed))
        assert len(indices) == t
        assert indices == sorted(indices)
        assert set(indices) == set(range(n))  # every frame present, extras drawn from the same frames


def test_train_indices_seeded_and_generator_is_advanced():
    assert sample_frame_indices(300, 8, "train", generator=7) == sample_frame_indices(300, 8, "train", generator=7)
    rng = np.random.default_rng(0)
    draws = {tuple(sample_frame_indices(300, 8, "train", generator=rng)) for _ in range(20)}
    assert len(draws) > 1


def test_sampling_rejects_bad_arguments():
    with pytest.raises(ValueError):
        sample_frame_indices(0, 8)
    with pytest.raises(ValueError):
        sample_frame_indices(10, 8, mode="test")


@pytest.mark.parametrize("n,t,c", [(100, 8, 3), (300, 8, 4), (37, 8, 2), (1000, 16, 5)])
def test_multi_clip_offsets_evenly_spaced_inside_segments(n, t, c):
    clips = sample_clip_indices(n, t, c)
    length = n / t
    assert len(clips) == c
    for clip, indices in enumerate(clips):
        assert indices == [int(i * length + (clip + 0.5) * length / c - 0.5) for i in range(t)]
        for i, index in enumerate(indices):
            assert i * length - 1 < index < (i + 1) * length  # inside segment i
    assert [clips[k][0] for k in range(c)] == sorted({clips[k][0] for k in range(c)}) or n / t < c
    if c % 2 == 1:  # the middle clip is the official single-clip centre
        assert clips[c // 2] == sample_frame_indices(n, t)
    assert sample_clip_indices(n, t, 1) == [sample_frame_indices(n, t)]
    assert sample_clip_indices(6, 8, 3) == [sample_frame_indices(6, 8)] * 3  # short video: nothing to spread


# ----------------------------------------------------------------------------------------------------------------
# Seek decoding returns exactly what a sequential decode returns
# ----------------------------------------------------------------------------------------------------------------


def _expected(reference_frames, indices):
    return np.stack([reference_frames[i] for i in indices])


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("gop", [1, 6, 200])
def test_seek_decode_equals_sequential_decode(tmp_path, fmt, gop):
    num_frames = 61
    path = write_video(tmp_path / f"clip.{fmt.split('-')[0]}", num_frames, fmt=fmt, gop=gop)
    reference = decode_all_frames(path)
    assert [frame_index_from_pixels(f) for f in reference] == list(range(num_frames))
    for t in (3, 8, 70):
        indices = sample_frame_indices(num_frames, t)
        frames = read_video(path, t)
        assert frames.dtype == np.uint8 and frames.shape == (t, 48, 64, 3)
        np.testing.assert_array_equal(frames, _expected(reference, indices))
        assert [frame_index_from_pixels(f) for f in frames] == indices
    for seed in range(3):
        indices = sample_frame_indices(num_frames, 8, "train", generator=seed)
        np.testing.assert_array_equal(read_video(path, 8, mode="train", generator=seed), _expected(reference, indices))


@pytest.mark.parametrize("bframes,open_gop", [(0, False), (3, False), (3, True)])
def test_h264_b_frames_open_gop_and_multi_clip(tmp_path, bframes, open_gop):
    path = write_video(tmp_path / "b.mp4", 90, fmt="mp4-h264", gop=12, bframes=bframes, open_gop=open_gop, texture=True)
    reference = decode_all_frames(path)
    assert [frame_index_from_pixels(f) for f in reference] == list(range(90))
    for t in range(2, 30):  # many index patterns, including frames just before a key frame
        indices = sample_frame_indices(90, t)
        np.testing.assert_array_equal(read_video(path, t), _expected(reference, indices))
    clips = read_video(path, 8, num_clips=3)
    assert clips.shape == (3, 8, 48, 64, 3)
    for frames, indices in zip(clips, sample_clip_indices(90, 8, 3)):
        np.testing.assert_array_equal(frames, _expected(reference, indices))


def test_decoder_starts_at_key_frames_instead_of_frame_zero(tmp_path):
    """Sparse wanted frames must not cost a decode from frame 0: count the packets actually fed."""
    path = write_video(tmp_path / "sparse.mp4", 200, fmt="mp4-h264", gop=10, bframes=0)
    with av.open(str(path)) as container:
        packets = _Packets(str(path), container)
        fed = []
        original = packets.packets
        packets.packets = _Recording(original, fed)
        targets = [packets.presentation_pts[i] for i in (55, 155)]
        found, _ = _decode_by_pts(packets, targets)
    assert set(found) == set(targets)
    assert min(fed) == 50  # started at the key frame before frame 55, not at 0
    assert len(fed) <= 2 * 10  # two groups of pictures at most, not 156 packets


class _Recording(list):
    def __init__(self, items, log):
        super().__init__(items)
        self.log = log

    def __getitem__(self, position):
        self.log.append(position)
        return super().__getitem__(position)


def test_webm_without_stored_frame_count(tmp_path):
    path = write_video(tmp_path / "nocount.webm", 47, fmt="webm-vp9", gop=10)
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 0  # the container does not store a count
    info = probe_video(path)
    assert info == VideoInfo(num_frames=47, fps=30.0, width=64, height=48, duration=pytest.approx(47 / 30, abs=0.01))
    assert [frame_index_from_pixels(f) for f in read_video(path, 8)] == sample_frame_indices(47, 8)


# ----------------------------------------------------------------------------------------------------------------
# Sources
# ----------------------------------------------------------------------------------------------------------------


def test_bytes_file_object_and_dataset_dict_sources(tmp_path):
    path = write_video(tmp_path / "src.mp4", 40, gop=8)
    expected = read_video(path, 8)
    data = path.read_bytes()
    np.testing.assert_array_equal(read_video(data, 8), expected)
    np.testing.assert_array_equal(read_video(io.BytesIO(data), 8), expected)
    with open(path, "rb") as handle:
        np.testing.assert_array_equal(read_video(handle, 8), expected)
    np.testing.assert_array_equal(read_video({"path": None, "bytes": data}, 8), expected)
    np.testing.assert_array_equal(read_video({"path": str(path), "bytes": None}, 8), expected)
    assert probe_video(data).num_frames == 40


def test_decoded_frames_are_sampled_exactly_like_the_file(tmp_path):
    path = write_video(tmp_path / "src.mp4", 30, gop=7, bframes=2)
    frames = read_all_frames(path)
    assert frames.shape == (30, 48, 64, 3) and frames.dtype == np.uint8
    assert [frame_index_from_pixels(f) for f in frames] == list(range(30))  # every frame, in presentation order
    np.testing.assert_array_equal(read_video(frames, 8), read_video(path, 8))
    np.testing.assert_array_equal(read_video(frames, 8, num_clips=3), read_video(path, 8, num_clips=3))
    # training draws: the same generator state gives the same frames, and advances the generator the same way
    from_array, from_file = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(3):
        np.testing.assert_array_equal(read_video(frames, 8, mode="train", generator=from_array),
                                      read_video(path, 8, mode="train", generator=from_file))
    assert read_all_frames(write_frame_folder(tmp_path / "v_001", 5)).shape == (5, 48, 64, 3)


@pytest.mark.parametrize("array", [np.zeros((4, 8, 8, 3), np.float32), np.zeros((8, 8, 3), np.uint8),
                                   np.zeros((0, 8, 8, 3), np.uint8), np.zeros((4, 8, 8, 4), np.uint8)])
def test_decoded_frames_must_be_uint8_frames_height_width_rgb(array):
    with pytest.raises(VideoDecodeError, match=r"uint8 array of shape \(frames, height, width, 3\)") as info:
        read_video(array, 2)
    assert str(array.shape) in str(info.value)  # the message names what was passed


def test_frame_folder_source_is_one_based(tmp_path):
    folder = write_frame_folder(tmp_path / "v_001", 23)
    assert (folder / "img_00001.jpg").exists() and not (folder / "img_00000.jpg").exists()
    frames = read_video(folder, 8)
    assert frames.shape == (8, 48, 64, 3) and frames.dtype == np.uint8
    assert [frame_index_from_pixels(f) for f in frames] == sample_frame_indices(23, 8)
    assert read_video(str(folder), 4, num_clips=2).shape == (2, 4, 48, 64, 3)
    assert probe_video(folder) == VideoInfo(num_frames=23, fps=None, width=64, height=48, duration=None)


# ----------------------------------------------------------------------------------------------------------------
# Pixel formats -> RGB uint8
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt,pix_fmt",
    [("mkv-h264", "yuv422p"), ("mp4-h264", "yuv420p10le"), ("mp4-h264", "yuv444p"), ("webm-vp9", "yuv444p"),
     ("mkv-ffv1", "bgra"), ("mkv-ffv1", "gray"), ("mkv-ffv1", "yuv420p10le")],
)
def test_pixel_formats_come_out_rgb_uint8(tmp_path, fmt, pix_fmt):
    path = write_video(tmp_path / f"{pix_fmt}.{fmt.split('-')[0]}", 24, fmt=fmt, pix_fmt=pix_fmt, gop=5)
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == pix_fmt  # really stored in that format
    frames = read_video(path, 8)
    assert frames.dtype == np.uint8 and frames.shape == (8, 48, 64, 3)
    indices = sample_frame_indices(24, 8)
    assert [frame_index_from_pixels(f) for f in frames] == indices
    if pix_fmt in ("bgra", "gray"):  # lossless and no chroma subsampling: the exact source pixels, channels in RGB order
        np.testing.assert_array_equal(frames, np.stack([frame_pixels(i, 64, 48) for i in indices]))


def test_rgba_channel_order(tmp_path):
    """A coloured lossless RGBA clip: red stays red (no BGR swap, alpha dropped)."""
    path = tmp_path / "colour.mkv"
    picture = np.zeros((48, 64, 4), np.uint8)
    picture[..., 0], picture[..., 1], picture[..., 2], picture[..., 3] = 200, 30, 90, 128
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("ffv1", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "bgra"
        for _ in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgba")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    frames = read_video(path, 2)
    assert frames.shape == (2, 48, 64, 3)
    assert (frames[..., 0] == 200).all() and (frames[..., 1] == 30).all() and (frames[..., 2] == 90).all()


# ----------------------------------------------------------------------------------------------------------------
# Errors name the source and the reason; padding only when something decoded
# ----------------------------------------------------------------------------------------------------------------


def _write_with_garbage_packets(path, num_good, num_garbage, width=64, height=48):
    """An mkv whose first ``num_good`` packets are real MPEG-4 frames and the rest random bytes."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(num_good):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame_pixels(index, width, height), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        for j in range(num_garbage):
            packet = av.Packet(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
            packet.stream = stream
            packet.time_base = Fraction(1, 30)
            packet.pts = packet.dts = num_good + j
            container.mux(packet)
    return path


def _assert_error(source, reason_words, name):
    with pytest.raises(VideoDecodeError) as info:
        read_video(source, 8)
    message = str(info.value)
    assert name in message, message
    assert any(word in message for word in reason_words), message
    with pytest.raises(VideoDecodeError):
        probe_video(source)
    return info.value


def test_missing_file(tmp_path):
    error = _assert_error(tmp_path / "nope.mp4", ["file not found"], "nope.mp4")
    assert error.reason == "file not found"


def test_non_video_and_empty_files(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    _assert_error(text, ["not a readable video container"], "notes.mp4")
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    _assert_error(empty, ["empty"], "empty.avi")
    _assert_error(b"garbage bytes" * 20, ["not a readable video container"], "bytes in memory")


def test_file_without_video_stream(tmp_path):
    path = tmp_path / "sound.wav"
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    _assert_error(path, ["no video stream"], "sound.wav")


@pytest.mark.parametrize("fmt", ["mp4-h264", "webm-vp9", "mkv-h264", "avi-mpeg4"])
def test_truncated_files(tmp_path, fmt):
    path = write_video(tmp_path / f"full.{fmt.split('-')[0]}", 60, fmt=fmt, gop=10)
    data = path.read_bytes()
    cut = tmp_path / f"cut.{fmt.split('-')[0]}"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    _assert_error(cut, ["truncated"], cut.name)
    _assert_error(data[: int(len(data) * 0.6)], ["truncated"], "bytes in memory")


def test_no_decodable_frame(tmp_path):
    path = _write_with_garbage_packets(tmp_path / "garbage.mkv", 0, 12)
    _assert_error(path, ["no frame could be decoded"], "garbage.mkv")


def test_frame_folder_errors(tmp_path):
    (tmp_path / "empty_dir").mkdir()
    _assert_error(tmp_path / "empty_dir", ["no img_00001.jpg"], "empty_dir")
    folder = write_frame_folder(tmp_path / "broken", 10)
    (folder / "img_00006.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(VideoDecodeError, match="broken.*img_00006.jpg cannot be read"):
        read_video(folder, 10)


def test_stream_ending_early_pads_with_last_decoded_frame(tmp_path, caplog):
    path = _write_with_garbage_packets(tmp_path / "tail.mkv", 10, 10)
    assert probe_video(path).num_frames == 20
    with caplog.at_level(logging.WARNING, logger="modeling_t2l.processing.video_io"):
        frames = read_video(path, 20)
    assert [frame_index_from_pixels(f) for f in frames] == list(range(10)) + [9] * 10
    assert "tail.mkv" in caplog.text and "did not decode" in caplog.text


def test_error_is_picklable_for_dataloader_workers():
    error = pickle.loads(pickle.dumps(VideoDecodeError("/data/a.mp4", "file not found")))
    assert isinstance(error, VideoDecodeError)
    assert (error.source, error.reason) == ("/data/a.mp4", "file not found")
    assert str(error) == "Cannot decode video /data/a.mp4: file not found"


def test_generator_type_is_checked():
    import torch

    with pytest.raises(TypeError, match="numpy.random.Generator"):
        sample_frame_indices(100, 8, "train", generator=torch.Generator())


def _decoded_shape(path):
    return read_video(path, 4).shape


@pytest.mark.timeout(120)
def test_forked_workers_decode_after_the_parent_decoded(tmp_path):
    """DataLoader workers are forked: the parent's conversion context (and its threads) must not be reused there."""
    import multiprocessing

    path = str(write_video(tmp_path / "clip.avi", num_frames=12, fmt="avi-mpeg4"))
    assert read_video(path, 4).shape == (4, 48, 64, 3)  # the parent now holds a conversion context
    with multiprocessing.get_context("fork").Pool(2) as pool:
        shapes = pool.map_async(_decoded_shape, [path, path]).get(timeout=60)
    assert shapes == [(4, 48, 64, 3)] * 2
