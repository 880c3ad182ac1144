"""Training losses shared by the families, as small functions on logits and embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# The official soft-target temperature of the KL contrastive loss: targets = softmax(10 * [y_j == y_k]).
KL_TARGET_SCALE = 10.0


def kl_contrastive_loss(logits_per_video: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Official T2L/ActionCLIP loss on the B x B matrix of each video against the text of its own class.

    Targets are softmax(10 * G) with G[j, k] = [y_j == y_k] (several positives when classes repeat in the batch);
    KL(P) = (1/B) * sum_jk q_jk (log q_jk - log_softmax(P)_jk), averaged over both directions.
    """
    same_class = (labels[:, None] == labels[None, :]).to(logits_per_video.dtype)
    targets = F.softmax(KL_TARGET_SCALE * same_class, dim=1)
    batch_size = logits_per_video.shape[0]

    def kl(logits: torch.Tensor) -> torch.Tensor:
        return (targets * (targets.log() - F.log_softmax(logits, dim=1))).sum() / batch_size

    return (kl(logits_per_video) + kl(logits_per_video.t())) / 2


def cross_entropy_contrastive_loss(logits_per_video: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each video over the text rows (classes), with the CLIP temperature (T2L paper eq. 1)."""
    return F.cross_entropy(logits_per_video, labels)


def tfd_loss(frame_embeds: torch.Tensor, unbiased: bool = True, delta: float = 1.0) -> torch.Tensor:
    """Temporal feature diversity: 1 / (C + V + delta) on (B, T, E) un-normalised frame embeddings.

    C is the element-wise absolute central difference |f[t+1] - f[t-1]| / 2 with replicate padding at both ends,
    averaged over batch, time and channels; V the variance over time averaged over batch and channels
    (official: unbiased; paper eq. 8: biased).
    """
    previous = torch.cat([frame_embeds[:, :1], frame_embeds[:, :-1]], dim=1)
    following = torch.cat([frame_embeds[:, 1:], frame_embeds[:, -1:]], dim=1)
    central_difference = (following - previous).abs().mean() / 2
    variance = frame_embeds.var(dim=1, unbiased=unbiased).mean()
    return 1.0 / (central_difference + variance + delta)


def soft_target_cross_entropy(logits_per_video: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy over the classes with class ids (B,) and label smoothing, or with soft targets (B, K).

    Soft targets (mixup / cutmix, which already carry the smoothing) give timm's `SoftTargetCrossEntropy`,
    mean over the batch of -sum_k y_k log_softmax(x)_k; class ids give timm's `LabelSmoothingCrossEntropy`
    ((1 - s) * NLL + s * the mean of -log_softmax over the classes), which is `F.cross_entropy(label_smoothing=s)`.
    """
    if labels.is_floating_point():
        if labels.shape != logits_per_video.shape:
            raise ValueError(f"soft labels must have the logits' shape {tuple(logits_per_video.shape)}, got {tuple(labels.shape)}")
        return -(labels * F.log_softmax(logits_per_video, dim=-1)).sum(dim=-1).mean()
    return F.cross_entropy(logits_per_video, labels, label_smoothing=label_smoothing)


__all__ = [
    "KL_TARGET_SCALE",
    "cross_entropy_contrastive_loss",
    "kl_contrastive_loss",
    "soft_target_cross_entropy",
    "tfd_loss",
]
