"""Convert a released TC-CLIP checkpoint (naver-ai/tc-clip, byminji/TC-CLIP) into a `TCCLIPForVideoClassification`.

The official training saves `{'model': state_dict, 'optimizer', 'lr_scheduler', 'max_accuracy', 'epoch', 'config'}`
from DistributedDataParallel (keys prefixed `module.`), with a pickled OmegaConf `config` (spec §7). This module:

1. reads the file with `torch.load(weights_only=True)` and, when that refuses the pickled config, with a restricted
   unpickler that rebuilds tensors and plain containers only and turns every other object into an inert
   placeholder, so no pickled code is ever run;
2. takes `model` (or a bare state dict), strips `module.`, drops the prompt learner's derived buffers
   (`token_prefix`, `token_suffix`: embeddings of one label set), casts floating tensors to fp32;
3. infers every dimension from the tensor shapes. Head counts are not stored: the official code uses width // 64
   for both towers; `text_heads` / `vision_heads` override it. Temporal-contextualization sizes (k, seed ratio,
   r) and the text context length are not stored either: the official defaults (96, 0.3, 100, 30) unless given;
4. maps the official keys onto this library's names (text and prompting `in_proj` split into q/k/v, projections
   transposed, `local_global_bias_table` (H, 1, 2) to `local_global_bias` (H, 2), `prompt_learner.ctx` to
   `prompt_context`, ...) and refuses, listing every key, when anything is unmapped, missing or misshapen;
5. takes the token table, which TC-CLIP checkpoints do not hold, from `text_encoder.token_embedding.weight` when
   the state dict has it, else from the CLIP checkpoint the caller names (OpenAI CLIP ViT-B/16 for the releases);
6. writes a directory that `TCCLIPForVideoClassification.from_pretrained` loads, with a processor carrying
   TC-CLIP's preprocessing constants (`processing_defaults.py`).

The converted weights keep the licence of the released ones (CC BY-NC 4.0); this converter is the library's code.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path

import torch

from ..conversion_utils import CLIP_BLOCK_NAMES, ClipLayout, ConversionError, TEXT_LAYERS, VISION_LAYERS
from ..conversion_utils import build_converted, check_keys, clean_state_dict, clip_config_from_shapes, describe_towers
from ..conversion_utils import map_block_key, num_blocks, put_converted, read_checkpoint, save_converted
from ..conversion_utils import check_tensor_values, strip_module_prefix
from .configuration_tc_clip import TCCLIPConfig

logger = logging.getLogger(__name__)

CLIP_VOCAB_SIZE = 49408
DROPPED_KEYS = ("prompt_learner.token_prefix", "prompt_learner.token_suffix")
LAYOUT = ClipLayout(vision="image_encoder.", text="text_encoder.")
TOKEN_EMBEDDING_KEY = LAYOUT.token_embedding  # absent from the released checkpoints
ANCHOR_KEYS = (*LAYOUT.shape_keys, "prompt_learner.ctx")
# Names TC-CLIP adds to CLIP; WiSE-FT takes them from the checkpoint as they are.
TC_CLIP_ONLY_MARKERS = ("local_global_bias", "prompt_context", "video_prompt_layers.")

_TOP_LEVEL = {**LAYOUT.top_level_names(), "prompt_learner.ctx": "text_model.prompt_context"}
_TRANSPOSED = LAYOUT.transposed
# the vision blocks keep separate q/k/v projections and add the local-global bias
_VISION_BLOCK = {
    **CLIP_BLOCK_NAMES,
    **{f"attn.{p}_proj.{t}": f"self_attn.{p}_proj.{t}" for p in ("q", "k", "v") for t in ("weight", "bias")},
    "attn.local_global_bias_table": "self_attn.local_global_bias",
}
# a prompting block: CLIP's LayerNorms and MLP, a key/value LayerNorm, and cross-attention
_PROMPT_BLOCK = {
    **{name: ours for name, ours in CLIP_BLOCK_NAMES.items() if not name.startswith("attn.")},
    "ln_1_kv.weight": "layer_norm_kv.weight", "ln_1_kv.bias": "layer_norm_kv.bias",
    "attn.out_proj.weight": "cross_attn.out_proj.weight", "attn.out_proj.bias": "cross_attn.out_proj.bias",
    # nn.MultiheadAttention keeps separate q/k/v weights when the key width differs from the query width
    "attn.q_proj_weight": "cross_attn.q_proj.weight",
    "attn.k_proj_weight": "cross_attn.k_proj.weight",
    "attn.v_proj_weight": "cross_attn.v_proj.weight",
}
_VISION_BLOCKS = LAYOUT.vision_blocks
_TEXT_BLOCKS = LAYOUT.text_blocks
_PROMPT_BLOCKS = "text_encoder.prompt_generation_layer."
_PROMPT_LAYERS = "text_model.video_prompt_layers."


# ----------------------------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------------------------


def load_official_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a released TC-CLIP checkpoint safely and return its model state dict: prefix stripped, fp32."""
    obj = read_checkpoint(path, pickled_objects=True)  # the official files pickle their OmegaConf config
    try:
        return extract_state_dict(obj)
    except ConversionError as err:
        raise ConversionError(f"{path}: {err}") from None


