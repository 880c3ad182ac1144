"""T2L zero-shot video action recognition for Hugging Face transformers.

Importing the package registers T2L with the Auto classes (AutoConfig, AutoModel, AutoModelForVideoClassification,
AutoImageProcessor, AutoProcessor) and the "zero-shot-video-classification" pipeline task.
"""
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModel,
    AutoModelForVideoClassification,
    AutoProcessor,
)

from .models.t2l.configuration_t2l import T2LConfig
from .processing.image_processing_t2l import T2LImageProcessor
from .models.t2l.modeling_t2l import (
    T2LForVideoClassification,
    T2LModel,
    T2LOutput,
    T2LPreTrainedModel,
)
from .pipelines.zero_shot_video_classification import ZeroShotVideoClassificationPipeline, register_pipeline
from .processing.processing_t2l import T2LProcessor
from .processing.video_io import VideoDecodeError, read_video
from .zero_shot.classifier import build_zero_shot_classifier, zero_shot_probabilities

__version__ = "0.1.0"

AutoConfig.register("t2l", T2LConfig, exist_ok=True)
AutoModel.register(T2LConfig, T2LModel, exist_ok=True)
AutoModelForVideoClassification.register(T2LConfig, T2LForVideoClassification, exist_ok=True)
AutoImageProcessor.register(
    T2LConfig, image_processor_classes={"pil": T2LImageProcessor, "torchvision": T2LImageProcessor}, exist_ok=True
)
AutoProcessor.register(T2LConfig, T2LProcessor, exist_ok=True)
register_pipeline()

# Saved checkpoints carry their code and an `auto_map`, so `trust_remote_code=True` loads them without this package
# (models write theirs in `ZeroShotVideoModelMixin.save_pretrained`).
T2LConfig.register_for_auto_class()
T2LImageProcessor.register_for_auto_class("AutoImageProcessor")
T2LProcessor.register_for_auto_class()

__all__ = [
    "T2LConfig",
    "T2LModel",
    "T2LForVideoClassification",
    "T2LOutput",
    "T2LPreTrainedModel",
    "T2LImageProcessor",
    "T2LProcessor",
    "ZeroShotVideoClassificationPipeline",
    "VideoDecodeError",
    "read_video",
    "build_zero_shot_classifier",
    "zero_shot_probabilities",
]
