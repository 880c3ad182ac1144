"""Device check, data: decode + preprocess throughput of the library's training input pipeline (PyAV decoding of
generated clips, the dataset transform, the collator) in DataLoader workers, against what the device consumes."""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from .decoding import write_test_clip


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask; os.cpu_count() counts the whole machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def write_clips(directory, count: int, seconds: float, fps: int, size: tuple[int, int], keyframe_interval_s: float,
                workers: int) -> list[Path]:
    """`count` H.264 clips written in parallel (each clip's pixels move differently: its index shifts the pattern
    start by a few frames, so no two files are the same)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"clip_{index:03d}.mp4" for index in range(count)]
    # different lengths (within 10 %) so the sampled frame indices differ between clips
    lengths = [seconds * (1 - 0.1 * (index % 5) / 4) for index in range(count)]
    with ProcessPoolExecutor(max_workers=max(1, min(workers, count))) as pool:
        list(pool.map(write_test_clip, paths, lengths, [fps] * count, [size] * count, [keyframe_interval_s] * count))
    return paths


def _dataset(paths: list[Path], num_rows: int):
    import datasets

    names = [f"action {index}" for index in range(len(paths))]
    features = datasets.Features({"video": datasets.Video(decode=False), "label": datasets.ClassLabel(names=names)})
    rows = [index % len(paths) for index in range(num_rows)]
    return datasets.Dataset.from_dict(
        {"video": [{"path": str(paths[i]), "bytes": None} for i in rows], "label": rows}, features=features), names


def measure_loader(paths: list[Path], *, train: bool, batch_size: int, num_batches: int, workers: int,
                   num_frames: int, image_size: int, device: str, max_seconds: float = float("inf")) -> dict:
    """Videos/s through `DataLoader(dataset with make_transform, VideoCollator)` with `workers` workers, pinned
    memory and non-blocking copies on CUDA, from the iterator's creation (worker start-up included) to the last
    batch on the device.

    Each worker assembles whole batches, so `num_batches` should be a multiple of `workers` (the batches of one
    wave arrive together). Past `max_seconds` the run stops after the current batch (`stopped_early`)."""
    from torch.utils.data import DataLoader

    from ..data.builder import make_transform
    from ..data.collator import VideoCollator
    from ..processing.processing_t2l import T2LProcessor

    processor = T2LProcessor.from_clip_tokenizer(num_frames=num_frames, crop_size=image_size,
                                                 shortest_edge=image_size * 256 // 224)
    dataset, names = _dataset(paths, batch_size * num_batches)
    dataset.set_transform(make_transform(processor.image_processor, train=train, num_frames=num_frames))
    collator = VideoCollator(processor, names, train=train)
    cuda = device.startswith("cuda")
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collator, pin_memory=cuda,
                        shuffle=False)
    videos, first_batch_s, pinned, stopped_early = 0, None, None, False
    start = time.perf_counter()
    iterator = iter(loader)
    for batch in iterator:
        pinned = batch["pixel_values"].is_pinned() if cuda else False
        pixels = batch["pixel_values"].to(device, non_blocking=cuda)
        videos += pixels.shape[0]
        if first_batch_s is None:
            first_batch_s = time.perf_counter() - start
        if time.perf_counter() - start > max_seconds:
            stopped_early = True
            break
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    del iterator  # shuts the workers down
    return dict(videos=videos, seconds=seconds, first_batch_s=first_batch_s, videos_per_s=videos / seconds,
                pinned=bool(pinned), skipped=collator.skipped.count, stopped_early=stopped_early)
