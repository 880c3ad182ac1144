"""TC-CLIP through the shared zero-shot path: pipeline, classifier, evaluation and `t2l evaluate` on a tiny random
TC-CLIP saved to disk (its text tower reads the video, and its class texts are its own official prompts).

Expectations are computed by hand through `model(pixel_values, input_ids, attention_mask).logits` (softmax of the
trained-scale logits, averaged over views), never through the pipeline's or the classifier's helpers.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import AutoModelForVideoClassification, pipeline

from modeling_t2l.data import custom_protocol, make_transform
from modeling_t2l.evaluation.evaluate import evaluate_protocol, markdown_table, results_to_json
from modeling_t2l.models.tc_clip import TCCLIPConfig, TCCLIPForVideoClassification, prompt_texts
from modeling_t2l.models.tc_clip.processing_defaults import build_processor
from modeling_t2l.processing.processing_t2l import T2LProcessor
from modeling_t2l.zero_shot.classifier import build_zero_shot_classifier
from tests.video_factory import write_video

LABELS = ["ApplyEyeMakeup", "playing_guitar", "YoYo"]
NUM_FRAMES = 4
TOL = dict(rtol=1e-5, atol=1e-6)


def tiny_config() -> TCCLIPConfig:
    return TCCLIPConfig(
        text_config=dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, eos_token_id=49407, bos_token_id=49406,
                         pad_token_id=49407, projection_dim=32),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8, projection_dim=32),
        projection_dim=32, num_frames=NUM_FRAMES, context_tokens=6, merge_r=4, context_length=30,
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A random tiny TC-CLIP and its processor (ImageNet statistics, 36 -> 32 px), saved as a checkpoint."""
    path = tmp_path_factory.mktemp("tiny_tc_clip")
    torch.manual_seed(0)
    model = TCCLIPForVideoClassification(tiny_config())
    with torch.no_grad():  # a lower temperature than CLIP's 100, so the scores are not one-hot
        model.tc_clip.logit_scale.fill_(2.0)
    model.save_pretrained(path)
    build_processor(NUM_FRAMES, 32).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def model(saved):
    return AutoModelForVideoClassification.from_pretrained(saved).eval()


@pytest.fixture(scope="module")
def processor(saved):
    return T2LProcessor.from_pretrained(saved)


@pytest.fixture(scope="module")
def pipe(saved):
    return pipeline("zero-shot-video-classification", model=str(saved), device=-1)


def random_video(seed: int, num_frames: int = 11) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (num_frames, 40, 48, 3), dtype=np.uint8)


@torch.no_grad()
def by_hand(model, processor, clips, labels) -> np.ndarray:
    """(views, T, H, W, 3) uint8 clips of one video -> the mean over views of softmax(model(...).logits)."""
    pixel_values = processor.image_processor(list(clips), return_tensors="pt")["pixel_values"]
    text = processor(text=prompt_texts(labels, model.config), return_tensors="pt")
    logits = model(pixel_values, text["input_ids"], text["attention_mask"]).logits
    return torch.softmax(logits, dim=-1).mean(dim=0).numpy()


def scores_of(result, labels) -> np.ndarray:
    found = {item["label"]: item["score"] for item in result}
    return np.array([found[label] for label in labels])


# -- pipeline ------------------------------------------------------------------------------------------------------


def test_pipeline_loads_tc_clip_and_scores_its_own_prompts(pipe, model, processor):
    assert type(pipe.model).__name__ == "TCCLIPForVideoClassification" and pipe.model.text_depends_on_video
    video = random_video(0)
    result = pipe(video, candidate_labels=LABELS)
    assert pipe.last_class_texts.mode == "model"
    assert pipe.last_class_texts.texts == [["a photo of a Apply Eye Makeup.", "a photo of a playing guitar.",
                                            "a photo of a Yo Yo."]]
    expected = by_hand(model, processor, pipe.load_clips(video), LABELS)
    np.testing.assert_allclose(scores_of(result, LABELS), expected, **TOL)
    assert not np.allclose(expected, expected[0])  # the check could fail: the classes get different scores


def test_pipeline_batch_of_two_equals_singles(pipe):
    videos = [random_video(1), random_video(2, num_frames=7)]
    batched = pipe(videos, candidate_labels=LABELS, batch_size=2)
    singles = [pipe(video, candidate_labels=LABELS) for video in videos]
    for got, want in zip(batched, singles):
        np.testing.assert_allclose(scores_of(got, LABELS), scores_of(want, LABELS), **TOL)
    assert not np.allclose(scores_of(singles[0], LABELS), scores_of(singles[1], LABELS))


