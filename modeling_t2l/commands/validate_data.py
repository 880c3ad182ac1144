"""`t2l validate-data`: check every video of a protocol (or of one list) before a long run.

    t2l validate-data --protocol zero_shot_hmdb51 --data-root /data/hmdb51
    t2l validate-data --protocol base_to_novel_k400 --data-root /data/k400 --split base novel
    t2l validate-data --split-file my_list.txt --label-file my_labels.csv --video-root /data/mine

Each listed video is looked up under the root (the same resolution as training and evaluation), probed for its
frame count, and the frames that evaluation would sample are decoded. Missing, undecodable and too-short
(fewer frames than sampled, so frames repeat) videos are printed as a table with counts. Exit code 0 when
every video is fine, 1 otherwise, 2 when the list, labels or root themselves are unusable.
"""
from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tqdm.auto import tqdm

PROBLEMS = ("missing", "undecodable", "too-short")


@dataclass
class Problem:
    split: str
    kind: str
    video: str
    detail: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    protocol = parser.add_argument_group("a named protocol")
    protocol.add_argument("--protocol", help="protocol name (see `t2l validate-data --list`)")
    protocol.add_argument("--data-root", help="the dataset's video root")
    protocol.add_argument("--split", nargs="+",
                          help="splits to check (default: every split of the protocol's own dataset that has a list)")
    protocol.add_argument("--train-list", help="your training list, for splits that are not bundled (K400 train)")
    protocol.add_argument("--hmdb-label-order", choices=("fixed", "legacy"), help="HMDB label order (default fixed)")
    single = parser.add_argument_group("or one list")
    single.add_argument("--split-file", help="a split list (`<video> <label>` per line)")
    single.add_argument("--label-file", help="its label CSV (`id,name`)")
    single.add_argument("--video-root", help="where its videos are")
    parser.add_argument("--num-frames", type=int, help="frames sampled per video (default: the protocol's, else 8)")
    parser.add_argument("--workers", type=int, default=1, help="parallel decoding threads (default 1)")
    parser.add_argument("--max-rows", type=int, default=50, help="problem files printed per kind (default 50)")
    parser.add_argument("--report", help="also write every problem to this JSON file")
    parser.add_argument("--list", action="store_true", help="list the protocols and exit")


def _jobs(args) -> tuple[str, list[tuple[str, list]], object, int]:
    """(title, [(split name, entries)], video root, num_frames) from the arguments."""
    from ..data import get_protocol, list_protocols, read_labels, read_split_list
    from ..data.lists import check_labels

    if args.protocol:
        if args.split_file or args.label_file:
            raise SystemExit("give either --protocol or --split-file/--label-file, not both")
        if not args.data_root:
            raise SystemExit("--protocol needs --data-root")
        if args.protocol not in list_protocols():
            raise SystemExit(f"unknown protocol {args.protocol!r}; known: {', '.join(list_protocols())}")
        options = {"train_list": args.train_list}
        if args.hmdb_label_order:
            options["hmdb_label_order"] = args.hmdb_label_order
        protocol = get_protocol(args.protocol, **options)
        # Default: the splits of the protocol's own dataset (a zero-shot protocol's K400 splits live under
        # another root: name them with --split train k400_val and point --data-root at K400).
        own = set(protocol.splits_of())
        splits = args.split or [
            spec.name for spec in protocol.splits
            if spec.name in own and (spec.list_file or spec.derived_from or args.train_list)
        ]
        jobs = [(split, protocol.entries(split)) for split in splits]
        return args.protocol, jobs, args.data_root, args.num_frames or protocol.num_frames
    if not (args.split_file and args.label_file and args.video_root):
        raise SystemExit("give --protocol NAME --data-root R, or --split-file, --label-file and --video-root")
    entries = read_split_list(args.split_file)
    check_labels(entries, len(read_labels(args.label_file)), args.split_file)
    return args.split_file, [("list", entries)], args.video_root, args.num_frames or 8


