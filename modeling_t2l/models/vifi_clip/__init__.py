"""ViFi-CLIP: CLIP over every frame, frame embeddings averaged, both towers fully fine-tuned (CVPR 2023)."""


def register() -> None:
    """Register ViFi-CLIP with the Auto classes (idempotent): AutoConfig "vifi_clip", AutoModel,
    AutoModelForVideoClassification, AutoImageProcessor and AutoProcessor (the shared clip processor), and mark
    the config and processors for `trust_remote_code` saving."""
    from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForVideoClassification, AutoProcessor

    from ...processing.image_processing_t2l import T2LImageProcessor
    from ...processing.processing_t2l import T2LProcessor
    from .configuration_vifi_clip import ViFiCLIPConfig
    from .modeling_vifi_clip import ViFiCLIPForVideoClassification, ViFiCLIPModel

    AutoConfig.register(ViFiCLIPConfig.model_type, ViFiCLIPConfig, exist_ok=True)
    AutoModel.register(ViFiCLIPConfig, ViFiCLIPModel, exist_ok=True)
    AutoModelForVideoClassification.register(ViFiCLIPConfig, ViFiCLIPForVideoClassification, exist_ok=True)
    AutoImageProcessor.register(
        ViFiCLIPConfig, image_processor_classes={"pil": T2LImageProcessor, "torchvision": T2LImageProcessor},
        exist_ok=True,
    )
    AutoProcessor.register(ViFiCLIPConfig, T2LProcessor, exist_ok=True)
    # model classes are not registered for auto classes: `ZeroShotVideoModelMixin.save_pretrained` writes them
    ViFiCLIPConfig.register_for_auto_class()
