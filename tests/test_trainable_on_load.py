"""Every way of getting a model ends with the family's declared trainable set, and a plain Trainer keeps to it.

transformers' loader hands every loaded tensor a fresh `nn.Parameter(requires_grad=True)`, so freezing once in
`__init__` is not enough: these tests load through each path and count.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModel, AutoModelForVideoClassification, Trainer, TrainingArguments

from modeling_t2l import T2LConfig, T2LForVideoClassification, T2LModel
from tests.tiny import save_tiny_clip, tiny_t2l_config

REPO = Path(__file__).resolve().parent.parent


def trainable_names(model) -> set[str]:
    return {name for name, parameter in model.named_parameters() if parameter.requires_grad}


def vit_b16_config(num_frames: int = 8) -> T2LConfig:
    return T2LConfig(
        text_config=dict(hidden_size=512, intermediate_size=2048, num_attention_heads=8, num_hidden_layers=12),
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                           image_size=224, patch_size=16),
        projection_dim=512,
        num_frames=num_frames,
    )


def test_vit_b16_is_built_with_exactly_the_published_trainable_count():
    """No freeze call: construction alone gives T2L's 5,204,736 (ViT-B/16, T = 8), on the meta device."""
    with torch.device("meta"):
        model = T2LForVideoClassification(vit_b16_config())
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 5_204_736
    assert sum(p.numel() for p in model.parameters()) == 5_204_736 + 149_626_881


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("trainable")
    torch.manual_seed(0)
    model = T2LForVideoClassification(tiny_t2l_config())
    model.requires_grad_(True)  # a checkpoint saved from a fully unfrozen model must still load frozen
    model.save_pretrained(root / "model")
    return root / "model"


@pytest.mark.parametrize(
    "load",
    [
        lambda d: T2LForVideoClassification.from_pretrained(d),
        lambda d: T2LModel.from_pretrained(d),
        lambda d: AutoModel.from_pretrained(d),
        lambda d: AutoModelForVideoClassification.from_pretrained(d),
        lambda d: T2LForVideoClassification.from_pretrained(d, output_loading_info=True)[0],
        lambda d: AutoModelForVideoClassification.from_config(T2LConfig.from_pretrained(d)),
        lambda d: T2LForVideoClassification(T2LConfig.from_pretrained(d)),
    ],
    ids=["from_pretrained", "base_from_pretrained", "AutoModel", "AutoModelForVideoClassification",
         "output_loading_info", "from_config", "constructor"],
)
def test_every_load_applies_the_declared_trainable_set(saved, load):
    model = load(saved)
    assert trainable_names(model) == set(model.trainable_parameter_names())
    assert 0 < len(trainable_names(model)) < len(list(model.parameters()))
    assert not any(name.endswith("logit_scale") for name in trainable_names(model))


def test_pipeline_and_from_clip_and_adapters_apply_it(saved, tmp_path):
    from transformers import pipeline

    from modeling_t2l.models.t2l.adapters import from_adapters
    from modeling_t2l.processing.processing_t2l import T2LProcessor

    processor = T2LProcessor.from_clip_tokenizer(num_frames=4, crop_size=32, shortest_edge=36)
    pipe = pipeline("zero-shot-video-classification", model=str(saved), tokenizer=processor.tokenizer,
                    image_processor=processor.image_processor)
    assert trainable_names(pipe.model) == set(pipe.model.trainable_parameter_names())

    clip_dir = save_tiny_clip(tmp_path / "clip")
    model = T2LForVideoClassification.from_clip(str(clip_dir), num_frames=4)
    assert trainable_names(model) == set(model.trainable_parameter_names())
    model.save_adapters(tmp_path / "adapters", base_model_name_or_path=str(clip_dir))
    restored = from_adapters(tmp_path / "adapters")
    assert trainable_names(restored) == set(restored.trainable_parameter_names())

    everything = T2LForVideoClassification.from_clip(str(clip_dir), num_frames=4, freeze_backbone=False)
    assert trainable_names(everything) == {name for name, _ in everything.named_parameters()}


def test_unfreezing_more_is_requires_grad_after_loading(saved):
    model = T2LForVideoClassification.from_pretrained(saved)
    model.requires_grad_(True)
    assert trainable_names(model) == {name for name, _ in model.named_parameters()}


def test_remote_code_load_applies_it(saved):
    """In a fresh process without this package: the bundled mixin freezes the same set."""
    code = f"""
import json, sys
sys.modules['modeling_t2l'] = None  # the package is not importable: only the bundled code can be used
from transformers import AutoModelForVideoClassification
model = AutoModelForVideoClassification.from_pretrained({str(saved)!r}, trust_remote_code=True)
assert type(model).__module__.startswith('transformers_modules'), type(model).__module__
print(json.dumps([sorted(n for n, p in model.named_parameters() if p.requires_grad),
                  sorted(model.trainable_parameter_names())]))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/",
                            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(saved.parent)})
    assert result.returncode == 0, result.stderr[-2000:]
    trainable, declared = json.loads(result.stdout.strip().splitlines()[-1])
    assert trainable == declared and trainable


class _FixedTexts(torch.utils.data.Dataset):
    """Random clips with labels; every batch carries the same class texts (as T2L's collator does)."""

    def __init__(self, config, n=4):
        generator = torch.Generator().manual_seed(0)
        size = config.vision_config.image_size
        self.pixels = torch.randn(n, config.num_frames, 3, size, size, generator=generator)
        self.labels = torch.arange(n) % 2

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return {"pixel_values": self.pixels[index], "labels": self.labels[index]}


def _collate(features):
    input_ids = torch.tensor([[49406, 320, 1929, 49407], [49406, 320, 2368, 49407]])
    return {
        "pixel_values": torch.stack([f["pixel_values"] for f in features]),
        "labels": torch.stack([f["labels"] for f in features]),
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
    }


def test_plain_trainer_on_a_loaded_model_changes_only_the_declared_set(saved, tmp_path):
    model = T2LForVideoClassification.from_pretrained(saved)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    args = TrainingArguments(output_dir=str(tmp_path / "run"), max_steps=3, per_device_train_batch_size=2,
                             learning_rate=1e-2, use_cpu=True, report_to=[], save_strategy="no",
                             remove_unused_columns=False, dataloader_num_workers=0, disable_tqdm=True)
    Trainer(model=model, args=args, train_dataset=_FixedTexts(model.config), data_collator=_collate).train()
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    declared = set(model.trainable_parameter_names())
    assert changed and changed <= declared
    assert len(changed) >= len(declared) // 2  # the set really trained, not one stray tensor
