"""ViFi-CLIP model configuration: CLIP's text and vision sub-configs plus the clip length."""
from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import CLIPTextConfig, CLIPVisionConfig, PreTrainedConfig


@strict
class ViFiCLIPConfig(PreTrainedConfig):
    r"""
    Configuration of a ViFi-CLIP model ("Fine-tuned CLIP Models are Efficient Video Learners", CVPR 2023): an
    unmodified CLIP applied to every frame, the video embedding being the mean of the projected frame embeddings.
    There are no new parameters, so any CLIP checkpoint loads into it unchanged; ViFi-CLIP fine-tunes all of them.

    Args:
        text_config (`dict` or `CLIPTextConfig`): the CLIP text tower.
        vision_config (`dict` or `CLIPVisionConfig`): the CLIP vision tower.
        projection_dim (`int`, defaults to 512): dimension of the shared video-text embedding space.
        logit_scale_init_value (`float`, defaults to 2.6592): initial `logit_scale` (CLIP's ln(1/0.07)); CLIP
            checkpoints overwrite it (ln(100) for OpenAI CLIP). Trained, as in the official code.
        num_frames (`int`, defaults to 32): frames per clip, T. No weight depends on it (the frames are averaged);
            it is the clip length the processor samples. The official zero-shot, few-shot and base-to-novel
            configs use 32, the fully supervised ones 16.
        eval_logit_scale (`float`, *optional*): a fixed `scale` for zero-shot probabilities
            softmax(scale * cos(video, text)). `None` (official) uses the trained `logit_scale.exp()`, as
            ViFi-CLIP's test does.
        label_smoothing (`float`, defaults to 0.1): label smoothing of the cross-entropy over the classes when
            `labels` are class ids (official `AUG.LABEL_SMOOTH`); soft `labels` (mixup / cutmix targets, which
            already carry the smoothing) are used as given.
        initializer_range (`float`, defaults to 0.02): std of the generic weight initialisation.
        initializer_factor (`float`, defaults to 1.0): CLIP's initialisation factor.
    """

    model_type = "vifi_clip"
    sub_configs_defaults = {"text_config": CLIPTextConfig, "vision_config": CLIPVisionConfig}

    text_config: dict | PreTrainedConfig | None = None
    vision_config: dict | PreTrainedConfig | None = None
    projection_dim: int = 512
    logit_scale_init_value: float = 2.6592
    num_frames: int = 32
    eval_logit_scale: float | None = None
    label_smoothing: float = 0.1
    initializer_range: float = 0.02
    initializer_factor: float = 1.0

    def validate_vifi_clip_fields(self):
        """Part of `@strict` validation: the clip length and the fixed scale, when given, are checked."""
        if not isinstance(self.num_frames, int) or isinstance(self.num_frames, bool) or self.num_frames < 1:
            raise ValueError(f"num_frames must be a positive integer, got {self.num_frames!r}")
        if self.eval_logit_scale is not None and (
            isinstance(self.eval_logit_scale, bool)
            or not isinstance(self.eval_logit_scale, (int, float))
            or self.eval_logit_scale <= 0
        ):
            raise ValueError(f"eval_logit_scale must be None or a positive number, got {self.eval_logit_scale!r}")
        if isinstance(self.label_smoothing, bool) or not isinstance(self.label_smoothing, (int, float)) or not (
            0.0 <= self.label_smoothing < 1.0
        ):
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")


__all__ = ["ViFiCLIPConfig"]
