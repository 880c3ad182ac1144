"""Model checks on tiny random configs, named after transformers' common model tests."""
import copy

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification, CLIPModel, CLIPTextConfig, CLIPVisionConfig

from modeling_t2l import T2LConfig, T2LForVideoClassification, T2LModel
from modeling_t2l.losses import kl_contrastive_loss, tfd_loss
from modeling_t2l.zero_shot.classifier import zero_shot_probabilities
from tests.tiny import save_tiny_clip, tiny_t2l_config

T2L_MISSING_KEYS_PER_TINY_MODEL = 2 * (1 + 4) + 2 * 4 + 1  # vision layers: prompt + 4 adapter tensors; text: 4; temporal_embedding


def make_inputs(config, batch_size=2, num_texts=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    size = config.vision_config.image_size
    pixel_values = torch.randn(batch_size, config.num_frames, 3, size, size, generator=generator)
    input_ids = torch.randint(1, 49405, (num_texts, 9), generator=generator)
    input_ids[:, 0] = 49406
    lengths = torch.randint(2, 9, (num_texts,), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    for row, length in enumerate(lengths.tolist()):
        input_ids[row, length] = 49407
        input_ids[row, length + 1 :] = 49407  # padded with end-of-text, as CLIPTokenizer does
        attention_mask[row, length + 1 :] = 0
    return pixel_values, input_ids, attention_mask


def perturb_t2l_parameters(model, seed=0):
    """Give the zero-initialised T2L tensors random values so that every path carries signal."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "adapter" in name or "temporal" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)
    return model


@pytest.fixture
def model():
    torch.manual_seed(0)
    return perturb_t2l_parameters(T2LForVideoClassification(tiny_t2l_config()).eval())


# -- configuration -------------------------------------------------------------------------------------------------


def test_config_round_trip(tmp_path):
    config = tiny_t2l_config(num_frames=6, contrastive_loss="cross_entropy", tfd_variance="biased", adapter_ratio=0.5)
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, T2LConfig)
    assert isinstance(loaded.text_config, CLIPTextConfig) and isinstance(loaded.vision_config, CLIPVisionConfig)
    ignore = {"_name_or_path"}
    assert {k: v for k, v in loaded.to_dict().items() if k not in ignore} == {
        k: v for k, v in config.to_dict().items() if k not in ignore
    }
    assert (loaded.num_frames, loaded.contrastive_loss, loaded.tfd_variance) == (6, "cross_entropy", "biased")


def test_config_defaults_are_the_official_ones():
    config = T2LConfig()
    assert config.num_frames == 8 and config.use_temporal_tokens and config.temporal_tokens_in_all_layers
    assert config.temporal_token_dropout == 0.1 and config.adapter_ratio == 0.25 and config.drop_path_rate == 0.1
    assert config.contrastive_loss == "kl" and config.tfd_variance == "unbiased" and config.tfd_loss_weight == 1.0
    assert config.eval_logit_scale == 100.0 and config.drop_path_mode == "per_token"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("contrastive_loss", "infonce", "contrastive_loss must be one of 'kl', 'cross_entropy'"),
        ("tfd_variance", "sample", "tfd_variance must be one of 'unbiased', 'biased'"),
        ("drop_path_mode", "batch", "drop_path_mode must be one of"),
        ("num_frames", 0, "num_frames must be a positive integer"),
        ("adapter_ratio", 0.0, "adapter_ratio must be in"),
        ("drop_path_rate", 1.5, "drop_path_rate must be in"),
        ("temporal_token_dropout", -0.1, "temporal_token_dropout must be in"),
        ("tfd_loss_weight", -1.0, "tfd_loss_weight must be >= 0"),
    ],
)
def test_config_validation_names_the_field(field, value, message):
    with pytest.raises(Exception, match=message):
        tiny_t2l_config(**{field: value})


def test_config_rejects_wrong_types():
    with pytest.raises(Exception, match="num_frames"):
        tiny_t2l_config(num_frames="eight")


# -- parameters: what is new, what trains ---------------------------------------------------------------------------


def test_vit_b16_trainable_parameter_count():
    """The paper's 5.2 M: temporal tokens 12x8x768 + visual adapters + text adapters, for ViT-B/16 and T = 8."""
    config = T2LConfig(
        text_config=dict(hidden_size=512, intermediate_size=2048, num_attention_heads=8, num_hidden_layers=12),
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                           image_size=224, patch_size=16),
        projection_dim=512,
        num_frames=8,
    )
    with torch.device("meta"):
        model = T2LForVideoClassification(config)
    model.freeze_backbone()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    assert trainable == 5_204_736
    assert frozen == 149_626_881  # CLIP ViT-B/16 + the zero temporal embedding (t2l_reference.md §3.2)
    prompts = sum(p.numel() for n, p in model.named_parameters() if n.endswith("temporal_prompt"))
    assert prompts == 12 * 8 * 768


def test_trainable_set_is_exactly_prompts_and_adapters(model):
    model.freeze_backbone()
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == set(model.trainable_parameter_names())
    assert all(name.endswith("temporal_prompt") or ".adapter.fc" in name for name in trainable)
    assert "t2l.logit_scale" not in trainable and "t2l.vision_model.temporal_embedding" not in trainable
    assert len(trainable) == 2 + 2 * 4 + 2 * 4


def test_temporal_tokens_first_layer_only_and_switches():
    first_only = T2LModel(tiny_t2l_config(temporal_tokens_in_all_layers=False))
    layers = first_only.vision_model.encoder.layers
    assert layers[0].temporal_prompt is not None and layers[1].temporal_prompt is None
    bare = T2LModel(tiny_t2l_config(use_temporal_tokens=False, use_visual_adapters=False, use_text_adapters=False))
    assert bare.trainable_parameter_names() == []


def test_initialisation_is_the_official_one():
    torch.manual_seed(0)
    model = T2LModel(tiny_t2l_config())
    for layer in list(model.vision_model.encoder.layers) + list(model.text_model.encoder.layers):
        assert torch.count_nonzero(layer.adapter.fc2.weight) == 0 and torch.count_nonzero(layer.adapter.fc2.bias) == 0
        bound = 1 / 32**0.5  # nn.Linear's default (kaiming uniform, a = sqrt 5) for fan-in 32
        assert layer.adapter.fc1.weight.abs().max() <= bound and layer.adapter.fc1.weight.std() > bound / 3
    prompt = model.vision_model.encoder.layers[0].temporal_prompt
    bound = (6 / (3 * 16 * 16 + 32)) ** 0.5
    assert prompt.abs().max() <= bound and prompt.std() > bound / 3
    assert torch.count_nonzero(model.vision_model.temporal_embedding) == 0


# -- loading CLIP ---------------------------------------------------------------------------------------------------


def test_load_clip_checkpoint_into_t2l(tmp_path):
    clip_dir = save_tiny_clip(tmp_path / "clip")
    model, info = T2LForVideoClassification.from_clip(str(clip_dir), num_frames=4, output_loading_info=True)
    missing = set(info["missing_keys"])
    assert info["unexpected_keys"] == [] or not info["unexpected_keys"]
    assert not info["mismatched_keys"]
    assert missing == set(model.trainable_parameter_names()) | {"t2l.vision_model.temporal_embedding"}
    assert len(missing) == T2L_MISSING_KEYS_PER_TINY_MODEL

    clip = CLIPModel.from_pretrained(clip_dir).eval()
    model.eval()
    clip_state = clip.state_dict()
    for name, tensor in model.t2l.state_dict().items():
        if name in clip_state:
            assert torch.equal(tensor, clip_state[name]), name

    # adapters are the identity at init: the text tower is CLIP's
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    with torch.no_grad():
        ours = model.get_text_features(input_ids, attention_mask).pooler_output
        theirs = clip.get_text_features(input_ids=input_ids, attention_mask=attention_mask).pooler_output
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    assert set(n for n, p in model.named_parameters() if p.requires_grad) == set(model.trainable_parameter_names())


def test_without_temporal_tokens_t2l_is_clip_frame_averaging(tmp_path):
    """With temporal tokens off and fresh (identity) adapters, the video embedding is CLIP's frame average."""
    clip_dir = save_tiny_clip(tmp_path / "clip")
    model = T2LForVideoClassification.from_clip(str(clip_dir), num_frames=4, use_temporal_tokens=False).eval()
    clip = CLIPModel.from_pretrained(clip_dir).eval()
    pixel_values, _, _ = make_inputs(model.config)
    with torch.no_grad():
        ours = model.get_video_features(pixel_values).pooler_output
        frames = clip.get_image_features(pixel_values=pixel_values.flatten(0, 1)).pooler_output
    torch.testing.assert_close(ours, frames.view(2, 4, -1).mean(1), rtol=1e-5, atol=1e-6)


# -- save / load ----------------------------------------------------------------------------------------------------


def test_save_load_bit_exact(model, tmp_path):
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    loaded = AutoModelForVideoClassification.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, T2LForVideoClassification)
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    with torch.no_grad():
        assert torch.equal(model(pixel_values, input_ids, attention_mask).logits, loaded(pixel_values, input_ids, attention_mask).logits)


