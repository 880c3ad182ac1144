"""The whole run: every requested section, the ratios, and the written report."""
from __future__ import annotations

import gc
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from .decoding import run_decoding
from .evaluation import run_evaluation
from .inference import T2L_NAME, inference_models, run_inference
from .pipeline import run_pipeline
from .ratios import compute_ratios
from .report import save_report
from .rows import BenchmarkReport
from .settings import BenchmarkSettings
from .text import run_text_cost
from .training import run_training


# ---------------------------------------------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------------------------------------------


def environment_info(settings: BenchmarkSettings) -> dict:
    import transformers

    info = {
        "torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "load_average_start": _load_average(),
    }
    if settings.device.startswith("cuda"):
        info["device_name"] = torch.cuda.get_device_name()
    else:
        info["device_name"] = platform.processor() or platform.machine()
    return info


def _load_average() -> str:
    try:
        return "/".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


def run_benchmark(settings: BenchmarkSettings, out_dir=None, *, report_row: Callable = print,
                  progress: Callable[[str], None] | None = None) -> BenchmarkReport:
    """Measure every requested section, compute the ratios, and (with `out_dir`) write md/json/png there."""
    torch.manual_seed(0)
    settings.apply_threads()
    report = BenchmarkReport(settings=asdict(settings), environment=environment_info(settings))
    progress = progress or (lambda message: None)
    with tempfile.TemporaryDirectory(prefix="t2l_benchmark_") as workdir:
        workdir = Path(workdir)
        models = None
        if "inference" in settings.sections:
            progress("inference: building T2L, CLIP and X-CLIP")
            models = inference_models(settings, report.notes)
            progress("inference: timing")
            report.inference = run_inference(settings, models, report_row)
        if "text" in settings.sections:
            progress("text cost")
            t2l = models[T2L_NAME][0] if models and T2L_NAME in models else None
            report.text = run_text_cost(settings, t2l, report_row)
        del models
        gc.collect()
        if "training" in settings.sections:
            report.training = run_training(settings, report_row, progress)
        if "decoding" in settings.sections:
            progress("decoding")
            report.decoding = _optional("decoding", report, lambda: run_decoding(settings, workdir, report_row))
        if "pipeline" in settings.sections:
            progress("pipeline: every family, 400 labels")
            report.pipeline = _optional("pipeline", report, lambda: run_pipeline(settings, workdir, report_row))
        if "evaluation" in settings.sections:
            progress("evaluation: end to end vs its parts")
            report.evaluation = run_evaluation(settings, workdir, report_row)
    report.ratios = compute_ratios(report)
    for ratio in report.ratios:
        report_row(ratio)
    report.environment["load_average_end"] = _load_average()
    report.notes.append("The machine may be shared: absolute times are noisy; compare ratios within one run.")
    if out_dir is not None:
        save_report(report, out_dir)
    return report


def _optional(section: str, report: BenchmarkReport, run: Callable[[], list]) -> list:
    """Decoding and the pipeline depend on optional modules; a failure there is reported, not fatal."""
    try:
        return run()
    except ImportError as error:
        report.notes.append(f"{section}: not measured ({error})")
        print(f"benchmark: {section} skipped: {error}", file=sys.stderr)
        return []
