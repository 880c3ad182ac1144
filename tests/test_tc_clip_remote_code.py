"""A saved TC-CLIP directory loads with `trust_remote_code=True` where `modeling_t2l` is not importable."""
from __future__ import annotations

import json
import textwrap

import torch

from tests.isolated import run_without_package
from tests.test_tc_clip_modeling import make_inputs, perturb, tiny_config

CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification

    work = Path(sys.argv[1])
    config = AutoConfig.from_pretrained(work / "model", trust_remote_code=True)
    head = AutoModelForVideoClassification.from_pretrained(work / "model", trust_remote_code=True).eval()
    base = AutoModel.from_pretrained(work / "model", trust_remote_code=True).eval()
    x = torch.load(work / "inputs.pt", weights_only=True)
    with torch.no_grad():
        logits = head(x["video"], x["input_ids"], x["attention_mask"]).logits
        video = base.get_video_features(x["video"])
        text = base.get_text_features(x["input_ids"], x["attention_mask"], video_outputs=video).pooler_output
    torch.save({"logits": logits, "text": text}, work / "outputs.pt")
    print(json.dumps([type(config).__name__, type(head).__module__, type(base).__name__]))
    """
)


def test_remote_code_loading_without_the_package(tmp_path):
    from modeling_t2l.models.tc_clip import TCCLIPForVideoClassification

    torch.manual_seed(0)
    model = perturb(TCCLIPForVideoClassification(tiny_config()).eval())
    model.save_pretrained(tmp_path / "model")
    for name in ("modeling_tc_clip.py", "configuration_tc_clip.py", "losses.py"):
        assert (tmp_path / "model" / name).is_file(), name
    video, input_ids, attention_mask = make_inputs(model.config)
    torch.save({"video": video, "input_ids": input_ids, "attention_mask": attention_mask}, tmp_path / "inputs.pt")
    result = run_without_package(CHILD, [tmp_path], tmp_path)
    config_name, head_module, base_name = json.loads(result.stdout.strip().splitlines()[-1])
    assert config_name == "TCCLIPConfig" and base_name == "TCCLIPModel"
    assert "modeling_t2l" not in head_module  # the copied code, not the package
    outputs = torch.load(tmp_path / "outputs.pt", weights_only=True)
    with torch.no_grad():
        logits = model(video, input_ids, attention_mask).logits
    torch.testing.assert_close(outputs["logits"], logits, rtol=1e-5, atol=1e-6)
    assert outputs["text"].shape == (2, 3, 32)
