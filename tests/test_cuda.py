"""The CUDA branches of the library, on tiny models: bf16 autocast, SDPA with T2L's attention dropout, pinned
memory in the data loader, torch.compile, CUDA memory statistics, the pipeline and evaluation on a GPU, and the
official T2L fixtures in fp32 on the device.

Every test here needs a CUDA device and skips without one (CI has none; `scripts/device_check.sh` runs them on a
GPU machine). Cross-device comparisons use the device check's stated tolerances; the fixtures use the charter's.
"""
from __future__ import annotations

import pytest
import torch

from modeling_t2l import T2LForVideoClassification
from modeling_t2l.benchmarking import device_correctness as dc
from tests.tiny import tiny_t2l_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available() is False)")

NUM_FRAMES = 4
IMAGE_SIZE = 32
FUSED = {"flash", "memory-efficient", "cuDNN"}


def tiny_model(**overrides) -> T2LForVideoClassification:
    torch.manual_seed(0)
    return T2LForVideoClassification(tiny_t2l_config(num_frames=NUM_FRAMES, image_size=IMAGE_SIZE, **overrides))


def tiny_inputs(batch_size: int = 2, num_texts: int = 3, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.randn(batch_size, NUM_FRAMES, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator)
    ids = torch.randint(0, 49000, (num_texts, 7), generator=generator)
    ids[:, 0], ids[:, -1] = 49406, 49407
    return pixels, ids, torch.ones_like(ids), torch.arange(batch_size) % num_texts


def test_bf16_autocast_forward_and_backward_match_cpu_fp32():
    model = tiny_model().eval()
    model.freeze_backbone()
    pixels, ids, mask, labels = tiny_inputs()
    reference = model(pixel_values=pixels, input_ids=ids, attention_mask=mask, labels=labels)
    reference.loss.backward()
    reference_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad(set_to_none=True)

    model.cuda()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        output = model(pixel_values=pixels.cuda(), input_ids=ids.cuda(), attention_mask=mask.cuda(),
                       labels=labels.cuda())
    assert output.frame_embeds.dtype == torch.bfloat16  # autocast really ran the projections in bf16
    output.loss.backward()
    for key in ("video_embeds", "text_embeds", "logits_per_video"):
        assert dc.relative_error(getattr(output, key), getattr(reference, key)) <= dc.BFLOAT16_TOLERANCE, key
        assert dc.min_cosine(getattr(output, key), getattr(reference, key)) >= dc.BFLOAT16_MIN_COSINE, key
    assert torch.isfinite(output.loss) and abs(float(output.loss) - float(reference.loss)) <= 0.05 * float(reference.loss)
    for name, grad in reference_grads.items():
        parameter = dict(model.named_parameters())[name]
        assert parameter.grad is not None and parameter.grad.dtype == torch.float32, name  # fp32 master weights
        assert torch.isfinite(parameter.grad).all(), name
    # the gradient as a whole points the same way as CPU fp32's
    flat = torch.cat([dict(model.named_parameters())[n].grad.flatten().cpu() for n in reference_grads])
    flat_reference = torch.cat([g.flatten() for g in reference_grads.values()])
    assert torch.nn.functional.cosine_similarity(flat, flat_reference, dim=0) >= 0.99


def test_fp32_on_cuda_matches_cpu_without_tf32():
    model = tiny_model().eval()
    pixels, ids, mask, _ = tiny_inputs()
    with torch.no_grad():
        reference = model.get_video_features(pixels).pooler_output, model.get_text_features(ids, mask).pooler_output
        model.cuda()
        with dc.exact_float32():
            actual = model.get_video_features(pixels.cuda()).pooler_output, model.get_text_features(ids.cuda(), mask.cuda()).pooler_output
    for got, want in zip(actual, reference):
        assert dc.relative_error(got, want) <= dc.FLOAT32_TOLERANCE


def _profiled_training_step(model, pixels, cast):
    def step():
        with dc.autocast("cuda", cast):
            features = model.get_video_features(pixels).pooler_output
        features.float().square().mean().backward()

    step()
    return dc.sdpa_calls(dc._profile(step, "cuda"))


def test_sdpa_with_t2l_attention_dropout_runs_a_fused_kernel_in_bf16():
    """The official attention-probability dropout (each layer's drop-path rate) reaches SDPA in training, and on
    CUDA in bf16 a fused kernel (not the math path that stores the attention matrix) runs it."""
    model = tiny_model(drop_path_rate=0.2).cuda().train()
    pixels = tiny_inputs()[0].cuda()
    calls = _profiled_training_step(model, pixels, torch.bfloat16)
    with_dropout = [(backend, p) for backend, p in calls if p > 0]
    assert with_dropout, f"no SDPA call saw dropout: {calls}"
    assert {backend for backend, _ in with_dropout} <= FUSED, calls
    model.eval()
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
        profiler = dc._profile(lambda: model.get_video_features(pixels).pooler_output, "cuda")
    assert all(p == 0 for _, p in dc.sdpa_calls(profiler))  # no dropout at inference


def test_attention_dropout_is_live_in_training_and_off_in_eval_on_cuda():
    model = tiny_model(drop_path_rate=0.0, temporal_token_dropout=0.0, attention_dropout=0.5).cuda()
    pixels = tiny_inputs()[0].cuda()
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        model.train()
        torch.manual_seed(1)
        first = model.get_video_features(pixels).pooler_output
        second = model.get_video_features(pixels).pooler_output
        model.eval()
        third, fourth = model.get_video_features(pixels).pooler_output, model.get_video_features(pixels).pooler_output
    assert not torch.equal(first, second)  # only the attention dropout is random in this configuration
    assert torch.equal(third, fourth)


def test_dataloader_pins_the_collated_batch(tmp_path):
    import datasets

    from modeling_t2l.data import VideoCollator, make_transform
    from modeling_t2l.processing.processing_t2l import T2LProcessor
    from tests.video_factory import write_video

    processor = T2LProcessor.from_clip_tokenizer(num_frames=NUM_FRAMES, crop_size=IMAGE_SIZE,
                                                 shortest_edge=IMAGE_SIZE)
    paths = [write_video(tmp_path / f"v{i}.mp4", num_frames=12) for i in range(3)]
    features = datasets.Features({"video": datasets.Video(decode=False),
                                  "label": datasets.ClassLabel(names=["a", "b", "c"])})
    dataset = datasets.Dataset.from_dict({"video": [{"path": str(p), "bytes": None} for p in paths],
                                          "label": [0, 1, 2]}, features=features)
    dataset.set_transform(make_transform(processor.image_processor, train=True))
    collator = VideoCollator(processor, ["archery", "juggling", "surfing"], train=True)
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=1, collate_fn=collator, pin_memory=True)
    batch = next(iter(loader))
    for key in ("pixel_values", "input_ids", "attention_mask", "labels"):
        assert batch[key].is_pinned(), key
    pixels = batch["pixel_values"].to("cuda", non_blocking=True)
    torch.cuda.synchronize()
    assert torch.equal(pixels.cpu(), batch["pixel_values"])


