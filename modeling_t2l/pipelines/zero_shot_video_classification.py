"""`pipeline("zero-shot-video-classification")`: videos and candidate labels in, sorted scores out.

    from transformers import pipeline
    classifier = pipeline(model="path/to/converted-t2l", trust_remote_code=True)
    classifier("video.mp4", candidate_labels=["archery", "juggling balls", "surfing water"])
    # [{'label': 'juggling balls', 'score': 0.91}, ...]

Scoring is the shared zero-shot classifier (`modeling_t2l.zero_shot.classifier`, the official test): per view,
p = softmax(scale * cos(video, text)) over the labels with the model's `zero_shot_logit_scale`, averaged over
templates (one "template" when descriptions are used), then averaged over views (num_clips x num_crops).

Inputs (`ZeroShotVideoClassificationPipeline.__call__`). One video is any of:
- a path (str / Path) to a video file or to a frame folder (img_00001.jpg, ...);
- an http(s) URL (downloaded into memory with urllib; `timeout` seconds);
- `bytes` of an encoded video, or a `datasets` `Video(decode=False)` dict {"path", "bytes"};
- a uint8 array or tensor of shape (num_frames, height, width, 3): all frames of the video;
- a list of frames, each a PIL image or a (height, width, 3) uint8 array: all frames of one video.
Arrays and frame lists are sampled to `config.num_frames` frames exactly as a decoded file is (segment centres).
A list whose elements are all videos (paths, URLs, bytes, 4-D arrays, or lists of frames) is a batch, and the
result is one list of scores per video. A generator or a `datasets.Dataset` (e.g. `KeyDataset(ds, "video")`) of
videos is streamed: the call returns an iterator of results. A list is one video's frames if and only if every element is a frame (a PIL
image or a 3-D array); a list mixing frames and videos is rejected.

`save_pretrained` writes this module and every module of the package it imports next to the weights, flattened
(`modeling_t2l.remote_code`), so `pipeline(model=dir, trust_remote_code=True)` works where the package is not
installed.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import urllib.error
import urllib.request
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from PIL import Image
from transformers import AutoModelForVideoClassification, CLIPTokenizer, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from ..processing.image_processing_t2l import T2LImageProcessor
from ..processing.tokenization import encode_texts, load_clip_tokenizer
from ..processing.video_io import VideoDecodeError, read_video, sample_clip_indices, sample_frame_indices
from ..remote_code import write_remote_code
from ..zero_shot.classifier import ZeroShotClassifier, build_zero_shot_classifier
from ..zero_shot.prompts import ClassTexts, class_texts, model_class_texts

logger = logging.getLogger(__name__)

TASK = "zero-shot-video-classification"
DEFAULT_URL_TIMEOUT = 30.0
# Texts per forward of the text tower: bounds memory for large vocabularies x 16 templates.
TEXT_CHUNK_SIZE = 256
# How many (labels, templates, descriptions) vocabularies a pipeline keeps embedded.
TEXT_CACHE_SIZE = 8


class ZeroShotVideoClassificationPipeline(Pipeline):
    """Zero-shot video classification with T2L (or any model with `get_video_features` / `get_text_features`).

    Call arguments (also accepted at construction as defaults):
        candidate_labels (list of str, required): the labels to score; at least one, no duplicates. A single string
            is split on commas ("a,b,c").
        hypothesis_template (str or list of str): templates with one "{}" for the label, e.g. "a video of {}".
            A list is an ensemble: softmax per template, then averaged (the official test). Forces templates.
        descriptions (dict label -> text, or a bundled set name such as "ucf101"): one text per label (T2L's
            GPT descriptions mode). Every label needs one.
            Default (neither given): the model's own prompts when its family has them (`model.class_prompts`,
            e.g. TC-CLIP's "a photo of a {label}."); otherwise the bundled T2L GPT descriptions when every label
            has one, else ActionCLIP's 16 templates. The choice is logged and kept in `pipe.last_class_texts` (`.mode`, `.description_set`).
        top_k (int): keep the k best labels (scores are computed over all labels and sum to 1 before truncation).
        num_clips, num_crops (int, default 1 and 1): multi-view testing; the views' probabilities are averaged.
            The official T2L test is 1 x 1.
        clip_sampling ("uniform" or "random", default "uniform"): evenly spaced clips (segment centres for one
            clip), or each clip an independent random TSN draw (the TC-CLIP / ViFi-CLIP multi-view test: 2 random
            clips x 1 crop) from a generator seeded with `seed` (int, default 0) for every video.
        batch_size (int): videos per forward of the vision tower.
        timeout (float): seconds allowed for downloading a URL (default 30).

    Returns, per video: a list of {"label": str, "score": float} sorted by decreasing score.
    """

    _load_processor = False
    _load_image_processor = None  # loaded if the checkpoint has one, else built below
    _load_video_processor = False
    _load_feature_extractor = False
    _load_tokenizer = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        config = self.model.config
        self.num_frames = int(config.num_frames)
        if self.tokenizer is None:
            self.tokenizer = _load_tokenizer(self.model)
        # Duck-typed on purpose: under remote code, AutoImageProcessor may return T2LImageProcessor from another
        # dynamic-module copy than the one this file imports.
        if self.image_processor is None or not hasattr(self.image_processor, "num_frames"):
            self.image_processor = _load_image_processor(self.model, self.image_processor)
        processor_frames = getattr(self.image_processor, "num_frames", None)
        if processor_frames is not None and int(processor_frames) != self.num_frames:
            raise ValueError(
                f"The image processor is set for {processor_frames} frames per clip but the model was built for "
                f"{self.num_frames} (config.num_frames); pass the image processor saved with the model"
            )
        # Dropout on the temporal prompts and drop-path would make scores random.
        self.model.eval()
        self._text_cache: OrderedDict[tuple, tuple[ZeroShotClassifier, ClassTexts]] = OrderedDict()
        self.last_class_texts: ClassTexts | None = None

    # -- parameters -------------------------------------------------------------------------------------------

    def _sanitize_parameters(
        self,
        candidate_labels=None,
        hypothesis_template=None,
        descriptions=None,
        top_k=None,
        num_clips=None,
        num_crops=None,
        timeout=None,
        clip_sampling=None,
        seed=None,
        **unknown,
    ):
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected argument(s): {', '.join(sorted(unknown))}")
        preprocess_params, forward_params, postprocess_params = {}, {}, {}
        if candidate_labels is not None:
            labels = _check_labels(candidate_labels)
            forward_params["candidate_labels"] = labels
            postprocess_params["candidate_labels"] = labels
        if hypothesis_template is not None and descriptions is not None:
            raise ValueError("Pass either hypothesis_template (templates) or descriptions, not both")
        if hypothesis_template is not None:
            forward_params["hypothesis_template"] = _check_templates(hypothesis_template)
        if descriptions is not None:
            if not isinstance(descriptions, (str, os.PathLike, Mapping)):
                raise TypeError(
                    "descriptions must be a dict {label: text} or the name of a bundled set (e.g. 'ucf101'), "
                    f"got {type(descriptions).__name__}"
                )
            forward_params["descriptions"] = descriptions
        if top_k is not None:
            if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
                raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
            postprocess_params["top_k"] = top_k
        for name, value in (("num_clips", num_clips), ("num_crops", num_crops)):
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError(f"{name} must be a positive integer, got {value!r}")
                preprocess_params[name] = value
        if num_crops is not None and num_crops not in (1, 3):
            raise ValueError(f"num_crops must be 1 (centre crop) or 3 (left, centre, right), got {num_crops}")
        if clip_sampling is not None:
            if clip_sampling not in ("uniform", "random"):
                raise ValueError(f"clip_sampling must be 'uniform' or 'random', got {clip_sampling!r}")
            preprocess_params["clip_sampling"] = clip_sampling
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise ValueError(f"seed must be an integer, got {seed!r}")
            preprocess_params["seed"] = seed
        if timeout is not None:
            preprocess_params["timeout"] = float(timeout)
        return preprocess_params, forward_params, postprocess_params

    def __call__(self, videos, candidate_labels=None, **kwargs):
        """Classify one video or a batch of videos (see the module docstring for the accepted forms).

        Returns a list of {"label", "score"} for one video, or a list of such lists for a batch.
        """
        if candidate_labels is not None:
            kwargs["candidate_labels"] = candidate_labels
        elif "candidate_labels" not in self._forward_params:
            raise ValueError("candidate_labels is required: the labels to score, e.g. ['archery', 'surfing water']")
        if isinstance(videos, (list, tuple)):
            # one video's frames or a batch: decided here, as a batch must reach Pipeline as a list
            videos, _ = normalize_video_inputs(videos)
        # else one video, or a generator / dataset of videos whose results are streamed; `preprocess` checks each
        return super().__call__(videos, **kwargs)

    # -- the three steps --------------------------------------------------------------------------------------

    def preprocess(self, video, num_clips: int = 1, num_crops: int = 1, timeout: float = DEFAULT_URL_TIMEOUT,
                   clip_sampling: str = "uniform", seed: int = 0):
        clips = self.load_clips(_prepare_video(video), num_clips=num_clips, timeout=timeout,
                                clip_sampling=clip_sampling, seed=seed)
        pixel_values = self.image_processor(list(clips), num_crops=num_crops, return_tensors="pt")["pixel_values"]
        views = pixel_values.shape[0]
        return {"pixel_values": pixel_values, "num_views": torch.tensor([views])}

    def _forward(self, model_inputs, candidate_labels=None, hypothesis_template=None, descriptions=None):
        pixel_values = model_inputs["pixel_values"]  # (videos * views, T, 3, H, W), video-major
        num_views = model_inputs["num_views"].tolist()
        classifier = self.classifier(candidate_labels, hypothesis_template, descriptions)
        return {"probabilities": classifier(self.model, pixel_values, num_views)}

    def postprocess(self, model_outputs, candidate_labels=None, top_k=None):
        probabilities = model_outputs["probabilities"].reshape(-1).tolist()
        ranked = sorted(zip(candidate_labels, probabilities), key=lambda pair: -pair[1])
        if top_k is not None:
            ranked = ranked[:top_k]
        return [{"label": label, "score": score} for label, score in ranked]

    # -- building blocks, public for reuse (CLI, evaluation) ---------------------------------------------------

    def load_clips(self, video, num_clips: int = 1, timeout: float = DEFAULT_URL_TIMEOUT,
                   clip_sampling: str = "uniform", seed: int = 0) -> np.ndarray:
        """One video -> uint8 clips (num_clips, num_frames, H, W, 3), sampled as the official test does
        (`clip_sampling="random"`: independent random TSN draws from a generator seeded with `seed`)."""
        random = clip_sampling == "random"
        sampling = getattr(self.image_processor, "frame_sampling", "actionclip")  # the checkpoint's TSN sampler
        if isinstance(video, np.ndarray):
            if random:
                rng = np.random.default_rng(seed)
                indices = [sample_frame_indices(video.shape[0], self.num_frames, "train", rng, sampling=sampling)
                           for _ in range(num_clips)]
            else:
                indices = sample_clip_indices(video.shape[0], self.num_frames, num_clips, sampling=sampling)
            return np.stack([video[clip] for clip in indices])
        if isinstance(video, str) and _is_url(video):
            video = download_video(video, timeout)
        if random:
            clips = read_video(video, self.num_frames, mode="train", generator=np.random.default_rng(seed),
                               num_clips=num_clips, sampling=sampling)
        else:
            clips = read_video(video, self.num_frames, num_clips=num_clips, sampling=sampling)
        return clips[None] if num_clips == 1 else clips

    def class_texts(self, candidate_labels, hypothesis_template=None, descriptions=None) -> ClassTexts:
        """The texts the labels are scored with, and which mode produced them (see the class docstring)."""
        labels = _check_labels(candidate_labels)
        if hypothesis_template is not None:
            return class_texts(labels, mode="templates", templates=_check_templates(hypothesis_template))
        if descriptions is None:
            own = model_class_texts(self.model, labels)  # a family trained on its own prompt form (TC-CLIP)
            if own is not None:
                return own
        mode = "auto" if descriptions is None else "descriptions"
        try:
            return class_texts(labels, mode=mode, descriptions=descriptions)
        except FileNotFoundError as error:
            # Under remote code the package data is not next to this module: use the copy saved with the
            # checkpoint (see `save_descriptions`); in auto mode fall back to the templates without one.
            if _use_checkpoint_descriptions(getattr(self.model, "name_or_path", None)):
                return class_texts(labels, mode=mode, descriptions=descriptions)
            if mode != "auto":
                raise
            logger.warning("Bundled T2L descriptions are not available (%s); using the ActionCLIP templates", error)
            return class_texts(labels, mode="templates")

    def classifier(self, candidate_labels, hypothesis_template=None, descriptions=None) -> ZeroShotClassifier:
        """The zero-shot classifier of a vocabulary and text choice, cached (text embeddings are encoded once)."""
        candidate_labels = _check_labels(candidate_labels)
        key = _cache_key(candidate_labels, hypothesis_template, descriptions)
        if key in self._text_cache:
            self._text_cache.move_to_end(key)
            self.last_class_texts = self._text_cache[key][1]
            return self._text_cache[key][0]
        texts = self.class_texts(candidate_labels, hypothesis_template, descriptions)
        where = f" ({texts.description_set})" if texts.description_set else ""
        logger.info(
            "Scoring %d labels with %s%s: %d text(s) per label",
            texts.num_classes, texts.mode, where, texts.num_templates,
        )
        classifier = build_zero_shot_classifier(
            self.model, self._tokenize, texts, text_batch_size=TEXT_CHUNK_SIZE
        )
        self._text_cache[key] = (classifier, texts)
        if len(self._text_cache) > TEXT_CACHE_SIZE:
            self._text_cache.popitem(last=False)
        self.last_class_texts = texts
        return classifier

    def text_embeddings(self, candidate_labels, hypothesis_template=None, descriptions=None) -> torch.Tensor:
        """L2-normalised text embeddings (num_templates, num_labels, E) of a vocabulary (cached)."""
        return self.classifier(candidate_labels, hypothesis_template, descriptions).text_embeds

    def _tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return dict(encode_texts(self.tokenizer, texts, return_tensors="pt"))

    def save_pretrained(self, save_directory, **kwargs):
        # transformers' Pipeline.save_pretrained copies remote code with `custom_object_save`, which cannot follow
        # this package's nested imports; the same files are written flattened instead.
        if os.path.isfile(save_directory):
            raise NotADirectoryError(f"{save_directory}: is a file; pass a directory to save the pipeline into")
        self.model.save_pretrained(save_directory, **kwargs)
        for component in (self.tokenizer, self.image_processor):
            if component is not None:
                component.save_pretrained(save_directory, **kwargs)
        add_pipeline_to_checkpoint(save_directory)


# ------------------------------------------------------------------------------------------------------------
# Input normalisation
# ------------------------------------------------------------------------------------------------------------


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def download_video(url: str, timeout: float = DEFAULT_URL_TIMEOUT) -> bytes:
    """The bytes at an http(s) URL; any failure is a `VideoDecodeError` naming the URL."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read()
    except urllib.error.HTTPError as error:
        raise VideoDecodeError(url, f"download failed: HTTP {error.code} {error.reason}") from error
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise VideoDecodeError(url, f"download failed: {reason}") from error
    if not data:
        raise VideoDecodeError(url, "download returned no bytes")
    return data


