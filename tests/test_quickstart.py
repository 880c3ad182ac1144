"""The offline quickstart (`t2l demo`): the generated world, the files, the cached tiny CLIP, and a one-epoch
smoke run of every step on the smallest settings, including reloading the saved model with `pipeline`."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from modeling_t2l.data.lists import read_labels, read_split_list
from modeling_t2l.quickstart import world
from modeling_t2l.quickstart.dataset import generate_dataset
from modeling_t2l.quickstart.tiny_clip import contrastive_loss, pretrain_tiny_clip
from modeling_t2l.processing.video_io import probe_video, read_video

SIZE = 32


# ------------------------------------------------------------------------------------------------ the world
def test_classes_are_words_and_split_is_disjoint():
    base, novel = world.split_classes()
    names = lambda classes: {c.name for c in classes}  # noqa: E731
    assert not names(base) & names(novel)
    assert names(base) | names(novel) == names(world.all_classes())
    assert "a red circle moving to the left" in names(novel)
    assert "a red square moving to the left" in names(base)
    # novel = appearances never seen in training, doing the same actions; every colour and shape is still trained
    base_looks = {(c.colour, c.shape) for c in base}
    assert not base_looks & {(c.colour, c.shape) for c in novel}
    assert {c.colour for c in base} == set(world.COLOURS) and {c.shape for c in base} == set(world.SHAPES)
    assert {c.action for c in novel} == {c.action for c in base} == set(world.ACTIONS)


def _centre_and_area(frame: np.ndarray, colour: str) -> tuple[float, float, float]:
    distance = np.abs(frame.astype(int) - np.asarray(world.COLOURS[colour])).sum(axis=-1)
    ys, xs = np.nonzero(distance < 60)
    return xs.mean(), ys.mean(), len(xs)


@pytest.mark.parametrize("action", list(world.ACTIONS))
def test_clips_show_the_action(action):
    clip = world.render_clip(world.ActionClass("red", "square", action), np.random.default_rng(3), 12, SIZE)
    assert clip.shape == (12, SIZE, SIZE, 3) and clip.dtype == np.uint8
    (x0, y0, a0), (x1, y1, a1) = _centre_and_area(clip[0], "red"), _centre_and_area(clip[-1], "red")
    dx, dy, growth = world.ACTIONS[action]
    assert np.sign(round(x1 - x0)) == dx and np.sign(round(y1 - y0)) == dy
    if growth != 1.0:
        assert (a1 > 2 * a0) if growth > 1 else (a0 > 2 * a1)


def test_reversed_actions_have_the_same_kind_of_frames():
    # the point of the task: "moving right" played backwards looks like "moving left" (a frame set cannot tell)
    right = world.render_clip(world.ActionClass("blue", "circle", "moving to the right"), np.random.default_rng(5), 8, SIZE)
    x = [_centre_and_area(frame, "blue")[0] for frame in right[::-1]]
    assert all(a > b for a, b in zip(x, x[1:]))


def test_stills_have_captions_without_motion():
    rng = np.random.default_rng(0)
    stills = [world.render_still(rng, SIZE) for _ in range(60)]
    assert {image.shape for image, _ in stills} == {(SIZE, SIZE, 3)}
    for image, still in stills:
        assert still.caption == f"a {still.size + ' ' if still.size else ''}{still.colour} {still.shape} {still.place}"
        assert still.place in world.POSITIONS and not any(word in still.caption for word in ("moving", "growing"))
    assert {still.size for _, still in stills} == {"small", "", "big"}
    # the size word matches what is drawn: small objects cover far fewer pixels than big ones
    area = {size: np.mean([_centre_and_area(image, s.colour)[2] for image, s in stills if s.size == size])
            for size in ("small", "big")}
    assert area["big"] > 3 * area["small"]


def test_action_names_use_the_words_the_stills_teach():
    # the tiny CLIP must know what a class name's words mean (a place, "big", "small"), as a real CLIP does;
    # what it has never seen is those words happening over time
    caption_words = {place.split()[-1] for place in world.POSITIONS} | {"small", "big"}  # "left", ..., "big"
    for action in world.ACTIONS:
        assert action.split()[-1] in caption_words, action


# ------------------------------------------------------------------------------------------------ the files
def test_generated_dataset_is_decodable_and_reused(tmp_path):
    data = generate_dataset(tmp_path, videos_per_class=1, test_videos_per_class=2, base_test_videos_per_class=1,
                            num_frames=8, image_size=SIZE, progress=False)
    assert read_labels(data.base_labels) == [c.name for c in data.base_classes]
    assert read_labels(data.novel_labels) == [c.name for c in data.novel_classes]
    train, novel = read_split_list(data.train_list), read_split_list(data.novel_list)
    assert len(train) == len(data.base_classes) and len(novel) == 2 * len(data.novel_classes)
    assert {e.label for e in novel} == set(range(len(data.novel_classes)))
    path = data.video_root / novel[0].name
    info = probe_video(path)
    assert (info.num_frames, info.width, info.height) == (8, SIZE, SIZE)
    frames = read_video(path, 4)
    assert frames.shape == (4, SIZE, SIZE, 3)
    # the colour survives H.264: the novel video 0 is a red circle
    assert _centre_and_area(frames[0], "red")[2] > 10

    stamp = os.stat(path).st_mtime_ns
    generate_dataset(tmp_path, videos_per_class=1, test_videos_per_class=2, base_test_videos_per_class=1,
                     num_frames=8, image_size=SIZE, progress=False)
    assert os.stat(path).st_mtime_ns == stamp  # same settings: reused, not re-encoded


def test_same_settings_write_the_same_files(tmp_path):
    # "fixed seeds" must mean the same videos: with x264's assembly and threads a few files changed from run to run
    settings = dict(videos_per_class=1, test_videos_per_class=2, base_test_videos_per_class=1, num_frames=16,
                    image_size=SIZE, progress=False)
    first, second = generate_dataset(tmp_path / "a", **settings), generate_dataset(tmp_path / "b", **settings)
    files = sorted(path.relative_to(first.video_root) for path in first.video_root.rglob("*.mp4"))
    assert len(files) == 144
    changed = [str(f) for f in files if (first.video_root / f).read_bytes() != (second.video_root / f).read_bytes()]
    assert changed == []


# ------------------------------------------------------------------------------------------------ tiny CLIP
def test_contrastive_loss_counts_shared_captions_as_one_target():
    ids = torch.tensor([0, 0, 1])
    perfect = torch.tensor([[20.0, -20.0], [20.0, -20.0], [-20.0, 20.0]])
    assert contrastive_loss(perfect, ids).item() == pytest.approx(np.log(2) / 4, abs=1e-3)  # caption 0: 2 images, half each
    assert contrastive_loss(-perfect, ids).item() > 10


def test_tiny_clip_is_cached(tmp_path):
    first = pretrain_tiny_clip(tmp_path, image_size=SIZE, steps=1, batch_size=8, eval_images=8, progress=False)
    assert (first / "config.json").is_file() and (first / "vocab.json").is_file()
    stamp = os.stat(first / "model.safetensors").st_mtime_ns
    assert pretrain_tiny_clip(tmp_path, image_size=SIZE, steps=1, batch_size=8, eval_images=8, progress=False) == first
    assert os.stat(first / "model.safetensors").st_mtime_ns == stamp
    assert pretrain_tiny_clip(tmp_path, image_size=SIZE, steps=2, batch_size=8, eval_images=8, progress=False) != first


# ------------------------------------------------------------------------------------------------ recipes
def test_trained_rows_use_the_miniature_recipe_unless_official():
    from modeling_t2l import T2LConfig
    from modeling_t2l.quickstart.ablation import VARIANTS_BY_KEY, TrainSettings
    from types import SimpleNamespace

    from modeling_t2l.modeling_utils import ZeroShotVideoModelMixin

    def training_negatives(config):  # the property of every family's model, read on a bare config
        return ZeroShotVideoModelMixin.training_negatives.fget(SimpleNamespace(config=config))

    full, frozen = VARIANTS_BY_KEY["full"], VARIANTS_BY_KEY["frozen"]
    miniature = T2LConfig(**TrainSettings().model_overrides(full))
    assert not miniature.use_text_adapters and miniature.use_temporal_tokens and miniature.tfd_loss_weight == 1.0
    assert training_negatives(miniature) == "vocabulary" and miniature.drop_path_rate == 0.0
    official = T2LConfig(**TrainSettings(official_recipe=True).model_overrides(full))
    assert official.use_text_adapters and training_negatives(official) == "batch"
    assert official.drop_path_rate == T2LConfig().drop_path_rate
    # the frozen baseline is plain CLIP whatever the recipe
    assert TrainSettings().model_overrides(frozen) == frozen.overrides


# ------------------------------------------------------------------------------------------------ smoke run
@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    from modeling_t2l.quickstart import DemoOptions, run_demo

    out = tmp_path_factory.mktemp("demo")
    options = DemoOptions(out=str(out / "run"), num_videos=1, test_videos=2, frames=8, num_frames=4, image_size=SIZE,
                          epochs=1, seeds=1, batch_size=16, pretrain_steps=2, cache_dir=str(out / "cache"),
                          variants=("frozen", "full"), progress=False)
    return run_demo(options)


def test_demo_smoke_run_writes_the_report(demo_run):
    paths = demo_run["paths"]
    table = paths["markdown"].read_text()
    assert "Frozen CLIP (frame average)" in table and "T2L (adapters + temporal tokens + TFD)" in table
    assert paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(paths["json"].read_text())
    assert set(saved["per_seed"]) == {"frozen", "full"}
    for runs in demo_run["scores"].values():
        assert len(runs) == 1 and all(0.0 <= value <= 100.0 for value in runs[0].values())


def test_demo_model_reloads_and_classifies_with_pipeline(demo_run):
    from modeling_t2l import T2LForVideoClassification
    from modeling_t2l.zero_shot.classifier import zero_shot_probabilities
    from modeling_t2l.processing.processing_t2l import T2LProcessor
    from modeling_t2l.quickstart.runner import classify_with_pipeline

    video, _ = demo_run["example"]
    base, novel = world.split_classes()
    labels = [c.name for c in novel]
    predictions = classify_with_pipeline(demo_run["model_dir"], video, labels, top_k=len(labels))
    assert [p["label"] for p in predictions] != [] and {p["label"] for p in predictions} == set(labels)
    assert sum(p["score"] for p in predictions) == pytest.approx(1.0, abs=1e-4)

    # the pipeline scores exactly what the saved model and processor compute directly
    model = T2LForVideoClassification.from_pretrained(demo_run["model_dir"]).eval()
    processor = T2LProcessor.from_pretrained(demo_run["model_dir"])
    inputs = processor(videos=[read_video(video, model.config.num_frames)], text=labels)
    with torch.no_grad():
        probabilities = zero_shot_probabilities(
            model.get_video_features(inputs["pixel_values"]).pooler_output,
            model.get_text_features(inputs["input_ids"], inputs["attention_mask"]).pooler_output,
            model.config.eval_logit_scale,
        )[0]
    direct = {label: float(p) for label, p in zip(labels, probabilities)}
    for prediction in predictions:
        assert prediction["score"] == pytest.approx(direct[prediction["label"]], abs=1e-4)


def test_demo_command_parses_the_script_options():
    import argparse

    from modeling_t2l.commands import demo

    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    args = parser.parse_args(["--seeds", "2", "--num-videos", "4", "--epochs", "3", "--frames", "12",
                              "--image-size", "48", "--variants", "frozen,full"])
    assert (args.seeds, args.num_videos, args.epochs, args.frames, args.image_size) == (2, 4, 3.0, 12, 48)
    assert args.variants == "frozen,full"


def test_demo_command_hands_every_option_to_the_run(monkeypatch, capsys):
    from modeling_t2l.cli import main
    from modeling_t2l.quickstart import runner

    seen = []
    monkeypatch.setattr(runner, "run_demo", seen.append)
    assert main(["demo", "--quiet"]) == 0
    assert seen[-1] == runner.DemoOptions(command=seen[-1].command, progress=False)  # the defaults are the library's
    assert main(["demo", "--seeds", "3", "--official-recipe", "--variants", "frozen, full", "--out", "elsewhere"]) == 0
    options = seen[-1]
    assert (options.seeds, options.official_recipe, options.variants, options.out) == (3, True, ("frozen", "full"), "elsewhere")

    def refuse(options):
        raise ValueError("the variants must include 'full'")

    monkeypatch.setattr(runner, "run_demo", refuse)
    assert main(["demo", "--variants", "frozen"]) == 2
    assert "t2l demo: error: the variants must include 'full'" in capsys.readouterr().err
