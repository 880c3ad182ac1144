"""Convert a checkpoint of the official ViFi-CLIP code into a `ViFiCLIPForVideoClassification` directory.

The official code saves `torch.save({'model', 'optimizer', 'lr_scheduler', 'max_accuracy', 'epoch', 'config'})`
(`utils/tools.epoch_saving`), the model state dict of its `ViFiCLIP` module, with a `module.` prefix when it was
trained with DDP, and a pickled yacs config (spec tc_clip_reference.md §11). The model is plain CLIP, so its keys
map one to one onto `transformers.CLIPModel` (the OpenAI -> transformers mapping, `image_encoder.` for `visual.`,
`text_encoder.` for the text root). This module:

1. loads the file without executing pickled code: `torch.load(weights_only=True)` first; a file that also holds
   the yacs config or other objects is read by an unpickler that accepts only torch's tensor-rebuilding globals
   and turns every other class into an inert placeholder (the model state dict is made of tensors only);
2. takes `'model'` (or a bare state dict), strips `module.`, drops the precomputed prompt buffers
   (`prompt_learner.complete_text_embeddings`, `token_prefix`, `token_suffix`: embeddings of the training class
   names, recomputed from any class names here), casts floating tensors to fp32;
3. refuses, listing every key, the second-stage "bridge and prompt" checkpoints (`prompt_learner.ctx`, `VPT*`),
   TC-CLIP checkpoints, unknown, missing and mis-shaped keys;
4. adds the token embedding, which ViFi-CLIP never stores (prompts are precomputed buffers and the table is never
   trained): from a CLIP checkpoint (default `openai/clip-vit-base-patch16`), rounded to fp16 as the official code
   rounds the prompt embeddings; when the file still has `complete_text_embeddings`, its start-of-text rows must
   equal that token embedding's (the wrong CLIP is refused);
5. infers the dimensions from the shapes (heads = width // 64, the official rule; `text_heads` / `vision_heads`
   override it) and writes a directory `ViFiCLIPForVideoClassification.from_pretrained` and the Auto classes load,
   with a processor holding ViFi-CLIP's test transform (ImageNet mean/std, 256 -> 224).
"""
from __future__ import annotations

import logging
import math
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from .configuration_vifi_clip import ViFiCLIPConfig

logger = logging.getLogger(__name__)

DEFAULT_CLIP = "openai/clip-vit-base-patch16"
CLIP_VOCAB_SIZE = 49408
START_OF_TEXT = 49406
TOKEN_EMBEDDING = "text_model.embeddings.token_embedding.weight"
PROMPT_BUFFER = "prompt_learner.complete_text_embeddings"
# precomputed from the training class names; never weights
DROPPED = (PROMPT_BUFFER, "prompt_learner.token_prefix", "prompt_learner.token_suffix")
# second-stage "bridge and prompt" (VL prompting) tensors and TC-CLIP's: another model, refused by name
PROMPTING_MARKERS = ("prompt_learner.ctx", "VPT")
TC_CLIP_MARKERS = ("prompt_generation_layer", "local_global_bias")
ANCHOR_KEYS = (
    "image_encoder.conv1.weight",
    "image_encoder.positional_embedding",
    "image_encoder.proj",
    "text_encoder.positional_embedding",
    "text_encoder.text_projection",
)