def test_saved_config_maps_every_auto_class(model, tmp_path):
    model.save_pretrained(tmp_path)
    auto_map = AutoConfig.from_pretrained(tmp_path).auto_map
    assert auto_map["AutoConfig"] == "configuration_t2l.T2LConfig"
    assert auto_map["AutoModel"] == "modeling_t2l.T2LModel"
    assert auto_map["AutoModelForVideoClassification"] == "modeling_t2l.T2LForVideoClassification"
    assert (tmp_path / "modeling_t2l.py").exists() and (tmp_path / "configuration_t2l.py").exists()


def test_base_model_checkpoint_loads_into_head(model, tmp_path):
    model.t2l.save_pretrained(tmp_path)
    head, info = T2LForVideoClassification.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    base = AutoModel.from_pretrained(tmp_path)
    assert isinstance(base, T2LModel)


# -- forward, losses ------------------------------------------------------------------------------------------------


def test_forward_shapes_and_loss_terms(model):
    pixel_values, input_ids, attention_mask = make_inputs(model.config, batch_size=3, num_texts=2)
    labels = torch.tensor([1, 0, 1])
    out = model(pixel_values, input_ids, attention_mask, labels=labels)
    assert out.logits.shape == (3, 2) and out.logits_per_text.shape == (2, 3)
    assert out.frame_embeds.shape == (3, 4, 16) and out.video_embeds.shape == (3, 16) and out.text_embeds.shape == (2, 16)
    torch.testing.assert_close(out.video_embeds.norm(dim=-1), torch.ones(3))
    expected_kl = kl_contrastive_loss(out.logits_per_video[:, labels], labels)
    expected_tfd = tfd_loss(out.frame_embeds)
    torch.testing.assert_close(out.loss_contrastive, expected_kl)
    torch.testing.assert_close(out.loss, expected_kl + expected_tfd)


