"""PNG charts drawn with Pillow only (the library deliberately has no matplotlib dependency).

Two figure types cover what the library reports:

* `bar_chart(path, labels, values, title, ylabel, errors=None)`: one bar per label, the value written above each
  bar, optional error whiskers (benchmark medians with their spread, accuracies with their std over splits);
* `confusion_matrix_png(path, matrix, class_names, title)`: a heatmap with row/column class names, counts written
  in the cells when the matrix is small enough to read them.

Both return the written `Path`. Fonts come from `PIL.ImageFont.load_default(size=...)` (Pillow >= 10.1 ships a
scalable default font), so the text stays readable without any system font.

Other helpers may add plotting functions below in their own clearly marked section.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

_BACKGROUND = (255, 255, 255)
_INK = (33, 33, 33)
_GRID = (225, 225, 225)
_MARKER = (200, 30, 30)
# A colour-blind-safe cycle (Okabe-Ito), repeated when there are more bars than colours.
_PALETTE = [(0, 114, 178), (230, 159, 0), (0, 158, 115), (204, 121, 167), (86, 180, 233), (213, 94, 0),
            (240, 228, 66), (120, 120, 120)]


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no scalable default font; the bitmap one is still legible.
        return ImageFont.load_default()


def _text_size(draw: ImageDraw.ImageDraw, text: str, font) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def _format_value(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 0.01:
        return f"{value:.3g}"
    return f"{value:.2e}"


def _nice_ceiling(value: float) -> float:
    """The smallest 1/2/2.5/5 x 10^k at or above value, so the axis ends on a round number."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value * (1 - 1e-9):
            return candidate
    return 10 ** (exponent + 1)