def extract_state_dict(obj) -> dict[str, torch.Tensor]:
    """`{'model': sd, ...}` (the official training layout) or a bare `sd` -> clean fp32 state dict.

    The optimizer and scheduler state, the epoch, the accuracy and the config are ignored; the prompt learner's
    derived buffers are dropped.
    """
    return clean_state_dict(obj, "model", drop=DROPPED_KEYS)


def detect_family(keys) -> str | None:
    """Which official code saved a state dict with these keys (a `module.` prefix is ignored).

    `"t2l"`: T2L / EZ-CLIP / OpenAI CLIP (`visual.conv1.weight`); `"tc_clip"`: TC-CLIP (prompt learner,
    local-global bias or prompting layers); `"vifi_clip"`: the `image_encoder.*` layout without TC-CLIP's
    tensors; `None`: none of these.
    A `{'model': ...}` or `{'model_state_dict': ...}` checkpoint dict may be passed as well.
    """
    if isinstance(keys, Mapping):
        for wrapper in ("model", "model_state_dict"):
            if isinstance(keys.get(wrapper), Mapping):
                keys = keys[wrapper]
                break
    names = {strip_module_prefix(key) for key in keys}
    if "visual.conv1.weight" in names:  # OpenAI CLIP's layout: the T2L converter reports any foreign key
        return "t2l"
    has_tc_clip_tensors = any(
        name.startswith(("prompt_learner.ctx", _PROMPT_BLOCKS)) or name.endswith("attn.local_global_bias_table")
        for name in names
    )
    if has_tc_clip_tensors:
        return "tc_clip"
    if any(name.startswith("image_encoder.") for name in names):
        return "vifi_clip"
    return None


def load_token_embedding(clip: str | Path) -> torch.Tensor:
    """The token table of a CLIP checkpoint: a transformers CLIP directory or Hub id, or an OpenAI state dict file."""
    candidates = ("text_model.embeddings.token_embedding.weight", "token_embedding.weight", TOKEN_EMBEDDING_KEY)
    path = Path(clip)
    files: list[Path] = []
    if path.is_dir():
        files = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin")) or sorted(path.glob("*.pt"))
    elif path.is_file():
        files = [path]
    else:  # a Hub id
        from huggingface_hub import hf_hub_download

        try:
            files = [Path(hf_hub_download(str(clip), "model.safetensors"))]
        except Exception as err:
            raise ConversionError(f"{clip}: not a CLIP directory, file or reachable Hub model ({err})") from err
    for file in files:
        if file.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(file), framework="pt") as handle:
                for key in candidates:
                    if key in handle.keys():
                        return handle.get_tensor(key).float()
        else:
            try:
                obj = torch.load(file, map_location="cpu", weights_only=True)
            except Exception as err:
                raise ConversionError(f"{file}: cannot be read with torch.load(weights_only=True): {err}") from err
            if hasattr(obj, "state_dict"):
                obj = obj.state_dict()
            for key in candidates:
                if isinstance(obj, Mapping) and key in obj:
                    return obj[key].float()
    raise ConversionError(f"{clip}: no token embedding found (looked for {', '.join(candidates)})")


