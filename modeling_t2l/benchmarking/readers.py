"""The video readers `read_video` is compared with, each asked for the same frames of the same clip.

Every reader returns the frames at `read_video`'s indices (the official segment-centre sampling) as uint8 RGB,
so each can be checked for exactness against `read_video` (the maximum absolute pixel difference is reported);
the exception is transformers' `load_video`, which samples its own indices (`arange(0, N, N / T)` from frame 0,
whose last frame is a little earlier than ours: that only favours it), so it is timed but not compared.

- `video_io.read_video`: this library's reader (one demux, decodes only from the key frame before each wanted
  frame, skips non-reference frames nobody wants; single-threaded, so DataLoader workers do not oversubscribe).
- `transformers load_video(backend="pyav")`: what transformers' video processors use.
- `PyAV, threaded sequential`: the straightforward fast PyAV reader, FFmpeg's frame + slice threading
  (`thread_type="AUTO"`), decoding from the start to the last wanted frame.
- `decord` and `torchcodec`, where they import here (neither is a dependency; torchcodec does not load with the
  CPU build of torch): a reader that cannot be imported is reported with the reason, not timed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..processing.video_io import probe_video, read_video, sample_frame_indices


def read_video_reader(path: str, indices: list[int]) -> np.ndarray:
    return read_video(path, len(indices))


def transformers_reader(path: str, indices: list[int]) -> np.ndarray:
    from transformers.video_utils import load_video

    frames, _ = load_video(path, num_frames=len(indices), backend="pyav")
    return np.asarray(frames)


def pyav_threaded_reader(path: str, indices: list[int]) -> np.ndarray:
    import av

    wanted, last = set(indices), max(indices)
    frames = {}
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if index in wanted:
                frames[index] = frame.to_ndarray(format="rgb24")
            if index >= last:
                break
    return np.stack([frames[index] for index in indices])


def decord_reader(path: str, indices: list[int]) -> np.ndarray:
    import decord

    return decord.VideoReader(path, num_threads=0).get_batch(indices).asnumpy()


def torchcodec_reader(path: str, indices: list[int]) -> np.ndarray:
    from torchcodec.decoders import VideoDecoder

    # (N, C, H, W) uint8 -> (N, H, W, C)
    return VideoDecoder(path).get_frames_at(indices=indices).data.permute(0, 2, 3, 1).numpy()


OURS = "video_io.read_video"
TRANSFORMERS = 'transformers load_video(backend="pyav")'
READERS: dict[str, tuple[Callable[[str, list[int]], np.ndarray], bool]] = {
    # name -> (reader, whether its frames are comparable with read_video's: same indices)
    OURS: (read_video_reader, True),
    TRANSFORMERS: (transformers_reader, False),
    'PyAV, threaded sequential (thread_type="AUTO")': (pyav_threaded_reader, True),
    "decord VideoReader.get_batch": (decord_reader, True),
    "torchcodec VideoDecoder.get_frames_at": (torchcodec_reader, True),
}


def available_readers(path: str, num_frames: int) -> tuple[dict, dict[str, str]]:
    """Readers that run here, as (name -> (call, max pixel difference from read_video or None)), and the ones that
    do not, name -> why. A reader is tried once on `path` (also the warm-up of its codec)."""
    indices = clip_indices(path, num_frames)
    reference = read_video(path, num_frames)
    runnable, unavailable = {}, {}
    for name, (reader, comparable) in READERS.items():
        try:
            frames = reader(path, indices)
        except ImportError as error:
            unavailable[name] = f"not installed ({error})"
            continue
        except OSError as error:  # e.g. torchcodec's native library against this torch build
            unavailable[name] = f"cannot load here ({str(error).splitlines()[0][:160]})"
            continue
        difference = None
        if comparable:
            if frames.shape != reference.shape:
                raise RuntimeError(f"{path}: {name} returned frames of shape {frames.shape}, read_video "
                                   f"{reference.shape}")
            difference = int(np.abs(frames.astype(np.int16) - reference.astype(np.int16)).max())
        elif len(frames) != num_frames:
            raise RuntimeError(f"{path}: {name} returned {len(frames)} frames, not {num_frames}")
        runnable[name] = ((lambda reader=reader: reader(path, indices)), difference)
    return runnable, unavailable


def clip_indices(path, num_frames: int) -> list[int]:
    """`read_video`'s frame indices for this clip (eval mode)."""
    return sample_frame_indices(probe_video(str(Path(path))).num_frames, num_frames)
