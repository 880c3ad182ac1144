"""Step 6: the ablation table (Markdown, printed and written) and its bar chart (PNG via modeling_t2l.plotting)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

from ..data.aggregation import harmonic_mean, mean_std
from ..plotting import bar_chart
from .ablation import VARIANTS_BY_KEY

CHECK = {True: "✓", False: ""}
RECIPES = {False: "the miniature's recipe (frozen text tower, cross-entropy over all base classes, no dropout)",
           True: "the official T2L settings (text adapters, KL loss over the batch's classes, drop-path)"}
# short bar labels for the chart
SHORT_LABELS = {"frozen": "frozen CLIP", "adapters": "adapters", "adapters_tfd": "adapters+TFD",
                "adapters_tt": "adapters+tokens", "full": "T2L (full)"}


def summarise(scores: Mapping[str, Sequence[Mapping[str, float]]]) -> dict:
    """{variant: [per-seed {"base_test", "novel"}]} -> {variant: {"base": (mean, std), "novel": ..., "hm": ...}}.

    Standard deviations are over seeds (population, ddof 0, as the library's protocol aggregation);
    HM is the harmonic mean of the mean base and mean novel accuracies (the base-to-novel convention)."""
    summary = {}
    for key, runs in scores.items():
        base = mean_std([run["base_test"] for run in runs])
        novel = mean_std([run["novel"] for run in runs])
        summary[key] = {"base": base, "novel": novel, "hm": harmonic_mean(base[0], novel[0]), "seeds": len(runs)}
    return summary


def _cell(mean_and_std: tuple[float, float], seeds: int) -> str:
    mean, std = mean_and_std
    return f"{mean:.1f} ± {std:.1f}" if seeds > 1 else f"{mean:.1f}"


def markdown_table(summary: Mapping[str, dict]) -> str:
    """The Table-7-style ablation: component switches, base and novel top-1 (%), harmonic mean."""
    lines = [
        "| Model | Temporal tokens | Adapters | TFD loss | Base top-1 (%) | Novel top-1 (%) | HM |",
        "|---|:-:|:-:|:-:|--:|--:|--:|",
    ]
    for key, row in summary.items():
        variant = VARIANTS_BY_KEY[key]
        switches = variant.overrides
        tokens = switches.get("use_temporal_tokens", True)
        adapters = switches.get("use_visual_adapters", True)
        tfd = variant.trains and switches.get("tfd_loss_weight", 1.0) > 0
        lines.append(
            f"| {variant.label} | {CHECK[tokens]} | {CHECK[adapters]} | {CHECK[tfd]} | "
            f"{_cell(row['base'], row['seeds'])} | {_cell(row['novel'], row['seeds'])} | {row['hm']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def write_report(summary: Mapping[str, dict], scores: Mapping, out_dir: Path, *, command: str, settings: dict,
                 chance: float, environment: dict | None = None) -> dict[str, Path]:
    """Write `ablation.md` (command, settings, table), `ablation.json` (every seed) and `ablation.png`.

    `environment` (quickstart.environment.environment()): the thread count, CPU kernels and versions the numbers
    were computed with; the same options give the same digits only where these are the same too."""
    from .environment import describe

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = next(iter(summary.values()))["seeds"]
    table = markdown_table(summary)
    markdown = (
        f"# T2L in miniature: component ablation\n\n`{command}`\n\n{table}\n"
        f"Zero-shot top-1 on novel classes (appearances never seen in a training video); "
        f"{'mean ± std over ' + str(seeds) + ' seeds' if seeds > 1 else 'one seed'}; chance = {chance:.1f} %.\n"
        f"Trained with {RECIPES[bool(settings.get('official_recipe'))]}.\n"
        + (f"Computed with {describe(environment)}.\n" if environment else "")
    )
    paths = {"markdown": out_dir / "ablation.md", "json": out_dir / "ablation.json", "chart": out_dir / "ablation.png"}
    paths["markdown"].write_text(markdown)
    paths["json"].write_text(json.dumps({"command": command, "settings": settings, "chance": chance,
                                         "environment": environment, "per_seed": scores, "summary": summary},
                                        indent=2) + "\n")
    keys = list(summary)
    bar_chart(
        paths["chart"], [SHORT_LABELS[key] for key in keys], [summary[key]["novel"][0] for key in keys],
        title=f"Novel-class zero-shot top-1 ({seeds} seed{'s' if seeds > 1 else ''})", ylabel="top-1 (%)",
        errors=[summary[key]["novel"][1] for key in keys] if seeds > 1 else None,
    )
    return paths
