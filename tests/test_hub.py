"""Model cards and the one-commit Hub upload, with the Hub client replaced by a local fake.

What this proves: the card's metadata and tables, exactly which files one commit would upload, and that those
files load with `trust_remote_code=True` in a fresh process where `modeling_t2l` cannot be imported, giving the
same outputs. What it cannot prove: authentication, the network, LFS and Hub-side validation.
"""
import json
import shutil
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard

from modeling_t2l import T2LForVideoClassification
from modeling_t2l.hub.push import AUTHORS_SOURCE, REPRODUCED_SOURCE, push_model, render_card
from modeling_t2l.processing.processing_t2l import T2LProcessor
from tests.isolated import run_without_package
from tests.tiny import save_tiny_clip

CARDS = ("k400_zero_shot_vitb16", "base_to_novel_k400", "base_to_novel_hmdb51", "base_to_novel_ucf101",
         "base_to_novel_ssv2")


class FakeHubApi:
    """The two HfApi methods `push_model` uses; each commit's files are copied into `remote/<repo_id>`."""

    def __init__(self, root: Path):
        self.root = root
        self.commits = []
        self.repos = []

    def create_repo(self, repo_id, private=False, exist_ok=False, repo_type=None):
        self.repos.append((repo_id, private, repo_type))
        return SimpleNamespace(repo_id=repo_id)

    def create_commit(self, repo_id, operations, commit_message, repo_type=None, **kwargs):
        target = self.root / repo_id
        names = []
        for operation in operations:
            destination = target / operation.path_in_repo
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = operation.path_or_fileobj
            if isinstance(source, (bytes, bytearray)):
                destination.write_bytes(source)
            else:
                shutil.copyfile(source, destination)
            names.append(operation.path_in_repo)
        self.commits.append({"repo_id": repo_id, "message": commit_message, "files": sorted(names)})
        return SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/fake")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    clip = save_tiny_clip(root / "clip")
    torch.manual_seed(0)
    model = T2LForVideoClassification.from_clip(str(clip), num_frames=4)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.05 * torch.randn_like(parameter))
    model.save_pretrained(root / "model")
    T2LProcessor.from_clip_tokenizer(num_frames=4, crop_size=32, shortest_edge=36).save_pretrained(root / "model")
    (root / "model" / "checkpoint-5").mkdir()  # training leftovers must not be uploaded
    (root / "model" / "checkpoint-5" / "optimizer.pt").write_bytes(b"x")
    (root / "model" / "training_args.bin").write_bytes(b"x")
    return root / "model"


def _results_json(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({
        "protocol": {"protocol": "zero_shot_hmdb51", "dataset": "hmdb51", "views": "1x1", "num_frames": 8,
                     "text_mode": "descriptions"},
        "aggregate": {"mean": 50.0, "std": 1.0, "num_splits": 3, "per_split": {}},
        "splits": {f"split{i}": {"name": f"split{i}", "top1": 49.0 + i - 1, "top5": 80.0, "num_videos": 1530,
                                 "num_classes": 51, "skipped_videos": 0, "skipped_examples": []} for i in (1, 2, 3)},
    }))
    return path


def released_dir(tmp_path) -> Path:
    """A folder whose config.json is the released ViT-B/16, 8-frame model (only the config is read for the card)."""
    folder = tmp_path / "released"
    folder.mkdir()
    config = {"num_frames": 8, "vision_config": {"patch_size": 16, "hidden_size": 768, "num_hidden_layers": 12,
                                                 "image_size": 224}}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize("name", CARDS)
def test_every_card_renders_with_the_required_metadata(name, model_dir, tmp_path):
    card = render_card(name, "someone/t2l", model_dir=released_dir(tmp_path), released=True)
    data = card.data.to_dict()
    assert data["library_name"] == "transformers" and data["pipeline_tag"] == "video-classification"
    assert "zero-shot" in data["tags"] and data["base_model"] == "openai/clip-vit-base-patch16"
    assert data["datasets"]
    results = data["model-index"][0]["results"]
    assert results and all(r["source"]["name"] == AUTHORS_SOURCE[0] for r in results)
    assert all(r["dataset"]["config"] for r in results)  # every number names its protocol
    text = str(card)
    assert "### Reported by the authors" in text and "Not measured yet" in text
    assert "ViT-B/16 (patch 16, width 768, 12 layers, 224 px input), 8 frames per video" in text
    # the same card for another model (the tiny one) describes that model and shows no authors' numbers
    tiny = render_card(name, "someone/t2l", model_dir=model_dir)
    assert "model-index" not in tiny.data.to_dict() and "base_model" not in tiny.data.to_dict()
    assert "4 frames per video" in str(tiny) and "Not shown" in str(tiny)


