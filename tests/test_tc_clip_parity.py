"""TC-CLIP parity with the official code: released-layout checkpoint -> converter -> from_pretrained -> outputs.

The fixtures in tests/fixtures/official_tc_clip were produced by the official TC-CLIP code (README there). Each case
is written back as a released checkpoint would be (DDP `module.` prefix, fp16 tensors, the prompt learner's
buffers, optimizer state and a pickled config object), converted with `convert_checkpoint`, saved, and reloaded
with `from_pretrained`. Tolerances: seed indices and group sizes exact; every fp32 output within 1e-5 relative to
the largest entry of its tensor; gradients within 1e-4 relative to each tensor's largest entry.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from modeling_t2l.models.tc_clip import TCCLIPForVideoClassification, prompt_texts
from modeling_t2l.models.tc_clip.conversion import _TRANSPOSED, convert_checkpoint, map_key
from modeling_t2l.processing.tokenization import load_clip_tokenizer
from tests import reference_tc_clip as ref

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "official_tc_clip"
CASES = ("tiny_t4_b2", "tiny_t8_b1", "tiny_t1_b2")
OUTPUT_TOL = 1e-5
GRAD_TOL = 1e-4


class TrainingConfig:
    """Stands in for the OmegaConf config the official training pickles into every checkpoint."""

    def __init__(self):
        self.values = {"trainer": "tc_clip", "num_frames": 16}


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return float((actual.detach().float() - expected.float()).abs().max() / expected.float().abs().max().clamp_min(1e-12))


def load_case(name: str):
    folder = FIXTURES / name
    meta = json.loads((folder / "meta.json").read_text())
    weights = {k: v.float() if v.is_floating_point() else v for k, v in load_file(folder / "weights.safetensors").items()}
    table = torch.zeros(meta["text"]["vocab_size"], meta["text"]["width"])
    table[weights.pop("token_embedding.row_ids")] = weights.pop("token_embedding.rows")
    return meta, weights, table, load_file(folder / "inputs.safetensors"), load_file(folder / "outputs.safetensors")


def write_released_checkpoint(weights, inputs, table, directory: Path) -> tuple[Path, Path]:
    """The case as the official training saves it, plus an OpenAI-layout CLIP file holding the token table."""
    state = {f"module.{k}": v.half() for k, v in weights.items()}
    state["module.prompt_learner.token_prefix"] = inputs["prompt_prefix_embeds"].half()
    state["module.prompt_learner.token_suffix"] = inputs["prompt_suffix_embeds"].half()
    checkpoint = directory / "best.pth"
    torch.save({"model": state, "optimizer": {"state": {}}, "lr_scheduler": {}, "max_accuracy": 0.0, "epoch": 0,
                "config": TrainingConfig()}, checkpoint)
    clip = directory / "clip.pt"
    torch.save({"token_embedding.weight": table.half()}, clip)
    return checkpoint, clip


def conversion_options(meta) -> dict:
    tc = meta["tc"]
    return dict(
        text_heads=meta["text"]["heads"], vision_heads=meta["vision"]["heads"], context_tokens=tc["context_tokens_k"],
        merge_r=tc["tome_r"], context_length=meta["text"]["context_length"], num_frames=tc["num_frames"],
    )


@pytest.fixture(scope="module", params=CASES)
def case(request, tmp_path_factory):
    """(meta, inputs, expected outputs, converted model reloaded from its directory)."""
    meta, weights, table, inputs, outputs = load_case(request.param)
    directory = tmp_path_factory.mktemp(request.param)
    checkpoint, clip = write_released_checkpoint(weights, inputs, table, directory)
    convert_checkpoint(checkpoint, directory / "converted", clip=clip, **conversion_options(meta))
    model = TCCLIPForVideoClassification.from_pretrained(directory / "converted").eval()
    return meta, inputs, outputs, model


def run(model, inputs, attn_implementation: str):
    model.set_attn_implementation(attn_implementation)
    with torch.no_grad():
        return model(inputs["video"].float(), inputs["input_ids"], inputs["attention_mask"], output_hidden_states=True)


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_seed_indices_and_group_sizes_are_exact_in_every_layer(case, attn_implementation):
    meta, inputs, expected, model = case
    vision = run(model, inputs, attn_implementation).vision_model_output
    assert len(vision.seed_indices) == meta["vision"]["layers"]
    for i, seeds in enumerate(vision.seed_indices):
        assert torch.equal(seeds, expected["seed_index"][:, i]), f"layer {i}"
        assert torch.equal(vision.context_token_sizes[i], expected[f"context_token_sizes.{i}"]), f"layer {i}"
        assert vision.context_tokens[i].shape[1] == meta["tc"]["context_tokens_per_layer"][i]


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_outputs_match_the_official_model(case, attn_implementation):
    meta, inputs, expected, model = case
    out = run(model, inputs, attn_implementation)
    vision, text = out.vision_model_output, out.text_model_output
    actual = {
        "logits": out.logits_per_video,
        "frame_embeds": vision.frame_embeds,
        "video_embeds": out.video_embeds,
        "context_tokens_proj": vision.context_embeds,
        "text_embeds_per_video": text.pooler_output,
        "vp_prompt_tokens": text.prompt_tokens,
        "seed_scores": torch.stack(vision.seed_scores, dim=1),
    }
    tokens_per_frame = meta["vision"]["tokens_per_frame"]
    for i in range(meta["vision"]["layers"]):
        frames = vision.hidden_states[i + 1]
        actual[f"hidden_states.{i}"] = torch.cat([frames, vision.context_tokens[i]], dim=1)
        actual[f"cls_tokens.{i}"] = frames[:, ::tokens_per_frame]
        actual[f"context_tokens.{i}"] = vision.context_tokens[i]
    errors = {}
    for name, value in actual.items():
        assert value.shape == expected[name].shape, f"{name}: {tuple(value.shape)} != {tuple(expected[name].shape)}"
        errors[name] = relative_error(value, expected[name])
    assert max(errors.values()) <= OUTPUT_TOL, {k: v for k, v in errors.items() if v > OUTPUT_TOL}
    torch.testing.assert_close(out.logits_per_text, out.logits_per_video.t())


def official_gradient(model, official_name: str) -> torch.Tensor:
    """This library's gradient in the official layout (packed in_proj, `proj` as `x @ P`, bias table (H, 1, 2))."""
    target = map_key(official_name)
    params = dict(model.tc_clip.named_parameters())
    if "{q,k,v}" in target:
        return torch.cat([params[target.replace("{q,k,v}", p)].grad for p in "qkv"])
    grad = params[target].grad
    if official_name in _TRANSPOSED:
        return grad.t()
    if official_name.endswith("local_global_bias_table"):
        return grad[:, None, :]
    return grad


