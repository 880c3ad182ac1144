"""Long and live videos: score one window per chunk of time, then merge windows into labelled segments.

    from transformers import pipeline
    classifier = pipeline(model="path/to/converted-t2l", trust_remote_code=True)
    windows = classifier("match.mp4", candidate_labels=["serve", "rally", "break"], chunk_length_s=4, stride_length_s=2)
    # [{'start': 0.0, 'end': 4.0, 'scores': [{'label': 'serve', 'score': 0.83}, ...]}, ...]
    segments = merge_segments(windows)
    # [{'label': 'serve', 'start': 0.0, 'end': 5.0, 'score': 0.81, 'windows': 2}, ...]

Windows (`plan_windows`). `chunk_length_s` is a window's length and `stride_length_s` the step between the starts
of consecutive windows (so 4 and 2 overlap by half). The names are those of transformers' speech pipeline; there
`stride_length_s` is the overlap on each side of a chunk, here it is the step, because video windows are scored
independently and never stitched. In frames (fps from the stream): a window holds L = round(chunk * fps) frames and
window k starts at frame round(k * stride * fps), so starts stay on the nominal times for any frame rate. Every
window holds exactly L frames (the same temporal scale for every score); when the last full window ends before the
video does, one more window is aligned to the video's end. A video shorter than one window is one window, the whole
video, scored exactly as `classifier(video)` scores it. Each window's clip is the official TSN sampling
(`video_io.sample_clip_indices`) of its L frames.

Decoding (`SeekingReader`). Only the frames some window samples are decoded and converted, in increasing order,
from a single open container: a frame far ahead of the decoder (further than the longest key-frame interval seen so
far) is reached by seeking to the key frame before it; a near one by decoding forward, with the frames nobody wants
fed as `skip_frame=NONREF` (dropped only when no other frame references them, so the wanted pixels are unchanged).
Nothing is demuxed ahead: cost grows linearly with duration and memory is bounded by the frames of the windows in
flight (`stats["peak_frames_held"]`), never by the video's length. A URL is streamed to a temporary file first.

Live sources (`FrameStream(frames, fps)`): any iterable of frames (PIL images or (H, W, 3) uint8 arrays), e.g.
`read_live("/dev/video0", format="v4l2")` for a webcam through PyAV. Frames are consumed as they arrive, only the
sampled ones are kept, and each window is scored and yielded as soon as its last sampled frame has arrived, so the
results are a generator. A live source has no known end: the frames after the last complete window (less than one
window) are not scored, and a source shorter than one window yields nothing (a warning says so).

Text that depends on the video (`model.text_depends_on_video`, TC-CLIP): the class texts are tokenized once, but
their embeddings are computed for every batch of windows from that batch's own video outputs
(`get_text_features(..., video_outputs=...)` returns one (K, E) set per window view), so each window is scored
against the texts conditioned on its own frames. Other models embed the texts once per label set (the pipeline's
cache) and reuse them for every window. Both are the shared zero-shot classifier's behaviour
(`zero_shot.classifier`); this module only decides which frames form each window.

This module is imported by the pipeline, so it travels (flattened) with saved checkpoints as remote code: it imports
only modules of this package, never a package `__init__` (`modeling_t2l.remote_code`).
"""
from __future__ import annotations

import heapq
import logging
import math
import os
import tempfile
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Iterable, Iterator, Sequence

import av
import numpy as np
import torch
from PIL import Image

from .processing.video_io import (
    VideoDecodeError,
    _open_container,
    _reformatter,
    _resolve,
    describe_source,
    sample_clip_indices,
)

logger = logging.getLogger(__name__)

DOWNLOAD_CHUNK_BYTES = 1 << 20


