"""What a video is, for the pipeline: one rule set for every accepted form, and bounded URL downloads.

One video is any of:
- a path (str / Path) to a video file or to a frame folder (img_00001.jpg, ...);
- an http(s) URL, downloaded into memory (`download_video`: a total deadline and a size limit, both enforced while
  the body streams in, and a check that the response is a video and not a web page);
- `bytes` of an encoded video, or a `datasets` `Video(decode=False)` dict {"path", "bytes"};
- a uint8 array or tensor of shape (num_frames, height, width, 3): all frames of the video;
- a list of frames, each a PIL image or a (height, width, 3) uint8 array: all frames of one video.

A list whose elements are all videos is a batch; a list is one video's frames if and only if every element is a
frame (a PIL image or a 3-D array); a list mixing frames and videos is rejected (`normalize_video_inputs`).

Every problem with one input is an exception naming that input: `VideoDecodeError` (naming the file or URL) for
what cannot be read or downloaded, `ValueError` / `TypeError` for values that are not a video. The pipeline turns
them into error entries with `on_error="return"` (`InputError` carries one through a batch).
"""
from __future__ import annotations

import http.client
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from PIL import Image

from ..processing.video_io import VideoDecodeError, describe_source

DEFAULT_URL_TIMEOUT = 30.0
"""Seconds a whole download may take (connection, headers and body together)."""
DEFAULT_MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
"""Largest response body accepted (512 MiB): a video for zero-shot classification is a clip, not a film."""
DOWNLOAD_CHUNK_BYTES = 256 * 1024
# Content types that are never a video; anything else (video/*, application/octet-stream, none) goes to the decoder.
_NOT_VIDEO_TYPES = ("text/", "application/json", "application/xml", "application/xhtml", "application/javascript")
# First bytes of web pages and text documents a server sends instead of the file (login pages, error pages).
_TEXT_MARKERS = (b"<!doctype", b"<html", b"<?xml", b"<head", b"<body", b"{", b"[")


def is_url(value) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


# ------------------------------------------------------------------------------------------------------------
# Downloads
# ------------------------------------------------------------------------------------------------------------


def _set_read_timeout(response, seconds: float) -> None:
    """Bound the next socket read by the time left. urllib's timeout applies to each read, so without this a
    server trickling a few bytes per second would never be cut off; the deadline check between reads still holds
    where the socket is not reachable."""
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(max(seconds, 0.001))


def _not_a_video_reason(content_type: str, head: bytes) -> str | None:
    kind = content_type.split(";")[0].strip().lower()
    # an animated GIF is a video to FFmpeg; other images are stills
    if kind.startswith(_NOT_VIDEO_TYPES) or (kind.startswith("image/") and kind != "image/gif"):
        return f"the server sent {kind}, not a video"
    start = head[:512].lstrip().lower()
    if start.startswith(_TEXT_MARKERS):
        return "the server sent a text document (HTML, XML or JSON), not a video"
    return None


