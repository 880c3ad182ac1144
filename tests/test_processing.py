"""T2LProcessor: videos + texts -> model inputs, save/load round trip, Auto loading, frame-count agreement."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoImageProcessor, AutoProcessor, CLIPTokenizer

import modeling_t2l  # noqa: F401  (registers T2L with the Auto classes)
from modeling_t2l.processing.image_processing_t2l import T2LImageProcessor
from modeling_t2l.processing.processing_t2l import T2LProcessor
from modeling_t2l.zero_shot.prompts import class_texts
from modeling_t2l.processing.tokenization import CONTEXT_LENGTH, TextTruncatedWarning, clean_text
from tests.tiny import tiny_t2l_config

NUM_FRAMES = 4
FIXTURE = Path(__file__).parent / "fixtures" / "official_t2l" / "tokenization.json"


@pytest.fixture(scope="module")
def processor():
    return T2LProcessor.from_clip_tokenizer(num_frames=NUM_FRAMES)


def _clips(batch=2, height=40, width=56, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(NUM_FRAMES, height, width, 3), dtype=np.uint8) for _ in range(batch)]


def test_from_clip_tokenizer_builds_offline(processor):
    assert isinstance(processor.image_processor, T2LImageProcessor)
    assert isinstance(processor.tokenizer, CLIPTokenizer)
    assert processor.num_frames == processor.image_processor.num_frames == NUM_FRAMES
    assert processor.tokenizer.model_max_length == CONTEXT_LENGTH


def test_videos_and_text_give_model_inputs(processor):
    clips = _clips()
    batch = processor(videos=clips, text=["archery", "a photo of action brush hair"])
    assert set(batch.keys()) == {"pixel_values", "input_ids", "attention_mask"}
    pixel_values = batch["pixel_values"]
    assert pixel_values.dtype == torch.float32 and pixel_values.ndim == 5
    assert pixel_values.shape[:3] == (2, NUM_FRAMES, 3)
    # Videos are delegated unchanged to the image processor.
    torch.testing.assert_close(pixel_values, processor.image_processor(clips, return_tensors="pt")["pixel_values"])
    assert batch["input_ids"].shape == batch["attention_mask"].shape == (2, 8)
    assert batch["input_ids"][0, :3].tolist() == [49406, 23935, 49407]  # SOT "archery" EOT, then padding
    assert batch["attention_mask"][0].tolist() == [1, 1, 1] + [0] * 5


def test_video_file_through_reader_and_processor(processor, tmp_path):
    from modeling_t2l.processing.video_io import read_video
    from tests.video_factory import write_video

    path = write_video(tmp_path / "clip.mp4", num_frames=24, fmt="mp4-h264", gop=8)
    frames = read_video(path, NUM_FRAMES)
    pixel_values = processor(videos=[frames])["pixel_values"]
    assert pixel_values.shape[:3] == (1, NUM_FRAMES, 3)
    assert torch.isfinite(pixel_values).all()


def test_text_only_and_video_only(processor):
    assert set(processor(text="archery").keys()) == {"input_ids", "attention_mask"}
    assert set(processor(videos=_clips(batch=1)).keys()) == {"pixel_values"}
    with pytest.raises(ValueError, match="needs videos, text or both"):
        processor()


def test_text_cleaning_is_applied(processor):
    # Two strings of the official fixture with the ids of the official clip.tokenize.
    official = {
        "The man’s “quoted” words and ‘single’ quotes": [
            49406, 518, 786, 568, 257, 27706, 257, 2709, 537, 568, 17005, 262, 5808, 49407],
        "double &amp;amp; escaped &amp;lt;b&amp;gt; tags": [49406, 3200, 261, 18707, 283, 321, 285, 11606, 49407],
    }
    texts = list(official)
    cleaned, raw = processor(text=texts), processor(text=texts, clean_text=False)
    for row, raw_row, ids in zip(cleaned["input_ids"].tolist(), raw["input_ids"].tolist(), official.values()):
        assert row[: len(ids)] == ids
        assert raw_row[: len(ids)] != ids  # curly quotes and double-escaped entities need the cleaning


def test_truncation_warning_names_the_text(processor):
    long_text = "Juggling is an action performed by humans " * 12
    with pytest.warns(TextTruncatedWarning, match="Juggling is an action") as record:
        batch = processor(text=["archery", long_text])
    assert len(record) == 1 and "archery" not in str(record[0].message)
    assert batch["input_ids"].shape == (2, CONTEXT_LENGTH)
    assert batch["input_ids"][1, -1].item() == processor.tokenizer.eos_token_id


def test_truncation_warning_names_the_class_of_a_class_text(processor):
    texts = class_texts(["juggling_balls", "archery"], mode="templates", templates=["{} " + "and so on " * 40])
    with pytest.warns(TextTruncatedWarning, match="'juggling_balls': 'juggling balls and so on") as record:
        processor(text=texts.flat(), text_names=texts.flat_class_names())
    assert "'archery': 'archery and so on" in str(record[0].message)


def test_padding_to_max_length(processor):
    batch = processor(text=["archery"], padding="max_length")
    assert batch["input_ids"].shape == (1, CONTEXT_LENGTH)


@pytest.fixture(scope="module")
def saved_dir(processor, tmp_path_factory):
    """A checkpoint-like folder: the model's config.json (model_type "t2l") next to the saved processor."""
    directory = tmp_path_factory.mktemp("t2l_processor")
    tiny_t2l_config(num_frames=NUM_FRAMES).save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def test_save_and_load_round_trip(processor, saved_dir):
    for name in ("processor_config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"):
        assert (saved_dir / name).is_file(), name
    saved = json.loads((saved_dir / "processor_config.json").read_text())
    assert saved["processor_class"] == "T2LProcessor"
    assert saved["image_processor"]["num_frames"] == NUM_FRAMES  # not the default 8

    loaded = T2LProcessor.from_pretrained(saved_dir)
    assert isinstance(loaded.image_processor, T2LImageProcessor)
    assert loaded.num_frames == NUM_FRAMES
    assert loaded.image_processor.to_dict() == processor.image_processor.to_dict()
    assert loaded.tokenizer.model_max_length == CONTEXT_LENGTH
    clips, texts = _clips(seed=1), ["a photo of action archery", "café &amp; “quotes”"]
    expected, got = processor(videos=clips, text=texts), loaded(videos=clips, text=texts)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key])

    # The reloaded tokenizer (from the saved tokenizer.json) keeps official parity on the tricky strings.
    entries = [e for e in json.loads(FIXTURE.read_text(encoding="utf-8")) if e["source"] == "tricky"]
    ids = loaded.tokenizer([clean_text(entry["text"]) for entry in entries])["input_ids"]
    assert [entry["text"] for entry, got in zip(entries, ids) if got != entry["ids"]] == []


def test_auto_classes_load_the_saved_processor(saved_dir):
    auto = AutoProcessor.from_pretrained(saved_dir)
    assert isinstance(auto, T2LProcessor) and auto.num_frames == NUM_FRAMES
    image_processor = AutoImageProcessor.from_pretrained(saved_dir)
    assert isinstance(image_processor, T2LImageProcessor) and image_processor.num_frames == NUM_FRAMES


def test_num_frames_must_agree_with_the_model_config(processor):
    processor.check_num_frames(tiny_t2l_config(num_frames=NUM_FRAMES))  # agrees: no error
    with pytest.raises(ValueError, match=rf"{NUM_FRAMES} frames.*num_frames=8"):
        processor.check_num_frames(tiny_t2l_config(num_frames=8))
    with pytest.raises(ValueError, match="no num_frames"):
        processor.check_num_frames(object())
