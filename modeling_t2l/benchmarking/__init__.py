"""Side-by-side cost measurements: every model family of this package against CLIP frame averaging, X-CLIP, full
fine-tuning and (optionally) the official T2L code, in one run.

Every number that backs an efficiency claim of this library comes from `run_benchmark`, measured on the machine at
hand against its peers *in the same process and the same run* (only ratios are compared against targets, so a
slow or busy machine shifts every row together):

1. inference: every registered family's `get_video_features` (T2L, TC-CLIP, ViFi-CLIP; also at a family's own
   frame count) vs transformers `CLIPModel` image features of the B*T frames averaged (frame averaging, the floor
   for T2L's design) vs transformers `XCLIPModel`, and with `official_t2l` the official T2L model on the same
   (converted) weights; videos/s, parameters (total and trainable) and FLOPs per video (FLOPs = 2 x MACs);
2. training step (forward, backward, AdamW step, each timed): every family with its declared trainable set vs
   full fine-tuning of the same CLIP (ViFi-CLIP's objective), without and with activation checkpointing of every
   encoder layer through the same transformers mechanism (the report shows the layers checkpointed, the
   activations autograd keeps and the backward time the recomputation adds, per method), and T2L with its
   official attention dropout switched off (what that dropout costs); each configuration in a fresh subprocess
   so that its peak memory is its own (CUDA memory statistics, or the peak RSS of the process on CPU);
3. text cost of a training step with 400 classes: encoding only the batch's classes (what the collator does)
   vs encoding all 400;
4. decoding: `video_io.read_video` vs every reader of `readers.py` that runs here (transformers' `load_video`,
   threaded PyAV, decord, torchcodec) on generated 10 s, 30 fps clips with 1 s and 5 s key-frame intervals, each
   reader's frames checked against read_video's;
5. pipeline: per family, the first `pipeline("zero-shot-video-classification")` call with 400 candidate labels
   vs later calls (cached label embeddings, or labels encoded with each video where the text depends on it) vs
   the video forward alone;
6. evaluation: `evaluate_videos` end to end at `t2l evaluate`'s default batch size and workers vs the same
   DataLoader alone vs the forward alone (is data loading hidden?).

Timing protocol (`timing.py`, the one harness every section and the device check use): warm-up calls first, then
repetitions interleaved round-robin across the compared functions (the order rotates every round so no function
always follows the same neighbour), and the median is reported with the spread (half the inter-quartile range).
The models have ViT-B/16 dimensions and random weights: cost does not depend on the weights' values.

`device_check` is the accelerator counterpart (`t2l benchmark --device-check`, `scripts/device_check.sh`): every
family on the device against CPU fp32, the official fixtures there, the SDPA backend, autocast and compiled
inference, batch-70 training memory and data-loader throughput, in one time-budgeted run.
"""
from __future__ import annotations

from dataclasses import asdict  # re-exported: callers pass settings through `benchmarking.asdict`

from .settings import (  # noqa: F401
    SECTIONS,
    VIT_B16_VISION,
    CLIP_TEXT,
    BenchmarkSettings,
)
from .rows import (  # noqa: F401
    InferenceRow,
    TrainingRow,
    TextCostRow,
    DecodeRow,
    PipelineRow,
    EvaluationRow,
    RatioRow,
    BenchmarkReport,
    _json_default,
)
from .timing import (  # noqa: F401
    Timing,
    time_call,
    synchronizer,
    measure_interleaved,
    count_flops,
)
from .models import (  # noqa: F401
    build_family,
    build_t2l,
    build_clip,
    build_xclip,
    _pooled,
    clip_frame_average,
    count_parameters,
    _random_pixels,
    _random_text,
)
from .inference import (  # noqa: F401
    T2L_NAME,
    OFFICIAL_NAME,
    CLIP_NAME,
    XCLIP_NAME,
    family_name,
    inference_models,
    run_inference,
    profile_inference,
)
from .training import (  # noqa: F401
    peak_rss_mb,
    run_probe,
    _probe_main,
    T2L_TRAIN,
    FULL_FT_TRAIN,
    _settings_from_task,
    _vifi_clip_loss,
    _train_probe,
    _timing_probe,
    training_configurations,
    run_training,
)
from .training_profile import profile_training  # noqa: F401
from .text import (  # noqa: F401
    run_text_cost,
)
from .decoding import (  # noqa: F401
    write_test_clip,
    run_decoding,
)
from .evaluation import (  # noqa: F401
    run_evaluation,
)
from .pipeline import (  # noqa: F401
    _build_pipeline,
    run_pipeline,
)
from .ratios import (  # noqa: F401
    _ratio,
    compute_ratios,
)
from .report import (  # noqa: F401
    _ms,
    _millions,
    _table,
    format_markdown,
    _ratio_label,
    write_chart,
    save_report,
)
from .runner import (  # noqa: F401
    environment_info,
    _load_average,
    run_benchmark,
    _optional,
)

__all__ = [
    "asdict",
    "SECTIONS",
    "VIT_B16_VISION",
    "CLIP_TEXT",
    "BenchmarkSettings",
    "InferenceRow",
    "TrainingRow",
    "TextCostRow",
    "DecodeRow",
    "PipelineRow",
    "EvaluationRow",
    "RatioRow",
    "BenchmarkReport",
    "_json_default",
    "Timing",
    "time_call",
    "synchronizer",
    "measure_interleaved",
    "count_flops",
    "build_family",
    "build_t2l",
    "build_clip",
    "build_xclip",
    "_pooled",
    "clip_frame_average",
    "count_parameters",
    "_random_pixels",
    "_random_text",
    "T2L_NAME",
    "OFFICIAL_NAME",
    "CLIP_NAME",
    "XCLIP_NAME",
    "family_name",
    "inference_models",
    "run_inference",
    "profile_inference",
    "profile_training",
    "peak_rss_mb",
    "run_probe",
    "_probe_main",
    "T2L_TRAIN",
    "FULL_FT_TRAIN",
    "_settings_from_task",
    "_vifi_clip_loss",
    "_train_probe",
    "_timing_probe",
    "training_configurations",
    "run_training",
    "run_text_cost",
    "write_test_clip",
    "run_decoding",
    "run_evaluation",
    "_build_pipeline",
    "run_pipeline",
    "_ratio",
    "compute_ratios",
    "_ms",
    "_millions",
    "_table",
    "format_markdown",
    "_ratio_label",
    "write_chart",
    "save_report",
    "environment_info",
    "_load_average",
    "run_benchmark",
    "_optional",
]
