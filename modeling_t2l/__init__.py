"""T2L zero-shot video action recognition for Hugging Face transformers.

Importing the package registers T2L with the Auto classes (AutoConfig, AutoModel,
AutoModelForVideoClassification) so that `from_pretrained` works by model type.
"""
from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification

from .configuration_t2l import T2LConfig
from .modeling_t2l import (
    T2LForVideoClassification,
    T2LModel,
    T2LOutput,
    T2LPreTrainedModel,
    zero_shot_probabilities,
)

__version__ = "0.1.0"

AutoConfig.register("t2l", T2LConfig, exist_ok=True)
AutoModel.register(T2LConfig, T2LModel, exist_ok=True)
AutoModelForVideoClassification.register(T2LConfig, T2LForVideoClassification, exist_ok=True)

# Saved checkpoints carry their code and an `auto_map`, so `trust_remote_code=True` loads them without this package.
T2LConfig.register_for_auto_class()
T2LModel.register_for_auto_class("AutoModel")
T2LForVideoClassification.register_for_auto_class("AutoModelForVideoClassification")

__all__ = [
    "T2LConfig",
    "T2LModel",
    "T2LForVideoClassification",
    "T2LOutput",
    "T2LPreTrainedModel",
    "zero_shot_probabilities",
]
