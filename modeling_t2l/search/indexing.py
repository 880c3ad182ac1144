"""`build_index`: embed every video (or every window of long videos) of an archive into a searchable index.

Resumable: finished files are written to shards as the run goes (every `flush_every` files, and whatever is finished
when the run stops with an exception); a new run with the same model and settings embeds only what is not there yet.
Incremental: a file whose size and modification time are those recorded is kept as it is; a new or changed file is
embedded; a file no longer in the archive is dropped. An unreadable file is logged, skipped, recorded with its reason
and counted once; it is tried again only when it changes.

Under `accelerate launch` (or torchrun) every process embeds its share of the files (`PartialState`,
`split_between_processes`) and the main process merges all shards into the one index at the end.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from . import model_api
from .archive import (
    ArchiveFile, check_window_settings, plan_windows, read_windows, scan_archive, video_duration,
)
from .store import (
    EMBEDDING_COLUMN, PARTIAL_DIR, ROW_COLUMNS, IndexMismatchError, load_index, read_metadata, read_shards, row_schema,
    start_partial, write_index, write_shard,
)

logger = logging.getLogger(__name__)


@dataclass
class IndexSummary:
    """What a `build_index` run did, counted in files: `num_files` indexed (`num_rows` rows), of which `embedded`
    in this run, `resumed` from an interrupted run and `kept` unchanged from the previous index; `removed`: gone
    from the archive since. `skipped`: every unreadable file of the archive, once (path, reason)."""

    index: Path
    num_files: int
    num_rows: int
    embedded: int
    resumed: int
    kept: int
    removed: int
    skipped: list[dict] = field(default_factory=list)
    num_processes: int = 1

    def describe(self) -> str:
        line = (
            f"{self.index}: {self.num_files} videos, {self.num_rows} rows; embedded {self.embedded}, "
            f"resumed {self.resumed}, kept {self.kept}, removed {self.removed}, skipped {len(self.skipped)} unreadable"
            + (f" ({self.num_processes} processes)" if self.num_processes > 1 else "")
        )
        return "\n".join([line, *(f"  skipped {item['path']}: {item['reason']}" for item in self.skipped)])


class _DecodedFiles(torch.utils.data.IterableDataset):
    """Files -> chunks of at most `windows_per_read` windows with their pixel values, decoded and preprocessed in
    DataLoader workers (each worker takes every n-th file). A file's chunks come in order, the last one flagged;
    a file that fails gives one item with its `error` instead (after any chunks it already gave)."""

    def __init__(self, root: Path, files: Sequence[ArchiveFile], processor, num_frames: int,
                 window: float | None, stride: float | None, windows_per_read: int):
        self.root, self.files, self.processor = root, list(files), processor
        self.num_frames, self.window, self.stride = num_frames, window, stride
        self.windows_per_read = windows_per_read

    def __iter__(self):
        worker = torch.utils.data.get_worker_info()
        first, step = (worker.id, worker.num_workers) if worker is not None else (0, 1)
        for position in range(first, len(self.files), step):
            path = self.root / self.files[position].path
            try:
                duration = video_duration(path)
                windows = plan_windows(duration, self.window, self.stride)
                for start in range(0, len(windows), self.windows_per_read):
                    chunk = windows[start : start + self.windows_per_read]
                    clips = read_windows(path, chunk, self.num_frames, duration)
                    yield {"position": position, "windows": chunk, "error": None,
                           "pixel_values": model_api.pixel_values(self.processor, clips),
                           "last": start + self.windows_per_read >= len(windows)}
            except Exception as error:  # noqa: BLE001 - an unreadable file is reported and skipped, never fatal
                reason = getattr(error, "reason", None) or f"{type(error).__name__}: {error}"
                yield {"position": position, "windows": [], "pixel_values": None, "error": reason, "last": True}


def _identity_error(directory: Path, recorded: dict, wanted: dict) -> IndexMismatchError:
    def say(run: dict) -> str:
        model = run["model"]
        digest = model["config_sha256"][:12]
        return f"model {model['name_or_path']!r} (config {digest}), {run['settings']}, root {run['root']}"

    return IndexMismatchError(
        f"{directory} was built with {say(recorded)}; this run uses {say(wanted)}. "
        f"Choose another --out, or delete {directory} to rebuild it"
    )


def build_index(
    directory: str | os.PathLike,
    model,
    processor,
    out: str | os.PathLike,
    window: float | None = None,
    stride: float | None = None,
    *,
    batch_size: int = 8,
    num_workers: int = 0,
    flush_every: int = 16,
    windows_per_read: int = 16,
    progress: bool = True,
    on_file_done: Callable[[str], None] | None = None,
) -> IndexSummary:
    """Embed the videos under `directory` into the index folder `out` (created, resumed or updated).

    `window` / `stride` (seconds): videos longer than `window` are embedded as windows starting every `stride`
    seconds (default `stride = window`); shorter videos and `window=None` give one row per video.
    `batch_size`: clips per forward of the video tower; `num_workers`: DataLoader workers decoding videos;
    `flush_every`: finished files per shard (what an interrupted run can lose at most); `windows_per_read`: windows
    decoded at once (bounds the frames of a long video held in memory); `on_file_done(path)`: called after each
    file is recorded.
    """
    from accelerate.utils import broadcast_object_list
    from tqdm.auto import tqdm

    check_window_settings(window, stride)
    if min(batch_size, flush_every, windows_per_read) < 1 or num_workers < 0:
        raise ValueError("batch_size, flush_every and windows_per_read must be >= 1, num_workers >= 0")
    root, out = Path(directory).resolve(), Path(out).resolve()
    state = distributed_state()
    num_frames = model_api.frames_per_clip(model, processor)
    run = {
        "model": model_api.model_identity(model),
        "settings": {"window": window, "stride": None if window is None else (stride or window),
                     "num_frames": num_frames, "processor_sha256": model_api.processor_sha256(processor)},
        "root": str(root),
    }

    # The main process decides what there is to do; every process gets the same plan.
    plan: list = [None]
    if state.is_main_process:
        try:
            plan[0] = _plan(root, out, run)
        except (OSError, ValueError) as error:  # refused or unreadable: every process stops with the same error
            plan[0] = error
    if state.num_processes > 1:
        broadcast_object_list(plan)
    if isinstance(plan[0], Exception):
        raise plan[0]
    files, todo, before = plan[0]
    partial = out / PARTIAL_DIR

    model.eval()
    with state.split_between_processes(todo) as mine:
        loader = torch.utils.data.DataLoader(
            _DecodedFiles(root, mine, processor, num_frames, window, stride, windows_per_read),
            batch_size=None, num_workers=num_workers,
        )
        bar = tqdm(total=len(mine), unit="video", desc="index", file=sys.stderr,
                   disable=not progress or not state.is_main_process)
        finished: list[dict] = []  # rows of recorded files, not yet in a shard
        rows_of: dict[int, list[dict]] = {}  # embedded rows of files still being read
        pending: list[dict] = []  # chunks waiting for a forward

        def record(position: int, rows: list[dict]) -> None:
            finished.extend(rows)
            bar.update(1)
            if on_file_done is not None:
                on_file_done(mine[position].path)
            if _files_in(finished) >= flush_every:
                write_shard(partial, state.process_index, finished)
                finished.clear()

        def embed_pending() -> None:
            if not pending:
                return
            pixels = torch.cat([chunk["pixel_values"] for chunk in pending])
            with torch.no_grad():
                embeds = torch.cat([model_api.video_embeddings(model, part) for part in pixels.split(batch_size)])
            chunks = list(pending)
            pending.clear()
            offset = 0
            for chunk in chunks:
                source = mine[chunk["position"]]
                rows = rows_of.setdefault(chunk["position"], [])
                for (start, end), vector in zip(chunk["windows"], embeds[offset : offset + len(chunk["windows"])]):
                    rows.append({"path": source.path, "start": float(start), "end": float(end),
                                 "embedding": vector.tolist(), "size": source.size, "mtime_ns": source.mtime_ns,
                                 "error": None})
                offset += len(chunk["windows"])
                if chunk["last"]:
                    record(chunk["position"], rows_of.pop(chunk["position"]))

        try:
            for chunk in loader:
                if chunk["error"] is not None:
                    source = mine[chunk["position"]]
                    logger.warning("skipping %s: %s", root / source.path, chunk["error"])
                    # drop what the file gave before failing: a file is indexed whole or not at all
                    rows_of.pop(chunk["position"], None)
                    pending[:] = [item for item in pending if item["position"] != chunk["position"]]
                    record(chunk["position"], [{"path": source.path, "start": 0.0, "end": 0.0, "embedding": [],
                                                "size": source.size, "mtime_ns": source.mtime_ns,
                                                "error": chunk["error"]}])
                    continue
                pending.append(chunk)
                if sum(len(item["windows"]) for item in pending) >= batch_size:
                    embed_pending()
            embed_pending()
        finally:
            # What is finished survives an interruption (KeyboardInterrupt, an error in a later file).
            write_shard(partial, state.process_index, finished)
            bar.close()

    state.wait_for_everyone()
    if state.is_main_process:
        _merge(out, files, run)
    state.wait_for_everyone()
    summary = _summarize(out, files, before)
    summary.num_processes = state.num_processes
    return summary


def distributed_state():
    """accelerate's `PartialState`, on the CPU when asked (`ACCELERATE_USE_CPU`) or when there is no accelerator.

    `PartialState()` alone treats torchrun-launched processes on a machine without an accelerator as independent
    single processes (each would index everything); with `cpu=True` they form one gloo process group.
    """
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    has_accelerator = torch.accelerator.is_available() if hasattr(torch, "accelerator") else torch.cuda.is_available()
    return PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU") or not has_accelerator)


def _files_in(rows: list[dict]) -> int:
    return len({row["path"] for row in rows})


def _plan(root: Path, out: Path, run: dict):
    """(archive files, files to embed, rows already in shards) for this run; refuses a mismatched index."""
    metadata = read_metadata(out)
    if metadata is not None:
        recorded = {"model": metadata["model"], "settings": _without_dim(metadata["settings"]),
                    "root": metadata["root"]}
        if recorded != run:
            raise _identity_error(out, recorded, run)
    files = scan_archive(root, exclude=[out])
    start_partial(out, run)
    done: dict[str, tuple[int, int]] = {}
    previous_paths: set[str] = set()
    if metadata is not None:
        index = load_index(out)
        for path, size, mtime in zip(index.dataset["path"], index.dataset["size"], index.dataset["mtime_ns"]):
            done[path] = (size, mtime)
            previous_paths.add(path)
        for item in index.skipped:
            done[item["path"]] = (item["size"], item["mtime_ns"])
            previous_paths.add(item["path"])
    shards = read_shards(out / PARTIAL_DIR, columns=["path", "size", "mtime_ns"])
    in_shards = dict(_stamps(shards)) if shards is not None else {}
    todo = [item for item in files if done.get(item.path) != item.stamp and in_shards.get(item.path) != item.stamp]
    return files, todo, {"previous_paths": previous_paths, "previous_stamps": done, "shard_stamps": in_shards}


def _without_dim(settings: dict) -> dict:
    return {key: value for key, value in settings.items() if key != "dim"}


def _merge(out: Path, files: list[ArchiveFile], run: dict) -> None:
    """Kept rows of the previous index + rows of every shard, for the files the archive holds now.

    Works on Arrow tables (never Python rows of embeddings), so merging a large archive stays cheap in memory.
    """
    import pyarrow as pa

    current = {item.path: item.stamp for item in files}
    metadata = read_metadata(out)
    parts, skipped, previous_paths, kept, dim = [], {}, set(), set(), None
    if metadata is not None:
        index = load_index(out)
        dim = index.settings.get("dim")
        table = index.dataset.data.table.select(list(ROW_COLUMNS))
        stamps = _stamps(table)
        keep = [current.get(path) == stamp for path, stamp in stamps]
        parts.append(table.filter(pa.array(keep, pa.bool_())))
        previous_paths = {path for path, _ in stamps} | {item["path"] for item in index.skipped}
        skipped = {item["path"]: item for item in index.skipped
                   if current.get(item["path"]) == (item["size"], item["mtime_ns"])}
        kept = {path for (path, _), flag in zip(stamps, keep) if flag} | set(skipped)
    shards = read_shards(out / PARTIAL_DIR)
    if metadata is not None and shards is None and kept == previous_paths:
        # nothing new, changed or removed: the index on disk is already the answer
        shutil.rmtree(out / PARTIAL_DIR, ignore_errors=True)
        return
    if shards is not None:
        owner: dict[str, int] = {}  # a file's rows come from one shard, even if an earlier attempt also wrote it
        take = []
        rows = zip(_stamps(shards), shards.column("shard").to_pylist(), shards.column("error").to_pylist())
        for row, ((path, stamp), shard, error) in enumerate(rows):
            if path in kept or current.get(path) != stamp or owner.setdefault(path, shard) != shard:
                continue  # unchanged in the previous index, changed or gone since, or written twice
            if error is not None:
                skipped[path] = {"path": path, "size": stamp[0], "mtime_ns": stamp[1], "reason": error}
            else:
                take.append(row)
        new = shards.take(pa.array(take, pa.int64())).select(list(ROW_COLUMNS))
        if len(new):
            dim = dim or len(new.column(EMBEDDING_COLUMN)[0])
        parts.append(new)
    dim = int(dim or 0)
    schema = row_schema(dim)
    table = pa.concat_tables([part.cast(schema) for part in parts]) if parts else schema.empty_table()
    table = table.sort_by([("path", "ascending"), ("start", "ascending")])
    write_index(out, table, dim, root=Path(run["root"]), model=run["model"], settings=run["settings"],
                skipped=[skipped[path] for path in sorted(skipped)])


def _stamps(table) -> list[tuple[str, tuple[int, int]]]:
    return list(zip(table.column("path").to_pylist(),
                    zip(table.column("size").to_pylist(), table.column("mtime_ns").to_pylist())))


def _summarize(out: Path, files: list[ArchiveFile], before: dict) -> IndexSummary:
    index = load_index(out)
    current = {item.path: item.stamp for item in files}
    previous, shard_stamps = before["previous_stamps"], before["shard_stamps"]
    indexed = set(index.dataset["path"])
    kept = sum(1 for path in indexed if previous.get(path) == current.get(path))
    resumed = sum(1 for path in indexed if previous.get(path) != current.get(path)
                  and shard_stamps.get(path) == current.get(path))
    removed = sum(1 for path in before["previous_paths"] if path not in current)
    return IndexSummary(
        index=out, num_files=len(indexed), num_rows=len(index), embedded=len(indexed) - kept - resumed,
        resumed=resumed, kept=kept, removed=removed,
        skipped=[{"path": item["path"], "reason": item["reason"]} for item in index.skipped],
    )