def _is_frame(item) -> bool:
    if isinstance(item, Image.Image):
        return True
    return isinstance(item, (np.ndarray, torch.Tensor)) and item.ndim == 3


def _is_video(item) -> bool:
    if isinstance(item, (str, os.PathLike, bytes, bytearray, memoryview, Mapping)) or hasattr(item, "read"):
        return True
    if isinstance(item, (np.ndarray, torch.Tensor)):
        return item.ndim == 4
    return isinstance(item, (list, tuple))


def normalize_video_inputs(videos) -> tuple[Any, bool]:
    """Return (inputs, is_batch): one prepared video, or a list of them. See the module docstring for the rules."""
    if isinstance(videos, (list, tuple)):
        if len(videos) == 0:
            raise ValueError("Got an empty list: pass a video, a list of one video's frames, or a list of videos")
        if all(_is_frame(item) for item in videos):
            return _frames_to_array(videos), False
        if all(_is_video(item) for item in videos):
            return [_prepare_video(item, position=i) for i, item in enumerate(videos)], True
        kinds = sorted({type(item).__name__ for item in videos})
        raise ValueError(
            "A list must hold either the frames of one video (PIL images or (H, W, 3) arrays) or videos (paths, "
            f"URLs, bytes, (T, H, W, 3) arrays or lists of frames), not a mix; got element types {kinds}"
        )
    return _prepare_video(videos), False


