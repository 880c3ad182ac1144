"""`t2l index DIR --model M --out INDEX`: embed every video of an archive (or every window of long videos).

Resumable and incremental: re-running the same command continues an interrupted run, embeds only new or changed
files and drops removed ones. Under `accelerate launch t2l index ...` every process embeds a share of the files.

Exit codes: 0 every video indexed; 2 the index was written but some files could not be read (each is named);
1 bad arguments, a model that does not load, or an existing index built with another model or settings.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_USAGE, EXIT_UNREADABLE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, metavar="DIR", help="the folder of videos (searched recursively)")
    parser.add_argument("--model", required=True, help="a model directory or Hub repo id (with its processor)")
    parser.add_argument("--out", required=True, type=Path, metavar="INDEX", help="the index folder to write or update")
    parser.add_argument("--window", type=float, default=None, metavar="SECONDS",
                        help="embed videos longer than this as windows of this length (default: whole videos)")
    parser.add_argument("--stride", type=float, default=None, metavar="SECONDS",
                        help="seconds between window starts (default: the window length, no overlap)")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per forward of the video tower (default 8)")
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers decoding videos (default 0)")
    parser.add_argument("--flush-every", type=int, default=16,
                        help="finished videos per saved shard: the most an interrupted run redoes (default 16)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"),
                        help="weights' dtype (default float32); embeddings are stored as float32 either way")
    parser.add_argument("--device", default=None,
                        help="torch device (default: this process's accelerator under accelerate, else the CPU)")


def run(args: argparse.Namespace) -> int:
    from ..search import IndexMismatchError, build_index
    from ..search.indexing import distributed_state
    from .evaluate import load_model_and_processor

    state = distributed_state()
    try:
        model, processor = load_model_and_processor(args.model, args.device or state.device, args.dtype)
    except (OSError, ValueError) as error:
        print(f"t2l index: error: cannot load model {args.model!r}: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        summary = build_index(
            args.directory, model, processor, args.out, window=args.window, stride=args.stride,
            batch_size=args.batch_size, num_workers=args.num_workers, flush_every=args.flush_every,
        )
    except (IndexMismatchError, NotADirectoryError, ValueError) as error:
        print(f"t2l index: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if state.is_main_process:
        print(summary.describe(), file=sys.stderr)
    return EXIT_UNREADABLE if summary.skipped else EXIT_OK
