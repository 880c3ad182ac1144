"""A user's video archive: which files it holds, the windows each is embedded as, and their clips.

A video is embedded whole (one row), or, when a window length is given and the video is longer, as fixed windows
of `window` seconds every `stride` seconds; the last window is aligned to the end of the video so its tail is
covered. Each window (the whole video included) is sampled as the official test samples a video: `num_frames`
frames at the segment centres of its frame range.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts", ".mts", ".ogv"}
)


@dataclass(frozen=True)
class ArchiveFile:
    """One video file: its path relative to the archive root (POSIX), size in bytes and modification time (ns)."""

    path: str
    size: int
    mtime_ns: int

    @property
    def stamp(self) -> tuple[int, int]:
        """What says the file is unchanged since it was embedded."""
        return self.size, self.mtime_ns


def scan_archive(root: str | os.PathLike, exclude: Sequence[str | os.PathLike] = ()) -> list[ArchiveFile]:
    """Every video file under `root` (by extension; hidden files and folders skipped), sorted by path.

    `exclude` names folders not to walk (the index itself, when it is written inside the archive).
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a directory (pass the folder that holds the videos)")
    excluded = {Path(path).resolve() for path in exclude}
    found = []
    for folder, subfolders, names in os.walk(root):
        folder_path = Path(folder)
        subfolders[:] = sorted(
            name for name in subfolders if not name.startswith(".") and (folder_path / name).resolve() not in excluded
        )
        for name in names:
            if name.startswith(".") or Path(name).suffix.lower() not in VIDEO_EXTENSIONS:
                continue
            path = folder_path / name
            stat = path.stat()
            found.append(ArchiveFile(path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return sorted(found, key=lambda item: item.path)


def plan_windows(duration: float | None, window: float | None, stride: float | None) -> list[tuple[float, float]]:
    """(start, end) seconds of the windows a video of `duration` seconds is embedded as.

    No window, an unknown duration or a video no longer than the window: the whole video, `(0, duration)`.
    Otherwise windows start every `stride` seconds (default: `window`, no overlap) and the last one ends at
    `duration`.
    """
    if window is None or duration is None or duration <= window:
        return [(0.0, float(duration or 0.0))]
    stride = window if stride is None else stride
    starts = []
    start = 0.0
    while start + window < duration:
        starts.append(start)
        start = round(start + stride, 9)
    tail = round(duration - window, 9)
    if not starts or starts[-1] < tail:
        starts.append(tail)
    return [(s, min(duration, s + window)) for s in starts]


def check_window_settings(window: float | None, stride: float | None) -> None:
    if window is None:
        if stride is not None:
            raise ValueError("stride needs a window length (window=...)")
        return
    if not window > 0:
        raise ValueError(f"window must be a positive number of seconds, got {window!r}")
    if stride is not None and not stride > 0:
        raise ValueError(f"stride must be a positive number of seconds, got {stride!r}")


def window_frame_indices(num_frames_in_video: int, duration: float, start: float, end: float,
                         num_samples: int) -> list[int]:
    """Frame indices of one window: the official segment-centre sampling of the frames inside [start, end).

    The whole video, `(0, duration)`, gives exactly `sample_frame_indices(num_frames_in_video, T, "eval")`.
    """
    from ..processing.video_io import sample_frame_indices

    total = int(num_frames_in_video)
    if duration and duration > 0:
        first = min(total - 1, max(0, math.floor(start * total / duration + 1e-9)))
        stop = min(total, max(first + 1, round(end * total / duration)))
    else:
        first, stop = 0, total
    return [first + index for index in sample_frame_indices(stop - first, num_samples, "eval")]


def video_duration(path: str | os.PathLike) -> float | None:
    """Seconds, from the container (else frames / fps); None when unknown. Probing also proves a frame decodes."""
    from ..processing.video_io import probe_video

    info = probe_video(path)
    if info.duration is None and info.fps:
        return info.num_frames / info.fps
    return info.duration


def read_windows(path: str | os.PathLike, windows: Sequence[tuple[float, float]], num_frames: int,
                 duration: float | None) -> np.ndarray:
    """uint8 clips (W, T, H, W, 3) of these (start, end) windows of a video of `duration` seconds, from one demux."""
    from ..processing.video_io import read_clips

    def choose(total: int) -> list[list[int]]:
        return [window_frame_indices(total, duration, start, end, num_frames) for start, end in windows]

    return np.stack(read_clips(str(path), choose))