# --------------------------------------------------------------------------------------------------------------
# Window planning
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One scored span: frames [first, first + length) of the stream, sampled at `clips` (one index list per clip)."""

    index: int
    first: int
    length: int
    fps: float
    clips: tuple[tuple[int, ...], ...]

    @property
    def start(self) -> float:
        return self.first / self.fps

    @property
    def end(self) -> float:
        return (self.first + self.length) / self.fps

    @property
    def last_sampled(self) -> int:
        return max(max(clip) for clip in self.clips)

    @property
    def sampled(self) -> set[int]:
        return {i for clip in self.clips for i in clip}


def check_window_lengths(chunk_length_s, stride_length_s) -> tuple[float, float]:
    """Validate `chunk_length_s` / `stride_length_s` (default: half the chunk) and return them as floats."""
    for name, value in (("chunk_length_s", chunk_length_s), ("stride_length_s", stride_length_s)):
        if value is None and name == "stride_length_s":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    chunk = float(chunk_length_s)
    stride = chunk / 2 if stride_length_s is None else float(stride_length_s)
    return chunk, stride


class WindowPlan:
    """Where the windows of a stream lie (see the module docstring), computed on demand: nothing per window is stored,
    so planning a 1-hour video costs no memory. `total_frames=None` is a live stream: the windows never end.

    Iterating yields the `Window`s in time order; `is_sampled(i)` says whether any window samples frame `i`, and
    `sampled_indices()` yields every sampled frame once, ascending (what a decoder has to produce).
    """

    def __init__(self, fps: float, chunk_length_s: float, stride_length_s: float | None, num_frames: int,
                 num_clips: int = 1, total_frames: int | None = None):
        self.chunk, self.stride = check_window_lengths(chunk_length_s, stride_length_s)
        if isinstance(fps, bool) or not fps or not fps > 0:
            raise ValueError(f"the frame rate must be positive to place windows in time, got {fps!r}")
        if total_frames is not None and total_frames < 1:
            raise ValueError(f"cannot place windows in a stream of {total_frames} frames")
        self.fps, self.num_frames, self.num_clips = float(fps), int(num_frames), int(num_clips)
        self.total_frames = total_frames
        self.length = max(1, round(self.chunk * self.fps))
        self._step = self.stride * self.fps  # frames between window starts (not rounded: starts stay on time)
        if self._step < 1:
            raise ValueError(f"stride_length_s={self.stride:g} is shorter than one frame at {self.fps:g} fps")
        if total_frames is not None and total_frames <= self.length:  # one window: the whole video
            self.length, self.full_windows, self.tail_first = total_frames, 1, None
        elif total_frames is not None:
            # full windows k = 0..n-1 with round(k * step) + length <= total, then the end-aligned tail if needed
            n = math.floor((total_frames - self.length) / self._step) + 2
            while n > 0 and self._first(n - 1) + self.length > total_frames:
                n -= 1
            self.full_windows = n
            last_end = self._first(n - 1) + self.length
            self.tail_first = total_frames - self.length if last_end < total_frames else None
        else:
            self.full_windows, self.tail_first = None, None
        self._offsets = sample_clip_indices(self.length, self.num_frames, self.num_clips)
        self._offset_set = {i for clip in self._offsets for i in clip}

    def _first(self, k: int) -> int:
        return round(k * self._step)

    def __len__(self) -> int:
        if self.full_windows is None:
            raise TypeError("a live stream's plan has no length")
        return self.full_windows + (self.tail_first is not None)

    def window(self, k: int) -> Window:
        if self.full_windows is not None and k >= self.full_windows:
            if k != self.full_windows or self.tail_first is None:
                raise IndexError(f"window {k} is past the end of the stream")
            first = self.tail_first
        else:
            first = self._first(k)
        clips = tuple(tuple(first + i for i in clip) for clip in self._offsets)
        return Window(k, first, self.length, self.fps, clips)

    def __iter__(self) -> Iterator[Window]:
        k = 0
        while self.full_windows is None or k < len(self):
            yield self.window(k)
            k += 1

    def _windows_containing(self, index: int) -> Iterator[Window]:
        low = max(0, math.floor((index - self.length) / self._step))
        high = math.floor(index / self._step) + 1
        if self.full_windows is not None:
            high = min(high, self.full_windows - 1)
        for k in range(low, high + 1):
            if self._first(k) <= index < self._first(k) + self.length:
                yield self.window(k)
        if self.tail_first is not None and self.tail_first <= index:
            yield self.window(self.full_windows)

    def is_sampled(self, index: int) -> bool:
        return any(index - window.first in self._offset_set for window in self._windows_containing(index))

    def sampled_indices(self) -> Iterator[int]:
        """Every frame index some window samples, once, ascending; only the windows in flight are looked at."""
        heap: list[int] = []
        for window in self:
            while heap and heap[0] < window.first:  # no later window can add an index below its own start
                yield heapq.heappop(heap)
            for index in window.sampled - set(heap):
                heapq.heappush(heap, index)
        while heap:
            yield heapq.heappop(heap)


def plan_windows(total_frames: int, fps: float, chunk_length_s: float, stride_length_s: float | None = None,
                 num_frames: int = 8, num_clips: int = 1) -> list[Window]:
    """Every window of a stream of `total_frames` frames at `fps`, as a list (see `WindowPlan`)."""
    return list(WindowPlan(fps, chunk_length_s, stride_length_s, num_frames, num_clips, total_frames))


# --------------------------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------------------------


@dataclass
class FrameStream:
    """A live source: an iterable of frames (PIL images or (H, W, 3) uint8 arrays) arriving at `fps` per second."""

    frames: Iterable
    fps: float

    def __post_init__(self):
        if isinstance(self.fps, bool) or not isinstance(self.fps, (int, float, Fraction)) or not self.fps > 0:
            raise ValueError(f"FrameStream needs a positive frame rate (fps), got {self.fps!r}")


def read_live(source: str, *, format: str | None = None, options: dict | None = None, fps: float | None = None) -> FrameStream:
    """Frames of a live PyAV source, decoded as they arrive: a webcam (`read_live("/dev/video0", format="v4l2")`),
    an RTSP/HTTP stream or a growing file. `fps` overrides the rate the stream declares."""
    container = av.open(source, format=format, options=options or {})
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(source, "the source has no video stream")
    stream = container.streams.video[0]
    rate = fps or stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        container.close()
        raise VideoDecodeError(source, "the source declares no frame rate; pass fps=")

    def frames():
        try:
            for frame in container.decode(stream):
                yield _reformatter().reformat(frame, format="rgb24").to_ndarray()
        finally:
            container.close()

    return FrameStream(frames(), float(rate))


def _as_frame(frame, position: int) -> np.ndarray:
    if isinstance(frame, Image.Image):
        return np.asarray(frame.convert("RGB"))
    if isinstance(frame, torch.Tensor):
        frame = frame.detach().cpu().numpy()
    array = np.asarray(frame)
    if array.ndim != 3 or array.shape[-1] != 3 or array.dtype != np.uint8:
        raise ValueError(
            f"live frame {position}: expected a PIL image or a (height, width, 3) uint8 array, got "
            f"{array.dtype} {tuple(array.shape)}"
        )
    return np.array(array)  # a copy: readers may reuse their frame buffer


@contextmanager
def local_video(video, timeout: float, max_bytes: int | None = None):
    """A container target for `video`; an http(s) URL is streamed to a temporary file (never held in memory).

    `timeout` bounds each network read (a long video may take longer in total); `max_bytes` (None: no limit)
    bounds the file's size."""
    if not (isinstance(video, str) and video.startswith(("http://", "https://"))):
        yield video
        return
    with tempfile.TemporaryDirectory(prefix="t2l-timeline-") as directory:
        path = os.path.join(directory, "video")
        try:
            with urllib.request.urlopen(video, timeout=timeout) as response, open(path, "wb") as handle:
                received = 0
                while chunk := response.read(DOWNLOAD_CHUNK_BYTES):
                    received += len(chunk)
                    if max_bytes is not None and received > max_bytes:
                        raise VideoDecodeError(video, f"the response is larger than the limit of {max_bytes} bytes")
                    handle.write(chunk)
        except VideoDecodeError:
            raise
        except urllib.error.HTTPError as error:
            raise VideoDecodeError(video, f"download failed: HTTP {error.code} {error.reason}") from error
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise VideoDecodeError(video, f"download failed: {getattr(error, 'reason', error)}") from error
        if os.path.getsize(path) == 0:
            raise VideoDecodeError(video, "download returned no bytes")
        yield path


