"""TC-CLIP (ECCV 2024): temporal contextualization + video-conditional prompting on a fully fine-tuned CLIP."""
from pathlib import Path

from ..registry import Family, register_family
from .configuration_tc_clip import TCCLIPConfig, class_name_to_text, prompt_texts
from .modeling_tc_clip import (
    TCCLIPForVideoClassification,
    TCCLIPModel,
    TCCLIPOutput,
    TCCLIPPreTrainedModel,
    TCCLIPTextOutput,
    TCCLIPVisionOutput,
)
from .processing_defaults import image_processor_kwargs

FAMILY = Family(
    model_type="tc_clip",
    name="TC-CLIP",
    config_class=TCCLIPConfig,
    model_class=TCCLIPModel,
    classification_class=TCCLIPForVideoClassification,
    # the released checkpoints: ImageNet normalisation, 16 frames, resize 256 + centre crop 224
    processor_defaults=image_processor_kwargs(),
    cards_dir=Path(__file__).resolve().parent / "cards",
    summary="temporal contextualization + video-conditioned prompts, full fine-tuning",
)


def register() -> None:
    """Register TC-CLIP with the family registry and the Auto classes (idempotent)."""
    register_family(FAMILY)


__all__ = [
    "FAMILY",
    "TCCLIPConfig",
    "TCCLIPForVideoClassification",
    "TCCLIPModel",
    "TCCLIPOutput",
    "TCCLIPPreTrainedModel",
    "TCCLIPTextOutput",
    "TCCLIPVisionOutput",
    "class_name_to_text",
    "prompt_texts",
    "register",
]
