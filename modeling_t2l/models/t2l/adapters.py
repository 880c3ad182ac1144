"""PEFT-style T2L artifacts: only the trained tensors, plus the config that names the CLIP they sit on.

T2L trains its temporal tokens and bottleneck adapters (about 5.2 M parameters, ~21 MB in fp32 for ViT-B/16)
and leaves CLIP frozen, so a fine-tuned model is fully described by those tensors and the name of its base CLIP:

    save_adapters(model, "out/adapters")                       # t2l_adapters.safetensors + t2l_adapter_config.json
    model = T2LForVideoClassification.from_adapters("out/adapters")   # from_clip(base) + load_adapters
    load_adapters(T2LForVideoClassification.from_clip(base, num_frames=8), "out/adapters")

The paper's text-adapter variant (LoRA on the text attention instead of the official bottleneck adapters) is
`apply_text_lora(model, ...)`; its LoRA tensors are saved and restored the same way (peft re-injects them first).

peft cannot express T2L's own adapters (spec hf_integration §4: no bottleneck type, `modules_to_save` matches
modules, not parameters), hence this small format of our own rather than an `adapter_config.json`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import torch
from safetensors.torch import load_file, save_file

ADAPTER_WEIGHTS_NAME = "t2l_adapters.safetensors"
ADAPTER_CONFIG_NAME = "t2l_adapter_config.json"
FORMAT_VERSION = 1
# The head model keeps everything under `t2l.`; saved names drop it so the file fits T2LModel and the head alike.
HEAD_PREFIX = "t2l."
LORA_MARKER = "lora_"
# T2LConfig fields that change the shape or meaning of the saved tensors; they must match on load.
SHAPE_FIELDS = (
    "num_frames", "use_temporal_tokens", "temporal_tokens_in_all_layers", "adapter_ratio",
    "use_visual_adapters", "use_text_adapters", "projection_dim",
)
DEFAULT_LORA_TARGETS = ("q_proj", "v_proj")


class AdapterLoadError(ValueError):
    """The adapter directory does not fit the model it is loaded into; the message names the file and the problem."""


# ----------------------------------------------------------------------------------------------------- LoRA
def apply_text_lora(
    model, r: int = 8, alpha: int = 16, dropout: float = 0.0, target_modules: Sequence[str] = DEFAULT_LORA_TARGETS
) -> dict:
    """Add peft LoRA to the text tower's attention projections (the paper's text-adapter variant).

    Injected in place (`peft.inject_adapter_in_model`), so the model keeps its class, `forward` and `save_pretrained`.
    Use it on a model built with `use_text_adapters=False` to replace the bottleneck text adapters, as the paper
    describes; the LoRA tensors are made trainable on top of the usual T2L set. Returns the LoRA settings (saved
    with the adapters so `load_adapters` can re-inject them).
    """
    from peft import LoraConfig, inject_adapter_in_model

    targets = "|".join(target_modules)
    settings = {"r": int(r), "alpha": int(alpha), "dropout": float(dropout), "target_modules": list(target_modules)}
    lora_config = LoraConfig(
        r=settings["r"], lora_alpha=settings["alpha"], lora_dropout=settings["dropout"],
        target_modules=rf".*text_model\.encoder\.layers\.\d+\.self_attn\.({targets})", bias="none",
    )
    trainable_before = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
    inject_adapter_in_model(lora_config, model)
    # peft freezes everything that is not LoRA; T2L's own trainable set (temporal tokens, visual adapters) stays on.
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(LORA_MARKER in name or name in trainable_before)
    model._t2l_text_lora = settings  # read back by save_adapters
    return settings


def lora_settings(model) -> dict | None:
    return getattr(model, "_t2l_text_lora", None)


# ----------------------------------------------------------------------------------------------------- save
def adapter_state_dict(model) -> dict[str, torch.Tensor]:
    """The T2L tensors (temporal tokens, adapters) and any LoRA tensors, under head-independent names."""
    wanted = set(model.trainable_parameter_names())
    state = {}
    for name, parameter in model.named_parameters():
        if name in wanted or LORA_MARKER in name:
            tensor = parameter.detach()
            state[_strip(name)] = (tensor if tensor.is_meta else tensor.cpu()).contiguous()
    return state


def save_adapters(model, save_directory, base_model_name_or_path: str | None = None) -> Path:
    """Write `t2l_adapters.safetensors` (the trained tensors only) and `t2l_adapter_config.json`.

    `base_model_name_or_path` defaults to the CLIP the model was built from (`from_clip` records it as the
    config's `name_or_path`); pass it explicitly when that is not a CLIP (e.g. a model loaded from a T2L folder).
    """
    directory = Path(save_directory)
    directory.mkdir(parents=True, exist_ok=True)
    base = base_model_name_or_path or getattr(model.config, "base_clip", None) or model.config.name_or_path
    if not base:
        raise ValueError("save_adapters: the model does not record its base CLIP; pass base_model_name_or_path=")
    config = model.config.to_dict()
    for key in ("auto_map", "architectures", "_name_or_path", "transformers_version"):
        config.pop(key, None)
    metadata = {
        "format": "t2l-adapters",
        "format_version": FORMAT_VERSION,
        "base_model_name_or_path": str(base),
        "model_class": type(model).__name__,
        "t2l_config": config,
        "text_lora": lora_settings(model),
    }
    state = adapter_state_dict(model)
    save_file(state, str(directory / ADAPTER_WEIGHTS_NAME), metadata={"format": "pt"})
    (directory / ADAPTER_CONFIG_NAME).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    return directory


# ----------------------------------------------------------------------------------------------------- load
def read_adapter_config(directory) -> dict:
    path = Path(directory) / ADAPTER_CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no T2L adapter config here (expected {ADAPTER_CONFIG_NAME} from save_adapters)")
    metadata = json.loads(path.read_text())
    if metadata.get("format") != "t2l-adapters":
        raise AdapterLoadError(f"{path}: not a T2L adapter config (format={metadata.get('format')!r})")
    return metadata


def load_adapters(model, directory, strict: bool = True):
    """Copy saved adapter tensors into `model` (in place; returns it), bit-exactly.

    Raises AdapterLoadError, naming the file, when the model's shape-relevant config differs, when a T2L tensor is
    missing from the file or the file holds one the model lacks (`strict`), or when shapes differ.
    """
    directory = Path(directory)
    metadata = read_adapter_config(directory)
    weights_path = directory / ADAPTER_WEIGHTS_NAME
    saved_config = metadata["t2l_config"]
    mismatched = {
        key: (saved_config.get(key), getattr(model.config, key))
        for key in SHAPE_FIELDS
        if key in saved_config and saved_config[key] != getattr(model.config, key)
    }
    if mismatched:
        listing = ", ".join(f"{k}: saved {a!r} vs model {b!r}" for k, (a, b) in mismatched.items())
        raise AdapterLoadError(f"{directory / ADAPTER_CONFIG_NAME}: the model was built differently ({listing})")
    lora = metadata.get("text_lora")
    if lora and lora_settings(model) is None:
        apply_text_lora(model, **lora)
    state = load_file(str(weights_path))
    parameters = dict(model.named_parameters())
    prefix = HEAD_PREFIX if any(name.startswith(HEAD_PREFIX) for name in parameters) else ""
    expected = {_strip(name) for name in model.trainable_parameter_names()}
    expected |= {_strip(name) for name in parameters if LORA_MARKER in name}
    missing = sorted(expected - set(state))
    unexpected = sorted(set(state) - {_strip(name) for name in parameters})
    if strict and (missing or unexpected):
        raise AdapterLoadError(
            f"{weights_path}: {len(missing)} T2L tensor(s) missing {missing[:5]}, {len(unexpected)} unknown "
            f"{unexpected[:5]}"
        )
    with torch.no_grad():
        for key, tensor in state.items():
            name = prefix + key
            if name not in parameters:
                continue
            target = parameters[name]
            if target.shape != tensor.shape:
                raise AdapterLoadError(f"{weights_path}: {key} has shape {tuple(tensor.shape)}, the model {tuple(target.shape)}")
            target.copy_(tensor.to(dtype=target.dtype))
    return model


def _strip(name: str) -> str:
    return name[len(HEAD_PREFIX):] if name.startswith(HEAD_PREFIX) else name


__all__ = [
    "ADAPTER_CONFIG_NAME",
    "ADAPTER_WEIGHTS_NAME",
    "AdapterLoadError",
    "adapter_state_dict",
    "apply_text_lora",
    "load_adapters",
    "read_adapter_config",
    "save_adapters",
]
