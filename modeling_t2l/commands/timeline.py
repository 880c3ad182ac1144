"""`t2l timeline VIDEO --model M --labels "a,b,c" --out DIR`: what happens when, in a long video.

Scores one window of `--window` seconds every `--stride` seconds (see `modeling_t2l.timeline`) and writes, in DIR:
`timeline.json` (every window with every label's score, the segments and the settings), `segments.json` (the
merged segments: label, start, end, mean score) and `timeline.png` (needs matplotlib: `pip install
"modeling-t2l[plots]"`; without it the PNG is skipped with one line saying so). The segments are also printed.

Exit codes: 0 done; 2 the video cannot be read; 1 bad arguments or a model that does not load.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .classify import _descriptions_argument, load_pipeline, read_labels_file

EXIT_OK, EXIT_USAGE, EXIT_UNREADABLE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", metavar="VIDEO", help="a video file or an http(s) URL")
    parser.add_argument("--model", required=True, help="a converted/trained model directory or a Hub repo id")
    labels = parser.add_mutually_exclusive_group(required=True)
    labels.add_argument("--labels", help='comma-separated candidate labels, e.g. "serve,rally,break"')
    labels.add_argument("--labels-file", type=Path, help="one label per line, or a T2L label CSV (id,name)")
    parser.add_argument("--window", type=float, default=4.0, help="window length in seconds (default 4)")
    parser.add_argument("--stride", type=float, default=2.0, help="seconds between window starts (default 2)")
    parser.add_argument("--out", type=Path, required=True, help="output folder for timeline.json, segments.json, timeline.png")
    parser.add_argument("--template", action="extend", nargs="+", metavar="T",
                        help="prompt template(s) with {} for the label (default as t2l classify)")
    parser.add_argument("--descriptions", help="a bundled description set or a T2L description CSV")
    parser.add_argument("--batch-size", type=int, default=4, help="windows per forward of the vision tower (default 4)")
    parser.add_argument("--device", default=None, help='torch device, e.g. "cpu" or "cuda:0"')


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:05.2f}"


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..timeline import check_window_lengths, iter_windows, merge_segments
    from ..processing.video_io import VideoDecodeError

    try:
        labels = args.labels if args.labels is not None else read_labels_file(args.labels_file)
        if not (args.window > 0 and args.stride > 0):  # also rejects nan
            raise ValueError(f"--window and --stride must be positive seconds, got {args.window:g} and {args.stride:g}")
        check_window_lengths(args.window, args.stride)
        if args.batch_size < 1:
            raise ValueError("--batch-size must be >= 1")
    except ValueError as error:
        print(f"t2l timeline: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        pipe = load_pipeline(args.model, args.device)
    except (OSError, ValueError) as error:
        print(f"t2l timeline: error: cannot load model {args.model!r}: {error}", file=sys.stderr)
        return EXIT_USAGE
    text_choice = {}
    stats: dict = {}
    try:
        if args.template:
            text_choice["hypothesis_template"] = args.template
        if args.descriptions:
            text_choice["descriptions"] = _descriptions_argument(args.descriptions)
        # Checks the labels, templates and descriptions and embeds the texts before any video is read.
        scored = iter_windows(pipe, args.video, candidate_labels=labels, chunk_length_s=args.window,
                              stride_length_s=args.stride, batch_size=args.batch_size, stats=stats, **text_choice)
    except (ValueError, KeyError, TypeError, FileNotFoundError) as error:
        print(f"t2l timeline: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    texts = pipe.last_class_texts
    where = f" ({texts.description_set})" if texts.description_set else ""
    print(f"t2l timeline: {texts.num_classes} labels scored with {texts.mode}{where}", file=sys.stderr)

    windows = []
    progress = tqdm(unit="window", desc="timeline", file=sys.stderr, disable=None)
    try:
        for window in scored:
            windows.append(window)
            progress.update(1)
    except VideoDecodeError as error:
        print(f"t2l timeline: cannot read {args.video}: {error.reason}", file=sys.stderr)
        return EXIT_UNREADABLE
    finally:
        progress.close()
    segments = merge_segments(windows)

    args.out.mkdir(parents=True, exist_ok=True)
    document = {
        "video": args.video,
        "model": args.model,
        "window_s": args.window,
        "stride_s": args.stride,
        "fps": stats.get("fps"),
        "duration_s": stats.get("duration"),
        "labels": list(texts.class_names),
        "text_mode": texts.mode,
        "description_set": texts.description_set,
        "windows": windows,
        "segments": segments,
    }
    (args.out / "timeline.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    (args.out / "segments.json").write_text(json.dumps(segments, indent=2) + "\n", encoding="utf-8")
    for segment in segments:
        print(f"{_clock(segment['start'])} - {_clock(segment['end'])}  {segment['score']:.3f}  {segment['label']}")
    try:
        from ..timeline_plot import plot_timeline

        plot_timeline(args.out / "timeline.png", windows, segments, title=f"{Path(args.video).name}: {len(windows)} windows")
    except ImportError as error:
        print(f"t2l timeline: skipped timeline.png ({error})", file=sys.stderr)
    print(f"t2l timeline: {len(windows)} windows, {len(segments)} segments written to {args.out}", file=sys.stderr)
    return EXIT_OK
