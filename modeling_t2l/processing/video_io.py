"""The one place that decodes video: official TSN frame sampling and exact, seeking PyAV decoding.

``read_video(source, num_frames)`` returns the frames a plain sequential decode would return at the TSN indices
of ``t2l_reference.md`` §6.2, but decodes only from the key frame before each wanted frame.

How decoding works (and why it is exact):

1. The video stream is demuxed once without decoding. That gives the exact frame count (one packet per frame,
   also for webm/mkv which store no count) and each frame's presentation timestamp (pts): frame ``i`` of a
   sequential decode is the packet with the ``i``-th smallest pts. The compressed packets are kept in memory
   (a few MB for a dataset clip), so "seeking" is choosing where to start feeding packets: no container seek,
   no reliance on the container's seek index (which webm/avi files often lack or get wrong).
2. For each wanted frame (in presentation order) the decoder starts at the last key-frame packet that precedes
   it in decode order. If the decoder is already at or past that key frame it simply keeps going (wanted frames
   close together are decoded sequentially); otherwise it is flushed and restarts at the key frame, skipping
   whole groups of pictures.
3. Once a wanted frame's packet is in, and the next wanted frame needs a restart anyway, the decoder is drained
   instead of being fed more packets just to push the frame out of its B-frame reordering delay.
4. Packets of frames nobody wants are fed with ``skip_frame=NONREF``: the decoder drops them only if no other
   frame references them, so the reference frames, and therefore the wanted pixels, are unchanged.
5. Frames are matched by pts; only wanted frames are converted to RGB (``rgb24``, so grey, RGBA, 10-bit and
   4:4:4 inputs all come out as RGB uint8).

If the stream ends, or a packet fails to decode, before a wanted frame appears, that frame is replaced by the
last frame decoded before it (a warning names the source). If no frame at all decodes, ``VideoDecodeError``.

Geometry:

- Rotation metadata (the display matrix an mp4/mov from a phone carries) is applied, as players do: frames come
  out upright (multiples of 90 degrees; another angle or a mirrored matrix is logged and left as stored).
- A stream whose resolution changes mid-way (concatenated or adaptive streams) is scaled, frame by frame, to the
  size the stream declares at its start (a warning names the source), so every clip is one array.
- Frames of a frame folder must all have one size: mixed sizes are a ``VideoDecodeError`` naming both frame
  files (a folder of extracted frames with two sizes is a broken extraction, not a video to guess at).
- A still image (PNG, JPEG, ... also when renamed ``.mp4``) is a ``VideoDecodeError``, not a one-frame video.

Sources: a path to a video file, a path to a frame folder (``img_00001.jpg``..., 1-based as the official lists),
``bytes``, a binary file-like object, a ``datasets`` ``Video(decode=False)`` dict ``{"path", "bytes"}``, or
already decoded frames, a uint8 ``(N, H, W, 3)`` array (``read_all_frames``), sampled the same way.
"""

from __future__ import annotations

import bisect
import errno
import io
import logging
import os
import re
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

logger = logging.getLogger(__name__)

FRAME_FILE_TEMPLATE = "img_{:05d}.jpg"
_FRAME_FILE_PATTERN = re.compile(r"^img_(\d{5})\.jpg$")


