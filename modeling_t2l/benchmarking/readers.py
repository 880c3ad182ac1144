"""Decoding speed: ``read_video`` against ``transformers.video_utils.load_video(backend="pyav")`` on the same clips.

Both decode ``num_frames`` frames per clip to RGB uint8. ``load_video`` uses its default uniform sampling from
frame 0 (``arange(0, N, N/T)``, so its last wanted frame is a little *earlier* than T2L's last segment centre,
which only favours it); ``read_video`` uses the official eval (segment-centre) indices. Each clip is decoded
``repeats`` times by each decoder, interleaved so background load affects both alike; the median wall time per
clip is reported, as wall time and as process CPU time (on a shared machine the CPU time is the steadier
number). The first (warm-up) decode of each clip is not timed. ``write_benchmark_clips`` writes the standard
clips (10 s, 30 fps, 340x256 H.264, 1 s and 5 s key-frame intervals).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from ..processing.video_io import read_video


def _time_ms(function) -> tuple[float, float]:
    """(wall ms, CPU ms of this process). CPU time is what a loaded machine cannot inflate much."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return (time.perf_counter() - wall) * 1000.0, (time.process_time() - cpu) * 1000.0


def benchmark_decoding(clip_paths, num_frames: int = 8, repeats: int = 5) -> dict:
    """Median milliseconds per clip for both decoders, and the speed-ups (transformers time / read_video time).

    Returns ``{"num_clips", "num_frames", "repeats", "read_video_ms", "transformers_pyav_ms", "speedup",
    "read_video_cpu_ms", "transformers_pyav_cpu_ms", "speedup_cpu", "per_clip": [{"path", "read_video_ms",
    "transformers_pyav_ms"}, ...]}``; ``*_ms`` are wall-clock medians, ``*_cpu_ms`` process CPU-time medians.
    """
    from transformers.video_utils import load_video

    clip_paths = [str(Path(path)) for path in clip_paths]
    if not clip_paths:
        raise ValueError("benchmark_decoding needs at least one clip")
    ours_all, theirs_all, per_clip = [], [], []
    for path in clip_paths:
        # Warm-up (file cache, codec initialisation) and a sanity check that both return num_frames frames.
        ours_frames = read_video(path, num_frames)
        theirs_frames, _ = load_video(path, num_frames=num_frames, backend="pyav")
        if len(ours_frames) != num_frames or len(theirs_frames) != num_frames:
            raise RuntimeError(f"{path}: decoders returned {len(ours_frames)} and {len(theirs_frames)} frames")
        ours, theirs = [], []
        for _ in range(repeats):
            ours.append(_time_ms(lambda: read_video(path, num_frames)))
            theirs.append(_time_ms(lambda: load_video(path, num_frames=num_frames, backend="pyav")))
        per_clip.append(
            {
                "path": path,
                "read_video_ms": statistics.median(wall for wall, _ in ours),
                "transformers_pyav_ms": statistics.median(wall for wall, _ in theirs),
            }
        )
        ours_all += ours
        theirs_all += theirs
    ours_ms = statistics.median(wall for wall, _ in ours_all)
    theirs_ms = statistics.median(wall for wall, _ in theirs_all)
    ours_cpu = statistics.median(cpu for _, cpu in ours_all)
    theirs_cpu = statistics.median(cpu for _, cpu in theirs_all)
    return {
        "num_clips": len(clip_paths),
        "num_frames": num_frames,
        "repeats": repeats,
        "read_video_ms": ours_ms,
        "transformers_pyav_ms": theirs_ms,
        "speedup": theirs_ms / ours_ms,
        "read_video_cpu_ms": ours_cpu,
        "transformers_pyav_cpu_ms": theirs_cpu,
        "speedup_cpu": theirs_cpu / ours_cpu if ours_cpu > 0 else float("nan"),
        "per_clip": per_clip,
    }


def write_benchmark_clips(directory, key_frame_intervals_s=(1, 5), num_clips: int = 2, seconds: int = 10,
                          fps: int = 30, width: int = 340, height: int = 256) -> dict[int, list[Path]]:
    """Write the standard benchmark clips: ``seconds`` of H.264 at ``fps``, ``width`` x ``height``, textured, one
    set per key-frame interval (seconds). Returns {interval: [paths]}. Uses PyAV only (no test helpers needed)."""
    import av
    import numpy as np

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    clips: dict[int, list[Path]] = {}
    # A smooth texture that pans across the frame plus mild noise: a realistic bit rate, unlike flat frames.
    # Cropping a precomputed larger texture keeps writing cheap.
    margin = 4 * seconds * fps
    yy, xx = np.mgrid[0 : height + margin, 0 : width + margin]
    texture = (100 + 60 * np.sin(xx / 11.0) * np.cos(yy / 13.0)).astype(np.int16)
    for interval in key_frame_intervals_s:
        gop = int(interval * fps)
        clips[interval] = []
        for clip in range(num_clips):
            path = directory / f"clip_gop{interval}s_{clip}.mp4"
            clips[interval].append(path)
            if path.exists():
                continue
            rng = np.random.default_rng(clip)
            noise_bank = rng.integers(-12, 13, (7, height, width, 1), dtype=np.int16)
            with av.open(str(path), "w", format="mp4") as container:
                stream = container.add_stream("libx264", rate=fps)
                stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                stream.options = {"preset": "veryfast", "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
                for index in range(seconds * fps):
                    view = texture[2 * index : 2 * index + height, 3 * index : 3 * index + width, None]
                    picture = np.clip(view + noise_bank[index % 7] + (clip * 20), 0, 255).astype(np.uint8)
                    frame = av.VideoFrame.from_ndarray(np.repeat(picture, 3, axis=2), format="rgb24")
                    for packet in stream.encode(frame):
                        container.mux(packet)
                for packet in stream.encode():
                    container.mux(packet)
    return clips
