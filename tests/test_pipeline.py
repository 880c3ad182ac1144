"""ZeroShotVideoClassificationPipeline on a tiny random T2L: inputs, scoring, batching, caching, errors.

Expectations are computed by hand from the model's feature methods and the official scoring rule
(softmax(100 * cos) per template, averaged over templates, then over views), not by calling the pipeline's helpers.
"""
from __future__ import annotations

import logging
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch
from PIL import Image

from modeling_t2l import T2LForVideoClassification
from modeling_t2l.processing.image_processing_t2l import T2LImageProcessor
from modeling_t2l.pipelines.zero_shot_video_classification import TASK, ZeroShotVideoClassificationPipeline
from modeling_t2l.processing.processing_t2l import T2LProcessor
from modeling_t2l.processing.tokenization import encode_texts
from modeling_t2l.processing.video_io import VideoDecodeError, read_video, sample_clip_indices
from tests.tiny import tiny_t2l_config
from tests.video_factory import write_video

NUM_FRAMES = 4
IMAGE_SIZE = 32
LABELS = ["archery", "juggling balls", "surfing water"]
TEMPLATES = ["a video of {}", "{}, an action"]


def make_processor() -> T2LProcessor:
    return T2LProcessor.from_clip_tokenizer(
        num_frames=NUM_FRAMES, crop_size=IMAGE_SIZE, shortest_edge=IMAGE_SIZE
    )


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return T2LForVideoClassification(tiny_t2l_config(num_frames=NUM_FRAMES, image_size=IMAGE_SIZE)).eval()


@pytest.fixture(scope="module")
def processor():
    return make_processor()


@pytest.fixture
def pipe(model, processor):
    """A fresh pipeline per test, so the text cache starts empty."""
    return ZeroShotVideoClassificationPipeline(
        model=model, tokenizer=processor.tokenizer, image_processor=processor.image_processor, device=-1
    )


def random_video(seed: int, num_frames: int = NUM_FRAMES, height: int = 40, width: int = 48) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


def scores_of(result) -> dict[str, float]:
    return {item["label"]: item["score"] for item in result}


@torch.no_grad()
def expected_probabilities(model, processor, clips, labels, templates, num_crops=1) -> np.ndarray:
    """Official scoring by hand for one video: mean over templates and views of softmax(100 * cos)."""
    pixel_values = processor.image_processor(list(clips), num_crops=num_crops, return_tensors="pt")["pixel_values"]
    video = model.get_video_features(pixel_values).pooler_output
    video = video / video.norm(dim=-1, keepdim=True)
    per_template = []
    for template in templates:
        encoded = encode_texts(processor.tokenizer, [template.replace("{}", label) for label in labels])
        text = model.get_text_features(**encoded).pooler_output
        text = text / text.norm(dim=-1, keepdim=True)
        per_template.append(torch.softmax(100.0 * video @ text.T, dim=-1))  # (views, K)
    return torch.stack(per_template).mean(dim=0).mean(dim=0).numpy()


# ------------------------------------------------------------------------------------------------------------
# Output and scoring
# ------------------------------------------------------------------------------------------------------------


def test_output_is_sorted_and_sums_to_one(pipe):
    result = pipe(random_video(0), candidate_labels=LABELS, hypothesis_template=TEMPLATES)
    assert [set(item) for item in result] == [{"label", "score"}] * len(LABELS)
    assert sorted(item["label"] for item in result) == sorted(LABELS)
    scores = [item["score"] for item in result]
    assert scores == sorted(scores, reverse=True)
    assert sum(scores) == pytest.approx(1.0, abs=1e-5)


def test_top_k_truncates_after_normalising(pipe):
    full = pipe(random_video(0), candidate_labels=LABELS, hypothesis_template=TEMPLATES)
    top = pipe(random_video(0), candidate_labels=LABELS, hypothesis_template=TEMPLATES, top_k=2)
    assert top == full[:2]
    assert sum(item["score"] for item in top) < 1.0


def test_template_list_averages_softmax_per_template(pipe, model, processor):
    video = random_video(1)  # exactly NUM_FRAMES frames, so segment-centre sampling keeps them all
    result = scores_of(pipe(video, candidate_labels=LABELS, hypothesis_template=TEMPLATES))
    expected = expected_probabilities(model, processor, [video], LABELS, TEMPLATES)
    np.testing.assert_allclose([result[label] for label in LABELS], expected, atol=1e-5)
    # ... which is not what one template alone gives
    single = scores_of(pipe(video, candidate_labels=LABELS, hypothesis_template=TEMPLATES[0]))
    expected_single = expected_probabilities(model, processor, [video], LABELS, TEMPLATES[:1])
    np.testing.assert_allclose([single[label] for label in LABELS], expected_single, atol=1e-5)
    assert not np.allclose(expected, expected_single, atol=1e-3)