def test_gradients_match_the_official_backward(tmp_path):
    meta, weights, table, inputs, expected = load_case("tiny_t4_b2")
    checkpoint, clip = write_released_checkpoint(weights, inputs, table, tmp_path)
    convert_checkpoint(checkpoint, tmp_path / "converted", clip=clip, **conversion_options(meta))
    model = TCCLIPForVideoClassification.from_pretrained(tmp_path / "converted", attn_implementation="eager")
    model.apply_trainable_set().train()
    logits = model(inputs["video"].float(), inputs["input_ids"], inputs["attention_mask"]).logits
    loss = F.cross_entropy(logits, inputs["labels"])  # the fixture's backward: plain CE, mean over the batch
    loss.backward()
    assert abs(loss.item() - meta["grads"]["ce_loss"]) <= OUTPUT_TOL * abs(meta["grads"]["ce_loss"])
    errors = {}
    for name in meta["grads"]["params"]:
        grad = official_gradient(model, name)
        want = expected[f"grad.{name}"]
        assert grad.shape == want.shape, name
        errors[name] = relative_error(grad, want)
    assert max(errors.values()) <= GRAD_TOL, {k: v for k, v in errors.items() if v > GRAD_TOL}
    # the token table lies outside the official model and is never trained
    assert model.tc_clip.text_model.embeddings.token_embedding.weight.grad is None


@pytest.mark.parametrize("name", CASES)
def test_prompts_tokenise_as_the_official_code(name):
    """The class-name quirk (a space before every capital, `_` -> space) and the bundled BPE give the official ids."""
    meta, _, _, inputs, _ = load_case(name)
    texts = prompt_texts(meta["class_names"])
    assert texts == meta["prompt_texts"]
    tokenizer = load_clip_tokenizer()
    for text, official in zip(texts, inputs["input_ids"]):
        ids = tokenizer(text)["input_ids"]
        assert ids == official[: len(ids)].tolist() and not official[len(ids):].any()


@pytest.mark.parametrize("name", CASES)
def test_reference_implementation_matches_the_fixtures(name):
    """The independent reference used by the tests beyond the fixtures reproduces the official outputs too."""
    meta, weights, table, inputs, expected = load_case(name)
    tc = meta["tc"]
    with torch.no_grad():
        out = ref.forward(weights, table, inputs["video"].float(), inputs["input_ids"],
                          vision_heads=meta["vision"]["heads"], text_heads=meta["text"]["heads"],
                          k=tc["context_tokens_k"], r=tc["tome_r"])
    assert torch.equal(out["seed_index"], expected["seed_index"])
    for ours, theirs in (("logits", "logits"), ("frame_embeds", "frame_embeds"), ("video_embeds", "video_embeds"),
                         ("text_embeds", "text_embeds_per_video"), ("context_tokens_proj", "context_tokens_proj"),
                         ("vp_prompt_tokens", "vp_prompt_tokens"), ("seed_scores", "seed_scores")):
        assert relative_error(out[ours], expected[theirs]) <= OUTPUT_TOL, ours
    for i in range(meta["vision"]["layers"]):
        assert relative_error(out["context"][:, i], expected[f"context_tokens.{i}"]) <= OUTPUT_TOL