# --------------------------------------------------------------------------------------------------------------
# Seeking decoder
# --------------------------------------------------------------------------------------------------------------


@dataclass
class StreamInfo:
    fps: float
    num_frames: int
    duration: float


class SeekingReader:
    """Decode chosen frames of one video file, in increasing order, without reading the rest of it into memory.

    Frame `i` is the frame shown at time `i / fps` (the stream's average rate): exact for constant-rate video, the
    frame on screen at that time for variable-rate video. The frame count comes from the container's metadata (the
    declared count, else duration x fps), so planning needs no pass over the file.
    """

    def __init__(self, source):
        self.source = source
        kind, target = _resolve(source)
        if kind != "container":
            raise VideoDecodeError(
                describe_source(source) if not isinstance(source, str) else source,
                "long-video mode needs a video file, bytes or a URL (a frame folder or an array has no frame rate; "
                "wrap frames in FrameStream(frames, fps))",
            )
        self.container = _open_container(source, target)
        try:
            self.stream = self.container.streams.video[0]
            rate = self.stream.average_rate or self.stream.guessed_rate
            if not rate:
                raise VideoDecodeError(source, "the video stream declares no frame rate")
            self._rate = Fraction(rate)
            self._time_base = self.stream.time_base
            self._start = self.stream.start_time or 0
            self.info = StreamInfo(float(self._rate), *self._count_frames())
        except BaseException:
            self.close()
            raise
        self.frames_decoded = 0
        self.seeks = 0
        self._gop = 0  # longest key-frame interval seen (frames); seeking further than this pays off
        self._iterator = None
        self._pending = None  # (index, frame): decoded but not yet consumed
        self._last = None  # (index, frame): the last frame at or before the current target
        self._last_key = None
        self._errors = 0

    def _count_frames(self) -> tuple[int, float]:
        stream, container = self.stream, self.container
        if stream.duration and self._time_base:
            duration = float(stream.duration * self._time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        count = stream.frames or round(duration * float(self._rate))
        if count < 1:
            raise VideoDecodeError(self.source, "the stream declares neither a frame count nor a duration")
        return int(count), count / float(self._rate)

    def close(self):
        self.container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- timestamps <-> frame indices

    def _index(self, pts) -> int | None:
        if pts is None:
            return None
        return round((pts - self._start) * self._time_base * self._rate)

    def _pts(self, index: int) -> int:
        return self._start + math.floor(Fraction(index) / self._rate / self._time_base)

    # -- decoding

    def _decode(self, wanted: Callable[[int], bool]) -> Iterator[tuple[int, Any]]:
        context = self.stream.codec_context
        count = 0
        for packet in self.container.demux(self.stream):
            index = self._index(packet.pts)
            # Frames nobody wants only need decoding if another frame references them (NONREF keeps pixels exact).
            context.skip_frame = "DEFAULT" if packet.size == 0 or index is None or wanted(index) else "NONREF"
            try:
                frames = context.decode(packet if packet.size else None)
            except av.error.FFmpegError:
                self._errors += 1
                continue
            for frame in frames:
                self.frames_decoded += 1
                index = self._index(frame.pts)
                if index is None:
                    if self.seeks:
                        raise VideoDecodeError(self.source, "frames without timestamps cannot be located after a seek")
                    index = count
                count += 1
                if frame.key_frame:
                    if self._last_key is not None and index > self._last_key:
                        self._gop = max(self._gop, index - self._last_key)
                    self._last_key = index
                yield index, frame
        context.skip_frame = "DEFAULT"

    def _seek(self, index: int, wanted: Callable[[int], bool]):
        self.container.seek(self._pts(index), stream=self.stream, backward=True, any_frame=False)
        self.stream.codec_context.flush_buffers()
        self.seeks += 1
        self._last_key = None
        self._iterator = self._decode(wanted)
        self._pending = next(self._iterator, None)
        if self._pending is not None and self._pending[0] > index:
            # The container's index put us after the frame: decode it from the start instead (slow, but exact).
            logger.debug("%s: seek to frame %d landed at %d; decoding from the start", self.source, index, self._pending[0])
            self.container.seek(self._start, stream=self.stream, backward=True, any_frame=False)
            self.stream.codec_context.flush_buffers()
            self._iterator = self._decode(wanted)
            self._pending = next(self._iterator, None)
        if self._pending is not None and self._last is not None and self._pending[0] <= self._last[0]:
            # We landed before where we already were: the key-frame interval is at least this long.
            self._gop = max(self._gop, index - self._pending[0])

    def _next(self):
        if self._pending is not None:
            item, self._pending = self._pending, None
            return item
        return next(self._iterator, None)

    def read(self, indices: Iterable[int], is_wanted: Callable[[int], bool] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (index, RGB uint8 (H, W, 3)) for these frame indices (ascending, unique), decoding only around them.

        `is_wanted(i)` must be True for every index in `indices` (it lets `indices` be a lazy iterator); packets of
        other frames are decoded only as references.

        A frame past the end of the stream (the declared count was too high) or that fails to decode is replaced by
        the last frame decoded before it, with a warning naming the source.
        """
        if is_wanted is None:
            indices = list(indices)
            is_wanted = set(indices).__contains__
        wanted = is_wanted
        self._iterator = self._decode(wanted)
        missing = []
        for target in indices:
            position = self._last[0] if self._last is not None else -1
            if target - position > max(self._gop, 1) and (self._last is not None or target > self._gop):
                self._seek(target, wanted)
            frame = None
            while True:
                item = self._next()
                if item is None:
                    break
                if item[0] < target:
                    self._last = item
                    continue
                if item[0] == target:
                    frame, self._last = item[1], item
                else:  # a gap in the timestamps: the frame shown at `target` is the one before
                    self._pending = item
                    frame = self._last[1] if self._last is not None else item[1]
                break
            if frame is None:
                if self._last is None:
                    raise VideoDecodeError(self.source, "no frame could be decoded")
                missing.append(target)
                frame = self._last[1]
            yield target, _reformatter().reformat(frame, format="rgb24").to_ndarray()
        if missing:
            logger.warning(
                "Video %s: frames %s are past the end of the stream or did not decode; each is replaced by the "
                "last frame decoded before it", describe_source(self.source), missing[:10],
            )


# --------------------------------------------------------------------------------------------------------------
# Windows from frames
# --------------------------------------------------------------------------------------------------------------


def _assemble(
    windows: Iterator[Window], frames: Iterable[tuple[int, Any]], stats: dict, convert=lambda frame, index: frame
) -> Iterator[tuple[Window, np.ndarray]]:
    """Pair each window with its clips (num_clips, T, H, W, 3) as (index, frame) pairs arrive in increasing order.

    Keeps (and `convert`s to an RGB array) only the frames a planned window samples, and drops each as soon as no
    pending window needs it.
    """
    pending: list[Window] = []
    wanted: set[int] = set()
    held: dict[int, np.ndarray] = {}
    upcoming = next(windows, None)
    for index, frame in frames:
        while upcoming is not None and upcoming.first <= index:
            pending.append(upcoming)
            wanted |= upcoming.sampled
            upcoming = next(windows, None)
        if index in wanted:
            held[index] = convert(frame, index)
            stats["peak_frames_held"] = max(stats.get("peak_frames_held", 0), len(held))
        while pending and pending[0].last_sampled <= index:
            window = pending.pop(0)
            yield window, np.stack([np.stack([held[i] for i in clip]) for clip in window.clips])
            needed = set().union(*(w.sampled for w in pending)) if pending else set()
            for stale in [i for i in held if i not in needed]:
                del held[stale]
            wanted = needed
        if not pending and upcoming is None:
            return
    stats["unscored_windows"] = len(pending)


# --------------------------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------------------------


class WindowScorer:
    """Scores batches of window clips: the pipeline's image processor, then its zero-shot classifier.

    The classifier (`pipe.classifier`, i.e. `zero_shot.classifier`) is the one every caller uses: per view
    softmax(scale * cos(video, text)) over the labels, averaged over templates, then over the views of a window.
    For a model whose text depends on the video it holds the token ids and encodes the texts for every batch of
    windows from that batch's own video outputs; otherwise the texts are embedded once (and cached by the pipeline).
    """

    def __init__(self, pipe, candidate_labels, hypothesis_template=None, descriptions=None, num_crops: int = 1):
        self.pipe = pipe
        self.classifier = pipe.classifier(candidate_labels, hypothesis_template, descriptions)
        self.labels = list(pipe.last_class_texts.class_names)
        self.num_crops = num_crops

    def __call__(self, clips: list[np.ndarray]) -> torch.Tensor:
        """clips: per window (num_clips, T, H, W, 3) -> probabilities (num_windows, K)."""
        views, pixel_values = [], []
        for window_clips in clips:
            values = self.pipe.image_processor(list(window_clips), num_crops=self.num_crops, return_tensors="pt")
            views.append(values["pixel_values"].shape[0])
            pixel_values.append(values["pixel_values"])
        return self.classifier(self.pipe.model, torch.cat(pixel_values), views)


def _batches(items: Iterator, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _result(window: Window, probabilities: list[float], labels: list[str], top_k: int | None) -> dict:
    ranked = sorted(zip(labels, probabilities), key=lambda pair: -pair[1])
    if top_k is not None:
        ranked = ranked[:top_k]
    return {"start": window.start, "end": window.end, "scores": [{"label": l, "score": s} for l, s in ranked]}


# --------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------


def iter_windows(
    pipe,
    video,
    *,
    candidate_labels,
    chunk_length_s: float,
    stride_length_s: float | None = None,
    hypothesis_template=None,
    descriptions=None,
    top_k: int | None = None,
    num_clips: int = 1,
    num_crops: int = 1,
    batch_size: int = 1,
    timeout: float = 30.0,
    max_download_bytes: int | None = None,
    stats: dict | None = None,
) -> Iterator[dict]:
    """Yield {"start", "end", "scores"} per window of `video` (a file, bytes, URL or `FrameStream`), in time order.

    Arguments are checked (and the texts embedded) before the first window is asked for. `stats`, if given, is
    filled with `windows`, `peak_frames_held`, `fps` and, for files, `duration`, `frames_decoded`, `seeks`.
    """
    chunk, stride = check_window_lengths(chunk_length_s, stride_length_s)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(video, (list, tuple, np.ndarray, torch.Tensor)):
        raise ValueError(
            "chunk_length_s needs a video file, bytes or a URL; for frames in memory or from a camera pass "
            "FrameStream(frames, fps) (the frame rate places the windows in time)"
        )
    scorer = WindowScorer(pipe, candidate_labels, hypothesis_template, descriptions, num_crops)
    return _iter_windows(pipe, video, scorer, chunk, stride, top_k, num_clips, batch_size, timeout,
                         max_download_bytes, {} if stats is None else stats)


def _iter_windows(pipe, video, scorer, chunk, stride, top_k, num_clips, batch_size, timeout, max_bytes,
                  stats) -> Iterator[dict]:
    labels = scorer.labels
    if isinstance(video, FrameStream):
        plan = iter(WindowPlan(float(video.fps), chunk, stride, pipe.num_frames, num_clips))
        stats["fps"] = float(video.fps)
        pairs = _assemble(plan, enumerate(video.frames), stats, convert=_as_frame)
        yield from _score(pairs, scorer, labels, top_k, batch_size, stats)
        if not stats.get("windows"):
            logger.warning("The live source ended before its first %.3g s window was complete: nothing scored", chunk)
        return
    with local_video(video, timeout, max_bytes) as local, SeekingReader(local) as reader:
        info = reader.info
        stats.update(fps=info.fps, duration=info.duration)
        plan = WindowPlan(info.fps, chunk, stride, pipe.num_frames, num_clips, info.num_frames)
        pairs = _assemble(iter(plan), reader.read(plan.sampled_indices(), plan.is_sampled), stats)
        yield from _score(pairs, scorer, labels, top_k, batch_size, stats)
        stats.update(frames_decoded=reader.frames_decoded, seeks=reader.seeks)


def _score(pairs, scorer: WindowScorer, labels, top_k, batch_size, stats: dict) -> Iterator[dict]:
    stats["windows"] = 0
    for batch in _batches(pairs, batch_size):
        probabilities = scorer([clips for _, clips in batch])
        for (window, _), row in zip(batch, probabilities.tolist()):
            stats["windows"] += 1
            yield _result(window, row, labels, top_k)


def classify_windows(pipe, video, **kwargs) -> list[dict] | Iterator[dict]:
    """`pipe(video, chunk_length_s=...)`: a list of windows for a file, a generator for a `FrameStream`."""
    windows = iter_windows(pipe, video, **kwargs)
    return windows if isinstance(video, FrameStream) else list(windows)


def merge_segments(windows: Sequence[dict]) -> list[dict]:
    """Consecutive windows with the same top label -> {"label", "start", "end", "score", "windows"}.

    Windows overlap, so segment boundaries are placed half-way between the centres of the last window of one
    segment and the first of the next; the first segment starts where the first window does and the last ends where
    the last window does. Segments therefore tile the scored time without overlap, and a change of action is
    located to within half a stride plus the windows' own ambiguity. `score` is the mean top score of the windows.
    """
    segments: list[dict] = []
    windows = list(windows)
    for position, window in enumerate(windows):
        top = max(window["scores"], key=lambda item: item["score"])
        if segments and segments[-1]["label"] == top["label"]:
            segment = segments[-1]
            segment["_scores"].append(top["score"])
        else:
            if segments:
                previous = windows[position - 1]
                boundary = (_centre(previous) + _centre(window)) / 2
                segments[-1]["end"] = boundary
                start = boundary
            else:
                start = window["start"]
            segment = {"label": top["label"], "start": start, "end": window["end"], "_scores": [top["score"]]}
            segments.append(segment)
        segment["end"] = window["end"]
    return [
        {"label": s["label"], "start": s["start"], "end": s["end"], "score": float(np.mean(s["_scores"])),
         "windows": len(s["_scores"])}
        for s in segments
    ]


def _centre(window: dict) -> float:
    return (window["start"] + window["end"]) / 2


__all__ = [
    "FrameStream",
    "SeekingReader",
    "Window",
    "WindowScorer",
    "classify_windows",
    "iter_windows",
    "merge_segments",
    "plan_windows",
    "read_live",
]
