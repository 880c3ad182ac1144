"""`T2LProcessor`: the image processor (videos -> pixel_values) and the CLIP tokenizer (texts -> input_ids) as one object.

The processor holds an *image* processor, not a transformers video processor: the v5 video-processor stack needs
torchvision, which the CPU build of torch cannot load (spec hf_integration F1). Texts are cleaned as the official
CLIP tokenizer does before transformers' `CLIPTokenizer` sees them (see tokenization.py).

Imports are relative so that `save_pretrained` can copy this file next to a checkpoint for `trust_remote_code`.
"""
# no `from __future__ import annotations`: transformers reads the kwargs TypedDicts' annotations as types

from typing import Any, Sequence

from transformers import BatchFeature, CLIPTokenizer
from transformers.processing_utils import ProcessingKwargs, ProcessorMixin, TextKwargs, Unpack

from .image_processing_t2l import T2LImageProcessor, T2LImageProcessorKwargs
from .tokenization import CONTEXT_LENGTH, encode_texts, load_clip_tokenizer


class T2LTextKwargs(TextKwargs, total=False):
    clean_text: bool
    text_names: Sequence[str] | None


class T2LProcessorKwargs(ProcessingKwargs, total=False):
    text_kwargs: T2LTextKwargs
    images_kwargs: T2LImageProcessorKwargs
    _defaults = {
        "text_kwargs": {"padding": "longest", "max_length": CONTEXT_LENGTH, "clean_text": True},
        "common_kwargs": {"return_tensors": "pt"},
    }


def _valid_keywords(processor) -> set[str]:
    """Every keyword `T2LProcessor.__call__` accepts: the text and clip modality dicts, their fields and the image
    processor's settings. Video and audio options are refused: this processor has no part that would read them."""
    valid = {"text_kwargs", "images_kwargs", "common_kwargs"}
    for name in ("text_kwargs", "images_kwargs"):
        valid |= set(T2LProcessorKwargs.__annotations__[name].__annotations__)
    valid |= set(processor.image_processor.to_dict())
    return valid