def check_video(path: str, num_frames: int) -> tuple[str | None, str]:
    """(problem kind or None, detail) for one video file or frame folder."""
    from ..processing.video_io import probe_video, read_video

    try:
        info = probe_video(path)
        frames = read_video(path, num_frames, mode="eval")
    except Exception as exc:  # noqa: BLE001 - every failure is a finding to report, not a crash
        return "undecodable", f"{type(exc).__name__}: {exc}"
    if info.num_frames < num_frames:
        return "too-short", f"{info.num_frames} frames < {num_frames} sampled (frames repeat)"
    return None, f"{len(frames)} frames of {info.num_frames}"


def _check_star(arguments):
    return check_video(*arguments)


def run(args) -> int:
    import sys

    from ..data import VideoIndex, get_protocol, list_protocols

    if args.list:
        print(_table(["protocol", "what it measures"], [[n, get_protocol(n).summary] for n in list_protocols()]))
        return 0
    try:
        title, jobs, root, num_frames = _jobs(args)
        index = VideoIndex(root)
    except (OSError, ValueError) as error:  # a bad list, label file or root: say which, no traceback
        print(f"t2l validate-data: {error}", file=sys.stderr)
        return 2
    problems: list[Problem] = []
    to_check: dict[str, list[tuple[str, str]]] = {}  # absolute path -> [(split, list entry)]
    totals = {split: len(entries) for split, entries in jobs}
    for split, entries in jobs:
        for entry in entries:
            relative = index.resolve(entry.name)
            if relative is None:
                problems.append(Problem(split, "missing", entry.name, "not found under the root"))
            else:
                to_check.setdefault(index.absolute(relative), []).append((split, entry.name))

    paths = sorted(to_check)
    progress = tqdm(total=len(paths), desc="checking videos", unit="video")
    if args.workers > 1:
        # Threads, not processes: FFmpeg decodes without the GIL, and forking a process that has already run
        # torch's thread pools can deadlock.
        with ThreadPoolExecutor(args.workers) as pool:
            results = pool.map(_check_star, [(p, num_frames) for p in paths])
            outcomes = []
            for outcome in results:
                outcomes.append(outcome)
                progress.update()
    else:
        outcomes = []
        for path in paths:
            outcomes.append(check_video(path, num_frames))
            progress.update()
    progress.close()
    for path, (kind, detail) in zip(paths, outcomes):
        if kind is not None:
            problems.extend(Problem(split, kind, name, detail) for split, name in to_check[path])

    print(f"\n{title}: {sum(totals.values())} listed videos in {len(jobs)} split(s) under {root}, {num_frames} frames each\n")
    _print_problems(problems, args.max_rows)
    _print_counts(totals, problems)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as handle:
            json.dump({"title": title, "root": str(root), "num_frames": num_frames, "totals": totals,
                       "problems": [vars(p) for p in problems]}, handle, indent=2)
        print(f"report written to {args.report}")
    return 1 if problems else 0


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _print_problems(problems: list[Problem], max_rows: int) -> None:
    if not problems:
        print("No problems found.\n")
        return
    rows = []
    for kind in PROBLEMS:
        of_kind = [p for p in problems if p.kind == kind]
        rows += [[p.split, p.kind, p.video, p.detail] for p in of_kind[:max_rows]]
        if len(of_kind) > max_rows:
            rows.append(["", kind, f"... and {len(of_kind) - max_rows} more", "(--max-rows, --report)"])
    print(_table(["split", "problem", "video", "detail"], rows) + "\n")


def _print_counts(totals: dict[str, int], problems: list[Problem]) -> None:
    rows = []
    for split, total in totals.items():
        counts = [sum(1 for p in problems if p.split == split and p.kind == kind) for kind in PROBLEMS]
        rows.append([split, str(total), *map(str, counts), str(total - sum(counts))])
    print(_table(["split", "listed", *PROBLEMS, "ok"], rows))