def test_benchmark_memory_probe_reports_cuda_allocator_peaks():
    from modeling_t2l import benchmarking as bm

    settings = bm.BenchmarkSettings.tiny(device="cuda")
    assert bm.synchronizer("cuda") is torch.cuda.synchronize
    result = bm.run_probe({"kind": "train", "method": "t2l", "checkpointing": False,
                           "settings": bm.asdict(settings)})
    assert result["memory_source"] == "CUDA max_memory_allocated" and result["peak_memory_mb"] > 0


def test_device_check_training_step_measures_its_own_peak():
    from modeling_t2l.benchmarking import device_speed
    from modeling_t2l.benchmarking.families import discover_families
    from modeling_t2l.benchmarking.settings import BenchmarkSettings

    settings = BenchmarkSettings.tiny(device="cuda", train_batch_size=4)
    families, _ = discover_families(settings)
    plain = device_speed.measure_training_step("full_ft", False, families, settings, torch.bfloat16, warmup=1,
                                               steps=1)
    after_first = torch.cuda.memory_allocated()  # what stays: cuBLAS workspaces of the first matmuls
    checkpointed = device_speed.measure_training_step("full_ft", True, families, settings, torch.bfloat16,
                                                      warmup=1, steps=1)
    assert plain["peak_allocated_gib"] > 0 and checkpointed["peak_allocated_gib"] > 0
    assert plain["peak_reserved_gib"] >= plain["peak_allocated_gib"]
    assert abs(torch.cuda.memory_allocated() - after_first) < 2**20  # the second step freed all it allocated


