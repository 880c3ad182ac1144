"""The model families a device check measures: every family this package registers, plus transformers' peers.

Families of this package come from the family registry (`modeling_t2l.models.registry`), so a family added later is
measured without naming it here. Each is built from the benchmark's
CLIP dimensions through its config's `text_config` / `vision_config` / `projection_dim` / `num_frames` fields and
called only through the family contract (`get_video_features`, `get_text_features`, `text_depends_on_video`).
The transformers peers (CLIP frame averaging, X-CLIP) have no config of ours and are listed by hand.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..models.registry import families as registry_families
from .models import _pooled, build_clip, build_xclip, clip_frame_average
from .settings import BenchmarkSettings

CLIP_FRAME_AVERAGING = "CLIP frame averaging"
XCLIP = "X-CLIP"


@dataclass
class Family:
    name: str
    source: str  # where the model comes from, for the report
    build: Callable[[BenchmarkSettings], torch.nn.Module]
    video: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor]  # (B, T, 3, H, W) -> (B, E)
    text: Callable[[torch.nn.Module, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # -> (K, E) / (B, K, E)
    model_type: str | None = None  # the registered model_type of this package's families


@dataclass
class UnavailableFamily:
    name: str
    source: str
    reason: str


def registered_model_types() -> dict[str, type]:
    """model_type -> config class, for every family of the registry."""
    return {model_type: family.config_class for model_type, family in registry_families().items()}


def _family_name(config_class: type) -> str:
    """The registry's display name of the family whose config this is (else the config's class name)."""
    names = {family.config_class: family.name for family in registry_families().values()}
    return names.get(config_class) or config_class.__name__.removesuffix("Config") or config_class.__name__


def _contract_video(model, pixel_values):
    return _pooled(model.get_video_features(pixel_values=pixel_values))


def _contract_text(model, input_ids, attention_mask, pixel_values):
    if getattr(model, "text_depends_on_video", False):
        video_outputs = model.get_video_features(pixel_values=pixel_values)
        return _pooled(model.get_text_features(input_ids=input_ids, attention_mask=attention_mask,
                                               video_outputs=video_outputs))
    return _pooled(model.get_text_features(input_ids=input_ids, attention_mask=attention_mask))


def _registered_builder(config_class: type) -> Callable[[BenchmarkSettings], torch.nn.Module]:
    def build(settings: BenchmarkSettings):
        from transformers import AutoModel

        config = config_class(text_config=dict(settings.text), vision_config=dict(settings.vision),
                              projection_dim=settings.projection_dim, num_frames=settings.num_frames)
        return AutoModel.from_config(config)

    return build


def _clip_text(model, input_ids, attention_mask, pixel_values):
    return _pooled(model.get_text_features(input_ids=input_ids, attention_mask=attention_mask))


def _xclip_text(model, input_ids, attention_mask, pixel_values):
    # X-CLIP's prompt generator conditions the class texts on the video: (B, K, E)
    return model(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values).text_embeds


def discover_families(settings: BenchmarkSettings) -> tuple[list[Family], list[UnavailableFamily]]:
    """Every family that builds at `settings`' dimensions (this package's first), and those that do not, with why."""
    families, unavailable = [], []
    for model_type, config_class in sorted(registered_model_types().items()):
        family = Family(_family_name(config_class), f"modeling_t2l ({config_class.__name__}, AutoModel)",
                        _registered_builder(config_class), _contract_video, _contract_text, model_type)
        try:
            family.build(BenchmarkSettings.tiny())  # a cheap probe that the config accepts the common fields
        except Exception as error:  # noqa: BLE001 - a family that cannot be built is reported, not fatal
            unavailable.append(UnavailableFamily(family.name, family.source, f"{type(error).__name__}: {error}"))
            continue
        families.append(family)
    families.append(Family(CLIP_FRAME_AVERAGING, "transformers CLIPModel, image features averaged over frames",
                           build_clip, clip_frame_average, _clip_text))
    families.append(Family(XCLIP, "transformers XCLIPModel", build_xclip,
                           lambda model, x: _pooled(model.get_video_features(pixel_values=x)), _xclip_text))
    return families, unavailable


def primary_family(families: list[Family]) -> Family | None:
    """T2L, the package's primary model (the numerator of every ratio)."""
    return next((family for family in families if family.model_type == "t2l"), None)


def apply_trainable_set(model: torch.nn.Module) -> torch.nn.Module:
    """The family's declared trainable set (the contract's `apply_trainable_set`; T2L's `freeze_backbone` before)."""
    if hasattr(model, "apply_trainable_set"):
        return model.apply_trainable_set()
    return model.freeze_backbone()
