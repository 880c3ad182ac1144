"""TC-CLIP's preprocessing constants build the library's image processor and processor (spec §6.3)."""
from __future__ import annotations

import numpy as np
import torch

from modeling_t2l.processing.image_processing_t2l import T2LImageProcessor
from modeling_t2l.models.tc_clip import processing_defaults as defaults
from modeling_t2l.processing.processing_t2l import T2LProcessor


def test_constants_are_imagenet_not_clip():
    assert defaults.IMAGENET_MEAN == (123.675 / 255, 116.28 / 255, 103.53 / 255)
    assert np.allclose(defaults.IMAGENET_STD, (58.395 / 255, 57.12 / 255, 57.375 / 255))
    assert (defaults.NUM_FRAMES, defaults.CROP_SIZE, defaults.SHORTEST_EDGE) == (16, 224, 256)


def test_image_processor_normalises_with_imagenet_statistics():
    processor = defaults.build_image_processor(num_frames=2, crop_size=32)
    assert isinstance(processor, T2LImageProcessor)
    assert (processor.num_frames, processor.crop_size, processor.shortest_edge) == (2, 32, 36)
    frames = [np.full((40, 50, 3), 128, dtype=np.uint8)] * 2
    pixels = processor(frames, return_tensors="pt")["pixel_values"]
    assert pixels.shape == (1, 2, 3, 32, 32)
    expected = (128 / 255 - torch.tensor(defaults.IMAGENET_MEAN)) / torch.tensor(defaults.IMAGENET_STD)
    torch.testing.assert_close(pixels[0, 0, :, 0, 0], expected.float(), rtol=1e-5, atol=1e-5)


def test_processor_round_trip(tmp_path):
    processor = defaults.build_processor()
    processor.save_pretrained(tmp_path)
    loaded = T2LProcessor.from_pretrained(tmp_path)
    assert loaded.image_processor.image_mean == list(defaults.IMAGENET_MEAN)
    assert loaded.num_frames == 16 and loaded.image_processor.crop_size == 224


def test_multi_scale_crop_uses_the_five_fixed_offsets():
    """mmaction's MultiScaleCrop(num_fixed_crops=5): the 4 corners and the centre; T2L keeps the 13 positions."""
    from modeling_t2l.processing.image_processing_t2l import fixed_crop_offsets

    tc_clip, t2l = defaults.build_image_processor(), T2LImageProcessor()
    assert tc_clip.num_fixed_crops == 5 and t2l.num_fixed_crops == 13
    rng = np.random.default_rng(0)
    seen = {processor.num_fixed_crops: set() for processor in (tc_clip, t2l)}
    for _ in range(300):
        for processor in (tc_clip, t2l):
            crop_w, crop_h, left, top = processor.sample_multi_scale_crop(340, 256, rng)
            offsets = fixed_crop_offsets(340, 256, crop_w, crop_h)
            seen[processor.num_fixed_crops].add(offsets.index((left, top)))
    assert seen[5] == set(range(5)) and seen[13] == set(range(13))
