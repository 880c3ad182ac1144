"""Tokenisation parity with the official T2L `clip.tokenize` (fixture: tests/fixtures/official_t2l/tokenization.json)."""
import json
from pathlib import Path

import pytest
import torch

from modeling_t2l.processing.tokenization import (
    CONTEXT_LENGTH,
    TextTruncatedWarning,
    clean_text,
    encode_texts,
    load_clip_tokenizer,
)

FIXTURE = Path(__file__).parent / "fixtures" / "official_t2l" / "tokenization.json"


@pytest.fixture(scope="module")
def tokenizer():
    return load_clip_tokenizer()


@pytest.fixture(scope="module")
def official_entries():
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def test_every_official_string_tokenizes_identically(tokenizer, official_entries):
    assert len(official_entries) == 3210
    ids = tokenizer([clean_text(entry["text"]) for entry in official_entries])["input_ids"]
    mismatches = [entry["text"] for entry, got in zip(official_entries, ids) if got != entry["ids"]]
    assert mismatches == []


def test_fixture_covers_descriptions_templates_and_tricky_strings(official_entries):
    sources = {entry["source"].split(":")[0] for entry in official_entries}
    assert sources == {"gpt_description", "template", "tricky"}


def test_encode_texts_matches_official_ids_with_padding(tokenizer, official_entries):
    entries = [entry for entry in official_entries if entry["source"] == "tricky"]
    batch = encode_texts(tokenizer, [entry["text"] for entry in entries])
    longest = max(len(entry["ids"]) for entry in entries)
    assert batch["input_ids"].shape == (len(entries), longest)
    for row, mask, entry in zip(batch["input_ids"], batch["attention_mask"], entries):
        n = len(entry["ids"])
        assert row[:n].tolist() == entry["ids"]
        assert mask.tolist() == [1] * n + [0] * (longest - n)
        assert (row[n:] == tokenizer.pad_token_id).all()


def test_greek_final_sigma_needs_python_lower(tokenizer, official_entries):
    entry = next(e for e in official_entries if "ΟΔΟΣ" in e["text"])
    assert tokenizer(clean_text(entry["text"]))["input_ids"] == entry["ids"]
    # Without Python's lower() the tokenizer's own normaliser maps Σ to σ instead of ς: a different id sequence.
    assert tokenizer(clean_text(entry["text"]).upper())["input_ids"] != entry["ids"]


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("The man’s “quoted”", "the man's \"quoted\""),
        ("double &amp;amp; escaped", "double & escaped"),
        ("  tabs\tand\n\nnewlines\r\n  ", "tabs and newlines"),
        ("non\xa0breaking", "non breaking"),
        ("cafÃ©", "café"),
        ("ΟΔΟΣ", "οδος"),
        ("", ""),
    ],
)
def test_clean_text(raw, cleaned):
    assert clean_text(raw) == cleaned


def test_clean_text_rejects_non_strings():
    with pytest.raises(TypeError, match="clean_text expects a str"):
        clean_text(None)


def test_exactly_77_tokens_is_not_truncated(tokenizer, official_entries):
    entry = next(e for e in official_entries if len(e["ids"]) == CONTEXT_LENGTH)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", TextTruncatedWarning)
        batch = encode_texts(tokenizer, entry["text"])
    assert batch["input_ids"][0].tolist() == entry["ids"]


def test_too_long_text_is_truncated_keeping_eot_and_warning_names_it(tokenizer):
    long_text = "a man is juggling " * 30
    short_text = "a photo of action archery"
    with pytest.warns(TextTruncatedWarning, match="a man is juggling") as record:
        batch = encode_texts(tokenizer, [short_text, long_text])
    assert len(record) == 1
    assert "archery" not in str(record[0].message)
    assert batch["input_ids"].shape == (2, CONTEXT_LENGTH)
    full = tokenizer(clean_text(long_text))["input_ids"]
    assert batch["input_ids"][1].tolist() == full[: CONTEXT_LENGTH - 1] + [tokenizer.eos_token_id]
    assert batch["attention_mask"][1].sum().item() == CONTEXT_LENGTH


def test_truncation_warning_can_name_the_class(tokenizer):
    with pytest.warns(TextTruncatedWarning, match="'JugglingBalls': 'juggle juggle"):
        encode_texts(tokenizer, ["juggle " * 80], names=["JugglingBalls"])
    with pytest.raises(ValueError, match="2 names for 1 texts"):
        encode_texts(tokenizer, ["a"], names=["x", "y"])


def test_max_length_padding(tokenizer):
    batch = encode_texts(tokenizer, ["a", "b c"], padding="max_length")
    assert batch["input_ids"].shape == (2, CONTEXT_LENGTH)
    assert batch["input_ids"].dtype == torch.long


def test_bundled_tokenizer_is_offline_clip(tokenizer):
    assert tokenizer.model_max_length == CONTEXT_LENGTH
    assert len(tokenizer) == 49408
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id) == (49406, 49407)


def test_load_clip_tokenizer_from_a_saved_tokenizer_json(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    assert not (tmp_path / "vocab.json").exists()
    reloaded = load_clip_tokenizer(tmp_path)
    assert reloaded.model_max_length == CONTEXT_LENGTH
    text = clean_text("The man’s “quoted” words")
    assert reloaded(text)["input_ids"] == tokenizer(text)["input_ids"]


def test_load_clip_tokenizer_names_missing_files(tmp_path):
    (tmp_path / "vocab.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="merges.txt"):
        load_clip_tokenizer(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_clip_tokenizer(tmp_path / "nope")