# official -> transformers names outside the blocks
_TOP_LEVEL = {
    "logit_scale": "logit_scale",
    "image_encoder.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
    "image_encoder.class_embedding": "vision_model.embeddings.class_embedding",
    "image_encoder.positional_embedding": "vision_model.embeddings.position_embedding.weight",
    "image_encoder.ln_pre.weight": "vision_model.pre_layrnorm.weight",
    "image_encoder.ln_pre.bias": "vision_model.pre_layrnorm.bias",
    "image_encoder.ln_post.weight": "vision_model.post_layernorm.weight",
    "image_encoder.ln_post.bias": "vision_model.post_layernorm.bias",
    "text_encoder.positional_embedding": "text_model.embeddings.position_embedding.weight",
    "text_encoder.ln_final.weight": "text_model.final_layer_norm.weight",
    "text_encoder.ln_final.bias": "text_model.final_layer_norm.bias",
}
# x @ proj in the official code; nn.Linear computes x @ weight.T
_TRANSPOSED = {"image_encoder.proj": "visual_projection.weight", "text_encoder.text_projection": "text_projection.weight"}
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
}
_IN_PROJ = {"attn.in_proj_weight": "weight", "attn.in_proj_bias": "bias"}  # nn.MultiheadAttention packs q, k, v
_TOWERS = {
    "image_encoder.transformer.resblocks.": "vision_model.encoder.layers.",
    "text_encoder.transformer.resblocks.": "text_model.encoder.layers.",
}


class ConversionError(ValueError):
    """The checkpoint cannot be converted; the message names the file (when known) and every offending key."""


# ----------------------------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------------------------


class _Inert(dict):
    """Stands in for every class a checkpoint names besides tensors (yacs configs, optimizer state types): it
    takes any arguments and state and runs none of the named class's code."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.arguments = args

    def __setstate__(self, state):
        self["__state__"] = state


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only torch's own weights-only globals; any other global becomes `_Inert`."""

    def find_class(self, module, name):
        allowed = torch._weights_only_unpickler._get_allowed_globals()
        full_name = f"{module}.{name}"
        if full_name in allowed:
            return allowed[full_name]
        return type(name, (_Inert,), {"__module__": f"inert.{module}"})


class _RestrictedPickle:
    """The `pickle_module` torch.load uses for files that `weights_only=True` refuses."""

    Unpickler = _RestrictedUnpickler
    __name__ = "restricted_pickle"

    @staticmethod
    def load(file, **kwargs):
        return _RestrictedUnpickler(file, **kwargs).load()


def load_official_checkpoint(path: str | Path):
    """The object saved in an official checkpoint file, read without executing pickled code."""
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass  # the yacs config (or optimizer state classes): read again with placeholders for them
    except Exception as err:
        raise ConversionError(f"{path}: not a torch checkpoint ({err})") from err
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_RestrictedPickle)
    except Exception as err:
        raise ConversionError(f"{path}: cannot be read as a torch checkpoint: {err}") from err


def extract_state_dict(obj) -> dict[str, torch.Tensor]:
    """`{'model': sd, ...}` (the official layout) or a bare `sd` -> fp32 state dict without the `module.` prefix.

    `optimizer`, `lr_scheduler`, `max_accuracy`, `epoch` and `config` are ignored.
    """
    if isinstance(obj, Mapping) and "model" in obj and isinstance(obj["model"], Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not obj:
        raise ConversionError(f"expected a state dict or {{'model': ...}}, got {type(obj).__name__}")
    not_tensors = sorted(str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor))
    if not_tensors:
        raise ConversionError("not a model state dict and no 'model' entry; non-tensor entries: " + ", ".join(not_tensors))
    state_dict = {}
    for key, tensor in obj.items():
        name = key[len("module."):] if key.startswith("module.") else key
        if name in state_dict:
            raise ConversionError(f"key {name!r} occurs both with and without the 'module.' prefix")
        state_dict[name] = tensor.detach().to("cpu", torch.float32) if tensor.is_floating_point() else tensor
    return state_dict


def is_vifi_clip_state_dict(keys) -> bool:
    """Key-based detection (for `t2l convert`): ViFi-CLIP's `image_encoder.` / `text_encoder.` layout with packed
    vision attention and none of TC-CLIP's keys. `module.` prefixes are ignored."""
    names = {key[len("module."):] if key.startswith("module.") else key for key in keys}
    return (
        all(anchor in names for anchor in ANCHOR_KEYS)
        and "image_encoder.transformer.resblocks.0.attn.in_proj_weight" in names
        and not any(marker in name for name in names for marker in TC_CLIP_MARKERS)
    )


