"""Register every model family with transformers: the Auto classes, the pipeline task and remote-code saving.

Imported on first use of the package (see `modeling_t2l/__init__.py`): when a model, config or processor name is
first looked up, or right after transformers itself is imported, so `import modeling_t2l` followed by
`AutoModel.from_pretrained(dir)` or `pipeline("zero-shot-video-classification", model=dir)` works, while
`t2l --help` imports neither torch nor transformers.
"""
from .models import baselines, t2l, tc_clip, vifi_clip
from .pipelines.zero_shot_video_classification import register_pipeline
from .processing.image_processing_t2l import T2LImageProcessor
from .processing.processing_t2l import T2LProcessor

for family in (t2l, tc_clip, vifi_clip):
    family.register()
baselines.register()  # frozen CLIP and X-CLIP for video classification (not families: nothing to train)
register_pipeline()

# Saved checkpoints carry their code and an `auto_map`, so `trust_remote_code=True` loads them without this package
# (configs through the registry's `register_for_auto_class`, models in `ZeroShotVideoModelMixin.save_pretrained`).
T2LImageProcessor.register_for_auto_class("AutoImageProcessor")
T2LProcessor.register_for_auto_class()
