"""Trainer runs on a tiny CLIP and tiny generated videos: what changes, logging, exact resume, DDP, selection.

`make_tiny_run` writes everything a recipe needs (random tiny CLIP with the real tokenizer, PyAV videos, a label
CSV, train/val lists, the YAML) so the same recipe runs in-process, through `t2l train` and under
`accelerate launch`.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import CLIPModel

from modeling_t2l import T2LForVideoClassification
from modeling_t2l.data.collator import SKIPPED_KEY
from modeling_t2l.training.trainer import load_recipe, prepare_training, warmup_steps_for
from tests.tiny import save_tiny_clip
from tests.video_factory import write_video

REPO = Path(__file__).resolve().parent.parent
CLASSES = ["archery", "bowling", "cycling", "diving"]


def make_tiny_run(root: Path, output_dir: Path, broken_video: bool = True, **training) -> Path:
    """Write a tiny CLIP, 8 videos (+1 undecodable), lists and a recipe; return the recipe path."""
    root.mkdir(parents=True, exist_ok=True)
    clip_dir = root / "clip"
    if not clip_dir.exists():
        save_tiny_clip(clip_dir)
    videos = root / "videos"
    if not videos.exists():
        videos.mkdir()
        for i in range(8):
            write_video(videos / f"v{i}.mp4", num_frames=9 + 2 * i, width=48, height=40, gop=4)
        (videos / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
        (root / "labels.csv").write_text("id,name\n" + "".join(f"{i},{c}\n" for i, c in enumerate(CLASSES)))
        lines = [f"v{i}.mp4 {i % 4}" for i in range(8)]
        (root / "train.txt").write_text("\n".join(lines + ["broken.mp4 1"]) + "\n")
        (root / "train_clean.txt").write_text("\n".join(lines) + "\n")
        (root / "val.txt").write_text("\n".join(lines[:4]) + "\n")
    recipe = {
        "model": {"clip": str(clip_dir), "num_frames": 4},
        "data": {
            "protocol": {"name": "tiny", "labels": str(root / "labels.csv"),
                         "train": str(root / ("train.txt" if broken_video else "train_clean.txt")),
                         "eval": {"val": str(root / "val.txt")}},
            "data_root": str(videos),
            # one text per class, as with the official descriptions (several templates are drawn per batch)
            "text_templates": ["a video of a person doing {}."],
            "processor": {"crop_size": 32, "shortest_edge": 36},
        },
        "training": {"output_dir": str(output_dir), "learning_rate": 0.01, "warmup_epochs": 1,
                     "num_train_epochs": 3, "per_device_train_batch_size": 4,
                     "save_strategy": "steps", "save_steps": 3, "logging_steps": 1, "use_cpu": True,
                     "dataloader_num_workers": 0, "save_total_limit": 3, "disable_tqdm": True, **training},
    }
    path = root / f"recipe_{output_dir.name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def trainable_state(model) -> dict:
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def test_official_schedule_warms_up_from_zero_then_cosine_to_zero():
    from transformers import get_cosine_schedule_with_warmup

    warmup = warmup_steps_for(150 * 100, 150, warmup_epochs=5, warmup_steps=0)
    assert warmup == 500
    assert warmup_steps_for(1000, 50, warmup_epochs=None, warmup_steps=0.1) == 100  # the paper's 10 %
    assert warmup_steps_for(1000, 50, warmup_epochs=None, warmup_steps=0.1234) == 123  # rounded, not ceil'd
    assert warmup_steps_for(1000, 50, warmup_epochs=None, warmup_steps=7) == 7
    # transformers' cosine schedule is the official curve: 0 -> linear -> 1 at the end of warm-up -> cosine to 0
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    multiplier = get_cosine_schedule_with_warmup(optimizer, warmup, 15000).lr_lambdas[0]
    assert multiplier(0) == 0.0 and multiplier(250) == 0.5 and multiplier(500) == 1.0
    assert multiplier(500 + 7250) == pytest.approx(0.5)
    assert multiplier(15000) == pytest.approx(0.0, abs=1e-12)


def test_short_run_changes_only_trainable_tensors_and_logs_both_losses(tmp_path):
    recipe = load_recipe(make_tiny_run(tmp_path / "data", tmp_path / "out", broken_video=False),
                         ["training.num_train_epochs=2", "training.save_strategy=no"])
    trainer = prepare_training(recipe)
    model = trainer.model
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == set(model.trainable_parameter_names())
    trainer.train()

    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed and changed <= trainable
    assert len(changed) >= len(trainable) - 2  # fc2 starts at zero; everything gets gradient
    clip = CLIPModel.from_pretrained(recipe.model.clip).state_dict()
    for name, parameter in model.named_parameters():
        if name not in trainable and name.removeprefix("t2l.") in clip:
            assert torch.equal(parameter, clip[name.removeprefix("t2l.")]), name

    logged = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(logged) == 4  # 8 videos, batch 4, 2 epochs, logging every step
    for entry in logged:
        assert entry["loss"] == pytest.approx(entry["loss_contrastive"] + entry["loss_tfd"], rel=1e-4)
    # lr used by each step: warm-up from 0 over the first epoch (2 steps), then cosine to 0 at step 4
    assert [round(entry["learning_rate"], 8) for entry in logged] == [0.0, 0.005, 0.01, 0.005]
    # weight decay on every trainable tensor, biases and prompts included
    assert all(group["weight_decay"] == 0.2 for group in trainer.optimizer.param_groups)
    assert sum(len(group["params"]) for group in trainer.optimizer.param_groups) == len(trainable)


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    """Uninterrupted 9 steps vs. a run restarted from the step-4 checkpoint (mid-epoch 2) in a new Trainer."""
    from modeling_t2l.cli import main

    data = tmp_path / "data"
    settings = ["training.per_device_train_batch_size=3", "training.save_steps=4"]  # 9 videos: 3 steps per epoch
    full = make_tiny_run(data, tmp_path / "full")
    assert main(["train", "--config", str(full), *settings]) == 0
    results = json.loads((tmp_path / "full" / "train_results.json").read_text())
    assert results["global_step"] == 9
    assert results["skipped_videos"] == 3  # the broken video, once per epoch
    # the saved run carries the pipeline's code and task, for pipeline(model=dir, trust_remote_code=True)
    config = json.loads((tmp_path / "full" / "config.json").read_text())
    assert "zero-shot-video-classification" in config["custom_pipelines"]
    assert (tmp_path / "full" / "zero_shot_video_classification.py").is_file()
    assert "broken.mp4" in results["skipped_examples"][0]["path"]

    resumed_dir = tmp_path / "resumed"
    resumed_dir.mkdir()
    shutil.copytree(tmp_path / "full" / "checkpoint-4", resumed_dir / "checkpoint-4")  # "killed" after step 4
    resumed = make_tiny_run(data, resumed_dir)
    assert main(["train", "--config", str(resumed), "--resume", *settings]) == 0
    assert json.loads((resumed_dir / "train_results.json").read_text())["global_step"] == 9

    a = load_file(str(tmp_path / "full" / "model.safetensors"))
    b = load_file(str(resumed_dir / "model.safetensors"))
    assert a.keys() == b.keys()
    different = [key for key in a if not torch.equal(a[key], b[key])]
    assert different == []
    start = load_file(str(tmp_path / "full" / "checkpoint-4" / "model.safetensors"))
    assert any(not torch.equal(a[key], start[key]) for key in a)  # the second half did train
    # the output folder is usable as it is: model + processor for `t2l evaluate`, adapters for from_adapters
    from modeling_t2l.commands.evaluate import load_model_and_processor
    from modeling_t2l.evaluation.evaluate import evaluate_protocol
    from modeling_t2l.training.trainer import build_protocol

    model, processor = load_model_and_processor(str(tmp_path / "full"), "cpu", "float32")
    protocol = build_protocol(load_recipe(full))
    results = evaluate_protocol(model, processor, protocol, data / "videos", splits=["val"], progress=False)
    assert results["splits"]["val"].num_videos == 4 and results["splits"]["val"].num_classes == 4
    restored = dict(T2LForVideoClassification.from_adapters(tmp_path / "full" / "adapters").named_parameters())
    assert all(torch.equal(restored[name], parameter) for name, parameter in model.named_parameters())


def test_cross_entropy_recipe_trains_against_the_whole_vocabulary(tmp_path):
    # the paper's eq. 1: every step scores each video against every class, so labels are class ids
    recipe = load_recipe(make_tiny_run(tmp_path / "data", tmp_path / "out", broken_video=False),
                         ["model.config.contrastive_loss=cross_entropy", "training.save_strategy=no"])
    trainer = prepare_training(recipe)
    assert trainer.data_collator.negatives == "vocabulary"
    batch = next(iter(trainer.get_train_dataloader()))
    assert batch["input_ids"].shape[0] == trainer.data_collator.num_classes
    batch.pop(SKIPPED_KEY)  # the trainer's own count of dropped videos, not a model input
    assert torch.isfinite(trainer.model(**batch).loss)


def test_best_checkpoint_is_chosen_on_validation_data_only(tmp_path):
    recipe = load_recipe(
        make_tiny_run(tmp_path / "data", tmp_path / "out", broken_video=False),
        ["data.validation_split=val", "training.save_strategy=epoch", "training.num_train_epochs=2"],
    )
    trainer = prepare_training(recipe)
    trainer.train()
    evaluations = [entry for entry in trainer.state.log_history if "eval_top1" in entry]
    assert len(evaluations) == 2 and all(0 <= e["eval_top1"] <= 100 for e in evaluations)
    assert trainer.state.best_metric == max(e["eval_top1"] for e in evaluations)
    assert trainer.state.best_model_checkpoint is not None


def test_a_target_test_split_is_refused_for_model_selection(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({
        "data": {"protocol": "zero_shot_hmdb51", "protocol_options": {"train_list": str(tmp_path / "k400_train.txt")},
                 "data_root": str(tmp_path), "validation_split": "split1"},
        "training": {"output_dir": str(tmp_path / "out")},
    }))
    with pytest.raises(ValueError, match="target test split"):
        prepare_training(load_recipe(path))


def test_unknown_recipe_field_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data: {protocol: few_shot_hmdb51_k2, data_root: /x}\ntraining: {output_dir: /o}\noptimiser: {lr: 1}\n")
    with pytest.raises(ValueError, match="bad.yaml.*optimiser"):
        load_recipe(path)
    path.write_text("data: {protocol: few_shot_hmdb51_k2, data_root: /x}\ntraining: {output_dir: /o, lerning_rate: 1}\n")
    with pytest.raises(ValueError, match="bad.yaml: unknown field.*training.*lerning_rate"):
        load_recipe(path)
    path.write_text("data: {protocol: few_shot_hmdb51_k2, data_root: /x}\ntraining: {output_dir: /o}\n")
    with pytest.raises(ValueError, match="bad.yaml: unknown field.*model.*cilp"):
        load_recipe(path, ["model.cilp=x"])


DDP_SCRIPT = """
import json, sys
from safetensors.torch import save_file
from modeling_t2l.training.trainer import load_recipe, prepare_training

