"""The official T2L code as an inference row, on the same weights as this library's T2L.

`t2l benchmark --official-t2l DIR` points at a checkout of github.com/Shahzadnit/T2L (MIT). Its `clip/model.py`
is imported from there by path (its `clip/__init__.py` imports torchvision, which this package does not need);
that module needs `einops`, and imports OpenCV only for an attention-map writer the benchmark never calls, so a
placeholder module stands in for `cv2` when OpenCV is not installed. Nothing of the official code is bundled.

The official `CLIP` is built at the benchmark's dimensions with the released configuration (temporal prompts in
every layer, no T_Adapter), with its own random initialisation, in fp32; its state dict goes through this
library's converter into `T2LForVideoClassification`, so both rows compute the same function of the same weights
(the largest relative difference of their video embeddings is reported).
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import torch

from ..modeling_utils import video_embeddings
from .settings import BenchmarkSettings


def load_official_module(checkout) -> types.ModuleType:
    path = Path(checkout) / "clip" / "model.py"
    if not path.is_file():
        raise FileNotFoundError(f"{checkout}: not a checkout of the official T2L code (no clip/model.py)")
    spec = importlib.util.spec_from_file_location("official_t2l_clip_model", path)
    module = importlib.util.module_from_spec(spec)
    # the placeholder is there only while the module is imported: left in sys.modules it would tell transformers
    # (and anything else) that OpenCV is installed
    placeholder = importlib.util.find_spec("cv2") is None and "cv2" not in sys.modules
    if placeholder:
        sys.modules["cv2"] = types.ModuleType("cv2")
    try:
        spec.loader.exec_module(module)
    except ImportError as error:
        raise ImportError(f"{path}: the official code needs {error.name!r} (pip install {error.name})") from error
    finally:
        if placeholder:
            del sys.modules["cv2"]
    return module


def build_official_pair(settings: BenchmarkSettings) -> tuple[torch.nn.Module, torch.nn.Module, float]:
    """(official CLIP, this library's T2L converted from it, max relative difference of the video embeddings)."""
    from ..models.t2l.conversion import build_model, convert_state_dict

    module = load_official_module(settings.official_t2l)
    vision, text = settings.vision, settings.text
    # the released configs: prompt.use, DEEP (a token set per layer), no T_Adapter
    config = SimpleNamespace(prompt=SimpleNamespace(use=True, num_of_token=1, DROPOUT=0.0, INITIATION="random",
                                                    DEEP=True), T_Adapter=False)
    torch.manual_seed(0)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its dropout schedule
        official = module.CLIP(settings.projection_dim, config, vision["image_size"], vision["num_hidden_layers"],
                               vision["hidden_size"], vision["patch_size"], settings.num_frames,
                               text["max_position_embeddings"], text["vocab_size"], text["hidden_size"],
                               text["num_attention_heads"], text["num_hidden_layers"], T=settings.num_frames,
                               dropout=0.0)
    official.eval()
    model_config, state_dict = convert_state_dict(official.state_dict(), text_heads=text["num_attention_heads"],
                                                  vision_heads=max(1, vision["hidden_size"] // 64))
    ours = build_model(model_config, state_dict).eval()
    pixels = torch.randn(1, settings.num_frames, 3, vision["image_size"], vision["image_size"],
                         generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = official_video_embeddings(official, pixels)
        actual = video_embeddings(ours, pixels)  # what the T2L row times
    difference = float((actual - expected).abs().max() / expected.abs().max())
    return official, ours, difference


def official_video_embeddings(official, pixel_values: torch.Tensor) -> torch.Tensor:
    """The official test path: `encode_image` of the B*T frames, averaged over time (its "meanP" fusion)."""
    batch_size, num_frames = pixel_values.shape[:2]
    frames = official.encode_image(pixel_values.flatten(0, 1))
    return frames.view(batch_size, num_frames, -1).mean(dim=1)
