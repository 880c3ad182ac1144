"""The only places search touches a model or a processor: small functions over the family contract.

Search works for every family because it calls nothing but the contract's members (`get_video_features`,
`get_text_features`, `text_depends_on_video`, `num_frames`, through `modeling_utils`' helpers where they fit) and
the processor's `videos=` / `text=` calls. Each is read through one function here, so a change of the contract is
a change of this file only.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import modeling_utils as contract

# Config entries that say how a model was loaded or saved, not what it computes.
_VOLATILE_CONFIG_KEYS = frozenset(
    {"_name_or_path", "transformers_version", "dtype", "torch_dtype", "_commit_hash", "_attn_implementation",
     "_attn_implementation_autoset", "use_cache", "output_hidden_states", "output_attentions", "return_dict"}
)


class TextDependsOnVideoError(ValueError):
    """The model's text embedding needs the video, and it offers no video-independent one to rank an archive."""


def model_device_dtype(model) -> tuple[torch.device, torch.dtype]:
    parameter = next(model.parameters())
    return parameter.device, parameter.dtype


def video_outputs(model, pixel_values: torch.Tensor):
    """`get_video_features` on (B, T, 3, H, W) pixels, moved to the model's device and dtype (the whole output:
    a family whose text depends on the video needs more of it than the embedding)."""
    device, dtype = model_device_dtype(model)
    return model.get_video_features(pixel_values.to(device=device, dtype=dtype))


def normalized(embeddings: torch.Tensor) -> torch.Tensor:
    """float32, L2-normalised along the last axis, on the CPU (what an index stores and compares)."""
    return torch.nn.functional.normalize(embeddings.float(), dim=-1).cpu()


def video_embeddings(model, pixel_values: torch.Tensor) -> torch.Tensor:
    """(B, E) normalised video embeddings."""
    device, dtype = model_device_dtype(model)
    return normalized(contract.video_embeddings(model, pixel_values.to(device=device, dtype=dtype)))


def text_depends_on_video(model) -> bool:
    return bool(model.text_depends_on_video)


def _on_device(model, encoded: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
    device, _ = model_device_dtype(model)
    mask = encoded.get("attention_mask")
    return encoded["input_ids"].to(device), None if mask is None else mask.to(device)


def conditioned_text_embeddings(model, encoded: dict, outputs_of_videos) -> torch.Tensor:
    """(B, K, E) normalised text embeddings conditioned on B videos (`text_depends_on_video` families)."""
    input_ids, attention_mask = _on_device(model, encoded)
    return normalized(contract.text_embeddings(model, input_ids, attention_mask, video_outputs=outputs_of_videos))


def independent_text_embeddings(model, encoded: dict) -> torch.Tensor:
    """(K, E) text embeddings that do not depend on a video, to rank a whole archive with.

    The rule, from the contract only: a family whose text does not depend on the video gives them by definition.
    A family with `text_depends_on_video` offers them if and only if `get_text_features` called without
    `video_outputs` returns a (K, E) `pooler_output`; if it raises (the contract lets it require `video_outputs`)
    or returns another shape, search is refused with `TextDependsOnVideoError`.
    """
    input_ids, attention_mask = _on_device(model, encoded)
    if not text_depends_on_video(model):
        return normalized(contract.text_embeddings(model, input_ids, attention_mask))
    name = model_name(model)
    try:
        # the contract's own helper refuses this call for such a family, so the member is called directly
        embeds = normalized(model.get_text_features(input_ids, attention_mask).pooler_output)
    except (TypeError, ValueError) as error:
        raise TextDependsOnVideoError(
            f"{name}: its text embedding depends on the video (text_depends_on_video) and it offers no "
            f"video-independent one (get_text_features without video_outputs failed: {error}); search needs one to "
            "rank the archive before re-scoring a shortlist with the video-conditioned text"
        ) from error
    if embeds.ndim != 2 or embeds.shape[0] != encoded["input_ids"].shape[0]:
        raise TextDependsOnVideoError(
            f"{name}: get_text_features without video_outputs returned shape {tuple(embeds.shape)}, not "
            f"(num_texts, dim): no video-independent text embedding to rank the archive with"
        )
    return embeds


def frames_per_clip(model, processor) -> int:
    """Frames per clip: the model's `num_frames`, else (any number) the processor's."""
    frames = model.num_frames
    if frames is None:
        frames = getattr(processor, "num_frames", None) or getattr(
            getattr(processor, "image_processor", None), "num_frames", None
        )
    if frames is None:
        raise ValueError(
            f"{model_name(model)}: neither the model nor the processor says how many frames a clip has (num_frames)"
        )
    return int(frames)


def pixel_values(processor, clips: np.ndarray) -> torch.Tensor:
    """uint8 clips (B, T, H, W, 3) -> the checkpoint's own preprocessing, (B, T, 3, H, W)."""
    return processor(videos=clips, return_tensors="pt")["pixel_values"]


def encode_texts(processor, texts: list[str]) -> dict:
    """Texts -> {"input_ids", "attention_mask"} with the processor's own cleaning and tokenizer."""
    encoded = processor(text=list(texts), return_tensors="pt")
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded.get("attention_mask")}


def model_name(model) -> str:
    """The model's name or path; a local directory is made absolute, so two spellings of it compare equal."""
    name = str(getattr(model, "name_or_path", "") or "")
    if name and Path(name).is_dir():
        return str(Path(name).resolve())
    return name or type(model).__name__


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _stable(item) for key, item in sorted(value.items()) if key not in _VOLATILE_CONFIG_KEYS}
    if isinstance(value, (list, tuple)):
        return [_stable(item) for item in value]
    return value


def config_sha256(config) -> str:
    """A digest of what the config says the model computes (load-time settings such as dtype left out)."""
    document = json.dumps(_stable(config.to_dict()), sort_keys=True, default=str)
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def processor_sha256(processor) -> str:
    """A digest of the video preprocessing (resize, crop, mean, std, frames), which the embeddings depend on."""
    image_processor = getattr(processor, "image_processor", processor)
    settings = image_processor.to_dict() if hasattr(image_processor, "to_dict") else {}
    settings = {key: value for key, value in settings.items() if not key.startswith("_") and key != "processor_class"}
    return hashlib.sha256(json.dumps(_stable(settings), sort_keys=True, default=str).encode("utf-8")).hexdigest()


def model_identity(model) -> dict:
    """What an index records about the model it was built with (and what a query must match)."""
    return {"name_or_path": model_name(model), "config_sha256": config_sha256(model.config)}
