"""Side-by-side cost measurements: T2L against CLIP frame averaging, X-CLIP and full fine-tuning, in one run.

Every number that backs an efficiency claim of this library comes from `run_benchmark`, measured on the machine at
hand against its peers *in the same process and the same run* (only ratios are compared against targets, so a
slow or busy machine shifts every row together):

1. inference: T2L `get_video_features` vs transformers `CLIPModel` image features of the B*T frames averaged
   (frame averaging, the floor for T2L's design) vs transformers `XCLIPModel` video features;
   videos/s, parameters (total and trainable) and FLOPs per video (torch's FLOP counter; FLOPs = 2 x MACs);
2. training step (forward, backward, AdamW step): T2L with its frozen backbone vs full fine-tuning of the same
   CLIP (ViFi-CLIP: frame-mean video embedding, contrastive loss, every parameter trained), with and without
   activation checkpointing; time and peak memory, each configuration in a fresh subprocess so that its peak
   memory is its own (CUDA memory statistics, or the peak RSS of the process on CPU);
3. text cost of a training step with 400 classes: encoding only the batch's classes (what the collator does)
   vs encoding all 400;
4. decoding: `video_io.read_video` vs `transformers.video_utils.load_video(backend="pyav")` on generated
   10 s, 30 fps clips with 1 s and 5 s key-frame intervals;
5. pipeline: the first `pipeline("zero-shot-video-classification")` call with 400 candidate labels vs later
   (cached) calls, against the video forward alone.

Timing protocol: warm-up calls first, then repetitions interleaved round-robin across the compared functions
(the order rotates every round so no function always follows the same neighbour), and the median is reported
with the spread (half the inter-quartile range). The models have ViT-B/16 dimensions and random weights: cost
does not depend on the weights' values.
"""
from __future__ import annotations

import dataclasses
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

SECTIONS = ("inference", "training", "text", "decoding", "pipeline")

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
    train_warmup: int = 1  # untimed training steps per subprocess (the first one also allocates AdamW's state)
    repeats: int = 5  # timed, interleaved rounds
    train_rounds: int = 2  # fresh subprocesses per training configuration (interleaved across configurations)
    train_steps: int = 3  # timed steps per subprocess, after `warmup` untimed steps
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
        if self.repeats < 1 or self.train_steps < 1 or self.train_rounds < 1:
            raise ValueError("benchmarking: repeats, train_steps and train_rounds must be at least 1")
        self.batch_sizes = tuple(int(b) for b in self.batch_sizes)

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
        """The real benchmark. `quick` keeps every row but measures less (fits 5 minutes on 2 CPU cores):

        inference at batch 1 only (the FLOP-counting call is its warm-up) with 3 interleaved repetitions;
        training at batch 2 with one subprocess per configuration and 1 timed step after 1 warm-up step; class
        texts of 16 tokens (a class-name prompt) instead of 77 (a full GPT description) and one timed text
        repetition; 3 decoding repetitions; 2 cached pipeline calls. The full run: inference at batch 1 and 8
        with 5 repetitions, training at batch 4 with 2 interleaved subprocess rounds of 3 timed steps each.
        """
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = dtype or ("bfloat16" if device.startswith("cuda") else "float32")
        if quick:
            values = dict(batch_sizes=(1,), train_batch_size=2, repeats=3, train_rounds=1, train_steps=1,
                          text_length=16, decode_repeats=3, pipeline_calls=2, quick=True)
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
            batch_sizes=(1, 2), train_batch_size=2, warmup=1, repeats=2, train_rounds=1, train_steps=1,
            num_frames=4, num_classes=12, text_length=8, projection_dim=16,
            vision=dict(VIT_B16_VISION, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=2, image_size=32, patch_size=8, projection_dim=16),
            text=dict(CLIP_TEXT, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                      projection_dim=16),
            decode_seconds=1.0, decode_fps=10, decode_size=(64, 48), keyframe_intervals=(0.5,), decode_repeats=1,
            pipeline_calls=1, quick=True,
        )
        values.update(overrides)
        return cls(**values)


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
    median_s: float
    spread_s: float


@dataclass
class PipelineRow:
    call: str
    num_labels: int
    median_s: float
    spread_s: float


@dataclass
class RatioRow:
    name: str
    value: float
    target: str  # e.g. "<= 1.08"
    passed: bool | None  # None when the ratio could not be measured


@dataclass
class BenchmarkReport:
    settings: dict
    environment: dict
    inference: list[InferenceRow] = field(default_factory=list)
    training: list[TrainingRow] = field(default_factory=list)
    text: list[TextCostRow] = field(default_factory=list)
    decoding: list[DecodeRow] = field(default_factory=list)
    pipeline: list[PipelineRow] = field(default_factory=list)
    ratios: list[RatioRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_json_default)

    def to_markdown(self) -> str:
        return format_markdown(self)


