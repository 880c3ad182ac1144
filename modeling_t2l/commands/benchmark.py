"""`t2l benchmark`: every family's cost (T2L, TC-CLIP, ViFi-CLIP) against CLIP frame averaging, X-CLIP and full
fine-tuning, measured side by side; optionally the official T2L code on the same weights."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm.auto import tqdm


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test of every row, measured less (its numbers support no claim): inference at "
                             "batch 1, 3 repetitions, training batch 2 with two timed steps per configuration, "
                             "16-token class texts, 4 evaluation videos")
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
    parser.add_argument("--train-steps", type=int, default=None,
                        help="timed training steps per configuration, interleaved in one process per "
                             "checkpointing setting (default: 6; quick: 2)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall: wall-clock time, default threads (an idle machine). cpu: process CPU time with one "
                             "torch thread, which other jobs on a shared machine barely disturb")
    parser.add_argument("--sections", default=None,
                        help="comma-separated subset of inference,training,text,decoding,pipeline,evaluation "
                             "(default: all); "
                             "with --device-check of correctness,parity,sdpa,inference,training,data,"
                             "inference_compiled")
    parser.add_argument("--profile", action="store_true",
                        help="also write torch.profiler tables: with the inference section, of one batch-1 forward "
                             "of each inference model (OUT/profile.txt); with the training section, of one "
                             "checkpointed training step of T2L and of full fine-tuning, with their per-operator "
                             "difference (OUT/profile_training.txt)")
    parser.add_argument("--official-t2l", default=None, metavar="DIR",
                        help="a checkout of github.com/Shahzadnit/T2L: adds the official model, on the same weights, "
                             "to the inference rows (its clip/model.py needs einops)")
    parser.add_argument("--inference-models", default=None, metavar="NAMES",
                        help="comma-separated inference rows to build: model types (t2l, tc_clip, vifi_clip), clip, "
                             "xclip, official (with --official-t2l); default all")
    parser.add_argument("--out", default="benchmark", help="directory for benchmark.md, benchmark.json, benchmark.png")
    check = parser.add_argument_group(
        "device check", "--device-check runs the accelerator check instead: every family against CPU fp32, the "
        "official fixtures, the SDPA backend, inference at batch 1/8/64 (eager and torch.compile), training at "
        "batch 70, data-loader throughput; it writes device_check.json and device_check.md into --out")
    check.add_argument("--device-check", action="store_true", help="run the device check (see above)")
    check.add_argument("--time-budget", type=float, default=None,
                       help="seconds the device check may use; sections that no longer fit are skipped "
                            "(default: 420; --tiny: 120)")
    check.add_argument("--fixtures", default=None,
                       help="folder of official T2L fixtures for the parity section (tests/fixtures/official_t2l)")


def _names(text: str) -> tuple[str, ...]:
    """"a, b,,c" -> ("a", "b", "c")."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _int_list(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise SystemExit(f"t2l benchmark: {option} expects comma-separated integers, got {text!r}")
    if not values:
        raise SystemExit(f"t2l benchmark: {option} is empty")
    return values


def run_device_check(args) -> int:
    import torch

    from ..benchmarking.device_check import DeviceCheckSettings, run_device_check as run_check

    overrides = {}
    if args.batch_sizes:
        overrides["batch_sizes"] = _int_list(args.batch_sizes, "--batch-sizes")
    if args.train_batch_size:
        overrides["train_batch_size"] = args.train_batch_size
    if args.repeats:
        overrides["repeats"] = args.repeats
    if args.sections:
        overrides["sections"] = _names(args.sections)
    if args.dtype:
        overrides["dtype"] = args.dtype
    if args.time_budget is not None:
        overrides["time_budget_s"] = args.time_budget
    overrides["fixtures"] = args.fixtures
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        if args.tiny:
            settings = DeviceCheckSettings.tiny_run(device=device, **overrides)
        else:
            settings = DeviceCheckSettings(device=device, **overrides)
        report = run_check(settings, args.out, progress=lambda message: print(f"device check: {message}",
                                                                             file=sys.stderr, flush=True))
    except (ValueError, RuntimeError) as error:
        print(f"t2l benchmark: {error}", file=sys.stderr)
        return 2
    print(report.to_markdown())
    print(f"written: {Path(args.out) / 'device_check.md'}, device_check.json")
    return 0


def run(args) -> int:
    if args.device_check:
        return run_device_check(args)
    from ..benchmarking import BenchmarkSettings, profile_inference, profile_training, run_benchmark

    overrides = {"clock": args.clock, "official_t2l": args.official_t2l}
    if args.train_batch_size:
        overrides["train_batch_size"] = args.train_batch_size
    if args.repeats:
        overrides["repeats"] = args.repeats
    if args.train_steps:
        overrides["train_steps"] = args.train_steps
    if args.inference_models:
        overrides["inference_models"] = _names(args.inference_models)
    if args.sections:
        overrides["sections"] = _names(args.sections)
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

    if settings.official_t2l and "inference" in settings.sections:
        from ..benchmarking.official import load_official_module

        try:  # before minutes of measuring: a wrong folder or a missing package is one line now
            load_official_module(settings.official_t2l)
        except (FileNotFoundError, ImportError) as error:
            print(f"t2l benchmark: --official-t2l: {error}", file=sys.stderr)
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
        profiles = {"profile.txt": lambda: profile_inference(settings)} if "inference" in settings.sections else {}
        if "training" in settings.sections:
            profiles["profile_training.txt"] = lambda: profile_training(settings)
        for name, make in profiles.items():
            profile_path = Path(args.out) / name
            print(f"profiling for {profile_path} (one profiled call per model) ...", flush=True)
            profile_path.write_text(make(), encoding="utf-8")
            print(f"profile written to {profile_path}")
    print()
    print(report.to_markdown())
    print(f"written: {Path(args.out) / 'benchmark.md'}, benchmark.json, benchmark.png")
    return 0


def _short(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return value
