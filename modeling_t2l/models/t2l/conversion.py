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
   holds NaN / Inf or is an integer tensor where a float weight belongs (`modeling_t2l.conversion_utils`);
5. writes a directory that `T2LForVideoClassification.from_pretrained` (and the Auto classes) load.
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from ...conversion_utils import check_tensor_values
from .configuration_t2l import T2LConfig, adapter_hidden_size

logger = logging.getLogger(__name__)

# The size of OpenAI CLIP's BPE vocabulary, i.e. of the tokenizer bundled with this package.
CLIP_VOCAB_SIZE = 49408
# Keys whose shapes the dimensions are read from; without them nothing else can be checked.
ANCHOR_KEYS = (
    "visual.conv1.weight",
    "visual.positional_embedding",
    "visual.proj",
    "token_embedding.weight",
    "positional_embedding",
    "text_projection",
)
PROMPT_KEY = "visual.transformer.T_prompt_embeddings"
TEMPORAL_EMBEDDING_KEY = "visual.temporal_embedding"

# official -> library names of the tensors outside the transformer blocks
_TOP_LEVEL = {
    "logit_scale": "logit_scale",
    "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
    "visual.class_embedding": "vision_model.embeddings.class_embedding",
    "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
    TEMPORAL_EMBEDDING_KEY: "vision_model.temporal_embedding",
    "visual.ln_pre.weight": "vision_model.pre_layrnorm.weight",
    "visual.ln_pre.bias": "vision_model.pre_layrnorm.bias",
    "visual.ln_post.weight": "vision_model.post_layernorm.weight",
    "visual.ln_post.bias": "vision_model.post_layernorm.bias",
    "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
    "positional_embedding": "text_model.embeddings.position_embedding.weight",
    "ln_final.weight": "text_model.final_layer_norm.weight",
    "ln_final.bias": "text_model.final_layer_norm.bias",
}
_TRANSPOSED = {"visual.proj": "visual_projection.weight", "text_projection": "text_projection.weight"}
# official -> library names inside a block (after `resblocks.{i}.` / `layers.{i}.`); in_proj is split separately
_BLOCK = {
    "attn.out_proj.weight": "self_attn.out_proj.weight",
    "attn.out_proj.bias": "self_attn.out_proj.bias",
    "ln_1.weight": "layer_norm1.weight",
    "ln_1.bias": "layer_norm1.bias",
    "ln_2.weight": "layer_norm2.weight",
    "ln_2.bias": "layer_norm2.bias",
    "mlp.c_fc.weight": "mlp.fc1.weight",
    "mlp.c_fc.bias": "mlp.fc1.bias",
    "mlp.c_proj.weight": "mlp.fc2.weight",
    "mlp.c_proj.bias": "mlp.fc2.bias",
    "Adapter.D_fc1.weight": "adapter.fc1.weight",
    "Adapter.D_fc1.bias": "adapter.fc1.bias",
    "Adapter.D_fc2.weight": "adapter.fc2.weight",
    "Adapter.D_fc2.bias": "adapter.fc2.bias",
}
_IN_PROJ = {"attn.in_proj_weight": "weight", "attn.in_proj_bias": "bias"}
_TOWERS = {"visual.transformer.resblocks.": "vision_model.encoder.layers.", "transformer.resblocks.": "text_model.encoder.layers."}


class ConversionError(ValueError):
    """The checkpoint cannot be converted; the message names the file (when known) and every offending key."""


# ----------------------------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------------------------


