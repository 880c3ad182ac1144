"""Charts as PNG files, drawn with matplotlib (the optional extra `pip install "modeling-t2l[plots]"`).

Without matplotlib every function logs one line saying how to get the charts and returns None; the tables and
JSON files that the charts illustrate are written regardless.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "modeling-t2l[plots]"'
# Okabe-Ito: distinguishable with every common colour-vision deficiency
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_warned = False


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend, or None (logged once) when matplotlib is missing."""
    global _warned
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        if not _warned:
            logger.warning("matplotlib is not installed: PNG charts are skipped (%s)", INSTALL_HINT)
            _warned = True
        return None
    return plt


def _check_path(path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path}: the chart file name should end with .png")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _format_value(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if value == 0 or abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


@dataclass
class BarPanel:
    """One bar chart: a value per label, optional error half-widths and reference markers (e.g. targets)."""

    labels: Sequence[str]
    values: Sequence[float]
    title: str
    ylabel: str
    errors: Sequence[float] | None = None
    markers: Sequence[float | None] | None = None

    def check(self, where) -> None:
        if len(self.labels) != len(self.values):
            raise ValueError(f"bar chart {where}: {len(self.labels)} labels but {len(self.values)} values")
        for name in ("errors", "markers"):
            extra = getattr(self, name)
            if extra is not None and len(extra) != len(self.values):
                raise ValueError(f"bar chart {where}: {len(extra)} {name} for {len(self.values)} values")


def _draw_bars(axes, panel: BarPanel) -> None:
    values = [float(value) for value in panel.values]
    positions = range(len(values))
    drawn = [value if math.isfinite(value) else 0.0 for value in values]
    errors = None if panel.errors is None else [float(e) if math.isfinite(float(e)) else 0.0 for e in panel.errors]
    bars = axes.bar(positions, drawn, yerr=errors, capsize=4, color=[COLOURS[i % len(COLOURS)] for i in positions])
    for bar, value in zip(bars, values):
        axes.annotate(_format_value(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                      ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
    for position, marker in zip(positions, panel.markers or ()):
        if marker is not None:
            axes.hlines(marker, position - 0.45, position + 0.45, colors="red", linestyles="dashed", linewidth=1.5)
    axes.set_xticks(list(positions), [str(label) for label in panel.labels], rotation=30, ha="right", fontsize=8)
    axes.set_title(panel.title, fontsize=10)
    axes.set_ylabel(panel.ylabel)
    axes.set_ylim(bottom=0)
    axes.spines[["top", "right"]].set_visible(False)


def bar_panels(path, panels: Sequence[BarPanel], *, columns: int = 2) -> Path | None:
    """Several bar charts in one PNG, `columns` per row. Returns the path, or None without matplotlib."""
    path = _check_path(path)
    if not panels:
        raise ValueError(f"bar chart {path}: nothing to draw")
    for panel in panels:
        panel.check(path)
    plt = _pyplot()
    if plt is None:
        return None
    columns = min(columns, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.5 * columns, 4.2 * rows), squeeze=False)
    for index, panel in enumerate(panels):
        _draw_bars(axes[index // columns][index % columns], panel)
    for index in range(len(panels), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def bar_chart(path, labels: Sequence[str], values: Sequence[float], title: str, ylabel: str,
              errors: Sequence[float] | None = None, *, markers: Sequence[float | None] | None = None) -> Path | None:
    """A vertical bar chart with each value printed above its bar; `errors` are whiskers (e.g. a std), `markers`
    reference values drawn as red dashes across their bar (e.g. a target). NaN values are an empty slot "n/a"."""
    return bar_panels(path, [BarPanel(labels, values, title, ylabel, errors, markers)], columns=1)


def confusion_matrix_png(path, matrix, class_names: Sequence[str], title: str) -> Path | None:
    """A confusion matrix (rows = true class, columns = predicted) as a heatmap PNG, or None without matplotlib.

    Colours are normalised per row (the fraction of each true class predicted as each column), so rare classes
    stay visible; counts are printed in the cells up to 20 classes, class names up to 60.
    """
    import numpy as np

    matrix = np.asarray(matrix, dtype=np.float64)
    names = [str(name) for name in class_names]
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"confusion_matrix_png({path}): the matrix must be square, got shape {matrix.shape}")
    if matrix.shape[0] != len(names):
        raise ValueError(f"confusion_matrix_png({path}): {matrix.shape[0]} rows but {len(names)} class names")
    if matrix.shape[0] == 0:
        raise ValueError(f"confusion_matrix_png({path}): empty matrix")
    path = _check_path(path)
    plt = _pyplot()
    if plt is None:
        return None
    totals = matrix.sum(axis=1, keepdims=True)
    fractions = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    size = matrix.shape[0]
    side = min(14.0, max(4.0, 0.3 * size + 2.5))
    figure, axes = plt.subplots(figsize=(side + 1.2, side))
    image = axes.imshow(fractions, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="fraction of the true class")
    if size <= 20:
        for row in range(size):
            for column in range(size):
                if matrix[row, column]:
                    colour = "white" if fractions[row, column] > 0.5 else "black"
                    axes.text(column, row, f"{int(matrix[row, column])}", ha="center", va="center", fontsize=8,
                              color=colour)
    if size <= 60:
        axes.set_xticks(range(size), names, rotation=90, fontsize=7)
        axes.set_yticks(range(size), names, fontsize=7)
    else:
        axes.set_xticks([])
        axes.set_yticks([])
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


__all__ = ["BarPanel", "INSTALL_HINT", "bar_chart", "bar_panels", "confusion_matrix_png"]
