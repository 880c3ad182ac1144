"""The TC-CLIP converter: what it accepts, what it refuses (naming every key), family detection, WiSE-FT, the CLI."""
from __future__ import annotations

import json
import os

import pytest
import torch
from transformers import CLIPModel

from modeling_t2l.cli import main as cli_main
from modeling_t2l.processing.image_processing_t2l import T2LImageProcessor
from modeling_t2l.models.tc_clip import TCCLIPForVideoClassification
from modeling_t2l.models.tc_clip.conversion import (
    ConversionError,
    convert_state_dict,
    detect_checkpoint_family,
    detect_family,
    load_official_state_dict,
    wise_ft_state_dict,
)
from modeling_t2l.models.tc_clip.processing_defaults import IMAGENET_MEAN, IMAGENET_STD
from tests import reference_tc_clip as ref
from tests.test_tc_clip_parity import FIXTURES, conversion_options, load_case, write_released_checkpoint


@pytest.fixture
def official():
    sd, table = ref.random_official_state_dict(seed=3)
    return ref.add_bias_tables(sd, 1, seed=3), table


def convert(sd, table, **kwargs):
    return convert_state_dict(sd, token_embedding=table, **kwargs)


# -- accepted layouts ----------------------------------------------------------------------------------------------


def test_released_layout_is_read_without_running_pickled_code(tmp_path):
    """The official file pickles its config object; weights_only refuses it, the tensor-only reader does not run it."""
    meta, weights, table, inputs, _ = load_case("tiny_t1_b2")
    checkpoint, _ = write_released_checkpoint(weights, inputs, table, tmp_path)
    with pytest.raises(Exception):
        torch.load(checkpoint, weights_only=True)
    state = load_official_state_dict(checkpoint)
    assert not any(k.startswith("module.") for k in state)
    assert "prompt_learner.token_prefix" not in state and "prompt_learner.token_suffix" not in state
    assert state.keys() == weights.keys() and all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickled_code_in_a_checkpoint_is_never_executed(tmp_path, official):
    sd, _ = official
    marker = tmp_path / "executed"
    torch.save({"model": sd, "config": RunsCode(marker)}, tmp_path / "evil.pth")
    state = load_official_state_dict(tmp_path / "evil.pth")
    assert not marker.exists() and state.keys() == sd.keys()


def test_token_table_from_the_state_dict(official):
    sd, table = official
    config, converted = convert_state_dict({**sd, "text_encoder.token_embedding.weight": table})
    assert torch.equal(converted["text_model.embeddings.token_embedding.weight"], table)
    assert config.text_config.vocab_size == table.shape[0]


def test_mapping_details(official):
    sd, table = official
    config, converted = convert(sd, table, vision_heads=1)
    torch.testing.assert_close(converted["visual_projection.weight"], sd["image_encoder.proj"].t())
    torch.testing.assert_close(converted["text_projection.weight"], sd["text_encoder.text_projection"].t())
    packed = sd["text_encoder.prompt_generation_layer.0.attn.in_proj_weight"]
    for i, name in enumerate("qkv"):
        torch.testing.assert_close(converted[f"text_model.video_prompt_layers.0.cross_attn.{name}_proj.weight"],
                                   packed[64 * i : 64 * (i + 1)])
    table_1 = sd["image_encoder.transformer.resblocks.1.attn.local_global_bias_table"]
    torch.testing.assert_close(converted["vision_model.encoder.layers.1.self_attn.local_global_bias"], table_1[:, 0])
    torch.testing.assert_close(converted["text_model.video_prompt_layers.0.layer_norm_kv.weight"],
                               sd["text_encoder.prompt_generation_layer.0.ln_1_kv.weight"])
    assert converted["text_model.prompt_context"].shape == (4, 64)
    assert config.vision_config.num_attention_heads == 1 and config.text_config.num_attention_heads == 1  # 64 // 64
    assert config.use_local_global_bias and config.text_config.eos_token_id == 49407


def test_packed_vision_attention_is_split(official):
    sd, table = official
    packed = dict(sd)
    for i in range(2):
        prefix = f"image_encoder.transformer.resblocks.{i}.attn"
        packed[f"{prefix}.in_proj_weight"] = torch.cat([packed.pop(f"{prefix}.{p}_proj.weight") for p in "qkv"])
        packed[f"{prefix}.in_proj_bias"] = torch.cat([packed.pop(f"{prefix}.{p}_proj.bias") for p in "qkv"])
    _, split = convert(sd, table)
    _, from_packed = convert(packed, table)
    assert split.keys() == from_packed.keys()
    assert all(torch.equal(split[k], from_packed[k]) for k in split)


