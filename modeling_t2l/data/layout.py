"""Find the videos of a split list under a dataset root, whatever the usual folder layout.

The lists name videos, not paths on the authors' machines. `VideoIndex` walks the root once (os.walk) and
answers every lookup from memory, so resolving a 240k-video Kinetics list costs one directory walk, not one
`stat` per entry per layout. A list entry resolves, in order, by:

1. its exact relative path (`train/abc_000010_000020.mp4`, `ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi`);
2. its file name anywhere under the root (flat folders, UCF/HMDB class folders, Kinetics without the
   `train/` / `val/` prefix or with class sub-folders); when several files share the name, the one whose path
   ends with the entry's own sub-folders wins;
3. its stem with another video extension (`.mp4` listed, `.webm` or `.mkv` on disk) or a frame folder of that
   name (`v_ApplyEyeMakeup_g01_c01/img_00001.jpg`);
4. for Kinetics names `<youtube_id>_<start6>_<end6>`, a file named by the YouTube id alone
   (`<youtube_id>.mp4`, as some downloaders save them).
"""
from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from pathlib import Path, PurePosixPath

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".ogv", ".3gp", ".wmv", ".ts"}
)
# A directory holding this file is a video stored as frames (the ActionCLIP / T2L / TSN convention).
FRAME_FOLDER_MARKER = "img_00001.jpg"
KINETICS_NAME = re.compile(r"^(?P<youtube_id>[A-Za-z0-9_-]{11})_(?P<start>\d{6})_(?P<end>\d{6})$")


def _entry_parts(name: str) -> tuple[str, ...]:
    """The list entry as path components, without a drive, a leading '/' or './'."""
    parts = PurePosixPath(name.strip().replace("\\", "/")).parts
    return tuple(part for part in parts if part not in ("/", ".", "") and not part.endswith(":"))


def _stem(file_name: str) -> str:
    suffix = os.path.splitext(file_name)[1]
    return file_name[: -len(suffix)] if suffix.lower() in VIDEO_EXTENSIONS else file_name


class VideoIndex:
    """Every video file and frame folder under `root`, keyed for name lookups (paths relative to root)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise NotADirectoryError(f"video root {self.root} is not a directory")
        self.paths: set[str] = set()
        self._by_name: dict[str, list[str]] = defaultdict(list)
        self._by_stem: dict[str, list[str]] = defaultdict(list)
        self.num_frame_folders = 0
        visited = set()  # (device, inode) of each directory: symlinked dataset folders are followed, loops are not
        for directory, subdirectories, files in os.walk(self.root, followlinks=True):
            status = os.stat(directory)
            identity = (status.st_dev, status.st_ino)
            if identity in visited:
                subdirectories[:] = []
                continue
            visited.add(identity)
            relative_directory = os.path.relpath(directory, self.root)
            relative_directory = "" if relative_directory == "." else relative_directory.replace(os.sep, "/")
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
            if FRAME_FOLDER_MARKER in files and relative_directory:
                subdirectories[:] = []  # its frames are not videos of their own
                self._add(relative_directory, is_folder=True)
                self.num_frame_folders += 1
                continue
            for file_name in sorted(files):
                if os.path.splitext(file_name)[1].lower() in VIDEO_EXTENSIONS:
                    self._add(f"{relative_directory}/{file_name}" if relative_directory else file_name)

    def _add(self, relative_path: str, is_folder: bool = False) -> None:
        name = relative_path.rsplit("/", 1)[-1]
        stem = name if is_folder else _stem(name)
        self.paths.add(relative_path)
        self._by_name[name].append(relative_path)
        self._by_stem[stem].append(relative_path)

    def __len__(self) -> int:
        return len(self.paths)

    def resolve(self, entry: str) -> str | None:
        """The relative path of the video a list entry names, or None when it is not under the root."""
        parts = _entry_parts(entry)
        if not parts:
            return None
        relative = "/".join(parts)
        if relative in self.paths:
            return relative
        name = parts[-1]
        stem = _stem(name)
        for candidates in (self._by_name.get(name), self._by_stem.get(stem)):
            if candidates:
                return self._pick(candidates, parts)
        match = KINETICS_NAME.match(stem)
        # Only a file named by the bare YouTube id: another `<id>_<start>_<end>` would be a different clip.
        if match and match["youtube_id"] in self._by_stem:
            return self._pick(self._by_stem[match["youtube_id"]], parts)
        return None

    @staticmethod
    def _pick(candidates: list[str], parts: tuple[str, ...]) -> str:
        if len(candidates) == 1:
            return candidates[0]
        # Prefer the candidate sharing the most trailing folders with the entry (e.g. `val/` over `train/`).
        def shared_folders(candidate: str) -> int:
            candidate_parts = candidate.split("/")[:-1][::-1]
            count = 0
            for ours, theirs in zip(parts[:-1][::-1], candidate_parts):
                if ours != theirs:
                    break
                count += 1
            return count

        best = max(shared_folders(c) for c in candidates)
        winners = sorted(c for c in candidates if shared_folders(c) == best)
        if len(winners) > 1:
            logger.debug("%s matches %d files; using %s", "/".join(parts), len(winners), winners[0])
        return winners[0]

    def absolute(self, relative_path: str) -> str:
        return str(self.root / relative_path)
