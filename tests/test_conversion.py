"""Converter parity: official checkpoint -> `t2l convert` -> from_pretrained reproduces the official model.

Two sources of truth:
- the fixtures in tests/fixtures/official_t2l, produced by the official T2L code itself;
- tests/reference_t2l.py, a functional re-implementation of the official model on official state dicts (checked
  here against both fixtures), which lets the tests go beyond the fixtures: other widths, depths, head counts,
  T, seeds, DEEP=False prompts and checkpoints without temporal tokens.

Tolerances (issue 2): outputs and loss terms within 1e-5 and gradients within 1e-4, relative to the largest value,
fp32, eval mode.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from modeling_t2l import T2LForVideoClassification
from modeling_t2l.cli import main as cli_main
from modeling_t2l.models.t2l.conversion import ConversionError, convert_state_dict, load_official_state_dict
from modeling_t2l.zero_shot.classifier import zero_shot_probabilities
from tests import reference_t2l as ref

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "official_t2l"
OUTPUT_TOL = 1e-5
GRAD_TOL = 1e-4
INPUT_NAMES = ("video", "input_ids", "attention_mask", "train_labels")


# ----------------------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------------------


def convert_with_cli(checkpoint: Path, output_dir: Path, *extra: str) -> T2LForVideoClassification:
    code = cli_main(["convert", "--checkpoint", str(checkpoint), "--output-dir", str(output_dir), *extra])
    assert code == 0
    model = T2LForVideoClassification.from_pretrained(output_dir)
    return model.eval()


def official_name(name: str) -> tuple[str, int | None]:
    """Library parameter name -> (official name, layer index into T_prompt_embeddings or None)."""
    name = name.removeprefix("t2l.")
    if m := re.fullmatch(r"vision_model\.encoder\.layers\.(\d+)\.temporal_prompt", name):
        return "visual.transformer.T_prompt_embeddings", int(m.group(1))
    m = re.fullmatch(r"(vision|text)_model\.encoder\.layers\.(\d+)\.adapter\.fc([12])\.(weight|bias)", name)
    assert m, f"unexpected trainable parameter {name}"
    tower = "visual.transformer" if m.group(1) == "vision" else "transformer"
    return f"{tower}.resblocks.{m.group(2)}.Adapter.D_fc{m.group(3)}.{m.group(4)}", None


def library_outputs(model, video, input_ids, attention_mask, labels) -> dict[str, torch.Tensor]:
    """The library's counterparts of everything the fixtures store, plus grad.<official name>."""
    model.freeze_backbone()
    model.zero_grad(set_to_none=True)
    with torch.no_grad():
        frames = model.get_frame_features(video)
        videos = model.get_video_features(video).pooler_output
        texts = model.get_text_features(input_ids, attention_mask).pooler_output
        train_texts = model.get_text_features(input_ids[labels], attention_mask[labels]).pooler_output
    out = model(pixel_values=video, input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    out.loss.backward()
    # the training batch's B x B matrix is the columns of the videos' own classes
    train_logits = out.logits_per_video[:, labels].detach()
    result = {
        "frame_embeds": frames,
        "video_embeds": videos,
        "text_embeds": texts,
        "train_text_embeds": train_texts,
        "forward.frame_embeds": out.frame_embeds.detach(),
        "logit_scale_exp": model.t2l.logit_scale.exp().detach(),
        "logits_per_video": out.logits_per_video.detach(),
        "logits_per_text": out.logits_per_text.detach(),
        "train_logits_per_video": train_logits,
        "train_logits_per_text": out.logits_per_text[labels].detach(),
        "eval_probs": zero_shot_probabilities(videos, texts, model.config.eval_logit_scale),
        "loss_kl_video": ref.kl_loss(train_logits, labels),
        "loss_kl_text": ref.kl_loss(train_logits.t(), labels),
        "loss_contrastive": out.loss_contrastive.detach(),
        "loss_tfd": out.loss_tfd.detach(),
        "loss_total": out.loss.detach(),
    }
    prompt_grads = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        assert param.grad is not None, f"no gradient reached trainable parameter {name}"
        official, layer = official_name(name)
        if layer is None:
            result[f"grad.{official}"] = param.grad.detach().clone()
        else:
            prompt_grads[layer] = param.grad.detach().clone()
    if prompt_grads:
        result["grad.visual.transformer.T_prompt_embeddings"] = torch.stack([prompt_grads[i] for i in sorted(prompt_grads)])
    return result


def assert_parity(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> dict[str, float]:
    """Every expected output and gradient is matched; returns the relative errors (for failure messages)."""
    expected = dict(expected)
    expected.setdefault("forward.frame_embeds", expected["frame_embeds"])
    expected.setdefault("loss_contrastive", (expected["loss_kl_video"] + expected["loss_kl_text"]) / 2)
    losses = [k for k in expected if k.startswith("loss")]
    loss_scale = max(float(expected[k].abs()) for k in losses)
    expected_grads = {k for k in expected if k.startswith("grad.")}
    assert expected_grads == {k for k in actual if k.startswith("grad.")}, "trainable sets differ"
    errors = {}
    for key, want in expected.items():
        if key in INPUT_NAMES or key.startswith("intermediate."):
            continue
        got = actual[key]
        assert got.shape == want.shape, f"{key}: shape {tuple(got.shape)} != {tuple(want.shape)}"
        scale = loss_scale if key in losses else float(want.abs().max())
        errors[key] = float((got - want).abs().max()) / max(scale, 1e-12)
    bad = {k: e for k, e in errors.items() if e > (GRAD_TOL if k.startswith("grad.") else OUTPUT_TOL)}
    assert not bad, f"parity failures (relative error): {bad}"
    return errors


def save_official_checkpoint(path: Path, state_dict: dict, layout: str = "training") -> Path:
    if layout == "training":  # what the official train.py writes
        optimizer = {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(4)}},
                     "param_groups": [{"lr": 1e-4, "weight_decay": 0.2, "params": [0]}]}
        obj = {"epoch": 3, "model_state_dict": state_dict, "optimizer_state_dict": optimizer}
    elif layout == "bare":
        obj = state_dict
    elif layout == "module":  # saved from a DataParallel-wrapped model
        obj = {"epoch": 0, "model_state_dict": {f"module.{k}": v for k, v in state_dict.items()}}
    else:
        raise ValueError(layout)
    torch.save(obj, path)
    return path


