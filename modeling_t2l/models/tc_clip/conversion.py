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
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from .configuration_tc_clip import TCCLIPConfig

logger = logging.getLogger(__name__)

CLIP_VOCAB_SIZE = 49408
TOKEN_EMBEDDING_KEY = "text_encoder.token_embedding.weight"
DROPPED_KEYS = ("prompt_learner.token_prefix", "prompt_learner.token_suffix")
ANCHOR_KEYS = (
    "image_encoder.conv1.weight",
    "image_encoder.positional_embedding",
    "image_encoder.proj",
    "text_encoder.positional_embedding",
    "text_encoder.text_projection",
    "prompt_learner.ctx",
)
# Names TC-CLIP adds to CLIP; WiSE-FT takes them from the checkpoint as they are.
TC_CLIP_ONLY_MARKERS = ("local_global_bias", "prompt_context", "video_prompt_layers.")

_TOP_LEVEL = {
    "logit_scale": "logit_scale",
    "prompt_learner.ctx": "text_model.prompt_context",
    "image_encoder.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
    "image_encoder.class_embedding": "vision_model.embeddings.class_embedding",
    "image_encoder.positional_embedding": "vision_model.embeddings.position_embedding.weight",
    "image_encoder.ln_pre.weight": "vision_model.pre_layrnorm.weight",
    "image_encoder.ln_pre.bias": "vision_model.pre_layrnorm.bias",
    "image_encoder.ln_post.weight": "vision_model.post_layernorm.weight",
    "image_encoder.ln_post.bias": "vision_model.post_layernorm.bias",
    TOKEN_EMBEDDING_KEY: "text_model.embeddings.token_embedding.weight",
    "text_encoder.positional_embedding": "text_model.embeddings.position_embedding.weight",
    "text_encoder.ln_final.weight": "text_model.final_layer_norm.weight",
    "text_encoder.ln_final.bias": "text_model.final_layer_norm.bias",
}
_TRANSPOSED = {"image_encoder.proj": "visual_projection.weight", "text_encoder.text_projection": "text_projection.weight"}
_BLOCK = {
    "ln_1.weight": "layer_norm1.weight", "ln_1.bias": "layer_norm1.bias",
    "ln_2.weight": "layer_norm2.weight", "ln_2.bias": "layer_norm2.bias",
    "mlp.c_fc.weight": "mlp.fc1.weight", "mlp.c_fc.bias": "mlp.fc1.bias",
    "mlp.c_proj.weight": "mlp.fc2.weight", "mlp.c_proj.bias": "mlp.fc2.bias",
}
_VISION_ATTENTION = {
    f"attn.{p}_proj.{t}": f"self_attn.{p}_proj.{t}" for p in ("q", "k", "v", "out") for t in ("weight", "bias")
}
_TEXT_ATTENTION = {"attn.out_proj.weight": "self_attn.out_proj.weight", "attn.out_proj.bias": "self_attn.out_proj.bias"}
_PROMPT_BLOCK = {
    "ln_1.weight": "layer_norm1.weight", "ln_1.bias": "layer_norm1.bias",
    "ln_1_kv.weight": "layer_norm_kv.weight", "ln_1_kv.bias": "layer_norm_kv.bias",
    "ln_2.weight": "layer_norm2.weight", "ln_2.bias": "layer_norm2.bias",
    "mlp.c_fc.weight": "mlp.fc1.weight", "mlp.c_fc.bias": "mlp.fc1.bias",
    "mlp.c_proj.weight": "mlp.fc2.weight", "mlp.c_proj.bias": "mlp.fc2.bias",
    "attn.out_proj.weight": "cross_attn.out_proj.weight", "attn.out_proj.bias": "cross_attn.out_proj.bias",
    # nn.MultiheadAttention keeps separate q/k/v weights when the key width differs from the query width
    "attn.q_proj_weight": "cross_attn.q_proj.weight",
    "attn.k_proj_weight": "cross_attn.k_proj.weight",
    "attn.v_proj_weight": "cross_attn.v_proj.weight",
}
_PACKED = {"attn.in_proj_weight": "weight", "attn.in_proj_bias": "bias"}
_VISION_BLOCKS = "image_encoder.transformer.resblocks."
_TEXT_BLOCKS = "text_encoder.transformer.resblocks."
_PROMPT_BLOCKS = "text_encoder.prompt_generation_layer."


class ConversionError(ValueError):
    """The checkpoint cannot be converted; the message names the file (when known) and every offending key."""


# ----------------------------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------------------------