# ----------------------------------------------------------------------------------------------------------------
# configuration from shapes
# ----------------------------------------------------------------------------------------------------------------


def infer_config(
    state_dict: Mapping[str, torch.Tensor],
    vocab_size: int = CLIP_VOCAB_SIZE,
    text_heads: int | None = None,
    vision_heads: int | None = None,
    **overrides,
) -> TCCLIPConfig:
    """Build the `TCCLIPConfig` of an official state dict from its shapes; `overrides` are config fields that a
    checkpoint does not record (`context_tokens`, `seed_ratio`, `merge_r`, `context_length`, `num_frames`,
    `vp_levels`, `prompt_context_init`, ...)."""
    missing = [k for k in ANCHOR_KEYS if k not in state_dict]
    if missing:
        family = detect_family(state_dict)
        hint = {"t2l": " (this is a T2L / OpenAI CLIP checkpoint: use the T2L converter)",
                "vifi_clip": " (this is a ViFi-CLIP checkpoint, which has no TC-CLIP tensors)"}.get(family, "")
        raise ConversionError("not a TC-CLIP state dict: missing " + ", ".join(missing) + hint)
    vision_layers = num_blocks(state_dict, _VISION_BLOCKS)
    text_layers = num_blocks(state_dict, _TEXT_BLOCKS)
    prompt_layers = num_blocks(state_dict, _PROMPT_BLOCKS)
    if not vision_layers or not text_layers or not prompt_layers:
        raise ConversionError(
            f"found {vision_layers} vision, {text_layers} text and {prompt_layers} prompting blocks; need at least one of each"
        )

    num_prompt_context = state_dict["prompt_learner.ctx"].shape[0]
    if "prompt_context_init" not in overrides:
        if num_prompt_context != 4:
            raise ConversionError(
                f"prompt_learner.ctx has {num_prompt_context} vectors, not the 4 of 'a photo of a': pass "
                f"prompt_context_init with {num_prompt_context} words (the prompt text the vectors replace)"
            )
    if prompt_layers > 1 and "vp_levels" not in overrides:
        raise ConversionError(
            f"{prompt_layers} prompting layers: their text levels are not stored in the checkpoint; pass "
            f"vp_levels=[...] (0-based, ascending) as in the training config's prompt_generation_layer_level"
        )
    values = clip_config_from_shapes(state_dict, LAYOUT, vocab_size, text_heads=text_heads, vision_heads=vision_heads)
    values.update(
        num_prompt_context=num_prompt_context,
        use_local_global_bias=any(k.endswith("attn.local_global_bias_table") for k in state_dict),
    )
    values.update(overrides)
    try:
        return TCCLIPConfig(**values)
    except Exception as err:
        raise ConversionError(f"the inferred configuration is invalid: {err}") from err


# ----------------------------------------------------------------------------------------------------------------
# key mapping
# ----------------------------------------------------------------------------------------------------------------