# ----------------------------------------------------------------------------------------------------------------
# the official fixtures
# ----------------------------------------------------------------------------------------------------------------

FIXTURE_CASES = ["tiny_t8", "small_t16"]


def load_fixture(name):
    folder = FIXTURES / name
    meta = json.loads((folder / "meta.json").read_text())
    tensors = load_file(folder / "tensors.safetensors")
    tensors["video"] = tensors["video"].float()
    tensors["loss_contrastive"] = (tensors["loss_kl_video"] + tensors["loss_kl_text"]) / 2
    return folder, meta, tensors


@pytest.mark.parametrize("name", FIXTURE_CASES)
def test_reference_reproduces_official_fixture(name):
    """tests/reference_t2l.py is only trusted beyond the fixtures because it reproduces them."""
    folder, meta, t = load_fixture(name)
    sd = torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=True)["model_state_dict"]
    dims = meta["dims"]
    out = ref.reference_outputs(sd, t["video"], t["input_ids"], t["train_labels"], dims["vision_heads"], dims["text_heads"])
    out["loss_contrastive"] = (out["loss_kl_video"] + out["loss_kl_text"]) / 2
    for key, want in t.items():
        if key in INPUT_NAMES:
            continue
        tol = GRAD_TOL if key.startswith("grad.") else OUTPUT_TOL
        scale = max(float(want.abs().max()), 1.0 if key.startswith("loss") else 1e-12)
        assert float((out[key] - want).abs().max()) <= tol * scale, key
    # the random checkpoints of the other tests have exactly the official layout and dtypes
    rand = ref.random_official_state_dict(
        vision_width=dims["vision_width"], vision_layers=dims["vision_layers"], patch=dims["vision_patch_size"],
        image_size=dims["image_size"], embed_dim=dims["embed_dim"], text_width=dims["text_width"],
        text_layers=dims["text_layers"], vocab=meta["vocab_size"], T=meta["T"],
    )
    assert list(rand) == list(sd)
    assert all(rand[k].shape == sd[k].shape and rand[k].dtype == sd[k].dtype for k in sd)