class T2LProcessor(ProcessorMixin):
    """Turns videos and class texts into T2L model inputs.

    Args:
        image_processor: a `T2LImageProcessor` (frame sampling is done by the video reader; this resizes, crops
            and normalises clips to `pixel_values` of shape (B, T, 3, H, W)).
        tokenizer: a `CLIPTokenizer` (see `modeling_t2l.processing.tokenization.load_clip_tokenizer`).
    """

    valid_processor_kwargs = T2LProcessorKwargs

    def __init__(self, image_processor: T2LImageProcessor, tokenizer: CLIPTokenizer, **kwargs):
        super().__init__(image_processor, tokenizer, **kwargs)

    @classmethod
    def from_clip_tokenizer(
        cls, num_frames: int = 8, tokenizer_path: str | None = None, **image_processor_kwargs: Any
    ) -> "T2LProcessor":
        """Build a processor offline: the bundled OpenAI CLIP BPE files (or `tokenizer_path`) and a new image
        processor for `num_frames` frames (other image-processor settings as keyword arguments)."""
        image_processor = T2LImageProcessor(num_frames=num_frames, **image_processor_kwargs)
        return cls(image_processor=image_processor, tokenizer=load_clip_tokenizer(tokenizer_path))

    @property
    def num_frames(self) -> int:
        """Frames per clip, the image processor's setting; it must equal the model config's `num_frames`."""
        return self.image_processor.num_frames

    def check_num_frames(self, config_or_model: Any) -> None:
        """Raise ValueError if a model (or its config) expects another number of frames than this processor.

        T2L's temporal tokens are one per frame, so a mismatch does not fail loudly in the model: it would silently
        use the wrong tokens or crash deep in the vision tower.
        """
        config = getattr(config_or_model, "config", config_or_model)
        # a model's contract `num_frames` first (families keep it elsewhere than config.num_frames, e.g. X-CLIP)
        expected = getattr(config_or_model, "num_frames", None) if config is not config_or_model else None
        if expected is None:
            expected = getattr(config, "num_frames", None)
        if expected is None:
            raise ValueError(f"{type(config).__name__} has no num_frames to check the processor against")
        if int(expected) != int(self.num_frames):
            raise ValueError(
                f"The processor samples {self.num_frames} frames per video but the model config has "
                f"num_frames={expected}: build the processor with "
                f"T2LProcessor.from_clip_tokenizer(num_frames={expected}) or load the one saved with the model"
            )

    def __call__(
        self,
        images: Any = None,
        text: str | Sequence[str] | None = None,
        **kwargs: Unpack[T2LProcessorKwargs],
    ) -> BatchFeature:
        """Process clips and/or texts.

        Args:
            videos: clips as accepted by `T2LImageProcessor` (a list of frames, a (T,H,W,3) array, or a batch).
            images: the same clips under the name transformers' tools pass to a processor whose sub-processor is
                an image processor (a T2L clip is a list of frames). Give one of `videos` and `images`, not both.
            text: one text or a list; each is cleaned (ftfy, HTML unescape, whitespace, lower case) and tokenised
                to at most `max_length` tokens. A longer text is truncated (EOT kept) with a warning naming it.
            **kwargs: options as transformers' `ProcessingKwargs`, flat or per modality
                (`images_kwargs={...}`, `text_kwargs={...}`):
                clip options (`train`, `seed`, `num_crops` for 3-crop views, any `T2LImageProcessor` setting such as
                `do_flip=False`) go to the image processor; `padding` ("longest", "max_length" or False),
                `max_length`, `clean_text` (False only if the texts are already cleaned) and `text_names` (a name
                per text, shown in the truncation warning) to the tokenizer; `return_tensors` to both.
                An option that neither part knows raises TypeError.

        Returns:
            BatchFeature with `pixel_values` (B, T, 3, H, W) and/or `input_ids`, `attention_mask` (K, L).
        """
        # `videos=` is the name users know; transformers' tools call a processor whose sub-processor is an image
        # processor with `images=`. Both mean the same clips (kept out of the signature so tools see one input).
        videos = kwargs.pop("videos", None)
        if images is not None and videos is not None:
            raise ValueError("T2LProcessor takes the clips once: as videos= or as images=, not both")
        clips = videos if videos is not None else images
        if clips is None and text is None:
            raise ValueError("T2LProcessor needs videos, text or both")
        unknown = sorted(set(kwargs) - _valid_keywords(self))
        if unknown:
            raise TypeError(f"T2LProcessor got unknown option(s) {', '.join(unknown)}")
        output_kwargs = self._merge_kwargs(self.valid_processor_kwargs, tokenizer_init_kwargs=self.tokenizer.init_kwargs, **kwargs)
        data: dict[str, Any] = {}
        return_tensors = output_kwargs["images_kwargs"].pop("return_tensors", None) or output_kwargs["text_kwargs"].get("return_tensors")
        if clips is not None:
            data.update(self.image_processor(clips, return_tensors=return_tensors, **output_kwargs["images_kwargs"]))
        if text is not None:
            options = output_kwargs["text_kwargs"]
            data.update(
                encode_texts(
                    self.tokenizer,
                    text,
                    max_length=options.get("max_length") or CONTEXT_LENGTH,
                    padding=options.get("padding", "longest"),
                    return_tensors=options.get("return_tensors"),
                    clean=options.get("clean_text", True),
                    names=options.get("text_names"),
                )
            )
        return BatchFeature(data=data, tensor_type=return_tensors)

    def save_pretrained(self, save_directory, push_to_hub: bool = False, **kwargs):
        """Save `processor_config.json` and the tokenizer files (ProcessorMixin), plus a stand-alone
        `preprocessor_config.json` so the image processor also loads on its own (AutoImageProcessor, older tools)."""
        # Image processor first: each save uploads only the files it wrote itself when pushing to the Hub.
        files = self.image_processor.save_pretrained(save_directory, push_to_hub=push_to_hub, **kwargs)
        return super().save_pretrained(save_directory, push_to_hub=push_to_hub, **kwargs) + files

    @classmethod
    def _get_arguments_from_pretrained(cls, pretrained_model_name_or_path, processor_dict=None, **kwargs):
        # ProcessorMixin would resolve both parts through the Auto classes, which only know T2L after
        # `import modeling_t2l` registered it. Loading our own classes directly also works for remote code.
        kwargs.pop("_from_auto", None)
        kwargs.pop("trust_remote_code", None)
        image_processor = T2LImageProcessor.from_pretrained(pretrained_model_name_or_path, **kwargs)
        tokenizer = CLIPTokenizer.from_pretrained(pretrained_model_name_or_path, **kwargs)
        return [image_processor, tokenizer]


__all__ = ["T2LProcessor"]
