"""Split list + label file + video root -> `datasets.Dataset`, and the decoding transform for `set_transform`.

    dataset = build_video_dataset("val1.txt", "hmdb_51_labels_fixed.csv", "/data/hmdb51")
    dataset.set_transform(make_transform(image_processor, train=False))
    dataset[0]  # {"pixel_values": (T, 3, H, W) float32, "labels": 3, "video_path": ..., "decode_error": None}

The dataset stores only where each video is (`datasets.Video(decode=False)`: `{"path", "bytes"}`), its label id
and class name; frames are decoded on access by the transform, in DataLoader workers. A video that cannot be
decoded does not raise there: the transform returns `pixel_values=None` and the reason, and
`VideoCollator` drops it, logs it and counts it (`collator.skipped`).
"""
from __future__ import annotations

import hashlib
import logging
import os
import zlib
from collections import Counter
from typing import Literal, MutableMapping, Sequence

import numpy as np

from .layout import VideoIndex
from .lists import SplitEntry, check_labels, read_labels, read_split_list

logger = logging.getLogger(__name__)

MAX_EXAMPLES = 10


class MissingVideosError(FileNotFoundError):
    """Some videos of a split list are not under the video root (the message gives counts and examples)."""

    # what to do about it, for Python callers; the commands replace it with their own flags (`with_advice`)
    ADVICE = ("Check the folder layout (README, 'Preparing datasets'), run `t2l validate-data`, or call "
              "build_video_dataset / Protocol.build_dataset with missing='skip' to leave them out.")

    def __init__(self, missing: Sequence[str], total: int, video_root, source: str, advice: str | None = None):
        self.missing = list(missing)
        self.total, self.video_root, self.source = total, video_root, source
        examples = ", ".join(self.missing[:MAX_EXAMPLES]) + (", ..." if len(self.missing) > MAX_EXAMPLES else "")
        self.summary = (f"{len(self.missing)} of {total} videos listed in {source} were not found under {video_root} "
                        f"(first: {examples}).")
        self.advice = self.ADVICE if advice is None else advice
        super().__init__(f"{self.summary} {self.advice}")

    def with_advice(self, advice: str) -> "MissingVideosError":
        """The same error with another remedy (e.g. the command-line flag of the command that hit it)."""
        return MissingVideosError(self.missing, self.total, self.video_root, self.source, advice)


def resolve_videos(
    entries: Sequence[SplitEntry], video_root, index: VideoIndex | None = None
) -> tuple[list[tuple[SplitEntry, str]], list[SplitEntry]]:
    """Split entries into (entry, absolute path) pairs found under the root and the entries that are missing."""
    index = index or VideoIndex(video_root)
    found, missing = [], []
    for entry in entries:
        relative = index.resolve(entry.name)
        if relative is None:
            missing.append(entry)
        else:
            found.append((entry, index.absolute(relative)))
    return found, missing


def build_video_dataset(
    split_file: str | os.PathLike | Sequence[SplitEntry],
    label_file: str | os.PathLike | Sequence[str],
    video_root: str | os.PathLike,
    *,
    missing: Literal["error", "skip"] = "error",
    index: VideoIndex | None = None,
    source: str | None = None,
):
    """A `datasets.Dataset` with columns `video` (`Video(decode=False)`), `label` (`ClassLabel`) and `label_name`.

    `split_file` / `label_file` are paths or already-parsed entries / class names. Each list entry is found by
    name under `video_root` in any of the usual layouts (see `modeling_t2l.data.layout`); the list's own paths
    are never used as they are. Missing videos raise `MissingVideosError` (counts and first examples), or with
    `missing="skip"` are left out with a logged count. Pass a prebuilt `index` to share one directory walk
    between several splits of the same root; `source` names the list in messages.
    """
    import datasets

    if missing not in ("error", "skip"):
        raise ValueError(f"missing must be 'error' or 'skip', got {missing!r}")
    if source is None:
        source = str(split_file) if isinstance(split_file, (str, os.PathLike)) else "the split list"
    entries = read_split_list(split_file) if isinstance(split_file, (str, os.PathLike)) else list(split_file)
    entries = [entry if isinstance(entry, SplitEntry) else SplitEntry(*entry) for entry in entries]
    class_names = read_labels(label_file) if isinstance(label_file, (str, os.PathLike)) else list(label_file)
    check_labels(entries, len(class_names), source)

    found, absent = resolve_videos(entries, video_root, index)
    if absent:
        if missing == "error":
            raise MissingVideosError([e.name for e in absent], len(entries), video_root, source)
        logger.warning(
            "skipping %d of %d videos of %s not found under %s (first: %s)",
            len(absent), len(entries), source, video_root, ", ".join(e.name for e in absent[:MAX_EXAMPLES]),
        )
    if not found:
        raise MissingVideosError([e.name for e in absent], len(entries), video_root, source)

    features = datasets.Features(
        {
            "video": datasets.Video(decode=False),
            "label": datasets.ClassLabel(names=class_names),
            "label_name": datasets.Value("string"),
        }
    )
    return datasets.Dataset.from_dict(
        {
            "video": [{"path": path, "bytes": None} for _, path in found],
            "label": [entry.label for entry, _ in found],
            "label_name": [class_names[entry.label] for entry, _ in found],
        },
        features=features,
    )


