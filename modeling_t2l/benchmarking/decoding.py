"""Section 4, decoding: generated clips with fixed key-frame intervals, video_io vs transformers' load_video."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .rows import DecodeRow
from .settings import BenchmarkSettings


# ---------------------------------------------------------------------------------------------------------------
# 4. Decoding
# ---------------------------------------------------------------------------------------------------------------


def write_test_clip(path, seconds: float, fps: int, size: tuple[int, int], keyframe_interval_s: float) -> Path:
    """Encode a moving-gradient H.264 clip with a fixed key-frame interval (GOP) using PyAV."""
    import av
    import numpy as np

    width, height = size
    path = Path(path)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        gop = max(1, int(round(keyframe_interval_s * fps)))
        # A fixed GOP without scene-cut key frames, so the interval is exactly what the row says.
        stream.codec_context.gop_size = gop
        stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "preset": "veryfast"}
        xs = np.arange(width, dtype=np.int32)[None, :]
        ys = np.arange(height, dtype=np.int32)[:, None]
        for index in range(int(round(seconds * fps))):
            frame = np.empty((height, width, 3), dtype=np.uint8)
            frame[..., 0] = (xs + 3 * index) % 256
            frame[..., 1] = (ys + 2 * index) % 256
            frame[..., 2] = (xs + ys + index) % 256
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def run_decoding(settings: BenchmarkSettings, workdir: Path, report_row: Callable = print) -> list[DecodeRow]:
    """One clip per key-frame interval, timed by the video-io helper's `decoding_benchmark.benchmark_decoding`
    (warm-up decode, then interleaved repetitions, medians; it reports no spread)."""
    from .readers import benchmark_decoding

    rows = []
    for interval in settings.keyframe_intervals:
        clip_name = (f"{settings.decode_seconds:g} s, {settings.decode_fps} fps, "
                     f"{settings.decode_size[0]}x{settings.decode_size[1]}, key frame every {interval:g} s")
        path = write_test_clip(Path(workdir) / f"clip_gop{interval:g}s.mp4", settings.decode_seconds,
                               settings.decode_fps, settings.decode_size, interval)
        result = benchmark_decoding([path], num_frames=settings.num_frames, repeats=settings.decode_repeats)
        for reader, key in (("video_io.read_video", "read_video_ms"),
                            ('transformers load_video(backend="pyav")', "transformers_pyav_ms")):
            row = DecodeRow(clip_name, reader, settings.num_frames, result[key] / 1000, 0.0)
            rows.append(row)
            report_row(row)
    return rows
