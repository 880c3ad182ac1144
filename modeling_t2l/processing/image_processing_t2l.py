"""T2L clip preprocessing on Pillow (no torchvision): the official eval and train transforms (t2l_reference.md §6.3).

Eval: shorter side -> 256 (bicubic), centre crop 224, /255, CLIP mean/std.
Train (the official TSN group transforms, applied to the whole clip):

1. multi-scale crop: crop sides ``int(min(W, H) * s)`` for s in (1, .875, .75, .66), chosen independently for width
   and height with at most one scale step between them, sides within 3 px of 224 snap to 224; the offset is one
   of 13 fixed positions (corners, centre, edge centres, quarter points); then bilinear resize to 224x224;
2. horizontal flip of the whole clip with p 0.5 (``do_flip``; the official code flips SSv2 too);
3. colour jitter (brightness .4, contrast .4, saturation .2, hue .1) with p 0.8 decided once per clip; the
   factors and their order are re-drawn for every frame as the official per-frame torchvision call does
   (``jitter_per_frame=True``), or drawn once per clip (``jitter_per_frame=False``);
4. grayscale (3 equal channels) with p 0.2 per clip.

Colour jitter reproduces torchvision's PIL code path: ``ImageEnhance`` Brightness/Contrast/Color and a hue shift
of the HSV H channel by ``int(hue * 255)`` (mod 256), in a random order of the four operations. Each train clip
draws from its own ``numpy`` generator: ``seed`` int -> clip ``b`` of the batch uses ``default_rng([seed, b])``;
a list gives one seed per clip; ``None`` uses fresh entropy.

Multi-view testing (``num_crops=3``): shorter side -> crop size (bicubic), then three crop-size squares along the
longer side: left (top), centre, right (bottom), the mmaction ``ThreeCrop`` positions (it orders them left,
right, centre; here they are left, centre, right). Output ``(B*3, T, 3, H, W)``, video-major.
"""

# no `from __future__ import annotations`: transformers reads the kwargs TypedDicts' annotations as types

from typing import Any

import numpy as np
from PIL import Image, ImageEnhance
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature
from transformers.processing_utils import ImagesKwargs

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
MULTI_SCALE_CROP_SCALES = (1.0, 0.875, 0.75, 0.66)


class T2LImageProcessorKwargs(ImagesKwargs, total=False):
    train: bool
    seed: int | list[int] | None
    num_crops: int
    num_frames: int
    shortest_edge: int
    multi_scale_crop_scales: list[float]
    max_distort: int
    do_flip: bool
    jitter_probability: float
    jitter_strength: list[float]
    jitter_per_frame: bool
    grayscale_probability: float
    frame_sampling: str
    num_fixed_crops: int
    resample: int


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


# ----------------------------------------------------------------------------------------------------------------
# Per-frame PIL operations (the official GroupScale / GroupCenterCrop / GroupMultiScaleCrop geometry)
# ----------------------------------------------------------------------------------------------------------------


def resize_shorter_side(image: Image.Image, size: int, resample=Image.BICUBIC) -> Image.Image:
    """torchvision ``Resize(size)`` on PIL: shorter side -> size, longer side -> int(size * long / short)."""
    width, height = image.size
    if width <= height:
        new_size = (size, int(size * height / width))
    else:
        new_size = (int(size * width / height), size)
    return image if new_size == image.size else image.resize(new_size, resample)


def center_crop_box(width: int, height: int, crop: int) -> tuple[int, int, int, int]:
    """torchvision ``CenterCrop`` box: offsets are ``int(round((side - crop) / 2))``."""
    left, top = int(round((width - crop) / 2.0)), int(round((height - crop) / 2.0))
    return left, top, left + crop, top + crop


def multi_scale_crop_sizes(width: int, height: int, crop: int, scales, max_distort: int) -> list[tuple[int, int]]:
    """All (crop_w, crop_h) pairs the official ``GroupMultiScaleCrop._sample_crop_size`` can choose from."""
    sides = [int(min(width, height) * scale) for scale in scales]
    snapped = [crop if abs(side - crop) < 3 else side for side in sides]
    return [(w, h) for i, h in enumerate(snapped) for j, w in enumerate(snapped) if abs(i - j) <= max_distort]


def fixed_crop_offsets(width: int, height: int, crop_w: int, crop_h: int) -> list[tuple[int, int]]:
    """The official 13 ``fill_fix_offset(more_fix_crop=True)`` positions, in the official order."""
    w_step, h_step = (width - crop_w) // 4, (height - crop_h) // 4
    grid = [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2),  # corners and centre
            (0, 2), (4, 2), (2, 4), (2, 0),  # edge centres
            (1, 1), (3, 1), (1, 3), (3, 3)]  # quarter points
    return [(a * w_step, b * h_step) for a, b in grid]