def load_official_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read an official checkpoint safely and return its model state dict: prefix stripped, fp32."""
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # weights_only refuses pickled code; anything else is a corrupt or foreign file
        raise ConversionError(
            f"{path}: cannot be read with torch.load(weights_only=True) (only tensors and plain containers are "
            f"allowed, pickled code is never executed): {err}"
        ) from err
    try:
        return extract_state_dict(obj)
    except ConversionError as err:
        raise ConversionError(f"{path}: {err}") from None


def extract_state_dict(obj) -> dict[str, torch.Tensor]:
    """`{'model_state_dict': sd, ...}` (the official training layout) or a bare `sd` -> clean fp32 state dict.

    `optimizer_state_dict`, `epoch` and anything else beside `model_state_dict` are ignored.
    """
    if isinstance(obj, Mapping) and "model_state_dict" in obj:
        obj = obj["model_state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise ConversionError(f"expected a state dict or {{'model_state_dict': ...}}, got {type(obj).__name__}")
    not_tensors = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise ConversionError(
            "not a model state dict and no 'model_state_dict' entry; non-tensor entries: " + ", ".join(map(str, not_tensors))
        )
    state_dict = {}
    for key, tensor in obj.items():
        # DataParallel / DistributedDataParallel wrap the model as `module`
        name = key[len("module."):] if key.startswith("module.") else key
        if name in state_dict:
            raise ConversionError(f"key {name!r} occurs both with and without the 'module.' prefix")
        state_dict[name] = tensor.detach().to("cpu", torch.float32) if tensor.is_floating_point() else tensor
    return state_dict


# ----------------------------------------------------------------------------------------------------------------
# configuration from shapes
# ----------------------------------------------------------------------------------------------------------------


def _num_blocks(state_dict: Mapping[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = [int(m.group(1)) for k in state_dict if (m := pattern.match(k))]
    return max(found) + 1 if found else 0


def _heads(width: int, override: int | None, tower: str, option: str) -> int:
    heads = width // 64 if override is None else int(override)
    if heads < 1 or width % heads:
        how = f"--{option} {heads}" if override is not None else f"the official default width // 64 = {heads}"
        raise ConversionError(
            f"{tower} width {width} cannot be split into heads with {how}; pass --{option} N with N dividing {width} "
            f"(head counts are not stored in official checkpoints)"
        )
    return heads


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
    conv = state_dict["visual.conv1.weight"]
    if conv.ndim != 4 or conv.shape[1] != 3 or conv.shape[2] != conv.shape[3]:
        raise ConversionError(f"visual.conv1.weight has shape {tuple(conv.shape)}, expected (width, 3, patch, patch)")
    vision_width, patch = conv.shape[0], conv.shape[-1]
    grid = math.isqrt(state_dict["visual.positional_embedding"].shape[0] - 1)
    if grid * grid + 1 != state_dict["visual.positional_embedding"].shape[0]:
        raise ConversionError(
            f"visual.positional_embedding has {state_dict['visual.positional_embedding'].shape[0]} positions, "
            f"not 1 + a square number of patches"
        )
    embed_dim = state_dict["visual.proj"].shape[1]
    vocab_size, text_width = state_dict["token_embedding.weight"].shape
    context_length = state_dict["positional_embedding"].shape[0]
    vision_layers = _num_blocks(state_dict, "visual.transformer.resblocks.")
    text_layers = _num_blocks(state_dict, "transformer.resblocks.")
    if not vision_layers or not text_layers:
        raise ConversionError(f"found {vision_layers} vision and {text_layers} text transformer blocks; need at least one of each")

    def mlp_size(prefix, width):
        key = f"{prefix}0.mlp.c_fc.weight"
        return state_dict[key].shape[0] if key in state_dict else 4 * width

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

    common = dict(hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=embed_dim)
    text_config = dict(
        vocab_size=vocab_size, hidden_size=text_width, intermediate_size=mlp_size("transformer.resblocks.", text_width),
        num_hidden_layers=text_layers, num_attention_heads=_heads(text_width, text_heads, "text", "text-heads"),
        max_position_embeddings=context_length,
        # the official vocabulary ends with <|startoftext|>, <|endoftext|>; the official code pools at the largest
        # id (= end-of-text) and pads with 0, which the causal mask makes equivalent to padding with end-of-text.
        bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1, **common,
    )
    vision_config = dict(
        hidden_size=vision_width, intermediate_size=mlp_size("visual.transformer.resblocks.", vision_width),
        num_hidden_layers=vision_layers,
        num_attention_heads=_heads(vision_width, vision_heads, "vision", "vision-heads"),
        image_size=grid * patch, patch_size=patch, num_channels=3, **common,
    )
    logit_scale = state_dict.get("logit_scale")
    return T2LConfig(
        text_config=text_config,
        vision_config=vision_config,
        projection_dim=embed_dim,
        logit_scale_init_value=float(logit_scale) if logit_scale is not None else math.log(100.0),
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
    if key in _TOP_LEVEL:
        return _TOP_LEVEL[key]
    if key in _TRANSPOSED:
        return _TRANSPOSED[key]
    if key == PROMPT_KEY:
        return "vision_model.encoder.layers.{i}.temporal_prompt"
    for official, ours in _TOWERS.items():
        m = re.fullmatch(re.escape(official) + r"(\d+)\.(.+)", key)  # anchored: text never matches visual.*
        if m:
            rest = m.group(2)
            if rest in _BLOCK:
                return f"{ours}{m.group(1)}.{_BLOCK[rest]}"
            if rest in _IN_PROJ:
                return f"{ours}{m.group(1)}.self_attn.{{q,k,v}}_proj.{_IN_PROJ[rest]}"
    return None


def convert_state_dict(state_dict: Mapping[str, torch.Tensor], text_heads: int | None = None,
                       vision_heads: int | None = None) -> tuple[T2LConfig, dict[str, torch.Tensor]]:
    """Official state dict (already cleaned, see `extract_state_dict`) -> (T2LConfig, T2LModel state dict).

    Raises `ConversionError` listing every unmapped key, every missing key and every shape mismatch.
    """
    state_dict = extract_state_dict(state_dict)  # idempotent: accepts raw input too
    config = infer_config(state_dict, text_heads=text_heads, vision_heads=vision_heads)
    expected = expected_official_shapes(config)
    unmapped = sorted(k for k in state_dict if k not in expected)
    missing = sorted(k for k in expected if k not in state_dict)
    wrong = sorted(
        f"{k}: {tuple(state_dict[k].shape)}, expected {expected[k]}"
        for k in expected if k in state_dict and tuple(state_dict[k].shape) != expected[k]
    )
    if unmapped or missing or wrong:
        parts = []
        if unmapped:
            parts.append(f"{len(unmapped)} unmapped key(s) (not part of the official T2L model):\n  " + "\n  ".join(unmapped))
        if missing:
            parts.append(f"{len(missing)} missing key(s):\n  " + "\n  ".join(missing))
        if wrong:
            parts.append(f"{len(wrong)} key(s) with the wrong shape:\n  " + "\n  ".join(wrong))
        raise ConversionError("refusing to convert an incomplete or unknown checkpoint; " + "\n".join(parts))
    # names and shapes are right; the values must be too (every official tensor is a floating-point weight)
    check_tensor_values(state_dict, float_keys=expected, error=ConversionError)

    converted: dict[str, torch.Tensor] = {}
    for key, tensor in state_dict.items():
        target = map_key(key)
        if key == PROMPT_KEY:  # (layers or 1, T, D): one (T, D) prompt set per layer that has temporal tokens
            for i, prompt in enumerate(tensor):
                converted[target.format(i=i)] = prompt.clone()
        elif key in _TRANSPOSED:  # official x @ proj; nn.Linear computes x @ weight.T
            converted[target] = tensor.t().contiguous()
        elif "{q,k,v}" in target:  # nn.MultiheadAttention packs q, k, v in thirds
            for name, part in zip("qkv", tensor.chunk(3, dim=0)):
                converted[target.replace("{q,k,v}", name)] = part.clone()
        else:
            converted[target] = tensor.clone()
    return config, converted


# ----------------------------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------------------------


def build_model(config: T2LConfig, converted: Mapping[str, torch.Tensor]):
    """A `T2LForVideoClassification` holding exactly the converted weights (eval mode)."""
    from .modeling_t2l import T2LForVideoClassification

    model = T2LForVideoClassification(config)
    result = model.t2l.load_state_dict(dict(converted), strict=False)
    if result.missing_keys or result.unexpected_keys:  # the mapping and the model disagree: a bug, not bad input
        raise ConversionError(
            "the converted weights do not fit T2LModel; missing: " + ", ".join(result.missing_keys)
            + "; unexpected: " + ", ".join(result.unexpected_keys)
        )
    return model.eval()


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
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    if save_processor and _save_processor(config, output_dir):
        # the pipeline's code and task next to the weights: `pipeline(model=dir, trust_remote_code=True)` then
        # works where this package is not installed
        from ...pipelines.zero_shot_video_classification import add_pipeline_to_checkpoint

        add_pipeline_to_checkpoint(output_dir)
    return model


def describe(config: T2LConfig) -> str:
    """One line per tower, for the CLI."""
    v, t = config.vision_config, config.text_config
    tokens = (
        "off" if not config.use_temporal_tokens else ("all layers" if config.temporal_tokens_in_all_layers else "first layer")
    )
    return (
        f"vision: width {v.hidden_size}, {v.num_hidden_layers} layers, {v.num_attention_heads} heads, "
        f"patch {v.patch_size}, image {v.image_size}\n"
        f"text: width {t.hidden_size}, {t.num_hidden_layers} layers, {t.num_attention_heads} heads, "
        f"vocab {t.vocab_size}, context {t.max_position_embeddings}\n"
        f"embed dim {config.projection_dim}, T = {config.num_frames} frames, temporal tokens: {tokens}, "
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