class _Placeholder:
    """Stands in for any pickled object that is not a tensor or a plain container (OmegaConf, optimizer classes)."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def __call__(self, *args, **kwargs):
        return _Placeholder()


# The globals a tensor state dict needs; everything else becomes a `_Placeholder` and is never called for real.
_TENSOR_GLOBALS = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_tensor"),
    ("torch", "Size"),
}


class _TensorOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _TENSOR_GLOBALS or (module == "torch" and (name.endswith("Storage") or name in _DTYPES)):
            return super().find_class(module, name)
        return _Placeholder


_DTYPES = {"float32", "float16", "bfloat16", "float64", "int64", "int32", "uint8", "bool", "int8", "int16"}


class _TensorOnlyPickleModule:
    """A `pickle_module` for `torch.load` that rebuilds only tensors and plain containers."""

    Unpickler = _TensorOnlyUnpickler
    __name__ = "tensor_only_pickle"

    @staticmethod
    def load(file, **kwargs):
        return _TensorOnlyUnpickler(file, **kwargs).load()


def load_official_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a released TC-CLIP checkpoint safely and return its model state dict: prefix stripped, fp32."""
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as safe_error:  # the pickled OmegaConf config: rebuild tensors only
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_TensorOnlyPickleModule)
        except Exception as err:
            raise ConversionError(f"{path}: cannot be read as a checkpoint ({safe_error}; {err})") from err
    try:
        return extract_state_dict(obj)
    except ConversionError as err:
        raise ConversionError(f"{path}: {err}") from None


def extract_state_dict(obj) -> dict[str, torch.Tensor]:
    """`{'model': sd, ...}` (the official training layout) or a bare `sd` -> clean fp32 state dict.

    The optimizer and scheduler state, the epoch, the accuracy and the config are ignored; the prompt learner's
    derived buffers are dropped.
    """
    if isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not obj:
        raise ConversionError(f"expected a state dict or {{'model': state_dict, ...}}, got {type(obj).__name__}")
    not_tensors = sorted(str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor))
    if not_tensors:
        raise ConversionError("not a model state dict and no 'model' entry; non-tensor entries: " + ", ".join(not_tensors))
    state_dict = {}
    for key, tensor in obj.items():
        name = key[len("module."):] if key.startswith("module.") else key  # saved from DistributedDataParallel
        if name in state_dict:
            raise ConversionError(f"key {name!r} occurs both with and without the 'module.' prefix")
        if name in DROPPED_KEYS:
            continue
        state_dict[name] = tensor.detach().to("cpu", torch.float32) if tensor.is_floating_point() else tensor
    return state_dict


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
    names = {key[len("module."):] if key.startswith("module.") else key for key in keys}
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


