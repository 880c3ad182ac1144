"""`trust_remote_code=True` loading where `modeling_t2l` is NOT importable (a Hub user without the package).

The parent saves a tiny random model (tests/tiny.py) and a converted official fixture with `save_pretrained`,
which copies configuration_t2l.py / modeling_t2l.py next to the weights and writes an `auto_map` listing the
config, the base model and the head. A child Python process, started isolated (`-I`: no PYTHONPATH, no user
site, not the repository as working directory) and with an import blocker for `modeling_t2l` (an editable install
would otherwise still expose it), loads both directories through AutoConfig / AutoModel /
AutoModelForVideoClassification offline and returns its outputs, which must equal the in-process model's.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import torch
from safetensors.torch import load_file

from modeling_t2l import T2LForVideoClassification
from modeling_t2l.models.t2l.conversion import convert_checkpoint
from tests.isolated import run_without_package
from tests.tiny import tiny_t2l_config

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "official_t2l" / "tiny_t8"

CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification

    work = Path(sys.argv[1])
    report = {}
    try:
        AutoConfig.from_pretrained(work / "tiny")
    except ValueError as err:
        report["without_flag"] = "trust_remote_code" in str(err)
    inputs = torch.load(work / "inputs.pt", weights_only=True)
    outputs = {}
    for name in ("tiny", "converted"):
        folder = work / name
        config = AutoConfig.from_pretrained(folder, trust_remote_code=True)
        head = AutoModelForVideoClassification.from_pretrained(folder, trust_remote_code=True).eval()
        base = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
        report[name] = {
            "config": type(config).__module__ + "." + type(config).__name__,
            "head": type(head).__module__ + "." + type(head).__name__,
            "base": type(base).__module__ + "." + type(base).__name__,
        }
        x = inputs[name]
        with torch.no_grad():
            out = head(pixel_values=x["video"], input_ids=x["input_ids"], attention_mask=x["attention_mask"],
                       labels=x["labels"])
            outputs[name] = {
                "frame_embeds": out.frame_embeds, "logits_per_video": out.logits_per_video, "loss": out.loss,
                "base_video": base.get_video_features(x["video"]).pooler_output,
                "base_text": base.get_text_features(x["input_ids"], x["attention_mask"]).pooler_output,
            }
    torch.save(outputs, work / "outputs.pt")
    (work / "report.json").write_text(json.dumps(report))
    """
)


def _in_process_outputs(model, x):
    with torch.no_grad():
        out = model(pixel_values=x["video"], input_ids=x["input_ids"], attention_mask=x["attention_mask"],
                    labels=x["labels"])
        return {
            "frame_embeds": out.frame_embeds, "logits_per_video": out.logits_per_video, "loss": out.loss,
            "base_video": model.get_video_features(x["video"]).pooler_output,
            "base_text": model.get_text_features(x["input_ids"], x["attention_mask"]).pooler_output,
        }


def test_remote_code_loads_without_the_package(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    torch.manual_seed(0)
    config = tiny_t2l_config(num_frames=4)
    tiny = T2LForVideoClassification(config).eval()
    with torch.no_grad():  # adapters start as the identity: make them matter
        for name, param in tiny.named_parameters():
            if "adapter.fc2" in name:
                param.normal_(0, 0.02)
    tiny.save_pretrained(work / "tiny")
    converted = convert_checkpoint(FIXTURE / "checkpoint.pt", work / "converted", text_heads=2, vision_heads=1)

    saved = json.loads((work / "tiny" / "config.json").read_text())
    assert set(saved["auto_map"]) == {"AutoConfig", "AutoModel", "AutoModelForVideoClassification"}
    assert (work / "tiny" / "modeling_t2l.py").is_file() and (work / "tiny" / "configuration_t2l.py").is_file()

    fixture = load_file(FIXTURE / "tensors.safetensors")
    gen = torch.Generator().manual_seed(1)
    inputs = {
        "tiny": {
            "video": torch.randn(2, 4, 3, 32, 32, generator=gen),
            "input_ids": torch.tensor([[49406, 320, 1125, 49407, 49407], [49406, 539, 49407, 49407, 49407]]),
            "attention_mask": torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]]),
            "labels": torch.tensor([1, 0]),
        },
        "converted": {
            "video": fixture["video"].float(), "input_ids": fixture["input_ids"],
            "attention_mask": fixture["attention_mask"], "labels": fixture["train_labels"],
        },
    }
    torch.save(inputs, work / "inputs.pt")

    run_without_package(CHILD, [work], tmp_path, timeout=600)

    report = json.loads((work / "report.json").read_text())
    assert report["without_flag"] is True  # no silent fallback: remote code needs the flag
    for name in ("tiny", "converted"):
        classes = report[name]
        assert all(value.startswith("transformers_modules.") for value in classes.values()), classes
        assert classes["head"].endswith(".T2LForVideoClassification")
        assert classes["base"].endswith(".T2LModel")
        assert classes["config"].endswith(".T2LConfig")

    remote = torch.load(work / "outputs.pt", weights_only=True)
    for name, model in (("tiny", tiny), ("converted", converted.eval())):
        local = _in_process_outputs(model, inputs[name])
        for key, value in local.items():
            # the remote-code outputs come from another process (its own thread count): fp32 tolerance
            torch.testing.assert_close(remote[name][key], value, rtol=1e-5, atol=1e-6,
                                       msg=lambda m, n=name, k=key: f"{n}.{k}: remote code differs from the package: {m}")
    # and the remote-code model of the converted official checkpoint is the official model
    torch.testing.assert_close(remote["converted"]["frame_embeds"], fixture["frame_embeds"], atol=1e-5, rtol=0)