@pytest.mark.parametrize("name", FIXTURE_CASES)
def test_cli_conversion_matches_official_fixture(name, tmp_path):
    folder, meta, t = load_fixture(name)
    dims = meta["dims"]
    model = convert_with_cli(
        folder / "checkpoint.pt", tmp_path / "converted",
        "--text-heads", str(dims["text_heads"]), "--vision-heads", str(dims["vision_heads"]),
    )
    config = model.config
    assert config.num_frames == meta["T"]
    assert config.vision_config.num_attention_heads == dims["vision_heads"]
    assert config.text_config.num_attention_heads == dims["text_heads"]
    assert config.vision_config.image_size == dims["image_size"]
    assert config.text_config.eos_token_id == meta["eot_token_id"]
    assert config.text_config.bos_token_id == meta["sot_token_id"]
    assert config.use_temporal_tokens and config.temporal_tokens_in_all_layers
    assert sum(p.numel() for n, p in model.named_parameters() if n in model.trainable_parameter_names()) == \
        meta["checkpoint"]["num_trainable_params"]
    actual = library_outputs(model, t["video"], t["input_ids"], t["attention_mask"], t["train_labels"])
    assert_parity(actual, t)


def test_default_head_count_is_official_build_model_and_differs_from_tiny_fixture(tmp_path):
    """Head counts are not in a checkpoint: the default is width // 64, which is NOT what built the tiny fixture."""
    folder, meta, t = load_fixture("tiny_t8")
    model = convert_with_cli(folder / "checkpoint.pt", tmp_path / "default")
    assert model.config.text_config.num_attention_heads == 64 // 64
    with torch.no_grad():
        texts = model.get_text_features(t["input_ids"], t["attention_mask"]).pooler_output
    assert float((texts - t["text_embeds"]).abs().max()) > 1e-3  # wrong heads: silently different numbers


# ----------------------------------------------------------------------------------------------------------------
# beyond the fixtures: random official-layout checkpoints against the reference
# ----------------------------------------------------------------------------------------------------------------

RANDOM_CASES = {
    # name: (state-dict kwargs, heads (vision, text) or None for the official default, batch, texts)
    "w96_3heads_T5_patch8": (dict(vision_width=96, vision_layers=3, patch=8, image_size=32, embed_dim=24,
                                  text_width=48, text_layers=2, T=5, seed=11), (3, 4), 2, 4),
    "w128_1layer_4heads_T3": (dict(vision_width=128, vision_layers=1, patch=16, image_size=48, embed_dim=40,
                                   text_width=32, text_layers=3, T=3, seed=12), (4, 1), 3, 5),
    "deep_false_T6": (dict(vision_width=64, vision_layers=3, patch=16, image_size=32, embed_dim=32,
                           text_width=64, text_layers=2, T=6, seed=13, deep=False), (2, 2), 3, 4),
    "no_temporal_tokens_T4": (dict(vision_width=64, vision_layers=2, patch=16, image_size=32, embed_dim=16,
                                   text_width=64, text_layers=2, T=4, seed=14, prompts=False), (2, 4), 2, 3),
    "default_heads_temporal_embedding_T2": (dict(vision_width=128, vision_layers=2, patch=16, image_size=32,
                                                 embed_dim=32, text_width=128, text_layers=2, T=2, seed=15,
                                                 temporal_embedding_std=0.5, logit_scale=4.6052), None, 4, 3),
}


