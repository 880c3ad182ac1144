"""TC-CLIP through the shared Trainer on a tiny CLIP and tiny generated videos: the official parameter groups
(prompting at 10x), the timm cosine schedule, mixup/cutmix soft targets, the logged loss terms, what changes, and
`t2l train` end to end."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from transformers import AutoModelForVideoClassification, CLIPModel, TrainerCallback

from modeling_t2l.models.tc_clip import TCCLIPForVideoClassification
from modeling_t2l.models.tc_clip.losses import MixupCutmix
from modeling_t2l.training.schedules import cosine_with_warmup_inside
from modeling_t2l.training.trainer import load_recipe, prepare_training
from tests.tiny import TOKENIZER_DIR, tiny_clip_config
from tests.video_factory import write_video

CLASSES = ["ApplyEyeMakeup", "BlowDryHair", "cycling", "diving"]
TOKEN_TABLE = "tc_clip.text_model.embeddings.token_embedding.weight"


def save_clip(path: Path) -> Path:
    """A random CLIP whose projection is as wide as its text tower (as every released TC-CLIP: 512 = 512)."""
    config = tiny_clip_config()
    config.projection_dim = config.text_config.projection_dim = config.vision_config.projection_dim = 32
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(path)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(TOKENIZER_DIR / name, path / name)
    return path


def make_run(root: Path, output_dir: Path, **training) -> Path:
    """A tiny CLIP, 8 videos of 4 classes, a label CSV, train/validation lists and a TC-CLIP recipe."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "clip").exists():
        save_clip(root / "clip")
        videos = root / "videos"
        videos.mkdir()
        for i in range(8):
            write_video(videos / f"v{i}.mp4", num_frames=9 + 2 * i, width=48, height=40, gop=4)
        (root / "labels.csv").write_text("id,name\n" + "".join(f"{i},{c}\n" for i, c in enumerate(CLASSES)))
        lines = [f"v{i}.mp4 {i % 4}" for i in range(8)]
        (root / "train.txt").write_text("\n".join(lines) + "\n")
        (root / "val.txt").write_text("\n".join(lines[:4]) + "\n")
    recipe = {
        "model": {"family": "tc_clip", "clip": str(root / "clip"), "num_frames": 4,
                  "config": {"context_tokens": 6, "merge_r": 4}},
        "data": {
            "protocol": {"name": "tiny", "labels": str(root / "labels.csv"), "train": str(root / "train.txt"),
                         "eval": {"val": str(root / "val.txt")}},
            "data_root": str(root / "videos"),
            "processor": {"crop_size": 32, "shortest_edge": 36},
        },
        "training": {"output_dir": str(output_dir), "learning_rate": 0.01, "weight_decay": 0.001,
                     "warmup_epochs": 1, "cosine_lr_min": 0.0, "num_train_epochs": 2,
                     "per_device_train_batch_size": 4, "save_strategy": "no", "logging_steps": 1, "use_cpu": True,
                     "dataloader_num_workers": 0, "disable_tqdm": True, **training},
    }
    path = root / f"recipe_{output_dir.name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


class GroupLearningRates(TrainerCallback):
    """Each optimizer group's lr at every step (the logs hold only the first group's)."""

    def __init__(self):
        self.steps = []

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        self.steps.append({group["name"]: group["lr"] for group in optimizer.param_groups})


def test_training_changes_the_declared_set_logs_loss_terms_and_trains_prompting_at_10x(tmp_path):
    trainer = prepare_training(load_recipe(make_run(tmp_path / "data", tmp_path / "out")))
    model = trainer.model
    assert isinstance(model, TCCLIPForVideoClassification)
    declared = set(model.trainable_parameter_names())
    assert {name for name, p in model.named_parameters() if p.requires_grad} == declared
    assert TOKEN_TABLE not in declared and "tc_clip.logit_scale" in declared
    # the texts are the official prompts of the training classes (the whole vocabulary at every step)
    texts = trainer.data_collator.texts
    assert texts == [["a photo of a Apply Eye Makeup.", "a photo of a Blow Dry Hair.", "a photo of a cycling.",
                      "a photo of a diving."]]
    assert trainer.data_collator.negatives == "vocabulary"

    blended = []
    transform = trainer.batch_transform
    assert isinstance(transform, MixupCutmix) and transform.smoothing == 0.1
    assert (transform.mixup_alpha, transform.cutmix_alpha, transform.switch_prob) == (0.8, 1.0, 0.5)

    def spy(batch, rng):
        out = transform(batch, rng)
        blended.append((batch["labels"].clone(), out["labels"].clone()))
        return out

    trainer.batch_transform = spy
    lrs = GroupLearningRates()
    trainer.add_callback(lrs)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainer.train()

    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed <= declared and TOKEN_TABLE not in changed
    assert len(changed) == len(declared)  # every declared tensor gets a gradient
    # mixup/cutmix made soft targets: rows sum to 1, at least 0.1 / C on every class (label smoothing 0.1)
    assert len(blended) == 4
    for labels, targets in blended:
        assert not labels.is_floating_point() and targets.shape == (labels.shape[0], len(CLASSES))
        torch.testing.assert_close(targets.sum(-1), torch.ones(labels.shape[0]))
        assert float(targets.min()) >= 0.1 / len(CLASSES) - 1e-6
    logged = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(logged) == 4 and all(entry["loss"] == pytest.approx(entry["loss_ce"], rel=1e-4) for entry in logged)

    groups = {group["name"]: group for group in trainer.optimizer.param_groups}
    assert set(groups) == {"base", "prompting_10x"}
    names = {id(p): n for n, p in model.named_parameters()}
    assert {names[id(p)] for p in groups["prompting_10x"]["params"]} == set(model.lr_10x_parameter_names())
    assert all(group["weight_decay"] == 0.001 for group in groups.values())  # every tensor, logit_scale included
    # warm-up from 0 over the first epoch (2 steps), then the cosine over the whole run, to lr_min = 0
    base = [step["base"] for step in lrs.steps]
    np.testing.assert_allclose(base, [0.0, 0.005, 0.01 * 0.5 * (1 + math.cos(math.pi * 2 / 4)),
                                      0.01 * 0.5 * (1 + math.cos(math.pi * 3 / 4))], rtol=1e-9, atol=1e-12)
    for step in lrs.steps:
        assert step["prompting_10x"] == pytest.approx(10 * step["base"], rel=1e-12)


