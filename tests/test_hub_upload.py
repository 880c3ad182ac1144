"""What `t2l push` uploads (an allow-list), that the dry run is the upload byte for byte, that neither touches the
model folder, and that the card describes the model in the folder rather than the authors' release."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from modeling_t2l.cli import main
from modeling_t2l.hub.push import AUTHORS_SOURCE, REPRODUCED_SOURCE, push_model, render_card
from tests.test_hub import FakeHubApi, _results_json, model_dir, released_dir  # noqa: F401  (fixture)

CARD = "k400_zero_shot_vitb16"


def _hashes(folder: Path) -> dict[str, str]:
    """Every file under `folder` (links not followed) -> sha256 of its bytes, or of the link target's path."""
    hashes = {}
    for directory, _, files in os.walk(folder):
        for name in files:
            path = Path(directory) / name
            data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
            hashes[path.relative_to(folder).as_posix()] = hashlib.sha256(data).hexdigest()
    return hashes


@pytest.fixture
def cluttered(model_dir, tmp_path):
    """The tiny model folder with what a working folder also holds: secrets, notes, links out, training files."""
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    (folder / ".env").write_text("HF_TOKEN=hf_secret\n")
    (folder / "notes").mkdir()
    (folder / "notes" / "private.txt").write_text("not for the Hub\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("[core]\n")
    host_file = tmp_path / "host_secret.txt"
    host_file.write_text("outside the folder\n")
    os.symlink(host_file, folder / "vocab_link.json")  # an allowed-looking name reaching outside
    os.symlink(tmp_path, folder / "results")  # a folder link: never followed
    (folder / "train_results.json").write_text(json.dumps({
        "recipe": {"model": {"clip": "openai/clip-vit-base-patch32"}}, "recipe_file": "configuration/mine.yaml",
        "protocol": {"protocol": "k400_zero_shot", "dataset": "k400"}, "train_split": "train", "train_videos": 24,
    }))
    (folder / "README.md").write_text("my own notes\n")
    return folder


def test_only_the_allow_list_is_uploaded_and_the_rest_is_listed(cluttered, tmp_path, capsys):
    api = FakeHubApi(tmp_path / "remote")
    result = push_model(cluttered, "someone/t2l", CARD, api=api)
    sent = set(api.commits[0]["files"])
    assert not {".env", "notes/private.txt", ".git/config", "vocab_link.json", "train_results.json"} & sent
    assert not any(name.startswith(("checkpoint-", "results/", "training_args")) for name in sent)
    assert {"model.safetensors", "config.json", "processor_config.json", "tokenizer_config.json",
            "modeling_t2l.py", "inputs.py", "README.md", "descriptions/k400.csv"} <= sent
    left_out = dict(result.left_out)
    assert left_out[".env"] == "hidden file" and left_out[".git/"] == "hidden folder"
    assert left_out["vocab_link.json"] == "symbolic link to outside the folder"
    assert "links to folders are not followed" in left_out["results/"]
    assert "folder not uploaded" in left_out["notes/"] and "folder not uploaded" in left_out["checkpoint-5/"]
    assert left_out["README.md"] == "replaced by the rendered model card"
    assert "training record" in left_out["train_results.json"] and "training_args.bin" in left_out
    assert "hf_secret" not in (tmp_path / "remote" / "someone" / "t2l" / "README.md").read_text()

    assert main(["push", "--model-dir", str(cluttered), "--repo-id", "someone/t2l", "--card", CARD,
                 "--dry-run", str(tmp_path / "staging")]) == 0
    printed = capsys.readouterr().out
    assert "left out: .env: hidden file" in printed and "left out: notes/: folder not uploaded" in printed
    assert "left out: vocab_link.json: symbolic link to outside the folder" in printed


def test_the_dry_run_is_the_upload_and_neither_changes_the_folder(cluttered, tmp_path):
    config = json.loads((cluttered / "config.json").read_text())
    assert "custom_pipelines" not in config  # saved with save_pretrained only: the upload must add the entry
    before = _hashes(cluttered)
    staging = tmp_path / "staging"
    assert main(["push", "--model-dir", str(cluttered), "--repo-id", "someone/t2l", "--card", CARD,
                 "--results", str(_results_json(tmp_path)), "--dry-run", str(staging)]) == 0
    assert _hashes(cluttered) == before
    api = FakeHubApi(tmp_path / "remote")
    push_model(cluttered, "someone/t2l", CARD, results=[_results_json(tmp_path)], api=api)
    assert _hashes(cluttered) == before
    remote = tmp_path / "remote" / "someone" / "t2l"
    assert _hashes(staging) == _hashes(remote)  # same names, same bytes
    assert "zero-shot-video-classification" in json.loads((remote / "config.json").read_text())["custom_pipelines"]


@pytest.mark.parametrize("repo_id", ["someone/bad name", "a/b/c", "someone/a..b", "someone/model--v1"])
def test_an_invalid_repo_id_is_one_line(cluttered, tmp_path, repo_id, capsys):
    api = FakeHubApi(tmp_path / "remote")
    with pytest.raises(ValueError, match="invalid Hub repo id"):
        push_model(cluttered, repo_id, CARD, api=api)
    assert api.repos == [] and api.commits == []
    assert main(["push", "--model-dir", str(cluttered), "--repo-id", repo_id, "--card", CARD,
                 "--dry-run", str(tmp_path / "staging")]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("t2l push: error: invalid Hub repo id") and "\n" not in error
    assert not (tmp_path / "staging").exists()


def test_the_card_describes_the_model_in_the_folder(cluttered, tmp_path):
    card = render_card(CARD, "someone/t2l", model_dir=cluttered)
    text, data = str(card), card.data.to_dict()
    # the tiny model: patch 8, width 32, 2 layers, 32 px, 4 frames; trained (per its record) from CLIP B/32 on k400
    assert "patch 8, width 32, 2 layers, 32 px input), 4 frames per video" in text
    assert "ViT-B/16" not in text and "Kinetics-400" not in text
    assert data["base_model"] == "openai/clip-vit-base-patch32" and data["datasets"] == ["k400"]
    assert "`k400` (protocol `k400_zero_shot`, split `train`, 24 videos)" in text
    assert "`configuration/mine.yaml`" in text
    assert "52.9" not in text and "79.1" not in text and "70.1" not in text and "model-index" not in data
    assert "Not shown" in text


def test_a_folder_without_a_training_record_says_so(model_dir):
    text = str(render_card(CARD, "someone/t2l", model_dir=model_dir))
    assert "**Base model:** not recorded" in text and "no train_results.json" in text


def test_the_authors_numbers_need_the_released_architecture(cluttered, tmp_path, capsys):
    with pytest.raises(ValueError, match=r"not the released .*patch_size 8 \(card: 16\), hidden_size 32 \(card: 768\)"):
        render_card(CARD, "someone/t2l", model_dir=cluttered, released=True)
    assert main(["push", "--model-dir", str(cluttered), "--repo-id", "someone/t2l", "--card", CARD, "--released",
                 "--dry-run", str(tmp_path / "staging")]) == 1
    assert "hidden_size 32 (card: 768)" in capsys.readouterr().err
    released = render_card(CARD, "someone/t2l", model_dir=released_dir(tmp_path), released=True)
    assert "52.9" in str(released) and released.data.to_dict()["base_model"] == "openai/clip-vit-base-patch16"


def test_a_partial_evaluation_carries_its_counts(model_dir, tmp_path):
    partial = {
        "protocol": {"protocol": "zero_shot_hmdb51", "dataset": "hmdb51"},
        "aggregate": {"mean": 33.3, "std": 0.0, "num_splits": 1, "per_split": {"split1": 33.3}, "partial": True},
        "splits": {"split1": {"name": "split1", "top1": 33.33, "top5": 100.0, "num_videos": 3, "num_classes": 51,
                              "skipped_videos": 1, "skipped_examples": []}},
    }
    card = render_card(CARD, "someone/t2l", model_dir=model_dir, results=[partial])
    text = str(card)
    label = "split1 (partial: 3 of 1530 videos scored, 1 skipped, 1526 missing)"
    assert f"| zero_shot_hmdb51 | {label} | 33.33 | 100.00 | 3 | 1 | 1526 |" in text
    assert "(partial evaluation: see the counts per split) (only 1 of the protocol's scored splits)" in text
    (entry,) = card.data.to_dict()["model-index"][0]["results"]
    assert entry["source"]["name"] == REPRODUCED_SOURCE and label in entry["dataset"]["name"]
    assert AUTHORS_SOURCE[0] not in text