def _json_default(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


# ---------------------------------------------------------------------------------------------------------------
# The timing harness
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Timing:
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """Half the inter-quartile range (0 with fewer than 2 samples): robust to one disturbed repetition."""
        if len(self.samples) < 2:
            return 0.0
        quartiles = statistics.quantiles(self.samples, n=4, method="inclusive")
        return (quartiles[2] - quartiles[0]) / 2


def synchronizer(device: str) -> Callable[[], None]:
    """A function that waits for queued device work, so wall-clock time covers the work itself."""
    if str(device).startswith("cuda"):
        return torch.cuda.synchronize
    return lambda: None


def measure_interleaved(
    functions: Mapping[str, Callable[[], Any]],
    *,
    warmup: int = 1,
    repeats: int = 5,
    synchronize: Callable[[], None] = lambda: None,
    skip_warmup: Sequence[str] = (),
    timer: Callable[[], float] = time.perf_counter,
) -> dict[str, Timing]:
    """Time each function `repeats` times, round-robin, after `warmup` untimed calls each.

    Interleaving spreads slow drifts of a shared machine (other jobs, thermal state) over every function instead
    of charging them to whichever ran last; the starting function rotates each round. `skip_warmup` names
    functions that were already run once (e.g. by the FLOP counter) and need no extra warm-up.
    """
    names = list(functions)
    for name in names:
        for _ in range(0 if name in skip_warmup else warmup):
            functions[name]()
        synchronize()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            synchronize()
            start = timer()
            functions[name]()
            synchronize()
            samples[name].append(timer() - start)
    return {name: Timing(values) for name, values in samples.items()}


def count_flops(function: Callable[[], Any], inference_of: torch.nn.Module | None = None) -> float:
    """Total FLOPs of one call, as torch.utils.flop_counter counts them (a multiply-add is 2 FLOPs).

    For a no-grad call pass the model as `inference_of`: the counter's module tracker hooks the autograd graph of
    every module input that requires grad (T2L feeds its temporal-prompt parameter through a Dropout module), which
    fails when no graph is recorded, so those flags are switched off for the count and restored afterwards.
    """
    from torch.utils.flop_counter import FlopCounterMode

    trainable = [p for p in inference_of.parameters() if p.requires_grad] if inference_of is not None else []
    counter = FlopCounterMode(display=False)
    try:
        for parameter in trainable:
            parameter.requires_grad_(False)
        with counter:
            function()
    finally:
        for parameter in trainable:
            parameter.requires_grad_(True)
    return float(counter.get_total_flops())


# ---------------------------------------------------------------------------------------------------------------
# Memory probes
# ---------------------------------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB: VmHWM from /proc on Linux, else getrusage's ru_maxrss."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, kB elsewhere


def run_probe(task: dict, timeout: float = 1800) -> dict:
    """Run `task` in a fresh Python process (`python -m modeling_t2l.benchmarking probe <json>`); return its JSON.

    A fresh process is the only clean way to know the peak memory of one configuration on CPU: RSS peaks never go
    down within a process, and freed memory stays with the allocator.
    """
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = package_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    command = [sys.executable, "-m", "modeling_t2l.benchmarking", "probe", json.dumps(task)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-15:]
        raise RuntimeError(
            f"benchmarking probe {task.get('kind')!r} failed with exit code {completed.returncode}:\n" + "\n".join(tail)
        )
    for line in reversed(completed.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"benchmarking probe {task.get('kind')!r} printed no JSON result:\n{completed.stdout[-2000:]}")


def _probe_main(task: dict) -> dict:
    """Inside the fresh process: run one task and return what it measured."""
    baseline = peak_rss_mb()
    if task["kind"] == "idle":
        return {"peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline}
    if task["kind"] == "train":
        return _train_probe(task, baseline)
    raise ValueError(f"benchmarking probe: unknown task kind {task['kind']!r} (expected 'idle' or 'train')")


# ---------------------------------------------------------------------------------------------------------------
# Models (random weights, the settings' dimensions)
# ---------------------------------------------------------------------------------------------------------------


def _t2l_config(settings: BenchmarkSettings):
    from .configuration_t2l import T2LConfig

    return T2LConfig(text_config=dict(settings.text), vision_config=dict(settings.vision),
                     projection_dim=settings.projection_dim, num_frames=settings.num_frames)


def build_t2l(settings: BenchmarkSettings, head: bool = False):
    from .modeling_t2l import T2LForVideoClassification, T2LModel

    model_class = T2LForVideoClassification if head else T2LModel
    return model_class(_t2l_config(settings))


def build_clip(settings: BenchmarkSettings):
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(text_config=dict(settings.text), vision_config=dict(settings.vision),
                        projection_dim=settings.projection_dim)
    return CLIPModel(config)


def build_xclip(settings: BenchmarkSettings):
    """transformers' X-CLIP with the same CLIP towers; its video modules follow the released B/16 models."""
    from transformers import XCLIPConfig, XCLIPModel

    vision = {k: v for k, v in settings.vision.items() if k != "projection_dim"}
    heads = max(1, settings.projection_dim // 64)
    vision.update(num_frames=settings.num_frames, mit_hidden_size=settings.projection_dim,
                  mit_intermediate_size=4 * settings.projection_dim, mit_num_attention_heads=heads)
    text = {k: v for k, v in settings.text.items() if k != "projection_dim"}
    config = XCLIPConfig(text_config=text, vision_config=vision, projection_dim=settings.projection_dim,
                         prompt_num_attention_heads=heads)
    return XCLIPModel(config)


def _pooled(output) -> torch.Tensor:
    """transformers 5 `get_*_features` return a model output whose `pooler_output` holds the projected features."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def clip_frame_average(clip, pixel_values: torch.Tensor) -> torch.Tensor:
    """CLIP image features of every frame, averaged over time: (B, T, 3, H, W) -> (B, E)."""
    batch_size, num_frames = pixel_values.shape[:2]
    frame_features = _pooled(clip.get_image_features(pixel_values=pixel_values.flatten(0, 1)))
    return frame_features.view(batch_size, num_frames, -1).mean(dim=1)


def count_parameters(model, trainable_filter: Callable[[str, torch.nn.Parameter], bool] | None = None) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    if trainable_filter is None:
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    else:
        trainable = sum(p.numel() for name, p in model.named_parameters() if trainable_filter(name, p))
    return total, trainable


def _random_pixels(settings: BenchmarkSettings, batch_size: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    size = settings.image_size
    pixels = torch.randn(batch_size, settings.num_frames, 3, size, size, generator=generator)
    return pixels.to(settings.device, settings.torch_dtype)


def _random_text(settings: BenchmarkSettings, num_texts: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`num_texts` token sequences of `text_length` tokens, BOS ... EOS: only the shape matters for cost."""
    generator = torch.Generator().manual_seed(seed)
    length = max(2, min(settings.text_length, settings.text["max_position_embeddings"]))
    ids = torch.randint(0, 49000 if settings.text["vocab_size"] > 49000 else settings.text["vocab_size"] - 2,
                        (num_texts, length), generator=generator)
    ids[:, 0] = settings.text["bos_token_id"]
    ids[:, -1] = settings.text["eos_token_id"]
    return ids.to(settings.device), torch.ones_like(ids, device=settings.device)


# ---------------------------------------------------------------------------------------------------------------
# 1. Inference
# ---------------------------------------------------------------------------------------------------------------

T2L_NAME = "T2L get_video_features"
CLIP_NAME = "CLIP frame averaging"
XCLIP_NAME = "X-CLIP video features"


def inference_models(settings: BenchmarkSettings) -> dict[str, tuple[torch.nn.Module, Callable, tuple[int, int]]]:
    """name -> (model, forward(pixel_values), (params total, params trainable as that method trains))."""
    t2l = build_t2l(settings).freeze_backbone()
    clip = build_clip(settings)
    xclip = build_xclip(settings)
    models = {}
    models[T2L_NAME] = (t2l, lambda x: t2l.get_video_features(pixel_values=x), count_parameters(t2l))
    # ViFi-CLIP trains every CLIP parameter.
    models[CLIP_NAME] = (clip, lambda x: clip_frame_average(clip, x), count_parameters(clip))
    # X-CLIP keeps its text encoder frozen (FIX_TEXT) and trains everything else.
    xclip_counts = count_parameters(xclip, lambda name, p: not name.startswith(("text_model.", "text_projection")))
    models[XCLIP_NAME] = (xclip, lambda x: _pooled(xclip.get_video_features(pixel_values=x)), xclip_counts)
    for model, _, _ in models.values():
        model.to(settings.device, settings.torch_dtype).eval()
    return models


def run_inference(settings: BenchmarkSettings, models=None, report_row: Callable = print) -> list[InferenceRow]:
    models = models or inference_models(settings)
    sync = synchronizer(settings.device)
    rows = []
    flops_per_video: dict[str, float] = {}
    with torch.inference_mode():
        for batch_size in settings.batch_sizes:
            pixels = _random_pixels(settings, batch_size)
            functions = {name: (lambda fn=fn: fn(pixels)) for name, (_, fn, _) in models.items()}
            already_warm = []
            if not flops_per_video:  # the FLOP-counting call doubles as the first batch size's warm-up
                for name, function in functions.items():
                    flops_per_video[name] = count_flops(function, inference_of=models[name][0]) / batch_size
                already_warm = list(functions)
            timings = measure_interleaved(functions, warmup=settings.warmup, repeats=settings.repeats,
                                          synchronize=sync, skip_warmup=already_warm, timer=settings.timer())
            for name, (_, _, (total, trainable)) in models.items():
                timing = timings[name]
                row = InferenceRow(name, batch_size, timing.median, timing.spread, batch_size / timing.median,
                                   total, trainable, flops_per_video[name] / 1e9)
                rows.append(row)
                report_row(row)
    return rows


# ---------------------------------------------------------------------------------------------------------------
# 2. Training step (each configuration in its own process)
# ---------------------------------------------------------------------------------------------------------------

T2L_TRAIN = "T2L (frozen CLIP, temporal tokens + adapters)"
FULL_FT_TRAIN = "full fine-tuning (ViFi-CLIP)"


def _settings_from_task(task: dict) -> BenchmarkSettings:
    fields = {f.name for f in dataclasses.fields(BenchmarkSettings)}
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in task["settings"].items() if k in fields}
    return BenchmarkSettings(**values)


def _vifi_clip_loss(clip, pixel_values, input_ids, attention_mask, labels) -> torch.Tensor:
    """ViFi-CLIP's objective: frame-averaged video embedding, cross-entropy over the class texts."""
    video = torch.nn.functional.normalize(clip_frame_average(clip, pixel_values), dim=-1)
    text = torch.nn.functional.normalize(
        _pooled(clip.get_text_features(input_ids=input_ids, attention_mask=attention_mask)), dim=-1)
    logits = clip.logit_scale.exp() * video @ text.t()
    return torch.nn.functional.cross_entropy(logits.float(), labels)


def _train_probe(task: dict, baseline_rss_mb: float) -> dict:
    settings = _settings_from_task(task)
    settings.apply_threads()
    torch.manual_seed(0)
    device, dtype = settings.device, settings.torch_dtype
    batch_size = settings.train_batch_size
    if task["method"] == "t2l":
        model = build_t2l(settings, head=True).freeze_backbone()
    elif task["method"] == "full_ft":
        model = build_clip(settings)
    else:
        raise ValueError(f"benchmarking: unknown training method {task['method']!r}")
    model.to(device, dtype).train()
    if task["checkpointing"]:
        # transformers 5 renamed gradient_checkpointing_enable (deprecated) to activation_checkpointing_enable
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=1e-5, weight_decay=0.2)
    pixels = _random_pixels(settings, batch_size, seed=1)
    # Every video of its own class: the batch's classes are encoded, as the training collator does.
    input_ids, attention_mask = _random_text(settings, batch_size, seed=1)
    labels = torch.arange(batch_size, device=device)

    def step():
        if task["method"] == "t2l":
            loss = model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        else:
            loss = _vifi_clip_loss(model, pixels, input_ids, attention_mask, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    sync, timer = synchronizer(device), settings.timer()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    for _ in range(settings.train_warmup):
        step()  # the first step also allocates AdamW's state
    times = []
    for _ in range(settings.train_steps):
        sync()
        start = timer()
        step()
        sync()
        times.append(timer() - start)
    result = {"step_s": times, "params_trainable": sum(p.numel() for p in parameters)}
    if device.startswith("cuda"):
        result.update(peak_memory_mb=torch.cuda.max_memory_allocated() / 2**20, baseline_memory_mb=0.0,
                      memory_source="CUDA max_memory_allocated")
    else:
        result.update(peak_memory_mb=peak_rss_mb(), baseline_memory_mb=baseline_rss_mb,
                      memory_source="peak RSS (VmHWM) of a fresh process")
    return result


def training_configurations() -> list[tuple[str, str, bool]]:
    return [(name, method, checkpointing)
            for checkpointing in (False, True)
            for name, method in ((T2L_TRAIN, "t2l"), (FULL_FT_TRAIN, "full_ft"))]


def run_training(settings: BenchmarkSettings, report_row: Callable = print) -> list[TrainingRow]:
    task_settings = asdict(settings)
    results: dict[tuple[str, bool], list[dict]] = {}
    configurations = training_configurations()
    for round_index in range(settings.train_rounds):
        shift = round_index % len(configurations)
        for name, method, checkpointing in configurations[shift:] + configurations[:shift]:
            task = {"kind": "train", "method": method, "checkpointing": checkpointing, "settings": task_settings}
            results.setdefault((name, checkpointing), []).append(run_probe(task))
    rows = []
    for name, _, checkpointing in configurations:
        runs = results[(name, checkpointing)]
        timing = Timing([t for run in runs for t in run["step_s"]])
        row = TrainingRow(
            method=name, checkpointing=checkpointing, batch_size=settings.train_batch_size,
            median_step_s=timing.median, spread_s=timing.spread,
            peak_memory_mb=statistics.median(run["peak_memory_mb"] for run in runs),
            memory_source=runs[0]["memory_source"],
            baseline_memory_mb=statistics.median(run["baseline_memory_mb"] for run in runs),
            params_trainable=runs[0]["params_trainable"],
        )
        rows.append(row)
        report_row(row)
    return rows


# ---------------------------------------------------------------------------------------------------------------
# 3. Text cost per training step
# ---------------------------------------------------------------------------------------------------------------


def run_text_cost(settings: BenchmarkSettings, t2l=None, report_row: Callable = print) -> list[TextCostRow]:
    """Forward + backward of T2L's text tower (its adapters train) for the batch's classes vs all classes."""
    model = t2l if t2l is not None else build_t2l(settings).to(settings.device, settings.torch_dtype)
    model.freeze_backbone().train()
    sync = synchronizer(settings.device)
    cases = {
        f"only the batch's classes ({settings.train_batch_size})": settings.train_batch_size,
        f"all {settings.num_classes} classes": settings.num_classes,
    }
    texts = {label: _random_text(settings, count, seed=2) for label, count in cases.items()}

    def forward_backward(label):
        ids, mask = texts[label]
        model.get_text_features(ids, mask).float().square().mean().backward()
        model.zero_grad(set_to_none=True)

    functions = {label: (lambda label=label: forward_backward(label)) for label in cases}
    flops = {label: count_flops(function) for label, function in functions.items()}  # also the warm-up
    timings = measure_interleaved(functions, warmup=0, repeats=settings.repeats if not settings.quick else 1,
                                  synchronize=sync, timer=settings.timer())
    model.eval()
    rows = []
    for label, count in cases.items():
        row = TextCostRow(label, count, texts[label][0].shape[1], timings[label].median, timings[label].spread,
                          flops[label] / 1e9)
        rows.append(row)
        report_row(row)
    return rows


# ---------------------------------------------------------------------------------------------------------------
# 4. Decoding
# ---------------------------------------------------------------------------------------------------------------


def write_test_clip(path, seconds: float, fps: int, size: tuple[int, int], keyframe_interval_s: float) -> Path:
    """Encode a moving-gradient H.264 clip with a fixed key-frame interval (GOP) using PyAV."""
    import av
    import numpy as np

    width, height = size
    path = Path(path)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        gop = max(1, int(round(keyframe_interval_s * fps)))
        # A fixed GOP without scene-cut key frames, so the interval is exactly what the row says.
        stream.codec_context.gop_size = gop
        stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "preset": "veryfast"}
        xs = np.arange(width, dtype=np.int32)[None, :]
        ys = np.arange(height, dtype=np.int32)[:, None]
        for index in range(int(round(seconds * fps))):
            frame = np.empty((height, width, 3), dtype=np.uint8)
            frame[..., 0] = (xs + 3 * index) % 256
            frame[..., 1] = (ys + 2 * index) % 256
            frame[..., 2] = (xs + ys + index) % 256
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def run_decoding(settings: BenchmarkSettings, workdir: Path, report_row: Callable = print) -> list[DecodeRow]:
    """One clip per key-frame interval, timed by the video-io helper's `decoding_benchmark.benchmark_decoding`
    (warm-up decode, then interleaved repetitions, medians; it reports no spread)."""
    from .decoding_benchmark import benchmark_decoding

    rows = []
    for interval in settings.keyframe_intervals:
        clip_name = (f"{settings.decode_seconds:g} s, {settings.decode_fps} fps, "
                     f"{settings.decode_size[0]}x{settings.decode_size[1]}, key frame every {interval:g} s")
        path = write_test_clip(Path(workdir) / f"clip_gop{interval:g}s.mp4", settings.decode_seconds,
                               settings.decode_fps, settings.decode_size, interval)
        result = benchmark_decoding([path], num_frames=settings.num_frames, repeats=settings.decode_repeats)
        for reader, key in (("video_io.read_video", "read_video_ms"),
                            ('transformers load_video(backend="pyav")', "transformers_pyav_ms")):
            row = DecodeRow(clip_name, reader, settings.num_frames, result[key] / 1000, 0.0)
            rows.append(row)
            report_row(row)
    return rows


# ---------------------------------------------------------------------------------------------------------------
# 5. Pipeline
# ---------------------------------------------------------------------------------------------------------------


def _build_pipeline(settings: BenchmarkSettings, model):
    """`pipeline("zero-shot-video-classification")` around `model`, with the bundled tokenizer and T2L's processor."""
    from . import pipeline_zero_shot_video_classification as zero_shot
    from .processing_t2l import T2LProcessor

    processor = T2LProcessor.from_clip_tokenizer(num_frames=settings.num_frames, crop_size=settings.image_size,
                                                 shortest_edge=settings.image_size)
    components = dict(model=model, tokenizer=processor.tokenizer, image_processor=processor.image_processor,
                      device=settings.device)
    if hasattr(zero_shot, "register_pipeline"):
        from transformers import pipeline

        zero_shot.register_pipeline()
        return pipeline(zero_shot.TASK, **components)
    return zero_shot.ZeroShotVideoClassificationPipeline(**components)


def run_pipeline(settings: BenchmarkSettings, workdir: Path, report_row: Callable = print) -> list[PipelineRow]:
    """First call (encodes every label) vs later calls (label embeddings cached) vs the video forward alone.

    The labels are the first `num_classes` Kinetics-400 class names. Full mode scores them the pipeline's default
    way (T2L's bundled GPT description of each class, up to 77 tokens); quick mode passes one short template,
    so the first call encodes 400 short texts instead.
    """
    from .prompts import load_descriptions

    model = build_t2l(settings, head=True).to(settings.device, settings.torch_dtype).eval()
    pipe = _build_pipeline(settings, model)
    clip = write_test_clip(Path(workdir) / "pipeline_clip.mp4", 2.0, 30, settings.decode_size, 1.0)
    labels = list(load_descriptions("k400"))[: settings.num_classes]
    options = {"hypothesis_template": "a video of a person {}."} if settings.quick else {}
    sync = synchronizer(settings.device)

    def call():
        return pipe(str(clip), candidate_labels=labels, **options)

    timer = settings.timer()
    sync()
    start = timer()
    call()
    sync()
    first = timer() - start

    pixels = _random_pixels(settings, 1)

    def video_forward():
        with torch.inference_mode():
            model.get_video_features(pixels)

    timings = measure_interleaved({"cached": call, "video forward": video_forward}, warmup=1,
                                  repeats=settings.pipeline_calls, synchronize=sync, timer=timer)
    texts = "one short template per label" if settings.quick else "default class texts"
    rows = [
        PipelineRow(f"first call (encodes {len(labels)} labels, {texts})", len(labels), first, 0.0),
        PipelineRow("later call (label embeddings cached)", len(labels), timings["cached"].median,
                    timings["cached"].spread),
        PipelineRow("video forward alone (get_video_features, 1 clip)", 0, timings["video forward"].median,
                    timings["video forward"].spread),
    ]
    for row in rows:
        report_row(row)
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Ratios against the targets
# ---------------------------------------------------------------------------------------------------------------


def _ratio(name: str, numerator: float | None, denominator: float | None, limit: float, at_most: bool) -> RatioRow:
    target = f"{'<=' if at_most else '>='} {limit:g}"
    if numerator is None or denominator is None or denominator <= 0 or not math.isfinite(numerator):
        return RatioRow(name, float("nan"), target, None)
    value = numerator / denominator
    return RatioRow(name, value, target, value <= limit if at_most else value >= limit)


def compute_ratios(report: BenchmarkReport) -> list[RatioRow]:
    ratios = []
    by_model = {(row.model, row.batch_size): row for row in report.inference}
    for batch_size in sorted({row.batch_size for row in report.inference}):
        t2l = by_model.get((T2L_NAME, batch_size))
        clip = by_model.get((CLIP_NAME, batch_size))
        xclip = by_model.get((XCLIP_NAME, batch_size))
        ratios.append(_ratio(f"inference time T2L / CLIP frame averaging, batch {batch_size}",
                             t2l and t2l.median_s, clip and clip.median_s, 1.08, True))
        ratios.append(_ratio(f"inference time T2L / X-CLIP, batch {batch_size}",
                             t2l and t2l.median_s, xclip and xclip.median_s, 1.0, True))
    by_method = {(row.method, row.checkpointing): row for row in report.training}
    for checkpointing in (False, True) if report.training else ():
        t2l = by_method.get((T2L_TRAIN, checkpointing))
        full = by_method.get((FULL_FT_TRAIN, checkpointing))
        suffix = "with" if checkpointing else "without"
        ratios.append(_ratio(f"training peak memory T2L / full fine-tuning, {suffix} checkpointing",
                             t2l and t2l.peak_memory_mb, full and full.peak_memory_mb, 0.6, True))
        ratios.append(_ratio(f"training step time T2L / full fine-tuning, {suffix} checkpointing",
                             t2l and t2l.median_step_s, full and full.median_step_s, 0.8, True))
    if report.decoding:
        first_clip = report.decoding[0].clip
        ours = next((r for r in report.decoding if r.clip == first_clip and r.reader.startswith("video_io")), None)
        theirs = next((r for r in report.decoding if r.clip == first_clip and r.reader.startswith("transformers")), None)
        ratios.append(_ratio(f"decoding speed-up over load_video ({first_clip})",
                             theirs and theirs.median_s, ours and ours.median_s, 2.0, False))
    if report.pipeline:
        cached = next((r for r in report.pipeline if r.call.startswith("later")), None)
        video = next((r for r in report.pipeline if r.call.startswith("video forward")), None)
        ratios.append(_ratio("cached pipeline call / video forward alone",
                             cached and cached.median_s, video and video.median_s, 1.1, True))
    return ratios


# ---------------------------------------------------------------------------------------------------------------
# Output: Markdown, JSON, PNG
# ---------------------------------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}" if seconds >= 0.1 else f"{seconds * 1000:,.1f}"


def _millions(count: int) -> str:
    return f"{count / 1e6:,.2f} M"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def format_markdown(report: BenchmarkReport) -> str:
    s, env = report.settings, report.environment
    lines = [
        f"Device {env.get('device_name', s['device'])}, {s['dtype']}, torch {env.get('torch')}, transformers "
        f"{env.get('transformers')}, {env.get('cpu_count')} CPU cores ({env.get('torch_threads')} torch threads), "
        f"load average {env.get('load_average_start')} at start and {env.get('load_average_end')} at the end. "
        f"ViT-B/16-sized models with random weights, T = {s['num_frames']}, {s['vision']['image_size']}², "
        f"{'quick mode' if s['quick'] else 'full mode'}: {s['warmup']} warm-up, {s['repeats']} interleaved "
        f"repetitions, medians (± half the inter-quartile range) of "
        f"{'process CPU time with one torch thread (decoding: wall time)' if s.get('clock') == 'cpu' else 'wall time'}.",
        "",
    ]
    if report.inference:
        lines += ["**Inference** (`get_video_features`-style video embeddings; FLOPs from `torch.utils.flop_counter`,"
                  " FLOPs = 2 × MACs; trainable = what each method trains: T2L temporal tokens + adapters, "
                  "ViFi-CLIP everything, X-CLIP everything but its frozen text encoder)", ""]
        lines += _table(
            ["model", "batch", "ms / batch", "videos / s", "params total", "params trainable", "GFLOPs / video"],
            [[r.model, r.batch_size, f"{_ms(r.median_s)} ± {_ms(r.spread_s)}", f"{r.videos_per_s:.2f}",
              _millions(r.params_total), _millions(r.params_trainable), f"{r.gflops_per_video:,.1f}"]
             for r in report.inference])
        lines.append("")
    if report.training:
        lines += [f"**Training step** (forward + backward + AdamW step, batch {report.training[0].batch_size} videos "
                  f"with their {report.training[0].batch_size} class texts of {s['text_length']} tokens; each "
                  f"configuration in a fresh process; memory = {report.training[0].memory_source}, runtime "
                  "baseline before building the model in brackets)", ""]
        lines += _table(
            ["method", "activation checkpointing", "ms / step", "peak memory (MiB)", "params trained"],
            [[r.method, "yes" if r.checkpointing else "no", f"{_ms(r.median_step_s)} ± {_ms(r.spread_s)}",
              f"{r.peak_memory_mb:,.0f} ({r.baseline_memory_mb:,.0f})", _millions(r.params_trainable)]
             for r in report.training])
        lines.append("")
    if report.text:
        lines += ["**Text cost per training step** (T2L text tower forward + backward, adapters trained)", ""]
        lines += _table(["classes encoded", "texts × tokens", "ms", "GFLOPs"],
                        [[r.encoded, f"{r.num_texts} × {r.text_length}", f"{_ms(r.median_s)} ± {_ms(r.spread_s)}",
                          f"{r.gflops:,.1f}"] for r in report.text])
        lines.append("")
    if report.decoding:
        lines += [f"**Decoding** ({s['num_frames']} frames sampled per clip)", ""]
        lines += _table(["clip", "reader", "ms"],
                        [[r.clip, r.reader, f"{_ms(r.median_s)} ± {_ms(r.spread_s)}"] for r in report.decoding])
        lines.append("")
    if report.pipeline:
        lines += ["**Pipeline** (`pipeline(\"zero-shot-video-classification\")`, one 2 s clip)", ""]
        lines += _table(["call", "candidate labels", "ms"],
                        [[r.call, r.num_labels or "-", f"{_ms(r.median_s)} ± {_ms(r.spread_s)}"]
                         for r in report.pipeline])
        lines.append("")
    if report.ratios:
        lines += ["**Targets** (ratios within this run)", ""]
        lines += _table(["ratio", "measured", "target", "result"],
                        [[r.name, f"{r.value:.3f}" if math.isfinite(r.value) else "n/a", r.target,
                          {True: "pass", False: "**miss**", None: "not measured"}[r.passed]] for r in report.ratios])
        lines.append("")
    for note in report.notes:
        lines.append(f"- {note}")
    return "\n".join(lines).rstrip() + "\n"


def _ratio_label(name: str) -> str:
    """A short chart label for a ratio row (the table holds the full name)."""
    short = name
    for long, brief in (("inference time T2L / CLIP frame averaging", "infer / CLIP"),
                        ("inference time T2L / X-CLIP", "infer / X-CLIP"), ("training peak memory", "train mem"),
                        ("training step time", "train time"), (" T2L / full fine-tuning", ""),
                        ("without checkpointing", ""), ("with checkpointing", "ckpt"), ("batch ", "b"),
                        ("cached pipeline call / video forward alone", "pipeline / forward")):
        short = short.replace(long, brief)
    if short.startswith("decoding speed-up"):
        short = "decode speed-up"
    return short.replace(",", " ").replace("  ", " ").strip()


def write_chart(report: BenchmarkReport, path) -> Path | None:
    """One PNG, a 2 x 2 grid: inference throughput, ratios against their targets (red dashes), training step
    time and training peak memory."""
    from PIL import Image

    from .plotting import bar_chart

    path = Path(path)
    panels = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        short = {T2L_NAME: "T2L", CLIP_NAME: "CLIP frame avg", XCLIP_NAME: "X-CLIP",
                 T2L_TRAIN: "T2L", FULL_FT_TRAIN: "full FT"}
        if report.inference:
            panels.append(bar_chart(
                scratch / "inference.png", [f"{short[r.model]} b{r.batch_size}" for r in report.inference],
                [r.videos_per_s for r in report.inference], "Inference throughput (higher is better)", "videos / s",
                errors=[r.videos_per_s * r.spread_s / r.median_s for r in report.inference]))
        measured = [r for r in report.ratios if math.isfinite(r.value)]
        if measured:
            panels.append(bar_chart(
                scratch / "ratios.png", [_ratio_label(r.name) for r in measured], [r.value for r in measured],
                "Ratios (red dashes: targets)", "ratio",
                markers=[float(r.target.split()[-1]) for r in measured]))
        if report.training:
            labels = [f"{short[r.method]}{' +ckpt' if r.checkpointing else ''}" for r in report.training]
            panels.append(bar_chart(scratch / "train_time.png", labels, [r.median_step_s for r in report.training],
                                    "Training step time (lower is better)", "s / step",
                                    errors=[r.spread_s for r in report.training]))
            panels.append(bar_chart(scratch / "train_memory.png", labels, [r.peak_memory_mb for r in report.training],
                                    "Training peak memory (lower is better)", "MiB"))
        if not panels:
            return None
        images = [Image.open(p).convert("RGB") for p in panels]
        rows = [images[i:i + 2] for i in range(0, len(images), 2)]
        column_widths = [max(row[c].width for row in rows if c < len(row)) for c in range(min(2, len(images)))]
        row_heights = [max(image.height for image in row) for row in rows]
        canvas = Image.new("RGB", (sum(column_widths), sum(row_heights)), (255, 255, 255))
        y = 0
        for row, row_height in zip(rows, row_heights):
            x = 0
            for column, image in enumerate(row):
                canvas.paste(image, (x + (column_widths[column] - image.width) // 2, y))
                x += column_widths[column]
            y += row_height
        path.parent.mkdir(parents=True, exist_ok=True)
        canvas.save(path)
    return path


def save_report(report: BenchmarkReport, out_dir) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "benchmark.md", "json": out_dir / "benchmark.json", "png": out_dir / "benchmark.png"}
    paths["markdown"].write_text(report.to_markdown(), encoding="utf-8")
    paths["json"].write_text(report.to_json() + "\n", encoding="utf-8")
    if write_chart(report, paths["png"]) is None:
        del paths["png"]
    return paths


# ---------------------------------------------------------------------------------------------------------------
# Profiling (where the time goes when a target is missed)
# ---------------------------------------------------------------------------------------------------------------


def profile_inference(settings: BenchmarkSettings, models=None, row_limit: int = 25) -> str:
    """torch.profiler tables (self CPU/CUDA time per operator) of one batch-1 forward of each inference model."""
    from torch.profiler import ProfilerActivity, profile

    models = models or inference_models(settings)
    pixels = _random_pixels(settings, 1)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if settings.device.startswith("cuda") else [])
    sort_key = "self_cuda_time_total" if settings.device.startswith("cuda") else "self_cpu_time_total"
    sections = []
    with torch.inference_mode():
        for name, (_, function, _) in models.items():
            function(pixels)  # warm-up outside the profile
            with profile(activities=activities) as profiler:
                function(pixels)
            sections.append(f"== {name}, batch 1 ==\n"
                            + profiler.key_averages().table(sort_by=sort_key, row_limit=row_limit))
    return "\n\n".join(sections)


# ---------------------------------------------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------------------------------------------


def environment_info(settings: BenchmarkSettings) -> dict:
    import transformers

    info = {
        "torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "load_average_start": _load_average(),
    }
    if settings.device.startswith("cuda"):
        info["device_name"] = torch.cuda.get_device_name()
    else:
        info["device_name"] = platform.processor() or platform.machine()
    return info


def _load_average() -> str:
    try:
        return "/".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


def run_benchmark(settings: BenchmarkSettings, out_dir=None, *, report_row: Callable = print,
                  progress: Callable[[str], None] | None = None) -> BenchmarkReport:
    """Measure every requested section, compute the ratios, and (with `out_dir`) write md/json/png there."""
    torch.manual_seed(0)
    settings.apply_threads()
    report = BenchmarkReport(settings=asdict(settings), environment=environment_info(settings))
    progress = progress or (lambda message: None)
    with tempfile.TemporaryDirectory(prefix="t2l_benchmark_") as workdir:
        workdir = Path(workdir)
        models = None
        if "inference" in settings.sections:
            progress("inference: building T2L, CLIP and X-CLIP")
            models = inference_models(settings)
            progress("inference: timing")
            report.inference = run_inference(settings, models, report_row)
        if "text" in settings.sections:
            progress("text cost")
            t2l = models[T2L_NAME][0] if models else None
            report.text = run_text_cost(settings, t2l, report_row)
        del models
        gc.collect()
        if "training" in settings.sections:
            progress("training: one fresh process per configuration")
            report.training = run_training(settings, report_row)
        if "decoding" in settings.sections:
            progress("decoding")
            report.decoding = _optional("decoding", report, lambda: run_decoding(settings, workdir, report_row))
        if "pipeline" in settings.sections:
            progress("pipeline")
            report.pipeline = _optional("pipeline", report, lambda: run_pipeline(settings, workdir, report_row))
    report.ratios = compute_ratios(report)
    for ratio in report.ratios:
        report_row(ratio)
    report.environment["load_average_end"] = _load_average()
    report.notes.append("The machine may be shared: absolute times are noisy; compare ratios within one run.")
    if out_dir is not None:
        save_report(report, out_dir)
    return report


def _optional(section: str, report: BenchmarkReport, run: Callable[[], list]) -> list:
    """Decoding and the pipeline depend on optional modules; a failure there is reported, not fatal."""
    try:
        return run()
    except ImportError as error:
        report.notes.append(f"{section}: not measured ({error})")
        print(f"benchmark: {section} skipped: {error}", file=sys.stderr)
        return []


if __name__ == "__main__":  # the subprocess side of run_probe
    if len(sys.argv) != 3 or sys.argv[1] != "probe":
        sys.exit("usage: python -m modeling_t2l.benchmarking probe '<task json>'")
    print(json.dumps(_probe_main(json.loads(sys.argv[2]))))