def test_scores_use_the_models_zero_shot_logit_scale(model, processor, monkeypatch):
    video = random_video(2)

    def scores(scale):
        monkeypatch.setattr(model.config, "eval_logit_scale", scale)
        pipe = ZeroShotVideoClassificationPipeline(
            model=model, tokenizer=processor.tokenizer, image_processor=processor.image_processor, device=-1
        )
        return scores_of(pipe(video, candidate_labels=LABELS, hypothesis_template="{}"))

    flat = scores(1.0)
    assert max(flat.values()) - min(flat.values()) < 0.1  # scale 1 on cosines in [-1, 1] is nearly uniform
    sharp = scores(100.0)  # the official fixed scale, config.eval_logit_scale's default
    assert max(sharp.values()) - min(sharp.values()) > 0.5
    assert model.zero_shot_logit_scale == 100.0


def test_batch_size_one_and_two_give_the_same_scores(pipe):
    videos = [random_video(seed) for seed in (3, 4, 5)]
    one = pipe(videos, candidate_labels=LABELS, hypothesis_template=TEMPLATES, batch_size=1)
    two = pipe(videos, candidate_labels=LABELS, hypothesis_template=TEMPLATES, batch_size=2)
    assert len(one) == len(two) == 3
    for a, b in zip(one, two):
        assert [item["label"] for item in a] == [item["label"] for item in b]
        np.testing.assert_allclose([item["score"] for item in a], [item["score"] for item in b], atol=1e-6)
    # videos differ, so the per-video results are not accidentally all the same
    assert scores_of(one[0]) != scores_of(one[1])


def test_videos_of_a_batch_share_one_vision_forward(pipe, model, monkeypatch):
    calls = []
    original = model.get_video_embeddings  # the contract's video entry point for text that ignores the video
    monkeypatch.setattr(
        model, "get_video_embeddings", lambda pixel_values: calls.append(len(pixel_values)) or original(pixel_values)
    )
    pipe([random_video(seed) for seed in (3, 4, 5, 6)], candidate_labels=LABELS, hypothesis_template="{}", batch_size=4)
    assert calls == [4]


def test_text_tower_runs_once_per_vocabulary(pipe, model, monkeypatch):
    calls = []
    original = model.get_text_features
    monkeypatch.setattr(
        model, "get_text_features", lambda input_ids, *a, **kw: calls.append(len(input_ids)) or original(input_ids, *a, **kw)
    )
    for seed in (6, 7):
        pipe(random_video(seed), candidate_labels=LABELS, hypothesis_template=TEMPLATES)
    pipe([random_video(8), random_video(9)], candidate_labels=LABELS, hypothesis_template=TEMPLATES, batch_size=2)
    assert calls == [len(LABELS) * len(TEMPLATES)]  # one forward with every (template, label) text, then cached
    pipe(random_video(6), candidate_labels=LABELS[:2], hypothesis_template=TEMPLATES)  # another vocabulary
    assert calls == [6, 4]


# ------------------------------------------------------------------------------------------------------------
# Texts: descriptions vs templates
# ------------------------------------------------------------------------------------------------------------


def test_bundled_descriptions_are_the_default_when_every_label_has_one(pipe, caplog):
    with caplog.at_level(logging.INFO, logger="modeling_t2l.pipelines.zero_shot_video_classification"):
        pipe(random_video(0), candidate_labels=["ApplyEyeMakeup", "Archery"])
    assert pipe.last_class_texts.mode == "descriptions"
    assert pipe.last_class_texts.description_set == "ucf101"
    assert "descriptions" in caplog.text


def test_templates_are_the_fallback_with_a_warning(pipe):
    with pytest.warns(UserWarning, match="no description"):
        pipe(random_video(0), candidate_labels=["zorbing upside down", "Archery"])
    assert pipe.last_class_texts.mode == "templates"
    assert pipe.last_class_texts.num_templates == 16  # ActionCLIP's


def test_custom_descriptions_are_the_texts_scored(pipe):
    video = random_video(10)
    descriptions = {label: f"a video of {label}" for label in LABELS}
    with_descriptions = pipe(video, candidate_labels=LABELS, descriptions=descriptions)
    assert pipe.last_class_texts.mode == "descriptions" and pipe.last_class_texts.description_set == "custom"
    with_template = pipe(video, candidate_labels=LABELS, hypothesis_template="a video of {}")
    assert with_descriptions == with_template


