"""The rows of the quickstart's ablation (the paper's Table 7). Kept free of torch so `t2l demo --help` is fast."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    overrides: dict = field(default_factory=dict)  # T2LConfig switches
    trains: bool = True


# The rows of Table 7, in the paper's order. "TFD" on/off is the weight of the temporal feature diversity loss.
VARIANTS = (
    Variant("frozen", "Frozen CLIP (frame average)",
            dict(use_temporal_tokens=False, use_visual_adapters=False, use_text_adapters=False), trains=False),
    Variant("adapters", "Adapters", dict(use_temporal_tokens=False, tfd_loss_weight=0.0)),
    Variant("adapters_tfd", "Adapters + TFD", dict(use_temporal_tokens=False, tfd_loss_weight=1.0)),
    Variant("adapters_tt", "Adapters + temporal tokens", dict(use_temporal_tokens=True, tfd_loss_weight=0.0)),
    Variant("full", "T2L (adapters + temporal tokens + TFD)", dict(use_temporal_tokens=True, tfd_loss_weight=1.0)),
)
VARIANTS_BY_KEY = {variant.key: variant for variant in VARIANTS}
