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
from ...modeling_utils import ZeroShotVideoModelMixin
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
    text_model_output (`BaseModelOutputWithPooling`):
        CLIP's text tower output (`get_text_features`), with `hidden_states` / `attentions` when asked for.
    vision_model_output (`BaseModelOutputWithPooling`):
        CLIP's vision tower output on the B * T frames (`get_image_features`, frame-major per video), with
        `hidden_states` / `attentions` when asked for.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    logits_per_video: torch.FloatTensor | None = None
    logits_per_text: torch.FloatTensor | None = None
    video_embeds: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    frame_embeds: torch.FloatTensor | None = None
    loss_cross_entropy: torch.FloatTensor | None = None
    text_model_output: BaseModelOutputWithPooling | None = None
    vision_model_output: BaseModelOutputWithPooling | None = None

    def to_tuple(self) -> tuple:
        return tuple(
            v.to_tuple() if k in ("text_model_output", "vision_model_output") else v for k, v in self.items()
        )


@dataclass
class ViFiCLIPVideoFeaturesOutput(BaseModelOutputWithPooling):
    r"""
    pooler_output (`torch.FloatTensor` of shape `(batch_size, projection_dim)`):
        The video embedding: the mean of the projected frame embeddings over time, not normalised.
    last_hidden_state (`torch.FloatTensor` of shape `(batch_size, num_frames, sequence_length, hidden_size)`):
        CLIP's vision tower states of every frame, per video; `hidden_states` and `attentions` (when asked for)
        are per video and frame in the same way.
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

    def get_input_embeddings(self) -> torch.nn.Embedding:
        """The text tower's token table (ViFi-CLIP trains it with the rest of CLIP)."""
        return self.text_model.get_input_embeddings()

    def set_input_embeddings(self, value: torch.nn.Embedding) -> None:
        self.text_model.set_input_embeddings(value)

    def _output_flags(self, output_attentions: bool | None, output_hidden_states: bool | None) -> dict:
        """The flags CLIP's towers are called with: only those given (None: the towers' configs decide)."""
        flags = {"output_attentions": output_attentions, "output_hidden_states": output_hidden_states}
        return {key: value for key, value in flags.items() if value is not None}

    def _frames(self, pixel_values: torch.Tensor, output_attentions=None, output_hidden_states=None):
        """(B, T, 3, H, W) -> (frame embeddings (B, T, E), CLIP's vision output on the B * T frames)."""
        if pixel_values.ndim != 5:
            raise ValueError(
                f"pixel_values must have shape (batch, frames, 3, height, width); got {tuple(pixel_values.shape)}"
            )
        batch_size, num_frames = pixel_values.shape[:2]
        frames = CLIPModel.get_image_features(
            self, pixel_values=pixel_values.flatten(0, 1), return_dict=True,
            **self._output_flags(output_attentions, output_hidden_states),
        )
        return frames.pooler_output.view(batch_size, num_frames, -1), frames

    def get_video_features(
        self,
        pixel_values: torch.Tensor,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> ViFiCLIPVideoFeaturesOutput | tuple:
        """(B, T, 3, H, W) -> `pooler_output` (B, E): the mean over T of CLIP's projected frame features.

        `last_hidden_state` (B, T, N, D) and, with `output_hidden_states` / `output_attentions`, the per-layer
        tensors ((B, T, N, D) and (B, T, heads, N, N)) are CLIP's vision tower's, per video and frame.
        """
        frame_embeds, frames = self._frames(pixel_values, output_attentions, output_hidden_states)
        per_video = lambda tensor: tensor.unflatten(0, frame_embeds.shape[:2])  # noqa: E731  (B*T, ...) -> (B, T, ...)
        per_layer = lambda tensors: None if tensors is None else tuple(map(per_video, tensors))  # noqa: E731
        output = ViFiCLIPVideoFeaturesOutput(
            last_hidden_state=per_video(frames.last_hidden_state),
            pooler_output=frame_embeds.mean(dim=1),
            hidden_states=per_layer(frames.hidden_states),
            attentions=per_layer(frames.attentions),
            frame_embeds=frame_embeds,
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        return output if return_dict else output.to_tuple()

    def get_text_features(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        video_outputs=None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple:
        """(K, L) token ids -> `pooler_output` (K, E): CLIP's projected text features (the text ignores the video).

        The other fields are CLIP's text tower's (`last_hidden_state` (K, L, D), per-layer tensors when asked for).
        """
        output = CLIPModel.get_text_features(
            self, input_ids=input_ids, attention_mask=attention_mask, return_dict=True,
            **self._output_flags(output_attentions, output_hidden_states),
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        return output if return_dict else output.to_tuple()

    def forward(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> ViFiCLIPOutput | tuple:
        r"""
        pixel_values (`(batch_size, num_frames, 3, height, width)`): the clips, video-major.
        input_ids (`(num_texts, sequence_length)`): one text per class ("a photo of a {class}.").
        labels (`(batch_size,)` class ids or `(batch_size, num_texts)` soft targets, *optional*): returns the loss.
        output_attentions, output_hidden_states (*optional*): per-layer tensors of each tower, in
            `text_model_output` and `vision_model_output` (as CLIP's output carries them). Attention weights
            exist only with the eager backend (`attn_implementation="eager"`).

        Unknown keyword arguments raise TypeError: a misspelt option is never silently ignored.
        """
        frame_embeds, vision_outputs = self._frames(pixel_values, output_attentions, output_hidden_states)
        text_outputs = self.get_text_features(
            input_ids, attention_mask, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states, return_dict=True,
        )
        video_embeds = F.normalize(frame_embeds.mean(dim=1), dim=-1)
        text_embeds = F.normalize(text_outputs.pooler_output, dim=-1)
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
            frame_embeds=frame_embeds,
            loss_cross_entropy=loss,
            text_model_output=text_outputs,
            vision_model_output=vision_outputs,
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

    def get_video_features(
        self, pixel_values, output_attentions=None, output_hidden_states=None, return_dict=None
    ) -> ViFiCLIPVideoFeaturesOutput | tuple:
        """See `ViFiCLIPModel.get_video_features`."""
        return self.vifi_clip.get_video_features(pixel_values, output_attentions, output_hidden_states, return_dict)

    def get_text_features(
        self, input_ids, attention_mask=None, video_outputs=None, output_attentions=None, output_hidden_states=None,
        return_dict=None,
    ) -> BaseModelOutputWithPooling | tuple:
        """See `ViFiCLIPModel.get_text_features`."""
        return self.vifi_clip.get_text_features(
            input_ids, attention_mask, video_outputs, output_attentions, output_hidden_states, return_dict
        )

    def forward(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> ViFiCLIPOutput | tuple:
        """See `ViFiCLIPModel.forward`."""
        return self.vifi_clip(
            pixel_values, input_ids, attention_mask, labels=labels, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states, return_dict=return_dict,
        )

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
