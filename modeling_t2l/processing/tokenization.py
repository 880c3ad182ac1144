"""CLIP tokenisation exactly as the official T2L code does it, on top of transformers' `CLIPTokenizer`.

The official `SimpleTokenizer` cleans every string before BPE: `ftfy.fix_text`, `html.unescape` twice, strip,
collapse whitespace, then Python's `str.lower()`. transformers' `CLIPTokenizer` (tokenizers backend) does none of the
ftfy/html work, so curly quotes and HTML entities come out as different ids, and its own lower-casing maps the Greek
final sigma differently from Python. Cleaning here first makes all 3,210 strings of the official tokenisation fixture
encode identically (tests/test_tokenization.py).

`clip.tokenize` raises on texts longer than the 77-token context; we truncate instead (keeping EOT last, where the
text tower pools) and warn with the offending texts, so one over-long prompt never stops an evaluation.
"""
from __future__ import annotations

import html
import re
import warnings
from pathlib import Path
from typing import Sequence

import ftfy
from transformers import BatchEncoding, CLIPTokenizer

CONTEXT_LENGTH = 77
"""CLIP's text context: SOT + at most 75 BPE tokens + EOT."""

BUNDLED_TOKENIZER_DIR = Path(__file__).resolve().parent / "tokenizer"
"""OpenAI CLIP's BPE tables (MIT), shipped as package data so tokenisation never needs the network."""

_TOKENIZER_FILES = ("vocab.json", "merges.txt")
_WHITESPACE = re.compile(r"\s+")


class TextTruncatedWarning(UserWarning):
    """A text was longer than the CLIP context and was cut to fit (the official code would have raised)."""


def clean_text(text: str) -> str:
    """Clean `text` the way the official CLIP `SimpleTokenizer` does before BPE.

    ftfy repairs mojibake and normalises quotes; HTML entities are unescaped twice because some descriptions are
    double-escaped (`&amp;amp;`); runs of whitespace (tabs, newlines, NBSP...) become one space; Python `lower()` is
    used rather than the tokenizer's normaliser because the two disagree on e.g. the Greek final sigma.
    """
    if not isinstance(text, str):
        raise TypeError(f"clean_text expects a str, got {type(text).__name__}: {text!r}")
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    text = _WHITESPACE.sub(" ", text).strip()
    return text.lower()


def load_clip_tokenizer(path: str | Path | None = None) -> CLIPTokenizer:
    """Load a `CLIPTokenizer` from a local directory, the bundled OpenAI CLIP BPE files by default (no network).

    `path` may be any directory with `vocab.json` and `merges.txt` (e.g. a local copy of
    openai/clip-vit-base-patch16) or with a saved `tokenizer.json` (e.g. a saved T2L processor). The context length
    is set to 77 whatever the directory says.
    """
    directory = BUNDLED_TOKENIZER_DIR if path is None else Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(f"CLIP tokenizer directory {str(directory)!r} does not exist")
    if not (directory / "tokenizer.json").is_file():
        missing = [name for name in _TOKENIZER_FILES if not (directory / name).is_file()]
        if missing:
            raise FileNotFoundError(
                f"CLIP tokenizer directory {str(directory)!r} lacks {', '.join(missing)} "
                f"(a CLIP tokenizer needs {' and '.join(_TOKENIZER_FILES)}, or a tokenizer.json)"
            )
    return CLIPTokenizer.from_pretrained(str(directory), model_max_length=CONTEXT_LENGTH)


def encode_texts(
    tokenizer: CLIPTokenizer,
    texts: str | Sequence[str],
    *,
    max_length: int = CONTEXT_LENGTH,
    padding: bool | str = "longest",
    return_tensors: str | None = "pt",
    clean: bool = True,
    names: Sequence[str] | None = None,
) -> BatchEncoding:
    """Clean and tokenise `texts`; texts longer than `max_length` tokens are truncated with one warning naming them.

    `names` (one per text, e.g. the class each prompt describes) are shown in that warning next to the texts.

    Truncation keeps SOT, the first `max_length - 2` BPE tokens and EOT, so the EOT the text tower pools at is always
    present. Padding uses the tokenizer's pad token (EOT for CLIP); the official code pads with 0 instead, which gives
    the same features because the causal mask hides everything after EOT.
    """
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise ValueError("encode_texts got an empty list of texts")
    if names is not None and len(names) != len(texts):
        raise ValueError(f"encode_texts got {len(names)} names for {len(texts)} texts")
    cleaned = [clean_text(text) for text in texts] if clean else texts
    input_ids = tokenizer(cleaned, add_special_tokens=True, padding=False, truncation=False)["input_ids"]

    labels = list(names) if names is not None else [None] * len(texts)
    too_long = [(label, text, len(ids)) for label, text, ids in zip(labels, texts, input_ids) if len(ids) > max_length]
    if too_long:
        listing = "; ".join(
            (f"{label!r}: " if label is not None else "") + f"{text!r} ({length} tokens)"
            for label, text, length in too_long
        )
        warnings.warn(
            f"{len(too_long)} text(s) exceed the CLIP context of {max_length} tokens and were truncated "
            f"(EOT kept last): {listing}",
            TextTruncatedWarning,
            stacklevel=2,
        )
        eos = tokenizer.eos_token_id
        input_ids = [ids if len(ids) <= max_length else ids[: max_length - 1] + [eos] for ids in input_ids]

    return tokenizer.pad(
        {"input_ids": input_ids},
        padding=padding,
        max_length=max_length if padding == "max_length" else None,
        return_attention_mask=True,
        return_tensors=return_tensors,
    )