def expected_official_shapes(config: TCCLIPConfig, packed_vision: bool = False, packed_prompts: bool = True) -> dict[str, tuple[int, ...]]:
    """Every key (and its shape) the official model saves for this configuration (token table excluded)."""
    v, t = config.vision_config, config.text_config
    grid = v.image_size // v.patch_size
    D, W, E = v.hidden_size, t.hidden_size, config.projection_dim
    shapes = {
        "logit_scale": (),
        "prompt_learner.ctx": (config.num_prompt_context, W),
        "image_encoder.class_embedding": (D,),
        "image_encoder.positional_embedding": (grid * grid + 1, D),
        "image_encoder.proj": (D, E),
        "image_encoder.conv1.weight": (D, 3, v.patch_size, v.patch_size),
        "image_encoder.ln_pre.weight": (D,), "image_encoder.ln_pre.bias": (D,),
        "image_encoder.ln_post.weight": (D,), "image_encoder.ln_post.bias": (D,),
        "text_encoder.positional_embedding": (t.max_position_embeddings, W),
        "text_encoder.text_projection": (W, E),
        "text_encoder.ln_final.weight": (W,), "text_encoder.ln_final.bias": (W,),
    }

    def block(width, mlp):
        return {
            "ln_1.weight": (width,), "ln_1.bias": (width,), "ln_2.weight": (width,), "ln_2.bias": (width,),
            "mlp.c_fc.weight": (mlp, width), "mlp.c_fc.bias": (mlp,),
            "mlp.c_proj.weight": (width, mlp), "mlp.c_proj.bias": (width,),
            "attn.out_proj.weight": (width, width), "attn.out_proj.bias": (width,),
        }

    packed = lambda width: {"attn.in_proj_weight": (3 * width, width), "attn.in_proj_bias": (3 * width,)}  # noqa: E731
    for i in range(v.num_hidden_layers):
        entries = block(D, v.intermediate_size)
        if packed_vision:
            entries.update(packed(D))
        else:
            entries.update({f"attn.{p}_proj.{n}": (D, D) if n == "weight" else (D,) for p in "qkv" for n in ("weight", "bias")})
        if config.use_local_global_bias and i > 0:
            entries["attn.local_global_bias_table"] = (v.num_attention_heads, 1, 2)
        shapes.update({f"{_VISION_BLOCKS}{i}.{k}": s for k, s in entries.items()})
    for i in range(t.num_hidden_layers):
        entries = {**block(W, t.intermediate_size), **packed(W)}
        shapes.update({f"{_TEXT_BLOCKS}{i}.{k}": s for k, s in entries.items()})
    for j in range(len(config.resolved_vp_levels)):
        entries = {**block(W, t.intermediate_size), "ln_1_kv.weight": (E,), "ln_1_kv.bias": (E,)}
        if packed_prompts:
            entries.update(packed(W))
        else:
            entries.update({"attn.q_proj_weight": (W, W), "attn.k_proj_weight": (W, E), "attn.v_proj_weight": (W, E),
                            "attn.in_proj_bias": (3 * W,)})
        shapes.update({f"{_PROMPT_BLOCKS}{j}.{k}": s for k, s in entries.items()})
    return shapes


def map_key(key: str) -> str | None:
    """The library name of an official key (for packed `in_proj`, a name with `{q,k,v}`); None if unknown."""
    if key in _TOP_LEVEL:
        return _TOP_LEVEL[key]
    if key in _TRANSPOSED:
        return _TRANSPOSED[key]
    return (
        map_block_key(key, {_VISION_BLOCKS: VISION_LAYERS}, _VISION_BLOCK)
        or map_block_key(key, {_TEXT_BLOCKS: TEXT_LAYERS}, CLIP_BLOCK_NAMES)
        or map_block_key(key, {_PROMPT_BLOCKS: _PROMPT_LAYERS}, _PROMPT_BLOCK, attention="cross_attn")
    )


