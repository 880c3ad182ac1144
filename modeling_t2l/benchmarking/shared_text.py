"""Video-dependent text (TC-CLIP): the text tower whole for every batch of videos vs its video-independent layers
encoded once per label set (`model.encode_shared_text`, reused by the zero-shot classifier).

    python -m modeling_t2l.benchmarking.shared_text --classes 101 --videos 4 --text-layers 12

Both paths score the same videos against the same prompts in one run, interleaved; the result is their ratio
(and the largest difference of their probabilities, which should be 0 up to rounding). Random weights: the cost
does not depend on them.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass

import torch

from .timing import measure_interleaved, synchronizer


@dataclass
class SharedTextResult:
    classes: int
    videos: int
    text_layers: int
    text_width: int
    whole_seconds: float
    reused_seconds: float
    speedup: float  # whole / reused
    max_abs_difference: float


def build_model(text_layers: int, text_width: int, num_frames: int, device: str):
    from ..models.tc_clip import TCCLIPConfig, TCCLIPForVideoClassification

    config = TCCLIPConfig(
        text_config=dict(hidden_size=text_width, intermediate_size=4 * text_width, num_hidden_layers=text_layers,
                         num_attention_heads=max(1, text_width // 64), eos_token_id=49407, bos_token_id=49406,
                         pad_token_id=49407, projection_dim=text_width),
        # the prompting block at the last text layer reads the vision layer of the same index: as deep, but narrow
        vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=text_layers, num_attention_heads=2,
                           image_size=32, patch_size=8, projection_dim=text_width),
        projection_dim=text_width, num_frames=num_frames, context_tokens=6, merge_r=4,
    )
    torch.manual_seed(0)
    return TCCLIPForVideoClassification(config).eval().to(device)


@torch.no_grad()
def run_shared_text(classes: int = 101, videos: int = 4, text_layers: int = 12, text_width: int = 128,
                    num_frames: int = 4, repeats: int = 5, device: str = "cpu") -> SharedTextResult:
    from ..models.tc_clip import prompt_texts
    from ..models.tc_clip.processing_defaults import build_processor
    from ..zero_shot.classifier import build_zero_shot_classifier

    model = build_model(text_layers, text_width, num_frames, device)
    processor = build_processor(num_frames, 32)
    tokenize = lambda texts: processor(text=texts, return_tensors="pt")  # noqa: E731
    texts = prompt_texts([f"action number {i}" for i in range(classes)], model.config)
    reused = build_zero_shot_classifier(model, tokenize, texts)
    whole = build_zero_shot_classifier(model, tokenize, texts, reuse_shared_text=False)
    pixel_values = torch.randn(videos, num_frames, 3, 32, 32, generator=torch.Generator().manual_seed(0)).to(device)
    timings = measure_interleaved({"whole": lambda: whole(model, pixel_values), "reused": lambda: reused(model, pixel_values)},
                                  repeats=repeats, synchronize=synchronizer(device))
    difference = float((whole(model, pixel_values) - reused(model, pixel_values)).abs().max())
    return SharedTextResult(classes, videos, text_layers, text_width, timings["whole"].median,
                            timings["reused"].median, timings["whole"].median / timings["reused"].median, difference)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=101)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--text-layers", type=int, default=12)
    parser.add_argument("--text-width", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = run_shared_text(args.classes, args.videos, args.text_layers, args.text_width, repeats=args.repeats,
                             device=args.device)
    print(json.dumps(asdict(result), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
