"""A clip processor with a checkpoint's own preprocessing constants, whatever image processor it was saved with.

Checkpoints of this library save a `T2LImageProcessor` (frames, crop, resize, mean/std). transformers' CLIP and
X-CLIP checkpoints save a per-image `CLIPImageProcessor` / `VideoMAEImageProcessor`; their constants (mean/std,
resize target, centre crop, resize filter) are read from the saved `preprocessor_config.json` and carried over to
a `T2LImageProcessor`, which samples and stacks `num_frames` frames per clip. Nothing else is inferred: a
preprocessing this processor cannot do (no centre crop, no normalisation, a non-square crop) is refused by name.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transformers import CLIPTokenizer
from transformers.image_processing_utils import ImageProcessingMixin

from .image_processing_t2l import T2LImageProcessor
from .processing_t2l import T2LProcessor

CLIP_PROCESSOR_TYPE = T2LImageProcessor.__name__


def is_clip_processor_dict(config: Mapping[str, Any]) -> bool:
    """True for a saved `T2LImageProcessor` (it records `num_frames`), False for a per-image processor."""
    return config.get("image_processor_type") == CLIP_PROCESSOR_TYPE or "num_frames" in config


def _side(value, name: str, where: str) -> int:
    """An edge length from an int or a transformers size dict ({"shortest_edge"} or square {"height", "width"})."""
    if isinstance(value, Mapping):
        if "shortest_edge" in value:
            return int(value["shortest_edge"])
        if "height" in value and "width" in value:
            if int(value["height"]) != int(value["width"]):
                raise ValueError(f"{where}: {name} {dict(value)} is not square; clips are cropped to squares")
            return int(value["height"])
        raise ValueError(f"{where}: {name} {dict(value)} has neither shortest_edge nor height/width")
    return int(value)


def image_processor_from_dict(
    config: Mapping[str, Any], num_frames: int, where: str = "image processor"
) -> T2LImageProcessor:
    """A `T2LImageProcessor` for `num_frames` frames with the constants of another image processor's config.

    `config` is a saved `preprocessor_config.json` (or `processor.to_dict()`), e.g. a CLIPImageProcessor's:
    resize the shorter side to `size`, centre-crop `crop_size`, rescale by 1/255, normalise with its mean/std.
    """
    for flag in ("do_resize", "do_center_crop", "do_rescale", "do_normalize"):
        if config.get(flag, True) is False:
            raise ValueError(f"{where}: {flag}=False is not supported (clips are resized, centre-cropped, rescaled "
                             f"and normalised)")
    rescale = float(config.get("rescale_factor", 1 / 255))
    if abs(rescale - 1 / 255) > 1e-12:
        raise ValueError(f"{where}: rescale_factor {rescale} is not 1/255")
    missing = [key for key in ("image_mean", "image_std", "size", "crop_size") if config.get(key) is None]
    if missing:
        raise ValueError(f"{where}: no {', '.join(missing)} in the image processor config")
    kwargs = dict(
        num_frames=int(num_frames),
        crop_size=_side(config["crop_size"], "crop_size", where),
        shortest_edge=_side(config["size"], "size", where),
        image_mean=tuple(float(x) for x in config["image_mean"]),
        image_std=tuple(float(x) for x in config["image_std"]),
    )
    if config.get("resample") is not None:
        kwargs["resample"] = int(config["resample"])
    return T2LImageProcessor(**kwargs)


def load_image_processor(name_or_path, num_frames: int, **hub_kwargs) -> T2LImageProcessor:
    """The clip image processor saved in `name_or_path` (Hub id or folder), or one built from the constants of the
    per-image processor saved there. Raises OSError when there is no `preprocessor_config.json`."""
    config, _ = ImageProcessingMixin.get_image_processor_dict(name_or_path, **hub_kwargs)
    if is_clip_processor_dict(config):
        processor = T2LImageProcessor.from_pretrained(name_or_path, **hub_kwargs)
        if processor.num_frames != int(num_frames):
            raise ValueError(
                f"{name_or_path}: the saved image processor samples {processor.num_frames} frames but the model "
                f"expects {num_frames}"
            )
        return processor
    return image_processor_from_dict(config, num_frames, where=f"{name_or_path}: preprocessor_config.json")


def load_processor(name_or_path, num_frames: int, **hub_kwargs) -> T2LProcessor:
    """A `T2LProcessor` (clip image processor + the saved CLIP tokenizer) with the checkpoint's own constants.

    For evaluation and training of checkpoints saved without one, e.g.
    `load_processor("openai/clip-vit-base-patch16", num_frames=model.num_frames)`.
    """
    image_processor = load_image_processor(name_or_path, num_frames, **hub_kwargs)
    tokenizer = CLIPTokenizer.from_pretrained(name_or_path, **hub_kwargs)
    return T2LProcessor(image_processor=image_processor, tokenizer=tokenizer)


__all__ = ["image_processor_from_dict", "is_clip_processor_dict", "load_image_processor", "load_processor"]
