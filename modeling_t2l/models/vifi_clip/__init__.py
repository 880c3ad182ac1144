"""ViFi-CLIP: CLIP over every frame, frame embeddings averaged, both towers fully fine-tuned (CVPR 2023)."""
from pathlib import Path

from ..registry import Family, register_family
from .configuration_vifi_clip import ViFiCLIPConfig
from .modeling_vifi_clip import (
    ViFiCLIPForVideoClassification,
    ViFiCLIPModel,
    ViFiCLIPOutput,
    ViFiCLIPPreTrainedModel,
    ViFiCLIPVideoFeaturesOutput,
)
from .processing_vifi_clip import vifi_clip_image_processor_kwargs

FAMILY = Family(
    model_type="vifi_clip",
    name="ViFi-CLIP",
    config_class=ViFiCLIPConfig,
    model_class=ViFiCLIPModel,
    classification_class=ViFiCLIPForVideoClassification,
    # the official test: ImageNet normalisation, 32 frames, resize 256 (bilinear) + centre crop 224
    processor_defaults=vifi_clip_image_processor_kwargs(),
    cards_dir=Path(__file__).resolve().parent / "cards",
    summary="CLIP on every frame + frame mean, full fine-tuning",
)


def register() -> None:
    """Register ViFi-CLIP with the family registry and the Auto classes (idempotent)."""
    register_family(FAMILY)


__all__ = [
    "FAMILY",
    "ViFiCLIPConfig",
    "ViFiCLIPForVideoClassification",
    "ViFiCLIPModel",
    "ViFiCLIPOutput",
    "ViFiCLIPPreTrainedModel",
    "ViFiCLIPVideoFeaturesOutput",
    "register",
]
