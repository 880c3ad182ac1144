"""The zero-shot classifier: class texts -> text embeddings -> scores. The one implementation the pipeline, the
evaluation and every other caller use.

Scores are the official test of T2L (and of the CLIP video peers): per view, p = softmax(scale * cos(video, text))
over the classes, where `scale` is the model's `zero_shot_logit_scale`; p is averaged over templates (softmax per
template, then the mean: not the softmax of the mean logits), then over the views (clips x crops) of a video.

A family whose text depends on the video (`text_depends_on_video`) cannot have its texts encoded ahead of time:
the classifier keeps the token ids and encodes the texts for each batch of videos, in chunks of classes. When the
family splits its text tower (`model.encode_shared_text`, e.g. TC-CLIP's layers before the first video-conditioned
prompting block), the video-independent part is computed once per label set and reused for every batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..modeling_utils import video_embeddings

TEXT_BATCH_SIZE = 256
"""Texts encoded per forward pass of the text tower (bounds memory for large vocabularies)."""

Tokenize = Callable[[list[str]], Mapping[str, torch.Tensor]]
"""texts -> {"input_ids": (N, L), "attention_mask": (N, L)}, e.g. `lambda t: processor(text=t, return_tensors="pt")`."""


def zero_shot_probabilities(video_embeds: torch.Tensor, text_embeds: torch.Tensor, scale: float = 100.0) -> torch.Tensor:
    """softmax(scale * cos(video, text)) over the text rows.

    video_embeds (B, E); text_embeds (K, E), or (B, K, E) with one text embedding per video. Returns (B, K).
    """
    video = F.normalize(video_embeds, dim=-1)
    text = F.normalize(text_embeds, dim=-1)
    similarity = video @ text.t() if text.ndim == 2 else torch.einsum("be,bke->bk", video, text)
    return F.softmax(scale * similarity, dim=-1)


def template_groups(class_texts) -> list[list[str]]:
    """A `ClassTexts`, a list of texts (one per class) or a list of such lists -> [template][class] texts."""
    texts = getattr(class_texts, "texts", class_texts)
    if isinstance(texts, str) or len(texts) == 0:
        raise ValueError("class_texts must be a ClassTexts, a list of texts (one per class) or a list of such lists")
    groups = [list(texts)] if isinstance(texts[0], str) else [list(group) for group in texts]
    if len({len(group) for group in groups}) != 1:
        raise ValueError(f"every template must give one text per class; got {[len(g) for g in groups]} texts")
    return groups


def _model_device_dtype(model) -> tuple[torch.device, torch.dtype]:
    parameter = next(model.parameters())
    return parameter.device, parameter.dtype


@dataclass
class ZeroShotClassifier:
    """Class texts ready to score videos against; build it with `build_zero_shot_classifier`.

    text_embeds: (templates, K, E) L2-normalised, or None when the model's text depends on the video; then
    `tokens` holds each template's token ids and the texts are encoded per batch of videos.
    """

    num_templates: int
    num_classes: int
    scale: float
    text_embeds: torch.Tensor | None = None
    tokens: list[dict[str, torch.Tensor]] | None = None
    text_batch_size: int = TEXT_BATCH_SIZE
    shared_text: list[list] | None = None
    """Per template, per chunk of classes: `model.encode_shared_text` of those token ids (None: not split)."""

    @torch.no_grad()
    def __call__(self, model, pixel_values: torch.Tensor, views: int | Sequence[int] = 1) -> torch.Tensor:
        """Class probabilities (num_videos, K).

        pixel_values: (N, T, 3, H, W), video-major with `views` consecutive views per video (an int for all
        videos or one count per video), or (B, V, T, 3, H, W) with V views per video.
        """
        if pixel_values.ndim == 6:
            views = pixel_values.shape[1]
            pixel_values = pixel_values.flatten(0, 1)
        device, dtype = _model_device_dtype(model)
        if self.tokens is None:  # text independent of the video: the embeddings are all that is needed
            video_embeds = video_embeddings(model, pixel_values.to(device, dtype)).float()
        else:
            video_outputs = model.get_video_features(pixel_values.to(device, dtype))
            video_embeds = video_outputs.pooler_output.float()
        per_template = []
        for template in range(self.num_templates):
            text = self.text_embeds[template] if self.tokens is None else self._video_text(model, video_outputs, template)
            per_template.append(zero_shot_probabilities(video_embeds, text.to(video_embeds.device), self.scale))
        per_view = torch.stack(per_template).mean(dim=0)  # softmax per template, then the mean over templates
        counts = [views] * (per_view.shape[0] // views) if isinstance(views, int) else list(views)
        if sum(counts) != per_view.shape[0]:
            raise ValueError(f"{per_view.shape[0]} clips cannot be split into views {counts}")
        return torch.stack([group.mean(dim=0) for group in per_view.split(counts)])

    def _video_text(self, model, video_outputs, template: int) -> torch.Tensor:
        """(N, K, E) text embeddings of one template, conditioned on each clip; encoded in chunks of classes."""
        tokens = self.tokens[template]
        device = video_outputs.pooler_output.device
        chunks = []
        for chunk, start in enumerate(range(0, self.num_classes, self.text_batch_size)):
            ids = tokens["input_ids"][start : start + self.text_batch_size].to(device)
            mask = tokens["attention_mask"][start : start + self.text_batch_size].to(device)
            extra = {} if self.shared_text is None else {"shared_text_states": self.shared_text[template][chunk]}
            chunks.append(model.get_text_features(ids, mask, video_outputs=video_outputs, **extra).pooler_output.float())
        return torch.cat(chunks, dim=1)


@torch.no_grad()
def build_zero_shot_classifier(
    model, tokenize: Tokenize, class_texts, *, scale: float | None = None, text_batch_size: int = TEXT_BATCH_SIZE,
    reuse_shared_text: bool = True,
) -> ZeroShotClassifier:
    """Encode (or, for video-dependent text, tokenize) every template's text of every class.

    `class_texts`: a `zero_shot.prompts.ClassTexts`, a list of texts (one per class) or a list of such lists (one
    per template). `scale` defaults to the model's `zero_shot_logit_scale`. `reuse_shared_text` (video-dependent
    text only): compute the model's video-independent text layers (`encode_shared_text`) once here, if it has them.
    """
    groups = template_groups(class_texts)
    scale = float(model.zero_shot_logit_scale if scale is None else scale)
    classifier = ZeroShotClassifier(
        num_templates=len(groups), num_classes=len(groups[0]), scale=scale, text_batch_size=text_batch_size
    )
    if getattr(model, "text_depends_on_video", False):
        classifier.tokens = [dict(tokenize(group)) for group in groups]
        encode_shared = getattr(model, "encode_shared_text", None)
        if reuse_shared_text and callable(encode_shared):
            device, _ = _model_device_dtype(model)
            classifier.shared_text = [
                [
                    encode_shared(tokens["input_ids"][start : start + text_batch_size].to(device),
                                  tokens["attention_mask"][start : start + text_batch_size].to(device))
                    for start in range(0, classifier.num_classes, text_batch_size)
                ]
                for tokens in classifier.tokens
            ]
        return classifier
    device, _ = _model_device_dtype(model)
    flat = [text for group in groups for text in group]
    embeds = []
    for start in range(0, len(flat), text_batch_size):
        encoded = tokenize(flat[start : start + text_batch_size])
        input_ids, attention_mask = encoded["input_ids"].to(device), encoded.get("attention_mask")
        attention_mask = None if attention_mask is None else attention_mask.to(device)
        embeds.append(model.get_text_features(input_ids, attention_mask).pooler_output.float())
    classifier.text_embeds = F.normalize(torch.cat(embeds), dim=-1).view(len(groups), len(groups[0]), -1)
    return classifier


__all__ = [
    "TEXT_BATCH_SIZE",
    "ZeroShotClassifier",
    "build_zero_shot_classifier",
    "template_groups",
    "zero_shot_probabilities",
]
