"""Convert a checkpoint of the official T2L / EZ-CLIP code into a `T2LForVideoClassification` directory.

The official code saves `torch.save({'epoch', 'model_state_dict', 'optimizer_state_dict'})` with the state dict of
its whole `clip.model.CLIP` (frozen backbone included), attention/MLP/adapter/projection tensors in fp16
(t2l_reference.md §7). This module:

1. loads it with `torch.load(weights_only=True)`, so pickled code in a checkpoint is never executed;
2. accepts the training layout or a bare state dict, strips a DataParallel `module.` prefix, ignores the optimizer
   state and the epoch, casts every floating tensor to fp32;
3. infers every dimension and T from the tensor shapes. The head counts are NOT stored in a checkpoint: the
   official code uses width // 64 for both towers (the vision class hard-codes it, `build_model` infers the text
   one), which is right for every released model; `text_heads` / `vision_heads` override it for models built
   otherwise (the parity fixtures use 1-2 heads at width 64);
4. maps the official keys onto this library's names (`in_proj` split into q/k/v, projections transposed,
   `T_prompt_embeddings[i]` to layer i's `temporal_prompt`, `Adapter.D_fc1/2` to `adapter.fc1/2`, ...) and
   refuses, listing every key, when anything is left unmapped, missing or of the wrong shape, and when a tensor
   holds NaN / Inf or is an integer tensor where a float weight belongs (`modeling_t2l.models.conversion_utils`);
5. writes a directory that `T2LForVideoClassification.from_pretrained` (and the Auto classes) load.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path

import torch

from ..conversion_utils import CLIP_BLOCK_NAMES, ClipLayout, ConversionError, build_converted, check_keys
from ..conversion_utils import clean_state_dict, clip_config_from_shapes, describe_towers, put_converted
from ..conversion_utils import check_tensor_values, read_checkpoint, save_converted
from .configuration_t2l import T2LConfig, adapter_hidden_size

logger = logging.getLogger(__name__)

# The size of OpenAI CLIP's BPE vocabulary, i.e. of the tokenizer bundled with this package.
CLIP_VOCAB_SIZE = 49408
LAYOUT = ClipLayout(vision="visual.", text="")  # OpenAI CLIP's own key layout
# Keys whose shapes the dimensions are read from; without them nothing else can be checked.
ANCHOR_KEYS = (*LAYOUT.shape_keys, LAYOUT.token_embedding)  # the vocabulary size is read from the token table
PROMPT_KEY = "visual.transformer.T_prompt_embeddings"
TEMPORAL_EMBEDDING_KEY = "visual.temporal_embedding"

# T2L's additions inside a block (after `resblocks.{i}.`), besides CLIP's
_BLOCK = {
    **CLIP_BLOCK_NAMES,
    "Adapter.D_fc1.weight": "adapter.fc1.weight",
    "Adapter.D_fc1.bias": "adapter.fc1.bias",
    "Adapter.D_fc2.weight": "adapter.fc2.weight",
    "Adapter.D_fc2.bias": "adapter.fc2.bias",
}
_TRANSPOSED = LAYOUT.transposed


# ----------------------------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------------------------


def load_official_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read an official checkpoint safely and return its model state dict: prefix stripped, fp32."""
    obj = read_checkpoint(path)
    try:
        return extract_state_dict(obj)
    except ConversionError as err:
        raise ConversionError(f"{path}: {err}") from None


def extract_state_dict(obj) -> dict[str, torch.Tensor]:
    """`{'model_state_dict': sd, ...}` (the official training layout) or a bare `sd` -> clean fp32 state dict.

    `optimizer_state_dict`, `epoch` and anything else beside `model_state_dict` are ignored.
    """
    return clean_state_dict(obj, "model_state_dict")


# ----------------------------------------------------------------------------------------------------------------
# configuration from shapes
# ----------------------------------------------------------------------------------------------------------------


def _adapter_ratio(state_dict, vision_width: int, text_width: int) -> float:
    """The ratio whose `adapter_hidden_size` reproduces both towers' adapter widths (official: 0.25)."""
    key_v = "visual.transformer.resblocks.0.Adapter.D_fc1.weight"
    key_t = "transformer.resblocks.0.Adapter.D_fc1.weight"
    hidden_v = state_dict[key_v].shape[0] if key_v in state_dict else None
    hidden_t = state_dict[key_t].shape[0] if key_t in state_dict else None
    candidates = [0.25]
    if hidden_v:
        candidates.append(hidden_v / vision_width)
    if hidden_t:
        candidates.append(hidden_t / text_width)
    for ratio in candidates:
        if all(h is None or adapter_hidden_size(w, ratio) == h for h, w in ((hidden_v, vision_width), (hidden_t, text_width))):
            return ratio
    raise ConversionError(
        f"the adapter widths ({hidden_v} for vision width {vision_width}, {hidden_t} for text width {text_width}) "
        f"do not share one bottleneck ratio; this library uses a single adapter_ratio for both towers"
    )


