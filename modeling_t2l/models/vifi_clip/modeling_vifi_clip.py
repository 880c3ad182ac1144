"""PyTorch ViFi-CLIP: an unmodified CLIP over every frame, frame embeddings averaged over time, fully fine-tuned.

Reads top to bottom: output dataclasses, the pre-trained base, `ViFiCLIPModel`, `ViFiCLIPForVideoClassification`.
The towers are transformers' own `CLIPModel` (ViFi-CLIP adds no parameter), inherited as transformers' modular
files would, so every CLIP checkpoint loads with no key reported, and a converted ViFi-CLIP checkpoint is a
`CLIPModel` state dict (spec: tc_clip_reference.md §11).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import CLIPModel
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.models.clip.modeling_clip import CLIPPreTrainedModel
from transformers.utils import ModelOutput

from ...losses import soft_target_cross_entropy
from ...modeling_utils import ZeroShotVideoModelMixin, frame_mean_video_features
from .configuration_vifi_clip import ViFiCLIPConfig

ZERO_SHOT_TEMPLATES = ("a photo of a {}.",)
"""ViFi-CLIP's text: the hand-written prompt used as a literal prefix of every class name (official CTX_INIT)."""


@dataclass
class ViFiCLIPOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`, returned with `labels`):
        Same as `loss_cross_entropy`, ViFi-CLIP's only loss.
    logits (`torch.FloatTensor` of shape `(batch_size, num_texts)`):
        Same as `logits_per_video`; the name `Trainer` and metrics look for.
    logits_per_video (`torch.FloatTensor` of shape `(batch_size, num_texts)`):
        `logit_scale.exp()` times the cosine similarity of every video with every text row.
    logits_per_text (`torch.FloatTensor` of shape `(num_texts, batch_size)`):
        The transpose of `logits_per_video`.
    video_embeds (`torch.FloatTensor` of shape `(batch_size, projection_dim)`):
        L2-normalised video embeddings (mean of the frame embeddings over time, then normalised).
    text_embeds (`torch.FloatTensor` of shape `(num_texts, projection_dim)`):
        L2-normalised text embeddings.
    frame_embeds (`torch.FloatTensor` of shape `(batch_size, num_frames, projection_dim)`):
        Projected per-frame embeddings, not normalised.
    loss_cross_entropy (`torch.FloatTensor` of shape `()`, returned with `labels`):
        Cross-entropy over the text rows: label-smoothed for class ids, soft-target for (B, K) mixup targets.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    logits_per_video: torch.FloatTensor | None = None
    logits_per_text: torch.FloatTensor | None = None
    video_embeds: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    frame_embeds: torch.FloatTensor | None = None
    loss_cross_entropy: torch.FloatTensor | None = None


@dataclass
class ViFiCLIPVideoFeaturesOutput(BaseModelOutputWithPooling):
    r"""
    pooler_output (`torch.FloatTensor` of shape `(batch_size, projection_dim)`):
        The video embedding: the mean of the projected frame embeddings over time, not normalised.
    frame_embeds (`torch.FloatTensor` of shape `(batch_size, num_frames, projection_dim)`):
        Projected per-frame embeddings, not normalised.
    """

    frame_embeds: torch.FloatTensor | None = None


class ViFiCLIPPreTrainedModel(ZeroShotVideoModelMixin, CLIPPreTrainedModel):
    """CLIP's initialisation and attention backends; the family contract with every parameter trained."""

    config: ViFiCLIPConfig
    config_class = ViFiCLIPConfig
    base_model_prefix = "vifi_clip"
    main_input_name = "pixel_values"
    input_modalities = ("video", "text")
    trainable_name_markers = None  # full fine-tuning of both towers and logit_scale (official `USE: both`)
    zero_shot_templates = ZERO_SHOT_TEMPLATES
    remote_code_auto_map = {
        "AutoConfig": "configuration_vifi_clip.ViFiCLIPConfig",
        "AutoModel": "modeling_vifi_clip.ViFiCLIPModel",
        "AutoModelForVideoClassification": "modeling_vifi_clip.ViFiCLIPForVideoClassification",
    }


class ViFiCLIPModel(ViFiCLIPPreTrainedModel, CLIPModel):
    """ViFi-CLIP: `CLIPModel` with video inputs. Parameter names are CLIP's (`text_model.*`, `vision_model.*`,
    `visual_projection`, `text_projection`, `logit_scale`); `CLIPModel.__init__` builds them."""

    def get_video_features(self, pixel_values: torch.Tensor, **kwargs) -> ViFiCLIPVideoFeaturesOutput:
        """(B, T, 3, H, W) -> `pooler_output` (B, E): the mean over T of CLIP's projected frame features."""
        return frame_mean_video_features(self, pixel_values, ViFiCLIPVideoFeaturesOutput, **kwargs)

    def get_text_features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, video_outputs=None, **kwargs
    ) -> BaseModelOutputWithPooling:
        """(K, L) token ids -> `pooler_output` (K, E): CLIP's projected text features (the text ignores the video)."""
        return CLIPModel.get_text_features(self, input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    def forward(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> ViFiCLIPOutput | tuple:
        r"""
        pixel_values (`(batch_size, num_frames, 3, height, width)`): the clips, video-major.
        input_ids (`(num_texts, sequence_length)`): one text per class ("a photo of a {class}.").
        labels (`(batch_size,)` class ids or `(batch_size, num_texts)` soft targets, *optional*): returns the loss.
        """
        video = self.get_video_features(pixel_values)
        video_embeds = F.normalize(video.pooler_output, dim=-1)
        text_embeds = F.normalize(self.get_text_features(input_ids, attention_mask).pooler_output, dim=-1)
        logits_per_video = self.logit_scale.exp() * video_embeds @ text_embeds.t()

        loss = None
        if labels is not None:
            loss = soft_target_cross_entropy(logits_per_video, labels, label_smoothing=self.config.label_smoothing)
        output = ViFiCLIPOutput(
            loss=loss,
            logits=logits_per_video,
            logits_per_video=logits_per_video,
            logits_per_text=logits_per_video.t(),
            video_embeds=video_embeds,
            text_embeds=text_embeds,
            frame_embeds=video.frame_embeds,
            loss_cross_entropy=loss,
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        return output if return_dict else output.to_tuple()


class ViFiCLIPForVideoClassification(ViFiCLIPPreTrainedModel):
    """ViFi-CLIP for zero-shot and fine-tuned video classification: the class users train and classify with.

    Classes are text: `forward` scores every video against the text rows it is given (`logits`, (B, K)).
    """

    def __init__(self, config: ViFiCLIPConfig):
        super().__init__(config)
        self.vifi_clip = ViFiCLIPModel(config)
        self.post_init()

    def get_video_features(self, pixel_values: torch.Tensor, **kwargs) -> ViFiCLIPVideoFeaturesOutput:
        return self.vifi_clip.get_video_features(pixel_values, **kwargs)

    def get_text_features(self, input_ids, attention_mask=None, video_outputs=None, **kwargs) -> BaseModelOutputWithPooling:
        return self.vifi_clip.get_text_features(input_ids, attention_mask, video_outputs=video_outputs, **kwargs)

    def forward(self, pixel_values, input_ids, attention_mask=None, labels=None, return_dict=None, **kwargs):
        return self.vifi_clip(pixel_values, input_ids, attention_mask, labels=labels, return_dict=return_dict)

    @classmethod
    def from_clip(cls, clip_name_or_path: str, num_frames: int = 32, **kwargs):
        """Build ViFi-CLIP from any transformers CLIP checkpoint (Hub id or local directory): the mixin's `from_clip`.

        Keyword arguments that are `ViFiCLIPConfig` fields override the config; the others go to
        `from_pretrained` (`dtype`, `revision`, `local_files_only`, `output_loading_info`, ...). Every parameter
        is CLIP's and every one is trained.
        """
        return super().from_clip(clip_name_or_path, num_frames=num_frames, **kwargs)


__all__ = [
    "ViFiCLIPForVideoClassification",
    "ViFiCLIPModel",
    "ViFiCLIPOutput",
    "ViFiCLIPPreTrainedModel",
    "ViFiCLIPVideoFeaturesOutput",
]
