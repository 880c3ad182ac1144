"""A count of skipped (undecodable) videos shared by the main process and its DataLoader workers.

The collator runs inside the workers, so a plain attribute would be incremented in a worker's copy and lost.
The count and the first paths live in shared memory (`multiprocessing.Value` / `Array`, no pipes, so nothing
can block a worker at exit). They reach the workers by inheritance (fork) or as Process arguments (spawn);
pickling the object any other way (e.g. `copy.deepcopy`) gives an independent snapshot instead of failing.
"""
from __future__ import annotations

import multiprocessing
from multiprocessing.context import get_spawning_popen

_EXAMPLE_BYTES = 16384  # room for the first ~100 paths; the count itself is unbounded


class SkippedVideos:
    def __init__(self):
        # A spawn-context lock can be inherited by forked workers *and* sent to spawn/forkserver workers; a
        # fork-context one refuses the latter (DataLoader(multiprocessing_context="spawn")).
        context = multiprocessing.get_context("spawn")
        self._count = context.Value("q", 0)
        self._examples = context.Array("c", _EXAMPLE_BYTES)  # "path\treason\n" records, NUL-terminated

    def add(self, path: str, reason: str) -> None:
        record = f"{path}\t{reason}".replace("\n", " ")[:1000].encode("utf-8", "replace") + b"\n"
        with self._count.get_lock():
            self._count.value += 1
            used = self._examples.value  # bytes up to the first NUL
            if len(used) + len(record) < _EXAMPLE_BYTES:
                self._examples[len(used) : len(used) + len(record)] = record

    @property
    def count(self) -> int:
        return int(self._count.value)

    def examples(self) -> list[tuple[str, str]]:
        """(path, reason) of the first skipped videos (all of them unless there were very many)."""
        lines = self._examples.value.decode("utf-8", "replace").splitlines()
        return [tuple(line.split("\t", 1)) if "\t" in line else (line, "") for line in lines]

    def as_dict(self) -> dict:
        """For a run's results file."""
        return {"skipped_videos": self.count, "skipped_examples": [{"path": p, "reason": r} for p, r in self.examples()]}

    def __getstate__(self):
        if get_spawning_popen() is not None:  # being sent to a new worker process: share the memory
            return {"shared": (self._count, self._examples)}
        return {"snapshot": (self.count, self._examples.raw)}

    def __setstate__(self, state):
        if "shared" in state:
            self._count, self._examples = state["shared"]
            return
        count, raw = state["snapshot"]
        self.__init__()
        self._count.value = count
        self._examples.raw = raw
