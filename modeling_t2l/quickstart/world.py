"""The miniature world of the quickstart: coloured shapes on random backgrounds, in still images and in motion.

A class is an appearance (colour + shape) doing an action ("a red square moving to the left"). Every action comes in
pairs that are the same frames played in the opposite order (left/right, up/down, growing/shrinking), so a
model that averages per-frame features cannot tell the two apart however well it knows each frame.

The base/novel split holds out whole appearances: the novel classes are colour-shape combinations that never
occur in a training video, doing the same actions. Every colour and every shape still occurs in training, and
the still-image pre-training shows all combinations (CLIP "knows" appearance; it has never seen motion).

Rendering is Pillow on a 2x canvas downsampled with a box filter (cheap anti-aliasing, so that sub-pixel motion
shows in the pixels).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 190, 60),
    "blue": (50, 80, 230),
    "yellow": (235, 215, 40),
}
SHAPES = ("square", "circle", "triangle")
# action -> (dx, dy, size factor) from the first to the last frame, in units of the image size. The names use the
# words the still-image captions teach (places, "big", "small"): like a real CLIP, the tiny one then knows what the
# words of a class name mean, and has only never seen them happen over time. Each name says where the action ends
# ("to the left", "big"), which no single frame and no average over frames can tell.
ACTIONS: dict[str, tuple[float, float, float]] = {
    "moving to the left": (-1.0, 0.0, 1.0),
    "moving to the right": (1.0, 0.0, 1.0),
    "moving to the top": (0.0, -1.0, 1.0),
    "moving to the bottom": (0.0, 1.0, 1.0),
    "growing big": (0.0, 0.0, 2.4),
    "shrinking small": (0.0, 0.0, 1 / 2.4),
}
# Appearances never seen in a training video: one per shape, each with a different colour, so that every colour
# and every shape still occurs among the base classes.
NOVEL_APPEARANCES = (("red", "circle"), ("green", "triangle"), ("blue", "square"))

# still-image captions: where the object is and, when it is clearly small or big, its size (the pre-training knows
# places and sizes, not motion)
POSITIONS = {"at the left": (0.25, 0.5), "at the right": (0.75, 0.5), "at the top": (0.5, 0.25),
             "at the bottom": (0.5, 0.75), "in the middle": (0.5, 0.5)}
SMALL_RADIUS = (0.08, 0.1)  # fraction of the image size; the sizes the growing/shrinking clips start or end at
BIG_RADIUS = (0.2, 0.24)
MEDIUM_RADIUS = (0.13, 0.18)  # the moving objects' size: no size word in a caption


@dataclass(frozen=True)
class Still:
    """What a pre-training image shows; `caption` is its text ("a small red square at the left")."""

    colour: str
    shape: str
    place: str
    size: str  # "small", "big" or "" (medium)

    @property
    def appearance(self) -> str:
        return f"a {self.colour} {self.shape}"

    @property
    def caption(self) -> str:
        size = f"{self.size} " if self.size else ""
        return f"a {size}{self.colour} {self.shape} {self.place}"


@dataclass(frozen=True)
class ActionClass:
    colour: str
    shape: str
    action: str

    @property
    def name(self) -> str:
        return f"a {self.colour} {self.shape} {self.action}"


def all_classes() -> list[ActionClass]:
    return [ActionClass(c, s, a) for c in COLOURS for s in SHAPES for a in ACTIONS]


def split_classes() -> tuple[list[ActionClass], list[ActionClass]]:
    """(base, novel): novel = the held-out appearances doing every action; disjoint, together all classes."""
    novel_keys = set(NOVEL_APPEARANCES)
    base = [c for c in all_classes() if (c.colour, c.shape) not in novel_keys]
    novel = [c for c in all_classes() if (c.colour, c.shape) in novel_keys]
    return base, novel


# ------------------------------------------------------------------------------------------------------------
# drawing
# ------------------------------------------------------------------------------------------------------------


def random_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A dull random texture: a random grey-ish tint plus smooth blotches, (size, size, 3) float in [0, 255]."""
    base = rng.uniform(60, 170) + rng.uniform(-20, 20, size=3)
    coarse = rng.normal(0, 22, size=(4, 4, 3))
    blotches = np.asarray(
        Image.fromarray(np.clip(coarse + 128, 0, 255).astype(np.uint8)).resize((size, size), Image.BILINEAR),
        dtype=np.float32,
    ) - 128
    grain = rng.normal(0, 6, size=(size, size, 3))
    return np.clip(base + blotches + grain, 0, 255)


