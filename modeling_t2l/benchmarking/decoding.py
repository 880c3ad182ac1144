"""Section 4, decoding: `read_video` against every reader of `readers.py` on generated clips with fixed key-frame
intervals; and `write_test_clip`, the one clip writer of the benchmarks (decoding, pipeline, evaluation and the
device check's data loader all read its clips)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .readers import OURS, available_readers
from .rows import DecodeRow
from .settings import BenchmarkSettings
from .timing import measure_interleaved


def write_test_clip(path, seconds: float, fps: int, size: tuple[int, int], keyframe_interval_s: float,
                    seed: int = 0) -> Path:
    """Encode an H.264 clip (yuv420p) with a fixed key-frame interval (GOP), using PyAV.

    The picture is a smooth texture panning across the frame plus mild noise, so the bit rate is that of real
    footage, not of flat frames a decoder skims through; `seed` varies the noise and brightness between clips.
    """
    import av
    import numpy as np

    width, height = size
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    num_frames = int(round(seconds * fps))
    # cropping a precomputed larger texture keeps writing cheap
    margin = 3 * num_frames
    ys, xs = np.mgrid[0:height + 2 * num_frames + 1, 0:width + margin + 1]
    texture = (100 + 60 * np.sin(xs / 11.0) * np.cos(ys / 13.0)).astype(np.int16)
    rng = np.random.default_rng(seed)
    noise_bank = rng.integers(-12, 13, (7, height, width, 1), dtype=np.int16)
    gop = max(1, int(round(keyframe_interval_s * fps)))
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # A fixed GOP without scene-cut key frames, so the interval is exactly what the row says.
        stream.codec_context.gop_size = gop
        stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "preset": "veryfast"}
        for index in range(num_frames):
            view = texture[2 * index:2 * index + height, 3 * index:3 * index + width, None]
            picture = np.clip(view + noise_bank[index % 7] + 20 * (seed % 5), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.repeat(picture, 3, axis=2), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def run_decoding(settings: BenchmarkSettings, workdir: Path, report_row: Callable = print) -> list[DecodeRow]:
    """One clip per key-frame interval; every reader that runs here, after one untimed (checked) call, timed with
    `decode_repeats` interleaved wall-clock repetitions. Readers that cannot run here get a row with the reason."""
    rows = []
    for interval in settings.keyframe_intervals:
        clip_name = (f"{settings.decode_seconds:g} s, {settings.decode_fps} fps, "
                     f"{settings.decode_size[0]}x{settings.decode_size[1]}, key frame every {interval:g} s")
        path = write_test_clip(Path(workdir) / f"clip_gop{interval:g}s.mp4", settings.decode_seconds,
                               settings.decode_fps, settings.decode_size, interval)
        readers, unavailable = available_readers(str(path), settings.num_frames)
        timings = measure_interleaved({name: call for name, (call, _) in readers.items()}, warmup=0,
                                      repeats=settings.decode_repeats)
        for name, (_, difference) in readers.items():
            exact = "its own indices, not compared" if difference is None else (
                "identical frames" if difference == 0 else f"max pixel difference {difference}")
            row = DecodeRow(clip_name, name, settings.num_frames, timings[name].median, timings[name].spread,
                            exact if name != OURS else "reference")
            rows.append(row)
            report_row(row)
        for name, reason in unavailable.items():
            row = DecodeRow(clip_name, name, settings.num_frames, float("nan"), float("nan"), reason)
            rows.append(row)
            report_row(row)
    return rows