@pytest.mark.parametrize("name", list(RANDOM_CASES))
def test_cli_conversion_matches_reference_beyond_fixtures(name, tmp_path):
    kwargs, heads, batch, num_texts = RANDOM_CASES[name]
    sd = ref.random_official_state_dict(**kwargs)
    checkpoint = save_official_checkpoint(tmp_path / "model_best.pt", sd)
    extra = [] if heads is None else ["--vision-heads", str(heads[0]), "--text-heads", str(heads[1])]
    model = convert_with_cli(checkpoint, tmp_path / "converted", *extra)

    vision_heads, text_heads = heads or (kwargs["vision_width"] // 64, kwargs["text_width"] // 64)
    assert model.config.num_frames == kwargs["T"]
    assert model.config.vision_config.num_attention_heads == vision_heads
    assert model.config.text_config.num_attention_heads == text_heads
    assert model.config.use_temporal_tokens == kwargs.get("prompts", True)
    assert model.config.temporal_tokens_in_all_layers == kwargs.get("deep", True)

    video, ids, mask, labels = ref.random_inputs(batch, kwargs["T"], kwargs["image_size"], num_texts, seed=kwargs["seed"])
    labels[0] = labels[-1]  # a repeated class: several positives in the KL targets
    expected = ref.reference_outputs(sd, video, ids, labels, vision_heads, text_heads)
    actual = library_outputs(model, video, ids, mask, labels)
    assert_parity(actual, expected)


def test_temporal_embedding_is_converted_not_dropped(tmp_path):
    """Real checkpoints keep it at zero, so the fixtures cannot catch a converter that loses it."""
    sd = ref.random_official_state_dict(T=3, seed=5, temporal_embedding_std=0.3)
    config, converted = convert_state_dict(sd, text_heads=2, vision_heads=1)
    torch.testing.assert_close(converted["vision_model.temporal_embedding"], sd["visual.temporal_embedding"].float())
    torch.testing.assert_close(converted["visual_projection.weight"], sd["visual.proj"].float().t())
    q, k, v = (converted[f"vision_model.encoder.layers.1.self_attn.{n}_proj.weight"] for n in "qkv")
    torch.testing.assert_close(torch.cat([q, k, v]), sd["visual.transformer.resblocks.1.attn.in_proj_weight"].float())
    assert all(t.dtype == torch.float32 for t in converted.values() if t.is_floating_point())


# ----------------------------------------------------------------------------------------------------------------
# checkpoint layouts and refusals
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["bare", "module"])
def test_bare_and_module_prefixed_checkpoints_give_the_same_model(layout, tmp_path):
    sd = ref.random_official_state_dict(T=4, seed=3)
    reference_model = convert_with_cli(save_official_checkpoint(tmp_path / "a.pt", sd), tmp_path / "a",
                                       "--text-heads", "2", "--vision-heads", "2")
    model = convert_with_cli(save_official_checkpoint(tmp_path / "b.pt", sd, layout), tmp_path / "b",
                             "--text-heads", "2", "--vision-heads", "2")
    want = reference_model.state_dict()
    got = model.state_dict()
    assert want.keys() == got.keys()
    assert all(torch.equal(want[k], got[k]) for k in want)


def test_optimizer_state_is_ignored_and_fp16_cast_to_fp32(tmp_path):
    sd = ref.random_official_state_dict(T=2, seed=4)
    assert sd["visual.conv1.weight"].dtype == torch.float16
    loaded = load_official_state_dict(save_official_checkpoint(tmp_path / "c.pt", sd))
    assert set(loaded) == set(sd)  # no optimizer / epoch entries leak in
    assert all(t.dtype == torch.float32 for t in loaded.values())
    assert torch.equal(loaded["visual.conv1.weight"], sd["visual.conv1.weight"].float())


def test_refusal_lists_every_unmapped_missing_and_misshaped_key(tmp_path, capsys):
    sd = ref.random_official_state_dict(T=4, seed=6)
    del sd["visual.transformer.resblocks.1.Adapter.D_fc2.bias"]
    del sd["ln_final.weight"]
    sd["visual.transformer.resblocks.0.T_Adapter.D_fc1.weight"] = torch.zeros(16, 64)  # the unsupported ablation
    sd["prompt_learner.ctx"] = torch.zeros(4, 64)
    sd["transformer.resblocks.0.mlp.c_proj.bias"] = torch.zeros(65)
    checkpoint = save_official_checkpoint(tmp_path / "bad.pt", sd)
    code = cli_main(["convert", "--checkpoint", str(checkpoint), "--output-dir", str(tmp_path / "out"),
                     "--text-heads", "2", "--vision-heads", "1"])
    assert code == 1
    message = capsys.readouterr().err
    assert str(checkpoint) in message
    for key in ("visual.transformer.resblocks.1.Adapter.D_fc2.bias", "ln_final.weight",
                "visual.transformer.resblocks.0.T_Adapter.D_fc1.weight", "prompt_learner.ctx",
                "transformer.resblocks.0.mlp.c_proj.bias: (65,), expected (64,)"):
        assert key in message
    assert "2 unmapped" in message and "2 missing" in message and "1 key(s) with the wrong shape" in message
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_head_count_that_does_not_divide_the_width_is_refused():
    sd = ref.random_official_state_dict(text_width=32, T=2, seed=7)
    with pytest.raises(ConversionError, match="text width 32.*--text-heads"):
        convert_state_dict(sd)  # official default 32 // 64 = 0 heads
    with pytest.raises(ConversionError, match="--vision-heads 3"):
        convert_state_dict(sd, text_heads=2, vision_heads=3)


