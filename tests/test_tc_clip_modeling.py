"""TC-CLIP model checks on tiny random configs, named after transformers' common model tests, and the product
against the independent reference (tests/reference_tc_clip.py) on configurations the fixtures do not cover."""
from __future__ import annotations

import copy
import shutil

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification, CLIPModel, CLIPTextConfig, CLIPVisionConfig

from modeling_t2l.models.tc_clip import (
    TCCLIPConfig,
    TCCLIPForVideoClassification,
    TCCLIPModel,
    class_name_to_text,
    prompt_texts,
)
from modeling_t2l.models.tc_clip import modeling_tc_clip
from modeling_t2l.models.tc_clip.conversion import _TRANSPOSED, build_model, convert_state_dict, map_key
from modeling_t2l.models.tc_clip.losses import label_smoothing_cross_entropy, soft_target_cross_entropy
from modeling_t2l.models.tc_clip.modeling_tc_clip import bipartite_merge, merge_schedule
from tests import reference_tc_clip as ref
from tests.tiny import TOKENIZER_DIR, save_tiny_clip, tiny_clip_config

OUTPUT_TOL = 1e-5
GRAD_TOL = 1e-4


def tiny_config(**overrides) -> TCCLIPConfig:
    values = dict(
        text_config=dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, eos_token_id=49407, bos_token_id=49406,
                         pad_token_id=49407, projection_dim=32),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8, projection_dim=32),
        projection_dim=32, num_frames=4, context_tokens=6, merge_r=4, context_length=16,
    )
    values.update(overrides)
    return TCCLIPConfig(**values)


def make_inputs(config, batch_size=2, num_frames=None, num_texts=3, seed=0, pad_id=0):
    generator = torch.Generator().manual_seed(seed)
    size = config.vision_config.image_size
    num_frames = num_frames or config.num_frames
    pixel_values = torch.randn(batch_size, num_frames, 3, size, size, generator=generator)
    length = config.context_length
    input_ids = torch.full((num_texts, length), pad_id)
    attention_mask = torch.zeros_like(input_ids)
    for row in range(num_texts):
        words = torch.randint(1, 49405, (int(torch.randint(1, length - 6, (1,), generator=generator)),), generator=generator)
        ids = [49406, 320, 1125, 539, 320, *words.tolist(), 49407]
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention_mask[row, : len(ids)] = 1
    return pixel_values, input_ids, attention_mask


