"""A tiny zero-shot model whose scores the tests control: it sees the mean colour of a clip and knows three words.

`get_video_features` is the mean normalised pixel per channel (B, 3); `get_text_features` sums a fixed embedding
per token, non-zero only for "red", "green" and "blue" (one axis each). A red clip is therefore "red" with a
margin set by `eval_logit_scale`, and a window that straddles a change of colour scores both. It is a family in the
contract's sense (`ZeroShotVideoModelMixin`: `BaseModelOutputWithPooling` from both feature methods,
`text_depends_on_video`, `zero_shot_logit_scale` from `eval_logit_scale`, `num_frames`), so code that uses only the
contract runs on it unchanged.

`ConditionedColourModel` has `text_depends_on_video = True` (as TC-CLIP): each text embedding is moved towards
the video it is scored against, so per-window text encoding is visible in the scores.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutputWithPooling

from modeling_t2l.modeling_utils import ZeroShotVideoModelMixin
from modeling_t2l.processing.image_processing_t2l import T2LImageProcessor
from modeling_t2l.processing.tokenization import load_clip_tokenizer

COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}
WORD_IDS = {"red": 736, "green": 1901, "blue": 1746}  # their CLIP BPE token ids
VOCAB_SIZE = 49408


class ColourConfig(PretrainedConfig):
    model_type = "t2l-test-colour"

    def __init__(self, num_frames: int = 4, eval_logit_scale: float = 10.0, condition_strength: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_frames = num_frames
        self.eval_logit_scale = eval_logit_scale
        self.condition_strength = condition_strength


class ColourModel(ZeroShotVideoModelMixin, PreTrainedModel):
    config_class = ColourConfig
    base_model_prefix = "colour"
    text_depends_on_video = False

    def __init__(self, config: ColourConfig):
        super().__init__(config)
        self.word_embeddings = nn.Embedding(VOCAB_SIZE, 3)
        self.post_init()
        with torch.no_grad():
            self.word_embeddings.weight.zero_()
            for axis, word in enumerate(COLOURS):
                self.word_embeddings.weight[WORD_IDS[word], axis] = 1.0

    def _init_weights(self, module):
        pass

    def get_video_features(self, pixel_values, **kwargs) -> BaseModelOutputWithPooling:
        # (B, T, 3, H, W) -> (B, 3): the mean of each channel over frames and pixels
        return BaseModelOutputWithPooling(pooler_output=pixel_values.mean(dim=(1, 3, 4)))

    def get_text_features(self, input_ids, attention_mask=None, video_outputs=None, **kwargs):
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        text = (self.word_embeddings(input_ids) * mask[..., None]).sum(dim=1)  # (K, 3)
        return BaseModelOutputWithPooling(pooler_output=text)


class ConditionedColourModel(ColourModel):
    """Text embeddings depend on the video: text_bk = text_k + strength * normalised(video_b), shape (B, K, 3)."""

    text_depends_on_video = True

    def get_text_features(self, input_ids, attention_mask=None, video_outputs=None, **kwargs):
        if video_outputs is None:
            raise ValueError("ConditionedColourModel.get_text_features needs video_outputs")
        text = super().get_text_features(input_ids, attention_mask).pooler_output  # (K, 3)
        video = nn.functional.normalize(video_outputs.pooler_output, dim=-1)  # (B, 3)
        return BaseModelOutputWithPooling(pooler_output=text[None] + self.config.condition_strength * video[:, None])


def colour_processor(num_frames: int = 4, size: int = 16) -> T2LImageProcessor:
    return T2LImageProcessor(num_frames=num_frames, crop_size=size, shortest_edge=size,
                             image_mean=(0.5, 0.5, 0.5), image_std=(0.5, 0.5, 0.5))


def colour_pipeline(model=None, num_frames: int = 4):
    from modeling_t2l.pipelines.zero_shot_video_classification import ZeroShotVideoClassificationPipeline

    model = model if model is not None else ColourModel(ColourConfig(num_frames=num_frames)).eval()
    return ZeroShotVideoClassificationPipeline(
        model=model, tokenizer=load_clip_tokenizer(), image_processor=colour_processor(num_frames), device=-1
    )


def colour_frame(colour: str, width: int = 32, height: int = 24) -> np.ndarray:
    return np.broadcast_to(np.array(COLOURS[colour], dtype=np.uint8), (height, width, 3)).copy()


def write_colour_video(path, schedule, fps: int = 10, width: int = 32, height: int = 24, gop: int | None = None):
    """An H.264 mp4 showing each (colour, seconds) of `schedule` in turn, as flat frames (tests/video_factory style).

    Returns (path, colours): the colour of every frame, for the expectations."""
    import av

    colours = [colour for colour, seconds in schedule for _ in range(round(seconds * fps))]
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        params = "scenecut=0" + (f":keyint={gop}:min-keyint={gop}" if gop else "")
        stream.options = {"x264-params": params, "preset": "veryfast"}
        for colour in colours:
            frame = av.VideoFrame.from_ndarray(colour_frame(colour, width, height), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path, colours
