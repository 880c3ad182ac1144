"""`t2l benchmark`: T2L's cost against CLIP frame averaging, X-CLIP and full fine-tuning, measured side by side."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm.auto import tqdm


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="every row, measured less: inference at batch 1, 3 repetitions, training batch 2 with "
                             "one timed step per configuration, 16-token class texts (under 5 min on 2 idle CPU cores)")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke test: tiny random models and clips (seconds); checks every row runs, numbers "
                             "mean nothing")
    parser.add_argument("--device", default=None, help="cpu or cuda[:i] (default: cuda when available)")
    parser.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"],
                        help="default: bfloat16 on CUDA, float32 on CPU")
    parser.add_argument("--batch-sizes", default=None,
                        help="comma-separated inference batch sizes (default: 1,8; quick: 1)")
    parser.add_argument("--train-batch-size", type=int, default=None,
                        help="videos per training step (default: 4; quick: 2)")
    parser.add_argument("--repeats", type=int, default=None, help="timed interleaved repetitions")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall: wall-clock time, default threads (an idle machine). cpu: process CPU time with one "
                             "torch thread, which other jobs on a shared machine barely disturb")
    parser.add_argument("--sections", default=None,
                        help="comma-separated subset of inference,training,text,decoding,pipeline (default: all)")
    parser.add_argument("--profile", action="store_true",
                        help="also write torch.profiler tables of one batch-1 forward of each model to OUT/profile.txt")
    parser.add_argument("--out", default="benchmark", help="directory for benchmark.md, benchmark.json, benchmark.png")


def _int_list(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise SystemExit(f"t2l benchmark: {option} expects comma-separated integers, got {text!r}")
    if not values:
        raise SystemExit(f"t2l benchmark: {option} is empty")
    return values


def run(args) -> int:
    from ..benchmarking import BenchmarkSettings, profile_inference, run_benchmark

    overrides = {"clock": args.clock}
    if args.train_batch_size:
        overrides["train_batch_size"] = args.train_batch_size
    if args.repeats:
        overrides["repeats"] = args.repeats
    if args.sections:
        overrides["sections"] = tuple(part.strip() for part in args.sections.split(",") if part.strip())
    batch_sizes = _int_list(args.batch_sizes, "--batch-sizes") if args.batch_sizes else None
    try:
        if args.tiny:
            if batch_sizes:
                overrides["batch_sizes"] = batch_sizes
            settings = BenchmarkSettings.tiny(device=args.device or "cpu", dtype=args.dtype or "float32", **overrides)
        else:
            settings = BenchmarkSettings.vit_b16(quick=args.quick, device=args.device, dtype=args.dtype,
                                                 batch_sizes=batch_sizes, **overrides)
    except ValueError as error:
        print(f"t2l benchmark: {error}", file=sys.stderr)
        return 2

    progress_bar = tqdm(total=len(settings.sections), desc="benchmark", unit="section", file=sys.stderr)
    seen = set()

    def progress(message: str) -> None:
        section = message.split(":")[0].split()[0]
        if section not in seen and seen:
            progress_bar.update(1)
        seen.add(section)
        progress_bar.set_postfix_str(message)

    def report_row(row) -> None:
        tqdm.write(f"{type(row).__name__}: " + ", ".join(f"{k}={_short(v)}" for k, v in vars(row).items()))

    report = run_benchmark(settings, args.out, report_row=report_row, progress=progress)
    progress_bar.update(progress_bar.total - progress_bar.n)
    progress_bar.close()
    if args.profile:
        profile_path = Path(args.out) / "profile.txt"
        profile_path.write_text(profile_inference(settings), encoding="utf-8")
        print(f"profile written to {profile_path}")
    print()
    print(report.to_markdown())
    print(f"written: {Path(args.out) / 'benchmark.md'}, benchmark.json, benchmark.png")
    return 0


def _short(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return value