def infer_config(state_dict: Mapping[str, torch.Tensor], text_heads: int | None = None,
                 vision_heads: int | None = None) -> T2LConfig:
    """Build the `T2LConfig` of an official state dict from its tensor shapes."""
    missing = [k for k in ANCHOR_KEYS if k not in state_dict]
    if missing:
        unknown = sorted(k for k in state_dict if map_key(k) is None)
        raise ConversionError(
            "not an official T2L / EZ-CLIP / CLIP state dict: missing " + ", ".join(missing)
            + (("; keys with no mapping: " + ", ".join(unknown)) if unknown else "")
        )
    clip = clip_config_from_shapes(
        state_dict, LAYOUT, vocab_size=state_dict[LAYOUT.token_embedding].shape[0], text_heads=text_heads,
        vision_heads=vision_heads, heads_option="--{tower}-heads",
    )
    vision_width = clip["vision_config"]["hidden_size"]
    text_width = clip["text_config"]["hidden_size"]
    vision_layers = clip["vision_config"]["num_hidden_layers"]

    # T: from the temporal prompts if any, else from the temporal embedding (1, T, D)
    prompts = state_dict.get(PROMPT_KEY)
    temporal = state_dict.get(TEMPORAL_EMBEDDING_KEY)
    if prompts is not None:
        if prompts.ndim != 3 or prompts.shape[0] not in (1, vision_layers):
            raise ConversionError(
                f"{PROMPT_KEY} has shape {tuple(prompts.shape)}; expected ({vision_layers}, T, {vision_width}) "
                f"(prompt.DEEP=True) or (1, T, {vision_width}) (prompt.DEEP=False)"
            )
        num_frames = prompts.shape[1]
    elif temporal is not None and temporal.ndim == 3:
        num_frames = temporal.shape[1]
    else:
        raise ConversionError(
            f"cannot tell the number of frames: neither {PROMPT_KEY} nor {TEMPORAL_EMBEDDING_KEY} is present; "
            f"for a plain CLIP model use T2LForVideoClassification.from_clip(..., num_frames=T) instead"
        )

    return T2LConfig(
        **clip,
        num_frames=num_frames,
        use_temporal_tokens=prompts is not None,
        # DEEP=False keeps one prompt set, for the first layer; with a single layer both readings are the same
        temporal_tokens_in_all_layers=prompts is None or prompts.shape[0] == vision_layers,
        adapter_ratio=_adapter_ratio(state_dict, vision_width, text_width),
    )


# ----------------------------------------------------------------------------------------------------------------
# key mapping
# ----------------------------------------------------------------------------------------------------------------


def expected_official_shapes(config: T2LConfig) -> dict[str, tuple[int, ...]]:
    """Every key (and its shape) the official code would save for a model with this configuration."""
    v, t = config.vision_config, config.text_config
    grid = v.image_size // v.patch_size
    T, E = config.num_frames, config.projection_dim
    shapes = {
        "logit_scale": (),
        "positional_embedding": (t.max_position_embeddings, t.hidden_size),
        "text_projection": (t.hidden_size, E),
        "token_embedding.weight": (t.vocab_size, t.hidden_size),
        "ln_final.weight": (t.hidden_size,),
        "ln_final.bias": (t.hidden_size,),
        "visual.class_embedding": (v.hidden_size,),
        "visual.positional_embedding": (grid * grid + 1, v.hidden_size),
        TEMPORAL_EMBEDDING_KEY: (1, T, v.hidden_size),
        "visual.proj": (v.hidden_size, E),
        "visual.conv1.weight": (v.hidden_size, 3, v.patch_size, v.patch_size),
        "visual.ln_pre.weight": (v.hidden_size,),
        "visual.ln_pre.bias": (v.hidden_size,),
        "visual.ln_post.weight": (v.hidden_size,),
        "visual.ln_post.bias": (v.hidden_size,),
    }
    if config.use_temporal_tokens:
        layers = v.num_hidden_layers if config.temporal_tokens_in_all_layers else 1
        shapes[PROMPT_KEY] = (layers, T, v.hidden_size)
    for prefix, sub, adapters in (
        ("visual.transformer.resblocks.", v, config.use_visual_adapters),
        ("transformer.resblocks.", t, config.use_text_adapters),
    ):
        w, m = sub.hidden_size, sub.intermediate_size
        h = adapter_hidden_size(w, config.adapter_ratio)
        block = {
            "attn.in_proj_weight": (3 * w, w), "attn.in_proj_bias": (3 * w,),
            "attn.out_proj.weight": (w, w), "attn.out_proj.bias": (w,),
            "ln_1.weight": (w,), "ln_1.bias": (w,), "ln_2.weight": (w,), "ln_2.bias": (w,),
            "mlp.c_fc.weight": (m, w), "mlp.c_fc.bias": (m,), "mlp.c_proj.weight": (w, m), "mlp.c_proj.bias": (w,),
        }
        if adapters:
            block.update({"Adapter.D_fc1.weight": (h, w), "Adapter.D_fc1.bias": (h,),
                          "Adapter.D_fc2.weight": (w, h), "Adapter.D_fc2.bias": (w,)})
        for i in range(sub.num_hidden_layers):
            shapes.update({f"{prefix}{i}.{name}": shape for name, shape in block.items()})
    return shapes