def test_timm_cosine_schedule_counts_the_warm_up_and_ends_every_group_at_lr_min():
    parameters = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    optimizer = torch.optim.AdamW([{"params": [parameters[0]], "lr": 2e-6}, {"params": [parameters[1]], "lr": 2e-5}])
    schedule = cosine_with_warmup_inside(optimizer, num_warmup_steps=5, num_training_steps=50, lr_min=2e-8)
    lrs = []
    for _ in range(51):
        lrs.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()
        schedule.step()
    assert lrs[0] == [0.0, 0.0] and lrs[4] == pytest.approx([2e-6 * 4 / 5, 2e-5 * 4 / 5])
    # the cosine runs over the whole run: at the end of the warm-up the lr is already below the base lr
    cosine = lambda base, t: 2e-8 + 0.5 * (base - 2e-8) * (1 + math.cos(math.pi * t / 50))  # noqa: E731
    assert lrs[5] == pytest.approx([cosine(2e-6, 5), cosine(2e-5, 5)]) and lrs[5][0] < 2e-6
    assert lrs[50] == pytest.approx([2e-8, 2e-8])  # the 10x group decays to the same lr_min


def test_t2l_train_end_to_end_saves_a_tc_clip_that_the_pipeline_loads(tmp_path):
    from transformers import pipeline

    from modeling_t2l.cli import main

    recipe = make_run(tmp_path / "data", tmp_path / "run", cosine_lr_min=1e-4)
    settings = ["data.validation_split=val", "data.validation_num_clips=2", "data.validation_clip_sampling=random",
                "training.save_strategy=epoch", "training.save_total_limit=2"]
    assert main(["train", "--config", str(recipe), *settings]) == 0
    summary = json.loads((tmp_path / "run" / "train_results.json").read_text())
    assert summary["model_selection"] == "validation top-1" and summary["best_validation_top1"] is not None
    last = tmp_path / "run" / "checkpoint-4" / "trainer_state.json"
    evaluations = [entry for entry in json.loads(last.read_text())["log_history"] if "eval_top1" in entry]
    assert len(evaluations) == 2  # once per epoch, on the validation list only
    trained = AutoModelForVideoClassification.from_pretrained(tmp_path / "run")
    clip = CLIPModel.from_pretrained(tmp_path / "data" / "clip")
    # the one tensor outside the declared set is still CLIP's; the trained ones moved
    torch.testing.assert_close(trained.state_dict()[TOKEN_TABLE], clip.text_model.embeddings.token_embedding.weight,
                               rtol=0, atol=0)
    assert not torch.equal(trained.tc_clip.visual_projection.weight, clip.visual_projection.weight)
    # the saved folder carries its code and task (config.custom_pipelines), hence trust_remote_code
    pipe = pipeline("zero-shot-video-classification", model=str(tmp_path / "run"), device=-1, trust_remote_code=True)
    result = pipe(str(tmp_path / "data" / "videos" / "v0.mp4"), candidate_labels=CLASSES)
    assert pipe.last_class_texts.mode == "model" and sum(item["score"] for item in result) == pytest.approx(1.0)


def test_tc_clip_refuses_a_visual_lr_ratio(tmp_path):
    trainer = prepare_training(load_recipe(make_run(tmp_path / "data", tmp_path / "out"),
                                           ["training.visual_lr_ratio=0.1"]))
    with pytest.raises(ValueError, match="visual_lr_ratio must be 1.0"):
        trainer.create_optimizer()