# ------------------------------------------------------------------------------------------------------------
# Input forms
# ------------------------------------------------------------------------------------------------------------


def test_frame_list_pil_and_arrays_equal_the_stacked_array(pipe):
    video = random_video(11, num_frames=7)
    as_array = pipe(video, candidate_labels=LABELS, hypothesis_template="{}")
    assert pipe([Image.fromarray(frame) for frame in video], candidate_labels=LABELS, hypothesis_template="{}") == as_array
    assert pipe(list(video), candidate_labels=LABELS, hypothesis_template="{}") == as_array
    assert pipe(torch.from_numpy(video), candidate_labels=LABELS, hypothesis_template="{}") == as_array


def test_long_array_is_sampled_at_segment_centres(pipe):
    video = random_video(12, num_frames=16)
    centres = video[[1, 5, 9, 13]]  # official eval sampling of 4 of 16 frames: int(i * 4 + 1.5)
    assert pipe(video, candidate_labels=LABELS, hypothesis_template="{}") == pipe(
        centres, candidate_labels=LABELS, hypothesis_template="{}"
    )


def test_a_list_of_videos_is_a_batch_of_mixed_forms(pipe, tmp_path):
    path = write_video(tmp_path / "clip.mp4", num_frames=12)
    frames = read_video(path, NUM_FRAMES)
    results = pipe(
        [str(path), path, path.read_bytes(), frames, [Image.fromarray(f) for f in frames]],
        candidate_labels=LABELS,
        hypothesis_template="{}",
        batch_size=2,
    )
    assert len(results) == 5
    # the decoded file, its bytes and its decoded frames are the same video
    for result in results[1:]:
        np.testing.assert_allclose(
            [item["score"] for item in result], [item["score"] for item in results[0]], atol=1e-6
        )


def test_a_generator_of_videos_is_streamed(pipe):
    videos = [random_video(seed) for seed in (3, 4, 5)]
    as_list = pipe(videos, candidate_labels=LABELS, hypothesis_template="{}")
    streamed = pipe((video for video in videos), candidate_labels=LABELS, hypothesis_template="{}", batch_size=2)
    assert not isinstance(streamed, list)
    streamed = list(streamed)
    assert len(streamed) == len(as_list)
    for a, b in zip(streamed, as_list):
        assert [item["label"] for item in a] == [item["label"] for item in b]
        np.testing.assert_allclose([item["score"] for item in a], [item["score"] for item in b], atol=1e-6)


