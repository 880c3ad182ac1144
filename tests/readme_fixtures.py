"""Stand-ins for everything README.md's code blocks name, so tests/test_readme.py can run them offline.

`build_readme_workspace(root)` writes:

* a Hugging Face hub cache (`root/hub`, used through HF_HUB_CACHE with HF_HUB_OFFLINE=1) in which every Hub id
  of the README resolves to a tiny model: `openai/clip-vit-base-patch16` is a tiny random CLIP (ViT with 224 px
  input and 32 px patches, width 32) with the real CLIP tokenizer files;
* the working folder the blocks run in (`root/work`), holding the README's local names:
  `t2l-vit-b16-k400/` and `path/to/t2l-checkpoint/` (a tiny T2L saved the way `t2l demo` saves its model:
  weights, processor and the pipeline's code), `model_best_K_400.pt` (the tiny official-format checkpoint of
  tests/fixtures/official_t2l/tiny_t8), the videos (`skateboarding.mp4`, `a.mp4`, `b.mp4`, `video.mp4`,
  `clip.mp4`, `clip.webm`, `videos/*.mp4`), `labels.txt`, and a link to the repository's `scripts/`.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPModel

from tests.tiny import TOKENIZER_DIR, tiny_text_config, tiny_vision_config
from tests.video_factory import write_video

REPO = Path(__file__).resolve().parent.parent
HUB_IDS = ("openai/clip-vit-base-patch16",)
SNAPSHOT = "0" * 40


def _hub_snapshot(hub: Path, repo_id: str) -> Path:
    """The cache layout huggingface_hub resolves offline: models--org--name/{refs/main, snapshots/<commit>/}."""
    folder = hub / ("models--" + repo_id.replace("/", "--"))
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(SNAPSHOT)
    snapshot = folder / "snapshots" / SNAPSHOT
    snapshot.mkdir(parents=True, exist_ok=True)
    return snapshot


def save_readme_clip(path: Path) -> Path:
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=tiny_text_config().to_dict(),
        vision_config=tiny_vision_config(image_size=224, patch_size=32).to_dict(),
        projection_dim=16, logit_scale_init_value=4.6052,
    )
    CLIPModel(config).save_pretrained(path)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(TOKENIZER_DIR / name, path / name)
    return path


def build_readme_workspace(root: Path) -> tuple[Path, Path]:
    """Returns (hub cache, working folder)."""
    from modeling_t2l import T2LForVideoClassification, T2LProcessor
    from modeling_t2l.quickstart.runner import save_demo_model

    hub, work = root / "hub", root / "work"
    work.mkdir(parents=True, exist_ok=True)
    clip = save_readme_clip(_hub_snapshot(hub, "openai/clip-vit-base-patch16"))

    model = T2LForVideoClassification.from_clip(str(clip), num_frames=8)
    processor = T2LProcessor.from_clip_tokenizer(num_frames=8)
    save_demo_model(model, processor, work / "t2l-vit-b16-k400")
    shutil.copytree(work / "t2l-vit-b16-k400", work / "path" / "to" / "t2l-checkpoint")
    shutil.copy(REPO / "tests" / "fixtures" / "official_t2l" / "tiny_t8" / "checkpoint.pt", work / "model_best_K_400.pt")

    for name in ("skateboarding.mp4", "a.mp4", "b.mp4", "video.mp4", "clip.mp4", "videos/one.mp4", "videos/two.mp4"):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        write_video(work / name, num_frames=12, width=64, height=48)
    write_video(work / "clip.webm", num_frames=12, width=64, height=48, fmt="webm-vp8")
    (work / "labels.txt").write_text("skateboarding\nsurfing water\njuggling balls\n")
    (work / "scripts").symlink_to(REPO / "scripts")
    return hub, work