def is_vifi_clip_checkpoint(path: str | Path) -> bool:
    """`is_vifi_clip_state_dict` of a checkpoint file (read safely); False for a file that cannot be read."""
    try:
        return is_vifi_clip_state_dict(extract_state_dict(load_official_checkpoint(path)).keys())
    except ConversionError:
        return False


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
        how = f"{option}={heads}" if override is not None else f"the official width // 64 = {heads}"
        raise ConversionError(
            f"{tower} width {width} cannot be split into heads with {how}; pass {option}=N with N dividing {width} "
            f"(head counts are not stored in official checkpoints)"
        )
    return heads


def infer_config(state_dict: Mapping[str, torch.Tensor], vocab_size: int = CLIP_VOCAB_SIZE, num_frames: int = 32,
                 text_heads: int | None = None, vision_heads: int | None = None) -> ViFiCLIPConfig:
    """The `ViFiCLIPConfig` of an official state dict, from its tensor shapes."""
    missing = [k for k in ANCHOR_KEYS if k not in state_dict]
    if missing:
        raise ConversionError("not a ViFi-CLIP state dict: missing " + ", ".join(missing))
    conv = state_dict["image_encoder.conv1.weight"]
    if conv.ndim != 4 or conv.shape[1] != 3 or conv.shape[2] != conv.shape[3]:
        raise ConversionError(f"image_encoder.conv1.weight has shape {tuple(conv.shape)}, expected (width, 3, patch, patch)")
    vision_width, patch = conv.shape[0], conv.shape[-1]
    positions = state_dict["image_encoder.positional_embedding"].shape[0]
    grid = math.isqrt(positions - 1)
    if grid * grid + 1 != positions:
        raise ConversionError(f"image_encoder.positional_embedding has {positions} positions, not 1 + a square")
    embed_dim = state_dict["image_encoder.proj"].shape[1]
    context_length, text_width = state_dict["text_encoder.positional_embedding"].shape
    vision_layers = _num_blocks(state_dict, "image_encoder.transformer.resblocks.")
    text_layers = _num_blocks(state_dict, "text_encoder.transformer.resblocks.")
    if not vision_layers or not text_layers:
        raise ConversionError(f"found {vision_layers} vision and {text_layers} text blocks; need at least one of each")

    def mlp_size(prefix, width):
        key = f"{prefix}0.mlp.c_fc.weight"
        return state_dict[key].shape[0] if key in state_dict else 4 * width

    common = dict(hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=embed_dim)
    text_config = dict(
        vocab_size=vocab_size, hidden_size=text_width,
        intermediate_size=mlp_size("text_encoder.transformer.resblocks.", text_width),
        num_hidden_layers=text_layers, num_attention_heads=_heads(text_width, text_heads, "text", "text_heads"),
        max_position_embeddings=context_length,
        # OpenAI's vocabulary ends with <|startoftext|>, <|endoftext|>; the official code pools at the largest id
        bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1, **common,
    )
    vision_config = dict(
        hidden_size=vision_width, intermediate_size=mlp_size("image_encoder.transformer.resblocks.", vision_width),
        num_hidden_layers=vision_layers,
        num_attention_heads=_heads(vision_width, vision_heads, "vision", "vision_heads"),
        image_size=grid * patch, patch_size=patch, num_channels=3, **common,
    )
    logit_scale = state_dict.get("logit_scale")
    return ViFiCLIPConfig(
        text_config=text_config,
        vision_config=vision_config,
        projection_dim=embed_dim,
        logit_scale_init_value=float(logit_scale) if logit_scale is not None else math.log(100.0),
        num_frames=num_frames,
    )


# ----------------------------------------------------------------------------------------------------------------
# key mapping
# ----------------------------------------------------------------------------------------------------------------