def test_multi_view_averages_views(pipe, model, processor):
    video = random_video(13, num_frames=16)
    result = scores_of(
        pipe(video, candidate_labels=LABELS, hypothesis_template=TEMPLATES, num_clips=2, num_crops=3)
    )
    clips = [video[indices] for indices in sample_clip_indices(16, NUM_FRAMES, 2)]
    expected = expected_probabilities(model, processor, clips, LABELS, TEMPLATES, num_crops=3)
    np.testing.assert_allclose([result[label] for label in LABELS], expected, atol=1e-5)
    assert sum(result.values()) == pytest.approx(1.0, abs=1e-5)
    single = scores_of(pipe(video, candidate_labels=LABELS, hypothesis_template=TEMPLATES))
    assert not np.allclose([single[l] for l in LABELS], [result[l] for l in LABELS], atol=1e-4)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def http_root(tmp_path):
    """Serve tmp_path on 127.0.0.1 from a daemon thread; always shut down at teardown."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_url_input_is_downloaded(pipe, http_root):
    root, base_url = http_root
    path = write_video(root / "remote clip.mp4", num_frames=12)
    from_url = pipe(f"{base_url}/remote%20clip.mp4", candidate_labels=LABELS, hypothesis_template="{}", timeout=5)
    from_path = pipe(str(path), candidate_labels=LABELS, hypothesis_template="{}")
    assert from_url == from_path
    with pytest.raises(VideoDecodeError, match=r"missing\.mp4.*HTTP 404"):
        pipe(f"{base_url}/missing.mp4", candidate_labels=LABELS, timeout=5)


# ------------------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({}, ValueError, "candidate_labels is required"),
        ({"candidate_labels": []}, ValueError, "empty"),
        ({"candidate_labels": ["run", "jump", "run", "swim", "jump"]}, ValueError, "duplicates: 'run', 'jump'"),
        ({"candidate_labels": ["run", ""]}, ValueError, "non-empty strings"),
        ({"candidate_labels": LABELS, "hypothesis_template": "a video"}, ValueError, "exactly one"),
        ({"candidate_labels": LABELS, "hypothesis_template": "{}", "descriptions": {}}, ValueError, "not both"),
        ({"candidate_labels": LABELS, "descriptions": {"archery": "x"}}, KeyError, "juggling balls"),
        ({"candidate_labels": LABELS, "top_k": 0}, ValueError, "top_k"),
        ({"candidate_labels": LABELS, "num_clips": 0}, ValueError, "num_clips"),
        ({"candidate_labels": LABELS, "num_crops": 2}, ValueError, "num_crops"),
        ({"candidate_labels": LABELS, "temperature": 2}, TypeError, "temperature"),
    ],
)
def test_bad_arguments(pipe, kwargs, error, message):
    with pytest.raises(error, match=message):
        pipe(random_video(0), **kwargs)


@pytest.mark.parametrize(
    "video, message",
    [
        (np.zeros((4, 32, 32), dtype=np.uint8), r"\(num_frames, height, width, 3\).*\(4, 32, 32\)"),
        (np.zeros((4, 32, 32, 4), dtype=np.uint8), r"got \(4, 32, 32, 4\)"),
        (np.zeros((2, 4, 32, 32, 3), dtype=np.uint8), r"got \(2, 4, 32, 32, 3\)"),
        (np.zeros((4, 32, 32, 3), dtype=np.float32), "must be uint8"),
        ([], "empty list"),
        ([np.zeros((32, 32, 3), np.uint8), "video.mp4"], "not a mix"),
        ([np.zeros((32, 32, 3), np.uint8), np.zeros((16, 16, 3), np.uint8)], "same size"),
        (Image.new("RGB", (32, 32)), "single image"),
    ],
)
def test_bad_video_values(pipe, video, message):
    with pytest.raises(ValueError, match=message):
        pipe(video, candidate_labels=LABELS)


def test_unsupported_type(pipe):
    with pytest.raises(TypeError, match="Unsupported video type int"):
        pipe(42, candidate_labels=LABELS)


def test_unreadable_and_missing_files_name_the_file(pipe, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 50)
    with pytest.raises(VideoDecodeError, match="broken.mp4"):
        pipe(str(broken), candidate_labels=LABELS)
    with pytest.raises(VideoDecodeError, match="nowhere.mp4.*not found"):
        pipe(str(tmp_path / "nowhere.mp4"), candidate_labels=LABELS)


def test_processor_with_other_frame_count_is_refused(model, processor):
    other = T2LImageProcessor(num_frames=NUM_FRAMES * 2, crop_size=IMAGE_SIZE, shortest_edge=IMAGE_SIZE)
    with pytest.raises(ValueError, match="8 frames per clip but the model was built for 4"):
        ZeroShotVideoClassificationPipeline(model=model, tokenizer=processor.tokenizer, image_processor=other, device=-1)


def test_registered_task_builds_from_a_model_object(model, processor):
    from transformers import pipeline

    from modeling_t2l.pipelines.zero_shot_video_classification import register_pipeline

    register_pipeline()

    pipe = pipeline(TASK, model=model, tokenizer=processor.tokenizer, image_processor=processor.image_processor, device=-1)
    assert isinstance(pipe, ZeroShotVideoClassificationPipeline)
    assert len(pipe(random_video(0), candidate_labels=LABELS)) == len(LABELS)


def test_call_arguments_can_be_set_at_construction(model, processor):
    pipe = ZeroShotVideoClassificationPipeline(
        model=model, tokenizer=processor.tokenizer, image_processor=processor.image_processor, device=-1,
        candidate_labels=LABELS, hypothesis_template=TEMPLATES, top_k=2,
    )
    video = random_video(14)
    assert pipe(video) == pipe(video, candidate_labels=LABELS, hypothesis_template=TEMPLATES, top_k=2)
    assert len(pipe(video)) == 2


def test_bundled_tokenizer_is_used_only_for_clip_vocabularies(processor):
    """Without a saved tokenizer the bundled CLIP BPE is the fallback, but never for another vocabulary."""
    clip_vocab = T2LForVideoClassification(tiny_t2l_config(num_frames=NUM_FRAMES, image_size=IMAGE_SIZE)).eval()
    pipe = ZeroShotVideoClassificationPipeline(model=clip_vocab, image_processor=processor.image_processor, device=-1)
    assert len(pipe.tokenizer) == 49408
    config = tiny_t2l_config(num_frames=NUM_FRAMES, image_size=IMAGE_SIZE)
    config.text_config.vocab_size = 256
    other_vocab = T2LForVideoClassification(config).eval()
    with pytest.raises(ValueError, match=r"vocabulary \(256 tokens\) is not CLIP's \(49408\)"):
        ZeroShotVideoClassificationPipeline(model=other_vocab, image_processor=processor.image_processor, device=-1)
