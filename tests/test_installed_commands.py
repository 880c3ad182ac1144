"""Smoke tests of the `t2l` commands as installed: `.ci/run` also runs this file in a fresh virtual environment
holding the built wheel (not an editable install), from outside the repository, with T2L_FROM_WHEEL=1.

Self-contained on purpose (no `tests.*` imports): under `--import-mode=importlib` from another folder, only the
installed package is importable. What a wheel needs and a checkout hides: the card templates and the recipes as
package data, the tokenizer files, the data files.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FROM_WHEEL = os.environ.get("T2L_FROM_WHEEL") == "1"


def t2l(*args, cwd) -> subprocess.CompletedProcess:
    """Run the console script (from the wheel's virtual environment when FROM_WHEEL)."""
    script = shutil.which("t2l", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "modeling_t2l.cli"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    if not FROM_WHEEL:
        env["PYTHONPATH"] = str(REPO)
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_the_package_under_test_is_the_installed_one():
    import modeling_t2l

    location = Path(modeling_t2l.__file__).resolve()
    if FROM_WHEEL:
        assert REPO not in location.parents, f"{location}: the source tree, not the wheel"
        assert "site-packages" in location.parts


def test_help_of_every_command(tmp_path):
    from modeling_t2l.cli import COMMANDS

    assert t2l("--help", cwd=tmp_path).returncode == 0
    for name in COMMANDS:
        result = t2l(name, "--help", cwd=tmp_path)
        assert result.returncode == 0 and "usage: t2l" in result.stdout, (name, result.stderr[-1000:])


def test_recipes_are_selectable_by_name_from_anywhere(tmp_path, monkeypatch):
    from modeling_t2l.training.recipes import available_recipes
    from modeling_t2l.training.trainer import load_recipe

    monkeypatch.chdir(tmp_path)  # no configuration/ folder here
    names = available_recipes()
    expected = {"k400_zero_shot", "base_to_novel_hmdb51", "few_shot_ucf101_k2", "fully_supervised_k400"}
    assert {f"t2l/{name}" for name in expected} <= set(names)
    cpu = ["training.bf16=false", "training.use_cpu=true"]
    recipe = load_recipe("k400_zero_shot_paper", ["data.data_root=/data/k400", *cpu])  # a name only T2L has
    assert recipe.data.protocol and recipe.model.family == "t2l"
    assert Path(recipe.source).name == "k400_zero_shot_paper.yaml"
    with pytest.raises(FileNotFoundError, match="ambiguous: name one of t2l/k400_zero_shot, tc_clip/k400_zero_shot"):
        load_recipe("k400_zero_shot")  # both families have it: the family must be named
    assert load_recipe("tc_clip/k400_zero_shot", ["data.data_root=/v", *cpu]).model.family == "tc_clip"
    assert Path(load_recipe("t2l/base_to_novel_hmdb51", ["data.data_root=/v", *cpu]).source).parent.name == "t2l"
    with pytest.raises(FileNotFoundError, match="k400_zero_shot"):  # the message lists the bundled names
        load_recipe("no_such_recipe")


def test_push_dry_run_renders_the_packaged_card(tmp_path):
    import torch
    from transformers import CLIPTextConfig, CLIPVisionConfig

    from modeling_t2l import T2LConfig, T2LForVideoClassification, T2LProcessor

    config = T2LConfig(
        text_config=CLIPTextConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2,
                                   vocab_size=49408, bos_token_id=49406, eos_token_id=49407).to_dict(),
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=1,
                                       num_attention_heads=2, image_size=32, patch_size=8).to_dict(),
        projection_dim=16, num_frames=2,
    )
    torch.manual_seed(0)
    T2LForVideoClassification(config).save_pretrained(tmp_path / "model")
    T2LProcessor.from_clip_tokenizer(num_frames=2, crop_size=32, shortest_edge=36).save_pretrained(tmp_path / "model")
    result = t2l("push", "--model-dir", str(tmp_path / "model"), "--repo-id", "someone/t2l-tiny",
                 "--card", "k400_zero_shot_vitb16", "--dry-run", str(tmp_path / "staging"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    card = (tmp_path / "staging" / "README.md").read_text()
    # rendered from the template shipped in the package (its citation block)
    assert "pipeline_tag: video-classification" in card and "Transactions on Machine Learning Research" in card
    staged = json.loads((tmp_path / "staging" / "config.json").read_text())
    assert "zero-shot-video-classification" in staged["custom_pipelines"]
    assert (tmp_path / "staging" / "processing_t2l.py").is_file()
