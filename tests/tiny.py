"""Tiny random configurations shared by the tests: the offline stand-ins for openai/clip-vit-base-patch16."""
from __future__ import annotations

import shutil
from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPVisionConfig

from modeling_t2l import T2LConfig

TOKENIZER_DIR = Path(__file__).resolve().parent.parent / "modeling_t2l" / "processing" / "tokenizer"


def tiny_text_config(**overrides) -> CLIPTextConfig:
    values = dict(
        vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5,
        bos_token_id=49406, eos_token_id=49407, pad_token_id=49407, projection_dim=16,
    )
    values.update(overrides)
    return CLIPTextConfig(**values)


def tiny_vision_config(image_size: int = 32, **overrides) -> CLIPVisionConfig:
    values = dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=image_size,
        patch_size=8, hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=16,
    )
    values.update(overrides)
    return CLIPVisionConfig(**values)


def tiny_clip_config(image_size: int = 32) -> CLIPConfig:
    return CLIPConfig(
        text_config=tiny_text_config().to_dict(),
        vision_config=tiny_vision_config(image_size).to_dict(),
        projection_dim=16,
        logit_scale_init_value=4.6052,
    )


def tiny_t2l_config(num_frames: int = 4, image_size: int = 32, **overrides) -> T2LConfig:
    return T2LConfig(
        text_config=tiny_text_config().to_dict(),
        vision_config=tiny_vision_config(image_size).to_dict(),
        projection_dim=16,
        logit_scale_init_value=4.6052,
        num_frames=num_frames,
        **overrides,
    )


def save_tiny_clip(path: str | Path, image_size: int = 32, seed: int = 0) -> Path:
    """Write a random transformers CLIPModel and the real CLIP tokenizer files into `path`."""
    path = Path(path)
    torch.manual_seed(seed)
    CLIPModel(tiny_clip_config(image_size)).save_pretrained(path)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(TOKENIZER_DIR / name, path / name)
    return path
