"""Tiny test videos written with PyAV at test time, each frame's index readable back from its pixels.

Every frame is a 4 x 4 grid of flat grey cells. Cell ``k`` (row-major) is bright when bit ``k`` of the frame
index is set, dark otherwise, so indices up to 65535 survive lossy compression (cells are much larger than a
codec block at the sizes used here). ``frame_index_from_pixels`` reads the index back from a decoded RGB or
grey frame, which lets a test check *which* frame a decoder returned, not just how many.

    from tests.video_factory import write_video, frame_index_from_pixels
    path = write_video(tmp_path / "a.mp4", num_frames=40, fmt="mp4-h264", gop=10)

Formats (``fmt``): ``mp4-h264``, ``mkv-h264``, ``avi-mpeg4``, ``webm-vp9``, ``webm-vp8``, ``mkv-ffv1``
(lossless; it accepts gray, bgra, 10-bit and yuv444 pixel formats). ``pix_fmt`` overrides the encoder's
pixel format (e.g. ``gray``, ``yuv420p10le``, ``yuv444p`` for H.264; ``bgra`` for ffv1).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

GRID = 4
NUM_BITS = GRID * GRID
LOW, HIGH = 40, 215

# fmt -> (container format, encoder, default pixel format)
FORMATS = {
    "mp4-h264": ("mp4", "libx264", "yuv420p"),
    "mkv-h264": ("matroska", "libx264", "yuv420p"),
    "avi-mpeg4": ("avi", "mpeg4", "yuv420p"),
    "webm-vp9": ("webm", "libvpx-vp9", "yuv420p"),
    "webm-vp8": ("webm", "libvpx", "yuv420p"),
    "mkv-ffv1": ("matroska", "ffv1", "yuv420p"),
}


def frame_pixels(index: int, width: int, height: int, texture: bool = False) -> np.ndarray:
    """The RGB uint8 (height, width, 3) picture of frame ``index``.

    With ``texture=True`` a moving pattern (amplitude well below the bit contrast) is added so that the encoded
    stream has a realistic bit rate (used by the decoding benchmark); the index stays readable.
    """
    if not 0 <= index < 2**NUM_BITS:
        raise ValueError(f"frame index {index} does not fit in {NUM_BITS} bits")
    rows = (np.arange(height) * GRID // height)[:, None]
    cols = (np.arange(width) * GRID // width)[None, :]
    bits = (index >> (rows * GRID + cols)) & 1
    image = np.where(bits == 1, HIGH, LOW).astype(np.int16)
    if texture:
        yy, xx = np.mgrid[0:height, 0:width]
        wave = 25 * np.sin((xx + 3 * index) / 7.0) * np.cos((yy - 2 * index) / 9.0)
        noise = np.random.default_rng(index).integers(-8, 9, size=(height, width))
        image = image + wave.astype(np.int16) + noise
    image = np.clip(image, 0, 255).astype(np.uint8)
    return np.repeat(image[:, :, None], 3, axis=2)


def frame_index_from_pixels(frame) -> int:
    """Read back the index written by :func:`frame_pixels` from a decoded frame (RGB/RGBA/grey array or PIL)."""
    array = np.asarray(frame)
    if array.ndim == 3:
        array = array[:, :, :3].mean(axis=2)
    height, width = array.shape
    index = 0
    for cell in range(NUM_BITS):
        row, col = divmod(cell, GRID)
        # The central half of each cell avoids blur across cell edges.
        top, bottom = (4 * row + 1) * height // (4 * GRID), (4 * row + 3) * height // (4 * GRID)
        left, right = (4 * col + 1) * width // (4 * GRID), (4 * col + 3) * width // (4 * GRID)
        if array[top:bottom, left:right].mean() > (LOW + HIGH) / 2:
            index |= 1 << cell
    return index


def write_video(
    path,
    num_frames: int,
    width: int = 64,
    height: int = 48,
    fmt: str = "mp4-h264",
    pix_fmt: str | None = None,
    gop: int | None = None,
    fps: int = 30,
    bframes: int | None = None,
    texture: bool = False,
    open_gop: bool = False,
) -> Path:
    """Encode ``num_frames`` index-carrying frames into ``path`` and return it.

    ``gop`` is the key-frame interval in frames (fixed: scene-cut detection is off for H.264 so key frames fall
    exactly every ``gop`` frames); ``bframes`` sets the number of B-frames for H.264 (x264 default otherwise);
    ``open_gop`` makes H.264 key frames non-IDR, so B-frames shown before a key frame are decoded after it and
    reference the previous group of pictures.
    """
    container_format, codec, default_pix_fmt = FORMATS[fmt]
    path = Path(path)
    with av.open(str(path), mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = pix_fmt or default_pix_fmt
        options = {}
        if codec == "libx264":
            params = ["scenecut=0"]
            if gop:
                params += [f"keyint={gop}", f"min-keyint={gop}"]
            if bframes is not None:
                params.append(f"bframes={bframes}")
            if open_gop:
                params.append("open-gop=1")
            options["x264-params"] = ":".join(params)
            options["preset"] = "veryfast"
        elif gop:
            stream.codec_context.gop_size = gop
            if codec.startswith("libvpx"):
                options["keyint_min"] = str(gop)
        if codec.startswith("libvpx"):
            options.update({"deadline": "realtime", "cpu-used": "8", "crf": "30", "b": "0"})
        stream.options = options
        for index in range(num_frames):
            frame = av.VideoFrame.from_ndarray(frame_pixels(index, width, height, texture), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_frame_folder(path, num_frames: int, width: int = 64, height: int = 48, start_number: int = 1) -> Path:
    """Write ``img_00001.jpg``... (1-based, as the official frame lists) with index-carrying pixels."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for index in range(num_frames):
        Image.fromarray(frame_pixels(index, width, height)).save(path / f"img_{index + start_number:05d}.jpg", quality=95)
    return path


def decode_all_frames(path) -> list[np.ndarray]:
    """Reference: a plain sequential decode of every frame to RGB (what seeking decoders must reproduce)."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