def _check_path(path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"plotting: {path} should end with .png (the charts are PNG files)")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def bar_chart(
    path,
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    ylabel: str,
    errors: Sequence[float] | None = None,
    *,
    markers: Sequence[float | None] | None = None,
    width: int | None = None,
    height: int = 520,
) -> Path:
    """Draw a vertical bar chart with the value printed above every bar and write it to `path` (a .png).

    `errors`, when given, holds one half-width per bar (e.g. a standard deviation or the spread of repeated
    timings) drawn as a whisker. `markers`, when given, holds one reference value per bar (or None), drawn as a red
    dashed line across that bar's slot: a target, say. Negative values are not supported (every quantity we chart
    is a size, a time, a rate or an accuracy); NaN values are drawn as an empty slot labelled "n/a".
    """
    labels = [str(label) for label in labels]
    values = [float(v) for v in values]
    if len(labels) != len(values):
        raise ValueError(f"bar_chart({path}): {len(labels)} labels but {len(values)} values")
    if not labels:
        raise ValueError(f"bar_chart({path}): nothing to draw (no labels)")
    if errors is not None:
        errors = [float(e) for e in errors]
        if len(errors) != len(values):
            raise ValueError(f"bar_chart({path}): {len(errors)} errors but {len(values)} values")
    if markers is not None and len(markers) != len(values):
        raise ValueError(f"bar_chart({path}): {len(markers)} markers but {len(values)} values")
    if any(v < 0 for v in values if math.isfinite(v)):
        raise ValueError(f"bar_chart({path}): negative values are not supported")
    path = _check_path(path)

    title_font, label_font, small_font = _font(22), _font(15), _font(13)
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    slot = max(70, max(_text_size(scratch, label, label_font)[0] for label in labels) // 2 + 30)
    rotate = max(_text_size(scratch, label, label_font)[0] for label in labels) > slot - 10
    longest = max(_text_size(scratch, label, label_font)[0] for label in labels)
    label_band = (longest * 0.72 + 24) if rotate else 40
    # a label rotated 45 degrees reaches about 0.72 x its length left of its bar: keep the first one on the canvas
    margin_left = max(90, int(longest * 0.72 - slot / 2 + 20)) if rotate else 90
    margin_right, margin_top = 30, 70
    margin_bottom = int(label_band) + 20
    width = width or max(480, margin_left + margin_right + slot * len(labels))
    plot_w = width - margin_left - margin_right
    plot_h = height - margin_top - margin_bottom
    if plot_h < 260:  # long labels must not squash the bars
        height = margin_top + margin_bottom + 260
        plot_h = 260

    image = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    tw, _ = _text_size(draw, title, title_font)
    draw.text(((width - tw) / 2, 18), title, fill=_INK, font=title_font)

    finite = [v + (errors[i] if errors and math.isfinite(errors[i]) else 0.0)
              for i, v in enumerate(values) if math.isfinite(v)]
    finite += [float(m) for m in (markers or []) if m is not None and math.isfinite(m)]
    top = _nice_ceiling(max(finite) * 1.08) if finite and max(finite) > 0 else 1.0
    x0, y0 = margin_left, margin_top + plot_h  # the origin, bottom left of the plot area

    def y_of(value: float) -> float:
        return y0 - plot_h * value / top

    for i in range(6):  # horizontal grid with tick labels
        tick = top * i / 5
        y = y_of(tick)
        draw.line([(x0, y), (x0 + plot_w, y)], fill=_GRID, width=1)
        text = f"{tick:,.6g}"
        w, h = _text_size(draw, text, small_font)
        draw.text((x0 - w - 8, y - h / 2 - 2), text, fill=_INK, font=small_font)
    draw.line([(x0, margin_top), (x0, y0)], fill=_INK, width=1)
    draw.line([(x0, y0), (x0 + plot_w, y0)], fill=_INK, width=1)

    # The y-axis label, rotated, on the left edge.
    w, h = _text_size(draw, ylabel, label_font)
    label_image = Image.new("RGBA", (w + 4, h + 8), (255, 255, 255, 0))
    ImageDraw.Draw(label_image).text((2, 0), ylabel, fill=_INK, font=label_font)
    label_image = label_image.rotate(90, expand=True)
    image.paste(label_image, (8, int(margin_top + plot_h / 2 - label_image.height / 2)), label_image)

    step = plot_w / len(labels)
    bar_w = step * 0.62
    for i, (label, value) in enumerate(zip(labels, values)):
        cx = x0 + step * (i + 0.5)
        if math.isfinite(value):
            colour = _PALETTE[i % len(_PALETTE)]
            draw.rectangle([cx - bar_w / 2, y_of(value), cx + bar_w / 2, y0], fill=colour)
            text_top = y_of(value)
            if errors is not None and math.isfinite(errors[i]) and errors[i] > 0:
                lo, hi = y_of(max(value - errors[i], 0.0)), y_of(value + errors[i])
                draw.line([(cx, lo), (cx, hi)], fill=_INK, width=2)
                draw.line([(cx - 6, hi), (cx + 6, hi)], fill=_INK, width=2)
                draw.line([(cx - 6, lo), (cx + 6, lo)], fill=_INK, width=2)
                text_top = min(text_top, hi)
            text = _format_value(value)
        else:
            text, text_top = "n/a", y0
        w, h = _text_size(draw, text, small_font)
        draw.text((cx - w / 2, text_top - h - 8), text, fill=_INK, font=small_font)
        if markers is not None and markers[i] is not None and math.isfinite(markers[i]):
            y = y_of(float(markers[i]))
            x = cx - step * 0.45
            while x < cx + step * 0.45:  # dashed
                draw.line([(x, y), (min(x + 8, cx + step * 0.45), y)], fill=_MARKER, width=3)
                x += 14
        w, h = _text_size(draw, label, label_font)
        if rotate:  # long labels are written at 45 degrees below their bar
            tile = Image.new("RGBA", (w + 4, h + 8), (255, 255, 255, 0))
            ImageDraw.Draw(tile).text((2, 0), label, fill=_INK, font=label_font)
            tile = tile.rotate(45, expand=True)
            image.paste(tile, (int(cx - tile.width), int(y0 + 6)), tile)
        else:
            draw.text((cx - w / 2, y0 + 8), label, fill=_INK, font=label_font)
    image.save(path)
    return path


def _heat_colour(fraction: float) -> tuple[int, int, int]:
    """White (0) to dark blue (1), linear in RGB: simple and monotone in lightness."""
    fraction = min(max(fraction, 0.0), 1.0)
    light, dark = (247, 251, 255), (8, 48, 107)
    return tuple(int(round(light[c] + (dark[c] - light[c]) * fraction)) for c in range(3))


def confusion_matrix_png(path, matrix, class_names: Sequence[str], title: str, *, cell: int | None = None) -> Path:
    """Draw a confusion matrix (rows = true class, columns = predicted class) as a heatmap PNG.

    `matrix` is anything `numpy.asarray` accepts, square, with one row per name in `class_names`. Colours are
    normalised per row (the fraction of each true class predicted as each column), so rare classes stay visible;
    the cell text is the raw count when cells are large enough to hold it. Class names are drawn when there are at
    most 60 classes (beyond that they would be unreadable, and the picture is read as a diagonal pattern).
    """
    import numpy as np

    matrix = np.asarray(matrix, dtype=np.float64)
    names = [str(name) for name in class_names]
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"confusion_matrix_png({path}): the matrix must be square, got shape {matrix.shape}")
    if matrix.shape[0] != len(names):
        raise ValueError(
            f"confusion_matrix_png({path}): {matrix.shape[0]} rows but {len(names)} class names"
        )
    if matrix.shape[0] == 0:
        raise ValueError(f"confusion_matrix_png({path}): empty matrix")
    path = _check_path(path)

    n = matrix.shape[0]
    cell = cell or max(4, min(48, 900 // n))
    show_names = n <= 60
    show_counts = cell >= 28
    title_font, name_font, count_font = _font(20), _font(max(9, min(14, cell - 4))), _font(max(9, min(13, cell // 3)))
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    name_w = max(_text_size(scratch, name, name_font)[0] for name in names) if show_names else 0
    margin_left = name_w + 60
    margin_top = 60 + (name_w if show_names else 0)
    width = margin_left + n * cell + 30
    height = margin_top + n * cell + 50
    width = max(width, _text_size(scratch, title, title_font)[0] + 40)

    image = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    tw, _ = _text_size(draw, title, title_font)
    draw.text(((width - tw) / 2, 14), title, fill=_INK, font=title_font)

    row_sums = matrix.sum(axis=1, keepdims=True)
    fractions = np.divide(matrix, row_sums, out=np.zeros_like(matrix), where=row_sums > 0)
    for i in range(n):
        for j in range(n):
            x, y = margin_left + j * cell, margin_top + i * cell
            fraction = float(fractions[i, j])
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=_heat_colour(fraction))
            if show_counts and matrix[i, j] != 0:
                value = matrix[i, j]
                text = f"{int(value)}" if float(value).is_integer() else f"{value:.2g}"
                w, h = _text_size(draw, text, count_font)
                ink = (255, 255, 255) if fraction > 0.5 else _INK
                draw.text((x + (cell - w) / 2, y + (cell - h) / 2 - 2), text, fill=ink, font=count_font)
    draw.rectangle([margin_left - 1, margin_top - 1, margin_left + n * cell, margin_top + n * cell], outline=_INK)

    if show_names:
        for i, name in enumerate(names):
            w, h = _text_size(draw, name, name_font)
            draw.text((margin_left - w - 6, margin_top + i * cell + (cell - h) / 2 - 2), name, fill=_INK,
                      font=name_font)
            # column names, rotated 90 degrees, above the matrix
            tile = Image.new("RGBA", (w + 4, h + 8), (255, 255, 255, 0))
            ImageDraw.Draw(tile).text((2, 0), name, fill=_INK, font=name_font)
            tile = tile.rotate(90, expand=True)
            image.paste(tile, (int(margin_left + i * cell + (cell - tile.width) / 2), margin_top - tile.height - 4),
                        tile)
    draw.text((margin_left, margin_top + n * cell + 10), "rows: true class   columns: predicted class",
              fill=_INK, font=_font(13))
    image.save(path)
    return path


# ---- Functions added by other helpers go below, each in a section naming its owner. ----
