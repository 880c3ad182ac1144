"""T2L model configuration: CLIP's text and vision sub-configs plus the fields T2L adds."""
from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import CLIPTextConfig, CLIPVisionConfig, PreTrainedConfig

CONTRASTIVE_LOSSES = ("kl", "cross_entropy")
TFD_VARIANCES = ("unbiased", "biased")
DROP_PATH_MODES = ("per_token", "per_sample")


@strict
class T2LConfig(PreTrainedConfig):
    r"""
    Configuration of a T2L model (frozen CLIP + per-layer temporal tokens + bottleneck adapters).

    The defaults reproduce the official T2L code. Paper variants are named options, off by default.

    Args:
        text_config (`dict` or `CLIPTextConfig`): the CLIP text tower.
        vision_config (`dict` or `CLIPVisionConfig`): the CLIP vision tower.
        projection_dim (`int`, defaults to 512): dimension of the shared video-text embedding space.
        logit_scale_init_value (`float`, defaults to 2.6592): initial `logit_scale` (CLIP's ln(1/0.07)); CLIP
            checkpoints overwrite it (ln(100) for OpenAI CLIP). Frozen, as in the official code.
        num_frames (`int`, defaults to 8): frames per clip, T. Baked into the temporal-token shape (T, D).
        use_temporal_tokens (`bool`, defaults to `True`): build a temporal token per frame in the vision layers.
        temporal_tokens_in_all_layers (`bool`, defaults to `True`): official: every vision layer gets its own
            temporal tokens. `False` is the paper's ablation: the first layer only.
        temporal_token_dropout (`float`, defaults to 0.1): dropout on the learnable temporal prompt (training only).
        adapter_ratio (`float`, defaults to 0.25): bottleneck width / tower width (768 -> 192, 512 -> 128).
        use_visual_adapters (`bool`, defaults to `True`): a bottleneck adapter in every vision layer.
        use_text_adapters (`bool`, defaults to `True`): a bottleneck adapter in every text layer.
        drop_path_rate (`float`, defaults to 0.1): stochastic depth, linear from 0 over the layers of each tower;
            the same per-layer rate is the attention-probability dropout, as in the official code.
        drop_path_mode (`str`, defaults to `"per_token"`): the official DropPath draws its mask per token position
            (shared across the batch) because its tensors are sequence-first; `"per_sample"` is the usual one.
        attention_dropout (`float`, *optional*): attention-probability dropout in training. `None` (official) uses
            each layer's drop-path rate. On CPU it is computed without storing the attention matrices (the SDPA
            math kernel's computation and distribution of masks, `modeling_t2l/attention_dropout.py`); on CUDA
            SDPA's fused kernels apply it. 0.0 switches it off (no random mask to draw: the fastest, not the official recipe).
        tfd_loss_weight (`float`, defaults to 1.0): weight of the temporal feature diversity (TFD) loss.
        contrastive_loss (`str`, defaults to `"kl"`): `"kl"` (official: symmetric KL to soft label-equality
            targets on the B x B video-text matrix) or `"cross_entropy"` (paper eq. 1: over the text rows).
        tfd_variance (`str`, defaults to `"unbiased"`): variance over time in TFD, `"unbiased"` (official, 1/(T-1))
            or `"biased"` (paper eq. 8, 1/T).
        eval_logit_scale (`float`, defaults to 100.0): the fixed scale of zero-shot probabilities
            softmax(scale * cos(video, text)), as the official test code uses.
        initializer_range (`float`, defaults to 0.02): std of the generic weight initialisation.
        initializer_factor (`float`, defaults to 1.0): CLIP's initialisation factor.
    """

    model_type = "t2l"
    # Trainer's evaluation loop gathers every output tensor; the towers' raw states are not predictions
    keys_to_ignore_at_inference = ["text_model_output", "vision_model_output"]
    sub_configs_defaults = {"text_config": CLIPTextConfig, "vision_config": CLIPVisionConfig}

    text_config: dict | PreTrainedConfig | None = None
    vision_config: dict | PreTrainedConfig | None = None
    projection_dim: int = 512
    logit_scale_init_value: float = 2.6592
    num_frames: int = 8
    use_temporal_tokens: bool = True
    temporal_tokens_in_all_layers: bool = True
    temporal_token_dropout: float = 0.1
    adapter_ratio: float = 0.25
    use_visual_adapters: bool = True
    use_text_adapters: bool = True
    drop_path_rate: float = 0.1
    drop_path_mode: str = "per_token"
    attention_dropout: float | None = None
    tfd_loss_weight: float = 1.0
    contrastive_loss: str = "kl"
    tfd_variance: str = "unbiased"
    eval_logit_scale: float = 100.0
    initializer_range: float = 0.02
    initializer_factor: float = 1.0

    def validate_t2l_fields(self):
        """Part of `@strict` validation: every T2L field names its allowed values when it is wrong."""
        _check_choice("contrastive_loss", self.contrastive_loss, CONTRASTIVE_LOSSES)
        _check_choice("tfd_variance", self.tfd_variance, TFD_VARIANCES)
        _check_choice("drop_path_mode", self.drop_path_mode, DROP_PATH_MODES)
        if not isinstance(self.num_frames, int) or isinstance(self.num_frames, bool) or self.num_frames < 1:
            raise ValueError(f"num_frames must be a positive integer, got {self.num_frames!r}")
        if self.tfd_variance == "unbiased" and self.num_frames < 2 and self.tfd_loss_weight:
            raise ValueError("num_frames must be at least 2 for the unbiased TFD variance (or set tfd_loss_weight=0)")
        for name in ("adapter_ratio", "temporal_token_dropout", "drop_path_rate", "tfd_loss_weight", "eval_logit_scale"):
            if not isinstance(getattr(self, name), (int, float)) or isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a number, got {getattr(self, name)!r}")
        if not 0.0 < self.adapter_ratio <= 1.0:
            raise ValueError(f"adapter_ratio must be in (0, 1], got {self.adapter_ratio!r}")
        if self.attention_dropout is not None and not 0.0 <= self.attention_dropout < 1.0:
            raise ValueError(f"attention_dropout must be None or in [0, 1), got {self.attention_dropout!r}")
        for name in ("temporal_token_dropout", "drop_path_rate"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        for name in ("tfd_loss_weight", "eval_logit_scale", "initializer_range"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")


def adapter_hidden_size(width: int, ratio: float) -> int:
    """Bottleneck width of an adapter in a tower of `width` (official: int(width * 0.25))."""
    return max(1, int(width * ratio))


__all__ = ["T2LConfig"]
