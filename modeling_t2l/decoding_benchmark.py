"""Decoding speed: ``read_video`` against ``transformers.video_utils.load_video(backend="pyav")`` on the same clips.

Both decode ``num_frames`` frames per clip to RGB uint8. ``load_video`` uses its default uniform sampling from
frame 0 (``arange(0, N, N/T)``, so its last wanted frame is a little *earlier* than T2L's last segment centre,
which only favours it); ``read_video`` uses the official eval (segment-centre) indices. Each clip is decoded
``repeats`` times by each decoder, interleaved so background load affects both alike; the median wall time per
clip is reported. The first (warm-up) decode of each clip is not timed.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from .video_io import read_video


def _time_ms(function) -> float:
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) * 1000.0


def benchmark_decoding(clip_paths, num_frames: int = 8, repeats: int = 5) -> dict:
    """Median milliseconds per clip for both decoders, and ``speedup`` = transformers / read_video.

    Returns ``{"num_clips", "num_frames", "repeats", "read_video_ms", "transformers_pyav_ms", "speedup",
    "per_clip": [{"path", "read_video_ms", "transformers_pyav_ms"}, ...]}``.
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
            {"path": path, "read_video_ms": statistics.median(ours), "transformers_pyav_ms": statistics.median(theirs)}
        )
        ours_all += ours
        theirs_all += theirs
    ours_ms, theirs_ms = statistics.median(ours_all), statistics.median(theirs_all)
    return {
        "num_clips": len(clip_paths),
        "num_frames": num_frames,
        "repeats": repeats,
        "read_video_ms": ours_ms,
        "transformers_pyav_ms": theirs_ms,
        "speedup": theirs_ms / ours_ms,
        "per_clip": per_clip,
    }