def test_pipeline_multi_view_averages_the_views(pipe, model, processor):
    video = random_video(3, num_frames=20)
    result = pipe(video, candidate_labels=LABELS, num_clips=2)
    expected = by_hand(model, processor, pipe.load_clips(video, num_clips=2), LABELS)
    np.testing.assert_allclose(scores_of(result, LABELS), expected, **TOL)


def test_pipeline_random_clips_are_seeded_tsn_draws(pipe, model, processor):
    """The official multi-view test in the pipeline: 2 random TSN clips from a seeded generator, averaged."""
    from modeling_t2l.processing.video_io import sample_frame_indices

    video = random_video(4, num_frames=30)
    result = pipe(video, candidate_labels=LABELS, num_clips=2, clip_sampling="random", seed=5)
    rng = np.random.default_rng(5)
    # TC-CLIP's processor names mmaction2's sampler (spec §6.2)
    clips = np.stack([video[sample_frame_indices(30, NUM_FRAMES, "train", rng, sampling="mmaction")] for _ in range(2)])
    np.testing.assert_allclose(scores_of(result, LABELS), by_hand(model, processor, clips, LABELS), **TOL)
    again = pipe(video, candidate_labels=LABELS, num_clips=2, clip_sampling="random", seed=5)
    np.testing.assert_allclose(scores_of(again, LABELS), scores_of(result, LABELS), rtol=0, atol=0)
    other = pipe(video, candidate_labels=LABELS, num_clips=2, clip_sampling="random", seed=6)
    assert not np.allclose(scores_of(other, LABELS), scores_of(result, LABELS))
    with pytest.raises(ValueError, match="clip_sampling must be 'uniform' or 'random'"):
        pipe(video, candidate_labels=LABELS, clip_sampling="even")


def test_explicit_templates_still_win_over_the_family_prompts(pipe):
    pipe(random_video(0), candidate_labels=LABELS, hypothesis_template="a video of {}")
    assert pipe.last_class_texts.mode == "templates"
    assert pipe.last_class_texts.texts == [[f"a video of {label.replace('_', ' ')}" for label in LABELS]]


def test_shared_text_reuse_gives_the_same_scores(model, processor):
    """`encode_shared_text` computed once per label set equals running the whole text tower per batch."""
    tokenize = lambda texts: processor(text=texts, return_tensors="pt")  # noqa: E731
    texts = prompt_texts(LABELS, model.config)
    reused = build_zero_shot_classifier(model, tokenize, texts)
    whole = build_zero_shot_classifier(model, tokenize, texts, reuse_shared_text=False)
    assert reused.shared_text is not None and whole.shared_text is None
    pixel_values = processor.image_processor([random_video(s)[:NUM_FRAMES] for s in range(3)],
                                             return_tensors="pt")["pixel_values"]
    torch.testing.assert_close(reused(model, pixel_values), whole(model, pixel_values), rtol=1e-5, atol=1e-6)


def test_families_without_prompts_keep_the_shared_texts(model):
    from modeling_t2l import T2LForVideoClassification
    from modeling_t2l.zero_shot.prompts import model_class_texts
    from tests.tiny import tiny_t2l_config

    assert model_class_texts(T2LForVideoClassification(tiny_t2l_config()), LABELS) is None
    assert model_class_texts(model, LABELS).texts == [prompt_texts(LABELS, model.config)]


# -- evaluation ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_protocol(tmp_path_factory):
    """6 mp4 videos of 3 classes, a label file and one eval list."""
    root = tmp_path_factory.mktemp("tc_clip_eval")
    videos = root / "videos"
    videos.mkdir()
    lines = []
    for i in range(6):
        write_video(videos / f"v{i}.mp4", num_frames=9 + 3 * i, width=48, height=40, gop=4)
        lines.append(f"v{i}.mp4 {i % 3}")
    (root / "labels.csv").write_text("id,name\n" + "".join(f"{i},{name}\n" for i, name in enumerate(LABELS)))
    (root / "test.txt").write_text("\n".join(lines) + "\n")
    return root


