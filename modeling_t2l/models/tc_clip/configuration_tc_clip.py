"""TC-CLIP model configuration: CLIP's text and vision sub-configs plus the fields TC-CLIP adds.

TC-CLIP ("Leveraging Temporal Contextualization for Video Action Recognition", ECCV 2024, arXiv 2404.09490) is a fully
fine-tuned CLIP with Temporal Contextualization in the vision tower and Video-conditional Prompting in the text
tower. Every default here is the behaviour of the official code and its released ViT-B/16 checkpoints.
"""
from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import CLIPTextConfig, CLIPVisionConfig, PreTrainedConfig


@strict
class TCCLIPConfig(PreTrainedConfig):
    r"""
    Configuration of a TC-CLIP model.

    Args:
        text_config (`dict` or `CLIPTextConfig`): the CLIP text tower (`eos_token_id` 49407: pooling is at the
            end-of-text token).
        vision_config (`dict` or `CLIPVisionConfig`): the CLIP vision tower.
        projection_dim (`int`, defaults to 512): dimension of the shared video-text embedding space; also the width
            of the context tokens the video-conditional prompts attend to.
        logit_scale_init_value (`float`, defaults to 4.6052): initial `logit_scale` (ln 100, OpenAI CLIP's value;
            trainable, and converted checkpoints carry their own).
        num_frames (`int`, defaults to 16): frames per clip the released models were trained with and the
            processor samples. No weight depends on it: the model runs on any number of frames.
        context_tokens (`int`, defaults to 96): k, the context tokens per video and layer (fewer when the video has
            fewer seed tokens than k: then every seed is a context token).
        seed_ratio (`float`, defaults to 0.3): seed tokens per frame, `int(num_patches * seed_ratio)` (58 of 196).
        merge_r (`int`, defaults to 100): at most this many merges per bipartite-matching round (ToMe's r).
        use_local_global_bias (`bool`, defaults to `True`): a learnable per-head bias on the attention logits of
            local (own-frame) keys and of context keys, in every vision layer but the first.
        num_prompt_context (`int`, defaults to 4): learnable prompt vectors, at token positions 1..n of every prompt.
        prompt_context_init (`str`, defaults to `"a photo of a"`): the words whose token embeddings initialise the
            prompt vectors; prompts are this text, a space, the class name and ".", with the words replaced by the
            learned vectors ("X X X X {class}.").
        vp_levels (`list[int]`, *optional*): 0-based text layers preceded by a video-conditional prompting block,
            each fed the context tokens of the vision layer with the same index; strictly ascending. `None`
            (official) means the last text layer only.
        detach_context_tokens (`bool`, defaults to `True`): stop the text side's gradient at the context tokens
            (official `im_stop_grad`).
        vp_init (`str`, defaults to `"clip"`): how `from_clip` initialises the prompting blocks: `"clip"` copies
            the text layer at the same level (the key/value LayerNorm copies its query LayerNorm), `"random"` keeps
            the generic initialisation.
        fp16_token_embeddings (`bool`, defaults to `True`): round the looked-up token embeddings through fp16 before
            the text tower, as the official prompt learner stores them (lossless for OpenAI CLIP's fp16 weights).
        parse_capitals (`bool`, defaults to `True`): the official class-name preprocessing puts a space before every
            capital letter of every dataset's class names ("ApplyEyeMakeup" -> "Apply Eye Makeup", and also
            "BMX" -> "B M X"); `False` keeps names as given (only `_` becomes a space).
        context_length (`int`, defaults to 30): text length the official prompts are padded to (77 for the
            LLM-rephrased class names); the official tokenizer refuses longer prompts. The model itself takes any
            length up to `text_config.max_position_embeddings`, and padding does not change its outputs.
        label_smoothing (`float`, defaults to 0.1): smoothing of integer `labels` in the classification loss, and
            of the one-hot targets the mixup/cutmix blending mixes (see `losses.py`).
        mixup_alpha (`float`, defaults to 0.8): training batches are blended with mixup, lambda ~ Beta(alpha,
            alpha) (`training_batch_transform`); 0 turns mixup off.
        cutmix_alpha (`float`, defaults to 1.0): cutmix's Beta(alpha, alpha); 0 turns cutmix off. With both
            alphas 0 training uses label-smoothed cross-entropy on the clips as they are.
        mixup_switch_prob (`float`, defaults to 0.5): probability of cutmix rather than mixup for a batch when
            both are on.
        wise_ft_alpha (`float`, *optional*): the official zero-shot evaluation's second pass blends the weights as
            `(1 - alpha) * CLIP + alpha * TC-CLIP` with alpha 0.7 (`wise_ft_state_dict`); recorded here when a
            checkpoint holds blended weights, `None` otherwise. It changes nothing in the forward pass.
        initializer_range (`float`, defaults to 0.02): std of the generic initialisation and of the local-global
            bias (the official truncated normal).
        initializer_factor (`float`, defaults to 1.0): CLIP's initialisation factor.
    """

    model_type = "tc_clip"
    sub_configs_defaults = {"text_config": CLIPTextConfig, "vision_config": CLIPVisionConfig}

    text_config: dict | PreTrainedConfig | None = None
    vision_config: dict | PreTrainedConfig | None = None
    projection_dim: int = 512
    logit_scale_init_value: float = 4.6052
    num_frames: int = 16
    context_tokens: int = 96
    seed_ratio: float = 0.3
    merge_r: int = 100
    use_local_global_bias: bool = True
    num_prompt_context: int = 4
    prompt_context_init: str = "a photo of a"
    vp_levels: list[int] | None = None
    detach_context_tokens: bool = True
    vp_init: str = "clip"
    fp16_token_embeddings: bool = True
    parse_capitals: bool = True
    context_length: int = 30
    label_smoothing: float = 0.1
    mixup_alpha: float = 0.8
    cutmix_alpha: float = 1.0
    mixup_switch_prob: float = 0.5
    wise_ft_alpha: float | None = None
    initializer_range: float = 0.02
    initializer_factor: float = 1.0

    def __post_init__(self, **kwargs):
        # CLIP's sub-configs default to eos_token_id 2 (legacy) and ViT-B/32; every TC-CLIP release is ViT-B/16
        # pooling at OpenAI CLIP's end-of-text id.
        if self.text_config is None:
            self.text_config = {"eos_token_id": 49407, "bos_token_id": 49406, "pad_token_id": 49407}
        if self.vision_config is None:
            self.vision_config = {"patch_size": 16}
        super().__post_init__(**kwargs)

    def validate_tc_clip_fields(self):
        """Part of `@strict` validation: every TC-CLIP field names its allowed values when it is wrong."""
        for name in ("num_frames", "context_tokens", "merge_r", "num_prompt_context", "context_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.seed_ratio, (int, float)) or isinstance(self.seed_ratio, bool) or not 0 < self.seed_ratio <= 1:
            raise ValueError(f"seed_ratio must be a number in (0, 1], got {self.seed_ratio!r}")
        grid = self.vision_config.image_size // self.vision_config.patch_size
        if int(grid * grid * self.seed_ratio) < 1:
            raise ValueError(f"seed_ratio {self.seed_ratio} selects no seed token among {grid * grid} patches per frame")
        if self.vp_init not in ("clip", "random"):
            raise ValueError(f"vp_init must be one of 'clip', 'random'; got {self.vp_init!r}")
        if len(self.prompt_context_init.split()) != self.num_prompt_context:
            raise ValueError(
                f"prompt_context_init {self.prompt_context_init!r} has {len(self.prompt_context_init.split())} words "
                f"but num_prompt_context is {self.num_prompt_context}: the official prompt vectors are one per word"
            )
        depth = min(self.text_config.num_hidden_layers, self.vision_config.num_hidden_layers)
        levels = self.resolved_vp_levels
        if not levels or any(not isinstance(level, int) or not 0 <= level < depth for level in levels):
            raise ValueError(f"vp_levels must be text layer indices in [0, {depth - 1}] (vision layers of the same index feed them); got {levels!r}")
        if sorted(set(levels)) != list(levels):
            raise ValueError(f"vp_levels must be strictly ascending, got {levels!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        for name in ("mixup_alpha", "cutmix_alpha"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a number >= 0 (0 turns it off), got {value!r}")
        if not 0.0 <= self.mixup_switch_prob <= 1.0:
            raise ValueError(f"mixup_switch_prob must be in [0, 1], got {self.mixup_switch_prob!r}")
        if self.wise_ft_alpha is not None and not 0.0 <= self.wise_ft_alpha <= 1.0:
            raise ValueError(f"wise_ft_alpha must be None or in [0, 1], got {self.wise_ft_alpha!r}")

    @property
    def resolved_vp_levels(self) -> list[int]:
        """The 0-based text layers with a prompting block (official: the last one)."""
        if self.vp_levels is None:
            return [self.text_config.num_hidden_layers - 1]
        return list(self.vp_levels)

    @property
    def num_patches(self) -> int:
        return (self.vision_config.image_size // self.vision_config.patch_size) ** 2

    @property
    def seeds_per_frame(self) -> int:
        """s = int(num_patches * seed_ratio), computed as the official code does (58 for 196 patches and 0.3)."""
        return int(self.num_patches * self.seed_ratio)


def split_capitals(name: str) -> str:
    """The official class-name quirk: a space before every capital letter, then strip ("BMX" -> "B M X")."""
    import re

    return re.sub(r"([A-Z])", r" \1", name).strip()


def class_name_to_text(name: str, parse_capitals: bool = True) -> str:
    """Official preprocessing of one class name: the capital split (when `parse_capitals`), then `_` -> space.

    Double spaces the split may create are collapsed later by the tokenizer's whitespace cleaning.
    """
    if parse_capitals:
        name = split_capitals(name)
    return name.replace("_", " ")


def prompt_texts(class_names, config: TCCLIPConfig | None = None) -> list[str]:
    """The official prompt of every class: `"a photo of a " + name + "."` (positions 1..n become prompt vectors)."""
    config = config if config is not None else TCCLIPConfig()
    return [f"{config.prompt_context_init} {class_name_to_text(name, config.parse_capitals)}." for name in class_names]


__all__ = ["TCCLIPConfig", "class_name_to_text", "prompt_texts", "split_capitals"]
