"""The ratios of a report against their targets."""
from __future__ import annotations

import math

from ..models.registry import families
from .inference import CLIP_NAME, T2L_NAME, XCLIP_NAME, family_name
from .rows import BenchmarkReport, RatioRow
from .training import FULL_FT_TRAIN, T2L_TRAIN, training_name


# ---------------------------------------------------------------------------------------------------------------
# Ratios against the targets
# ---------------------------------------------------------------------------------------------------------------


def _ratio(name: str, numerator: float | None, denominator: float | None, limit: float, at_most: bool) -> RatioRow:
    target = f"{'<=' if at_most else '>='} {limit:g}"
    if numerator is None or denominator is None or denominator <= 0 or not math.isfinite(numerator):
        return RatioRow(name, float("nan"), target, None)
    value = numerator / denominator
    return RatioRow(name, value, target, value <= limit if at_most else value >= limit)


def _peers():
    """The registered families other than T2L, each compared with T2L."""
    return [family for family in families().values() if family.model_type != "t2l"]


def compute_ratios(report: BenchmarkReport) -> list[RatioRow]:
    ratios = []
    by_model = {(row.model, row.batch_size): row for row in report.inference}
    for batch_size in sorted({row.batch_size for row in report.inference}):
        t2l = by_model.get((T2L_NAME, batch_size))
        clip = by_model.get((CLIP_NAME, batch_size))
        xclip = by_model.get((XCLIP_NAME, batch_size))
        ratios.append(_ratio(f"inference time T2L / CLIP frame averaging, batch {batch_size}",
                             t2l and t2l.median_s, clip and clip.median_s, 1.08, True))
        ratios.append(_ratio(f"inference time T2L / X-CLIP, batch {batch_size}",
                             t2l and t2l.median_s, xclip and xclip.median_s, 1.0, True))
        for peer in _peers():
            other = by_model.get((family_name(peer.name), batch_size))
            if other is not None:  # T2L is the efficient one: at most as slow as each peer
                ratios.append(_ratio(f"inference time T2L / {peer.name}, batch {batch_size}",
                                     t2l and t2l.median_s, other.median_s, 1.0, True))
    by_method = {(row.method, row.checkpointing): row for row in report.training}
    for checkpointing in (False, True) if report.training else ():
        t2l = by_method.get((T2L_TRAIN, checkpointing))
        full = by_method.get((FULL_FT_TRAIN, checkpointing))
        suffix = "with" if checkpointing else "without"
        ratios.append(_ratio(f"training peak memory T2L / full fine-tuning, {suffix} checkpointing",
                             t2l and t2l.peak_memory_mb, full and full.peak_memory_mb, 0.6, True))
        ratios.append(_ratio(f"training step time T2L / full fine-tuning, {suffix} checkpointing",
                             t2l and t2l.median_step_s, full and full.median_step_s, 0.8, True))
        for peer in _peers():
            other = by_method.get((training_name(peer.model_type), checkpointing))
            if other is not None:
                ratios.append(_ratio(f"training step time T2L / {peer.name}, {suffix} checkpointing",
                                     t2l and t2l.median_step_s, other.median_step_s, 1.0, True))
                ratios.append(_ratio(f"training peak memory T2L / {peer.name}, {suffix} checkpointing",
                                     t2l and t2l.peak_memory_mb, other.peak_memory_mb, 1.0, True))
    if report.decoding:
        first_clip = report.decoding[0].clip
        ours = next((r for r in report.decoding if r.clip == first_clip and r.reader.startswith("video_io")), None)
        theirs = next((r for r in report.decoding if r.clip == first_clip and r.reader.startswith("transformers")), None)
        ratios.append(_ratio(f"decoding speed-up over load_video ({first_clip})",
                             theirs and theirs.median_s, ours and ours.median_s, 2.0, False))
    if report.pipeline:
        cached = next((r for r in report.pipeline if r.call.startswith("later")), None)
        video = next((r for r in report.pipeline if r.call.startswith("video forward")), None)
        ratios.append(_ratio("cached pipeline call / video forward alone",
                             cached and cached.median_s, video and video.median_s, 1.1, True))
    return ratios