# -- refusals ------------------------------------------------------------------------------------------------------


def test_refuses_without_a_token_table(official):
    sd, _ = official
    with pytest.raises(ConversionError, match="do not hold the token embedding: name the CLIP"):
        convert_state_dict(sd)


def test_refuses_unmapped_missing_and_misshapen_keys_listing_each(official):
    sd, table = official
    broken = dict(sd)
    broken["image_encoder.temporal_embedding"] = torch.zeros(1, 16, 64)
    del broken["text_encoder.transformer.resblocks.1.mlp.c_fc.bias"]
    broken["text_encoder.prompt_generation_layer.0.ln_1_kv.weight"] = torch.ones(32)
    with pytest.raises(ConversionError) as info:
        convert(broken, table)
    message = str(info.value)
    assert "1 unmapped key(s)" in message and "image_encoder.temporal_embedding" in message
    assert "1 missing key(s)" in message and "text_encoder.transformer.resblocks.1.mlp.c_fc.bias" in message
    assert "ln_1_kv.weight: (32,), expected (64,)" in message


@pytest.mark.parametrize(
    "edit, kwargs, message",
    [
        (lambda sd: sd.pop("prompt_learner.ctx"), {}, "not a TC-CLIP state dict: missing prompt_learner.ctx"),
        (lambda sd: sd.update({"prompt_learner.ctx": torch.zeros(8, 64)}), {}, "pass prompt_context_init with 8 words"),
        (lambda sd: None, {"vision_heads": 3}, "vision width 64 cannot be split into heads with vision_heads=3"),
        (lambda sd: None, {"context_tokens": 0}, "context_tokens must be a positive integer"),
    ],
)
def test_refusals_name_the_problem(official, edit, kwargs, message):
    sd, table = official
    sd = dict(sd)
    edit(sd)
    with pytest.raises(ConversionError, match=message):
        convert(sd, table, **kwargs)


def test_several_prompting_layers_need_their_levels():
    sd, table = ref.random_official_state_dict(num_prompt_layers=2, seed=1)
    with pytest.raises(ConversionError, match="pass vp_levels"):
        convert(sd, table)
    config, _ = convert(sd, table, vp_levels=[0, 1])
    assert config.resolved_vp_levels == [0, 1]


def test_refuses_other_families_with_a_hint(official):
    sd, table = official
    vifi = {k: v for k, v in sd.items() if not k.startswith("prompt_learner") and "local_global" not in k
            and "prompt_generation" not in k}
    with pytest.raises(ConversionError, match="ViFi-CLIP checkpoint"):
        convert(vifi, table)
    with pytest.raises(ConversionError, match="T2L / OpenAI CLIP checkpoint"):
        convert({"visual.conv1.weight": torch.zeros(64, 3, 8, 8)}, table)


def test_bad_files_are_named(tmp_path):
    with pytest.raises(ConversionError, match="missing.pth: no such checkpoint file"):
        load_official_state_dict(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ConversionError, match="junk.pth: cannot be read"):
        load_official_state_dict(tmp_path / "junk.pth")
    torch.save({"model": {"a": 1}}, tmp_path / "odd.pth")
    with pytest.raises(ConversionError, match="odd.pth: .*non-tensor entries: a"):
        load_official_state_dict(tmp_path / "odd.pth")


# -- family detection ------------------------------------------------------------------------------------------------


def test_detect_family(official, tmp_path):
    sd, _ = official
    assert detect_family(sd) == "tc_clip"
    assert detect_family({"module." + k: v for k, v in sd.items()}) == "tc_clip"
    assert detect_family({"model": sd}) == "tc_clip"
    assert detect_family({k: v for k, v in sd.items() if k.startswith("image_encoder.") and "local_global" not in k}) == "vifi_clip"
    assert detect_family({"visual.conv1.weight": 0, "positional_embedding": 0}) == "t2l"
    # a T2L checkpoint with a stray key stays T2L, so that its converter names the key
    assert detect_family({"visual.conv1.weight": 0, "prompt_learner.ctx": 0}) == "t2l"
    assert detect_family({"something.else": 0}) is None
    assert detect_checkpoint_family(FIXTURES.parent / "official_t2l" / "tiny_t8" / "checkpoint.pt") == "t2l"
    meta, weights, table, inputs, _ = load_case("tiny_t1_b2")
    checkpoint, _ = write_released_checkpoint(weights, inputs, table, tmp_path)
    assert detect_checkpoint_family(checkpoint) == "tc_clip"


# -- WiSE-FT -------------------------------------------------------------------------------------------------------