def test_reproduced_numbers_stay_apart_from_reported_ones(model_dir, tmp_path):
    card = render_card("k400_zero_shot_vitb16", "someone/t2l", model_dir=released_dir(tmp_path), released=True,
                       results=[_results_json(tmp_path)])
    results = card.data.to_dict()["model-index"][0]["results"]
    reproduced = [r for r in results if r["source"]["name"] == REPRODUCED_SOURCE]
    reported = [r for r in results if r["source"]["name"] == AUTHORS_SOURCE[0]]
    assert len(reported) == 3 and len(reproduced) == 3
    assert [r["metrics"][0]["value"] for r in reproduced] == [49.0, 50.0, 51.0]
    text = str(card)
    reported_part, reproduced_part = text.split("### Reproduced with this library")
    assert "52.9" in reported_part and "49.00" not in reported_part
    assert "| zero_shot_hmdb51 | split1 | 49.00 | 80.00 | 1530 | 0 | 0 |" in reproduced_part
    assert "top-1 50.00 ± 1.00 (population std over 3 splits)" in reproduced_part
    # the card round-trips through huggingface_hub's parser
    assert ModelCard(text).data.to_dict()["pipeline_tag"] == "video-classification"


CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import numpy as np
    import torch
    from transformers import AutoModelForVideoClassification, AutoProcessor

    remote, work = Path(sys.argv[1]), Path(sys.argv[2])
    model = AutoModelForVideoClassification.from_pretrained(remote, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(remote, trust_remote_code=True)
    inputs = processor(videos=[np.load(work / "clip.npy")], text=["archery", "riding a bike"], return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits
    torch.save(logits, work / "child_logits.pt")
    from transformers import pipeline

    classifier = pipeline(model=str(remote), trust_remote_code=True)  # task inferred from custom_pipelines
    scores = classifier(np.load(work / "clip.npy"), candidate_labels=["archery", "riding a bike"])
    (work / "child.json").write_text(json.dumps({"model": type(model).__module__, "processor": type(processor).__module__,
                                                "pipeline": type(classifier).__name__, "labels": sorted(s["label"] for s in scores)}))
    """
)


def test_push_uploads_everything_in_one_commit_and_reloads_with_remote_code(model_dir, tmp_path):
    api = FakeHubApi(tmp_path / "remote")
    push_model(model_dir, "someone/t2l-tiny", "k400_zero_shot_vitb16", results=[_results_json(tmp_path)], api=api)
    assert api.repos == [("someone/t2l-tiny", False, "model")]
    assert len(api.commits) == 1  # weights, processor, remote code and card together
    files = set(api.commits[0]["files"])
    assert {"README.md", "config.json", "model.safetensors", "configuration_t2l.py", "modeling_t2l.py",
            "processor_config.json", "processing_t2l.py", "image_processing_t2l.py", "tokenization.py",
            "zero_shot_video_classification.py", "video_io.py", "prompts.py"} <= files
    assert "zero-shot-video-classification" in json.loads((tmp_path / "remote" / "someone" / "t2l-tiny" / "config.json")
                                                          .read_text())["custom_pipelines"]
    assert not any(name.startswith("checkpoint-") or name == "training_args.bin" for name in files)
    remote = tmp_path / "remote" / "someone" / "t2l-tiny"
    assert "pipeline_tag: video-classification" in (remote / "README.md").read_text()

    clip = np.random.default_rng(0).integers(0, 256, size=(4, 40, 48, 3), dtype=np.uint8)
    np.save(tmp_path / "clip.npy", clip)
    model = T2LForVideoClassification.from_pretrained(model_dir).eval()
    processor = T2LProcessor.from_pretrained(model_dir)
    with torch.no_grad():
        expected = model(**processor(videos=[clip], text=["archery", "riding a bike"], return_tensors="pt")).logits

    run_without_package(CHILD, [remote, tmp_path], tmp_path)
    child = json.loads((tmp_path / "child.json").read_text())
    assert child.pop("pipeline") == "ZeroShotVideoClassificationPipeline"
    assert child.pop("labels") == ["archery", "riding a bike"]
    assert all(module.startswith("transformers_modules.") for module in child.values()), child
    # computed in another process (its own thread count): equal to fp32 tolerance, not bit for bit
    torch.testing.assert_close(torch.load(tmp_path / "child_logits.pt"), expected, rtol=1e-5, atol=1e-6)


def test_push_refuses_a_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        push_model(tmp_path / "empty", "someone/x", "base_to_novel_ucf101", api=FakeHubApi(tmp_path))


def test_push_command_dry_run_writes_the_upload_without_a_hub(model_dir, tmp_path, monkeypatch):
    from modeling_t2l.cli import main

    monkeypatch.setattr("huggingface_hub.HfApi", lambda *a, **k: pytest.fail("the dry run must not reach the Hub"))
    staging = tmp_path / "staging"
    assert main(["push", "--model-dir", str(model_dir), "--repo-id", "someone/t2l", "--card", "base_to_novel_ssv2",
                 "--dry-run", str(staging)]) == 0
    assert (staging / "model.safetensors").read_bytes() == (model_dir / "model.safetensors").read_bytes()
    assert "base_model:" not in (staging / "README.md").read_text()  # the tiny model records no Hub CLIP
    assert not (staging / "checkpoint-5").exists()
