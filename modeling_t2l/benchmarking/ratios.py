"""The ratios of a report against their targets."""
from __future__ import annotations

import math

from ..models.registry import families
from .inference import CLIP_NAME, OFFICIAL_NAME, T2L_NAME, XCLIP_NAME, family_name
from .readers import OURS
from .rows import BenchmarkReport, RatioRow
from .timing import Timing
from .training import FULL_FT_TRAIN, T2L_NO_ATTENTION_DROPOUT, T2L_TRAIN, training_name


# ---------------------------------------------------------------------------------------------------------------
# Ratios against the targets
# ---------------------------------------------------------------------------------------------------------------


def _ratio(name: str, numerator: float | None, denominator: float | None, limit: float, at_most: bool,
           paired: tuple[list[float], list[float]] | None = None) -> RatioRow:
    """`numerator / denominator` against `limit`. `paired`: both sides' samples in round order, taken side by side;
    the ratio's spread is then that of the round-by-round ratios, in which the machine's drift cancels."""
    target = f"{'<=' if at_most else '>='} {limit:g}"
    if numerator is None or denominator is None or denominator <= 0 or not math.isfinite(numerator):
        return RatioRow(name, float("nan"), target, None)
    value = numerator / denominator
    spread = float("nan")
    if paired is not None and len(paired[0]) == len(paired[1]) >= 2:
        spread = Timing([a / b for a, b in zip(*paired) if b > 0]).spread
    return RatioRow(name, value, target, value <= limit if at_most else value >= limit, spread)


def _samples(row, attribute: str) -> list[float]:
    return list(getattr(row, attribute, None) or []) if row is not None else []


def _paired(numerator, denominator, attribute: str) -> tuple[list[float], list[float]] | None:
    """Both rows' samples when they were measured in the same rounds (same count), else None."""
    mine, theirs = _samples(numerator, attribute), _samples(denominator, attribute)
    return (mine, theirs) if mine and len(mine) == len(theirs) else None


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
        # No overhead beyond the arithmetic: the time ratio at most the FLOP ratio of the same calls (ViT-B/16,
        # T = 8: 1.045 for T2L's whole output, 0.973 for its embeddings alone, see `get_video_embeddings`)
        flop_ratio = t2l.gflops_per_video / clip.gflops_per_video if t2l and clip and clip.gflops_per_video else 1.0
        ratios.append(_ratio(f"inference time T2L / CLIP frame averaging, batch {batch_size}",
                             t2l and t2l.median_s, clip and clip.median_s, round(flop_ratio, 3), True,
                             _paired(t2l, clip, "samples_s")))
        official = by_model.get((OFFICIAL_NAME, batch_size))
        if official is not None:
            ratios.append(_ratio(f"inference time T2L / the official T2L code, batch {batch_size}",
                                 t2l and t2l.median_s, official.median_s, 0.97, True,
                                 _paired(t2l, official, "samples_s")))
        ratios.append(_ratio(f"inference time T2L / X-CLIP, batch {batch_size}",
                             t2l and t2l.median_s, xclip and xclip.median_s, 1.0, True,
                             _paired(t2l, xclip, "samples_s")))
        for peer in _peers():
            other = by_model.get((family_name(peer.name), batch_size))
            if other is not None:  # T2L is the efficient one: at most as slow as each peer
                ratios.append(_ratio(f"inference time T2L / {peer.name}, batch {batch_size}",
                                     t2l and t2l.median_s, other.median_s, 1.0, True,
                                     _paired(t2l, other, "samples_s")))
    by_method = {(row.method, row.checkpointing): row for row in report.training}
    for checkpointing in (False, True) if report.training else ():
        t2l = by_method.get((T2L_TRAIN, checkpointing))
        full = by_method.get((FULL_FT_TRAIN, checkpointing))
        suffix = "with" if checkpointing else "without"
        ratios.append(_ratio(f"training peak memory T2L / full fine-tuning, {suffix} checkpointing",
                             t2l and t2l.peak_memory_mb, full and full.peak_memory_mb, 0.6, True))
        # a frozen backbone skips the weight gradients: about 2/3 of full fine-tuning's step, 3/4 when both
        # recompute their forward
        ratios.append(_ratio(f"training step time T2L / full fine-tuning, {suffix} checkpointing",
                             t2l and t2l.median_step_s, full and full.median_step_s, 0.78 if checkpointing else 0.72,
                             True, _paired(t2l, full, "step_samples_s")))
        off = by_method.get((T2L_NO_ATTENTION_DROPOUT, checkpointing))
        if t2l is not None and off is not None:  # what the official attention dropout costs
            ratios.append(_ratio(f"training step time T2L / T2L without attention dropout, {suffix} checkpointing",
                                 t2l.median_step_s, off.median_step_s, 1.1, True,
                                 _paired(t2l, off, "step_samples_s")))
            ratios.append(_ratio(f"training peak memory T2L / T2L without attention dropout, {suffix} checkpointing",
                                 t2l.peak_memory_mb, off.peak_memory_mb, 1.1, True))
        for peer in _peers():
            other = by_method.get((training_name(peer.model_type), checkpointing))
            if other is not None:
                ratios.append(_ratio(f"training step time T2L / {peer.name}, {suffix} checkpointing",
                                     t2l and t2l.median_step_s, other.median_step_s, 1.0, True,
                                     _paired(t2l, other, "step_samples_s")))
                ratios.append(_ratio(f"training peak memory T2L / {peer.name}, {suffix} checkpointing",
                                     t2l and t2l.peak_memory_mb, other.peak_memory_mb, 1.0, True))
    for clip in dict.fromkeys(row.clip for row in report.decoding):
        rows = [r for r in report.decoding if r.clip == clip and math.isfinite(r.median_s)]
        ours = next((r for r in rows if r.reader == OURS), None)
        others = [r for r in rows if r.reader != OURS]
        fastest = min(others, key=lambda r: r.median_s, default=None)
        ratios.append(_ratio(f"decoding time read_video / fastest other reader ({fastest and fastest.reader}; {clip})",
                             ours and ours.median_s, fastest and fastest.median_s, 1.0, True))
    for model in dict.fromkeys(row.model for row in report.pipeline):
        rows = [r for r in report.pipeline if r.model == model]
        later = next((r for r in rows if r.call.startswith("later")), None)
        video = next((r for r in rows if r.call.startswith("video forward")), None)
        if later is not None and later.label_cache:  # with a label cache a call costs about one video forward
            ratios.append(_ratio(f"cached pipeline call / video forward alone ({model})",
                                 later.median_s, video and video.median_s, 1.1, True))
    stages = {row.stage.split(":")[0]: row for row in report.evaluation}
    if report.evaluation:
        end_to_end, forward = stages.get("evaluate_videos"), next(
            (r for r in report.evaluation if r.stage.startswith("the classifier's forward")), None)
        ratios.append(_ratio("evaluation end to end / forward alone (data loading hidden)",
                             end_to_end and end_to_end.median_s, forward and forward.median_s, 1.1, True))
    return ratios
