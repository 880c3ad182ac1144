"""The shipped recipes: each loads, names a registered protocol and split, builds its family's model (on a tiny
CLIP) with its optimizer groups, and carries the published values."""
import shutil
from pathlib import Path

import pytest
import torch
from transformers import CLIPModel

from modeling_t2l.data import get_protocol
from modeling_t2l.models.registry import get_family
from modeling_t2l.training.trainer import build_model, build_processor, build_protocol, check_validation, load_recipe
from tests.tiny import TOKENIZER_DIR, tiny_clip_config

RECIPES = sorted((Path(__file__).resolve().parent.parent / "configuration").glob("*/*.yaml"))
T2L_RECIPES = Path(__file__).resolve().parent.parent / "configuration" / "t2l"
TC_CLIP_RECIPES = Path(__file__).resolve().parent.parent / "configuration" / "tc_clip"
OVERRIDES = ["data.data_root=/data/videos", "data.protocol_options.train_list=/data/train.txt", "training.bf16=false",
             "training.use_cpu=true"]


def _load(name, *extra):
    return load_recipe(T2L_RECIPES / name, [*OVERRIDES, *extra])


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A random tiny CLIP whose projection is as wide as its text tower (what every family can start from)."""
    path = tmp_path_factory.mktemp("tiny_clip")
    config = tiny_clip_config()
    config.projection_dim = config.text_config.projection_dim = config.vision_config.projection_dim = 32
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(path)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(TOKENIZER_DIR / name, path / name)
    return path


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


@pytest.mark.parametrize("path", RECIPES, ids=[f"{p.parent.name}/{p.stem}" for p in RECIPES])
def test_recipe_builds_its_model_and_optimizer_groups(path, tmp_path, tiny_clip):
    """The recipe's family, config overrides and options on a tiny CLIP: the declared trainable set, parameter
    groups holding each trainable tensor once, and the processor's frames matching the model's."""
    recipe = load_recipe(path, [*OVERRIDES, f"training.output_dir={tmp_path}", f"model.clip={tiny_clip}"])
    model = build_model(recipe)
    assert model.config.model_type == recipe.model.family and model.num_frames == recipe.model.num_frames
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == set(model.trainable_parameter_names())
    groups = model.optimizer_parameter_groups(recipe.training)
    grouped = [id(p) for group in groups for p in group["params"]]
    assert sorted(grouped) == sorted(id(p) for p in model.parameters() if p.requires_grad)
    assert all(group["weight_decay"] == recipe.training.weight_decay for group in groups)
    build_processor(recipe).check_num_frames(model)


TC_CLIP_VALUES = {  # spec tc_clip_reference §6.4: epochs, warm-up, lr, global batch on 4 processes
    "k400_zero_shot": (10, 5, 8e-6, 256),
    "few_shot": (50, 5, 2e-6, 64),
    "base_to_novel": (12, 2, 3.33e-6, 64),
    "fully_supervised_k400": (30, 5, 2.2e-5, 512),
}


def test_tc_clip_has_a_recipe_per_published_protocol():
    names = {path.stem for path in TC_CLIP_RECIPES.glob("*.yaml")}
    expected = {"k400_zero_shot", "fully_supervised_k400"}
    expected |= {f"base_to_novel_{d}" for d in ("k400", "hmdb51", "ucf101", "ssv2")}
    expected |= {f"few_shot_{d}_k{k}" for d in ("hmdb51", "ucf101", "ssv2") for k in (2, 4, 8, 16)}
    assert names == expected


@pytest.mark.parametrize("path", sorted(TC_CLIP_RECIPES.glob("*.yaml")), ids=lambda p: p.stem)
def test_tc_clip_recipes_have_the_official_values(path, tmp_path, tiny_clip):
    recipe = load_recipe(path, [*OVERRIDES, f"training.output_dir={tmp_path}"])
    key = next(key for key in TC_CLIP_VALUES if path.stem.startswith(key))
    epochs, warmup, lr, global_batch = TC_CLIP_VALUES[key]
    training = recipe.training
    assert recipe.model.family == "tc_clip" and recipe.model.num_frames == 16
    assert (training.num_train_epochs, training.warmup_epochs, training.learning_rate) == (epochs, warmup, lr)
    assert training.cosine_lr_min == pytest.approx(lr / 100)
    assert training.per_device_train_batch_size * training.gradient_accumulation_steps * 4 == global_batch
    assert training.per_device_train_batch_size == 4  # mixup/cutmix per micro-batch of 4, as officially
    assert (training.adam_beta1, training.adam_beta2, training.adam_epsilon, training.weight_decay) == (0.9, 0.98, 1e-8, 0.001)
    config = recipe.model.config
    assert (config["label_smoothing"], config["mixup_alpha"], config["cutmix_alpha"], config["mixup_switch_prob"]) == (
        0.1, 0.8, 1.0, 0.5)
    protocol = build_protocol(recipe)
    # the official test views: 2 random clips x 1 crop (4 x 3 for fully supervised), seeded
    assert protocol.clip_sampling == "random" and protocol.clip_seed == 1024
    assert (protocol.num_clips, protocol.num_crops) == ((4, 3) if key == "fully_supervised_k400" else (2, 1))
    # selection on validation data only: K400 val for zero-shot, a held-out part for fully supervised, else none
    assert recipe.data.validation_split == ("k400_val" if key == "k400_zero_shot" else None)
    assert bool(recipe.data.validation_holdout_fraction) == (key == "fully_supervised_k400")
    # SSv2 has left/right classes: the official training never flips it
    assert recipe.data.processor.get("do_flip", True) is ("ssv2" not in path.stem)
    assert build_processor(recipe).image_processor.num_fixed_crops == 5  # mmaction's 5 fixed crop offsets
    assert build_processor(recipe).image_processor.frame_sampling == "mmaction"
    text = path.read_text()
    if key in ("few_shot", "base_to_novel"):
        assert "MODEL SELECTION" in text and "never selects" in text  # the official code selected on test data


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