def test_kl_loss_formula_by_hand():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.5, 1.5, 0.5], [0.0, 0.0, 3.0]])
    labels = torch.tensor([0, 1, 0])
    same = torch.tensor([[1.0, 0, 1], [0, 1, 0], [1, 0, 1]])
    q = torch.softmax(10 * same, dim=1)
    kl_v = (q * (q.log() - torch.log_softmax(logits, 1))).sum() / 3
    kl_t = (q * (q.log() - torch.log_softmax(logits.t(), 1))).sum() / 3
    torch.testing.assert_close(kl_contrastive_loss(logits, labels), (kl_v + kl_t) / 2)


def test_tfd_formula_by_hand():
    f = torch.tensor([[[0.0, 1.0], [2.0, 1.0], [4.0, 0.0]]])  # (B=1, T=3, E=2)
    central = (torch.tensor([[2.0, 0.0], [4.0, 1.0], [2.0, 1.0]]) / 2).mean()
    unbiased = f.var(dim=1, unbiased=True).mean()
    biased = f.var(dim=1, unbiased=False).mean()
    torch.testing.assert_close(tfd_loss(f), 1 / (central + unbiased + 1))
    torch.testing.assert_close(tfd_loss(f, unbiased=False), 1 / (central + biased + 1))


def test_paper_variants_change_the_loss(model):
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    labels = torch.tensor([2, 0])
    official = model(pixel_values, input_ids, attention_mask, labels=labels)
    variant_model = T2LForVideoClassification(
        tiny_t2l_config(contrastive_loss="cross_entropy", tfd_variance="biased")
    ).eval()
    variant_model.load_state_dict(model.state_dict())
    variant = variant_model(pixel_values, input_ids, attention_mask, labels=labels)
    torch.testing.assert_close(variant.loss_contrastive, F.cross_entropy(official.logits, labels))
    torch.testing.assert_close(variant.loss_tfd, tfd_loss(official.frame_embeds, unbiased=False))


def test_wrong_number_of_frames_is_a_clear_error(model):
    with pytest.raises(ValueError, match="built for 4 frames"):
        model.get_video_features(torch.randn(1, 3, 3, 32, 32)).pooler_output


def test_zero_shot_probabilities_use_the_fixed_scale():
    video, text = torch.randn(2, 8), torch.randn(5, 8)
    expected = torch.softmax(100 * F.normalize(video, dim=-1) @ F.normalize(text, dim=-1).t(), dim=-1)
    torch.testing.assert_close(zero_shot_probabilities(video, text, 100.0), expected)


# -- training behaviour ---------------------------------------------------------------------------------------------


def test_gradients_only_on_trainable_parameters(model):
    model.freeze_backbone().train()
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    model(pixel_values, input_ids, attention_mask, labels=torch.tensor([0, 1])).loss.backward()
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            assert parameter.grad is not None and torch.count_nonzero(parameter.grad) > 0, name
        else:
            assert parameter.grad is None, name


def test_frozen_tensors_unchanged_after_optimizer_steps(model):
    model.freeze_backbone().train()
    before = copy.deepcopy(model.state_dict())
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.2)
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    for _ in range(3):
        optimizer.zero_grad()
        model(pixel_values, input_ids, attention_mask, labels=torch.tensor([0, 1])).loss.backward()
        optimizer.step()
    trainable = set(model.trainable_parameter_names())
    for name, tensor in model.state_dict().items():
        if name in trainable:
            assert not torch.equal(tensor, before[name]), name
        else:
            assert torch.equal(tensor, before[name]), name


