"""The row dataclasses (one per table) and `BenchmarkReport`."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field


# ---------------------------------------------------------------------------------------------------------------
# Rows (one dataclass per table)
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class InferenceRow:
    model: str
    batch_size: int
    median_s: float  # one forward of the batch
    spread_s: float  # half the inter-quartile range of the repetitions
    videos_per_s: float
    params_total: int
    params_trainable: int
    gflops_per_video: float  # torch.utils.flop_counter: FLOPs = 2 x MACs
    # every repetition, in round order: the rows of one batch size are interleaved round by round, so the i-th
    # samples of two rows were taken side by side (what a ratio's spread pairs)
    samples_s: list[float] = field(default_factory=list)


@dataclass
class TrainingRow:
    method: str
    checkpointing: bool
    batch_size: int
    median_step_s: float
    spread_s: float
    peak_memory_mb: float
    memory_source: str  # "cuda max_memory_allocated" or "peak RSS (VmHWM) of a fresh process"
    baseline_memory_mb: float  # the same measure before the model is built (the Python + torch runtime)
    params_trainable: int
    # The step in its phases (medians), so that what checkpointing costs is visible: the recomputed forwards run
    # inside backward.
    forward_s: float = float("nan")
    backward_s: float = float("nan")
    optimizer_s: float = float("nan")
    saved_activations_mb: float = float("nan")  # what autograd keeps from forward to backward
    checkpointed_layers: str = ""  # "24 / 24": encoder layers that recompute their forward in backward
    recomputed_linears: str = ""  # "mlp.fc1 24/24, mlp.fc2 0/24, ...": linear layers that ran again in backward
    # every timed step, in round order: the configurations of one checkpointing setting are timed in one process,
    # interleaved step by step, so the i-th steps of two rows were taken side by side
    step_samples_s: list[float] = field(default_factory=list)


@dataclass
class TextCostRow:
    encoded: str
    num_texts: int
    text_length: int
    median_s: float  # forward + backward of the text tower (its adapters train)
    spread_s: float
    gflops: float


@dataclass
class DecodeRow:
    clip: str
    reader: str
    frames: int
    median_s: float  # nan: the reader does not run here (`frames_check` says why)
    spread_s: float
    frames_check: str = ""  # the reader's frames against read_video's at the same indices


@dataclass
class PipelineRow:
    call: str
    num_labels: int
    median_s: float
    spread_s: float
    model: str = "T2L"  # the family's display name
    label_cache: bool = True  # False where the text depends on the video (every call encodes the labels)


@dataclass
class EvaluationRow:
    stage: str
    num_videos: int
    batch_size: int
    workers: int
    median_s: float  # the whole pass over num_videos, wall clock
    spread_s: float
    videos_per_s: float


@dataclass
class RatioRow:
    name: str
    value: float
    target: str  # e.g. "<= 1.08"
    passed: bool | None  # None when the ratio could not be measured
    # half the inter-quartile range of the ratio taken round by round (samples measured side by side), nan where
    # the two sides were not measured in the same rounds
    spread: float = float("nan")


@dataclass
class BenchmarkReport:
    settings: dict
    environment: dict
    inference: list[InferenceRow] = field(default_factory=list)
    training: list[TrainingRow] = field(default_factory=list)
    text: list[TextCostRow] = field(default_factory=list)
    decoding: list[DecodeRow] = field(default_factory=list)
    pipeline: list[PipelineRow] = field(default_factory=list)
    evaluation: list[EvaluationRow] = field(default_factory=list)
    ratios: list[RatioRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_json_default)

    def to_markdown(self) -> str:
        from .report import format_markdown  # imported here: report.py imports this module

        return format_markdown(self)


def _json_default(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)