def convert_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    token_embedding: torch.Tensor | None = None,
    text_heads: int | None = None,
    vision_heads: int | None = None,
    **config_overrides,
) -> tuple[TCCLIPConfig, dict[str, torch.Tensor]]:
    """Official state dict -> (TCCLIPConfig, TCCLIPModel state dict).

    `token_embedding` (vocab, text width): the token table, required unless the state dict holds
    `text_encoder.token_embedding.weight`. Raises `ConversionError` listing every unmapped, missing or misshapen key.
    """
    state_dict = extract_state_dict(state_dict)  # idempotent: accepts raw input too
    if TOKEN_EMBEDDING_KEY in state_dict:
        table = raw_table = state_dict.pop(TOKEN_EMBEDDING_KEY)
    elif token_embedding is not None:
        raw_table = token_embedding.detach()  # its dtype is checked below, before the cast hides an integer table
        table = raw_table.to("cpu", torch.float32)
    else:
        raise ConversionError(
            "TC-CLIP checkpoints do not hold the token embedding: name the CLIP it was trained from "
            "(clip='openai/clip-vit-base-patch16' or a local CLIP directory / OpenAI state dict)"
        )
    if table.ndim != 2:
        raise ConversionError(f"the token embedding has shape {tuple(table.shape)}, expected (vocab, width)")
    config = infer_config(state_dict, vocab_size=table.shape[0], text_heads=text_heads, vision_heads=vision_heads,
                          **config_overrides)
    if table.shape[1] != config.text_config.hidden_size:
        raise ConversionError(
            f"the token embedding is {table.shape[1]} wide but the text tower is {config.text_config.hidden_size}: "
            f"not the CLIP this checkpoint was trained from"
        )
    packed_vision = f"{_VISION_BLOCKS}0.attn.in_proj_weight" in state_dict
    packed_prompts = f"{_PROMPT_BLOCKS}0.attn.in_proj_weight" in state_dict
    expected = expected_official_shapes(config, packed_vision=packed_vision, packed_prompts=packed_prompts)
    check_keys(state_dict, expected, "TC-CLIP")
    # names and shapes are right; the values must be too (every official tensor and the token table are weights)
    check_tensor_values({**state_dict, TOKEN_EMBEDDING_KEY: raw_table}, float_keys=[*expected, TOKEN_EMBEDDING_KEY],
                        error=ConversionError)

    converted: dict[str, torch.Tensor] = {"text_model.embeddings.token_embedding.weight": table.clone()}
    width = config.text_config.hidden_size
    for key, tensor in state_dict.items():
        target = map_key(key)
        if key.endswith("attn.local_global_bias_table"):  # (H, 1, 2) -> (H, 2): [:, 0] local, [:, 1] global
            converted[target] = tensor[:, 0, :].clone()
        else:  # packed text and prompting attention: text width thirds (a packed prompting block's key width
            # equals it); vision: thirds of its own width
            put_converted(converted, target, tensor, transpose=key in _TRANSPOSED,
                          split=None if key.startswith(_VISION_BLOCKS) else width)
    return config, converted