def _prepare_video(video, position: int | None = None):
    where = "" if position is None else f" (batch element {position})"
    if isinstance(video, Path):
        return str(video)
    if isinstance(video, (str, bytes, Mapping)) or hasattr(video, "read"):
        return video
    if isinstance(video, (bytearray, memoryview)):
        return bytes(video)
    if isinstance(video, (np.ndarray, torch.Tensor)):
        return _check_video_array(video, where)
    if isinstance(video, (list, tuple)):
        if not video:
            raise ValueError(f"Got an empty list of frames{where}")
        if not all(_is_frame(item) for item in video):
            raise ValueError(f"A video given as a list must hold frames (PIL images or (H, W, 3) arrays){where}")
        return _frames_to_array(video, where)
    if isinstance(video, Image.Image):
        raise ValueError(f"Got a single image{where}: a video is a list of frames, a (T, H, W, 3) array or a file")
    raise TypeError(
        f"Unsupported video type {type(video).__name__}{where}: pass a path, an http(s) URL, bytes, a "
        "(T, H, W, 3) uint8 array, a list of frames, or a list of these"
    )


def _check_video_array(array, where: str = "") -> np.ndarray:
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(
            f"A video array must have shape (num_frames, height, width, 3) with RGB last; got {tuple(array.shape)}{where}"
        )
    if array.shape[0] < 1:
        raise ValueError(f"A video array has no frames{where}")
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating):
            raise ValueError(
                f"A video array must be uint8 RGB (0-255); got {array.dtype}{where}. Convert floats in [0, 1] with "
                "(array * 255).round().astype(np.uint8)"
            )
        if array.size and (array.min() < 0 or array.max() > 255):
            raise ValueError(f"A video array has values outside 0-255 ({array.dtype}){where}")
        array = array.astype(np.uint8)
    return array


