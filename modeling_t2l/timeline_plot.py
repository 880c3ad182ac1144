"""The timeline figure: labelled segments on top, the window scores of the leading labels below (matplotlib).

matplotlib is an optional extra (`pip install "modeling-t2l[plots]"`); `plot_timeline` raises `ImportError` with
that line when it is missing, and nothing else in the package imports this module.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Sequence

from .plotting import COLOURS, INSTALL_HINT

PALETTE = list(COLOURS)  # Okabe-Ito, as every chart of the package
# How many 8-point characters fit across the plot area of the 11-inch figure (for labels inside the bars).
AXIS_WIDTH_CHARS = 140


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(f"the timeline PNG needs matplotlib: {INSTALL_HINT}") from error
    return Figure


def _clock(seconds: float, _position=None) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{rest:04.1f}" if hours else f"{minutes}:{rest:04.1f}"


def leading_labels(windows: Sequence[dict], segments: Sequence[dict]) -> list[str]:
    """Every label, most shown first: by the time its segments cover, then by its mean window score."""
    covered: dict[str, float] = {}
    for segment in segments:
        covered[segment["label"]] = covered.get(segment["label"], 0.0) + segment["end"] - segment["start"]
    totals: dict[str, float] = {}
    for window in windows:
        for item in window["scores"]:
            totals[item["label"]] = totals.get(item["label"], 0.0) + item["score"]
    return sorted(totals, key=lambda label: (-covered.get(label, 0.0), -totals[label]))


def _colours(labels: list[str]) -> dict[str, str]:
    """Okabe-Ito for the first eight labels, then matplotlib's tab20 (repeating beyond 28 labels)."""
    from matplotlib import colormaps

    extra = [colormaps["tab20"](i) for i in range(20)]
    return {label: (PALETTE + extra)[i % (len(PALETTE) + len(extra))] for i, label in enumerate(labels)}


def plot_timeline(path, windows: Sequence[dict], segments: Sequence[dict], title: str | None = None,
                  max_labels: int = 6) -> Path:
    """Write the timeline PNG of `windows` (`pipe(..., chunk_length_s=...)`) and their `merge_segments`."""
    if not windows:
        raise ValueError("plot_timeline: there are no windows to draw")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"plot_timeline: {path} should end with .png")
    Figure = _figure_class()
    from matplotlib.ticker import FuncFormatter

    ordered = leading_labels(windows, segments)
    shown = [label for label in ordered if any(segment["label"] == label for segment in segments)]
    colours = _colours(shown + [label for label in ordered if label not in shown])
    labels = ordered[:max_labels]  # the score curves
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    band, curves = figure.subplots(2, 1, sharex=True, height_ratios=[1, 2.6])

    begin = min(window["start"] for window in windows)
    finish = max(window["end"] for window in windows)
    for segment in segments:
        width = segment["end"] - segment["start"]
        colour = colours[segment["label"]]
        band.broken_barh([(segment["start"], width)], (0, 1), facecolors=colour, edgecolors="white", linewidth=1)
        # the name inside the bar, on up to two lines, when it fits; the legend below names every colour anyway
        fits = int(AXIS_WIDTH_CHARS * width / max(finish - begin, 1e-9))
        lines = textwrap.wrap(segment["label"], max(fits, 1))
        if fits >= 6 and len(lines) <= 2:
            band.text(segment["start"] + width / 2, 0.5, "\n".join(lines), ha="center", va="center", fontsize=8,
                      color="white", clip_on=True)
    band.set_yticks([])
    band.set_ylim(0, 1)
    band.set_title(title or "Timeline", loc="left", fontsize=11)

    centres = [(window["start"] + window["end"]) / 2 for window in windows]
    for label in labels:
        scores = [next((item["score"] for item in window["scores"] if item["label"] == label), float("nan"))
                  for window in windows]
        curves.plot(centres, scores, marker="o", markersize=3, linewidth=1.5, color=colours[label], label=label)
    curves.set_ylim(0, 1)
    curves.set_ylabel("score (window centre)")
    curves.set_xlabel("time (m:ss)")
    curves.grid(alpha=0.3)
    curves.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    curves.set_xlim(begin, finish)
    curves.xaxis.set_major_formatter(FuncFormatter(_clock))

    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path
