"""The family registry: one `Family` record per model folder, registered with transformers' Auto classes.

Shared code finds a family by its `model_type` (`get_family("t2l")`, or the `model_type` of a saved config) and
uses only the record and the family contract (`modeling_utils.ZeroShotVideoModelMixin`), never a family's class by
name.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType


@dataclass(frozen=True)
class Family:
    """What the shared layers need to know about a model family."""

    model_type: str
    name: str  # how tables and charts call it ("T2L", "TC-CLIP", ...)
    config_class: type
    model_class: type  # the base model (AutoModel)
    classification_class: type  # the head users train and classify with (AutoModelForVideoClassification)
    processor_defaults: Mapping = field(default_factory=dict)  # image processor settings of its checkpoints
    cards_dir: Path | None = None  # model card templates (hub)
    summary: str = ""


_FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Add a family and register its classes with the Auto classes (idempotent): AutoConfig (its `model_type`),
    AutoModel, AutoModelForVideoClassification, and the processor every family shares (AutoImageProcessor,
    AutoProcessor), whose saved constants are each checkpoint's own. A family's `register()` calls only this."""
    # imported on registration: the registry module itself (`modeling_t2l.Family`) imports no transformers or torch
    from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForVideoClassification, AutoProcessor

    from ..processing.image_processing_t2l import T2LImageProcessor
    from ..processing.processing_t2l import T2LProcessor

    AutoConfig.register(family.model_type, family.config_class, exist_ok=True)
    AutoModel.register(family.config_class, family.model_class, exist_ok=True)
    AutoModelForVideoClassification.register(family.config_class, family.classification_class, exist_ok=True)
    AutoImageProcessor.register(
        family.config_class, image_processor_classes={"pil": T2LImageProcessor, "torchvision": T2LImageProcessor},
        exist_ok=True,
    )
    AutoProcessor.register(family.config_class, T2LProcessor, exist_ok=True)
    # saved configs carry their code and an `auto_map`, so trust_remote_code loads them without this package
    family.config_class.register_for_auto_class()
    _FAMILIES[family.model_type] = family
    return family


def _ensure_registered() -> None:
    """The package registers its families lazily (`modeling_t2l/__init__.py`); asking the registry registers them."""
    importlib.import_module(f"{__name__.split('.')[0]}._registration")


def get_family(model_type: str) -> Family:
    """The registered family of a `model_type` ("t2l", ...), or a one-line error listing the known ones."""
    _ensure_registered()
    try:
        return _FAMILIES[model_type]
    except KeyError:
        raise KeyError(f"unknown model family {model_type!r}; known: {sorted(_FAMILIES)}") from None


def families() -> Mapping[str, Family]:
    """Every registered family, by model_type."""
    _ensure_registered()
    return MappingProxyType(_FAMILIES)


__all__ = ["Family", "families", "get_family", "register_family"]
