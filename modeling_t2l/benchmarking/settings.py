"""Benchmark settings: the sections, ViT-B/16 dimensions and `BenchmarkSettings`."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

SECTIONS = ("inference", "training", "text", "decoding", "pipeline", "evaluation")

# ViT-B/16 CLIP (openai/clip-vit-base-patch16) dimensions; the weights are random.
VIT_B16_VISION = dict(
    hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, image_size=224,
    patch_size=16, hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=512,
)
CLIP_TEXT = dict(
    vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
    max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5, bos_token_id=49406,
    eos_token_id=49407, pad_token_id=49407, projection_dim=512,
)


# ---------------------------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class BenchmarkSettings:
    """What to measure and how often. `vit_b16()` gives the real run, `tiny()` the test-sized one."""

    device: str = "cpu"
    dtype: str = "float32"
    batch_sizes: tuple[int, ...] = (1, 8)  # inference batch sizes (videos)
    train_batch_size: int = 4  # videos per training step, each of its own class
    warmup: int = 1  # untimed calls per function before the timed rounds (the FLOP-counting call warms batch 1)
    # untimed training steps per configuration before the timed ones (the first also allocates AdamW's state)
    train_warmup: int = 1
    repeats: int = 5  # timed, interleaved rounds
    # timed training steps per configuration: rounds of one step of every configuration of a checkpointing setting,
    # interleaved in one process
    train_steps: int = 6
    num_frames: int = 8
    num_classes: int = 400
    text_length: int = 77  # tokens per class text: 77 = CLIP's context, what T2L's GPT descriptions fill
    vision: dict = field(default_factory=lambda: dict(VIT_B16_VISION))
    text: dict = field(default_factory=lambda: dict(CLIP_TEXT))
    projection_dim: int = 512
    decode_seconds: float = 10.0
    decode_fps: int = 30
    decode_size: tuple[int, int] = (340, 256)  # width, height: Kinetics clips are usually stored at short side 256
    keyframe_intervals: tuple[float, ...] = (1.0, 5.0)  # seconds between key frames
    decode_repeats: int = 5
    pipeline_calls: int = 3  # cached calls after the first one
    eval_videos: int = 16  # generated clips the evaluation row evaluates (decode_seconds each)
    eval_classes: int = 8
    eval_batch_size: int = 8  # `t2l evaluate`'s defaults
    eval_workers: int = 2
    eval_repeats: int = 2
    # a checkout of the official T2L code (its `clip/model.py` is imported from there; needs `einops`): adds its
    # model, on the same weights, to the inference rows
    official_t2l: str | None = None
    # which inference rows to build: registered model types, "clip", "xclip" (and "official" with official_t2l);
    # empty: all of them
    inference_models: tuple[str, ...] = ()
    sections: tuple[str, ...] = SECTIONS
    quick: bool = False
    # "wall": wall-clock time with torch's default threads (what a user sees on an idle machine). "cpu": process
    # CPU time with one torch thread, which other jobs on a shared machine barely disturb (decoding stays wall).
    clock: str = "wall"

    def __post_init__(self):
        if self.clock not in ("wall", "cpu"):
            raise ValueError(f"benchmarking: clock must be 'wall' or 'cpu', got {self.clock!r}")
        unknown = [s for s in self.sections if s not in SECTIONS]
        if unknown:
            raise ValueError(f"benchmarking: unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
        if not self.batch_sizes or any(int(b) < 1 for b in self.batch_sizes):
            raise ValueError(f"benchmarking: batch sizes must be positive integers, got {self.batch_sizes}")
        if self.repeats < 1 or self.train_steps < 1 or self.train_warmup < 1:
            # one warm-up step at least: it allocates AdamW's state and is where the memory probe reads what
            # autograd saves
            raise ValueError("benchmarking: repeats, train_steps and train_warmup must be at least 1")
        self.batch_sizes = tuple(int(b) for b in self.batch_sizes)
        self.inference_models = tuple(self.inference_models)
        if self.inference_models:
            from ..models.registry import families

            known = (*families(), "clip", "xclip", "official")
            unknown = [m for m in self.inference_models if m not in known]
            if unknown:
                raise ValueError(f"benchmarking: unknown inference model(s) {unknown}; choose from {', '.join(known)}")

    def wants(self, inference_model: str) -> bool:
        """Whether the inference section builds this model ("t2l", "clip", "xclip", "official", ...)."""
        return not self.inference_models or inference_model in self.inference_models

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def timer(self) -> Callable[[], float]:
        return time.process_time if self.clock == "cpu" else time.perf_counter

    def apply_threads(self) -> None:
        """One torch thread under the CPU clock: process time then counts work only, never waiting or spinning."""
        if self.clock == "cpu":
            torch.set_num_threads(1)

    @property
    def image_size(self) -> int:
        return int(self.vision["image_size"])

    @classmethod
    def vit_b16(cls, quick: bool = False, device: str | None = None, dtype: str | None = None,
                batch_sizes: Sequence[int] | None = None, **overrides) -> "BenchmarkSettings":
        """The real benchmark. `quick` keeps every row but measures less: a smoke test of the harness, whose numbers
        support no claim (fits about 10 minutes on 2 CPU cores):

        inference at batch 1 only (the FLOP-counting call is its warm-up) with 3 interleaved repetitions;
        training at batch 2 with 2 timed interleaved steps per configuration after 1 warm-up step; class
        texts of 16 tokens (a class-name prompt) instead of 77 (a full GPT description) and one timed text
        repetition; 3 decoding repetitions; 2 cached pipeline calls; 4 evaluation videos at batch 2, once. The full
        run: inference at batch 1 and 8 with 5 repetitions, training at batch 4 with 6 timed steps per
        configuration interleaved in one process per checkpointing setting (and one fresh process per
        configuration for its memory), 16 evaluation videos at batch 8 with 2 workers, twice.
        """
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = dtype or ("bfloat16" if device.startswith("cuda") else "float32")
        if quick:
            values = dict(batch_sizes=(1,), train_batch_size=2, repeats=3, train_steps=2,
                          text_length=16, decode_repeats=3, pipeline_calls=2, eval_videos=4, eval_batch_size=2,
                          eval_repeats=1, quick=True)
        else:
            values = {}
        values.update(device=device, dtype=dtype)
        if batch_sizes:
            values["batch_sizes"] = tuple(batch_sizes)
        values.update(overrides)
        return cls(**values)

    @classmethod
    def tiny(cls, **overrides) -> "BenchmarkSettings":
        """Test-sized models and clips: every code path, in seconds."""
        values = dict(
            batch_sizes=(1, 2), train_batch_size=2, warmup=1, repeats=2, train_steps=2,
            num_frames=4, num_classes=12, text_length=8, projection_dim=16,
            vision=dict(VIT_B16_VISION, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=2, image_size=32, patch_size=8, projection_dim=16),
            text=dict(CLIP_TEXT, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                      projection_dim=16),
            decode_seconds=1.0, decode_fps=10, decode_size=(64, 48), keyframe_intervals=(0.5,), decode_repeats=1,
            pipeline_calls=1, eval_videos=4, eval_classes=2, eval_batch_size=2, eval_workers=1, eval_repeats=1,
            quick=True,
        )
        values.update(overrides)
        return cls(**values)
