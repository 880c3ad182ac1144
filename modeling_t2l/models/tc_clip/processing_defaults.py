"""TC-CLIP's preprocessing constants (spec §6.3), saved as the processor config of every converted checkpoint.

The official pipeline normalises with ImageNet's mean and std, not CLIP's (123.675, 116.28, 103.53 and 58.395,
57.12, 57.375 on 0-255 pixels, here divided by 255), samples 16 frames, and tests on the shorter side resized to
256 then a 224 centre crop. Training uses the multi-scale crop with the 5 fixed offsets (corners and centre).

Frames are sampled with mmaction2's TSN sampler (`frame_sampling="mmaction"`, spec §6.2): the test clip takes
`int(i * N/T + N/(2T))`, training draws one frame in each of T segments of `N // T` frames.

The test resize is bilinear (`resample`), as the official pipeline's mmcv resize.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NUM_FRAMES = 16
CROP_SIZE = 224
SHORTEST_EDGE = 256  # int(256 / 224 * crop size)
NUM_VIEWS_ZERO_SHOT = 2  # the official zero-shot test: 2 random TSN clips x 1 crop, softmaxes summed
FRAME_SAMPLING = "mmaction"  # mmaction2's SampleFrames, as the official data pipeline


def image_processor_kwargs(num_frames: int = NUM_FRAMES, crop_size: int = CROP_SIZE) -> dict:
    """Keyword arguments of `T2LImageProcessor` for TC-CLIP's eval transform at `crop_size`."""
    return dict(
        num_frames=num_frames,
        crop_size=crop_size,
        shortest_edge=int(256 / 224 * crop_size),
        image_mean=IMAGENET_MEAN,
        image_std=IMAGENET_STD,
        frame_sampling=FRAME_SAMPLING,
        num_fixed_crops=5,  # the multi-scale crop's offsets: 4 corners and the centre
        resample=int(Image.BILINEAR),
    )


def build_image_processor(num_frames: int = NUM_FRAMES, crop_size: int = CROP_SIZE):
    from ...processing.image_processing_t2l import T2LImageProcessor

    return T2LImageProcessor(**image_processor_kwargs(num_frames, crop_size))


def build_processor(num_frames: int = NUM_FRAMES, crop_size: int = CROP_SIZE, tokenizer_path: str | None = None):
    """A `T2LProcessor` (bundled OpenAI CLIP BPE, or `tokenizer_path`) with TC-CLIP's image constants."""
    from ...processing.processing_t2l import T2LProcessor

    return T2LProcessor.from_clip_tokenizer(
        tokenizer_path=tokenizer_path, **image_processor_kwargs(num_frames, crop_size)
    )


def save_tc_clip_processor(config, output_dir: str | Path) -> bool:
    """Save the processor of a TC-CLIP model next to its weights; False (with a warning) for a non-CLIP vocabulary."""
    import logging

    if config.text_config.vocab_size != 49408:
        logging.getLogger(__name__).warning(
            "vocabulary size %d is not CLIP's 49408: no processor saved (the bundled tokenizer would not match)",
            config.text_config.vocab_size,
        )
        return False
    build_processor(config.num_frames, config.vision_config.image_size).save_pretrained(output_dir)
    return True


__all__ = [
    "CROP_SIZE", "FRAME_SAMPLING", "IMAGENET_MEAN", "IMAGENET_STD", "NUM_FRAMES", "SHORTEST_EDGE",
    "build_image_processor", "build_processor", "image_processor_kwargs", "save_tc_clip_processor",
]
