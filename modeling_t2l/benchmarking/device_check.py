"""The device check: one prepared run that says whether the library is correct and fast on an accelerator.

Sections, in the order they run (each is wrapped: a failing section is recorded in the report and the rest
still runs; a global time budget skips what no longer fits, so the run stops cleanly before its limit):

- `correctness`: every family (this package's registered ones, CLIP frame averaging and X-CLIP through
  transformers) in fp32 (TF32 off) and in bf16 autocast on the device against CPU fp32, same weights and inputs;
- `parity`: the official T2L fixtures converted and run on the device in fp32 (outputs, losses, gradients), at
  the charter's tolerances;
- `sdpa`: the scaled-dot-product-attention backend each T2L tower actually dispatches to, in training (the
  official attention-probability dropout on) and in inference, read from torch's profiler, and which backends
  can run the training step at all when forced with `torch.nn.attention.sdpa_kernel`;
- `inference`: videos/s of every family at batch 1, 8 and 64 in bf16 autocast (eager), interleaved;
- `training`: T2L and full fine-tuning at batch 70 of 8 x 224^2 in bf16 autocast, with and without activation
  checkpointing: step time and peak memory, and whether T2L fits in an 80 GB card;
- `data`: the library's input pipeline (PyAV decoding of generated clips, transform, collator) in as many
  DataLoader workers as the machine has CPUs, against the videos/s the device consumes: data-bound or not;
- `inference_compiled`: the inference rows again through `torch.compile` (last: compiling is the slowest part).

The models have ViT-B/16 dimensions and random weights (`tiny=True`: test-sized models, every section in
seconds on a CPU). `run_device_check` writes `device_check.json` and `device_check.md`.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .report import _table
from .settings import BenchmarkSettings

DEVICE_SECTIONS = ("correctness", "parity", "sdpa", "inference", "training", "data", "inference_compiled")

# Columns of each section's table (the JSON rows carry exactly these keys).
COLUMNS = {
    "correctness": ("family", "precision", "output", "shape", "relative_error", "min_cosine", "tolerance", "passed"),
    "parity": ("fixture", "compared", "count", "worst", "relative_error", "tolerance", "passed"),
    "sdpa": ("tower", "mode", "precision", "backend", "calls", "calls_with_dropout", "dropout_p", "details"),
    "inference": ("family", "batch_size", "compiled", "compile_backend", "precision", "median_ms", "spread_ms",
                  "videos_per_s", "compile_s"),
    "training": ("method", "checkpointing", "batch_size", "frames", "image_size", "precision", "status",
                 "median_step_s", "spread_s", "videos_per_s", "peak_allocated_gib", "peak_reserved_gib", "fits",
                 "params_trainable"),
    "data": ("pipeline", "workers", "batch_size", "videos", "seconds", "first_batch_s", "videos_per_s", "pinned",
             "skipped", "stopped_early", "consumer", "consumer_videos_per_s", "data_bound"),
    "ratios": ("name", "value", "target", "passed"),
}
COLUMNS["inference_compiled"] = COLUMNS["inference"]


@dataclass
class DeviceCheckSettings:
    """What the device check measures. `DeviceCheckSettings()` is the H200 run; `tiny()` the CPU test run."""

    device: str = "cuda"
    tiny: bool = False
    dtype: str = "bfloat16"  # autocast dtype of the speed sections
    batch_sizes: tuple[int, ...] = (1, 8, 64)
    train_batch_size: int = 70
    num_frames: int = 8
    correctness_batch_size: int = 2
    warmup: int = 2
    repeats: int = 5
    train_warmup: int = 1
    train_steps: int = 3
    compile_backend: str = "inductor"
    first_compile_estimate_s: float = 60.0  # what a ViT-B/16 inductor compile is assumed to take before one is timed
    fits_gib: float = 79.0  # what an 80 GB card leaves the allocator (about 79.2 GiB with the CUDA context)
    data_clips: int = 32  # distinct generated files
    data_rounds: int = 1  # batches per DataLoader worker in the throughput run (each worker builds whole batches)
    data_workers: int | None = None  # default: every CPU this process may use
    clip_seconds: float = 10.0
    clip_fps: int = 30
    clip_size: tuple[int, int] = (340, 256)  # width, height: Kinetics is stored at short side 256
    keyframe_interval_s: float = 5.0
    fixtures: str | None = None  # a folder of official T2L fixtures (tests/fixtures/official_t2l)
    time_budget_s: float = 420.0
    sections: tuple[str, ...] = DEVICE_SECTIONS

    def __post_init__(self):
        unknown = [s for s in self.sections if s not in DEVICE_SECTIONS]
        if unknown:
            raise ValueError(f"device check: unknown section(s) {unknown}; choose from {', '.join(DEVICE_SECTIONS)}")
        if self.dtype not in ("bfloat16", "float16", "float32"):
            raise ValueError(f"device check: dtype must be bfloat16, float16 or float32, got {self.dtype!r}")
        if not self.batch_sizes or any(int(b) < 1 for b in self.batch_sizes) or self.train_batch_size < 1:
            raise ValueError("device check: batch sizes must be positive integers")
        if self.time_budget_s <= 0:
            raise ValueError(f"device check: the time budget must be positive, got {self.time_budget_s}")
        self.batch_sizes = tuple(int(b) for b in self.batch_sizes)

    @classmethod
    def tiny_run(cls, **overrides) -> "DeviceCheckSettings":
        """Test-sized models and clips: every section end to end in seconds on a CPU; the numbers mean nothing."""
        values = dict(device="cpu", tiny=True, batch_sizes=(1, 2), train_batch_size=2, warmup=1, repeats=2,
                      train_steps=1, compile_backend="eager", first_compile_estimate_s=0.0, data_clips=2, data_rounds=1, data_workers=1,
                      clip_seconds=1.0, clip_fps=10, clip_size=(64, 48), keyframe_interval_s=0.5,
                      time_budget_s=120.0)
        values.update(overrides)
        return cls(**values)

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def model_settings(self) -> BenchmarkSettings:
        """The models' dimensions (ViT-B/16, or tiny) on the device, fp32 weights."""
        common = dict(device=self.device, dtype="float32", train_batch_size=self.train_batch_size)
        if self.tiny:
            return BenchmarkSettings.tiny(**common)
        return BenchmarkSettings(num_frames=self.num_frames, **common)