def _shape_polygon(shape: str, cx: float, cy: float, radius: float) -> list[tuple[float, float]] | None:
    if shape == "square":
        return [(cx - radius, cy - radius), (cx + radius, cy - radius), (cx + radius, cy + radius),
                (cx - radius, cy + radius)]
    if shape == "triangle":
        return [(cx + radius * 1.15 * math.cos(a), cy + radius * 1.15 * math.sin(a))
                for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
    return None


def draw_object(background: np.ndarray, colour: str, shape: str, cx: float, cy: float, radius: float) -> np.ndarray:
    """Paint one shape (centre and radius in pixels) over a copy of `background`; returns uint8 (H, W, 3)."""
    size = background.shape[0]
    scale = 2  # draw at 2x, then box-downsample: anti-aliased edges
    mask = Image.new("L", (size * scale, size * scale), 0)
    draw = ImageDraw.Draw(mask)
    cx, cy, radius = cx * scale, cy * scale, radius * scale
    polygon = _shape_polygon(shape, cx, cy, radius)
    if polygon is None:
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=255)
    else:
        draw.polygon(polygon, fill=255)
    alpha = np.asarray(mask.resize((size, size), Image.BOX), dtype=np.float32)[..., None] / 255.0
    rgb = np.asarray(COLOURS[colour], dtype=np.float32)
    return np.clip(background * (1 - alpha) + rgb * alpha, 0, 255).astype(np.uint8)


def render_still(rng: np.random.Generator, size: int) -> tuple[np.ndarray, Still]:
    """One pre-training image and what it shows: a random colour, shape, place and size; no motion."""
    colour = str(rng.choice(list(COLOURS)))
    shape = str(rng.choice(SHAPES))
    place = str(rng.choice(list(POSITIONS)))
    size_word = str(rng.choice(["small", "", "big"]))
    low, high = {"small": SMALL_RADIUS, "": MEDIUM_RADIUS, "big": BIG_RADIUS}[size_word]
    radius = size * rng.uniform(low, high)
    px, py = POSITIONS[place]
    cx = (px + rng.uniform(-0.1, 0.1)) * size
    cy = (py + rng.uniform(-0.1, 0.1)) * size
    image = draw_object(random_background(rng, size), colour, shape, cx, cy, radius)
    return image, Still(colour, shape, place, size_word)


def render_clip(action_class: ActionClass, rng: np.random.Generator, num_frames: int, size: int) -> np.ndarray:
    """A clip of `action_class`: (num_frames, size, size, 3) uint8, random background, start, speed and size."""
    dx, dy, growth = ACTIONS[action_class.action]
    background = random_background(rng, size)
    travel = rng.uniform(0.4, 0.5)  # fraction of the image crossed over the clip
    if growth == 1.0:
        radius0 = radius1 = size * rng.uniform(*MEDIUM_RADIUS)
    else:
        small, big = size * rng.uniform(*SMALL_RADIUS), size * rng.uniform(*BIG_RADIUS)
        radius0, radius1 = (small, big) if growth > 1 else (big, small)
    margin = max(radius0, radius1) / size + 0.02
    # start anywhere the whole path stays inside the frame
    x0 = rng.uniform(margin + max(0.0, -dx * travel), 1 - margin - max(0.0, dx * travel))
    y0 = rng.uniform(margin + max(0.0, -dy * travel), 1 - margin - max(0.0, dy * travel))
    frames = []
    for t in range(num_frames):
        progress = t / max(1, num_frames - 1)
        cx = (x0 + dx * travel * progress) * size
        cy = (y0 + dy * travel * progress) * size
        radius = radius0 + (radius1 - radius0) * progress
        frames.append(draw_object(background, action_class.colour, action_class.shape, cx, cy, radius))
    return np.stack(frames)
