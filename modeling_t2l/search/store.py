"""An index on disk: one folder with `index.json` (what it is), `embeddings-*/` (a saved `datasets.Dataset`) and,
while a run is under way, `partial/` (the rows finished so far, one Parquet shard per flush and process).

    INDEX/index.json           format, model (name/path + config digest), settings, archive root, skipped files
    INDEX/embeddings-<id>/     Dataset.save_to_disk: path, start, end, embedding, size, mtime_ns
    INDEX/partial/run.json     the model and settings of the run the shards belong to
    INDEX/partial/*.parquet    finished files of an unfinished run (same columns, plus `error`)

`index.json` is replaced atomically and names the embeddings folder it belongs to, so an interrupted write
leaves the previous index readable; the shards let an interrupted run continue where it stopped.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1
INDEX_FILE = "index.json"
PARTIAL_DIR = "partial"
RUN_FILE = "run.json"
EMBEDDING_COLUMN = "embedding"


class IndexMismatchError(ValueError):
    """An index (or an unfinished run) was made with another model or other settings than the ones given."""


ROW_COLUMNS = ("path", "start", "end", EMBEDDING_COLUMN, "size", "mtime_ns")


def row_schema(dim: int):
    """The Arrow schema of an index's rows (embeddings are fixed-size lists of `dim` float32)."""
    import pyarrow as pa

    return pa.schema([
        ("path", pa.string()), ("start", pa.float64()), ("end", pa.float64()),
        (EMBEDDING_COLUMN, pa.list_(pa.float32(), dim)), ("size", pa.int64()), ("mtime_ns", pa.int64()),
    ])


def _features(dim: int):
    import datasets

    return datasets.Features(
        {
            "path": datasets.Value("string"),
            "start": datasets.Value("float64"),
            "end": datasets.Value("float64"),
            EMBEDDING_COLUMN: datasets.List(datasets.Value("float32"), length=dim),
            "size": datasets.Value("int64"),
            "mtime_ns": datasets.Value("int64"),
        }
    )


@dataclass
class SearchIndex:
    """A loaded index: `dataset` (one row per video or window), `root` (the archive folder), `model` and
    `settings` (what it was built with), `skipped` (unreadable files: path, size, mtime_ns, reason)."""

    directory: Path
    dataset: Any
    root: Path
    model: dict
    settings: dict
    skipped: list[dict] = field(default_factory=list)
    _matrix: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def embeddings(self) -> np.ndarray:
        """(N, E) float32 L2-normalised embeddings, read once."""
        if self._matrix is None:
            dim = int(self.settings.get("dim") or 0)
            # straight from the Arrow column (a fixed-size list): no Python objects per row
            column = self.dataset.data.table.column(EMBEDDING_COLUMN).combine_chunks()
            values = column.flatten().to_numpy(zero_copy_only=False)
            self._matrix = np.ascontiguousarray(values, dtype=np.float32).reshape(len(column), dim)
        return self._matrix

    @property
    def num_files(self) -> int:
        return len(set(self.dataset["path"])) if len(self.dataset) else 0


def read_metadata(directory: Path) -> dict | None:
    path = Path(directory) / INDEX_FILE
    if not path.is_file():
        return None
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a search index file ({error})") from error
    if metadata.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: index format {metadata.get('format')!r}, this version reads {FORMAT_VERSION}")
    return metadata


def load_index(directory: str | os.PathLike) -> SearchIndex:
    """Open an index written by `build_index`."""
    import datasets

    directory = Path(directory)
    metadata = read_metadata(directory)
    if metadata is None:
        raise FileNotFoundError(
            f"{directory}: no {INDEX_FILE}; build the index first (t2l index DIR --model M --out {directory})"
        )
    dataset = datasets.load_from_disk(str(directory / metadata["embeddings"]))
    return SearchIndex(
        directory=directory, dataset=dataset, root=Path(metadata["root"]), model=metadata["model"],
        settings=metadata["settings"], skipped=metadata.get("skipped", []),
    )


def _write_json(path: Path, document: dict) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def write_index(directory: Path, table, dim: int, *, root: Path, model: dict, settings: dict,
                skipped: list[dict]) -> None:
    """Save the rows (an Arrow table of `row_schema(dim)`) as a new embeddings folder, point `index.json` at it,
    then remove the old folder and the shards."""
    import datasets
    from datasets.table import InMemoryTable

    directory.mkdir(parents=True, exist_ok=True)
    previous = read_metadata(directory)
    name = f"embeddings-{uuid.uuid4().hex[:12]}"
    dataset = datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=_features(dim)))
    # one shard at least: an empty dataset saved with none cannot be loaded back
    dataset.save_to_disk(str(directory / name), num_shards=None if table.num_rows else 1)
    metadata = {
        "format": FORMAT_VERSION, "embeddings": name, "root": str(root), "model": model,
        "settings": {**settings, "dim": dim}, "skipped": skipped,
        "num_rows": table.num_rows, "num_files": len(set(table.column("path").to_pylist())),
    }
    _write_json(directory / INDEX_FILE, metadata)
    if previous and previous.get("embeddings") != name:
        shutil.rmtree(directory / previous["embeddings"], ignore_errors=True)
    shutil.rmtree(directory / PARTIAL_DIR, ignore_errors=True)


# -- shards of an unfinished run ----------------------------------------------------------------------------------


def start_partial(directory: Path, run: dict) -> Path:
    """The shard folder for a run of this model and these settings; refuses one left by another run."""
    partial = directory / PARTIAL_DIR
    run_file = partial / RUN_FILE
    if run_file.is_file():
        left = json.loads(run_file.read_text(encoding="utf-8"))
        if left != run:
            raise IndexMismatchError(
                f"{partial}: an unfinished run with another model or other settings ({_describe(left)}) is "
                f"there, not this one ({_describe(run)}); delete {partial} to start over"
            )
    else:
        partial.mkdir(parents=True, exist_ok=True)
        _write_json(run_file, run)
    return partial


def _describe(run: dict) -> str:
    model = run.get("model", {})
    digest = str(model.get("config_sha256", ""))[:12]
    settings = ", ".join(f"{key}={value}" for key, value in sorted(run.get("settings", {}).items()))
    return f"model {model.get('name_or_path')!r} (config {digest}), {settings}"


def write_shard(partial: Path, rank: int, rows: list[dict]) -> None:
    """Persist finished files' rows (written to a temporary name, then renamed: a shard is whole or absent)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not rows:
        return
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema([
            ("path", pa.string()), ("start", pa.float64()), ("end", pa.float64()),
            (EMBEDDING_COLUMN, pa.list_(pa.float32())), ("size", pa.int64()), ("mtime_ns", pa.int64()),
            ("error", pa.string()),
        ]),
    )
    name = f"shard-r{rank:03d}-{uuid.uuid4().hex}.parquet"
    temporary = partial / f".{name}.tmp"
    pq.write_table(table, temporary)
    os.replace(temporary, partial / name)


def read_shards(partial: Path, columns: list[str] | None = None):
    """Every row of every finished shard (all processes, all earlier attempts) as one Arrow table with a `shard`
    column (which file each row came from), or None when there is none."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    if partial.is_dir():
        for number, path in enumerate(sorted(partial.glob("shard-*.parquet"))):
            table = pq.read_table(path, columns=columns)
            tables.append(table.append_column("shard", pa.array([number] * table.num_rows, pa.int64())))
    return pa.concat_tables(tables) if tables else None