class _ExecutesOnLoad:
    """Unpickling this would run code (create a marker file); weights_only loading must refuse it instead."""

    marker: Path | None = None

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_code_is_never_executed(tmp_path):
    marker = tmp_path / "executed"
    payload = _ExecutesOnLoad()
    payload.marker = marker
    sd = ref.random_official_state_dict(T=2, seed=8)
    torch.save({"model_state_dict": sd, "config": payload}, tmp_path / "evil.pt")
    with pytest.raises(ConversionError, match="weights_only"):
        load_official_state_dict(tmp_path / "evil.pt")
    assert not marker.exists()


def test_not_a_state_dict_is_refused_with_the_file_name(tmp_path):
    torch.save({"epoch": 1, "weights": [1, 2]}, tmp_path / "odd.pt")
    with pytest.raises(ConversionError, match=r"odd\.pt.*non-tensor entries: epoch, weights"):
        load_official_state_dict(tmp_path / "odd.pt")
    with pytest.raises(ConversionError, match="no such checkpoint"):
        load_official_state_dict(tmp_path / "missing.pt")


def test_clip_vocabulary_checkpoint_gets_a_matching_processor(tmp_path):
    """With CLIP's 49,408-token vocabulary the output directory also holds a T2LProcessor (bundled tokenizer) for
    T frames at the checkpoint's resolution, so it works end to end; other vocabularies get none."""
    import numpy as np

    from modeling_t2l.processing.processing_t2l import T2LProcessor

    sd = ref.random_official_state_dict(vocab=49408, T=3, image_size=32, seed=9, logit_scale=4.6052)
    model = convert_with_cli(save_official_checkpoint(tmp_path / "clip.pt", sd), tmp_path / "out",
                             "--text-heads", "2", "--vision-heads", "2")
    assert model.config.text_config.eos_token_id == 49407 and model.config.text_config.bos_token_id == 49406
    processor = T2LProcessor.from_pretrained(tmp_path / "out")
    assert processor.num_frames == 3
    assert processor.image_processor.crop_size == 32 and processor.image_processor.shortest_edge == 36
    processor.check_num_frames(model.config)

    video = np.random.default_rng(0).integers(0, 256, size=(3, 40, 48, 3), dtype=np.uint8)  # T sampled frames
    texts = ["a person is jumping", "Playing the “guitar”"]
    inputs = processor(videos=[video], text=texts)
    assert inputs["pixel_values"].shape == (1, 3, 3, 32, 32)
    assert int(inputs["input_ids"][0, 0]) == 49406
    with torch.no_grad():
        texts_embeds = model.get_text_features(inputs["input_ids"], inputs["attention_mask"]).pooler_output
    # the library pools at the first end-of-text token; the official code at argmax (= the same position)
    expected = ref.encode_text({k: v.float() for k, v in sd.items()}, inputs["input_ids"], 2)
    torch.testing.assert_close(texts_embeds, expected, atol=1e-5, rtol=0)
    with torch.no_grad():
        out = model(**inputs)
    assert out.logits_per_video.shape == (1, 2)

    # the converted directory is all the zero-shot pipeline needs
    from transformers import pipeline

    from modeling_t2l.pipelines.zero_shot_video_classification import register_pipeline

    register_pipeline()
    # the converter writes the pipeline's code and task next to the weights, so the task is inferred from the
    # directory (checkpoints with custom code always load with trust_remote_code=True)
    classifier = pipeline(model=str(tmp_path / "out"), trust_remote_code=True)
    assert type(classifier).__name__ == "ZeroShotVideoClassificationPipeline"
    scores = classifier(video, candidate_labels=["archery", "surfing water"])
    assert sorted(s["label"] for s in scores) == ["archery", "surfing water"]
    assert abs(sum(s["score"] for s in scores) - 1.0) < 1e-5

    small = ref.random_official_state_dict(T=2, seed=10)  # synthetic 256-token vocabulary: no tokenizer fits
    convert_with_cli(save_official_checkpoint(tmp_path / "small.pt", small), tmp_path / "small",
                     "--text-heads", "2", "--vision-heads", "1")
    assert not (tmp_path / "small" / "processor_config.json").exists()


def test_plain_clip_state_dict_is_pointed_to_from_clip():
    sd = ref.random_official_state_dict(T=2, seed=11, prompts=False, visual_adapters=False, text_adapters=False)
    del sd["visual.temporal_embedding"]
    with pytest.raises(ConversionError, match="from_clip"):
        convert_state_dict(sd)