def wise_ft_state_dict(
    tc_clip_state: Mapping[str, torch.Tensor], clip_state: Mapping[str, torch.Tensor], alpha: float = 0.7
) -> dict[str, torch.Tensor]:
    """The official zero-shot ensemble: `(1 - alpha) * CLIP + alpha * TC-CLIP` for every tensor CLIP has
    (`logit_scale` included), TC-CLIP's own tensors (local-global bias, prompt vectors, prompting blocks) and the
    untrained token table as they are. Both state dicts in this library's `TCCLIPModel` / `CLIPModel` names."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    blended = {}
    for name, tensor in tc_clip_state.items():
        keep = any(m in name for m in TC_CLIP_ONLY_MARKERS) or "token_embedding" in name or "position_ids" in name
        if keep or not tensor.is_floating_point():
            blended[name] = tensor.clone()
            continue
        if name not in clip_state:
            raise ConversionError(f"WiSE-FT: the CLIP state dict has no {name}")
        base = clip_state[name].to(tensor.dtype)
        if base.shape != tensor.shape:
            raise ConversionError(f"WiSE-FT: {name} is {tuple(tensor.shape)} here but {tuple(base.shape)} in CLIP")
        blended[name] = (1.0 - alpha) * base + alpha * tensor
    return blended


# ----------------------------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------------------------


def build_model(config: TCCLIPConfig, converted: Mapping[str, torch.Tensor]):
    """A `TCCLIPForVideoClassification` holding exactly the converted weights (eval mode)."""
    from .modeling_tc_clip import TCCLIPForVideoClassification

    return build_converted(TCCLIPForVideoClassification, config, converted)


def convert_checkpoint(
    checkpoint: str | Path,
    output_dir: str | Path,
    clip: str | Path | None = None,
    text_heads: int | None = None,
    vision_heads: int | None = None,
    wise_ft_alpha: float | None = None,
    save_processor: bool = True,
    **config_overrides,
):
    """Convert the released checkpoint file `checkpoint` into `output_dir`; returns the converted model.

    `clip`: the CLIP the checkpoint was fine-tuned from (Hub id, directory or OpenAI state dict), for the token
    table and, with `wise_ft_alpha` (official: 0.7), the WiSE-FT blend. `output_dir` then loads with
    `TCCLIPForVideoClassification.from_pretrained(output_dir)`.
    """
    state_dict = load_official_state_dict(checkpoint)
    try:
        token_embedding = None
        if TOKEN_EMBEDDING_KEY not in state_dict and clip is not None:
            token_embedding = load_token_embedding(clip)
        if wise_ft_alpha is not None:
            config_overrides["wise_ft_alpha"] = wise_ft_alpha
        config, converted = convert_state_dict(
            state_dict, token_embedding=token_embedding, text_heads=text_heads, vision_heads=vision_heads,
            **config_overrides,
        )
        if wise_ft_alpha is not None:
            if clip is None:
                raise ConversionError("WiSE-FT needs the CLIP weights: pass clip=...")
            from transformers import CLIPModel

            clip_state = CLIPModel.from_pretrained(str(clip)).state_dict()
            converted = wise_ft_state_dict(converted, clip_state, wise_ft_alpha)
    except ConversionError as err:
        raise ConversionError(f"{checkpoint}: {err}") from None
    model = build_model(config, converted)
    output_dir = save_converted(model, output_dir)
    if save_processor:
        from .processing_defaults import save_tc_clip_processor

        save_tc_clip_processor(config, output_dir)
    return model


def describe(config: TCCLIPConfig) -> str:
    """One line per tower, for the CLI."""
    towers = describe_towers(
        config,
        vision_extra=f"; k {config.context_tokens} context tokens, {config.seeds_per_frame} seeds per frame, "
                     f"r {config.merge_r}",
        text_extra=f"; {config.num_prompt_context} prompt vectors, prompting before layers {config.resolved_vp_levels}",
    )
    return (
        towers
        + f"embed dim {config.projection_dim}, logit scale exp {math.exp(config.logit_scale_init_value):.4g}"
        + (f", WiSE-FT alpha {config.wise_ft_alpha}" if config.wise_ft_alpha is not None else "")
    )


__all__ = [
    "ConversionError",
    "convert_checkpoint",
    "convert_state_dict",
    "detect_family",
    "expected_official_shapes",
    "extract_state_dict",
    "infer_config",
    "load_official_state_dict",
    "load_token_embedding",
    "map_key",
    "wise_ft_state_dict",
]


def detect_checkpoint_family(path: str | Path) -> str | None:
    """`detect_family` of a checkpoint file, reading only what it must (memory-mapped; pickled code never runs)."""
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such checkpoint file")
    try:
        obj = read_checkpoint(path, pickled_objects=True, mmap=True)
    except ConversionError:
        return None  # unreadable here: let the family's own loader report it
    if not isinstance(obj, Mapping):
        return None
    return detect_family(obj)


__all__ += ["detect_checkpoint_family"]
