"""Reading the label CSVs and split lists that define a protocol (bundled or user-supplied).

Formats (see `files/README.md`):
* label CSV: header `id,name[,...]`, one row per class in id order; CRLF or LF line endings.
* split list: one video per line, `<name> <label>` (ViFi-CLIP / mmaction) or `<name> <num_frames> <label>`
  (ActionCLIP / T2L frame lists). `<name>` is a file or folder name relative to the dataset root, possibly with
  a sub-folder (`train/<id>.mp4`). Absolute paths (as in T2L's released lists) are accepted too: only the name
  is used to find the video, never the path itself.
* LLM label JSON (FROSTER / TC-CLIP, not bundled): `{"0": "Name: description", ...}` in id order.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..zero_shot.prompts import check_distinct_class_names

FILES_DIR = Path(__file__).resolve().parent / "files"


@dataclass(frozen=True)
class SplitEntry:
    """One line of a split list: the video's name as written in the list and its 0-based label id."""

    name: str
    label: int


def bundled_file(relative_path: str) -> Path:
    """Path of a file shipped in `modeling_t2l/data/files/` (raises if it is not there)."""
    path = FILES_DIR / relative_path
    if not path.is_file():
        raise FileNotFoundError(f"bundled data file {relative_path!r} is missing from {FILES_DIR}")
    return path


def read_labels(path: str | Path) -> list[str]:
    """Class names of a label CSV, in id order. Checks that the ids run 0..n-1 so a shuffled file cannot
    silently mislabel every video."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            fieldnames, rows = reader.fieldnames, list(reader)
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: a label file must be UTF-8 text (byte {error.start} is not)") from None
    except csv.Error as error:
        raise ValueError(f"{path}: not a CSV label file ({error})") from None
    if fieldnames is None or not {"id", "name"} <= set(fieldnames):
        raise ValueError(f"{path}: a label file needs the header 'id,name', found {fieldnames}")
    names = []
    for row_number, row in enumerate(rows):
        if row["id"] is None or row["name"] is None:
            raise ValueError(f"{path}: row {row_number + 2} needs an id and a name, found {row['id']!r}")
        try:
            row_id = int(row["id"])
        except ValueError:
            raise ValueError(f"{path}: row {row_number + 2} has id {row['id']!r}, not an integer") from None
        if row_id != row_number:
            raise ValueError(f"{path}: row {row_number + 2} has id {row['id']}, expected {row_number}")
        names.append(row["name"].strip())
    if not names:
        raise ValueError(f"{path}: no classes")
    check_distinct_class_names(names, f"{path}: the label file")
    return names


def parse_split_lines(lines: Iterable[str], source: str = "<list>") -> list[SplitEntry]:
    """Parse split-list lines; `source` names the file in error messages."""
    entries = []
    for line_number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:  # no comment syntax: HMDB has videos named '#20_Rhythm_clap_...avi'
            continue
        parts = line.rsplit(maxsplit=2)
        # `<name> <num_frames> <label>` when the last two fields are integers, else `<name> <label>`
        # (a name may contain spaces in the two-column form).
        if len(parts) == 3 and parts[1].isdigit() and parts[2].lstrip("-").isdigit():
            name, label = parts[0], parts[2]
        else:
            name, _, label = line.rpartition(" ")
            name = name.strip()
        if not name or not label.lstrip("-").isdigit():
            raise ValueError(f"{source}, line {line_number}: expected '<video> <label>', got {line!r}")
        entries.append(SplitEntry(name, int(label)))
    return entries


def read_split_list(path: str | Path) -> list[SplitEntry]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split list {path} does not exist")
    with path.open(encoding="utf-8") as handle:
        entries = parse_split_lines(handle, source=str(path))
    if not entries:
        raise ValueError(f"{path}: the split list is empty")
    return entries


def check_labels(entries: Sequence[SplitEntry], num_classes: int, source: str) -> None:
    """Every label id must index the label file; otherwise name the first offending line."""
    for entry in entries:
        if not 0 <= entry.label < num_classes:
            raise ValueError(
                f"{source}: video {entry.name!r} has label {entry.label}, but the label file has {num_classes} classes"
            )


def relabel_subset(entries: Sequence[SplitEntry], full_names: Sequence[str], subset_names: Sequence[str]) -> list[SplitEntry]:
    """Keep the videos whose class (by name in `full_names`) is in `subset_names` and relabel them with the
    subset's index. This derives the K400 base/novel validation lists from the full K400 val list."""
    position = {name: index for index, name in enumerate(subset_names)}
    unknown = [name for name in subset_names if name not in set(full_names)]
    if unknown:
        raise ValueError(f"classes {unknown[:5]} of the subset are not in the full label list")
    return [
        SplitEntry(entry.name, position[full_names[entry.label]])
        for entry in entries
        if full_names[entry.label] in position
    ]


def read_llm_labels(path: str | Path, num_classes: int) -> list[str]:
    """The per-class texts of a FROSTER / TC-CLIP LLM label JSON (`{"0": "Name: description", ...}`), in id order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LLM label file {path} does not exist (these files are not bundled: see the README)")
    with path.open(encoding="utf-8") as handle:
        mapping = json.load(handle)
    if set(mapping) != {str(i) for i in range(num_classes)}:
        raise ValueError(f"{path}: expected keys '0'..'{num_classes - 1}' ({num_classes} classes), found {len(mapping)} keys")
    return [str(mapping[str(i)]).strip() for i in range(num_classes)]
