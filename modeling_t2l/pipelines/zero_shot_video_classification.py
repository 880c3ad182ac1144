"""`pipeline("zero-shot-video-classification")`: videos and candidate labels in, sorted scores out.

    from transformers import pipeline
    classifier = pipeline(model="path/to/converted-t2l", trust_remote_code=True)
    classifier("video.mp4", candidate_labels=["archery", "juggling balls", "surfing water"])
    # [{'label': 'juggling balls', 'score': 0.91}, ...]

Scoring is the shared zero-shot classifier (`modeling_t2l.zero_shot.classifier`, the official test): per view,
p = softmax(scale * cos(video, text)) over the labels with the model's `zero_shot_logit_scale`, averaged over
templates (one "template" when descriptions are used), then averaged over views (num_clips x num_crops).

Inputs (`ZeroShotVideoClassificationPipeline.__call__`): one video (a path, an http(s) URL, bytes, a
(T, H, W, 3) array or a list of frames), a list of videos (a batch: one result per video), or a generator /
`datasets.Dataset` of videos (streamed: the call returns an iterator). What counts as a video, and how URLs are
downloaded (a total deadline `timeout` and a size limit `max_download_bytes`), is `modeling_t2l.pipelines.inputs`.

Errors: by default (`on_error="raise"`) the first input that cannot be read raises, naming it. With
`on_error="return"` each such input gets `{"error": "<reason>", "input": "<path, URL or description>"}` in its
place and the other videos are still classified (also in a batch and a stream).

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
from collections import OrderedDict
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from transformers import AutoModelForVideoClassification, CLIPTokenizer, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from ..processing.checkpoint_processor import image_processor_from_dict, load_image_processor
from ..processing.image_processing_t2l import T2LImageProcessor
from ..processing.tokenization import encode_texts, load_clip_tokenizer
from ..processing.video_io import VideoDecodeError, read_video, sample_clip_indices, sample_frame_indices
from ..remote_code import write_remote_code
from ..timeline import FrameStream, classify_windows
from ..zero_shot.classifier import ZeroShotClassifier, build_zero_shot_classifier
from ..zero_shot.prompts import ClassTexts, check_distinct_class_names, class_texts, model_class_texts
from .inputs import (
    DEFAULT_MAX_DOWNLOAD_BYTES,
    DEFAULT_URL_TIMEOUT,
    InputError,
    describe_input,
    download_video,
    is_url,
    normalize_video_inputs,
    prepare_video,
)

logger = logging.getLogger(__name__)

TASK = "zero-shot-video-classification"
ON_ERROR_CHOICES = ("raise", "return")
# What one unreadable input can raise; with on_error="return" these become that input's error entry.
INPUT_ERRORS = (VideoDecodeError, ValueError, TypeError, OSError)
# Texts per forward of the text tower: bounds memory for large vocabularies x 16 templates.
TEXT_CHUNK_SIZE = 256
# How many (labels, templates, descriptions) vocabularies a pipeline keeps embedded.
TEXT_CACHE_SIZE = 8
# Frames per clip for a model that takes any number and brings no clip processor.
DEFAULT_NUM_FRAMES = 8


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
        timeout (float): seconds a URL download may take in total, enforced while the body streams in (default 30).
        max_download_bytes (int): largest URL download accepted, in bytes (default 512 MiB).
        on_error ("raise" or "return"): what an input that cannot be read does. "raise" (default): raise its
            error (`VideoDecodeError` naming the file or URL, `ValueError` / `TypeError` for a value that is not a
            video). "return": put {"error": str, "input": str} in that video's place and go on with the others.
        chunk_length_s, stride_length_s (float, call time only): score a long video window by window (one video, or
            a live `timeline.FrameStream(frames, fps)`): windows of chunk_length_s seconds whose starts are
            stride_length_s apart (default half a chunk). Returns [{"start", "end", "scores"}, ...] (a generator for
            a FrameStream); `timeline.merge_segments` turns it into labelled segments. See `modeling_t2l.timeline`.

    Returns, per video: a list of {"label": str, "score": float} sorted by decreasing score (or, with
    on_error="return", the error entry of a video that could not be read).
    """

    _load_processor = False
    _load_image_processor = None  # loaded if the checkpoint has one, else built below
    _load_video_processor = False
    _load_feature_extractor = False
    _load_tokenizer = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.num_frames = _model_num_frames(self.model, self.image_processor)
        if self.tokenizer is None:
            self.tokenizer = _load_tokenizer(self.model)
        # Duck-typed on purpose: under remote code, AutoImageProcessor may return T2LImageProcessor from another
        # dynamic-module copy than the one this file imports.
        if self.image_processor is None or not hasattr(self.image_processor, "num_frames"):
            self.image_processor = _load_image_processor(self.model, self.image_processor, self.num_frames)
        processor_frames = getattr(self.image_processor, "num_frames", None)
        if processor_frames is not None and int(processor_frames) != self.num_frames:
            raise ValueError(
                f"The image processor is set for {processor_frames} frames per clip but the model was built for "
                f"{self.num_frames} (model.num_frames); pass the image processor saved with the model"
            )
        # Dropout on the temporal prompts and drop-path would make scores random.
        self.model.eval()
        self._text_cache: OrderedDict[tuple, tuple[ZeroShotClassifier, ClassTexts]] = OrderedDict()
        self.last_class_texts: ClassTexts | None = None
        self._empty_pixel_values: torch.Tensor | None = None  # built on the first error entry

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
        max_download_bytes=None,
        on_error=None,
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
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
                raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
            preprocess_params["timeout"] = float(timeout)
        if max_download_bytes is not None:
            if isinstance(max_download_bytes, bool) or not isinstance(max_download_bytes, int) or max_download_bytes < 1:
                raise ValueError(f"max_download_bytes must be a positive integer (or None), got {max_download_bytes!r}")
            preprocess_params["max_download_bytes"] = max_download_bytes
        if on_error is not None:
            if on_error not in ON_ERROR_CHOICES:
                raise ValueError(f"on_error must be one of {ON_ERROR_CHOICES}, got {on_error!r}")
            preprocess_params["on_error"] = on_error
        return preprocess_params, forward_params, postprocess_params

    def __call__(self, videos, candidate_labels=None, **kwargs):
        """Classify one video or a batch of videos (see the module docstring for the accepted forms).

        Returns a list of {"label", "score"} for one video, or a list of such lists for a batch.
        """
        if candidate_labels is not None:
            kwargs["candidate_labels"] = candidate_labels
        elif "candidate_labels" not in self._forward_params:
            raise ValueError("candidate_labels is required: the labels to score, e.g. ['archery', 'surfing water']")
        chunk_length_s, stride_length_s = kwargs.pop("chunk_length_s", None), kwargs.pop("stride_length_s", None)
        if chunk_length_s is not None or stride_length_s is not None or isinstance(videos, FrameStream):
            return self._windows(videos, chunk_length_s, stride_length_s, kwargs)
        if isinstance(videos, (list, tuple)):
            # one video's frames or a batch: decided here, as a batch must reach Pipeline as a list
            on_error = kwargs.get("on_error", self._preprocess_params.get("on_error", "raise"))
            videos, _ = normalize_video_inputs(videos, on_error=on_error if on_error in ON_ERROR_CHOICES else "raise")
        # else one video, or a generator / dataset of videos whose results are streamed; `preprocess` checks each
        return super().__call__(videos, **kwargs)

    def _windows(self, video, chunk_length_s, stride_length_s, kwargs):
        """Long-video mode (`modeling_t2l.timeline`), with the same argument checks and defaults as a plain call."""
        if chunk_length_s is None:
            raise ValueError("chunk_length_s is required to score a video window by window (e.g. chunk_length_s=4)")
        batch_size = kwargs.pop("batch_size", self._batch_size or 1)
        preprocess, forward, postprocess = self._sanitize_parameters(**kwargs)
        preprocess = {**self._preprocess_params, **preprocess}
        forward = {**self._forward_params, **forward}
        postprocess = {**self._postprocess_params, **postprocess}
        if preprocess.get("on_error", "raise") != "raise":
            raise ValueError("on_error='return' is for batches of videos; window-by-window scoring raises its errors")
        video = str(video) if isinstance(video, Path) else video
        return classify_windows(
            self, video, chunk_length_s=chunk_length_s, stride_length_s=stride_length_s, batch_size=batch_size,
            candidate_labels=forward["candidate_labels"], hypothesis_template=forward.get("hypothesis_template"),
            descriptions=forward.get("descriptions"), top_k=postprocess.get("top_k"),
            num_clips=preprocess.get("num_clips", 1), num_crops=preprocess.get("num_crops", 1),
            timeout=preprocess.get("timeout", DEFAULT_URL_TIMEOUT), max_download_bytes=preprocess.get("max_download_bytes"),
        )

    # -- the three steps --------------------------------------------------------------------------------------

    def preprocess(self, video, num_clips: int = 1, num_crops: int = 1, timeout: float = DEFAULT_URL_TIMEOUT,
                   max_download_bytes: int | None = DEFAULT_MAX_DOWNLOAD_BYTES, on_error: str = "raise",
                   clip_sampling: str = "uniform", seed: int = 0):
        try:
            video = prepare_video(video)
            if isinstance(video, InputError):
                raise ValueError(video.message)
            clips = self.load_clips(video, num_clips=num_clips, timeout=timeout, max_download_bytes=max_download_bytes,
                                    clip_sampling=clip_sampling, seed=seed)
            pixel_values = self.image_processor(list(clips), num_crops=num_crops, return_tensors="pt")["pixel_values"]
        except INPUT_ERRORS as error:
            if on_error == "raise":
                raise
            entry = video if isinstance(video, InputError) else InputError(str(error), describe_input(video))
            # no views: the batch's other videos are scored as if this one were not there
            return {"pixel_values": self._no_pixel_values(), "num_views": torch.tensor([0]), "error": entry}
        views = pixel_values.shape[0]
        return {"pixel_values": pixel_values, "num_views": torch.tensor([views]), "error": None}

    def _forward(self, model_inputs, candidate_labels=None, hypothesis_template=None, descriptions=None):
        pixel_values = model_inputs["pixel_values"]  # (videos * views, T, 3, H, W), video-major
        num_views = model_inputs["num_views"].tolist()
        classifier = self.classifier(candidate_labels, hypothesis_template, descriptions)
        # rows of unreadable videos (0 views) stay NaN; postprocess returns their error entries instead
        probabilities = torch.full((len(num_views), len(candidate_labels)), float("nan"))
        scored = [i for i, views in enumerate(num_views) if views]
        if scored:
            probabilities[scored] = classifier(self.model, pixel_values, [num_views[i] for i in scored]).cpu()
        return {"probabilities": probabilities, "error": model_inputs.get("error")}

    def postprocess(self, model_outputs, candidate_labels=None, top_k=None):
        error = model_outputs.get("error")
        if error is not None:
            return error.as_entry()
        probabilities = model_outputs["probabilities"].reshape(-1).tolist()
        ranked = sorted(zip(candidate_labels, probabilities), key=lambda pair: -pair[1])
        if top_k is not None:
            ranked = ranked[:top_k]
        return [{"label": label, "score": score} for label, score in ranked]

    def _no_pixel_values(self) -> torch.Tensor:
        """An empty (0, T, 3, H, W) batch of this processor's clip shape, so an error entry collates with clips."""
        if self._empty_pixel_values is None:
            blank = np.zeros((self.num_frames, 8, 8, 3), dtype=np.uint8)
            self._empty_pixel_values = self.image_processor([blank], return_tensors="pt")["pixel_values"][:0]
        return self._empty_pixel_values

    # -- building blocks, public for reuse (CLI, evaluation) ---------------------------------------------------

    def load_clips(self, video, num_clips: int = 1, timeout: float = DEFAULT_URL_TIMEOUT,
                   max_download_bytes: int | None = DEFAULT_MAX_DOWNLOAD_BYTES, clip_sampling: str = "uniform",
                   seed: int = 0) -> np.ndarray:
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
        if random:
            options = dict(mode="train", generator=np.random.default_rng(seed), num_clips=num_clips, sampling=sampling)
        else:
            options = dict(num_clips=num_clips, sampling=sampling)
        if is_url(video):
            data = download_video(video, timeout, max_download_bytes)
            try:
                clips = read_video(data, self.num_frames, **options)
            except VideoDecodeError as error:  # name the URL, not "<N bytes in memory>"
                raise VideoDecodeError(video, error.reason) from error
            return clips[None] if num_clips == 1 else clips
        clips = read_video(video, self.num_frames, **options)
        return clips[None] if num_clips == 1 else clips

    def class_texts(self, candidate_labels, hypothesis_template=None, descriptions=None) -> ClassTexts:
        """The texts the labels are scored with, and which mode produced them (see the class docstring)."""
        labels = _check_labels(candidate_labels)
        if hypothesis_template is None and descriptions is None:
            # a family whose official test scores a fixed prompt (ViFi-CLIP's "a photo of a {}.", X-CLIP's bare
            # name) declares it; T2L declares none and keeps the descriptions-or-templates default
            hypothesis_template = getattr(self.model, "zero_shot_templates", None)
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
    check_distinct_class_names(labels, "candidate_labels")
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


