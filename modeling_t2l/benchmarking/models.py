"""The compared models (random weights, the settings' dimensions) and random inputs."""
from __future__ import annotations

from typing import Callable

import torch

from ..models.registry import get_family
from .settings import BenchmarkSettings


# ---------------------------------------------------------------------------------------------------------------
# Models (random weights, the settings' dimensions)
# ---------------------------------------------------------------------------------------------------------------


def build_family(settings: BenchmarkSettings, model_type: str, head: bool = False, num_frames: int | None = None,
                 **config_fields):
    """A registered family with random weights at the settings' CLIP dimensions, with its declared trainable set;
    `config_fields` set other fields of the family's config (e.g. T2L's `attention_dropout`)."""
    family = get_family(model_type)
    config = family.config_class(text_config=dict(settings.text), vision_config=dict(settings.vision),
                                 projection_dim=settings.projection_dim, num_frames=num_frames or settings.num_frames,
                                 **config_fields)
    model_class = family.classification_class if head else family.model_class
    return model_class(config).apply_trainable_set()


def family_processor(settings: BenchmarkSettings, model_type: str, shortest_edge: int | None = None):
    """The processor a family's checkpoint would carry, at the settings' frames and crop: the bundled CLIP
    tokenizer and the family's image normalisation (`shortest_edge`: the resize before the crop, default the crop)."""
    from ..processing.processing_t2l import T2LProcessor

    defaults = get_family(model_type).processor_defaults
    normalisation = {key: defaults[key] for key in ("image_mean", "image_std") if key in defaults}
    return T2LProcessor.from_clip_tokenizer(num_frames=settings.num_frames, crop_size=settings.image_size,
                                            shortest_edge=shortest_edge or settings.image_size, **normalisation)


def build_t2l(settings: BenchmarkSettings, head: bool = False):
    """T2L, the model every ratio of the report is about."""
    return build_family(settings, "t2l", head=head)


def build_clip(settings: BenchmarkSettings):
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(text_config=dict(settings.text), vision_config=dict(settings.vision),
                        projection_dim=settings.projection_dim)
    return CLIPModel(config)


def build_xclip(settings: BenchmarkSettings):
    """transformers' X-CLIP with the same CLIP towers; its video modules follow the released B/16 models."""
    from transformers import XCLIPConfig, XCLIPModel

    vision = {k: v for k, v in settings.vision.items() if k != "projection_dim"}
    heads = max(1, settings.projection_dim // 64)
    vision.update(num_frames=settings.num_frames, mit_hidden_size=settings.projection_dim,
                  mit_intermediate_size=4 * settings.projection_dim, mit_num_attention_heads=heads)
    text = {k: v for k, v in settings.text.items() if k != "projection_dim"}
    config = XCLIPConfig(text_config=text, vision_config=vision, projection_dim=settings.projection_dim,
                         prompt_num_attention_heads=heads)
    return XCLIPModel(config)


def _pooled(output) -> torch.Tensor:
    """transformers 5 `get_*_features` return a model output whose `pooler_output` holds the projected features."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def clip_frame_average(clip, pixel_values: torch.Tensor) -> torch.Tensor:
    """CLIP image features of every frame, averaged over time: (B, T, 3, H, W) -> (B, E)."""
    batch_size, num_frames = pixel_values.shape[:2]
    frame_features = _pooled(clip.get_image_features(pixel_values=pixel_values.flatten(0, 1)))
    return frame_features.view(batch_size, num_frames, -1).mean(dim=1)


def count_parameters(model, trainable_filter: Callable[[str, torch.nn.Parameter], bool] | None = None) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    if trainable_filter is None:
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    else:
        trainable = sum(p.numel() for name, p in model.named_parameters() if trainable_filter(name, p))
    return total, trainable


def _random_pixels(settings: BenchmarkSettings, batch_size: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    size = settings.image_size
    pixels = torch.randn(batch_size, settings.num_frames, 3, size, size, generator=generator)
    return pixels.to(settings.device, settings.torch_dtype)


def _random_text(settings: BenchmarkSettings, num_texts: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`num_texts` token sequences of `text_length` tokens, BOS ... EOS: only the shape matters for cost."""
    generator = torch.Generator().manual_seed(seed)
    length = max(2, min(settings.text_length, settings.text["max_position_embeddings"]))
    ids = torch.randint(0, 49000 if settings.text["vocab_size"] > 49000 else settings.text["vocab_size"] - 2,
                        (num_texts, length), generator=generator)
    ids[:, 0] = settings.text["bos_token_id"]
    ids[:, -1] = settings.text["eos_token_id"]
    return ids.to(settings.device), torch.ones_like(ids, device=settings.device)