trainer = prepare_training(load_recipe(sys.argv[1], sys.argv[2:]))
trainer.train()
model = trainer.accelerator.unwrap_model(trainer.model)
rank = trainer.args.process_index
state = {n: p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad}
save_file(state, f"{trainer.args.output_dir}/rank{rank}.safetensors")
with open(f"{trainer.args.output_dir}/rank{rank}.json", "w") as handle:
    json.dump({"world_size": trainer.args.world_size, "step": trainer.state.global_step}, handle)
trainer.accelerator.end_training()  # what run_training does: the process group is destroyed before exit
"""


def test_accelerate_launch_two_cpu_processes_keep_identical_weights(tmp_path):
    """Two DDP processes on CPU (gloo) train to completion with the same trainable weights on both ranks.

    In accelerate 1.15 `accelerate launch --cpu --num_processes 2` starts ONE process (its CPU path only fans out
    through mpirun with a hostfile), so the two-process CPU run is `--multi_gpu --num_processes 2` with
    `training.use_cpu: true`: the torchrun launcher with the gloo backend. world_size is asserted below.
    """
    recipe = make_tiny_run(tmp_path / "data", tmp_path / "out", broken_video=False,
                           per_device_train_batch_size=2, save_strategy="no", num_train_epochs=2)
    script = tmp_path / "ddp_train.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT))
    accelerate = Path(sys.executable).parent / "accelerate"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    completed = subprocess.run(
        [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
         "--dynamo_backend", "no", str(script), str(recipe)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = tmp_path / "out"
    infos = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    # 8 videos, 2 per device on 2 processes: 2 steps per epoch, 2 epochs
    assert infos == [{"world_size": 2, "step": 4}] * 2
    rank0, rank1 = (load_file(str(out / f"rank{r}.safetensors")) for r in (0, 1))
    assert rank0.keys() == rank1.keys() and len(rank0) > 0
    # the ranks stay in sync: the same all-reduced gradient and optimizer step in two processes (fp32 tolerance,
    # since each process picks its own thread count)
    for key in rank0:
        torch.testing.assert_close(rank0[key], rank1[key], rtol=1e-6, atol=1e-8, msg=lambda m, k=key: f"{k}: {m}")


def test_bf16_autocast_and_activation_checkpointing_train(tmp_path):
    recipe = load_recipe(make_tiny_run(tmp_path / "data", tmp_path / "out", broken_video=False),
                         ["training.num_train_epochs=1", "training.save_strategy=no", "training.bf16=true",
                          "training.activation_checkpointing=true"])
    trainer = prepare_training(recipe)
    before = trainable_state(trainer.model)
    trainer.train()
    assert trainer.model.is_activation_checkpointing
    logged = [entry for entry in trainer.state.log_history if "loss_tfd" in entry]
    assert logged and all(torch.isfinite(torch.tensor(entry["loss"])) for entry in logged)
    after = trainable_state(trainer.model)
    assert all(after[name].dtype == torch.float32 for name in after)  # fp32 master weights
    assert any(not torch.equal(before[name], after[name]) for name in after)
