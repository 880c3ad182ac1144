"""`t2l demo`: the offline quickstart, T2L's experiment in miniature (see modeling_t2l/quickstart)."""
from __future__ import annotations

import argparse
import shlex
import sys

from ..quickstart.variants import VARIANTS



def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..quickstart.options import DemoOptions

    d = DemoOptions()
    parser.add_argument("--out", default=d.out, help=f"output folder: data, model, ablation.md/.json/.png (default {d.out})")
    parser.add_argument("--num-videos", type=int, default=d.num_videos,
                        help=f"training videos per base class (default {d.num_videos})")
    parser.add_argument("--test-videos", type=int, default=d.test_videos,
                        help=f"test videos per novel class (default {d.test_videos}; base classes get half)")
    parser.add_argument("--epochs", type=float, default=d.epochs, help=f"T2L training epochs (default {d.epochs:g})")
    parser.add_argument("--frames", type=int, default=d.frames, help=f"frames per generated video (default {d.frames})")
    parser.add_argument("--num-frames", type=int, default=d.num_frames,
                        help=f"frames per clip the model sees, T (default {d.num_frames})")
    parser.add_argument("--image-size", type=int, default=d.image_size,
                        help=f"frame size in pixels, even, a multiple of 8 (default {d.image_size})")
    parser.add_argument("--seeds", type=int, default=d.seeds, metavar="N",
                        help=f"run every row with N seeds and report mean ± std (default {d.seeds}; 3 takes about 3x as long)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help=f"training batch size (default {d.batch_size})")
    parser.add_argument("--lr", type=float, default=d.learning_rate, help=f"T2L learning rate (default {d.learning_rate:g})")
    parser.add_argument("--pretrain-steps", type=int, default=d.pretrain_steps,
                        help=f"tiny-CLIP pre-training steps on stills (default {d.pretrain_steps})")
    parser.add_argument("--cache-dir", default=None,
                        help="where the pre-trained tiny CLIP is cached (default $T2L_DEMO_CACHE or ~/.cache/modeling_t2l)")
    parser.add_argument("--variants", default=",".join(d.variants),
                        help=f"comma-separated ablation rows (default all: {','.join(v.key for v in VARIANTS)})")
    parser.add_argument("--official-recipe", action="store_true",
                        help="train with the official T2L settings (text adapters, KL loss over the batch, drop-path) "
                             "instead of the miniature's (frozen text tower, cross-entropy over all classes, no dropout)")
    parser.add_argument("--threads", type=int, default=d.threads,
                        help=f"torch threads for every step (default {d.threads}); the digits of the table depend on "
                             "it, not on the machine's core count")
    parser.add_argument("--quiet", action="store_true", help="print only the results table and where the outputs went (no progress bars, step messages or Trainer logs)")


def _command_line() -> str:
    """The command as typed, for the report: `t2l demo ...` or `python scripts/quickstart.py ...`."""
    if sys.argv[1:2] == ["demo"]:
        return shlex.join(["t2l", "demo", *sys.argv[2:]])
    return shlex.join(["python", "scripts/quickstart.py", *sys.argv[1:]])


def run(args: argparse.Namespace) -> int:
    from ..quickstart.runner import DemoOptions, run_demo

    options = DemoOptions(
        out=args.out, num_videos=args.num_videos, test_videos=args.test_videos, frames=args.frames,
        num_frames=args.num_frames, image_size=args.image_size, epochs=args.epochs, seeds=args.seeds,
        batch_size=args.batch_size, learning_rate=args.lr, pretrain_steps=args.pretrain_steps,
        cache_dir=args.cache_dir, official_recipe=args.official_recipe, threads=args.threads,
        variants=tuple(key.strip() for key in args.variants.split(",") if key.strip()),
        command=_command_line(),
        progress=not args.quiet,
    )
    if args.quiet:  # transformers' and huggingface_hub's own bars (loading / writing weights) too
        from huggingface_hub.utils import disable_progress_bars
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        disable_progress_bars()
    try:
        run_demo(options)
    except ValueError as error:
        print(f"t2l demo: error: {error}", file=sys.stderr)
        return 2
    return 0
