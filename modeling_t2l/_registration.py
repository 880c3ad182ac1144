"""Register T2L with transformers: the Auto classes, the pipeline task and remote-code saving.

Imported on first use of the package (see `modeling_t2l/__init__.py`): when a model, config or processor name is
first looked up, or right after transformers itself is imported, so `import modeling_t2l` followed by
`AutoModel.from_pretrained(dir)` or `pipeline("zero-shot-video-classification", model=dir)` works, while
`t2l --help` imports neither torch nor transformers.
"""
from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForVideoClassification, AutoProcessor

from .models.t2l.configuration_t2l import T2LConfig
from .models.t2l.modeling_t2l import T2LForVideoClassification, T2LModel
from .pipelines.zero_shot_video_classification import register_pipeline
from .processing.image_processing_t2l import T2LImageProcessor
from .processing.processing_t2l import T2LProcessor

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