def test_wise_ft_blends_the_clip_tensors_only(official):
    sd, table = official
    _, converted = convert(sd, table)
    clip = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in converted.items()}
    blended = wise_ft_state_dict(converted, clip, alpha=0.7)
    name = "vision_model.encoder.layers.0.mlp.fc1.weight"
    torch.testing.assert_close(blended[name], 0.3 * clip[name] + 0.7 * converted[name])
    torch.testing.assert_close(blended["logit_scale"], 0.3 * clip["logit_scale"] + 0.7 * converted["logit_scale"])
    for kept in ("text_model.prompt_context", "vision_model.encoder.layers.1.self_attn.local_global_bias",
                 "text_model.video_prompt_layers.0.cross_attn.q_proj.weight",
                 "text_model.embeddings.token_embedding.weight"):
        assert torch.equal(blended[kept], converted[kept]), kept
    with pytest.raises(ValueError, match="alpha must be in"):
        wise_ft_state_dict(converted, clip, alpha=2.0)


# -- the CLI -------------------------------------------------------------------------------------------------------


def test_t2l_convert_detects_tc_clip_and_writes_a_loadable_directory(tmp_path, capsys):
    meta, weights, table, inputs, expected = load_case("tiny_t1_b2")
    checkpoint, clip = write_released_checkpoint(weights, inputs, table, tmp_path)
    options = conversion_options(meta)
    code = cli_main([
        "convert", "--checkpoint", str(checkpoint), "--output-dir", str(tmp_path / "out"), "--clip", str(clip),
        "--text-heads", str(options["text_heads"]), "--vision-heads", str(options["vision_heads"]),
        "--context-tokens", str(options["context_tokens"]), "--merge-r", str(options["merge_r"]),
        "--context-length", str(options["context_length"]),
    ])
    assert code == 0, capsys.readouterr().err
    assert "CC BY-NC 4.0" in capsys.readouterr().out
    model = TCCLIPForVideoClassification.from_pretrained(tmp_path / "out").eval()
    with torch.no_grad():
        logits = model(inputs["video"].float(), inputs["input_ids"]).logits
    assert float((logits - expected["logits"]).abs().max() / expected["logits"].abs().max()) <= 1e-5
    processor = json.loads((tmp_path / "out" / "preprocessor_config.json").read_text())
    assert processor["image_mean"] == list(IMAGENET_MEAN) and processor["image_std"] == list(IMAGENET_STD)
    assert processor["num_frames"] == 16 and processor["crop_size"] == 48 and processor["shortest_edge"] == 54
    assert isinstance(T2LImageProcessor.from_pretrained(tmp_path / "out"), T2LImageProcessor)


def test_t2l_convert_reports_a_missing_token_table(tmp_path, capsys):
    meta, weights, table, inputs, _ = load_case("tiny_t1_b2")
    checkpoint, _ = write_released_checkpoint(weights, inputs, table, tmp_path)
    code = cli_main(["convert", "--family", "tc_clip", "--checkpoint", str(checkpoint), "--output-dir", str(tmp_path / "o")])
    assert code == 1
    err = capsys.readouterr().err
    assert "best.pth" in err and "name the CLIP it was trained from" in err


def test_wise_ft_through_the_converter(tmp_path):
    """convert_checkpoint(wise_ft_alpha=0.7) blends with the CLIP named by `clip`, and records alpha."""
    from modeling_t2l.models.tc_clip.conversion import convert_checkpoint

    meta, weights, table, inputs, _ = load_case("tiny_t1_b2")
    checkpoint, _ = write_released_checkpoint(weights, inputs, table, tmp_path)
    options = conversion_options(meta)
    config, converted = convert_state_dict(load_official_state_dict(checkpoint), token_embedding=table, **options)
    clip_config = {
        "text_config": config.text_config.to_dict(), "vision_config": config.vision_config.to_dict(),
        "projection_dim": config.projection_dim,
    }
    from transformers import CLIPConfig

    torch.manual_seed(0)
    clip = CLIPModel(CLIPConfig(**clip_config))
    with torch.no_grad():
        clip.text_model.embeddings.token_embedding.weight.copy_(table)
    clip.save_pretrained(tmp_path / "clip")
    model = convert_checkpoint(checkpoint, tmp_path / "blend", clip=tmp_path / "clip", wise_ft_alpha=0.7,
                               save_processor=False, **options)
    assert model.config.wise_ft_alpha == 0.7
    name = "vision_model.encoder.layers.0.mlp.fc1.weight"
    blended = model.tc_clip.state_dict()[name]
    torch.testing.assert_close(blended, 0.3 * clip.state_dict()[name] + 0.7 * converted[name])
    assert torch.equal(model.tc_clip.text_model.prompt_context, converted["text_model.prompt_context"])