def _num_blocks(state_dict: Mapping[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = [int(m.group(1)) for k in state_dict if (m := pattern.match(k))]
    return max(found) + 1 if found else 0


def _heads(width: int, override: int | None, tower: str, option: str) -> int:
    heads = width // 64 if override is None else int(override)
    if heads < 1 or width % heads:
        how = f"{option}={heads}" if override is not None else f"the official default width // 64 = {heads}"
        raise ConversionError(
            f"{tower} width {width} cannot be split into heads with {how}; pass {option}=N with N dividing {width} "
            f"(head counts are not stored in TC-CLIP checkpoints)"
        )
    return heads


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
    conv = state_dict["image_encoder.conv1.weight"]
    if conv.ndim != 4 or conv.shape[1] != 3 or conv.shape[2] != conv.shape[3]:
        raise ConversionError(f"image_encoder.conv1.weight has shape {tuple(conv.shape)}, expected (width, 3, patch, patch)")
    vision_width, patch = conv.shape[0], conv.shape[-1]
    positions = state_dict["image_encoder.positional_embedding"].shape[0]
    grid = math.isqrt(positions - 1)
    if grid * grid + 1 != positions:
        raise ConversionError(f"image_encoder.positional_embedding has {positions} positions, not 1 + a square number of patches")
    embed_dim = state_dict["image_encoder.proj"].shape[1]
    max_positions, text_width = state_dict["text_encoder.positional_embedding"].shape
    vision_layers = _num_blocks(state_dict, _VISION_BLOCKS)
    text_layers = _num_blocks(state_dict, _TEXT_BLOCKS)
    prompt_layers = _num_blocks(state_dict, _PROMPT_BLOCKS)
    if not vision_layers or not text_layers or not prompt_layers:
        raise ConversionError(
            f"found {vision_layers} vision, {text_layers} text and {prompt_layers} prompting blocks; need at least one of each"
        )

    def mlp_size(prefix, width):
        key = f"{prefix}0.mlp.c_fc.weight"
        return state_dict[key].shape[0] if key in state_dict else 4 * width

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
    common = dict(hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=embed_dim)
    text_config = dict(
        vocab_size=vocab_size, hidden_size=text_width, intermediate_size=mlp_size(_TEXT_BLOCKS, text_width),
        num_hidden_layers=text_layers, num_attention_heads=_heads(text_width, text_heads, "text", "text_heads"),
        max_position_embeddings=max_positions,
        # OpenAI's vocabulary ends with <|startoftext|>, <|endoftext|>; pooling is at the end-of-text token
        bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1, **common,
    )
    vision_config = dict(
        hidden_size=vision_width, intermediate_size=mlp_size(_VISION_BLOCKS, vision_width),
        num_hidden_layers=vision_layers,
        num_attention_heads=_heads(vision_width, vision_heads, "vision", "vision_heads"),
        image_size=grid * patch, patch_size=patch, num_channels=3, **common,
    )
    use_bias = any(k.endswith("attn.local_global_bias_table") for k in state_dict)
    logit_scale = state_dict.get("logit_scale")
    values = dict(
        text_config=text_config,
        vision_config=vision_config,
        projection_dim=embed_dim,
        logit_scale_init_value=float(logit_scale) if logit_scale is not None else math.log(100.0),
        num_prompt_context=num_prompt_context,
        use_local_global_bias=use_bias,
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
    for prefix, ours, attention, attn_name in (
        (_VISION_BLOCKS, "vision_model.encoder.layers.", _VISION_ATTENTION, "self_attn"),
        (_TEXT_BLOCKS, "text_model.encoder.layers.", _TEXT_ATTENTION, "self_attn"),
        (_PROMPT_BLOCKS, "text_model.video_prompt_layers.", {}, "cross_attn"),
    ):
        m = re.fullmatch(re.escape(prefix) + r"(\d+)\.(.+)", key)
        if not m:
            continue
        index, rest = m.groups()
        names = _PROMPT_BLOCK if prefix == _PROMPT_BLOCKS else {**_BLOCK, **attention}
        if rest in names:
            return f"{ours}{index}.{names[rest]}"
        if rest in _PACKED:
            return f"{ours}{index}.{attn_name}.{{q,k,v}}_proj.{_PACKED[rest]}"
        if rest == "attn.local_global_bias_table" and prefix == _VISION_BLOCKS:
            return f"{ours}{index}.self_attn.local_global_bias"
    return None


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
        table = state_dict.pop(TOKEN_EMBEDDING_KEY)
    elif token_embedding is not None:
        table = token_embedding.detach().to("cpu", torch.float32)
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
    unmapped = sorted(k for k in state_dict if k not in expected)
    missing = sorted(k for k in expected if k not in state_dict)
    wrong = sorted(
        f"{k}: {tuple(state_dict[k].shape)}, expected {expected[k]}"
        for k in expected if k in state_dict and tuple(state_dict[k].shape) != expected[k]
    )
    if unmapped or missing or wrong:
        parts = []
        if unmapped:
            parts.append(f"{len(unmapped)} unmapped key(s) (not part of the official TC-CLIP model):\n  " + "\n  ".join(unmapped))
        if missing:
            parts.append(f"{len(missing)} missing key(s):\n  " + "\n  ".join(missing))
        if wrong:
            parts.append(f"{len(wrong)} key(s) with the wrong shape:\n  " + "\n  ".join(wrong))
        raise ConversionError("refusing to convert an incomplete or unknown checkpoint; " + "\n".join(parts))

    converted: dict[str, torch.Tensor] = {"text_model.embeddings.token_embedding.weight": table.clone()}
    width = config.text_config.hidden_size
    for key, tensor in state_dict.items():
        target = map_key(key)
        if key in _TRANSPOSED:  # official x @ proj; nn.Linear computes x @ weight.T
            converted[target] = tensor.t().contiguous()
        elif key.endswith("attn.local_global_bias_table"):  # (H, 1, 2) -> (H, 2): [:, 0] local, [:, 1] global
            converted[target] = tensor[:, 0, :].clone()
        elif "{q,k,v}" in target:  # nn.MultiheadAttention packs q, k, v in thirds
            if key.startswith(_VISION_BLOCKS):
                parts = tensor.chunk(3, dim=0)
            else:  # text width thirds (the key width of a prompting block equals it when packed)
                parts = tensor.split(width, dim=0)
            for name, part in zip("qkv", parts):
                converted[target.replace("{q,k,v}", name)] = part.clone()
        else:
            converted[target] = tensor.clone()
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

    model = TCCLIPForVideoClassification(config)
    result = model.tc_clip.load_state_dict(dict(converted), strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    if missing or result.unexpected_keys:  # the mapping and the model disagree: a bug, not bad input
        raise ConversionError(
            "the converted weights do not fit TCCLIPModel; missing: " + ", ".join(missing)
            + "; unexpected: " + ", ".join(result.unexpected_keys)
        )
    return model.eval()


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
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    if save_processor:
        from .processing_defaults import save_tc_clip_processor

        save_tc_clip_processor(config, output_dir)
    return model


def describe(config: TCCLIPConfig) -> str:
    """One line per tower, for the CLI."""
    v, t = config.vision_config, config.text_config
    return (
        f"vision: width {v.hidden_size}, {v.num_hidden_layers} layers, {v.num_attention_heads} heads, "
        f"patch {v.patch_size}, image {v.image_size}; k {config.context_tokens} context tokens, "
        f"{config.seeds_per_frame} seeds per frame, r {config.merge_r}\n"
        f"text: width {t.hidden_size}, {t.num_hidden_layers} layers, {t.num_attention_heads} heads, "
        f"vocab {t.vocab_size}; {config.num_prompt_context} prompt vectors, prompting before layers "
        f"{config.resolved_vp_levels}\n"
        f"embed dim {config.projection_dim}, logit scale exp {math.exp(config.logit_scale_init_value):.4g}"
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
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False, mmap=True, pickle_module=_TensorOnlyPickleModule)
        except Exception:
            return None  # unreadable here: let the family's own loader report it
    if not isinstance(obj, Mapping):
        return None
    return detect_family(obj)


__all__ += ["detect_checkpoint_family"]