def download_video(url: str, timeout: float = DEFAULT_URL_TIMEOUT,
                   max_bytes: int | None = DEFAULT_MAX_DOWNLOAD_BYTES) -> bytes:
    """The bytes at an http(s) URL, read within `timeout` seconds in total and at most `max_bytes` long.

    Any failure is a `VideoDecodeError` naming the URL: HTTP errors, network errors, the deadline, the size limit
    (a declared Content-Length over it is refused before reading), a body shorter than its Content-Length, and a
    response that is a web page or text rather than a video (Content-Type, or the first bytes).
    """
    if timeout is None or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if max_bytes is not None and max_bytes < 1:
        raise ValueError(f"max_download_bytes must be a positive number of bytes or None, got {max_bytes!r}")
    deadline = time.monotonic() + float(timeout)
    limit = f"{max_bytes} bytes (max_download_bytes)" if max_bytes is not None else ""
    try:
        with urllib.request.urlopen(url, timeout=float(timeout)) as response:
            declared = response.headers.get("Content-Length")
            declared = int(declared) if declared and declared.strip().isdigit() else None
            if max_bytes is not None and declared is not None and declared > max_bytes:
                raise VideoDecodeError(url, f"the server declares {declared} bytes, more than the limit of {limit}")
            content_type = response.headers.get("Content-Type") or ""
            chunks, received = [], 0
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise VideoDecodeError(url, f"download took longer than {timeout:g} s (timeout); "
                                                f"{received} bytes received")
                _set_read_timeout(response, left)
                chunk = response.read1(DOWNLOAD_CHUNK_BYTES)
                if not chunk:
                    break
                if not chunks:
                    reason = _not_a_video_reason(content_type, chunk)
                    if reason:
                        raise VideoDecodeError(url, reason)
                chunks.append(chunk)
                received += len(chunk)
                if max_bytes is not None and received > max_bytes:
                    raise VideoDecodeError(url, f"the response is larger than the limit of {limit}")
    except VideoDecodeError:
        raise
    except urllib.error.HTTPError as error:
        raise VideoDecodeError(url, f"download failed: HTTP {error.code} {error.reason}") from error
    except (socket.timeout, TimeoutError) as error:
        raise VideoDecodeError(url, f"download took longer than {timeout:g} s (timeout)") from error
    except urllib.error.URLError as error:
        raise VideoDecodeError(url, f"download failed: {error.reason}") from error
    except http.client.IncompleteRead as error:
        raise VideoDecodeError(url, f"download cut short: {len(error.partial)} bytes received, "
                                    f"{error.expected} more expected") from error
    except (http.client.HTTPException, OSError, ValueError) as error:
        # HTTPException (a malformed status line, a connection dropped mid-body) is not an OSError
        raise VideoDecodeError(url, f"download failed: {type(error).__name__}: {error}") from error
    if declared is not None and received < declared:
        raise VideoDecodeError(url, f"download cut short: {received} of {declared} bytes received")
    if not received:
        raise VideoDecodeError(url, "download returned no bytes")
    return b"".join(chunks)


# ------------------------------------------------------------------------------------------------------------
# Input normalisation
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputError:
    """One input that is not a video, carried in its place through a batch (`on_error="return"`)."""

    message: str
    input: str

    def as_entry(self) -> dict[str, str]:
        return {"error": self.message, "input": self.input}


def describe_input(video) -> str:
    """A short name for an input in error entries: the path or URL itself, else its type and size."""
    if isinstance(video, (np.ndarray, torch.Tensor)):
        return f"<array {tuple(video.shape)} {str(video.dtype).replace('torch.', '')}>"
    if isinstance(video, (list, tuple)):
        return f"<list of {len(video)} frames>"
    if isinstance(video, Image.Image):
        return f"<PIL image {video.size[0]}x{video.size[1]}>"
    if isinstance(video, (str, os.PathLike, bytes, bytearray, memoryview, Mapping)) or hasattr(video, "read"):
        return describe_source(video)
    return f"<{type(video).__name__}>"


def _is_frame(item) -> bool:
    if isinstance(item, Image.Image):
        return True
    return isinstance(item, (np.ndarray, torch.Tensor)) and item.ndim == 3


def _is_video(item) -> bool:
    if isinstance(item, (str, os.PathLike, bytes, bytearray, memoryview, Mapping)) or hasattr(item, "read"):
        return True
    if isinstance(item, (np.ndarray, torch.Tensor)):
        return item.ndim == 4
    return isinstance(item, (list, tuple))