def map_key(key: str) -> str | None:
    """The library name of an official key (for `in_proj`, the prefix of its q/k/v split); None if unknown."""
    if key == TEMPORAL_EMBEDDING_KEY:
        return "vision_model.temporal_embedding"
    if key == PROMPT_KEY:
        return "vision_model.encoder.layers.{i}.temporal_prompt"
    return LAYOUT.map_key(key, _BLOCK)


def convert_state_dict(state_dict: Mapping[str, torch.Tensor], text_heads: int | None = None,
                       vision_heads: int | None = None) -> tuple[T2LConfig, dict[str, torch.Tensor]]:
    """Official state dict (already cleaned, see `extract_state_dict`) -> (T2LConfig, T2LModel state dict).

    Raises `ConversionError` listing every unmapped key, every missing key and every shape mismatch.
    """
    state_dict = extract_state_dict(state_dict)  # idempotent: accepts raw input too
    config = infer_config(state_dict, text_heads=text_heads, vision_heads=vision_heads)
    expected = expected_official_shapes(config)
    check_keys(state_dict, expected, "T2L")
    # names and shapes are right; the values must be too (every official tensor is a floating-point weight)
    check_tensor_values(state_dict, float_keys=expected, error=ConversionError)

    converted: dict[str, torch.Tensor] = {}
    for key, tensor in state_dict.items():
        target = map_key(key)
        if key == PROMPT_KEY:  # (layers or 1, T, D): one (T, D) prompt set per layer that has temporal tokens
            for i, prompt in enumerate(tensor):
                converted[target.format(i=i)] = prompt.clone()
        else:
            put_converted(converted, target, tensor, transpose=key in _TRANSPOSED)
    return config, converted


# ----------------------------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------------------------


def build_model(config: T2LConfig, converted: Mapping[str, torch.Tensor]):
    """A `T2LForVideoClassification` holding exactly the converted weights (eval mode)."""
    from .modeling_t2l import T2LForVideoClassification

    return build_converted(T2LForVideoClassification, config, converted)


def _save_processor(config: T2LConfig, output_dir: Path) -> bool:
    """Save a `T2LProcessor` (bundled CLIP tokenizer, num_frames = T) so the directory works with the pipeline."""
    if config.text_config.vocab_size != CLIP_VOCAB_SIZE:
        logger.warning(
            "vocabulary size %d is not CLIP's %d: no processor saved (the bundled tokenizer would not match)",
            config.text_config.vocab_size, CLIP_VOCAB_SIZE,
        )
        return False
    from ...processing.processing_t2l import T2LProcessor

    size = config.vision_config.image_size
    # the official test transform: short side to size * 256 // 224 (256 for 224), then a centre crop of `size`
    processor = T2LProcessor.from_clip_tokenizer(
        num_frames=config.num_frames, crop_size=size, shortest_edge=size * 256 // 224
    )
    processor.save_pretrained(output_dir)
    return True


def convert_checkpoint(checkpoint: str | Path, output_dir: str | Path, text_heads: int | None = None,
                       vision_heads: int | None = None, save_processor: bool = True):
    """Convert the official checkpoint file `checkpoint` into `output_dir`; returns the converted model.

    `output_dir` then loads with `T2LForVideoClassification.from_pretrained(output_dir)`.
    """
    state_dict = load_official_state_dict(checkpoint)
    try:
        config, converted = convert_state_dict(state_dict, text_heads=text_heads, vision_heads=vision_heads)
    except ConversionError as err:
        raise ConversionError(f"{checkpoint}: {err}") from None
    model = build_model(config, converted)
    output_dir = save_converted(model, output_dir)
    if save_processor and _save_processor(config, output_dir):
        # the pipeline's code and task next to the weights: `pipeline(model=dir, trust_remote_code=True)` then
        # works where this package is not installed
        from ...pipelines.zero_shot_video_classification import add_pipeline_to_checkpoint

        add_pipeline_to_checkpoint(output_dir)
    return model


def describe(config: T2LConfig) -> str:
    """One line per tower, for the CLI."""
    tokens = (
        "off" if not config.use_temporal_tokens else ("all layers" if config.temporal_tokens_in_all_layers else "first layer")
    )
    return (
        describe_towers(config)
        + f"embed dim {config.projection_dim}, T = {config.num_frames} frames, temporal tokens: {tokens}, "
        f"logit scale exp {math.exp(config.logit_scale_init_value):.4g}"
    )


__all__ = [
    "ConversionError",
    "convert_checkpoint",
    "convert_state_dict",
    "expected_official_shapes",
    "extract_state_dict",
    "infer_config",
    "load_official_state_dict",
    "map_key",
]
