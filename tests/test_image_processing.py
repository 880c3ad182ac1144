"""T2LImageProcessor: eval transform against a plain Pillow reference, official train geometry, seeding, saving."""

import numpy as np
import pytest
import torch
from PIL import Image

from modeling_t2l.processing.image_processing_t2l import (
    CLIP_MEAN,
    CLIP_STD,
    T2LImageProcessor,
    adjust_hue,
    fixed_crop_offsets,
    multi_scale_crop_sizes,
)

MEAN = np.array(CLIP_MEAN, dtype=np.float32)
STD = np.array(CLIP_STD, dtype=np.float32)


def random_clip(num_frames=4, height=200, width=300, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


def smooth_clip(num_frames=4, height=120, width=160):
    """Frames with structure (so crops, flips and colour changes are distinguishable) that differ per frame."""
    yy, xx = np.mgrid[0:height, 0:width]
    frames = [np.stack([(xx * 255 // width), (yy * 255 // height), np.full_like(xx, 40 * t)], axis=2) for t in range(num_frames)]
    return np.stack(frames).astype(np.uint8)


def normalize(frames_hwc):
    """The official ToTorchFormatTensor + GroupNormalize on a stack of uint8 HxWx3 frames -> (T,3,H,W)."""
    return ((np.stack(frames_hwc).astype(np.float32) / 255.0 - MEAN) / STD).transpose(0, 3, 1, 2)


def reference_eval(clip, short=256, crop=224):
    """Straightforward Pillow reference: torchvision Resize(256) bicubic + CenterCrop(224), frame by frame."""
    out = []
    for frame in clip:
        image = Image.fromarray(frame)
        w, h = image.size
        size = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
        image = image.resize(size, Image.BICUBIC)
        left, top = int(round((size[0] - crop) / 2)), int(round((size[1] - crop) / 2))
        out.append(np.asarray(image.crop((left, top, left + crop, top + crop))))
    return normalize(out)


@pytest.mark.parametrize("height,width", [(200, 300), (300, 200), (256, 340), (224, 224)])
def test_eval_matches_pillow_reference(height, width):
    clip = random_clip(3, height, width)
    pixel_values = T2LImageProcessor()(clip)["pixel_values"]
    assert isinstance(pixel_values, torch.Tensor) and pixel_values.dtype == torch.float32
    assert pixel_values.shape == (1, 3, 3, 224, 224)
    np.testing.assert_allclose(pixel_values[0].numpy(), reference_eval(clip), atol=1e-5)


def test_every_input_form_gives_the_same_values():
    clip = random_clip(3, 100, 120)
    processor = T2LImageProcessor(crop_size=64, shortest_edge=80)
    expected = processor(clip, return_tensors="np")["pixel_values"]
    assert expected.shape == (1, 3, 3, 64, 64) and expected.dtype == np.float32
    forms = [
        list(clip),
        [Image.fromarray(frame) for frame in clip],
        torch.from_numpy(clip),
        [clip],
        clip[None],
        [[Image.fromarray(frame) for frame in clip]],
    ]
    for form in forms:
        np.testing.assert_array_equal(processor(form, return_tensors="np")["pixel_values"], expected)
    batch = processor([clip, clip[::-1]], return_tensors="np")["pixel_values"]
    assert batch.shape == (2, 3, 3, 64, 64)
    np.testing.assert_array_equal(batch[1], expected[0][::-1])


def test_rejects_bad_inputs():
    processor = T2LImageProcessor()
    with pytest.raises(ValueError):
        processor([])
    with pytest.raises(ValueError):
        processor(np.zeros((8, 8, 3), np.uint8))  # one frame, not a clip
    with pytest.raises(ValueError, match="uint8"):
        processor(np.random.rand(2, 32, 32, 3))
    with pytest.raises(ValueError):
        processor(random_clip(2, 64, 64), num_crops=2)


def test_three_crop_views_are_left_centre_right_video_major():
    clip = random_clip(2, 100, 180)
    processor = T2LImageProcessor(crop_size=50)
    views = processor([clip, clip[:, :, ::-1]], num_crops=3, return_tensors="np")["pixel_values"]
    assert views.shape == (6, 2, 3, 50, 50)
    resized = [np.asarray(Image.fromarray(f).resize((90, 50), Image.BICUBIC)) for f in clip]  # short side -> 50
    for view, left in zip(views[:3], (0, 20, 40)):
        np.testing.assert_allclose(view, normalize([f[:, left : left + 50] for f in resized]), atol=1e-5)
    portrait = processor(random_clip(1, 180, 100), num_crops=3, return_tensors="np")["pixel_values"]
    assert portrait.shape == (3, 1, 3, 50, 50)


# ---------------------------------------------------------------------------------------------------------------
# Train transforms
# ---------------------------------------------------------------------------------------------------------------


def test_multi_scale_crop_sizes_and_offsets_are_the_official_sets():
    # 340x256: base 256 -> sides 256, 224, 192, 168; pairs at most one scale step apart.
    sizes = multi_scale_crop_sizes(340, 256, 224, (1, 0.875, 0.75, 0.66), 1)
    assert sorted(sizes) == sorted([(256, 256), (224, 256), (256, 224), (224, 224), (192, 224), (224, 192),
                                    (192, 192), (168, 192), (192, 168), (168, 168)])
    # Sides within 3 px of 224 snap to 224: base 258 gives int(258*.875) = 225 -> 224.
    assert (224, 224) in multi_scale_crop_sizes(400, 258, 224, (1, 0.875, 0.75, 0.66), 1)
    assert (225, 225) not in multi_scale_crop_sizes(400, 258, 224, (1, 0.875, 0.75, 0.66), 1)
    offsets = fixed_crop_offsets(340, 256, 224, 224)  # w_step 29, h_step 8
    assert len(offsets) == 13
    assert set(offsets) == {(0, 0), (116, 0), (0, 32), (116, 32), (58, 16), (0, 16), (116, 16), (58, 32), (58, 0),
                            (29, 8), (87, 8), (29, 24), (87, 24)}

    processor = T2LImageProcessor()
    rng = np.random.default_rng(0)
    drawn = [processor.sample_multi_scale_crop(340, 256, rng) for _ in range(3000)]
    assert {(w, h) for w, h, _, _ in drawn} == set(sizes)  # every official size is used, nothing else
    for w, h, left, top in drawn:
        assert (left, top) in fixed_crop_offsets(340, 256, w, h)
    official = {(w, h, left, top) for w, h in sizes for left, top in fixed_crop_offsets(340, 256, w, h)}
    assert set(drawn) == official  # all reachable (full-height crops have 5 distinct offsets, not 13)


def test_train_geometry_is_a_crop_of_the_official_set_resized_bilinear():
    clip = smooth_clip(2, 120, 160)
    processor = T2LImageProcessor(crop_size=96, jitter_probability=0, grayscale_probability=0, do_flip=False)
    out = processor(clip, train=True, seed=3, return_tensors="np")["pixel_values"][0]
    candidates = []
    for w, h in multi_scale_crop_sizes(160, 120, 96, processor.multi_scale_crop_scales, 1):
        for left, top in fixed_crop_offsets(160, 120, w, h):
            frames = [np.asarray(Image.fromarray(f).crop((left, top, left + w, top + h)).resize((96, 96), Image.BILINEAR)) for f in clip]
            candidates.append(np.abs(normalize(frames) - out).max())
    assert min(candidates) < 1e-5


def test_train_is_deterministic_under_seed_and_seeded_per_clip():
    clip = random_clip(4, 90, 120)
    processor = T2LImageProcessor(crop_size=64)
    first = processor(clip, train=True, seed=11)["pixel_values"]
    assert first.shape == (1, 4, 3, 64, 64)
    torch.testing.assert_close(processor(clip, train=True, seed=11)["pixel_values"], first, rtol=0, atol=0)
    assert not torch.equal(processor(clip, train=True, seed=12)["pixel_values"], first)
    # Clip b of a batch uses seed [seed, b]: the first clip of a batch equals the clip processed alone.
    batch = processor([clip, clip], train=True, seed=11)["pixel_values"]
    torch.testing.assert_close(batch[0], first[0], rtol=1e-6, atol=1e-6)  # another batch shape: float tolerance
    assert not torch.equal(batch[0], batch[1])
    explicit = processor([clip, clip], train=True, seed=[5, 5])["pixel_values"]
    torch.testing.assert_close(explicit[0], explicit[1], rtol=0, atol=0)


def test_flip_is_decided_once_for_the_whole_clip():
    clip = smooth_clip(4)
    options = dict(crop_size=64, jitter_probability=0, grayscale_probability=0)
    flipping, plain = T2LImageProcessor(**options), T2LImageProcessor(do_flip=False, **options)
    outcomes = set()
    for seed in range(20):
        flipped = flipping(clip, train=True, seed=seed, return_tensors="np")["pixel_values"][0]
        unflipped = plain(clip, train=True, seed=seed, return_tensors="np")["pixel_values"][0]
        if np.array_equal(flipped, unflipped):
            outcomes.add("kept")
        else:
            np.testing.assert_array_equal(flipped, unflipped[..., ::-1])  # every frame mirrored
            outcomes.add("flipped")
    assert outcomes == {"kept", "flipped"}


def test_jitter_per_frame_by_default_or_clip_consistent():
    still = np.repeat(smooth_clip(1), 4, axis=0)  # 4 identical frames
    options = dict(crop_size=64, jitter_probability=1.0, grayscale_probability=0, do_flip=False)
    per_frame = T2LImageProcessor(**options)(still, train=True, seed=0, return_tensors="np")["pixel_values"][0]
    assert not np.allclose(per_frame[0], per_frame[1])  # official: parameters re-drawn for every frame
    consistent = T2LImageProcessor(jitter_per_frame=False, **options)(still, train=True, seed=0, return_tensors="np")
    frames = consistent["pixel_values"][0]
    assert all(np.array_equal(frames[0], frame) for frame in frames[1:])
    unjittered = T2LImageProcessor(**{**options, "jitter_probability": 0.0})(still, train=True, seed=0, return_tensors="np")
    assert not np.allclose(frames[0], unjittered["pixel_values"][0][0])


def test_jitter_probability_and_grayscale_probability_rates():
    clip = smooth_clip(1, 40, 40)
    processor = T2LImageProcessor(crop_size=32, do_flip=False)
    plain = T2LImageProcessor(crop_size=32, do_flip=False, jitter_probability=0, grayscale_probability=0)
    gray_count = jitter_count = 0
    for seed in range(200):
        out = processor(clip, train=True, seed=seed, return_tensors="np")["pixel_values"][0, 0]
        rgb = out.transpose(1, 2, 0) * STD + MEAN
        gray = np.allclose(rgb[..., 0], rgb[..., 1], atol=1e-5) and np.allclose(rgb[..., 1], rgb[..., 2], atol=1e-5)
        gray_count += gray
        if not gray:
            jitter_count += not np.array_equal(out, plain(clip, train=True, seed=seed, return_tensors="np")["pixel_values"][0, 0])
    assert 0.1 < gray_count / 200 < 0.3  # p = 0.2
    assert 0.65 < jitter_count / (200 - gray_count) < 0.95  # p = 0.8


def test_hue_shift_follows_torchvision_pil_semantics():
    red = Image.new("RGB", (4, 4), (255, 0, 0))
    assert np.asarray(adjust_hue(red, 0.0))[0, 0].tolist() == [255, 0, 0]
    towards_green = np.asarray(adjust_hue(red, 1 / 6))[0, 0]  # +42 of 255: red -> yellow-ish
    assert towards_green[0] > 200 and towards_green[1] > 200 and towards_green[2] < 10
    wrapped = np.asarray(adjust_hue(red, -0.1))[0, 0]  # negative shifts wrap around to the magenta side
    assert wrapped[0] == 255 and wrapped[2] > wrapped[1]


def test_train_rejects_multi_crop():
    with pytest.raises(ValueError):
        T2LImageProcessor()(random_clip(2, 64, 64), train=True, num_crops=3)


# ---------------------------------------------------------------------------------------------------------------
# Saving and loading
# ---------------------------------------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    processor = T2LImageProcessor(num_frames=16, crop_size=112, shortest_edge=128, do_flip=False, jitter_per_frame=False)
    processor.save_pretrained(tmp_path)
    assert (tmp_path / "preprocessor_config.json").exists()
    loaded = T2LImageProcessor.from_pretrained(tmp_path)
    assert loaded.to_dict() == processor.to_dict()
    assert (loaded.num_frames, loaded.crop_size, loaded.shortest_edge, loaded.do_flip) == (16, 112, 128, False)
    assert loaded.mean == list(CLIP_MEAN) and loaded.std == list(CLIP_STD)
    assert T2LImageProcessor.from_pretrained(tmp_path, num_frames=4).num_frames == 4
    clip = random_clip(2, 130, 150)
    np.testing.assert_array_equal(loaded(clip, return_tensors="np")["pixel_values"], processor(clip, return_tensors="np")["pixel_values"])


def test_call_time_overrides_and_auto_class_registration():
    processor = T2LImageProcessor(crop_size=32, jitter_probability=0, grayscale_probability=0)
    clip = smooth_clip(2, 40, 40)
    no_flip = processor(clip, train=True, seed=1, do_flip=False, return_tensors="np")["pixel_values"]
    assert no_flip.shape == (1, 2, 3, 32, 32) and processor.do_flip  # the override does not stick
    with pytest.raises(TypeError):
        processor(clip, not_an_option=1)

    class Registered(T2LImageProcessor):
        pass

    Registered.register_for_auto_class("AutoImageProcessor")
    assert Registered._auto_class == "AutoImageProcessor"


def test_defaults_are_the_official_values():
    processor = T2LImageProcessor()
    assert (processor.num_frames, processor.crop_size, processor.shortest_edge) == (8, 224, 256)
    assert processor.multi_scale_crop_scales == [1.0, 0.875, 0.75, 0.66] and processor.max_distort == 1
    assert processor.jitter_strength == [0.4, 0.4, 0.2, 0.1] and processor.jitter_probability == 0.8
    assert processor.grayscale_probability == 0.2 and processor.do_flip and processor.jitter_per_frame