class VideoDecodeError(Exception):
    """A video could not be decoded. ``source`` names the file (or the in-memory object), ``reason`` says why."""

    def __init__(self, source: Any, reason: str):
        self.source = source if isinstance(source, str) else describe_source(source)
        self.reason = reason
        super().__init__(f"Cannot decode video {self.source}: {reason}")

    def __reduce__(self):  # keep it picklable, so DataLoader workers can pass it to the main process
        return (type(self), (self.source, self.reason))


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe_video`` reports. ``fps`` and ``duration`` (seconds) are ``None`` for frame folders."""

    num_frames: int
    fps: float | None
    width: int
    height: int
    duration: float | None


def describe_source(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, dict):
        return str(source.get("path") or f"<{len(source.get('bytes') or b'')} bytes>")
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes in memory>"
    if isinstance(source, np.ndarray):
        return f"<{len(source)} decoded frames in memory>"
    name = getattr(source, "name", None)
    return f"<file object {name}>" if name else f"<file object {type(source).__name__}>"


# --------------------------------------------------------------------------------------------------------------
# Frame sampling (t2l_reference.md §6.2)
# --------------------------------------------------------------------------------------------------------------


def _as_rng(generator) -> np.random.Generator:
    if isinstance(generator, np.random.Generator):
        return generator
    if generator is not None and not isinstance(generator, (int, np.integer)):
        raise TypeError(
            f"generator must be a numpy.random.Generator, an int seed or None, not {type(generator).__name__}"
        )
    # None draws fresh OS entropy, so DataLoader workers never share a random stream.
    return np.random.default_rng(generator)


FRAME_SAMPLINGS = ("actionclip", "mmaction")
"""The TSN samplers: ActionCLIP's (T2L; the default) and mmaction2's `SampleFrames` (TC-CLIP, ViFi-CLIP)."""


def _check_sampling(sampling: str) -> None:
    if sampling not in FRAME_SAMPLINGS:
        raise ValueError(f"frame sampling must be one of {FRAME_SAMPLINGS}, got {sampling!r}")


def sample_mmaction_indices(num_frames_in_video: int, num_samples: int, mode: str = "eval", generator=None) -> list[int]:
    """mmaction2 `SampleFrames(clip_len=1, frame_interval=1, num_clips=T)` indices (spec tc_clip_reference §6.2).

    - ``mode="eval"`` (``test_mode``): ``int(i * N/T + N/(2T))`` with float ``N/T``.
    - ``mode="train"``: ``avg = N // T``; ``avg > 0``: ``i * avg + randint(avg)`` (the last ``N mod T`` frames are
      never drawn); otherwise ``round(i * N/T)`` (numpy's round-half-to-even). Indices are taken modulo N.
    """
    n, t = int(num_frames_in_video), int(num_samples)
    if n < 1:
        raise ValueError(f"cannot sample from a video with {n} frames")
    if t < 1:
        raise ValueError(f"num_samples must be >= 1, got {t}")
    if mode == "eval":
        average = n / t
        return [int(i * average + average / 2.0) % n for i in range(t)]
    if mode == "train":
        rng = _as_rng(generator)
        average = n // t
        if average > 0:
            return [(i * average + int(rng.integers(average))) % n for i in range(t)]
        if n > t:  # unreachable with clip_len 1 (kept for the sampler's structure)
            return sorted(int(x) for x in rng.integers(n, size=t))
        return [int(x) % n for x in np.around(np.arange(t) * (n / t))]
    raise ValueError(f"mode must be 'eval' or 'train', got {mode!r}")


def sample_frame_indices(
    num_frames_in_video: int, num_samples: int, mode: str = "eval", generator=None, sampling: str = "actionclip"
) -> list[int]:
    """0-based frame indices, exactly the official TSN sampling (ActionCLIP/T2L ``Datasets.py``, ``seg_length=1``).

    N = ``num_frames_in_video``, T = ``num_samples``.

    - ``mode="eval"`` (also the official train sampling with ``random_shift=False``):
      T == 1: ``[N // 2]``; N <= T: ``floor(i*N/T)`` (frames repeat); N > T: ``int(i*N/T + (N/T - 1)/2)``, the
      segment centres, truncated.
    - ``mode="train"``: N > T: ``tick_i + randint(tick_{i+1} - tick_i)`` with ``tick_i = floor(i*N/T)``;
      N <= T: all N frames plus T - N random extra frames, sorted.

    ``generator`` (train only) is a ``numpy.random.Generator`` or an int seed; ``None`` uses fresh entropy.
    ``sampling="mmaction"``: mmaction2's sampler instead (`sample_mmaction_indices`).
    """
    _check_sampling(sampling)
    if sampling == "mmaction":
        return sample_mmaction_indices(num_frames_in_video, num_samples, mode, generator)
    n, t = int(num_frames_in_video), int(num_samples)
    if n < 1:
        raise ValueError(f"cannot sample from a video with {n} frames")
    if t < 1:
        raise ValueError(f"num_samples must be >= 1, got {t}")
    if mode == "eval":
        if t == 1:
            return [n // 2]
        if n <= t:
            return [i * n // t for i in range(t)]
        offset = (n / t - 1) / 2.0  # same float expression order as the official code
        return [int(i * n / t + offset) for i in range(t)]
    if mode == "train":
        rng = _as_rng(generator)
        if n <= t:
            extra = rng.integers(0, n, size=t - n)
            return sorted([*range(n), *(int(x) for x in extra)])
        ticks = [i * n // t for i in range(t + 1)]
        return [ticks[i] + int(rng.integers(0, ticks[i + 1] - ticks[i])) for i in range(t)]
    raise ValueError(f"mode must be 'eval' or 'train', got {mode!r}")


def sample_clip_indices(num_frames_in_video: int, num_samples: int, num_clips: int,
                        sampling: str = "actionclip") -> list[list[int]]:
    """Deterministic multi-clip eval indices (not in the official code, which tests one clip).

    Segment ``i`` has length ``L = N/T``; clip ``c`` of ``C`` takes ``int(i*L + (c + 0.5)*L/C - 0.5)``, i.e. the
    ``C`` evenly spaced positions inside each segment (centres of ``C`` equal sub-segments, truncated as the
    official centre formula is). With ``C = 1`` this is exactly the official segment centre (of `sampling`'s
    sampler). When N <= T (or T == 1) a segment has at most one frame to offer, so every clip equals
    ``sample_frame_indices(..., "eval", sampling=sampling)``.
    """
    n, t, c = int(num_frames_in_video), int(num_samples), int(num_clips)
    if c < 1:
        raise ValueError(f"num_clips must be >= 1, got {c}")
    if c == 1 or n <= t or t == 1:
        return [sample_frame_indices(n, t, "eval", sampling=sampling)] * c
    length = n / t
    return [
        [min(n - 1, max(0, int(i * length + (clip + 0.5) * length / c - 0.5))) for i in range(t)]
        for clip in range(c)
    ]


# --------------------------------------------------------------------------------------------------------------
# Opening sources
# --------------------------------------------------------------------------------------------------------------


def _resolve(source):
    """Return (kind, target): kind is "folder" (a Path), "array" (decoded frames) or "container" (something
    ``av.open`` accepts)."""
    if isinstance(source, np.ndarray):
        if source.ndim != 4 or source.shape[-1] != 3 or source.dtype != np.uint8 or len(source) == 0:
            raise VideoDecodeError(
                f"<array {tuple(source.shape)} {source.dtype}>",
                "decoded frames must be a non-empty uint8 array of shape (frames, height, width, 3)",
            )
        return "array", source
    if isinstance(source, dict):  # datasets.Video(decode=False) value
        source = source.get("bytes") or source.get("path")
        if source is None:
            raise VideoDecodeError("<empty video dict>", "neither 'bytes' nor 'path' is set")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        _check_path(source, path)
        if path.is_dir():
            return "folder", path
        if path.stat().st_size == 0:
            raise VideoDecodeError(source, "the file is empty")
        return "container", str(path)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise VideoDecodeError(source, "no bytes")
        return "container", io.BytesIO(bytes(source))
    if hasattr(source, "read"):
        return "container", source
    raise TypeError(f"unsupported video source type {type(source).__name__}: pass a path, bytes or a binary file")


def _check_path(source, path: Path) -> None:
    """Say why a path cannot be opened: missing, a broken or looping symbolic link, or not accessible."""
    try:
        os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise VideoDecodeError(source, f"broken symbolic link (it points to {os.readlink(path)}, which does "
                                           f"not exist)") from None
        raise VideoDecodeError(source, "file not found") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise VideoDecodeError(source, "symbolic link loop (the link resolves to itself)") from None
        raise VideoDecodeError(source, f"cannot access the file ({error.strerror})") from None


def _read_head_and_size(target) -> tuple[bytes, int] | None:
    """First 64 KiB and total size of a container target, restoring a file object's position."""
    if isinstance(target, str):
        with open(target, "rb") as handle:
            return handle.read(65536), os.path.getsize(target)
    if hasattr(target, "seek") and hasattr(target, "tell"):
        try:
            position = target.tell()
            head = target.read(65536)
            target.seek(0, io.SEEK_END)
            size = target.tell()
            target.seek(position)
            return head, size
        except (OSError, ValueError):
            return None
    return None


def _read_ebml_vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    first = data[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, pos + length


def _truncation_reason(target) -> str | None:
    """Detect a truncated file from the container's own declared sizes (mp4/mov boxes, Matroska segment, RIFF).

    A truncated Matroska/AVI file still demuxes (silently shorter), and a truncated mp4 fails with an opaque
    message, so the sizes the muxer wrote are checked against the real file size first.
    """
    head_and_size = _read_head_and_size(target)
    if head_and_size is None:
        return None
    head, size = head_and_size
    if len(head) >= 12 and head[:4] == b"RIFF":
        declared = 8 + struct.unpack("<I", head[4:8])[0]
        if declared > size:
            return f"truncated file: the RIFF header declares {declared} bytes but the file has {size}"
    elif head[:4] == b"\x1a\x45\xdf\xa3":
        try:
            header_size, pos = _read_ebml_vint(head, 4, keep_marker=False)
            pos += header_size
            element_id, pos = _read_ebml_vint(head, pos, keep_marker=True)
            segment_size, pos = _read_ebml_vint(head, pos, keep_marker=False)
        except IndexError:
            return "truncated file: the Matroska header is incomplete"
        unknown_size = segment_size in {(1 << (7 * k)) - 1 for k in range(1, 9)}
        if element_id == 0x18538067 and not unknown_size and pos + segment_size > size:
            return f"truncated file: the Matroska segment declares {pos + segment_size} bytes but the file has {size}"
    elif len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return _mp4_truncation_reason(target, size)
    return None


def _mp4_truncation_reason(target, size: int) -> str | None:
    """Walk the top-level ISO-BMFF boxes by their headers only; the last one must end inside the file."""
    handle = open(target, "rb") if isinstance(target, str) else target
    start = None if isinstance(target, str) else handle.tell()
    try:
        offset = 0
        while offset + 8 <= size:
            handle.seek(offset)
            header = handle.read(16)
            box_size, box_type = struct.unpack(">I4s", header[:8])
            if box_size == 1 and len(header) == 16:
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:  # box extends to the end of the file
                return None
            if box_size < 8:
                return None  # not a box structure we understand; let FFmpeg judge
            if offset + box_size > size:
                name = box_type.decode("latin-1")
                return f"truncated file: the mp4 '{name}' box needs {offset + box_size} bytes but the file has {size}"
            offset += box_size
        return None
    finally:
        if isinstance(target, str):
            handle.close()
        else:
            handle.seek(start)


def _open_container(source, target):
    reason = _truncation_reason(target)
    if reason:
        raise VideoDecodeError(source, reason)
    try:
        container = av.open(target, mode="r", metadata_errors="ignore")
    except Exception as error:  # PyAV raises FFmpegError subclasses, and occasionally IndexError, on garbage
        raise VideoDecodeError(source, f"not a readable video container ({error})") from error
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(source, "the file has no video stream")
    if _is_still_image(container):
        codec = container.streams.video[0].codec_context.name
        container.close()
        raise VideoDecodeError(source, f"a still image ({codec}), not a video; pass a video file, a frame folder or "
                                       f"a list of frames")
    return container


def _is_still_image(container) -> bool:
    # FFmpeg reads single images with its image demuxers: "image2" and one "<codec>_pipe" per image format (png,
    # jpeg, bmp, webp, tiff, ...), whatever the file is named. Animated GIF and APNG have demuxers of their own.
    name = container.format.name
    return name == "image2" or name.endswith("_pipe")


class _Packets:
    """Every video packet of a container in decode order, with its pts and key-frame flag."""

    def __init__(self, source, container):
        self.stream = container.streams.video[0]
        self.packets = []
        try:
            for packet in container.demux(self.stream):
                if packet.size:  # the final empty packet only signals the end of the stream
                    self.packets.append(packet)
        except av.error.FFmpegError as error:
            if not self.packets:
                raise VideoDecodeError(source, f"the video stream cannot be read ({error})") from error
            logger.warning("Video %s: demuxing stopped early (%s); using the %d frames read", describe_source(source), error, len(self.packets))
        if not self.packets:
            raise VideoDecodeError(source, "the video stream has no frames")
        pts = [p.pts if p.pts is not None else p.dts for p in self.packets]
        # Timestamps identify frames; without a complete, unique set we fall back to counting decoded frames.
        self.has_timestamps = None not in pts and len(set(pts)) == len(pts)
        self.pts = pts
        self.is_key = [bool(p.is_keyframe) for p in self.packets]
        self.key_positions = [i for i, key in enumerate(self.is_key) if key]
        # Packets an mp4 edit list marks "discard" are decoded (as references) but never output as frames.
        shown = [value for value, packet in zip(pts, self.packets) if not packet.is_discard]
        self.num_frames = len(shown)
        if self.num_frames == 0:
            raise VideoDecodeError(source, "the video stream has no displayable frames")
        if self.has_timestamps:
            self.presentation_pts = sorted(shown)
            self.position_of_pts = {value: i for i, value in enumerate(pts)}

    def __len__(self) -> int:
        return len(self.packets)

    def start_position(self, pts: int) -> int:
        """Decode position of the key frame to start from to decode the frame with this pts."""
        position = self.position_of_pts[pts]
        k = bisect.bisect_right(self.key_positions, position) - 1
        # Open-GOP leading pictures (pts before their key frame's) need the previous key frame.
        while k > 0 and self.pts[self.key_positions[k]] > pts:
            k -= 1
        return self.key_positions[k] if k >= 0 else 0


def _decode_safely(codec_context, packet, errors: list):
    try:
        return codec_context.decode(packet)
    except av.error.FFmpegError as error:
        errors.append(error)
        return []


def _decode_by_pts(packets: _Packets, wanted_pts: list[int]) -> tuple[dict, dict]:
    """Decode the frames with these pts (ascending). Returns ``(found, stand_ins)``, both {pts: av.VideoFrame}:
    ``stand_ins`` holds, for each wanted pts that never decoded, the last frame decoded before it."""
    context = packets.stream.codec_context
    wanted = set(wanted_pts)
    found, stand_ins, errors = {}, {}, []
    next_position = 0  # next packet (in decode order) to feed
    last_frame = None
    drained = False
    for k, target in enumerate(wanted_pts):
        if target in found:
            continue
        start = packets.start_position(target)
        if start > next_position or (drained and start < len(packets)):
            # The packets in between only lead to frames nobody wants: restart at the key frame.
            context.flush_buffers()
            next_position, drained = start, False
        # If the next wanted frame needs a restart at a later key frame anyway, the packets after this frame's
        # own packet are only fed to push it out of the reordering delay: drain the decoder instead.
        drain_after_target = k + 1 == len(wanted_pts) or packets.start_position(wanted_pts[k + 1]) > (
            packets.position_of_pts[target] + 1
        )
        reached = False
        while not reached:
            if next_position < len(packets) and not drained:
                position = next_position
                next_position += 1
                context.skip_frame = "DEFAULT" if packets.pts[position] in wanted else "NONREF"
                frames = _decode_safely(context, packets.packets[position], errors)
                if drain_after_target and packets.pts[position] == target:
                    context.skip_frame = "DEFAULT"
                    frames = [*frames, *_decode_safely(context, None, errors)]
                    drained = True
            elif not drained:
                context.skip_frame = "DEFAULT"
                frames = _decode_safely(context, None, errors)  # drain the frames still inside the decoder
                drained = True
            else:
                break
            for frame in frames:
                if frame.pts in wanted:
                    found[frame.pts] = frame
                if frame.pts is None or frame.pts <= target:
                    last_frame = frame
                if frame.pts is not None and frame.pts >= target:
                    reached = True
        if target not in found and last_frame is not None:
            stand_ins[target] = last_frame
    context.skip_frame = "DEFAULT"
    if errors:
        logger.debug("%d packets failed to decode: %s", len(errors), errors[0])
    return found, stand_ins


def _decode_by_count(packets: _Packets, wanted_indices: list[int]) -> tuple[dict, dict]:
    """Fallback for streams without usable timestamps: a sequential decode, frames identified by their order."""
    context = packets.stream.codec_context
    last_needed, wanted = max(wanted_indices), set(wanted_indices)
    found, errors = {}, []
    index, last_frame = 0, None
    for packet in [*packets.packets, None]:
        for frame in _decode_safely(context, packet, errors):
            if index in wanted:
                found[index] = frame
            index, last_frame = index + 1, frame
        if index > last_needed:
            break
    stand_ins = {i: last_frame for i in wanted if i not in found and last_frame is not None}
    return found, stand_ins


_thread_state = threading.local()


_inherited_thread_states: list = []


def _forget_reformatters_after_fork() -> None:
    # A swscale context owns worker threads that a forked child (a DataLoader worker) does not inherit: using or
    # even freeing the parent's context there deadlocks on their condition variables. The child keeps the
    # inherited object alive (never freed) and starts with fresh contexts of its own.
    global _thread_state
    _inherited_thread_states.append(_thread_state)
    _thread_state = threading.local()


os.register_at_fork(after_in_child=_forget_reformatters_after_fork)


def _reformatter() -> VideoReformatter:
    """One swscale context per thread (and process), reused across frames and videos.

    ``frame.to_ndarray(format="rgb24")`` builds a new conversion context for every frame (about 8 ms at 340x256,
    more than decoding the frame); a shared reformatter gives identical pixels for a tenth of the cost.
    """
    if not hasattr(_thread_state, "reformatter"):
        _thread_state.reformatter = VideoReformatter()
    return _thread_state.reformatter


def _is_mirrored(frame) -> bool:
    """Whether a frame's display matrix (3x3 int32, row-major) flips the picture: its 2x2 part has det < 0."""
    for side_data in getattr(frame, "side_data", ()):
        if "DISPLAYMATRIX" in str(side_data.type):
            m = struct.unpack("<9i", bytes(side_data)[:36])
            return m[0] * m[4] - m[1] * m[3] < 0
    return False


def _display_rotation(source, frame) -> int:
    """Quarter turns counter-clockwise (for ``np.rot90``) that make a frame upright, from its display matrix."""
    degrees = float(getattr(frame, "rotation", 0) or 0)
    if _is_mirrored(frame):
        logger.warning("Video %s: the display matrix mirrors the picture; the mirroring is not applied",
                       describe_source(source))
    turns = round(degrees / 90)
    if abs(degrees - 90 * turns) > 1:
        logger.warning("Video %s: display rotation %.1f degrees is not a multiple of 90; frames are left as "
                       "stored", describe_source(source), degrees)
        return 0
    return turns % 4


def _stack_rgb(frames: dict[int, Any], indices: list[int], size: tuple[int, int] | None = None,
               source=None) -> np.ndarray:
    """Convert each distinct frame to RGB uint8 once, upright, at ``size`` (width, height), in ``indices`` order.

    ``size`` is the stream's declared size: a frame decoded at another size (the resolution changed mid-stream) is
    scaled to it, so the clip stacks. Frames of the declared size are converted without scaling.
    """
    rgb: dict[int, np.ndarray] = {}
    converted: dict[int, np.ndarray] = {}  # by id(frame): a stand-in shared by several indices converts once
    rescaled = set()
    for index in set(indices):
        frame = frames[index]
        if isinstance(frame, np.ndarray):
            rgb[index] = frame
            continue
        if id(frame) not in converted:
            width, height = size if size and all(size) else (frame.width, frame.height)
            if (width, height) != (frame.width, frame.height):
                rescaled.add((frame.width, frame.height))
            array = _reformatter().reformat(frame, format="rgb24", width=width, height=height).to_ndarray()
            turns = _display_rotation(source, frame)
            converted[id(frame)] = np.ascontiguousarray(np.rot90(array, turns)) if turns else array
        rgb[index] = converted[id(frame)]
    if rescaled:
        logger.warning("Video %s: the resolution changes inside the stream (frames of %s); they are scaled to the "
                       "stream's declared %dx%d", describe_source(source),
                       ", ".join(f"{w}x{h}" for w, h in sorted(rescaled)), *size)
    return np.stack([rgb[i] for i in indices])


def _read_container(source, target, choose_indices) -> list[np.ndarray]:
    """Decode the clips ``choose_indices(frame_count)`` asks for (a list of frame-index lists)."""
    container = _open_container(source, target)
    try:
        packets = _Packets(source, container)
        context = packets.stream.codec_context
        # the size the stream declares at its start; the decoder context follows later size changes
        size = (context.width, context.height)
        index_lists = choose_indices(packets.num_frames)
        all_indices = sorted({i for clip in index_lists for i in clip})
        if packets.has_timestamps:
            keys = {i: packets.presentation_pts[i] for i in all_indices}
            found, stand_ins = _decode_by_pts(packets, sorted(set(keys.values())))
        else:
            keys = {i: i for i in all_indices}
            found, stand_ins = _decode_by_count(packets, all_indices)
        if not found:
            raise VideoDecodeError(source, "no frame could be decoded")
        frames, missing = {}, []
        first_found = found[min(found)]
        for index in all_indices:
            frame = found.get(keys[index])
            if frame is None:
                missing.append(index)
                # The last frame decoded before it, else (nothing decoded before it) the first that decoded.
                frame = stand_ins.get(keys[index], first_found)
            frames[index] = frame
        if missing:
            logger.warning(
                "Video %s: frames %s did not decode (stream ended early or corrupt data); each is replaced by "
                "the last frame decoded before it", describe_source(source), missing,
            )
        return [_stack_rgb(frames, clip, size, source) for clip in index_lists]
    finally:
        container.close()


def _index_lists(total: int, num_frames: int, mode: str, generator, num_clips: int,
                 sampling: str = "actionclip") -> list[list[int]]:
    if mode == "eval":
        return sample_clip_indices(total, num_frames, num_clips, sampling=sampling)
    if mode == "train":
        rng = _as_rng(generator)  # one generator so several train clips are independent draws
        return [sample_frame_indices(total, num_frames, "train", rng, sampling=sampling) for _ in range(num_clips)]
    raise ValueError(f"mode must be 'eval' or 'train', got {mode!r}")


def _frame_folder_count(source, folder: Path) -> int:
    count = sum(1 for name in os.listdir(folder) if _FRAME_FILE_PATTERN.match(name))
    if count == 0:
        raise VideoDecodeError(source, f"frame folder has no {FRAME_FILE_TEMPLATE.format(1)}-style frames")
    return count


def _load_frame_file(source, path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError as error:
        raise VideoDecodeError(source, f"frame file {path.name} is missing") from error
    except OSError as error:
        raise VideoDecodeError(source, f"frame file {path.name} cannot be read ({error})") from error


def _read_folder(source, folder: Path, choose_indices):
    index_lists = choose_indices(_frame_folder_count(source, folder))
    cache = {i: _load_frame_file(source, folder / FRAME_FILE_TEMPLATE.format(i + 1))
             for i in sorted({i for clip in index_lists for i in clip})}
    first = min(cache)
    for index, frame in cache.items():
        if frame.shape != cache[first].shape:
            (h1, w1), (h2, w2) = cache[first].shape[:2], frame.shape[:2]
            raise VideoDecodeError(
                source, f"frames of different sizes: {FRAME_FILE_TEMPLATE.format(index + 1)} is {w2}x{h2} but "
                        f"{FRAME_FILE_TEMPLATE.format(first + 1)} is {w1}x{h1}"
            )
    return [np.stack([cache[i] for i in clip]) for clip in index_lists]


# --------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------


def read_video(source, num_frames: int, *, mode: str = "eval", generator=None, num_clips: int = 1,
               sampling: str = "actionclip") -> np.ndarray:
    """Decode ``num_frames`` TSN-sampled frames as uint8 RGB ``(T, H, W, 3)``, or ``(num_clips, T, H, W, 3)``.

    ``mode="eval"``: segment centres (``num_clips > 1``: see ``sample_clip_indices``); ``mode="train"``: a random
    frame per segment drawn from ``generator`` (numpy Generator or int seed; several clips are independent
    draws). ``sampling``: the TSN sampler, ActionCLIP's (T2L, default) or ``"mmaction"`` (TC-CLIP, ViFi-CLIP;
    a checkpoint's processor names its own, ``frame_sampling``). Raises ``VideoDecodeError`` naming the source
    for a missing, unreadable, truncated or frameless file.
    """
    _check_sampling(sampling)

    def choose_indices(total: int) -> list[list[int]]:
        return _index_lists(total, num_frames, mode, generator, num_clips, sampling)

    clips = _read_clips(source, choose_indices)
    return clips[0] if num_clips == 1 else np.stack(clips)


def read_all_frames(source) -> np.ndarray:
    """Every frame of a video, in presentation order, as uint8 RGB ``(N, H, W, 3)``.

    For keeping small videos decoded in memory: ``read_video(read_all_frames(path), T, ...)`` returns exactly
    what ``read_video(path, T, ...)`` does, from the same random draws.
    """
    return _read_clips(source, lambda total: [list(range(total))])[0]


def read_clips(source, choose_indices) -> list[np.ndarray]:
    """The clips ``choose_indices(frame_count)`` asks for, from one demux of the source.

    ``choose_indices`` receives the exact frame count and returns a list of 0-based frame-index lists; each list
    comes back as a uint8 RGB ``(len(list), H, W, 3)`` array, decoded as ``read_video`` decodes (seeking, exact).
    For reading several windows of a long video without decoding it once per window.
    """
    return _read_clips(source, choose_indices)


def _read_clips(source, choose_indices) -> list[np.ndarray]:
    kind, target = _resolve(source)
    if kind == "array":
        return [target[indices] for indices in choose_indices(len(target))]
    if kind == "folder":
        return _read_folder(source, target, choose_indices)
    return _read_container(source, target, choose_indices)


def _first_decodable_frame(packets: _Packets):
    """Decode from the start until one frame comes out (so probing also proves the stream decodes)."""
    context, errors = packets.stream.codec_context, []
    for packet in [*packets.packets, None]:
        frames = _decode_safely(context, packet, errors)
        if frames:
            return frames[0]
    return None


def probe_video(source) -> VideoInfo:
    """Frame count (exact: counted from the demuxed packets), fps, size and duration in seconds.

    It decodes the first frame too, so a file that probes fine has at least one decodable frame.
    """
    kind, target = _resolve(source)
    if kind == "folder":
        count = _frame_folder_count(source, target)
        first = _load_frame_file(source, target / FRAME_FILE_TEMPLATE.format(1))
        return VideoInfo(num_frames=count, fps=None, width=first.shape[1], height=first.shape[0], duration=None)
    container = _open_container(source, target)
    try:
        packets = _Packets(source, container)
        stream = packets.stream
        declared = (stream.codec_context.width, stream.codec_context.height)
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        else:
            duration = packets.num_frames / fps if fps else None
        first = _first_decodable_frame(packets)
        if first is None:
            raise VideoDecodeError(source, "no frame could be decoded")
        # the size frames come out at: the declared size, upright (rotation applied, as `read_video` does)
        width, height = declared if all(declared) else (first.width, first.height)
        if _display_rotation(source, first) % 2:
            width, height = height, width
        return VideoInfo(num_frames=packets.num_frames, fps=fps, width=width, height=height, duration=duration)
    finally:
        container.close()
