"""Device check, correctness: every family on the device against CPU fp32, the official T2L fixtures on the device,
and the SDPA backend that attention actually runs on (training with T2L's attention dropout, and inference)."""
from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path
from typing import Iterator

import torch

from .families import Family, apply_trainable_set, primary_family
from .models import _random_pixels, _random_text
from .settings import BenchmarkSettings

# Cross-device tolerances, relative to the largest reference value. fp32 on the device runs with TF32 off, so only
# the summation order differs from the CPU; bf16 keeps 8 mantissa bits (relative rounding 2^-8 = 0.4 % per op).
FLOAT32_TOLERANCE = 1e-4
BFLOAT16_TOLERANCE = 5e-2
BFLOAT16_MIN_COSINE = 0.999
# The charter's parity tolerances for the official fixtures (fp32, eval mode).
PARITY_OUTPUT_TOLERANCE = 1e-5
PARITY_GRADIENT_TOLERANCE = 1e-4


@contextlib.contextmanager
def exact_float32() -> Iterator[None]:
    """fp32 matmuls and convolutions without TF32: cuDNN convolutions (CLIP's patch embedding) default to TF32.

    Uses the legacy `allow_tf32` flags, which torch (2.9+) refuses to read once its per-backend `fp32_precision`
    API has been written in the process; then the per-backend flags are set instead (never a mix of both).
    """
    try:
        saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    except RuntimeError:
        saved = None
    if saved is not None:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
        return
    backends = [torch.backends.cuda.matmul, torch.backends.cudnn.conv, torch.backends.cudnn.rnn]
    previous = [backend.fp32_precision for backend in backends]
    for backend in backends:
        backend.fp32_precision = "ieee"
    try:
        yield
    finally:
        for backend, value in zip(backends, previous):
            backend.fp32_precision = value


def autocast(device: str, dtype: torch.dtype | None):
    """bf16/fp16 autocast on `device` (a no-op context for fp32)."""
    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    expected = expected.detach().float().cpu()
    difference = (actual.detach().float().cpu() - expected).abs().max()
    return float(difference) / max(float(expected.abs().max()), 1e-12)


