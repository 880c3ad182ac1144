"""Decoding edge cases that used to end in a bare numpy error or a wrong answer: resolution changes, mixed frame
sizes, still images, rotation metadata, symbolic links."""
from __future__ import annotations

import logging
import os

import av
import numpy as np
import pytest
from PIL import Image

from modeling_t2l.processing.video_io import VideoDecodeError, probe_video, read_all_frames, read_video
from tests.video_factory import frame_index_from_pixels, frame_pixels, write_video


def _encode_raw_h264(path, first_index, num_frames, width, height):
    """An Annex-B H.264 elementary stream: such streams concatenate byte-wise, each part with its own size."""
    with av.open(str(path), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(first_index, first_index + num_frames):
            frame = av.VideoFrame.from_ndarray(frame_pixels(index, width, height), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


def test_a_resolution_change_mid_stream_is_scaled_to_the_declared_size(tmp_path, caplog):
    path = tmp_path / "joined.h264"
    path.write_bytes(_encode_raw_h264(tmp_path / "a.h264", 0, 8, 64, 48) + _encode_raw_h264(tmp_path / "b.h264", 8, 8, 32, 24))
    with caplog.at_level(logging.WARNING):
        frames = read_all_frames(path)
    assert frames.shape == (16, 48, 64, 3)
    assert [frame_index_from_pixels(frame) for frame in frames] == list(range(16))  # the right frames, upscaled
    assert "joined.h264" in caplog.text and "resolution changes" in caplog.text and "32x24" in caplog.text
    assert read_video(path, 4).shape == (4, 48, 64, 3)


def test_a_frame_folder_with_mixed_sizes_names_both_frames(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(1, 9):
        size = (64, 48) if i < 6 else (32, 24)
        Image.fromarray(frame_pixels(i, *size)).save(folder / f"img_{i:05d}.jpg")
    with pytest.raises(VideoDecodeError, match=r"frames.*different sizes: img_00006\.jpg is 32x24 but "
                                               r"img_00001\.jpg is 64x48"):
        read_video(folder, 8)
    assert read_video(folder, 1).shape == (1, 48, 64, 3)  # frame 5 alone: one size, nothing to refuse


@pytest.mark.parametrize("name", ["still.png", "still.mp4", "photo.jpg"])
def test_a_still_image_is_not_a_one_frame_video(tmp_path, name):
    path = tmp_path / name
    Image.fromarray(frame_pixels(3, 64, 48)).save(path, format="JPEG" if name.endswith(".jpg") else "PNG")
    for decode in (lambda: read_video(path, 4), lambda: probe_video(path)):
        with pytest.raises(VideoDecodeError, match=rf"{name}.*still image \((png|mjpeg)\), not a video"):
            decode()


def _write_rotated(path, degrees, hflip=False, width=64, height=48):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv444p"
        stream.set_display_rotation(degrees, hflip=hflip)  # the display matrix phones write
        for index in range(6):
            frame = av.VideoFrame.from_ndarray(frame_pixels(index, width, height), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.parametrize("degrees, turns", [(90, 1), (180, 2), (270, 3)])
def test_rotation_metadata_is_applied(tmp_path, degrees, turns):
    plain = read_all_frames(write_video(tmp_path / "plain.mp4", num_frames=6, pix_fmt="yuv444p", fps=10))
    rotated = read_all_frames(_write_rotated(tmp_path / "rotated.mp4", degrees))
    # counter-clockwise quarter turns, as FFmpeg's player rotates these files
    np.testing.assert_allclose(rotated.astype(int), np.rot90(plain, turns, axes=(1, 2)).astype(int), atol=12)
    info = probe_video(tmp_path / "rotated.mp4")
    assert (info.width, info.height) == ((48, 64) if turns % 2 else (64, 48))


def test_a_mirrored_display_matrix_is_reported(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        frames = read_all_frames(_write_rotated(tmp_path / "mirrored.mp4", 90, hflip=True))
    assert frames.shape == (6, 64, 48, 3)  # the rotation is applied
    assert "mirrored.mp4" in caplog.text and "mirroring is not applied" in caplog.text


def test_symbolic_link_loops_and_broken_links_say_so(tmp_path):
    loop = tmp_path / "loop.mp4"
    os.symlink(loop, loop)
    with pytest.raises(VideoDecodeError, match=r"loop\.mp4: symbolic link loop"):
        read_video(loop, 4)
    broken = tmp_path / "broken.mp4"
    os.symlink(tmp_path / "gone.mp4", broken)
    with pytest.raises(VideoDecodeError, match=r"broken\.mp4: broken symbolic link \(it points to .*gone\.mp4"):
        read_video(broken, 4)
    with pytest.raises(VideoDecodeError, match=r"nothing\.mp4: file not found"):
        read_video(tmp_path / "nothing.mp4", 4)
