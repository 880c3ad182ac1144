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
from collections.abc import Mapping
from pathlib import Path

import torch

from ..conversion_utils import ClipLayout, ConversionError, build_converted, check_keys, clean_state_dict
from ..conversion_utils import clip_config_from_shapes, describe_towers, put_converted, read_checkpoint
from ..conversion_utils import check_tensor_values, save_converted, strip_module_prefix
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
LAYOUT = ClipLayout(vision="image_encoder.", text="text_encoder.")
ANCHOR_KEYS = LAYOUT.shape_keys

_TRANSPOSED = LAYOUT.transposed


# ----------------------------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------------------------


def load_official_checkpoint(path: str | Path):
    """The object saved in an official checkpoint file, read without executing pickled code."""
    return read_checkpoint(path, pickled_objects=True)  # the yacs config: placeholders for it


def extract_state_dict(obj) -> dict[str, torch.Tensor]:
    """`{'model': sd, ...}` (the official layout) or a bare `sd` -> fp32 state dict without the `module.` prefix.

    `optimizer`, `lr_scheduler`, `max_accuracy`, `epoch` and `config` are ignored.
    """
    return clean_state_dict(obj, "model")


def is_vifi_clip_state_dict(keys) -> bool:
    """Key-based detection (for `t2l convert`): ViFi-CLIP's `image_encoder.` / `text_encoder.` layout with packed
    vision attention and none of TC-CLIP's keys. `module.` prefixes are ignored."""
    names = {strip_module_prefix(key) for key in keys}
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


def infer_config(state_dict: Mapping[str, torch.Tensor], vocab_size: int = CLIP_VOCAB_SIZE, num_frames: int = 32,
                 text_heads: int | None = None, vision_heads: int | None = None) -> ViFiCLIPConfig:
    """The `ViFiCLIPConfig` of an official state dict, from its tensor shapes."""
    missing = [k for k in ANCHOR_KEYS if k not in state_dict]
    if missing:
        raise ConversionError("not a ViFi-CLIP state dict: missing " + ", ".join(missing))
    clip = clip_config_from_shapes(state_dict, LAYOUT, vocab_size, text_heads=text_heads, vision_heads=vision_heads)
    return ViFiCLIPConfig(**clip, num_frames=num_frames)


# ----------------------------------------------------------------------------------------------------------------
# key mapping
# ----------------------------------------------------------------------------------------------------------------


def map_key(key: str) -> str | None:
    """The transformers name of an official key (for `in_proj`, with a `{q,k,v}` placeholder); None if unknown.
    The token table is never stored by ViFi-CLIP: a checkpoint holding one is not ViFi-CLIP's."""
    return LAYOUT.map_key(key, token_embedding=False)


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
    raw_table = token_embedding.detach()  # its dtype is checked below, before the cast hides an integer table
    token_embedding = raw_table.to("cpu", torch.float32)
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
        elif "{q,k,v}" in target and tensor.shape[0] % 3:
            unmapped.append(f"{key} (shape {tuple(tensor.shape)}, not three packed projections)")
            continue
        put_converted(converted, target, tensor, transpose=key in _TRANSPOSED)
    # CLIP's rounding of the prompt embeddings to fp16 (a no-op for OpenAI's fp16-born weights)
    converted[TOKEN_EMBEDDING] = token_embedding.half().float() if round_token_embedding else token_embedding.clone()

    buffers = {name for name in expected if name.endswith("position_ids")}
    check_keys(converted, expected, "ViFi-CLIP", unmapped=unmapped, optional=buffers,
               kind="tensor(s) (transformers names)")
    # names and shapes are right; the values must be too (named as in the checkpoint)
    check_tensor_values({**weights, "token embedding": raw_table},
                        float_keys=[*(k for k in weights if map_key(k) is not None), "token embedding"],
                        error=ConversionError)
    return config, converted


# ----------------------------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------------------------


def build_model(config: ViFiCLIPConfig, converted: Mapping[str, torch.Tensor]):
    """A `ViFiCLIPForVideoClassification` holding exactly the converted weights (eval mode)."""
    from .modeling_vifi_clip import ViFiCLIPForVideoClassification

    return build_converted(ViFiCLIPForVideoClassification, config, converted)


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
    output_dir = save_converted(model, output_dir)
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
    return (
        describe_towers(config)
        + f"embed dim {config.projection_dim}, T = {config.num_frames} frames (averaged), "
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
