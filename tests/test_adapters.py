"""Adapters-only artifacts: only the trained T2L tensors are saved, and they restore the full model bit-exactly."""
import json

import pytest
import torch
from safetensors.torch import load_file

from modeling_t2l import T2LConfig, T2LForVideoClassification, T2LModel
from modeling_t2l.models.t2l.adapters import (
    ADAPTER_CONFIG_NAME,
    ADAPTER_WEIGHTS_NAME,
    AdapterLoadError,
    adapter_state_dict,
    apply_text_lora,
    load_adapters,
    save_adapters,
)
from tests.tiny import save_tiny_clip, tiny_text_config, tiny_vision_config


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return save_tiny_clip(tmp_path_factory.mktemp("clip") / "clip")


def _perturbed(model, seed=0):
    """Give every trainable tensor random values (a stand-in for training; fc2 starts at exactly zero)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return model


def _inputs(model):
    torch.manual_seed(1)
    return dict(pixel_values=torch.randn(2, model.config.num_frames, 3, 32, 32),
                input_ids=torch.tensor([[49406, 320, 1125, 49407], [49406, 550, 49407, 49407]]),
                attention_mask=torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]))


def test_save_writes_only_trainable_tensors_and_names_the_base(clip_dir, tmp_path):
    model = _perturbed(T2LForVideoClassification.from_clip(str(clip_dir), num_frames=4))
    save_adapters(model, tmp_path / "adapters")
    state = load_file(str(tmp_path / "adapters" / ADAPTER_WEIGHTS_NAME))
    assert set(state) == {name.removeprefix("t2l.") for name in model.trainable_parameter_names()}
    assert not any("q_proj" in key or "embeddings" in key for key in state)  # nothing of CLIP
    config = json.loads((tmp_path / "adapters" / ADAPTER_CONFIG_NAME).read_text())
    assert config["base_model_name_or_path"] == str(clip_dir)
    assert config["t2l_config"]["num_frames"] == 4


def test_restore_is_bit_exact_for_every_tensor_and_output(clip_dir, tmp_path):
    model = _perturbed(T2LForVideoClassification.from_clip(str(clip_dir), num_frames=4)).eval()
    save_adapters(model, tmp_path / "adapters")
    restored = T2LForVideoClassification.from_adapters(tmp_path / "adapters").eval()
    original = dict(model.named_parameters())
    for name, parameter in restored.named_parameters():
        assert torch.equal(parameter, original[name]), name
    assert restored.trainable_parameter_names() == model.trainable_parameter_names()
    with torch.no_grad():
        assert torch.equal(model(**_inputs(model)).logits, restored(**_inputs(model)).logits)
    # the same file also loads into the base model class (names carry no `t2l.` prefix)
    base = T2LModel.from_pretrained(str(clip_dir), config=model.config)
    load_adapters(base, tmp_path / "adapters")
    assert torch.equal(base.vision_model.encoder.layers[1].temporal_prompt,
                       model.t2l.vision_model.encoder.layers[1].temporal_prompt)


def test_wrongly_built_model_is_refused_with_the_file_named(clip_dir, tmp_path):
    save_adapters(T2LForVideoClassification.from_clip(str(clip_dir), num_frames=4), tmp_path / "adapters")
    other = T2LForVideoClassification.from_clip(str(clip_dir), num_frames=2)
    with pytest.raises(AdapterLoadError, match=rf"{ADAPTER_CONFIG_NAME}.*num_frames: saved 4 vs model 2"):
        load_adapters(other, tmp_path / "adapters")
    with pytest.raises(FileNotFoundError, match=ADAPTER_CONFIG_NAME):
        load_adapters(other, tmp_path)


def test_vit_b16_artifact_is_about_21_mb():
    config = T2LConfig(
        text_config=tiny_text_config(hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                                     num_attention_heads=8).to_dict(),
        vision_config=tiny_vision_config(image_size=224, hidden_size=768, intermediate_size=3072,
                                         num_hidden_layers=12, num_attention_heads=12, patch_size=16).to_dict(),
        projection_dim=512, num_frames=8,
    )
    with torch.device("meta"):
        model = T2LForVideoClassification(config).freeze_backbone()
    state = adapter_state_dict(model)
    num_bytes = sum(tensor.numel() * tensor.element_size() for tensor in state.values())
    assert sum(tensor.numel() for tensor in state.values()) == 5_204_736
    assert 20.5e6 < num_bytes < 21.5e6


def test_lora_text_variant_saves_and_restores(clip_dir, tmp_path):
    model = T2LForVideoClassification.from_clip(str(clip_dir), num_frames=4, use_text_adapters=False).eval()
    with torch.no_grad():
        before = model(**_inputs(model)).logits
    apply_text_lora(model, r=2, alpha=4)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert any("lora_A" in name for name in trainable) and any("temporal_prompt" in name for name in trainable)
    assert not any("text_model" in name and "lora_" not in name for name in trainable)
    with torch.no_grad():  # LoRA B starts at zero: the model is unchanged until trained
        assert torch.equal(model(**_inputs(model)).logits, before)
    _perturbed(model, seed=3)
    save_adapters(model, tmp_path / "lora")
    restored = T2LForVideoClassification.from_adapters(tmp_path / "lora").eval()
    assert {n for n, _ in restored.named_parameters()} == {n for n, _ in model.named_parameters()}
    original = dict(model.named_parameters())
    assert all(torch.equal(p, original[n]) for n, p in restored.named_parameters())
    with torch.no_grad():
        assert torch.equal(model(**_inputs(model)).logits, restored(**_inputs(model)).logits)


def test_model_methods_and_from_clip_adapters_round_trip(clip_dir, tmp_path):
    """The documented user path: model.save_adapters(dir), then from_clip(base, adapters=dir)."""
    model = _perturbed(T2LForVideoClassification.from_clip(str(clip_dir), num_frames=4)).eval()
    model.save_adapters(tmp_path / "adapters")
    restored = T2LForVideoClassification.from_clip(str(clip_dir), num_frames=4, adapters=tmp_path / "adapters").eval()
    for (name, a), (_, b) in zip(model.state_dict().items(), restored.state_dict().items()):
        assert torch.equal(a, b), name
    assert set(n for n, p in restored.named_parameters() if p.requires_grad) == set(model.trainable_parameter_names())
    with torch.no_grad():
        assert torch.equal(model(**_inputs(model)).logits, restored(**_inputs(model)).logits)