def _frames_to_array(frames, where: str = "") -> np.ndarray:
    arrays = []
    for frame in frames:
        if isinstance(frame, Image.Image):
            arrays.append(np.asarray(frame.convert("RGB")))
        else:
            frame = frame.detach().cpu().numpy() if isinstance(frame, torch.Tensor) else np.asarray(frame)
            if frame.shape[-1] != 3:
                raise ValueError(f"A frame must have shape (height, width, 3); got {tuple(frame.shape)}{where}")
            arrays.append(frame)
    shapes = sorted({array.shape for array in arrays})
    if len(shapes) > 1:
        raise ValueError(f"All frames of a video must have the same size; got {shapes}{where}")
    return _check_video_array(np.stack(arrays), where)


# ------------------------------------------------------------------------------------------------------------
# Labels and texts
# ------------------------------------------------------------------------------------------------------------


def _check_labels(candidate_labels) -> list[str]:
    if isinstance(candidate_labels, str):
        candidate_labels = [label.strip() for label in candidate_labels.split(",")]
    if not isinstance(candidate_labels, Sequence):
        raise TypeError(f"candidate_labels must be a list of strings, got {type(candidate_labels).__name__}")
    labels = list(candidate_labels)
    if not labels:
        raise ValueError("candidate_labels is empty: give at least one label")
    bad = [label for label in labels if not isinstance(label, str) or not label.strip()]
    if bad:
        raise ValueError(f"candidate_labels must be non-empty strings; got {bad!r}")
    seen, duplicates = set(), []
    for label in labels:
        if label in seen and label not in duplicates:
            duplicates.append(label)
        seen.add(label)
    if duplicates:
        raise ValueError(f"candidate_labels has duplicates: {', '.join(repr(label) for label in duplicates)}")
    return labels