def perturb(model, seed=0):
    """Random values for the TC-CLIP tensors, so every path carries signal."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "local_global_bias" in name:
                parameter.copy_(0.5 * torch.randn(parameter.shape, generator=generator))
    return model


@pytest.fixture
def model():
    torch.manual_seed(0)
    return perturb(TCCLIPForVideoClassification(tiny_config()).eval())


def relative_error(actual, expected, scale=None) -> float:
    scale = expected.detach().abs().max() if scale is None else scale
    return float((actual.detach() - expected.detach()).abs().max() / scale.clamp_min(1e-12))


def gradient_scale(name: str, grads: dict) -> torch.Tensor:
    """The largest entry of a gradient, except for a key bias: its gradient is mathematically zero (a bias on
    every key cancels in the softmax) and holds rounding noise, so it is compared relative to the attention's
    largest q/k/v bias gradient (as the packed official `in_proj_bias` is as one tensor)."""
    if not name.endswith("k_proj.bias"):
        return grads[name].abs().max()
    return max(grads[name.replace("k_proj", p)].abs().max() for p in ("q_proj", "k_proj", "v_proj"))


# -- configuration -------------------------------------------------------------------------------------------------


def test_config_defaults_are_the_official_ones():
    config = TCCLIPConfig()
    v, t = config.vision_config, config.text_config
    assert (v.hidden_size, v.num_attention_heads, v.num_hidden_layers, v.image_size, v.patch_size) == (768, 12, 12, 224, 16)
    assert (t.hidden_size, t.num_attention_heads, t.num_hidden_layers, t.eos_token_id) == (512, 8, 12, 49407)
    assert config.projection_dim == 512 and config.num_frames == 16
    assert (config.context_tokens, config.seed_ratio, config.seeds_per_frame, config.merge_r) == (96, 0.3, 58, 100)
    assert config.resolved_vp_levels == [11] and config.num_prompt_context == 4
    assert config.prompt_context_init == "a photo of a" and config.detach_context_tokens and config.use_local_global_bias
    assert config.parse_capitals and config.fp16_token_embeddings and config.context_length == 30
    assert config.label_smoothing == 0.1 and config.wise_ft_alpha is None and config.model_type == "tc_clip"


def test_config_round_trip(tmp_path):
    config = tiny_config(vp_levels=[0, 1], seed_ratio=0.5, parse_capitals=False, wise_ft_alpha=0.7)
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, TCCLIPConfig)
    assert isinstance(loaded.text_config, CLIPTextConfig) and isinstance(loaded.vision_config, CLIPVisionConfig)
    ignore = {"_name_or_path"}
    assert {k: v for k, v in loaded.to_dict().items() if k not in ignore} == {
        k: v for k, v in config.to_dict().items() if k not in ignore
    }


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("context_tokens", 0, "context_tokens must be a positive integer"),
        ("seed_ratio", 0.0, "seed_ratio must be a number in"),
        ("seed_ratio", 0.01, "selects no seed token"),
        ("vp_init", "zeros", "vp_init must be one of"),
        ("prompt_context_init", "a video of", "has 3 words but num_prompt_context is 4"),
        ("vp_levels", [1, 0], "strictly ascending"),
        ("vp_levels", [5], "vp_levels must be text layer indices in \\[0, 1\\]"),
        ("label_smoothing", 1.0, "label_smoothing must be in"),
        ("wise_ft_alpha", 1.5, "wise_ft_alpha must be None or in"),
    ],
)
def test_config_validation_names_the_field(field, value, message):
    with pytest.raises(Exception, match=message):
        tiny_config(**{field: value})


@pytest.mark.parametrize(
    "name, parse_capitals, expected",
    [
        ("ApplyEyeMakeup", True, "Apply Eye Makeup"),
        ("BMX", True, "B M X"),
        ("playing_guitar", True, "playing guitar"),
        ("YoYo", True, "Yo Yo"),
        ("ApplyEyeMakeup", False, "ApplyEyeMakeup"),
        ("riding_a_BMX", False, "riding a BMX"),
    ],
)
def test_class_name_preprocessing(name, parse_capitals, expected):
    assert class_name_to_text(name, parse_capitals) == expected


def test_prompt_texts_follow_the_config():
    assert prompt_texts(["TaiChi"]) == ["a photo of a Tai Chi."]
    assert prompt_texts(["TaiChi"], tiny_config(parse_capitals=False)) == ["a photo of a TaiChi."]


# -- parameters ----------------------------------------------------------------------------------------------------


def test_vit_b16_parameter_counts():
    """Spec §3.3: 127,479,561 trained parameters; the 25,296,896 of the token table are not trained."""
    with torch.device("meta"):
        model = TCCLIPForVideoClassification(TCCLIPConfig())
    names = set(model.trainable_parameter_names())
    trainable = sum(p.numel() for n, p in model.named_parameters() if n in names)
    frozen = sum(p.numel() for n, p in model.named_parameters() if n not in names)
    assert trainable == 127_479_561 and frozen == 25_296_896
    bias = sum(p.numel() for n, p in model.named_parameters() if "local_global_bias" in n)
    prompting = sum(p.numel() for n, p in model.named_parameters() if "video_prompt_layers" in n)
    assert bias == 264 and prompting == 3_153_408
    assert model.tc_clip.vision_model.encoder.layers[0].self_attn.local_global_bias is None


def test_trainable_set_and_lr_groups(model):
    model.apply_trainable_set()
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {"tc_clip.text_model.embeddings.token_embedding.weight"}
    assert set(model.trainable_parameter_names()) == {n for n, p in model.named_parameters() if p.requires_grad}
    assert "tc_clip.logit_scale" in model.trainable_parameter_names()
    fast = model.lr_10x_parameter_names()
    assert "tc_clip.text_model.prompt_context" in fast
    assert all("prompt_context" in n or "video_prompt_layers" in n for n in fast) and len(fast) == 1 + 18


def test_contract_members(model):
    assert TCCLIPForVideoClassification.text_depends_on_video is True and model.num_frames == 4
    assert model.zero_shot_logit_scale == pytest.approx(model.tc_clip.logit_scale.exp().item())
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    with torch.no_grad():
        video = model.get_video_features(pixel_values)
        text = model.get_text_features(input_ids, attention_mask, video_outputs=video)
        out = model(pixel_values, input_ids, attention_mask)
    assert video.pooler_output.shape == (2, 32) and text.pooler_output.shape == (2, 3, 32)
    assert not torch.allclose(video.pooler_output.norm(dim=-1), torch.ones(2))  # not normalised
    torch.testing.assert_close(out.video_embeds, F.normalize(video.pooler_output, dim=-1))
    torch.testing.assert_close(out.text_embeds, F.normalize(text.pooler_output, dim=-1))
    assert out.logits.shape == (2, 3) and out.logits_per_text.shape == (3, 2) and out.text_embeds.shape == (2, 3, 32)
    assert out.context_embeds.shape == (2, 1, 6, 32) and out.frame_embeds.shape == (2, 4, 32)
    with pytest.raises(ValueError, match="pass video_outputs=model.get_video_features"):
        model.get_text_features(input_ids, attention_mask)


# -- loading CLIP --------------------------------------------------------------------------------------------------


def save_tiny_clip_with_text_width_projection(path):
    """A random CLIP whose projection is as wide as its text tower, as in every released TC-CLIP (512 = 512)."""
    config = tiny_clip_config()
    config.projection_dim = config.text_config.projection_dim = config.vision_config.projection_dim = 32
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(path)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(TOKENIZER_DIR / name, path / name)
    return path


def test_from_clip_refuses_clip_init_of_a_narrower_projection(tmp_path):
    clip_dir = save_tiny_clip(tmp_path / "clip")  # projection 16, text width 32
    with pytest.raises(ValueError, match="needs projection_dim == text width"):
        TCCLIPForVideoClassification.from_clip(str(clip_dir))
    model = TCCLIPForVideoClassification.from_clip(str(clip_dir), vp_init="random")
    assert model.tc_clip.text_model.video_prompt_layers[0].cross_attn.k_proj.in_features == 16


def test_from_clip_starts_as_the_official_training(tmp_path):
    clip_dir = save_tiny_clip_with_text_width_projection(tmp_path / "clip")
    model, info = TCCLIPForVideoClassification.from_clip(
        str(clip_dir), num_frames=4, context_tokens=6, merge_r=4, output_loading_info=True
    )
    new = set(info["missing_keys"])
    assert all("local_global_bias" in k or "prompt_context" in k or "video_prompt_layers" in k for k in new)
    assert not info["mismatched_keys"] and not info["unexpected_keys"]
    clip = CLIPModel.from_pretrained(clip_dir)
    clip_state = clip.state_dict()
    for name, tensor in model.tc_clip.state_dict().items():
        if name in clip_state:
            assert torch.equal(tensor, clip_state[name]), name
    text = model.tc_clip.text_model
    last = text.encoder.layers[-1]
    block = text.video_prompt_layers[0]
    assert torch.equal(block.cross_attn.k_proj.weight, last.self_attn.k_proj.weight)
    assert torch.equal(block.mlp.fc2.bias, last.mlp.fc2.bias)
    assert torch.equal(block.layer_norm_kv.weight, last.layer_norm1.weight)
    ids = torch.tensor([320, 1125, 539, 320])  # "a photo of a"
    torch.testing.assert_close(text.prompt_context, text.embeddings.token_embedding.weight[ids].half().float(),
                               rtol=0, atol=0)


# -- the product against the independent reference, beyond the fixtures ---------------------------------------------

BEYOND_FIXTURES = {
    # name: (state-dict sizes, heads (vision, text), T, B, k, r, seed ratio, vp levels)
    "T3_a_frame_count_never_in_a_fixture": (dict(), (2, 2), 3, 2, 6, 4, 0.3, None),
    "T2_B3_one_round": (dict(), (2, 2), 2, 3, 6, 3, 0.5, None),
    "T6_many_rounds_4_heads": (dict(vision_width=64, text_width=64), (4, 1), 6, 2, 5, 4, 0.3, None),
    "T5_fewer_seeds_than_k": (dict(), (2, 4), 5, 2, 96, 100, 0.3, None),
    "T4_two_prompting_levels": (dict(num_prompt_layers=2), (2, 2), 4, 2, 7, 5, 0.3, [0, 1]),
    "T7_patch16_three_layers": (dict(patch=16, image=64, vision_layers=3, text_layers=3), (1, 2), 7, 1, 9, 6, 0.4, None),
}


def reference_case(name, seed=0):
    sizes, (vision_heads, text_heads), T, B, k, r, ratio, levels = BEYOND_FIXTURES[name]
    sd, table = ref.random_official_state_dict(seed=seed, **sizes)
    sd = ref.add_bias_tables(sd, vision_heads, seed=seed)
    overrides = dict(context_tokens=k, merge_r=r, seed_ratio=ratio, context_length=12, num_frames=T)
    if levels is not None:
        overrides["vp_levels"] = levels
    config, converted = convert_state_dict(sd, token_embedding=table, text_heads=text_heads, vision_heads=vision_heads,
                                           **overrides)
    model = build_model(config, converted)
    generator = torch.Generator().manual_seed(seed + 7)
    image = config.vision_config.image_size
    video = torch.randn(B, T, 3, image, image, generator=generator)
    input_ids = torch.zeros(3, 12, dtype=torch.long)
    for row, extra in enumerate(([1000], [2000, 3000], [4000, 5000, 6000])):
        ids = [49406, 320, 1125, 539, 320, *extra, 269, 49407]
        input_ids[row, : len(ids)] = torch.tensor(ids)
    kwargs = dict(vision_heads=vision_heads, text_heads=text_heads, k=k, r=r, levels=levels, seed_ratio=ratio)
    return sd, table, model, video, input_ids, kwargs


@pytest.mark.parametrize("name", sorted(BEYOND_FIXTURES))
@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_matches_the_reference_beyond_the_fixtures(name, attn_implementation):
    sd, table, model, video, input_ids, kwargs = reference_case(name)
    model.set_attn_implementation(attn_implementation)
    with torch.no_grad():
        expected = ref.forward(sd, table, video, input_ids, **kwargs)
        out = model(video, input_ids, (input_ids != 0).long())
    vision = out.vision_model_output
    assert torch.equal(torch.stack(vision.seed_indices, 1), expected["seed_index"])
    assert torch.equal(torch.stack(vision.context_token_sizes, 1), expected["sizes"])
    pairs = {
        "logits": (out.logits, expected["logits"]),
        "frame_embeds": (out.frame_embeds, expected["frame_embeds"]),
        "video_embeds": (out.video_embeds, expected["video_embeds"]),
        "text_embeds": (out.text_model_output.pooler_output, expected["text_embeds"]),
        "context_embeds": (out.context_embeds, expected["context_tokens_proj"]),
        "context_tokens": (torch.stack(vision.context_tokens, 1), expected["context"]),
        "prompt_tokens": (out.text_model_output.prompt_tokens, expected["vp_prompt_tokens"]),
    }
    errors = {key: relative_error(*value) for key, value in pairs.items()}
    assert max(errors.values()) <= OUTPUT_TOL, errors


def test_gradients_match_the_reference_beyond_the_fixtures():
    sd, table, model, video, input_ids, kwargs = reference_case("T3_a_frame_count_never_in_a_fixture")
    labels = torch.tensor([2, 0])
    sd = {k: v.clone().requires_grad_(True) for k, v in sd.items()}
    F.cross_entropy(ref.forward(sd, table, video, input_ids, **kwargs)["logits"], labels).backward()
    model.train()
    F.cross_entropy(model(video, input_ids).logits, labels).backward()
    params = dict(model.tc_clip.named_parameters())
    errors = {}
    for official, tensor in sd.items():
        target = map_key(official)
        if "{q,k,v}" in target:
            grad = torch.cat([params[target.replace("{q,k,v}", p)].grad for p in "qkv"])
        else:
            grad = params[target].grad
            grad = grad.t() if official in _TRANSPOSED else grad
            grad = grad[:, None] if official.endswith("local_global_bias_table") else grad
        if official == "text_encoder.positional_embedding":  # rows beyond the 12 used positions get no gradient
            assert torch.count_nonzero(grad[12:]) == 0
        scale = tensor.grad.abs().max()
        if official.endswith("k_proj.bias"):  # mathematically zero: see gradient_scale
            scale = max(sd[official.replace("k_proj", f"{p}_proj")].grad.abs().max() for p in "qkv")
        errors[official] = relative_error(grad, tensor.grad, scale)
    assert max(errors.values()) <= GRAD_TOL, {k: e for k, e in errors.items() if e > GRAD_TOL}


# -- any number of frames ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_frames", [1, 2, 3, 7])
def test_any_number_of_frames(model, num_frames):
    pixel_values, input_ids, attention_mask = make_inputs(model.config, num_frames=num_frames)
    with torch.no_grad():
        out = model(pixel_values, input_ids, attention_mask)
    seeds = model.config.seeds_per_frame  # int(16 * 0.3) = 4
    expected_context = min(model.config.context_tokens, num_frames * seeds)
    assert out.frame_embeds.shape == (2, num_frames, 32)
    assert out.context_embeds.shape == (2, 1, expected_context, 32)
    assert all(s.shape == (2, num_frames, seeds) for s in out.vision_model_output.seed_indices)
    total = out.vision_model_output.context_token_sizes[-1].sum(dim=-1)
    torch.testing.assert_close(total, torch.full((2,), float(num_frames * seeds)))


@pytest.mark.parametrize(
    "num_frames, expected",
    [(16, [100] * 8 + [32]), (8, [100, 100, 100, 68]), (4, [100, 36]), (2, [20]), (1, [])],
)
def test_merge_schedule_of_the_official_sizes(num_frames, expected):
    """Spec §2.4: 58 seeds per frame merged to k = 96 with r = 100."""
    assert merge_schedule(num_frames * 58, 96, 100) == expected
    assert merge_schedule(40, 8, 12) == [12, 12, 8]  # the cnt // 2 cap of the last round


def test_bipartite_merge_by_hand():
    """A = even, B = odd; a0 and a1 both pick b0 and merge into it (size-weighted), a2 is kept and emitted first."""
    tokens = torch.tensor([[[1.0, 0.0], [1.0, 0.1], [0.9, 0.0], [0.0, 1.0], [-1.0, 0.2]]])
    merged, sizes = bipartite_merge(tokens, torch.tensor([[[1.0], [2.0], [1.0], [1.0], [1.0]]]), 2)
    # best partners: a0 -> b0 (cos ~1), a1(0.9, 0) -> b0, a2(-1, .2) -> b1 (best is b1 at cos ~0.2)
    expected_b0 = (tokens[0, 1] * 2 + tokens[0, 0] + tokens[0, 2]) / 4
    torch.testing.assert_close(merged[0], torch.stack([tokens[0, 4], expected_b0, tokens[0, 3]]))
    torch.testing.assert_close(sizes[0, :, 0], torch.tensor([1.0, 4.0, 1.0]))


def test_ties_go_to_the_lower_index():
    scores = torch.tensor([[0.5, 1.0, 1.0, 0.2, 1.0]])
    assert modeling_tc_clip._descending_order(scores).tolist() == [[1, 2, 4, 0, 3]]
    tokens = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]])  # every score ties
    _, sizes = bipartite_merge(tokens, torch.ones(1, 4, 1), 1)
    assert sizes[0, :, 0].tolist() == [1.0, 2.0, 1.0]  # a1 kept, a0 merged into b0 (its first maximum)


# -- numerics: attention backends, batching, precision ---------------------------------------------------------------


def test_sdpa_is_the_default_and_matches_eager(model):
    assert model.config.vision_config._attn_implementation == "sdpa"
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    labels = torch.tensor([1, 2])

    def run(implementation):
        model.set_attn_implementation(implementation)
        model.zero_grad(set_to_none=True)
        out = model(pixel_values, input_ids, attention_mask, labels=labels)
        out.loss.backward()
        return out, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    sdpa, sdpa_grads = run("sdpa")
    eager, eager_grads = run("eager")
    for seeds_a, seeds_b in zip(sdpa.vision_model_output.seed_indices, eager.vision_model_output.seed_indices):
        assert torch.equal(seeds_a, seeds_b)
    assert relative_error(sdpa.logits, eager.logits) <= OUTPUT_TOL
    assert relative_error(sdpa.context_embeds, eager.context_embeds) <= OUTPUT_TOL
    assert sdpa_grads.keys() == eager_grads.keys()
    assert any("local_global_bias" in n for n in sdpa_grads)
    for name in eager_grads:
        assert relative_error(sdpa_grads[name], eager_grads[name], gradient_scale(name, eager_grads)) <= GRAD_TOL, name


def test_batching_equivalence(model):
    pixel_values, input_ids, attention_mask = make_inputs(model.config, batch_size=3)
    with torch.no_grad():
        batched = model(pixel_values, input_ids, attention_mask)
        single = [model(pixel_values[i : i + 1], input_ids, attention_mask) for i in range(3)]
        one_text = [model(pixel_values, input_ids[c : c + 1], attention_mask[c : c + 1]) for c in range(3)]
    torch.testing.assert_close(batched.logits, torch.cat([s.logits for s in single]), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(batched.logits, torch.cat([s.logits for s in one_text], dim=1), rtol=1e-5, atol=1e-5)
    for i, s in enumerate(single):
        for layer, seeds in enumerate(s.vision_model_output.seed_indices):
            assert torch.equal(seeds[0], batched.vision_model_output.seed_indices[layer][i])


def test_padding_id_and_attention_mask_do_not_change_the_text(model):
    """The official ids pad with 0 and use no padding mask; CLIPTokenizer pads with end-of-text."""
    pixel_values, zeros, attention_mask = make_inputs(model.config, pad_id=0)
    eot = torch.where(attention_mask.bool(), zeros, torch.full_like(zeros, 49407))
    with torch.no_grad():
        official = model(pixel_values, zeros).logits
        tokenizer_style = model(pixel_values, eot, attention_mask).logits
    torch.testing.assert_close(tokenizer_style, official, rtol=1e-5, atol=1e-5)


def test_discrete_choices_are_fp32_under_bf16_autocast(model, monkeypatch):
    seen = []
    original = modeling_tc_clip._descending_order

    def recording(scores):
        seen.append(scores.dtype)
        return original(scores)

    monkeypatch.setattr(modeling_tc_clip, "_descending_order", recording)
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(pixel_values, input_ids, attention_mask)
    assert seen and set(seen) == {torch.float32}  # seed ranking and every merge ranking
    assert all(s.dtype == torch.float32 for s in out.vision_model_output.seed_scores)


def test_merge_ranking_ignores_autocast():
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randn(2, 30, 16, generator=generator).bfloat16()
    sizes = torch.ones(2, 30, 1, dtype=torch.bfloat16)
    expected_tokens, expected_sizes = bipartite_merge(tokens.float(), sizes.float(), 9)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got_tokens, got_sizes = bipartite_merge(tokens.float(), sizes.float(), 9)
    assert torch.equal(got_sizes, expected_sizes) and torch.equal(got_tokens, expected_tokens)


# -- save / load, training behaviour ---------------------------------------------------------------------------------


def test_save_load_bit_exact(model, tmp_path):
    model.save_pretrained(tmp_path)
    loaded = AutoModelForVideoClassification.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, TCCLIPForVideoClassification)
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    with torch.no_grad():
        assert torch.equal(model(pixel_values, input_ids, attention_mask).logits,
                           loaded(pixel_values, input_ids, attention_mask).logits)
    auto_map = AutoConfig.from_pretrained(tmp_path).auto_map
    assert auto_map["AutoModelForVideoClassification"] == "modeling_tc_clip.TCCLIPForVideoClassification"


def test_base_model_checkpoint_loads_into_head(model, tmp_path):
    model.tc_clip.save_pretrained(tmp_path)
    head, info = TCCLIPForVideoClassification.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert isinstance(AutoModel.from_pretrained(tmp_path), TCCLIPModel)


def test_loss_terms(model):
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    hard = model(pixel_values, input_ids, attention_mask, labels=torch.tensor([2, 0]))
    torch.testing.assert_close(hard.loss, label_smoothing_cross_entropy(hard.logits, torch.tensor([2, 0]), 0.1))
    torch.testing.assert_close(hard.loss, F.cross_entropy(hard.logits, torch.tensor([2, 0]), label_smoothing=0.1))
    assert hard.loss_ce is hard.loss
    targets = torch.tensor([[0.7, 0.3, 0.0], [0.0, 0.5, 0.5]])
    soft = model(pixel_values, input_ids, attention_mask, labels=targets)
    torch.testing.assert_close(soft.loss, soft_target_cross_entropy(soft.logits, targets))


def test_context_tokens_are_detached_on_the_text_side():
    torch.manual_seed(0)
    for detach in (True, False):
        model = perturb(TCCLIPForVideoClassification(tiny_config(detach_context_tokens=detach)))
        pixel_values, input_ids, attention_mask = make_inputs(model.config)
        video = model.get_video_features(pixel_values)
        model.get_text_features(input_ids, attention_mask, video_outputs=video).pooler_output.sum().backward()
        grad = model.tc_clip.vision_model.encoder.layers[0].mlp.fc1.weight.grad
        if detach:
            assert grad is None
        else:
            assert grad is not None and torch.count_nonzero(grad) > 0


def test_all_trainable_parameters_receive_gradients(model):
    model.apply_trainable_set().train()
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    model(pixel_values, input_ids, attention_mask, labels=torch.tensor([0, 1])).loss.backward()
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            assert parameter.grad is not None and torch.count_nonzero(parameter.grad) > 0, name


def test_activation_checkpointing_gives_the_same_gradients(model):
    state = copy.deepcopy(model.state_dict())
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    labels = torch.tensor([0, 1])

    def gradients(checkpointing):
        fresh = TCCLIPForVideoClassification(tiny_config())
        fresh.load_state_dict(state)
        fresh.apply_trainable_set().train()
        if checkpointing:
            fresh.activation_checkpointing_enable()
        fresh(pixel_values, input_ids, attention_mask, labels=labels).loss.backward()
        return {n: p.grad.clone() for n, p in fresh.named_parameters() if p.grad is not None}

    plain, checkpointed = gradients(False), gradients(True)
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], rtol=1e-5, atol=1e-7)


def test_shared_text_states_give_the_same_text_features(model):
    """The layers before the prompting level are computed once per label set and reused for every batch."""
    pixel_values, input_ids, attention_mask = make_inputs(model.config, batch_size=3)
    shared = model.encode_shared_text(input_ids, attention_mask)
    with torch.no_grad():
        for batch in (pixel_values[:2], pixel_values[2:]):
            video = model.get_video_features(batch)
            fresh = model.get_text_features(input_ids, attention_mask, video_outputs=video).pooler_output
            cached = model.get_text_features(input_ids, attention_mask, video_outputs=video,
                                             shared_text_states=shared).pooler_output
            assert torch.equal(cached, fresh)


def test_torch_compile_matches_eager(model):
    pixel_values, _, _ = make_inputs(model.config)

    def video_embeddings(x):
        return model.tc_clip.get_video_features(x).pooler_output

    compiled = torch.compile(video_embeddings, backend="aot_eager", fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(pixel_values), video_embeddings(pixel_values), rtol=1e-5, atol=1e-6)


def test_legacy_clip_eos_id_pools_at_the_end_of_text(model):
    """CLIP configs of the Hub (openai/clip-vit-base-patch16) still say eos_token_id 2: pool at the largest id."""
    legacy_config = tiny_config()
    legacy_config.text_config.eos_token_id = 2
    legacy = TCCLIPForVideoClassification(legacy_config).eval()
    legacy.load_state_dict(model.state_dict())
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    with torch.no_grad():
        assert torch.equal(legacy(pixel_values, input_ids).logits, model(pixel_values, input_ids).logits)


def test_return_dict_false_gives_the_fields_as_a_tuple(model):
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    with torch.no_grad():
        as_dict = model(pixel_values, input_ids, attention_mask, labels=torch.tensor([0, 1]))
        as_tuple = model(pixel_values, input_ids, attention_mask, labels=torch.tensor([0, 1]), return_dict=False)
    assert torch.equal(as_tuple[0], as_dict.loss) and torch.equal(as_tuple[1], as_dict.logits)
    assert isinstance(as_tuple[-1], tuple) and torch.equal(as_tuple[-1][0], as_dict.text_model_output.last_hidden_state)
