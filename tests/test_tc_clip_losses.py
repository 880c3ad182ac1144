"""TC-CLIP's objective: soft-target cross-entropy, label smoothing, mixup/cutmix (spec §5)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from modeling_t2l.models.tc_clip.losses import (
    cutmix_box,
    label_smoothing_cross_entropy,
    mixup_cutmix,
    smoothed_one_hot,
    soft_target_cross_entropy,
)


def test_soft_target_cross_entropy_by_hand():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    targets = torch.tensor([[0.8, 0.2, 0.0], [0.1, 0.1, 0.8]])
    log_p = torch.log_softmax(logits, dim=-1)
    expected = -(targets * log_p).sum(dim=-1).mean()
    torch.testing.assert_close(soft_target_cross_entropy(logits, targets), expected)
    with pytest.raises(ValueError, match="must match"):
        soft_target_cross_entropy(logits, targets[:, :2])


def test_smoothed_one_hot_is_the_official_target():
    targets = smoothed_one_hot(torch.tensor([2, 0]), num_classes=4, smoothing=0.1)
    off = 0.1 / 4
    torch.testing.assert_close(targets[0], torch.tensor([off, off, 0.9 + off, off]))
    torch.testing.assert_close(targets.sum(dim=-1), torch.ones(2))


def test_label_smoothing_cross_entropy_is_torchs():
    logits = torch.randn(5, 7, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 6, 3, 3, 1])
    torch.testing.assert_close(label_smoothing_cross_entropy(logits, labels, 0.1),
                               F.cross_entropy(logits, labels, label_smoothing=0.1))
    torch.testing.assert_close(label_smoothing_cross_entropy(logits, labels, 0.0), F.cross_entropy(logits, labels))


def clips(batch=4):
    # every clip a constant value, so the source of each pixel can be read back
    return torch.arange(batch, dtype=torch.float32).view(batch, 1, 1, 1, 1).expand(batch, 3, 3, 16, 20).clone()


def test_mixup_blends_whole_clips_and_targets_alike():
    pixels, labels = clips(), torch.tensor([0, 1, 2, 3])
    mixed, targets = mixup_cutmix(pixels, labels, num_classes=5, rng=0, switch_prob=0.0)
    # the draws in their order: the partner permutation, the mixup/cutmix switch, lambda ~ Beta(0.8, 0.8)
    rng = np.random.default_rng(0)
    permutation = torch.as_tensor(rng.permutation(4))
    rng.random()
    lam = float(rng.beta(0.8, 0.8))
    torch.testing.assert_close(mixed, lam * pixels + (1 - lam) * pixels[permutation])
    clean = smoothed_one_hot(labels, 5)
    torch.testing.assert_close(targets, lam * clean + (1 - lam) * clean[permutation])
    torch.testing.assert_close(targets.sum(dim=-1), torch.ones(4))
    assert all(mixed[b].unique().numel() == 1 for b in range(4))  # one blend for the whole clip


def test_cutmix_pastes_one_box_in_every_frame_and_weights_by_area():
    pixels, labels = clips(), torch.tensor([0, 1, 2, 3])
    rng = np.random.default_rng(5)
    mixed, targets = mixup_cutmix(pixels, labels, num_classes=4, rng=rng, switch_prob=1.0)
    changed = mixed != pixels  # (B, T, 3, H, W)
    box = changed[0, 0, 0]
    for b in range(4):
        for t in range(3):
            for c in range(3):
                own = changed[b, t, c]
                assert torch.equal(own, box) or not own.any()  # the same box for all frames (or a self-partner)
    area = float(box.float().mean())
    assert 0 < area < 1  # the draw of this seed pastes a real box
    lam = 1.0 - area
    clean = smoothed_one_hot(labels, 4)
    for b in range(4):
        partner = int(mixed[b, 0, 0][box][0]) if box.any() else b
        torch.testing.assert_close(targets[b], lam * clean[b] + (1 - lam) * clean[partner])


def test_cutmix_box_area_follows_lambda():
    rng = np.random.default_rng(0)
    top, bottom, left, right = cutmix_box(100, 100, 0.75, rng)
    assert 0 <= top <= bottom <= 100 and 0 <= left <= right <= 100
    assert (bottom - top) <= 50 and (right - left) <= 50  # sqrt(1 - 0.75) of each side at most


def test_mixup_cutmix_is_reproducible_from_a_seed():
    pixels, labels = torch.randn(3, 2, 3, 8, 8), torch.tensor([0, 1, 2])
    a = mixup_cutmix(pixels, labels, 3, rng=11)
    b = mixup_cutmix(pixels, labels, 3, rng=11)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