def adjust_hue(image: Image.Image, hue_factor: float) -> Image.Image:
    """torchvision's PIL ``adjust_hue``: rotate the HSV hue channel by ``hue_factor * 255`` (uint8 wrap-around).

    The cast is done as ``int()`` (toward zero) modulo 256, which is what ``np.uint8(hue_factor * 255)`` did on
    the numpy versions the official code ran with (numpy 2 no longer defines the negative cast).
    """
    hue, saturation, value = image.convert("HSV").split()
    shifted = (np.asarray(hue, dtype=np.uint8) + np.uint8(int(hue_factor * 255) % 256)).astype(np.uint8)
    return Image.merge("HSV", (Image.fromarray(shifted, "L"), saturation, value)).convert("RGB")


class JitterParameters:
    """One draw of torchvision ``ColorJitter.get_params``: an order of the 4 operations and their factors."""

    def __init__(self, rng: np.random.Generator, brightness: float, contrast: float, saturation: float, hue: float):
        self.order = [int(i) for i in rng.permutation(4)]
        self.brightness = float(rng.uniform(max(0.0, 1 - brightness), 1 + brightness))
        self.contrast = float(rng.uniform(max(0.0, 1 - contrast), 1 + contrast))
        self.saturation = float(rng.uniform(max(0.0, 1 - saturation), 1 + saturation))
        self.hue = float(rng.uniform(-hue, hue))

    def apply(self, image: Image.Image) -> Image.Image:
        for operation in self.order:
            if operation == 0:
                image = ImageEnhance.Brightness(image).enhance(self.brightness)
            elif operation == 1:
                image = ImageEnhance.Contrast(image).enhance(self.contrast)
            elif operation == 2:
                image = ImageEnhance.Color(image).enhance(self.saturation)
            else:
                image = adjust_hue(image, self.hue)
        return image


def to_grayscale_rgb(image: Image.Image) -> Image.Image:
    """torchvision ``Grayscale(num_output_channels=3)`` on PIL: ITU-R 601 luma copied into 3 channels."""
    return image.convert("L").convert("RGB")


# ----------------------------------------------------------------------------------------------------------------
# The processor
# ----------------------------------------------------------------------------------------------------------------


