"""T2LProcessor takes its options as transformers' ProcessingKwargs and never drops an input or option silently."""
import numpy as np
import pytest
import torch

from modeling_t2l import T2LProcessor


@pytest.fixture(scope="module")
def processor():
    return T2LProcessor.from_clip_tokenizer(num_frames=2, crop_size=16, shortest_edge=18)


def clips(n=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (2, 20, 24, 3), dtype=np.uint8) for _ in range(n)]


def test_images_is_the_same_clips_as_videos(processor):
    by_videos = processor(videos=clips(), text=["a cat"])
    by_images = processor(images=clips(), text=["a cat"])
    assert torch.equal(by_videos["pixel_values"], by_images["pixel_values"])
    assert by_images["pixel_values"].shape == (2, 2, 3, 16, 16)
    with pytest.raises(ValueError, match="not both"):
        processor(images=clips(), videos=clips())


def test_options_flat_or_per_modality(processor):
    flat = processor(videos=clips(), train=True, seed=3, do_flip=False, text=["a dog"], padding="max_length",
                     max_length=12)
    nested = processor(videos=clips(), images_kwargs={"train": True, "seed": 3, "do_flip": False}, text=["a dog"],
                       text_kwargs={"padding": "max_length", "max_length": 12})
    assert torch.equal(flat["pixel_values"], nested["pixel_values"])
    assert flat["input_ids"].shape == (1, 12) and torch.equal(flat["input_ids"], nested["input_ids"])
    # train=True really reached the image processor: the seeded train crop differs from the eval centre crop
    assert not torch.equal(flat["pixel_values"], processor(videos=clips())["pixel_values"])
    three = processor(videos=clips(), num_crops=3)
    assert three["pixel_values"].shape[0] == 6


def test_return_tensors_reaches_both_parts(processor):
    out = processor(videos=clips(1), text=["a"], return_tensors="np")
    assert isinstance(out["pixel_values"], np.ndarray) and isinstance(out["input_ids"], np.ndarray)


@pytest.mark.parametrize("option", [{"foo_bar": 1}, {"videos_kwargs": {"fps": 2}}, {"do_flipp": False}])
def test_unknown_options_raise(processor, option):
    with pytest.raises(TypeError, match="unknown option"):
        processor(videos=clips(1), **option)