def normalize_video_inputs(videos, on_error: str = "raise") -> tuple[Any, bool]:
    """Return (inputs, is_batch): one prepared video, or a list of them. See the module docstring for the rules.

    With `on_error="return"` a batch element that is not a video becomes an `InputError` in its place.
    """
    if isinstance(videos, (list, tuple)):
        if len(videos) == 0:
            raise ValueError("Got an empty list: pass a video, a list of one video's frames, or a list of videos")
        if all(_is_frame(item) for item in videos):
            return _frames_to_array(videos), False
        if all(_is_video(item) for item in videos):
            return [prepare_video(item, position=i, on_error=on_error) for i, item in enumerate(videos)], True
        kinds = sorted({type(item).__name__ for item in videos})
        raise ValueError(
            "A list must hold either the frames of one video (PIL images or (H, W, 3) arrays) or videos (paths, "
            f"URLs, bytes, (T, H, W, 3) arrays or lists of frames), not a mix; got element types {kinds}"
        )
    return prepare_video(videos, on_error=on_error), False


def prepare_video(video, position: int | None = None, on_error: str = "raise"):
    """One input in the form `load_clips` reads; with `on_error="return"`, an `InputError` instead of raising."""
    if isinstance(video, InputError):
        return video
    try:
        return _prepare_video(video, position)
    except (ValueError, TypeError) as error:
        if on_error == "raise":
            raise
        return InputError(str(error), describe_input(video))


def _prepare_video(video, position: int | None = None):
    where = "" if position is None else f" (batch element {position})"
    if isinstance(video, Path):
        return str(video)
    if isinstance(video, (str, bytes, Mapping)) or hasattr(video, "read"):
        return video
    if isinstance(video, (bytearray, memoryview)):
        return bytes(video)
    if isinstance(video, (np.ndarray, torch.Tensor)):
        return _check_video_array(video, where)
    if isinstance(video, (list, tuple)):
        if not video:
            raise ValueError(f"Got an empty list of frames{where}")
        if not all(_is_frame(item) for item in video):
            raise ValueError(f"A video given as a list must hold frames (PIL images or (H, W, 3) arrays){where}")
        return _frames_to_array(video, where)
    if isinstance(video, Image.Image):
        raise ValueError(f"Got a single image{where}: a video is a list of frames, a (T, H, W, 3) array or a file")
    raise TypeError(
        f"Unsupported video type {type(video).__name__}{where}: pass a path, an http(s) URL, bytes, a "
        "(T, H, W, 3) uint8 array, a list of frames, or a list of these"
    )


def _check_video_array(array, where: str = "") -> np.ndarray:
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(
            f"A video array must have shape (num_frames, height, width, 3) with RGB last; got {tuple(array.shape)}{where}"
        )
    if array.shape[0] < 1:
        raise ValueError(f"A video array has no frames{where}")
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating):
            raise ValueError(
                f"A video array must be uint8 RGB (0-255); got {array.dtype}{where}. Convert floats in [0, 1] with "
                "(array * 255).round().astype(np.uint8)"
            )
        if array.size and (array.min() < 0 or array.max() > 255):
            raise ValueError(f"A video array has values outside 0-255 ({array.dtype}){where}")
        array = array.astype(np.uint8)
    return array


def _frames_to_array(frames, where: str = "") -> np.ndarray:
    arrays = []
    for frame in frames:
        if isinstance(frame, Image.Image):
            arrays.append(np.asarray(frame.convert("RGB")))
        else:
            frame = frame.detach().cpu().numpy() if isinstance(frame, torch.Tensor) else np.asarray(frame)
            if frame.shape[-1] != 3:
                raise ValueError(f"A frame must have shape (height, width, 3); got {tuple(frame.shape)}{where}")
            arrays.append(frame)
    shapes = sorted({array.shape for array in arrays})
    if len(shapes) > 1:
        raise ValueError(f"All frames of a video must have the same size; got {shapes}{where}")
    return _check_video_array(np.stack(arrays), where)


__all__ = [
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "DEFAULT_URL_TIMEOUT",
    "InputError",
    "describe_input",
    "download_video",
    "is_url",
    "normalize_video_inputs",
    "prepare_video",
]
