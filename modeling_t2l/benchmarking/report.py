"""Output of a report: Markdown, JSON and a PNG chart."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from ..plotting import BarPanel, bar_panels
from .inference import CLIP_NAME, T2L_NAME, XCLIP_NAME
from .rows import BenchmarkReport
from .training import FULL_FT_TRAIN, T2L_TRAIN


# ---------------------------------------------------------------------------------------------------------------
# Output: Markdown, JSON, PNG
# ---------------------------------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}" if seconds >= 0.1 else f"{seconds * 1000:,.1f}"


def _millions(count: int) -> str:
    return f"{count / 1e6:,.2f} M"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def format_markdown(report: BenchmarkReport) -> str:
    s, env = report.settings, report.environment
    lines = [
        f"Device {env.get('device_name', s['device'])}, {s['dtype']}, torch {env.get('torch')}, transformers "
        f"{env.get('transformers')}, {env.get('cpu_count')} CPU cores ({env.get('torch_threads')} torch threads), "
        f"load average {env.get('load_average_start')} at start and {env.get('load_average_end')} at the end. "
        f"ViT-B/16-sized models with random weights, T = {s['num_frames']}, {s['vision']['image_size']}², "
        f"{'quick mode (a smoke test of the harness: too few repetitions to support a claim)' if s['quick'] else 'full mode'}"
        f": {s['warmup']} warm-up, {s['repeats']} interleaved "
        f"repetitions, medians (± half the inter-quartile range) of "
        f"{'process CPU time with one torch thread (decoding: wall time)' if s.get('clock') == 'cpu' else 'wall time'}.",
        "",
    ]
    if report.inference:
        lines += ["**Inference** (video embeddings: each family's `get_video_embeddings`, what the pipeline calls; "
                  "FLOPs from `torch.utils.flop_counter`,"
                  " FLOPs = 2 × MACs; trainable = what each method trains: T2L temporal tokens + adapters, "
                  "ViFi-CLIP everything, X-CLIP everything but its frozen text encoder)", ""]
        lines += _table(
            ["model", "batch", "ms / batch", "videos / s", "params total", "params trainable", "GFLOPs / video"],
            [[r.model, r.batch_size, f"{_ms(r.median_s)} ± {_ms(r.spread_s)}", f"{r.videos_per_s:.2f}",
              _millions(r.params_total), _millions(r.params_trainable), f"{r.gflops_per_video:,.1f}"]
             for r in report.inference])
        lines.append("")
    if report.training:
        lines += [f"**Training step** (forward + backward + AdamW step, batch {report.training[0].batch_size} videos "
                  f"with their {report.training[0].batch_size} class texts of {s['text_length']} tokens; "
                  f"{s['train_warmup']} warm-up and {s['train_steps']} timed steps per configuration, the "
                  "configurations of one checkpointing setting timed in one process, interleaved step by step; "
                  f"memory = {report.training[0].memory_source} per configuration, runtime baseline before "
                  "building the model in brackets)", ""]
        lines += _table(
            ["method", "activation checkpointing (layers)", "ms / step", "forward / backward / AdamW ms",
             "saved activations (MiB)", "peak memory (MiB)", "params trained"],
            [[r.method, f"yes ({r.checkpointed_layers})" if r.checkpointing else "no",
              f"{_ms(r.median_step_s)} ± {_ms(r.spread_s)}",
              f"{_ms(r.forward_s)} / {_ms(r.backward_s)} / {_ms(r.optimizer_s)}",
              f"{r.saved_activations_mb:,.0f}", f"{r.peak_memory_mb:,.0f} ({r.baseline_memory_mb:,.0f})",
              _millions(r.params_trainable)]
             for r in report.training])
        lines.append("")
        recomputation = recomputation_rows(report)
        if recomputation:
            lines += ["**What activation checkpointing does to each method** (the same transformers mechanism, "
                      "`GradientCheckpointingLayer`, on every encoder layer of both towers; the recomputed forwards "
                      "run inside backward, so `backward added` is the recomputation's cost; a recomputation stops "
                      "once the last tensor autograd saved is back, so the MLP's last matmul is not rerun)", ""]
            lines += _table(["method", "linear layers recomputed (per name in a layer: layers)", "backward added (ms)",
                             "÷ its forward", "saved activations freed (MiB)", "peak memory freed (MiB)"],
                            [[r["method"], _by_count(r["recomputed_linears"]), _ms(r["backward_added_s"]),
                              f"{r['recompute_per_forward']:.2f}", f"{r['saved_freed_mb']:,.0f}",
                              f"{r['peak_freed_mb']:,.0f}"] for r in recomputation])
            lines.append("")
    if report.text:
        lines += ["**Text cost per training step** (T2L text tower forward + backward, adapters trained)", ""]
        lines += _table(["classes encoded", "texts × tokens", "ms", "GFLOPs"],
                        [[r.encoded, f"{r.num_texts} × {r.text_length}", f"{_ms(r.median_s)} ± {_ms(r.spread_s)}",
                          f"{r.gflops:,.1f}"] for r in report.text])
        lines.append("")
    if report.decoding:
        lines += [f"**Decoding** ({s['num_frames']} frames sampled per clip)", ""]
        lines += _table(["clip", "reader", "ms (wall)", "frames"],
                        [[r.clip, r.reader,
                          f"{_ms(r.median_s)} ± {_ms(r.spread_s)}" if math.isfinite(r.median_s) else "-",
                          r.frames_check] for r in report.decoding])
        lines.append("")
    if report.pipeline:
        lines += ["**Pipeline** (`pipeline(\"zero-shot-video-classification\")`, one 2 s clip, per family)", ""]
        lines += _table(["model", "call", "candidate labels", "ms"],
                        [[r.model, r.call, r.num_labels or "-", f"{_ms(r.median_s)} ± {_ms(r.spread_s)}"]
                         for r in report.pipeline])
        lines.append("")
    if report.evaluation:
        first = report.evaluation[0]
        lines += [f"**Evaluation throughput** ({first.num_videos} generated clips of {s['decode_seconds']:g} s, "
                  f"batch {first.batch_size}, {first.workers} DataLoader workers: `t2l evaluate`'s defaults; "
                  "wall time of the whole pass)", ""]
        lines += _table(["stage", "s / pass", "videos / s"],
                        [[r.stage, f"{r.median_s:,.2f} ± {r.spread_s:,.2f}", f"{r.videos_per_s:.2f}"]
                         for r in report.evaluation])
        lines.append("")
    if report.ratios:
        lines += ["**Targets** (ratios within this run: of the medians; ± half the inter-quartile range of the "
                  "ratio taken round by round, where both sides were timed side by side)", ""]
        lines += _table(["ratio", "measured", "target", "result"],
                        [[r.name, _ratio_value(r), r.target,
                          {True: "pass", False: "**miss**", None: "not measured"}[r.passed]] for r in report.ratios])
        lines.append("")
    for note in report.notes:
        lines.append(f"- {note}")
    return "\n".join(lines).rstrip() + "\n"


def _ratio_value(ratio) -> str:
    if not math.isfinite(ratio.value):
        return "n/a"
    spread = getattr(ratio, "spread", float("nan"))
    return f"{ratio.value:.3f} ± {spread:.3f}" if math.isfinite(spread) else f"{ratio.value:.3f}"


def _by_count(recomputed: str) -> str:
    """"mlp.fc1 24/24, mlp.fc2 0/24, ..." -> "24/24: mlp.fc1, ...; 0/24: mlp.fc2", most recomputed first."""
    groups: dict[str, list[str]] = {}
    for item in filter(None, recomputed.split(", ")):
        name, count = item.rsplit(" ", 1)
        groups.setdefault(count, []).append(name)
    order = sorted(groups, key=lambda count: -int(count.split("/")[0]))
    return "; ".join(f"{count}: {', '.join(groups[count])}" for count in order) or "-"


def recomputation_rows(report: BenchmarkReport) -> list[dict]:
    """Per method measured with and without checkpointing: the backward time checkpointing adds (the recomputed
    forward; ÷ the method's forward ≈ 1 when every layer is recomputed once), and the memory it frees."""
    plain = {r.method: r for r in report.training if not r.checkpointing}
    rows = []
    for row in report.training:
        base = plain.get(row.method)
        if not row.checkpointing or base is None:
            continue
        added = row.backward_s - base.backward_s
        rows.append(dict(method=row.method, recomputed_linears=row.recomputed_linears, backward_added_s=added,
                         recompute_per_forward=added / base.forward_s if base.forward_s > 0 else float("nan"),
                         saved_freed_mb=base.saved_activations_mb - row.saved_activations_mb,
                         peak_freed_mb=base.peak_memory_mb - row.peak_memory_mb))
    return rows


def _ratio_label(name: str) -> str:
    """A short chart label for a ratio row (the table holds the full name)."""
    short = name
    for long, brief in (("inference time T2L / CLIP frame averaging", "infer / CLIP"),
                        ("inference time T2L / X-CLIP", "infer / X-CLIP"), ("training peak memory", "train mem"),
                        ("training step time", "train time"), (" T2L / full fine-tuning", ""),
                        ("without checkpointing", ""), ("with checkpointing", "ckpt"), ("batch ", "b"),
                        ("cached pipeline call / video forward alone", "pipeline / forward")):
        short = short.replace(long, brief)
    if short.startswith("decoding time"):
        short = "decode / fastest" + (" (" + short.rsplit("key frame every ", 1)[-1].rstrip(")") + ")"
                                      if "key frame every" in short else "")
    return short.replace(",", " ").replace("  ", " ").strip()


def write_chart(report: BenchmarkReport, path) -> Path | None:
    """One PNG, a 2 x 2 grid: inference throughput, ratios against their targets (red dashes), training step
    time and training peak memory. None when there is nothing to draw or matplotlib is missing."""
    short = {T2L_NAME: "T2L", CLIP_NAME: "CLIP frame avg", XCLIP_NAME: "X-CLIP", T2L_TRAIN: "T2L", FULL_FT_TRAIN: "full FT"}
    short.update({name: name.split(" (")[0].replace(" get_video_features", "") for name in
                  [r.model for r in report.inference] + [r.method for r in report.training] if name not in short})
    panels = []
    if report.inference:
        panels.append(BarPanel(
            [f"{short.get(r.model, r.model)} b{r.batch_size}" for r in report.inference],
            [r.videos_per_s for r in report.inference], "Inference throughput (higher is better)", "videos / s",
            errors=[r.videos_per_s * r.spread_s / r.median_s for r in report.inference]))
    measured = [r for r in report.ratios if math.isfinite(r.value)]
    if measured:
        panels.append(BarPanel(
            [_ratio_label(r.name) for r in measured], [r.value for r in measured], "Ratios (red dashes: targets)",
            "ratio", markers=[float(r.target.split()[-1]) for r in measured],
            errors=[r.spread if math.isfinite(r.spread) else 0.0 for r in measured]))
    if report.training:
        labels = [f"{short.get(r.method, r.method)}{' +ckpt' if r.checkpointing else ''}" for r in report.training]
        panels.append(BarPanel(labels, [r.median_step_s for r in report.training],
                               "Training step time (lower is better)", "s / step",
                               errors=[r.spread_s for r in report.training]))
        panels.append(BarPanel(labels, [r.peak_memory_mb for r in report.training],
                               "Training peak memory (lower is better)", "MiB"))
    return bar_panels(path, panels) if panels else None


def save_report(report: BenchmarkReport, out_dir) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "benchmark.md", "json": out_dir / "benchmark.json", "png": out_dir / "benchmark.png"}
    paths["markdown"].write_text(report.to_markdown(), encoding="utf-8")
    paths["json"].write_text(report.to_json() + "\n", encoding="utf-8")
    if write_chart(report, paths["png"]) is None:
        del paths["png"]
    return paths