def _check_templates(templates) -> tuple[str, ...]:
    templates = (templates,) if isinstance(templates, str) else tuple(templates)
    if not templates:
        raise ValueError("hypothesis_template is an empty list")
    for template in templates:
        if not isinstance(template, str) or template.count("{}") != 1:
            raise ValueError(f"hypothesis_template {template!r} must contain exactly one '{{}}' for the label")
    return templates


def _cache_key(candidate_labels, hypothesis_template, descriptions) -> tuple:
    labels = tuple(candidate_labels)
    templates = None if hypothesis_template is None else _check_templates(hypothesis_template)
    if isinstance(descriptions, Mapping):
        descriptions = tuple((label, descriptions.get(label)) for label in labels)
    elif descriptions is not None:
        descriptions = str(descriptions)
    return labels, templates, descriptions


# ------------------------------------------------------------------------------------------------------------
# Components and registration
# ------------------------------------------------------------------------------------------------------------


def _load_tokenizer(model) -> CLIPTokenizer:
    """The tokenizer saved with the model, else this package's bundled CLIP BPE files (CLIP vocabularies only)."""
    source = getattr(model, "name_or_path", None)
    if source:
        try:
            return CLIPTokenizer.from_pretrained(source)
        except (OSError, ValueError, TypeError):
            pass
    tokenizer = load_clip_tokenizer()
    vocab_size = int(model.config.text_config.vocab_size)
    if vocab_size != len(tokenizer):
        # the bundled BPE would produce ids of another vocabulary: scores would be silently meaningless
        raise ValueError(
            f"{source or type(model).__name__}: no tokenizer saved with the model, and its text vocabulary "
            f"({vocab_size} tokens) is not CLIP's ({len(tokenizer)}); pass tokenizer=..."
        )
    logger.info("no tokenizer saved with %s: using the bundled OpenAI CLIP BPE files", source or "the model")
    return tokenizer


