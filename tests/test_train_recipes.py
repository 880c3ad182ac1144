"""The shipped recipes: each loads, names a registered protocol and split, and carries the published values."""
from pathlib import Path

import pytest

from modeling_t2l.data import get_protocol
from modeling_t2l.models.registry import get_family
from modeling_t2l.training.trainer import build_protocol, check_validation, load_recipe

RECIPES = sorted((Path(__file__).resolve().parent.parent / "configuration").glob("*/*.yaml"))
T2L_RECIPES = Path(__file__).resolve().parent.parent / "configuration" / "t2l"
OVERRIDES = ["data.data_root=/data/videos", "data.protocol_options.train_list=/data/train.txt", "training.bf16=false",
             "training.use_cpu=true"]


def _load(name, *extra):
    return load_recipe(T2L_RECIPES / name, [*OVERRIDES, *extra])


def test_every_setting_has_a_recipe():
    names = {path.stem for path in RECIPES if path.parent.name == "t2l"}
    expected = {"k400_zero_shot", "k400_zero_shot_paper", "fully_supervised_k400"}
    expected |= {f"base_to_novel_{d}" for d in ("k400", "hmdb51", "ucf101", "ssv2")}
    expected |= {f"few_shot_{d}_k{k}" for d in ("hmdb51", "ucf101", "ssv2") for k in (2, 4, 8, 16)}
    assert expected <= names


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_loads_and_builds(path, tmp_path):
    recipe = load_recipe(path, [*OVERRIDES, f"training.output_dir={tmp_path}"])
    protocol = build_protocol(recipe)
    assert protocol.name == recipe.data.protocol
    check_validation(recipe, protocol)  # never a target test split
    split = recipe.data.train_split or (protocol.seeds[0] if protocol.seeds else protocol.train_splits[0])
    assert protocol.split(split).role == "train"
    assert get_family(recipe.model.family).model_type == recipe.model.family
    args = recipe.training
    assert args.remove_unused_columns is False and args.ddp_find_unused_parameters is False
    assert args.load_best_model_at_end == recipe.data.has_validation
    assert recipe.data.target_protocols and all(get_protocol(name) for name in recipe.data.target_protocols)


def test_k400_zero_shot_has_the_official_values():
    recipe = _load("k400_zero_shot.yaml")
    assert recipe.model.family == "t2l"
    assert recipe.model.clip == "openai/clip-vit-base-patch16" and recipe.model.num_frames == 8
    training = recipe.training
    assert (training.learning_rate, training.adam_beta1, training.adam_beta2, training.adam_epsilon) == (1e-4, 0.9, 0.98, 1e-8)
    assert (training.weight_decay, training.visual_lr_ratio, training.warmup_epochs) == (0.2, 1.0, 5)
    assert training.lr_scheduler_type == "cosine"
    assert training.num_train_epochs == 150 and training.per_device_train_batch_size == 80
    assert recipe.data.validation_split == "k400_val"


def test_k400_zero_shot_paper_values():
    recipe = _load("k400_zero_shot_paper.yaml")
    assert recipe.training.learning_rate == 5e-5
    assert recipe.training.warmup_epochs is None and recipe.training.warmup_steps == 0.1
    assert recipe.training.num_train_epochs == 50 and recipe.training.per_device_train_batch_size == 70


@pytest.mark.parametrize("dataset,batch,lr,epochs", [("hmdb51", 20, 1e-4, 50), ("ucf101", 60, 1e-5, 50),
                                                     ("k400", 50, 5e-6, 100), ("ssv2", 50, 1e-5, 100)])
def test_base_to_novel_values(dataset, batch, lr, epochs):
    recipe = _load(f"base_to_novel_{dataset}.yaml")
    assert recipe.data.train_split == "train_seed1"  # the 16-shot ViFi seed lists by default
    assert (recipe.training.per_device_train_batch_size, recipe.training.learning_rate,
            recipe.training.num_train_epochs) == (batch, lr, epochs)
    full = _load(f"base_to_novel_{dataset}.yaml", "data.train_split=train_full")
    assert build_protocol(full).split("train_full").role == "train"  # the official full base split, as an option


def test_few_shot_values_follow_the_official_configs():
    hmdb = _load("few_shot_hmdb51_k8.yaml")
    assert hmdb.model.config["use_temporal_tokens"] is False and hmdb.training.num_train_epochs == 180
    ucf = _load("few_shot_ucf101_k2.yaml")
    assert ucf.model.clip == "openai/clip-vit-large-patch14" and ucf.training.per_device_train_batch_size == 4


def test_command_line_overrides_are_typed_and_no_stays_a_string():
    recipe = _load("k400_zero_shot.yaml", "training.save_strategy=no", "training.learning_rate=3e-5",
                   "model.options.text_adapter=lora")
    assert recipe.training.save_strategy == "no" and recipe.training.learning_rate == 3e-5
    assert recipe.model.options["text_adapter"] == "lora"