def _clip_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (SeedSequence spreads nearby inputs over the whole range)."""
    return int(np.random.SeedSequence([p & 0xFFFFFFFFFFFFFFFF for p in parts]).generate_state(2, dtype=np.uint32).view(np.uint64)[0] >> 1)


def video_key(source) -> int:
    """The integer that names a video in augmentation seeds: a CRC of its file name (not of the whole path, so
    the same files draw the same clips wherever they are stored), or of its bytes."""
    if isinstance(source, bytes):
        return zlib.crc32(source)
    return zlib.crc32(os.path.basename(os.fspath(source)).encode())


class VideoTransform:
    """The `set_transform` function: decode T frames with `modeling_t2l.processing.video_io.read_video` and apply the
    image processor (official eval or train transforms).

    Training randomness is reproducible: the clip seed is mixed from the base `seed`, the epoch (`set_epoch`),
    the DataLoader worker's seed (which torch re-draws from the main process's generator for every epoch),
    the video (a CRC of its file name, see `video_key`) and how many times this process has drawn that video.
    So a seeded run draws
    the same clips, and every epoch draws new ones even with num_workers=0 and no `set_epoch` call.
    """

    def __init__(self, image_processor, train: bool, num_frames: int | None = None, *, num_clips: int = 1,
                 num_crops: int = 1, seed: int = 0, frame_cache: MutableMapping | None = None,
                 clip_sampling: str = "uniform"):
        # A T2LProcessor works too: only its image processor is used here.
        self.image_processor = getattr(image_processor, "image_processor", image_processor)
        self.train = train
        self.num_frames = int(num_frames or self.image_processor.num_frames)
        self.num_clips = num_clips
        self.num_crops = num_crops
        self.seed = seed
        self.frame_cache = frame_cache
        self.epoch = 0
        self._draws: Counter = Counter()
        self.last_seed: int | None = None
        if train and (num_clips != 1 or num_crops != 1):
            raise ValueError("multi-view sampling (num_clips/num_crops > 1) is for evaluation only")
        if clip_sampling not in ("uniform", "random"):
            raise ValueError(f"clip_sampling must be 'uniform' or 'random', got {clip_sampling!r}")
        self.clip_sampling = clip_sampling
        # the checkpoint's TSN sampler (its processor's `frame_sampling`; ActionCLIP's for processors without one)
        self.sampling = getattr(self.image_processor, "frame_sampling", "actionclip")

    def set_epoch(self, epoch: int) -> None:
        # A new epoch restarts the per-video draw counts, so a resumed run draws the same clips as an
        # uninterrupted one (the counts are not part of a checkpoint).
        self.epoch = int(epoch)
        self._draws.clear()

    def _seed_for(self, video_key: int) -> int:
        import torch.utils.data

        worker = torch.utils.data.get_worker_info()
        worker_seed = worker.seed if worker is not None else 0
        self._draws[video_key] += 1
        return _clip_seed(self.seed, self.epoch, worker_seed, video_key, self._draws[video_key])

    def decode(self, video: dict):
        """One video -> pixel values: (T,3,H,W), or (views,T,3,H,W) with several views. Raises on failure."""
        from ..processing.video_io import read_video

        source = video["bytes"] if video.get("bytes") else video["path"]
        key = video_key(source)
        if self.frame_cache is not None:
            source = self._decoded(source)
        if self.train:
            seed = self.last_seed = self._seed_for(key)
            frames = read_video(source, self.num_frames, mode="train", generator=np.random.default_rng(seed),
                                sampling=self.sampling)
            pixel_values = self.image_processor([frames], train=True, seed=seed, return_tensors="pt")["pixel_values"]
            return pixel_values[0]
        if self.clip_sampling == "random":
            # the multi-view test of TC-CLIP / ViFi-CLIP: every clip an independent random TSN draw. Seeded by the
            # video alone (no draw count, no worker), so the same video gets the same clips in every run and batch
            rng = np.random.default_rng(_clip_seed(self.seed, key))
            frames = read_video(source, self.num_frames, mode="train", generator=rng, num_clips=self.num_clips,
                                sampling=self.sampling)
        else:
            frames = read_video(source, self.num_frames, mode="eval", num_clips=self.num_clips, sampling=self.sampling)
        clips = list(frames) if self.num_clips > 1 else [frames]
        pixel_values = self.image_processor(clips, train=False, num_crops=self.num_crops, return_tensors="pt")["pixel_values"]
        return pixel_values[0] if pixel_values.shape[0] == 1 else pixel_values

    def _decoded(self, source):
        """Every frame of the video, decoded on first use and kept in `frame_cache` (the same frames and random
        draws as decoding the file each time; only the decoding is skipped)."""
        from ..processing.video_io import read_all_frames

        # a path names its file; in-memory bytes are named by a digest (a CRC could collide and serve another video)
        cache_key = str(source) if not isinstance(source, bytes) else hashlib.blake2b(source, digest_size=16).digest()
        frames = self.frame_cache.get(cache_key)
        if frames is None:
            frames = self.frame_cache[cache_key] = read_all_frames(source)
        return frames

    def __call__(self, batch: dict) -> dict:
        output = {"pixel_values": [], "labels": list(batch["label"]), "video_path": [], "decode_error": []}
        if self.train:
            output["clip_seed"] = []  # lets the collator draw its text templates from the batch's own clips
        for video in batch["video"]:
            path = video.get("path") or "<bytes>"
            self.last_seed = None
            try:
                pixel_values, error = self.decode(video), None
            except Exception as exc:  # noqa: BLE001 - any undecodable video is reported, never fatal (see module doc)
                pixel_values, error = None, f"{type(exc).__name__}: {exc}"
            output["pixel_values"].append(pixel_values)
            output["video_path"].append(path)
            output["decode_error"].append(error)
            if self.train:
                output["clip_seed"].append(self.last_seed)
        return output


def make_transform(image_processor, train: bool, num_frames: int | None = None, *, num_clips: int = 1,
                   num_crops: int = 1, seed: int = 0, frame_cache: MutableMapping | None = None,
                   clip_sampling: str = "uniform") -> VideoTransform:
    """The decoding transform for `dataset.set_transform(...)` (picklable, so it works in DataLoader workers).

    `num_frames` defaults to the processor's; `num_clips` / `num_crops` > 1 give multi-view evaluation samples of
    shape (num_clips * num_crops, T, 3, H, W), clip-major. Evaluation clips are evenly spaced
    (`clip_sampling="uniform"`, segment centres for one clip) or, with `"random"`, independent random TSN draws
    seeded from `seed` and the video (the official multi-view test of TC-CLIP and ViFi-CLIP).

    `frame_cache` (e.g. a `dict`, shared by several transforms): keep every decoded video in memory, all its
    frames at file resolution, so each file is decoded once however many epochs and runs read it. Only for
    small datasets: it never evicts (and each DataLoader worker fills its own copy).
    """
    return VideoTransform(image_processor, train, num_frames, num_clips=num_clips, num_crops=num_crops, seed=seed,
                          frame_cache=frame_cache, clip_sampling=clip_sampling)
