"""TC-CLIP's training objective: soft-target cross-entropy on mixup/cutmix-blended clips (spec §5).

The official training blends every micro-batch (mixup alpha 0.8, cutmix alpha 1.0, switch probability 0.5) into
label-smoothed soft targets (smoothing 0.1) and minimises the soft-target cross-entropy of the model's logits over
all training classes. There is no contrastive or auxiliary term.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


def soft_target_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """mean_b sum_c -targets[b, c] * log_softmax(logits[b])_c, for (B, C) logits and targets."""
    if targets.shape != logits.shape:
        raise ValueError(f"soft targets have shape {tuple(targets.shape)}, logits {tuple(logits.shape)}: they must match")
    return (-targets * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


def smoothed_one_hot(labels: torch.Tensor, num_classes: int, smoothing: float = 0.1) -> torch.Tensor:
    """(B,) class indices -> (B, C) targets: `smoothing / C` everywhere, `1 - smoothing + smoothing / C` on the label."""
    off = smoothing / num_classes
    targets = torch.full((labels.shape[0], num_classes), off, device=labels.device)
    return targets.scatter_(1, labels[:, None], 1.0 - smoothing + off)


def label_smoothing_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, smoothing: float = 0.1) -> torch.Tensor:
    """Cross-entropy of (B, C) logits against smoothed one-hot targets of (B,) class indices."""
    return soft_target_cross_entropy(logits, smoothed_one_hot(labels, logits.shape[-1], smoothing).to(logits.dtype))


def cutmix_box(height: int, width: int, lam: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A box covering about `1 - lam` of the frame, centred at a uniform random pixel and clipped to the frame:
    (top, bottom, left, right)."""
    ratio = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = int(rng.integers(height)), int(rng.integers(width))
    top, bottom = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height)
    left, right = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)
    return top, bottom, left, right


def mixup_cutmix(
    pixel_values: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    rng: np.random.Generator | int | None = None,
    smoothing: float = 0.1,
    mixup_alpha: float = 0.8,
    cutmix_alpha: float = 1.0,
    switch_prob: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Blend a (B, T, 3, H, W) micro-batch with a random permutation of itself; returns (pixels, (B, C) targets).

    With probability `switch_prob` cutmix: one box for the whole batch and all frames, lambda ~ Beta(1, 1)
    corrected to the pasted area; otherwise mixup of the whole clip with lambda ~ Beta(0.8, 0.8). Targets are
    `lam * y + (1 - lam) * y[perm]` of smoothed one-hot labels. `rng`: a numpy Generator or seed.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    permutation = torch.as_tensor(rng.permutation(pixel_values.shape[0]), device=pixel_values.device)
    mixed = pixel_values.clone()
    if rng.random() < switch_prob:
        lam = float(rng.beta(cutmix_alpha, cutmix_alpha))
        height, width = pixel_values.shape[-2:]
        top, bottom, left, right = cutmix_box(height, width, lam, rng)
        mixed[..., top:bottom, left:right] = pixel_values[permutation][..., top:bottom, left:right]
        lam = 1.0 - (bottom - top) * (right - left) / (height * width)
    else:
        lam = float(rng.beta(mixup_alpha, mixup_alpha))
        mixed = pixel_values * lam + pixel_values[permutation] * (1.0 - lam)
    targets = smoothed_one_hot(labels, num_classes, smoothing)
    return mixed, lam * targets + (1.0 - lam) * targets[permutation]


@dataclass(frozen=True)
class MixupCutmix:
    """The training batch transform (`model.training_batch_transform()`): a vocabulary batch (`input_ids` one row
    per class, integer `labels`) -> the same batch with blended `pixel_values` and (B, C) soft `labels`."""

    smoothing: float = 0.1
    mixup_alpha: float = 0.8
    cutmix_alpha: float = 1.0
    switch_prob: float = 0.5

    def __call__(self, batch: dict, rng: np.random.Generator) -> dict:
        labels = batch["labels"]
        if labels.is_floating_point():
            raise ValueError("mixup/cutmix takes integer class labels; this batch already has soft targets")
        num_classes = batch["input_ids"].shape[0]
        pixel_values, targets = mixup_cutmix(
            batch["pixel_values"], labels, num_classes, rng, smoothing=self.smoothing, mixup_alpha=self.mixup_alpha,
            cutmix_alpha=self.cutmix_alpha, switch_prob=self.switch_prob,
        )
        return {**batch, "pixel_values": pixel_values, "labels": targets.to(pixel_values.dtype)}


__all__ = [
    "MixupCutmix",
    "cutmix_box",
    "label_smoothing_cross_entropy",
    "mixup_cutmix",
    "smoothed_one_hot",
    "soft_target_cross_entropy",
]
