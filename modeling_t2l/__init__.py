"""Zero-shot video action recognition for Hugging Face transformers: T2L and its peers, one harness.

Importing the package registers every model family with the Auto classes (AutoConfig, AutoModel,
AutoModelForVideoClassification, AutoImageProcessor, AutoProcessor) and the "zero-shot-video-classification"
pipeline task.
"""
from .models import t2l as _t2l
from .models import tc_clip as _tc_clip
from .models.registry import Family, families, get_family
from .models.t2l.configuration_t2l import T2LConfig
from .models.t2l.modeling_t2l import T2LForVideoClassification, T2LModel, T2LOutput, T2LPreTrainedModel
from .models.tc_clip.configuration_tc_clip import TCCLIPConfig
from .models.tc_clip.modeling_tc_clip import (
    TCCLIPForVideoClassification,
    TCCLIPModel,
    TCCLIPOutput,
    TCCLIPPreTrainedModel,
)
from .modeling_utils import ZeroShotVideoModelMixin
from .pipelines.zero_shot_video_classification import ZeroShotVideoClassificationPipeline, register_pipeline
from .processing.image_processing_t2l import T2LImageProcessor
from .processing.processing_t2l import T2LProcessor
from .processing.video_io import VideoDecodeError, read_video
from .zero_shot.classifier import build_zero_shot_classifier, zero_shot_probabilities

__version__ = "0.1.0"

_t2l.register()
_tc_clip.register()
register_pipeline()
# Saved checkpoints carry their code and an `auto_map`, so `trust_remote_code=True` loads them without this package
# (configs through `register_for_auto_class`, models in `ZeroShotVideoModelMixin.save_pretrained`).
T2LImageProcessor.register_for_auto_class("AutoImageProcessor")
T2LProcessor.register_for_auto_class()

__all__ = [
    "Family",
    "T2LConfig",
    "T2LModel",
    "T2LForVideoClassification",
    "T2LOutput",
    "T2LPreTrainedModel",
    "TCCLIPConfig",
    "TCCLIPForVideoClassification",
    "TCCLIPModel",
    "TCCLIPOutput",
    "TCCLIPPreTrainedModel",
    "T2LImageProcessor",
    "T2LProcessor",
    "ZeroShotVideoClassificationPipeline",
    "ZeroShotVideoModelMixin",
    "VideoDecodeError",
    "build_zero_shot_classifier",
    "families",
    "get_family",
    "read_video",
    "zero_shot_probabilities",
]
