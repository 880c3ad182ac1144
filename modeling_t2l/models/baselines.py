"""Baselines without training, as thin adapters of transformers' own models to the family contract.

- `FrozenCLIPForVideoClassification`: any `CLIPModel` checkpoint; the video embedding is the mean over the T frames
  of `get_image_features`, the text is CLIP's. Nothing is trained. It IS a `CLIPModel` (a subclass adding only
  video methods), so its checkpoints are CLIP checkpoints: `CLIPModel.from_pretrained` reads them unchanged.
- `XCLIPForVideoClassification`: any `XCLIPModel` checkpoint (e.g. `microsoft/xclip-base-patch16-zero-shot`), with
  its own video features (cross-frame communication + multi-frame integration transformer). X-CLIP's video-specific
  prompt generator adds to every class text a cross-attention over the video's patch features
  (`XCLIPModel.forward`: `text_embeds + prompts_generator(text_embeds, img_features)`), so its text depends on the
  video: `text_depends_on_video = True`, and the text features are (B, K, E) given the video's outputs.

Both keep their checkpoint's `model_type` ("clip", "xclip") and its preprocessing constants (the saved image
processor: CLIP mean/std for CLIP, ImageNet mean/std and bilinear resizing for X-CLIP). `register()` maps their
configs to these classes in `AutoModelForVideoClassification`, so `pipeline("zero-shot-video-classification",
model="openai/clip-vit-base-patch16")` and `AutoModelForVideoClassification.from_pretrained(saved_dir)` build them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import CLIPConfig, CLIPModel, PreTrainedModel, XCLIPModel
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.utils import ModelOutput

from ..losses import soft_target_cross_entropy
from ..modeling_utils import ZeroShotVideoModelMixin, frame_mean_video_features, load_clip_config
from ..remote_code import write_remote_code

FROZEN_CLIP_NUM_FRAMES = 8
"""Frames per clip of a frozen CLIP whose config does not say (the frozen-CLIP rows of the peers' tables use 8)."""
FROZEN_CLIP_TEMPLATES = ("a photo of a {}.",)
"""CLIP's own zero-shot prompt; pass `hypothesis_template` (pipeline) or class texts (evaluation) for others."""
XCLIP_TEMPLATES = ("{}",)
"""X-CLIP's zero-shot text is the bare class name (spec protocols §1.5)."""


@dataclass
class BaselineVideoOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`, returned with `labels`): same as `loss_cross_entropy`.
    logits (`torch.FloatTensor` of shape `(batch_size, num_texts)`): same as `logits_per_video`.
    logits_per_video (`torch.FloatTensor` of shape `(batch_size, num_texts)`):
        `logit_scale.exp()` times the cosine similarity of every video with every text row.
    logits_per_text (`torch.FloatTensor` of shape `(num_texts, batch_size)`): the transpose.
    video_embeds (`torch.FloatTensor` of shape `(batch_size, projection_dim)`): L2-normalised.
    text_embeds (`torch.FloatTensor` of shape `(num_texts, projection_dim)`, or `(batch_size, num_texts,
        projection_dim)` when the text depends on the video): L2-normalised.
    loss_cross_entropy (`torch.FloatTensor` of shape `()`, returned with `labels`):
        cross-entropy over the text rows (class ids, or soft targets of the logits' shape).
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    logits_per_video: torch.FloatTensor | None = None
    logits_per_text: torch.FloatTensor | None = None
    video_embeds: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    loss_cross_entropy: torch.FloatTensor | None = None


@dataclass
class FrozenCLIPVideoFeaturesOutput(BaseModelOutputWithPooling):
    r"""
    pooler_output (`(batch_size, projection_dim)`): the mean over time of CLIP's projected frame features.
    frame_embeds (`(batch_size, num_frames, projection_dim)`): `get_image_features` of every frame.
    """

    frame_embeds: torch.FloatTensor | None = None


@dataclass
class XCLIPVideoFeaturesOutput(BaseModelOutputWithPooling):
    r"""
    pooler_output (`(batch_size, projection_dim)`): X-CLIP's video embedding (`XCLIPModel.get_video_features`).
    last_hidden_state (`(batch_size * num_frames, sequence_length, hidden_size)`): the vision tower's states.
    prompt_visual_features (`(batch_size, num_patches, projection_dim)`): the frame-averaged, projected patch
        features the prompt generator attends to (as `XCLIPModel.forward` computes them).
    """

    prompt_visual_features: torch.FloatTensor | None = None


class _BaselineMixin(ZeroShotVideoModelMixin):
    """The contract's members shared by the adapters: the contrastive forward and the remote-code save."""

    trainable_name_markers = ()  # baselines are evaluated as released: nothing is trained

    def save_pretrained(self, save_directory, *args, **kwargs):
        # The config is transformers' own (CLIPConfig / XCLIPConfig): only this module is bundled, and the
        # auto_map names only the video head, so AutoConfig / AutoModel still read the checkpoint natively.
        self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), **self.remote_code_auto_map}
        result = PreTrainedModel.save_pretrained(self, save_directory, *args, **kwargs)
        if kwargs.get("is_main_process", True):
            write_remote_code([type(self).__module__], save_directory)
        return result

    def _video_text_forward(self, pixel_values, input_ids, attention_mask, labels, return_dict):
        video_outputs = self.get_video_features(pixel_values)
        text = self.get_text_features(input_ids, attention_mask, video_outputs=video_outputs).pooler_output
        video_embeds = F.normalize(video_outputs.pooler_output, dim=-1)
        text_embeds = F.normalize(text, dim=-1)
        if text_embeds.ndim == 3:  # one text embedding per video and class
            logits_per_video = self.logit_scale.exp() * torch.einsum("be,bke->bk", video_embeds, text_embeds)
        else:
            logits_per_video = self.logit_scale.exp() * video_embeds @ text_embeds.t()
        loss = None if labels is None else soft_target_cross_entropy(logits_per_video, labels)
        output = BaselineVideoOutput(
            loss=loss,
            logits=logits_per_video,
            logits_per_video=logits_per_video,
            logits_per_text=logits_per_video.t(),
            video_embeds=video_embeds,
            text_embeds=text_embeds,
            loss_cross_entropy=loss,
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        return output if return_dict else output.to_tuple()


# ----------------------------------------------------------------------------------------------------------------
# Frozen CLIP
# ----------------------------------------------------------------------------------------------------------------


class FrozenCLIPForVideoClassification(_BaselineMixin, CLIPModel):
    """A transformers `CLIPModel`, frozen, scoring videos by the mean of its image features over the frames.

        model = FrozenCLIPForVideoClassification.from_clip("openai/clip-vit-base-patch16", num_frames=8)

    `from_pretrained` of any CLIP checkpoint works too; `config.num_frames` (default 8) is the clip length the
    processor samples (no weight depends on it). Zero-shot scale: the checkpoint's `logit_scale.exp()` (100).
    """

    zero_shot_templates = FROZEN_CLIP_TEMPLATES
    remote_code_auto_map = {"AutoModelForVideoClassification": "baselines.FrozenCLIPForVideoClassification"}

    def __init__(self, config):
        super().__init__(config)
        self.apply_trainable_set()

    @property
    def num_frames(self) -> int:
        return int(getattr(self.config, "num_frames", None) or FROZEN_CLIP_NUM_FRAMES)

    @classmethod
    def from_clip(cls, clip_name_or_path: str, num_frames: int = FROZEN_CLIP_NUM_FRAMES, **kwargs):
        """Any CLIP checkpoint (Hub id or folder) as a frozen video classifier sampling `num_frames` frames.

        Keyword arguments go to `from_pretrained` (`dtype`, `revision`, `local_files_only`, ...).
        """
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
            raise ValueError(f"num_frames must be a positive integer, got {num_frames!r}")
        # the clip length is saved with the checkpoint's config, so a saved directory samples the same frames
        config_dict = load_clip_config(clip_name_or_path, kwargs).to_dict()
        config = CLIPConfig.from_dict({**config_dict, "num_frames": num_frames})
        return cls.from_pretrained(clip_name_or_path, config=config, **kwargs)

    def get_video_features(self, pixel_values: torch.Tensor, **kwargs) -> FrozenCLIPVideoFeaturesOutput:
        """(B, T, 3, H, W) -> `pooler_output` (B, E): the mean over T of `CLIPModel.get_image_features`."""
        return frame_mean_video_features(self, pixel_values, FrozenCLIPVideoFeaturesOutput, **kwargs)

    def get_text_features(self, input_ids, attention_mask=None, video_outputs=None, **kwargs) -> BaseModelOutputWithPooling:
        """(K, L) -> `pooler_output` (K, E): `CLIPModel.get_text_features` (the text ignores the video)."""
        return CLIPModel.get_text_features(self, input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    def forward(self, pixel_values, input_ids, attention_mask=None, labels=None, return_dict=None, **kwargs):
        """Contract forward: (B, T, 3, H, W) clips against (K, L) texts -> `logits` (B, K)."""
        return self._video_text_forward(pixel_values, input_ids, attention_mask, labels, return_dict)


# ----------------------------------------------------------------------------------------------------------------
# X-CLIP
# ----------------------------------------------------------------------------------------------------------------


class XCLIPForVideoClassification(_BaselineMixin, XCLIPModel):
    """A transformers `XCLIPModel` behind the family contract, frozen, with its video-conditioned text.

        model = XCLIPForVideoClassification.from_pretrained("microsoft/xclip-base-patch16-zero-shot")

    Frames per clip: the checkpoint's `vision_config.num_frames` (its message and MIT layers are built for it).
    Zero-shot scale: the checkpoint's `logit_scale.exp()`, as `XCLIPModel.forward`.
    """

    text_depends_on_video = True
    zero_shot_templates = XCLIP_TEMPLATES
    remote_code_auto_map = {"AutoModelForVideoClassification": "baselines.XCLIPForVideoClassification"}

    def __init__(self, config):
        super().__init__(config)
        self.apply_trainable_set()

    @property
    def num_frames(self) -> int:
        return int(self.config.vision_config.num_frames)

    def get_video_features(self, pixel_values: torch.Tensor, **kwargs) -> XCLIPVideoFeaturesOutput:
        """(B, T, 3, H, W) -> `pooler_output` (B, E) and the prompt generator's visual input, as `XCLIPModel.forward`."""
        if pixel_values.ndim != 5 or pixel_values.shape[1] != self.num_frames:
            raise ValueError(
                f"pixel_values must have shape (batch, {self.num_frames}, 3, height, width) (X-CLIP is built for "
                f"{self.num_frames} frames); got {tuple(pixel_values.shape)}"
            )
        batch_size, num_frames = pixel_values.shape[:2]
        outputs = XCLIPModel.get_video_features(self, pixel_values=pixel_values, **kwargs)
        patches = self.prompts_visual_layernorm(outputs.last_hidden_state[:, 1:, :]) @ self.prompts_visual_projection
        patches = patches.view(batch_size, num_frames, -1, outputs.pooler_output.shape[-1]).mean(dim=1)
        return XCLIPVideoFeaturesOutput(
            last_hidden_state=outputs.last_hidden_state,
            pooler_output=outputs.pooler_output,
            prompt_visual_features=patches,
        )

    def get_text_features(self, input_ids, attention_mask=None, video_outputs=None, **kwargs) -> BaseModelOutputWithPooling:
        """(K, L) and the video's outputs -> `pooler_output` (B, K, E): each class text plus X-CLIP's prompt for
        each video. Without `video_outputs` there is no X-CLIP text embedding to give (ValueError)."""
        if video_outputs is None or getattr(video_outputs, "prompt_visual_features", None) is None:
            raise ValueError(
                "X-CLIP's text embedding depends on the video: pass video_outputs=model.get_video_features(pixel_values)"
            )
        text = XCLIPModel.get_text_features(self, input_ids=input_ids, attention_mask=attention_mask, **kwargs).pooler_output
        visual = video_outputs.prompt_visual_features
        text = text.unsqueeze(0).expand(visual.shape[0], -1, -1)
        return BaseModelOutputWithPooling(pooler_output=text + self.prompts_generator(text, visual))

    def forward(self, pixel_values, input_ids, attention_mask=None, labels=None, return_dict=None, **kwargs):
        """Contract forward: (B, T, 3, H, W) clips against (K, L) texts -> `logits` (B, K)."""
        return self._video_text_forward(pixel_values, input_ids, attention_mask, labels, return_dict)


def register() -> None:
    """Map CLIPConfig and XCLIPConfig to the adapters in AutoModelForVideoClassification (idempotent).

    transformers maps neither config in that Auto class, so nothing of transformers' own is replaced; AutoModel
    keeps giving `CLIPModel` / `XCLIPModel`.
    """
    from transformers import AutoModelForVideoClassification, CLIPConfig, XCLIPConfig

    AutoModelForVideoClassification.register(CLIPConfig, FrozenCLIPForVideoClassification, exist_ok=True)
    AutoModelForVideoClassification.register(XCLIPConfig, XCLIPForVideoClassification, exist_ok=True)


__all__ = [
    "BaselineVideoOutput",
    "FrozenCLIPForVideoClassification",
    "FrozenCLIPVideoFeaturesOutput",
    "XCLIPForVideoClassification",
    "XCLIPVideoFeaturesOutput",
    "register",
]