def expected_top1(model, processor, root, num_clips=1, clip_sampling="uniform", seed=0) -> float:
    """Top-1 by hand: the eval transform's clips (the same seeded draw), then `model(...)` per video."""
    transform = make_transform(processor.image_processor, train=False, num_clips=num_clips,
                               clip_sampling=clip_sampling, seed=seed)
    text = processor(text=prompt_texts(LABELS, model.config), return_tensors="pt")
    correct = 0
    lines = (root / "test.txt").read_text().split("\n")
    entries = [line.split() for line in lines if line]
    for name, label in entries:
        pixel_values = transform.decode({"path": str(root / "videos" / name), "bytes": None})
        pixel_values = pixel_values if pixel_values.ndim == 5 else pixel_values[None]
        with torch.no_grad():
            logits = model(pixel_values, text["input_ids"], text["attention_mask"]).logits
        correct += int(torch.softmax(logits, dim=-1).mean(dim=0).argmax()) == int(label)
    return 100.0 * correct / len(entries)


def test_evaluate_protocol_uses_the_prompts_and_the_seeded_random_views(model, processor, tiny_protocol):
    protocol = custom_protocol({"name": "tiny", "labels": str(tiny_protocol / "labels.csv"),
                                "eval": {"test": str(tiny_protocol / "test.txt")}}, num_frames=NUM_FRAMES, train=False)
    import dataclasses

    random_protocol = dataclasses.replace(protocol, num_clips=2, clip_sampling="random", clip_seed=7)
    results = evaluate_protocol(model, processor, random_protocol, tiny_protocol / "videos", batch_size=4,
                                num_workers=0, progress=False)
    split = results["splits"]["test"]
    assert split.text_mode == "model" and (split.views, split.clip_sampling, split.seed) == ("2x1", "random", 7)
    assert split.top1 == pytest.approx(expected_top1(model, processor, tiny_protocol, 2, "random", 7))
    again = evaluate_protocol(model, processor, random_protocol, tiny_protocol / "videos", batch_size=2,
                              num_workers=0, progress=False)
    assert again["splits"]["test"].confusion == split.confusion  # the draw depends on the seed and video only
    reported = results_to_json(results)
    assert reported["protocol"]["clip_sampling"] == "random" and reported["protocol"]["clip_seed"] == 7
    assert reported["protocol"]["text_mode"] == "model prompts" and reported["splits"]["test"]["seed"] == 7
    assert "2x1 views, random clips, seed 7" in markdown_table(results)


def test_random_clips_differ_from_uniform_ones_and_follow_the_seed(processor, tiny_protocol):
    source = {"path": str(tiny_protocol / "videos" / "v5.mp4"), "bytes": None}  # 24 frames: room to vary
    draw = lambda sampling, seed: make_transform(processor.image_processor, train=False, num_clips=2,  # noqa: E731
                                                 clip_sampling=sampling, seed=seed).decode(source)
    torch.testing.assert_close(draw("random", 3), draw("random", 3), rtol=0, atol=0)
    assert not torch.equal(draw("random", 3), draw("random", 4))
    assert not torch.equal(draw("random", 3), draw("uniform", 3))
    with pytest.raises(ValueError, match="clip_sampling must be 'uniform' or 'random'"):
        make_transform(processor.image_processor, train=False, clip_sampling="even")


def test_t2l_evaluate_command_end_to_end(saved, model, processor, tiny_protocol, tmp_path, capsys):
    from modeling_t2l.cli import main

    out = tmp_path / "out"
    code = main(["evaluate", "--model", str(saved), "--labels", str(tiny_protocol / "labels.csv"),
                 "--eval-list", f"test={tiny_protocol / 'test.txt'}", "--data-root", str(tiny_protocol / "videos"),
                 "--num-clips", "2", "--clip-sampling", "random", "--seed", "11", "--output-dir", str(out),
                 "--num-workers", "0", "--batch-size", "4", "--device", "cpu"])
    assert code == 0
    reported = json.loads((out / "results.json").read_text())
    assert reported["protocol"]["views"] == "2x1" and reported["protocol"]["clip_seed"] == 11
    top1 = reported["splits"]["test"]["top1"]
    assert top1 == pytest.approx(expected_top1(model, processor, tiny_protocol, 2, "random", 11))
    assert reported["splits"]["test"]["num_videos"] == 6 and reported["skipped_videos"] == 0
    assert "random clips, seed 11" in (out / "results.md").read_text()
    assert "random clips, seed 11" in capsys.readouterr().out


def test_shared_text_benchmark_runs_and_both_paths_agree():
    """The benchmark's two paths give the same probabilities (its timing is a ratio, never asserted)."""
    from modeling_t2l.benchmarking.shared_text import run_shared_text

    result = run_shared_text(classes=5, videos=2, text_layers=2, text_width=32, repeats=1)
    assert result.max_abs_difference <= 1e-6 and result.whole_seconds > 0 and result.reused_seconds > 0