def _model_num_frames(model, image_processor=None) -> int:
    """Frames per clip: the model's (contract `num_frames`), else the given clip processor's, else 8."""
    frames = getattr(model, "num_frames", None)
    if frames is None:
        frames = getattr(model.config, "num_frames", None)
    if frames is None:
        frames = getattr(image_processor, "num_frames", None) or DEFAULT_NUM_FRAMES
        logger.info("%s takes any number of frames: sampling %d per clip", type(model).__name__, frames)
    return int(frames)


def _load_image_processor(model, given=None, num_frames: int | None = None) -> T2LImageProcessor:
    """A clip processor with the checkpoint's own constants: `given` (a per-image processor such as CLIP's, whose
    mean/std/size/crop/filter are carried over), else the one saved with the model (a T2LImageProcessor, or the
    per-image one converted likewise), else one sized from the model config (CLIP defaults)."""
    num_frames = _model_num_frames(model) if num_frames is None else int(num_frames)
    if given is not None:
        return image_processor_from_dict(given.to_dict(), num_frames, where=type(given).__name__)
    source = getattr(model, "name_or_path", None)
    if source:
        try:
            return load_image_processor(source, num_frames)
        except OSError:
            pass
    size = int(model.config.vision_config.image_size)
    # the official eval transform: shorter side to 256, centre crop 224 (same ratio for other input sizes)
    shortest_edge = round(size * 256 / 224)
    logger.info("No saved image processor found for %s; using a default T2LImageProcessor at %d px", source, size)
    return T2LImageProcessor(num_frames=num_frames, crop_size=size, shortest_edge=shortest_edge)


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