class TimeBudget:
    """Seconds left of the run's budget; sections and loops ask before starting work."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds, self.clock, self.start = float(seconds), clock, clock()

    def left(self) -> float:
        return self.seconds - (self.clock() - self.start)

    def exhausted(self) -> bool:
        return self.left() <= 0


@dataclass
class SectionResult:
    name: str
    status: str = "not run"  # ok | failed | skipped
    seconds: float = 0.0
    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class DeviceCheckReport:
    settings: dict
    environment: dict
    families: list[dict] = field(default_factory=list)
    sections: dict[str, SectionResult] = field(default_factory=dict)
    ratios: list[dict] = field(default_factory=list)
    conclusions: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(_finite(self.to_dict()), indent=2, default=str)

    def to_markdown(self) -> str:
        return format_device_markdown(self)


def _finite(value):
    """JSON has no NaN/inf: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------------------


def device_environment(device: str) -> dict:
    import transformers

    info = {"torch": torch.__version__, "transformers": transformers.__version__,
            "python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "device": device}
    if device.startswith("cuda"):
        properties = torch.cuda.get_device_properties(device)
        info.update(device_name=properties.name, cuda=torch.version.cuda,
                    device_memory_gib=round(properties.total_memory / 2**30, 1),
                    capability=f"{properties.major}.{properties.minor}",
                    flash_sdp_enabled=torch.backends.cuda.flash_sdp_enabled(),
                    mem_efficient_sdp_enabled=torch.backends.cuda.mem_efficient_sdp_enabled(),
                    cudnn_sdp_enabled=torch.backends.cuda.cudnn_sdp_enabled())
    else:
        info["device_name"] = platform.processor() or platform.machine()
    return info


def _run_section(report: DeviceCheckReport, name: str, settings: DeviceCheckSettings, budget: TimeBudget,
                 work: Callable[[SectionResult], list[dict]], progress: Callable[[str], None]) -> SectionResult:
    result = report.sections[name] = SectionResult(name)
    if name not in settings.sections:
        result.status, result.error = "skipped", "not requested"
        return result
    if budget.exhausted():
        result.status, result.error = "skipped", "time budget spent"
        return result
    progress(f"{name} ({budget.left():.0f} s of the budget left)")
    start = time.monotonic()
    try:
        result.rows = work(result)
        result.status = "ok"
    except Exception as error:  # noqa: BLE001 - one failing section must not lose the others' results
        result.status = "failed"
        result.error = f"{type(error).__name__}: {error}".strip()[:2000]
        result.notes.append("".join(traceback.format_exception(error)[-6:])[-3000:])
    finally:
        result.seconds = time.monotonic() - start
        from .device_speed import free_device_memory

        free_device_memory(settings.device)
    progress(f"{name}: {result.status} in {result.seconds:.1f} s")
    return result


def run_device_check(settings: DeviceCheckSettings, out_dir=None, *,
                     progress: Callable[[str], None] = lambda message: None) -> DeviceCheckReport:
    """Run every requested section within the time budget; with `out_dir`, write device_check.json/.md there."""
    from . import device_correctness as correctness
    from . import device_speed as speed
    from .families import discover_families, primary_family

    budget = TimeBudget(settings.time_budget_s)
    if settings.device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device check: {settings.device} requested but torch.cuda.is_available() is False")
    torch.manual_seed(0)
    report = DeviceCheckReport(settings=dataclasses.asdict(settings), environment=device_environment(settings.device))
    model_settings = settings.model_settings()
    families, unavailable = discover_families(model_settings)
    report.families = ([dict(name=f.name, source=f.source, available=True, reason=None) for f in families]
                       + [dict(name=u.name, source=u.source, available=False, reason=u.reason) for u in unavailable])
    t2l = primary_family(families)
    t2l_name = t2l.name if t2l is not None else "T2L"
    dtype = settings.torch_dtype
    speed_models: dict = {}

    def correctness_rows(result):
        return correctness.run_family_correctness(families, model_settings, settings.device,
                                                  settings.correctness_batch_size, budget=budget)

    def parity_rows(result):
        if not settings.fixtures:
            raise FileNotFoundError("no fixtures folder given (--fixtures tests/fixtures/official_t2l)")
        return correctness.run_fixture_parity(settings.fixtures, settings.device)

    def sdpa_rows(result):
        return correctness.run_sdpa_backends(families, model_settings, settings.device, dtype)

    def inference_rows(result, compiled=False):
        if not speed_models:
            speed_models.update(speed.build_inference_models(families, model_settings))
        return speed.run_inference_speed(families, speed_models, model_settings, settings.batch_sizes, dtype,
                                         warmup=settings.warmup, repeats=settings.repeats, compiled=compiled,
                                         compile_backend=settings.compile_backend,
                                         first_compile_estimate_s=settings.first_compile_estimate_s, budget=budget,
                                         notes=result.notes)

    def training_rows(result):
        speed_models.clear()  # the inference models leave the device before the training batch arrives
        return speed.run_training_speed(families, model_settings, dtype, warmup=settings.train_warmup,
                                        steps=settings.train_steps, fits_gib=settings.fits_gib, budget=budget,
                                        notes=result.notes)

    with tempfile.TemporaryDirectory(prefix="t2l_device_check_") as workdir:
        plan = [("correctness", correctness_rows), ("parity", parity_rows), ("sdpa", sdpa_rows),
                ("inference", inference_rows), ("training", training_rows),
                ("data", lambda result: _data_rows(settings, model_settings, report, t2l_name, Path(workdir),
                                                   budget, result.notes)),
                ("inference_compiled", lambda result: inference_rows(result, compiled=True))]
        for name, work in plan:
            _run_section(report, name, settings, budget, work, progress)
            # written after every section, so a run killed from outside still leaves what it measured
            _summarise(report, families, settings, budget)
            if out_dir is not None:
                save_device_report(report, out_dir)
        speed_models.clear()
    return report


def _summarise(report: DeviceCheckReport, families, settings: DeviceCheckSettings, budget: TimeBudget) -> None:
    from .device_speed import inference_ratios

    sections = {name: report.sections.get(name, SectionResult(name)) for name in DEVICE_SECTIONS}
    report.ratios = inference_ratios(sections["inference"].rows + sections["inference_compiled"].rows, families)
    report.conclusions = _conclusions(sections)
    report.environment["seconds_total"] = round(settings.time_budget_s - budget.left(), 1)


def _data_rows(settings: DeviceCheckSettings, model_settings: BenchmarkSettings, report: DeviceCheckReport,
               t2l_name: str, workdir: Path, budget: TimeBudget, notes: list) -> list[dict]:
    """The train pipeline against the T2L training step's videos/s; the eval pipeline against T2L inference at the
    largest batch size."""
    from . import device_data as data

    workers = settings.data_workers or data.available_cpus()
    paths = data.write_clips(workdir / "clips", settings.data_clips, settings.clip_seconds,
                             settings.clip_fps, settings.clip_size, settings.keyframe_interval_s, workers)
    notes.append(f"{len(paths)} generated clips: {settings.clip_seconds:g} s, {settings.clip_fps} fps, "
                 f"{settings.clip_size[0]}x{settings.clip_size[1]}, H.264 with a key frame every "
                 f"{settings.keyframe_interval_s:g} s, {model_settings.num_frames} frames sampled per video")
    t2l_train = next((r for r in report.sections["training"].rows
                      if r["method"].startswith("T2L") and not r["checkpointing"] and r["videos_per_s"]), None)
    inference = [r for r in report.sections["inference"].rows if r["family"] == t2l_name]
    t2l_infer = max(inference, key=lambda r: r["batch_size"]) if inference else None
    cases = [("train: decode + train transform + collator", True, t2l_train,
              "T2L training step (no checkpointing)"),
             ("eval: decode + eval transform + collator", False, t2l_infer,
              f"T2L inference, batch {t2l_infer['batch_size']}" if t2l_infer else "T2L inference")]
    rows = []
    for index, (label, train, consumer, consumer_name) in enumerate(cases):
        # the compiled inference section still follows: leave it a third of what is left
        max_seconds = budget.left() * 2 / 3 / (len(cases) - index)
        measured = data.measure_loader(paths, train=train, batch_size=settings.train_batch_size,
                                       num_batches=max(1, settings.data_rounds * workers), workers=workers,
                                       num_frames=model_settings.num_frames, image_size=model_settings.image_size,
                                       device=settings.device, max_seconds=max_seconds)
        consumer_rate = consumer["videos_per_s"] if consumer else None
        rows.append(dict(pipeline=label, workers=workers, batch_size=settings.train_batch_size, **measured,
                         consumer=consumer_name, consumer_videos_per_s=consumer_rate,
                         data_bound=None if consumer_rate is None else bool(measured["videos_per_s"] < consumer_rate)))
    return rows


def _conclusions(sections: dict[str, SectionResult]) -> dict:
    correctness = sections["correctness"].rows
    parity = sections["parity"].rows
    training = sections["training"].rows
    t2l_rows = [r for r in training if r["method"].startswith("T2L")]
    data_rows = [r for r in sections["data"].rows if r["pipeline"].startswith("train")]
    sdpa = [r for r in sections["sdpa"].rows if r["mode"] == "training" and r["calls_with_dropout"]]
    return {
        "correctness_passed": all(r["passed"] for r in correctness) if correctness else None,
        "correctness_failures": [f"{r['family']}, {r['precision']}, {r['output']}: relative {r['relative_error']:.3g}"
                                 f", cosine {r['min_cosine']:.5f}" for r in correctness if not r["passed"]],
        "parity_passed": all(r["passed"] for r in parity) if parity else None,
        "parity_failures": [f"{r['fixture']} {r['compared']}: {r['worst']} relative {r['relative_error']:.3g}"
                            for r in parity if not r["passed"]],
        "sdpa_backend_with_dropout": ({precision: sorted({r["backend"] for r in sdpa if r["precision"] == precision})
                                       for precision in dict.fromkeys(r["precision"] for r in sdpa)} or None),
        "t2l_fits_80gb": ({("with" if r["checkpointing"] else "without") + " checkpointing": r["fits"]
                           for r in t2l_rows} or None),
        "training_data_bound": data_rows[0]["data_bound"] if data_rows else None,
        "sections_failed": [name for name, s in sections.items() if s.status == "failed"],
        "sections_skipped": [name for name, s in sections.items() if s.status == "skipped"],
        "sections_not_run": [name for name, s in sections.items() if s.status == "not run"],
    }


# ---------------------------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:,.4g}"
        return f"{value:.2e}"
    return str(value).replace("|", "\\|")


_TITLES = {
    "correctness": "Correctness on the device (against CPU fp32, same weights and inputs)",
    "parity": "Official T2L fixtures on the device (fp32, eval mode)",
    "sdpa": "SDPA backend (torch profiler: the aten op each scaled_dot_product_attention call dispatched to)",
    "inference": "Inference (video embeddings, eager)",
    "training": "Training step (forward + backward + AdamW, fp32 weights, random initialisation)",
    "data": "Data pipeline (DataLoader workers) against the device's consumption",
    "inference_compiled": "Inference through torch.compile",
}


def format_device_markdown(report: DeviceCheckReport) -> str:
    env, s = report.environment, report.settings
    lines = ["# Device check", "",
             f"{env.get('device_name')} ({env.get('device')}), torch {env.get('torch')}"
             f"{', CUDA ' + str(env['cuda']) if env.get('cuda') else ''}, transformers {env.get('transformers')}, "
             f"{env.get('cpu_count')} CPUs, {env.get('date_utc')} UTC; {'tiny test models' if s['tiny'] else 'ViT-B/16 dimensions'}"
             f", random weights; time budget {s['time_budget_s']:g} s, used {env.get('seconds_total')} s.", ""]
    lines += ["## Conclusions", ""] + [f"- {key.replace('_', ' ')}: {_cell(value) if not isinstance(value, (dict, list)) else json.dumps(value)}"
                                       for key, value in report.conclusions.items()] + [""]
    lines += ["## Families", ""]
    lines += _table(("family", "source", "available"),
                    [(f["name"], f["source"], "yes" if f["available"] else f"no: {f['reason']}")
                     for f in report.families]) + [""]
    for name, section in report.sections.items():
        lines += [f"## {_TITLES.get(name, name)}", "", f"Status: **{section.status}** ({section.seconds:.1f} s)"
                  + (f": {section.error.splitlines()[0]}" if section.error else ""), ""]
        if section.rows:
            columns = COLUMNS[name]
            lines += _table(columns, [[_cell(row.get(c)) for c in columns] for row in section.rows]) + [""]
        lines += [f"- {note}" for note in section.notes if "\n" not in note]
        lines += [""] if section.notes else []
        if name == "inference_compiled" and report.ratios:
            lines += ["## Ratios", ""]
            lines += _table(COLUMNS["ratios"], [[_cell(r[c]) for c in COLUMNS["ratios"]] for r in report.ratios])
            lines += [""]
    return "\n".join(lines).rstrip() + "\n"


def save_device_report(report: DeviceCheckReport, out_dir) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "device_check.json", "markdown": out_dir / "device_check.md"}
    paths["json"].write_text(report.to_json() + "\n", encoding="utf-8")
    paths["markdown"].write_text(report.to_markdown(), encoding="utf-8")
    return paths