def map_key(key: str) -> str | None:
    """The transformers name of an official key (for `in_proj`, with a `{q,k,v}` placeholder); None if unknown."""
    if key in _TOP_LEVEL:
        return _TOP_LEVEL[key]
    if key in _TRANSPOSED:
        return _TRANSPOSED[key]
    for official, ours in _TOWERS.items():
        m = re.fullmatch(re.escape(official) + r"(\d+)\.(.+)", key)
        if m:
            rest = m.group(2)
            if rest in _BLOCK:
                return f"{ours}{m.group(1)}.{_BLOCK[rest]}"
            if rest in _IN_PROJ:
                return f"{ours}{m.group(1)}.self_attn.{{q,k,v}}_proj.{_IN_PROJ[rest]}"
    return None


def _expected_shapes(config: ViFiCLIPConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor of `ViFiCLIPModel` for `config` and its shape (built on the meta device: no memory)."""
    from .modeling_vifi_clip import ViFiCLIPModel

    with torch.device("meta"):
        model = ViFiCLIPModel(config)
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def load_token_embedding(clip_name_or_path: str = DEFAULT_CLIP, **hub_kwargs) -> torch.Tensor:
    """`text_model.embeddings.token_embedding.weight` (fp32) of a transformers CLIP checkpoint (Hub id or folder)."""
    from transformers import CLIPModel

    try:
        clip = CLIPModel.from_pretrained(clip_name_or_path, **hub_kwargs)
    except OSError as err:
        raise ConversionError(
            f"{clip_name_or_path}: cannot load the CLIP checkpoint the token embedding comes from (ViFi-CLIP "
            f"checkpoints do not store it): {err}"
        ) from err
    return clip.text_model.embeddings.token_embedding.weight.detach().float().clone()


def _check_token_embedding(state_dict: Mapping[str, torch.Tensor], token_embedding: torch.Tensor) -> None:
    """The prompt buffer starts every class with fp16(token_embedding[<|startoftext|>]): a wrong CLIP shows there."""
    buffer = state_dict.get(PROMPT_BUFFER)
    if buffer is None or buffer.ndim != 3 or token_embedding.shape[0] <= START_OF_TEXT:
        return
    if buffer.shape[-1] != token_embedding.shape[1]:
        raise ConversionError(
            f"{PROMPT_BUFFER} has width {buffer.shape[-1]} but the token embedding {token_embedding.shape[1]}"
        )
    expected = token_embedding[START_OF_TEXT].half().float()
    if not torch.equal(buffer[:, 0].float(), expected.expand_as(buffer[:, 0])):
        raise ConversionError(
            f"the token embedding is not the one this checkpoint was trained with: {PROMPT_BUFFER}[:, 0] (the "
            f"start-of-text embedding of every class prompt) differs from it; pass the CLIP the model was "
            f"fine-tuned from (clip / token_embedding)"
        )


def convert_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    token_embedding: torch.Tensor,
    num_frames: int = 32,
    text_heads: int | None = None,
    vision_heads: int | None = None,
    round_token_embedding: bool = True,
) -> tuple[ViFiCLIPConfig, dict[str, torch.Tensor]]:
    """Official state dict (raw or cleaned) + the CLIP token embedding (vocab, width) -> (ViFiCLIPConfig,
    `ViFiCLIPModel` / `CLIPModel` state dict).

    `round_token_embedding` (official): the table is rounded to fp16, as the official code rounds the prompt
    embeddings it computes from it; OpenAI's tables are fp16 to begin with, so for them it changes nothing.
    Raises `ConversionError` listing every refused, unmapped, missing and mis-shaped key.
    """
    state_dict = extract_state_dict(state_dict)
    refused_tc = sorted(k for k in state_dict if any(m in k for m in TC_CLIP_MARKERS))
    refused_prompting = sorted(k for k in state_dict if any(m in k for m in PROMPTING_MARKERS) and k not in refused_tc)
    if refused_tc or refused_prompting:
        parts = []
        if refused_tc:
            parts.append(f"{len(refused_tc)} TC-CLIP key(s) (convert it as a TC-CLIP checkpoint):\n  " + "\n  ".join(refused_tc))
        if refused_prompting:
            parts.append(
                f"{len(refused_prompting)} key(s) of ViFi-CLIP's second-stage vision-language prompting "
                f"('bridge and prompt'), which this family does not implement:\n  " + "\n  ".join(refused_prompting)
            )
        raise ConversionError("refusing to convert: " + "\n".join(parts))
    token_embedding = token_embedding.detach().to("cpu", torch.float32)
    if token_embedding.ndim != 2:
        raise ConversionError(f"the token embedding must be (vocab, width); got {tuple(token_embedding.shape)}")
    _check_token_embedding(state_dict, token_embedding)
    weights = {k: v for k, v in state_dict.items() if k not in DROPPED}

    config = infer_config(weights, vocab_size=token_embedding.shape[0], num_frames=num_frames,
                          text_heads=text_heads, vision_heads=vision_heads)
    expected = _expected_shapes(config)
    unmapped = sorted(k for k in weights if map_key(k) is None)
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in weights.items():
        target = map_key(key)
        if target is None:
            continue
        if key in _TRANSPOSED:
            if tensor.ndim != 2:
                unmapped.append(f"{key} (shape {tuple(tensor.shape)}, expected a matrix)")
                continue
            converted[target] = tensor.t().contiguous()
        elif "{q,k,v}" in target:
            if tensor.shape[0] % 3:
                unmapped.append(f"{key} (shape {tuple(tensor.shape)}, not three packed projections)")
                continue
            for name, part in zip("qkv", tensor.chunk(3, dim=0)):
                converted[target.replace("{q,k,v}", name)] = part.clone()
        else:
            converted[target] = tensor.clone()
    # CLIP's rounding of the prompt embeddings to fp16 (a no-op for OpenAI's fp16-born weights)
    converted[TOKEN_EMBEDDING] = token_embedding.half().float() if round_token_embedding else token_embedding.clone()

    buffers = {name for name in expected if name.endswith("position_ids")}
    missing = sorted(k for k in expected if k not in converted and k not in buffers)
    wrong = sorted(
        f"{k}: {tuple(converted[k].shape)}, expected {expected[k]}"
        for k in expected if k in converted and tuple(converted[k].shape) != expected[k]
    )
    if unmapped or missing or wrong:
        parts = []
        if unmapped:
            parts.append(f"{len(unmapped)} unmapped key(s) (not part of the ViFi-CLIP model):\n  " + "\n  ".join(unmapped))
        if missing:
            parts.append(f"{len(missing)} missing tensor(s) (transformers names):\n  " + "\n  ".join(missing))
        if wrong:
            parts.append(f"{len(wrong)} tensor(s) with the wrong shape:\n  " + "\n  ".join(wrong))
        raise ConversionError("refusing to convert an incomplete or unknown checkpoint; " + "\n".join(parts))
    return config, converted


# ----------------------------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------------------------


def build_model(config: ViFiCLIPConfig, converted: Mapping[str, torch.Tensor]):
    """A `ViFiCLIPForVideoClassification` holding exactly the converted weights (eval mode)."""
    from .modeling_vifi_clip import ViFiCLIPForVideoClassification

    model = ViFiCLIPForVideoClassification(config)
    result = model.vifi_clip.load_state_dict(dict(converted), strict=False)
    unexpected = list(result.unexpected_keys)
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    if missing or unexpected:  # the mapping and the model disagree: a bug, not bad input
        raise ConversionError(
            "the converted weights do not fit ViFiCLIPModel; missing: " + ", ".join(missing)
            + "; unexpected: " + ", ".join(unexpected)
        )
    return model.eval()


def convert_checkpoint(
    checkpoint: str | Path,
    output_dir: str | Path,
    clip: str = DEFAULT_CLIP,
    token_embedding: torch.Tensor | None = None,
    num_frames: int = 32,
    text_heads: int | None = None,
    vision_heads: int | None = None,
    save_processor: bool = True,
):
    """Convert the official checkpoint file `checkpoint` into `output_dir`; returns the converted model.

    The token embedding is `token_embedding` if given, else read from the CLIP checkpoint `clip` (Hub id or
    folder). The processor saved next to the weights has ViFi-CLIP's test transform and the CLIP tokenizer of
    `clip` (the bundled OpenAI one when that has none).
    """
    state_dict = extract_state_dict_from_file(checkpoint)
    if token_embedding is None:
        token_embedding = load_token_embedding(clip)
    try:
        config, converted = convert_state_dict(state_dict, token_embedding, num_frames=num_frames,
                                               text_heads=text_heads, vision_heads=vision_heads)
    except ConversionError as err:
        raise ConversionError(f"{checkpoint}: {err}") from None
    model = build_model(config, converted)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    if save_processor and _save_processor(config, output_dir, clip):
        from ...pipelines.zero_shot_video_classification import add_pipeline_to_checkpoint

        add_pipeline_to_checkpoint(output_dir)
    return model


def extract_state_dict_from_file(checkpoint: str | Path) -> dict[str, torch.Tensor]:
    try:
        return extract_state_dict(load_official_checkpoint(checkpoint))
    except ConversionError as err:
        message = str(err)
        raise ConversionError(message if message.startswith(str(checkpoint)) else f"{checkpoint}: {message}") from None


def _save_processor(config: ViFiCLIPConfig, output_dir: Path, clip_name_or_path: str | None) -> bool:
    """ViFi-CLIP's test transform for `config.num_frames` frames and a CLIP tokenizer, saved into `output_dir`."""
    from transformers import CLIPTokenizer

    from ...processing.processing_t2l import T2LProcessor
    from ...processing.tokenization import load_clip_tokenizer
    from .processing_vifi_clip import vifi_clip_image_processor

    tokenizer = None
    if clip_name_or_path:
        try:
            tokenizer = CLIPTokenizer.from_pretrained(clip_name_or_path)
        except (OSError, ValueError, TypeError):
            tokenizer = None
    if tokenizer is None or len(tokenizer) != config.text_config.vocab_size:
        tokenizer = load_clip_tokenizer()  # the bundled OpenAI BPE files
    if len(tokenizer) != config.text_config.vocab_size:
        logger.warning("the tokenizer has %d tokens but the model %d: no processor saved",
                       len(tokenizer), config.text_config.vocab_size)
        return False
    image_processor = vifi_clip_image_processor(config.num_frames, crop_size=config.vision_config.image_size)
    T2LProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(output_dir)
    return True


def describe(config: ViFiCLIPConfig) -> str:
    """One line per tower, for the CLI."""
    v, t = config.vision_config, config.text_config
    return (
        f"vision: width {v.hidden_size}, {v.num_hidden_layers} layers, {v.num_attention_heads} heads, "
        f"patch {v.patch_size}, image {v.image_size}\n"
        f"text: width {t.hidden_size}, {t.num_hidden_layers} layers, {t.num_attention_heads} heads, "
        f"vocab {t.vocab_size}, context {t.max_position_embeddings}\n"
        f"embed dim {config.projection_dim}, T = {config.num_frames} frames (averaged), "
        f"logit scale exp {math.exp(config.logit_scale_init_value):.4g}"
    )


__all__ = [
    "ConversionError",
    "convert_checkpoint",
    "convert_state_dict",
    "describe",
    "extract_state_dict",
    "infer_config",
    "is_vifi_clip_checkpoint",
    "is_vifi_clip_state_dict",
    "load_official_checkpoint",
    "load_token_embedding",
    "map_key",
]