def _load_image_processor(model, given=None) -> T2LImageProcessor:
    """The image processor saved with the model, else one sized from the model config (CLIP defaults)."""
    if given is not None:
        warnings.warn(
            f"Ignoring image processor {type(given).__name__}: T2L needs a T2LImageProcessor (multi-frame clips)",
            stacklevel=3,
        )
    source = getattr(model, "name_or_path", None)
    if source:
        try:
            return T2LImageProcessor.from_pretrained(source)
        except (OSError, ValueError, TypeError):
            pass
    size = int(model.config.vision_config.image_size)
    # the official eval transform: shorter side to 256, centre crop 224 (same ratio for other input sizes)
    shortest_edge = round(size * 256 / 224)
    logger.info("No saved image processor found for %s; using a default T2LImageProcessor at %d px", source, size)
    return T2LImageProcessor(num_frames=int(model.config.num_frames), crop_size=size, shortest_edge=shortest_edge)


PIPELINE_ENTRY = {
    "impl": f"{__name__.split('.')[-1]}.{ZeroShotVideoClassificationPipeline.__name__}",
    "pt": ["AutoModelForVideoClassification"],
    "type": "multimodal",
}
"""What `pipe.save_pretrained` writes under config.json's `custom_pipelines` for this task."""


def add_pipeline_to_checkpoint(save_directory: str | os.PathLike) -> list[Path]:
    """Make a directory saved with `model.save_pretrained` usable with `pipeline(model=dir, trust_remote_code=True)`.

    Writes `custom_pipelines` into its config.json (so the task is inferred without this package) and copies this
    module and every sibling it imports next to the weights. `pipe.save_pretrained` does the same for a pipeline;
    this is for checkpoints written without one (conversion, training, Hub uploads). Returns the files written.
    """
    directory = Path(save_directory)
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{directory}: no config.json; save the model there first (model.save_pretrained)")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["custom_pipelines"] = {TASK: dict(PIPELINE_ENTRY)}
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    copied = write_remote_code([__name__], directory)
    return [config_file, *copied, *save_descriptions(directory)]