def min_cosine(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """The smallest cosine similarity between matching embedding rows."""
    actual, expected = actual.detach().float().cpu(), expected.detach().float().cpu()
    return float(torch.nn.functional.cosine_similarity(actual.flatten(0, -2), expected.flatten(0, -2), dim=-1).min())


# ---------------------------------------------------------------------------------------------------------------
# Every family on the device vs CPU fp32
# ---------------------------------------------------------------------------------------------------------------


def _embeddings(family: Family, model, pixels, ids, mask) -> dict[str, torch.Tensor]:
    with torch.inference_mode():
        return {"video embeddings": family.video(model, pixels).float().cpu(),
                "text embeddings": family.text(model, ids, mask, pixels).float().cpu()}


def run_family_correctness(families: list[Family], settings: BenchmarkSettings, device: str, batch_size: int = 2,
                           num_texts: int = 3, budget=None) -> list[dict]:
    """fp32 (TF32 off) and bf16-autocast outputs on `device` against CPU fp32, on the same weights and inputs."""
    cpu = dataclasses.replace(settings, device="cpu", dtype="float32")
    rows = []
    for family in families:
        if budget is not None and budget.exhausted():
            break
        torch.manual_seed(0)
        model = family.build(cpu).eval()
        pixels = _random_pixels(cpu, batch_size, seed=3)
        ids, mask = _random_text(cpu, num_texts, seed=3)
        reference = _embeddings(family, model, pixels, ids, mask)
        model.to(device)
        on_device = [t.to(device) for t in (pixels, ids, mask)]
        for precision, dtype in (("float32", None), ("bfloat16 autocast", torch.bfloat16)):
            with exact_float32(), autocast(device, dtype):
                outputs = _embeddings(family, model, *on_device)
            for output, expected in reference.items():
                error, cosine = relative_error(outputs[output], expected), min_cosine(outputs[output], expected)
                if dtype is None:
                    tolerance, passed = f"relative <= {FLOAT32_TOLERANCE:g}", error <= FLOAT32_TOLERANCE
                else:
                    tolerance = f"relative <= {BFLOAT16_TOLERANCE:g}, cosine >= {BFLOAT16_MIN_COSINE:g}"
                    passed = error <= BFLOAT16_TOLERANCE and cosine >= BFLOAT16_MIN_COSINE
                rows.append(dict(family=family.name, precision=precision, output=output,
                                 shape="x".join(str(n) for n in expected.shape), relative_error=error,
                                 min_cosine=cosine, tolerance=tolerance, passed=bool(passed)))
        del model
    return rows


# ---------------------------------------------------------------------------------------------------------------
# The official T2L fixtures on the device (fp32)
# ---------------------------------------------------------------------------------------------------------------

_OUTPUTS = ("frame_embeds", "video_embeds", "text_embeds", "train_text_embeds", "logits_per_video",
            "logits_per_text", "eval_probs")
_LOSSES = ("loss_contrastive", "loss_tfd", "loss_total")


def _fixture_outputs(model, tensors: dict, device: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The library's counterparts of the fixture's outputs, losses and gradients (library parameter names)."""
    from ..zero_shot.classifier import zero_shot_probabilities

    video = tensors["video"].float().to(device)
    ids, mask, labels = (tensors[k].to(device) for k in ("input_ids", "attention_mask", "train_labels"))
    apply_trainable_set(model)
    model.zero_grad(set_to_none=True)
    with torch.no_grad():
        videos = model.get_video_features(video).pooler_output
        texts = model.get_text_features(ids, mask).pooler_output
        result = {"frame_embeds": model.get_frame_features(video), "video_embeds": videos, "text_embeds": texts,
                  "train_text_embeds": model.get_text_features(ids[labels], mask[labels]).pooler_output,
                  "eval_probs": zero_shot_probabilities(videos, texts, model.config.eval_logit_scale)}
    out = model(pixel_values=video, input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    result.update(logits_per_video=out.logits_per_video.detach(), logits_per_text=out.logits_per_text.detach(),
                  loss_contrastive=out.loss_contrastive.detach(), loss_tfd=out.loss_tfd.detach(),
                  loss_total=out.loss.detach())
    grads = {name.removeprefix("t2l."): p.grad.detach() for name, p in model.named_parameters() if p.grad is not None}
    return result, grads


def _official_gradient(key: str, grads: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """The library gradient(s) of an official parameter, in the official layout."""
    from ..models.t2l.conversion import PROMPT_KEY, map_key

    official = key.removeprefix("grad.")
    target = map_key(official)
    if target is None:
        return None
    if official == PROMPT_KEY:  # one (T, D) prompt per layer, stacked
        layers = sorted(int(n.split(".")[3]) for n in grads if n.endswith(".temporal_prompt"))
        return torch.stack([grads[target.format(i=i)] for i in layers])
    return grads.get(target)


def run_fixture_parity(fixtures_dir, device: str) -> list[dict]:
    """Each official fixture folder (checkpoint.pt, meta.json, tensors.safetensors) converted and run on `device`."""
    from safetensors.torch import load_file

    from ..models.t2l.conversion import build_model, convert_state_dict, load_official_state_dict

    folders = sorted(p.parent for p in Path(fixtures_dir).glob("*/meta.json"))
    if not folders:
        raise FileNotFoundError(f"{fixtures_dir}: no official fixture folders (*/meta.json) found")
    rows = []
    for folder in folders:
        meta = json.loads((folder / "meta.json").read_text())
        dims = meta["dims"]
        config, converted = convert_state_dict(load_official_state_dict(folder / "checkpoint.pt"),
                                               text_heads=dims["text_heads"], vision_heads=dims["vision_heads"])
        tensors = load_file(folder / "tensors.safetensors")
        tensors["loss_contrastive"] = (tensors["loss_kl_video"] + tensors["loss_kl_text"]) / 2
        model = build_model(config, converted).to(device)
        with exact_float32():
            outputs, grads = _fixture_outputs(model, tensors, device)
        loss_scale = max(float(tensors[k].abs()) for k in _LOSSES)
        groups = {"outputs": {k: relative_error(outputs[k], tensors[k]) for k in _OUTPUTS},
                  "losses": {k: float((outputs[k].cpu() - tensors[k]).abs()) / loss_scale for k in _LOSSES},
                  "gradients": {}}
        for key in (k for k in tensors if k.startswith("grad.")):
            actual = _official_gradient(key, grads)
            groups["gradients"][key] = float("inf") if actual is None else relative_error(actual, tensors[key])
        for group, errors in groups.items():
            tolerance = PARITY_GRADIENT_TOLERANCE if group == "gradients" else PARITY_OUTPUT_TOLERANCE
            worst = max(errors, key=errors.get)
            rows.append(dict(fixture=folder.name, compared=group, count=len(errors), worst=worst,
                             relative_error=errors[worst], tolerance=f"relative <= {tolerance:g}",
                             passed=bool(errors[worst] <= tolerance)))
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Which SDPA backend runs
# ---------------------------------------------------------------------------------------------------------------

SDPA_BACKEND_OPS = {
    "aten::_scaled_dot_product_flash_attention": "flash",
    "aten::_scaled_dot_product_flash_attention_for_cpu": "flash (CPU)",
    "aten::_scaled_dot_product_efficient_attention": "memory-efficient",
    "aten::_scaled_dot_product_cudnn_attention": "cuDNN",
    "aten::_scaled_dot_product_attention_math": "math (stores the attention matrix)",
    "aten::_scaled_dot_product_fused_attention_overrideable": "fused (backend-provided)",
}
_ATTENTION_KERNEL_MARKERS = ("flash", "fmha", "attention", "attn", "cudnn_sdpa", "sdpa")


def sdpa_calls(profiler) -> list[tuple[str, float]]:
    """(backend, dropout_p) of every `scaled_dot_product_attention` call a torch profiler recorded.

    The backend is the aten op the call dispatched to; dropout_p is read from the call's recorded arguments
    (`record_shapes=True` keeps scalar arguments as `concrete_inputs`).
    """
    calls = []
    for event in profiler.events():
        if event.name != "aten::scaled_dot_product_attention":
            continue
        children = [child.name for child in event.cpu_children]
        backend = next((SDPA_BACKEND_OPS[name] for name in children if name in SDPA_BACKEND_OPS), None)
        if backend is None:  # math decomposes into matmul/softmax without an op of its own on some builds
            backend = "math (stores the attention matrix)" if any("softmax" in n for n in children) else "unknown"
        inputs = list(getattr(event, "concrete_inputs", None) or [])
        dropout = inputs[4] if len(inputs) > 4 and isinstance(inputs[4], (int, float)) else float("nan")
        calls.append((backend, float(dropout)))
    return calls


def attention_kernels(profiler) -> list[str]:
    """Names of the device kernels that look like attention (flash / fmha / cuDNN SDPA), most frequent first."""
    counts: dict[str, int] = {}
    for event in profiler.events():
        if str(getattr(event, "device_type", "")).endswith("CUDA") and any(
                m in event.name.lower() for m in _ATTENTION_KERNEL_MARKERS):
            counts[event.name] = counts.get(event.name, 0) + 1
    return [name[:90] for name, _ in sorted(counts.items(), key=lambda item: -item[1])][:4]


def _profile(function, device: str):
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    with profile(activities=activities, record_shapes=True) as profiler:
        function()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return profiler


def _rows_from_profile(profiler, tower: str, mode: str, precision: str) -> list[dict]:
    calls = sdpa_calls(profiler)
    kernels = ", ".join(attention_kernels(profiler)) or "-"
    rows = []
    for backend in sorted({b for b, _ in calls}):
        dropouts = sorted({round(p, 4) for b, p in calls if b == backend})
        rows.append(dict(tower=tower, mode=mode, precision=precision, backend=backend,
                         calls=sum(1 for b, _ in calls if b == backend),
                         calls_with_dropout=sum(1 for b, p in calls if b == backend and p > 0),
                         dropout_p=", ".join(f"{p:g}" for p in dropouts), details=kernels))
    return rows


def run_sdpa_backends(families: list[Family], settings: BenchmarkSettings, device: str,
                      dtype: torch.dtype) -> list[dict]:
    """Profile one T2L training step (train mode: the official attention-probability dropout is on) and one
    inference call, per tower and precision; then force each SDPA backend on the training step to see which can
    run it."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    t2l = primary_family(families)
    if t2l is None:
        raise RuntimeError("no T2L family registered")
    torch.manual_seed(0)
    model = apply_trainable_set(t2l.build(settings)).to(device)
    pixels = _random_pixels(settings, 1, seed=4).float()
    ids, mask = _random_text(settings, 2, seed=4)
    towers = {"vision": lambda: model.get_video_features(pixel_values=pixels).pooler_output,
              "text": lambda: model.get_text_features(input_ids=ids, attention_mask=mask).pooler_output}
    precisions = [("float32", None)] + ([("bfloat16 autocast", dtype)] if dtype != torch.float32 else [])
    rows = []
    for precision, cast in precisions:
        for tower, call in towers.items():
            def train_step():
                with autocast(device, cast):
                    output = call()
                output.float().square().mean().backward()

            def infer():
                with torch.inference_mode(), autocast(device, cast):
                    call()

            model.train()
            train_step()  # warm-up outside the profile
            rows += _rows_from_profile(_profile(train_step, device), tower, "training", precision)
            model.eval()
            rows += _rows_from_profile(_profile(infer, device), tower, "inference", precision)
    # Which backends can run the training step with dropout at all (e.g. flash needs fp16/bf16 on CUDA).
    model.train()
    cast = precisions[-1][1]
    forced = {"flash": SDPBackend.FLASH_ATTENTION, "memory-efficient": SDPBackend.EFFICIENT_ATTENTION,
              "cuDNN": SDPBackend.CUDNN_ATTENTION, "math": SDPBackend.MATH}
    for name, backend in forced.items():
        try:
            with sdpa_kernel([backend]), autocast(device, cast):
                output = towers["vision"]()
            output.float().square().mean().backward()
            note = "runs"
        except RuntimeError as error:
            note = "cannot run: " + str(error).strip().splitlines()[0][:120]
        rows.append(dict(tower="vision", mode=f"training, only {name} allowed", precision=precisions[-1][0],
                         backend=name, calls=0, calls_with_dropout=0, dropout_p="-", details=note))
    model.zero_grad(set_to_none=True)
    return rows