def test_pipeline_on_cuda_scores_like_cpu(tmp_path):
    from modeling_t2l.pipelines.zero_shot_video_classification import ZeroShotVideoClassificationPipeline
    from modeling_t2l.processing.processing_t2l import T2LProcessor
    from tests.video_factory import write_video

    processor = T2LProcessor.from_clip_tokenizer(num_frames=NUM_FRAMES, crop_size=IMAGE_SIZE,
                                                 shortest_edge=IMAGE_SIZE)
    video = write_video(tmp_path / "clip.mp4", num_frames=16)
    labels = ["archery", "juggling balls", "surfing water"]
    scores = {}
    for device in ("cpu", "cuda"):
        pipe = ZeroShotVideoClassificationPipeline(model=tiny_model().eval(), tokenizer=processor.tokenizer,
                                                   image_processor=processor.image_processor, device=device)
        assert pipe.model.device.type == device
        with dc.exact_float32():
            scores[device] = {r["label"]: r["score"] for r in pipe(str(video), candidate_labels=labels,
                                                                   hypothesis_template="a video of {}")}
    assert scores["cpu"].keys() == scores["cuda"].keys()
    assert all(abs(scores["cpu"][k] - scores["cuda"][k]) <= 1e-4 for k in labels)


def test_evaluation_on_cuda_matches_cpu(tmp_path):
    from modeling_t2l.evaluation import evaluate_videos
    from modeling_t2l.processing.processing_t2l import T2LProcessor
    from tests.video_factory import write_video

    processor = T2LProcessor.from_clip_tokenizer(num_frames=NUM_FRAMES, crop_size=IMAGE_SIZE,
                                                 shortest_edge=IMAGE_SIZE)
    videos = [str(write_video(tmp_path / f"v{i}.mp4", num_frames=10 + 3 * i)) for i in range(4)]
    texts = ["archery", "juggling balls", "surfing water"]
    results = {}
    for device in ("cpu", "cuda"):
        model = tiny_model().to(device)
        with dc.exact_float32():
            results[device] = evaluate_videos(model, processor, videos, [0, 1, 2, 0], texts, progress=False)
    assert results["cuda"].num_videos == results["cpu"].num_videos == 4
    assert results["cuda"].confusion == results["cpu"].confusion


@pytest.mark.parametrize("name", ["tiny_t8", "small_t16"])
def test_official_fixture_parity_on_cuda_fp32(name):
    from tests.test_conversion import FIXTURES, assert_parity, library_outputs, load_fixture
    from modeling_t2l.models.t2l.conversion import build_model, convert_state_dict, load_official_state_dict

    folder, meta, tensors = load_fixture(name)
    dims = meta["dims"]
    config, converted = convert_state_dict(load_official_state_dict(folder / "checkpoint.pt"),
                                           text_heads=dims["text_heads"], vision_heads=dims["vision_heads"])
    model = build_model(config, converted).cuda()
    inputs = [tensors[k].cuda() for k in ("video", "input_ids", "attention_mask", "train_labels")]
    with dc.exact_float32():
        actual = library_outputs(model, *inputs)
    assert_parity({k: v.detach().cpu() for k, v in actual.items()}, tensors)
    # the device check's own parity section agrees
    rows = dc.run_fixture_parity(FIXTURES, "cuda")
    assert all(row["passed"] for row in rows if row["fixture"] == name), rows


# torch.compile last: inductor's first compile is the slowest part of this file.


def test_torch_compile_of_the_video_tower_matches_eager():
    model = tiny_model().cuda().eval()
    pixels = tiny_inputs()[0].cuda()
    compiled = torch.compile(lambda x: model.get_video_features(x).pooler_output)
    with torch.no_grad(), dc.exact_float32():
        assert dc.relative_error(compiled(pixels), model.get_video_features(pixels).pooler_output) <= dc.FLOAT32_TOLERANCE


def test_torch_compile_training_step_in_bf16_autocast():
    model = tiny_model().cuda().train()
    model.freeze_backbone()
    pixels, ids, mask, labels = (t.cuda() for t in tiny_inputs())
    compiled = torch.compile(model)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = compiled(pixel_values=pixels, input_ids=ids, attention_mask=mask, labels=labels).loss
    loss.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert torch.isfinite(loss) and all(p.grad is not None and torch.isfinite(p.grad).all() for p in trainable)
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)
