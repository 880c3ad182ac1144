"""T2L: a frozen CLIP with temporal tokens and bottleneck adapters (TMLR 2025)."""
from pathlib import Path

from ...processing.image_processing_t2l import CLIP_MEAN, CLIP_STD
from ..registry import Family, register_family
from .configuration_t2l import T2LConfig
from .modeling_t2l import T2LForVideoClassification, T2LModel

FAMILY = Family(
    model_type="t2l",
    name="T2L",
    config_class=T2LConfig,
    model_class=T2LModel,
    classification_class=T2LForVideoClassification,
    # the official T2L test: CLIP's normalisation, 8 frames at TSN segment centres, resize 256 + centre crop 224
    processor_defaults={"image_mean": CLIP_MEAN, "image_std": CLIP_STD, "num_frames": 8},
    cards_dir=Path(__file__).resolve().parent / "cards",
    summary="frozen CLIP, temporal tokens + adapters",
)


def register() -> None:
    """Register T2L with the family registry and the Auto classes (idempotent)."""
    register_family(FAMILY)


__all__ = ["FAMILY", "T2LConfig", "T2LForVideoClassification", "T2LModel", "register"]
