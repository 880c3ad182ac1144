"""ViFi-CLIP's preprocessing defaults: the official test transform with ImageNet statistics (spec protocols §1.5).

ViFi-CLIP (like X-CLIP and TC-CLIP) normalises with the ImageNet mean/std on 0-255 pixels, (123.675, 116.28,
103.53) / (58.395, 57.12, 57.375), which are the 0-1 values below times 255; its checkpoints depend on it. The test
transform is: shorter side to 256, centre crop 224, one view, `num_frames` frames at the TSN segment centres.
The official code resizes with mmcv (OpenCV) bilinear; Pillow's bilinear is the closest this processor offers.
Training augmentation is the shared processor's (T2L's 13 fixed multi-scale crop offsets; the mmaction lineage
uses 5: the corners and the centre).
"""
from __future__ import annotations

from PIL import Image

from ...processing.image_processing_t2l import T2LImageProcessor
from ...processing.processing_t2l import T2LProcessor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NUM_FRAMES = 32
CROP_SIZE = 224
SHORTEST_EDGE = 256


def vifi_clip_image_processor_kwargs(num_frames: int = NUM_FRAMES, crop_size: int = CROP_SIZE) -> dict:
    """`T2LImageProcessor` arguments of ViFi-CLIP's eval transform (shorter side scaled by 256/224 of the crop)."""
    return dict(
        num_frames=num_frames,
        crop_size=crop_size,
        shortest_edge=crop_size * SHORTEST_EDGE // CROP_SIZE,
        image_mean=IMAGENET_MEAN,
        image_std=IMAGENET_STD,
        resample=Image.BILINEAR,
    )


def vifi_clip_image_processor(num_frames: int = NUM_FRAMES, crop_size: int = CROP_SIZE) -> T2LImageProcessor:
    return T2LImageProcessor(**vifi_clip_image_processor_kwargs(num_frames, crop_size))


def vifi_clip_processor(num_frames: int = NUM_FRAMES, crop_size: int = CROP_SIZE, tokenizer_path: str | None = None) -> T2LProcessor:
    """The processor a ViFi-CLIP checkpoint is saved with: ImageNet statistics and the bundled CLIP tokenizer."""
    return T2LProcessor.from_clip_tokenizer(tokenizer_path=tokenizer_path, **vifi_clip_image_processor_kwargs(num_frames, crop_size))


__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "vifi_clip_image_processor",
    "vifi_clip_image_processor_kwargs",
    "vifi_clip_processor",
]
