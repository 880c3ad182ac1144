"""Converted weights must be finite floats: NaN / Inf and integer tensors are refused, naming every key."""
from __future__ import annotations

import pytest
import torch

from modeling_t2l.cli import main as cli_main
from modeling_t2l.models.conversion_utils import check_tensor_values, tensor_value_problems
from modeling_t2l.models.t2l.conversion import ConversionError, convert_state_dict
from tests import reference_t2l as ref
from tests.test_conversion import save_official_checkpoint


def test_nan_and_inf_tensors_are_refused_naming_the_keys():
    sd = ref.random_official_state_dict(T=2, seed=11)
    sd["visual.proj"] = sd["visual.proj"].clone()
    sd["visual.proj"][0, 0] = float("nan")
    sd["ln_final.bias"] = sd["ln_final.bias"].clone()
    sd["ln_final.bias"][:2] = float("inf")  # fp16 overflow in the official checkpoint format
    with pytest.raises(ConversionError, match="NaN or Inf") as caught:
        convert_state_dict(sd, text_heads=1, vision_heads=1)
    message = str(caught.value)
    assert "visual.proj (1 of" in message and "ln_final.bias (2 of" in message


def test_integer_tensors_where_weights_belong_are_refused(tmp_path, capsys):
    sd = ref.random_official_state_dict(T=2, seed=12)
    sd["token_embedding.weight"] = sd["token_embedding.weight"].round().to(torch.int64)
    sd["visual.class_embedding"] = torch.zeros_like(sd["visual.class_embedding"], dtype=torch.int32)
    checkpoint = save_official_checkpoint(tmp_path / "ints.pt", sd)
    code = cli_main(["convert", "--checkpoint", str(checkpoint), "--output-dir", str(tmp_path / "out"),
                     "--text-heads", "1", "--vision-heads", "1"])
    assert code == 1
    message = capsys.readouterr().err
    assert str(checkpoint) in message
    assert "token_embedding.weight (int64)" in message and "visual.class_embedding (int32)" in message
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_shared_check_lists_both_problems_and_passes_clean_weights():
    clean = {"a": torch.ones(3), "b": torch.zeros(2, dtype=torch.float16)}
    assert tensor_value_problems(clean) == []
    check_tensor_values(clean)  # no error
    bad = {**clean, "c": torch.tensor([1.0, float("-inf")]), "ids": torch.arange(3), "steps": torch.tensor(4)}
    problems = tensor_value_problems(bad, float_keys=["a", "b", "c", "ids"])  # `steps` may be an integer
    assert problems == ["1 tensor(s) with NaN or Inf values: c (1 of 2 values)",
                        "1 integer/bool tensor(s) where floating-point weights belong: ids (int64)"]
    with pytest.raises(KeyError, match="ids"):
        check_tensor_values(bad, float_keys=["ids"], error=KeyError)


def test_tc_clip_converter_refuses_nan_and_integer_tensors():
    from modeling_t2l.models.tc_clip.conversion import ConversionError as TCError, convert_state_dict as convert_tc
    from tests import reference_tc_clip

    sd, table = reference_tc_clip.random_official_state_dict(seed=3)
    sd = dict(reference_tc_clip.add_bias_tables(sd, 1, seed=3))
    convert_tc(sd, token_embedding=table)  # clean weights convert
    key = next(k for k in sd if k.endswith("ln_final.weight"))
    sd[key] = sd[key].clone()
    sd[key][0] = float("nan")
    bad_table = table.round().to(torch.int64)
    with pytest.raises(TCError, match="NaN or Inf") as caught:
        convert_tc(sd, token_embedding=bad_table)
    assert f"{key} (1 of" in str(caught.value) and "text_encoder.token_embedding.weight (int64)" in str(caught.value)


def test_vifi_clip_converter_refuses_inf_tensors():
    from modeling_t2l.models.vifi_clip.conversion import ConversionError as ViFiError, convert_state_dict as convert_vifi
    from tests.test_family_vifi_clip import official_state_dict, tiny_clip_config
    from transformers import CLIPModel

    torch.manual_seed(0)
    clip = CLIPModel(tiny_clip_config()).eval()
    table = clip.text_model.embeddings.token_embedding.weight.detach()
    sd = official_state_dict(clip)
    convert_vifi(sd, table, num_frames=4, text_heads=2, vision_heads=2)
    key = "module.image_encoder.proj"
    sd[key] = sd[key].clone()
    sd[key][0, :3] = float("inf")
    with pytest.raises(ViFiError, match="NaN or Inf") as caught:
        convert_vifi(sd, table, num_frames=4, text_heads=2, vision_heads=2)
    assert "image_encoder.proj (3 of 512 values)" in str(caught.value)  # named without the DDP prefix