class T2LImageProcessor(BaseImageProcessor):
    r"""Turns decoded clips into ``pixel_values`` ``(B, T, 3, H, W)`` float32 with the official T2L transforms.

    Call: ``processor(videos, train=False, seed=None, num_crops=1, return_tensors="pt")``. ``videos`` is one clip
    (a list of frames as PIL images or ``(H, W, 3)`` uint8 arrays, or a ``(T, H, W, 3)`` array) or a batch of
    clips (a list of those, or a ``(B, T, H, W, 3)`` array). Frames come from ``video_io.read_video``, which does
    the frame sampling; ``num_frames`` and ``frame_sampling`` (the family's TSN sampler: ``"actionclip"`` for T2L,
    ``"mmaction"`` for TC-CLIP) are recorded here so the saved processor, the model and the decoder agree.
    """

    model_input_names = ["pixel_values"]
    valid_kwargs = T2LImageProcessorKwargs

    def __init__(
        self,
        num_frames: int = 8,
        crop_size: int = 224,
        shortest_edge: int = 256,
        image_mean: tuple[float, ...] = CLIP_MEAN,
        image_std: tuple[float, ...] = CLIP_STD,
        multi_scale_crop_scales: tuple[float, ...] = MULTI_SCALE_CROP_SCALES,
        max_distort: int = 1,
        do_flip: bool = True,
        jitter_probability: float = 0.8,
        jitter_strength: tuple[float, float, float, float] = (0.4, 0.4, 0.2, 0.1),
        jitter_per_frame: bool = True,
        grayscale_probability: float = 0.2,
        frame_sampling: str = "actionclip",
        num_fixed_crops: int = 13,
        resample: int = Image.BICUBIC,
        **kwargs: Any,
    ):
        kwargs.pop("image_processor_type", None)
        super().__init__(**kwargs)
        if isinstance(crop_size, dict):  # tolerate the transformers {"height", "width"} form
            crop_size = crop_size["height"]
        self.num_frames = int(num_frames)
        if frame_sampling not in ("actionclip", "mmaction"):
            raise ValueError(f"frame_sampling must be 'actionclip' or 'mmaction', got {frame_sampling!r}")
        # which TSN sampler `video_io.read_video` uses for this checkpoint (its family's official one)
        self.frame_sampling = frame_sampling
        self.crop_size = int(crop_size)
        self.shortest_edge = int(shortest_edge)
        self.image_mean = [float(x) for x in image_mean]
        self.image_std = [float(x) for x in image_std]
        self.multi_scale_crop_scales = [float(x) for x in multi_scale_crop_scales]
        self.max_distort = int(max_distort)
        self.do_flip = bool(do_flip)
        self.jitter_probability = float(jitter_probability)
        self.jitter_strength = [float(x) for x in jitter_strength]
        self.jitter_per_frame = bool(jitter_per_frame)
        self.grayscale_probability = float(grayscale_probability)
        if num_fixed_crops not in (5, 13):
            raise ValueError(f"num_fixed_crops must be 5 (corners and centre) or 13, got {num_fixed_crops!r}")
        # the multi-scale crop's offsets: the first 5 (corners, centre) or all 13 official positions; TC-CLIP
        # (mmaction `num_fixed_crops=5`) uses 5, T2L (`more_fix_crop=True`) 13
        self.num_fixed_crops = int(num_fixed_crops)
        # eval-time resize filter (a PIL code): bicubic is T2L's official one; checkpoints of other families
        # (e.g. X-CLIP / ViFi-CLIP, bilinear) save their own
        self.resample = int(resample)

    @property
    def mean(self) -> list[float]:
        return self.image_mean

    @property
    def std(self) -> list[float]:
        return self.image_std

    # -- input handling ------------------------------------------------------------------------------------------

    @staticmethod
    def _to_numpy(value):
        if hasattr(value, "detach"):  # torch tensor, without importing torch here
            value = value.detach().cpu().numpy()
        return value

    @classmethod
    def _as_clips(cls, videos) -> list[list]:
        """Normalise every accepted input form to a list of clips, each a list of PIL images or HxWx3 arrays."""
        videos = cls._to_numpy(videos)
        if isinstance(videos, np.ndarray):
            if videos.ndim == 4:
                return [list(videos)]
            if videos.ndim == 5:
                return [list(clip) for clip in videos]
            raise ValueError(f"expected a (T,H,W,3) clip or a (B,T,H,W,3) batch, got an array of shape {videos.shape}")
        if not isinstance(videos, (list, tuple)) or len(videos) == 0:
            raise ValueError("videos must be a non-empty list of frames, a (T,H,W,3) array, or a batch of those")
        first = cls._to_numpy(videos[0])
        if isinstance(first, Image.Image) or (isinstance(first, np.ndarray) and first.ndim in (2, 3)):
            return [[cls._to_numpy(frame) for frame in videos]]
        clips = []
        for clip in videos:
            clip = cls._to_numpy(clip)
            if isinstance(clip, np.ndarray) and clip.ndim == 4:
                clips.append(list(clip))
            elif isinstance(clip, (list, tuple)) and len(clip) > 0:
                clips.append([cls._to_numpy(frame) for frame in clip])
            else:
                raise ValueError("each video in a batch must be a list of frames or a (T,H,W,3) array")
        return clips

    @staticmethod
    def _to_pil(frame) -> Image.Image:
        if isinstance(frame, Image.Image):
            return frame if frame.mode == "RGB" else frame.convert("RGB")
        array = np.asarray(frame)
        channels_last = array.ndim == 3 and array.shape[2] in (1, 3, 4)
        channels_first = array.ndim == 3 and array.shape[0] in (1, 3)
        if not (array.ndim == 2 or channels_last or channels_first):
            raise ValueError(
                f"a frame must be (H, W, 3), (3, H, W) or (H, W) uint8; got an array of shape {array.shape} "
                f"(a clip is a list of frames or a (T, H, W, 3) array, a batch a list of clips)"
            )
        if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[2] not in (1, 3, 4):
            array = array.transpose(1, 2, 0)  # channels-first frame
        if array.dtype != np.uint8:
            if array.max() <= 1.0:
                raise ValueError("frames must be uint8 in [0, 255] (got floats in [0, 1]); pass the decoded frames")
            array = np.clip(array, 0, 255).astype(np.uint8)
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[:, :, 0]
        image = Image.fromarray(np.ascontiguousarray(array))
        return image if image.mode == "RGB" else image.convert("RGB")

    # -- transforms ----------------------------------------------------------------------------------------------

    def _eval_frames(self, frames: list[Image.Image]) -> list[Image.Image]:
        resized = [resize_shorter_side(frame, self.shortest_edge, self.resample) for frame in frames]
        width, height = resized[0].size
        box = center_crop_box(width, height, self.crop_size)
        return [frame.crop(box) for frame in resized]

    def _three_crop_frames(self, frames: list[Image.Image]) -> list[list[Image.Image]]:
        crop = self.crop_size
        resized = [resize_shorter_side(frame, crop, self.resample) for frame in frames]
        width, height = resized[0].size
        if width >= height:
            step = (width - crop) // 2
            boxes = [(x, 0, x + crop, crop) for x in (0, step, 2 * step)]
        else:
            step = (height - crop) // 2
            boxes = [(0, y, crop, y + crop) for y in (0, step, 2 * step)]
        return [[frame.crop(box) for frame in resized] for box in boxes]

    def sample_multi_scale_crop(self, width: int, height: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """(crop_w, crop_h, left, top) as the official ``GroupMultiScaleCrop`` draws them."""
        sizes = multi_scale_crop_sizes(width, height, self.crop_size, self.multi_scale_crop_scales, self.max_distort)
        crop_w, crop_h = sizes[int(rng.integers(len(sizes)))]
        offsets = fixed_crop_offsets(width, height, crop_w, crop_h)[: self.num_fixed_crops]
        left, top = offsets[int(rng.integers(len(offsets)))]
        return crop_w, crop_h, left, top

    def _train_frames(self, frames: list[Image.Image], rng: np.random.Generator) -> list[Image.Image]:
        crop_w, crop_h, left, top = self.sample_multi_scale_crop(*frames[0].size, rng)
        size = (self.crop_size, self.crop_size)
        frames = [frame.crop((left, top, left + crop_w, top + crop_h)).resize(size, Image.BILINEAR) for frame in frames]
        # One uniform draw per group decision, in the official order: flip, jitter, grayscale.
        if rng.random() < 0.5 and self.do_flip:
            frames = [frame.transpose(Image.FLIP_LEFT_RIGHT) for frame in frames]
        if rng.random() < self.jitter_probability:
            if self.jitter_per_frame:
                frames = [JitterParameters(rng, *self.jitter_strength).apply(frame) for frame in frames]
            else:
                parameters = JitterParameters(rng, *self.jitter_strength)
                frames = [parameters.apply(frame) for frame in frames]
        if rng.random() < self.grayscale_probability:
            frames = [to_grayscale_rgb(frame) for frame in frames]
        return frames

    def _normalize(self, clips: list[list[Image.Image]]) -> np.ndarray:
        """Stack PIL frames to (N, T, 3, H, W) float32: /255 then CLIP mean/std, on the whole batch at once.

        The arithmetic is done once per possible byte value (a 3x256 float32 table, the same float32 formula)
        and looked up, which is several times faster than converting and normalising every pixel.
        """
        pixels = np.stack([np.stack([np.asarray(frame) for frame in clip]) for clip in clips])
        channels_first = np.ascontiguousarray(pixels.transpose(0, 1, 4, 2, 3))  # uint8, cheap to move
        mean = np.asarray(self.image_mean, dtype=np.float32)[:, None]
        std = np.asarray(self.image_std, dtype=np.float32)[:, None]
        table = (np.arange(256, dtype=np.float32)[None, :] / np.float32(255.0) - mean) / std
        return np.stack([np.take(table[c], channels_first[:, :, c]) for c in range(3)], axis=2)

    # -- entry points --------------------------------------------------------------------------------------------

    def preprocess(
        self,
        videos,
        train: bool = False,
        seed=None,
        num_crops: int = 1,
        return_tensors="pt",
        **overrides: Any,
    ) -> BatchFeature:
        """See the class docstring. ``overrides`` (e.g. ``do_flip=False``) apply to this call only."""
        processor = self
        if overrides:
            unknown = [key for key in overrides if key not in self.to_dict()]
            if unknown:
                raise TypeError(f"T2LImageProcessor got unexpected arguments {unknown}")
            processor = type(self)(**{**self.to_dict(), **overrides})
        clips = [[processor._to_pil(frame) for frame in clip] for clip in self._as_clips(videos)]
        if any(len(clip) == 0 for clip in clips):
            raise ValueError("a video has no frames")
        if train:
            if num_crops != 1:
                raise ValueError("num_crops > 1 is a test-time option; train clips get one random crop")
            if seed is None or isinstance(seed, (int, np.integer)):
                rngs = [np.random.default_rng(None if seed is None else [int(seed), b]) for b in range(len(clips))]
            else:
                seeds = list(seed)
                if len(seeds) != len(clips):
                    raise ValueError(f"got {len(seeds)} seeds for {len(clips)} videos")
                rngs = [_rng(s) for s in seeds]
            views = [processor._train_frames(clip, rng) for clip, rng in zip(clips, rngs)]
        elif num_crops == 1:
            views = [processor._eval_frames(clip) for clip in clips]
        elif num_crops == 3:
            views = [view for clip in clips for view in processor._three_crop_frames(clip)]
        else:
            raise ValueError(f"num_crops must be 1 or 3, got {num_crops}")
        return BatchFeature(data={"pixel_values": processor._normalize(views)}, tensor_type=return_tensors)

    def __call__(self, videos, *args, **kwargs) -> BatchFeature:
        return self.preprocess(videos, *args, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        output = super().to_dict()
        output.pop("_processor_class", None)
        return output


__all__ = ["T2LImageProcessor"]