CHECKPOINT_DESCRIPTIONS_DIR = "descriptions"
"""Where the bundled description files are copied inside a saved checkpoint, for remote-code users."""


def _prompts_module():
    return sys.modules[class_texts.__module__]


def save_descriptions(save_directory: str | os.PathLike) -> list[Path]:
    """Copy the bundled T2L description files (~0.5 MB, MIT) into `save_directory/descriptions/`.

    Remote code gets only the .py files, not package data; with this copy the default text choice (descriptions
    when every label has one) is the same with and without the package installed.
    """
    source = Path(_prompts_module().DESCRIPTIONS_DIR)
    if not source.is_dir():
        return []
    target = Path(save_directory) / CHECKPOINT_DESCRIPTIONS_DIR
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(source.iterdir()):
        if path.is_file() and (path.suffix == ".csv" or path.name in ("LICENSE", "README.md")):
            shutil.copyfile(path, target / path.name)
            written.append(target / path.name)
    return written


def _use_checkpoint_descriptions(name_or_path) -> bool:
    """Point this (remote-code) copy of `prompts` at the descriptions saved with the checkpoint, if any."""
    if not name_or_path:
        return False
    prompts = _prompts_module()
    local = Path(str(name_or_path)) / CHECKPOINT_DESCRIPTIONS_DIR
    if local.is_dir():
        directory = local
    else:  # a Hub repo: every file of the set lands in the same snapshot folder
        try:
            from huggingface_hub import hf_hub_download

            files = [
                hf_hub_download(str(name_or_path), f"{CHECKPOINT_DESCRIPTIONS_DIR}/{name}.csv")
                for name in prompts.DESCRIPTION_SETS
            ]
        except Exception as error:  # offline, no such files, private repo...: templates it is
            logger.info("No descriptions saved with %s (%s)", name_or_path, error)
            return False
        directory = Path(files[0]).parent
    if not all((directory / f"{name}.csv").is_file() for name in prompts.DESCRIPTION_SETS):
        return False
    prompts.DESCRIPTIONS_DIR = directory
    return True


def register_pipeline() -> None:
    """Register the task with transformers (idempotent). `import modeling_t2l` calls this."""
    current = PIPELINE_REGISTRY.supported_tasks.get(TASK)
    if current is not None and current.get("impl") is ZeroShotVideoClassificationPipeline:
        return
    PIPELINE_REGISTRY.register_pipeline(
        TASK,
        pipeline_class=ZeroShotVideoClassificationPipeline,
        pt_model=AutoModelForVideoClassification,
        type="multimodal",
    )


__all__ = [
    "ZeroShotVideoClassificationPipeline",
    "add_pipeline_to_checkpoint",
    "download_video",
    "normalize_video_inputs",
    "register_pipeline",
    "save_descriptions",
]
