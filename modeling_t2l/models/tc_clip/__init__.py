"""TC-CLIP (ECCV 2024): temporal contextualization + video-conditional prompting on a fully fine-tuned CLIP."""
from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification

from .configuration_tc_clip import TCCLIPConfig, class_name_to_text, prompt_texts
from .modeling_tc_clip import (
    TCCLIPForVideoClassification,
    TCCLIPModel,
    TCCLIPOutput,
    TCCLIPPreTrainedModel,
    TCCLIPTextOutput,
    TCCLIPVisionOutput,
)

AutoConfig.register("tc_clip", TCCLIPConfig, exist_ok=True)
AutoModel.register(TCCLIPConfig, TCCLIPModel, exist_ok=True)
AutoModelForVideoClassification.register(TCCLIPConfig, TCCLIPForVideoClassification, exist_ok=True)

# Saved checkpoints carry their code and an `auto_map`, so `trust_remote_code=True` loads them without this package.
TCCLIPConfig.register_for_auto_class()
TCCLIPModel.register_for_auto_class("AutoModel")
TCCLIPForVideoClassification.register_for_auto_class("AutoModelForVideoClassification")

__all__ = [
    "TCCLIPConfig",
    "TCCLIPForVideoClassification",
    "TCCLIPModel",
    "TCCLIPOutput",
    "TCCLIPPreTrainedModel",
    "TCCLIPTextOutput",
    "TCCLIPVisionOutput",
    "class_name_to_text",
    "prompt_texts",
]