def test_dropout_and_drop_path_are_active_only_in_training(model):
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    with torch.no_grad():
        eval_a = model.get_video_features(pixel_values).pooler_output
        eval_b = model.get_video_features(pixel_values).pooler_output
        model.train()
        torch.manual_seed(1)
        train_a = model.get_video_features(pixel_values).pooler_output
        torch.manual_seed(2)
        train_b = model.get_video_features(pixel_values).pooler_output
    assert torch.equal(eval_a, eval_b)
    assert not torch.allclose(train_a, train_b)


def test_activation_checkpointing_gives_the_same_gradients(model):
    model.freeze_backbone()
    model.config.drop_path_rate = 0.0
    state = copy.deepcopy(model.state_dict())
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    labels = torch.tensor([0, 1])

    def gradients(checkpointing):
        fresh = T2LForVideoClassification(tiny_t2l_config(drop_path_rate=0.0, temporal_token_dropout=0.0))
        fresh.load_state_dict(state)
        fresh.freeze_backbone().train()
        if checkpointing:
            fresh.activation_checkpointing_enable()
            layers = list(fresh.t2l.vision_model.encoder.layers) + list(fresh.t2l.text_model.encoder.layers)
            assert all(layer.gradient_checkpointing for layer in layers)
        fresh(pixel_values, input_ids, attention_mask, labels=labels).loss.backward()
        return {n: p.grad.clone() for n, p in fresh.named_parameters() if p.requires_grad}

    plain, checkpointed = gradients(False), gradients(True)
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], rtol=1e-5, atol=1e-7)


# -- numerics: attention backends, batching, compilation -----------------------------------------------------------


def test_sdpa_is_the_default_and_matches_eager(model):
    assert model.config.vision_config._attn_implementation == "sdpa"
    assert model.config.text_config._attn_implementation == "sdpa"
    pixel_values, input_ids, attention_mask = make_inputs(model.config)
    with torch.no_grad():
        sdpa = model(pixel_values, input_ids, attention_mask)
        model.set_attn_implementation("eager")
        assert model.config.vision_config._attn_implementation == "eager"
        eager = model(pixel_values, input_ids, attention_mask)
    torch.testing.assert_close(sdpa.logits, eager.logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sdpa.frame_embeds, eager.frame_embeds, rtol=1e-5, atol=1e-5)


def test_batching_equivalence(model):
    pixel_values, input_ids, attention_mask = make_inputs(model.config, batch_size=3)
    with torch.no_grad():
        batched = model.get_video_features(pixel_values).pooler_output
        single = torch.cat([model.get_video_features(pixel_values[i : i + 1]).pooler_output for i in range(3)])
        texts = model.get_text_features(input_ids, attention_mask).pooler_output
        text_single = torch.cat([model.get_text_features(input_ids[i : i + 1], attention_mask[i : i + 1]).pooler_output for i in range(3)])
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(texts, text_single, rtol=1e-5, atol=1e-6)


def test_torch_compile_matches_eager(model):
    pixel_values, _, _ = make_inputs(model.config)
    compiled = torch.compile(model.t2l.get_video_features, backend="aot_eager", fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(pixel_values).pooler_output, model.get_video_features(pixel_values).pooler_output, rtol=1e-5, atol=1e-6)


def test_torch_export_runs(model):
    class VideoEncoder(torch.nn.Module):
        def __init__(self, t2l):
            super().__init__()
            self.t2l = t2l

        def forward(self, pixel_values):
            return self.t2l.get_video_features(pixel_values).pooler_output

    pixel_values, _, _ = make_inputs(model.config)
    exported = torch.export.export(VideoEncoder(model.t2l), (pixel_values,))
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(pixel_values), model.get_video_features(pixel_values).pooler_output, rtol=1e-5, atol=1e-6)


def test_attention_dropout_follows_drop_path_unless_overridden():
    official = T2LModel(tiny_t2l_config(drop_path_rate=0.1))
    rates = [layer.self_attn.dropout for layer in official.vision_model.encoder.layers]
    assert rates == [0.0, 0.1]  # linspace(0, 0.1, 2), the per-layer drop-path rates
    assert [layer.drop_path.drop_prob for layer in official.text_model.encoder.layers] == [0.0, 0.1]
    fused = T2LModel(tiny_t2l_config(drop_path_rate=0.1, attention_dropout=0.0))
    assert all(layer.self_attn.dropout == 0.0 for layer in fused.vision_model.encoder.layers)
    assert [layer.drop_path.drop_prob for layer in fused.vision_model.encoder.layers] == [0.0, 0.1]
