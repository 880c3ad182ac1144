"""The data collator: samples from `make_transform` -> the inputs of every family's `forward`.

Train mode (official T2L training): only the classes present in the batch are encoded and `labels` index those
rows, so the text tower runs on at most B prompts per step, not on the whole vocabulary. With several templates
(ActionCLIP's 16) each class present gets one randomly drawn template. The official code draws one per *sample*;
one per class keeps "labels index rows", so two videos of a class stay positives of each other in the B x B
contrastive loss exactly as in the official targets (which compare class ids, not texts).

`negatives="vocabulary"` (train mode) encodes every class each step instead and `labels` are class ids: the
paper's eq. 1, a cross-entropy over all classes (`contrastive_loss="cross_entropy"`). Every other class is then a
negative of every video, at the cost of running the text tower on the whole vocabulary at each step.

Eval mode: the whole vocabulary, tokenized once at construction (cached), and `labels` are class ids. With T
templates the rows are template-major (row = t * K + class), as the official test code stacks them; average the
softmax over the T groups of K columns (the official test-time template ensemble).

Undecodable videos (marked by the transform) are dropped, logged and counted in `collator.skipped`, which is
shared with the DataLoader workers (`collator.skipped.count`, `collator.skipped.as_dict()` for results files).
"""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch

from .builder import _clip_seed
from .skips import SkippedVideos

logger = logging.getLogger(__name__)


def _template_major(class_texts) -> list[list[str]]:
    """Accept a `ClassTexts` (`.texts`: one list per template), one list of texts, or a list of lists."""
    texts = getattr(class_texts, "texts", class_texts)
    if isinstance(texts, str) or not len(texts):
        raise ValueError("class_texts must hold one text per class (or one list per template)")
    groups = [list(texts)] if isinstance(texts[0], str) else [list(group) for group in texts]
    if len({len(group) for group in groups}) != 1:
        raise ValueError(f"every template must give one text per class; got lengths {[len(g) for g in groups]}")
    return groups


NEGATIVES = ("batch", "vocabulary")
SKIPPED_KEY = "num_skipped_videos"  # train batches with `count_in_batch`: videos of the batch that were dropped


class VideoCollator:
    def __init__(self, processor_or_tokenizer, class_texts, train: bool = True, *, seed: int = 0,
                 negatives: str = "batch"):
        if negatives not in NEGATIVES:
            raise ValueError(f"negatives must be one of {NEGATIVES}, got {negatives!r}")
        self.train = train
        self.negatives = negatives
        self.seed = seed
        self.texts = _template_major(class_texts)
        self.num_templates = len(self.texts)
        self.num_classes = len(self.texts[0])
        self.tokenizer = getattr(processor_or_tokenizer, "tokenizer", processor_or_tokenizer)
        self.pad_token_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        flat = [text for group in self.texts for text in group]
        input_ids, attention_mask = self._tokenize(processor_or_tokenizer, flat)
        # Unpadded token ids per (template, class), so a train batch pads only to its own longest prompt.
        self._token_ids = [ids[mask.bool()].tolist() for ids, mask in zip(input_ids, attention_mask)]
        self._vocabulary = {"input_ids": input_ids, "attention_mask": attention_mask}
        self.skipped = SkippedVideos()
        # ZeroShotVideoTrainer sets this: each train batch then carries how many of its videos were dropped, so the trainer
        # counts the batches it trained on (workers collate batches ahead, and a resumed run re-collates those).
        self.count_in_batch = False
        self._calls = 0
        self._last_good = None

    @staticmethod
    def _tokenize(processor_or_tokenizer, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        if hasattr(processor_or_tokenizer, "tokenizer"):  # T2LProcessor: cleans, truncates with a warning
            encoded = processor_or_tokenizer(text=list(texts), return_tensors="pt")
        else:  # a bare tokenizer: apply the official text cleaning first
            from ..processing.tokenization import clean_text

            encoded = processor_or_tokenizer(
                [clean_text(text) for text in texts], padding=True, truncation=True, max_length=77, return_tensors="pt"
            )
        return encoded["input_ids"], encoded["attention_mask"]

    # --------------------------------------------------------------------------------------------- batches
    def __call__(self, samples: list[dict]) -> dict:
        kept, dropped = [], 0
        for sample in samples:
            if sample.get("pixel_values") is None:
                path, reason = sample.get("video_path", "<unknown>"), sample.get("decode_error") or "no frames"
                self.skipped.add(path, reason)
                dropped += 1
                logger.warning("skipping undecodable video %s (%s); %d skipped so far", path, reason, self.skipped.count)
            else:
                kept.append(sample)
        if kept:
            self._last_good = kept[-1]
        elif self.train and self._last_good is not None:
            # A whole batch of broken videos must not stop a long run: repeat the last good sample (counted above).
            logger.warning("no video of this batch decoded; repeating the previous good sample")
            kept = [self._last_good]
        elif self.train:
            raise RuntimeError(f"none of the {len(samples)} videos of the first batch could be decoded: "
                               f"{self.skipped.examples()[:3]}")
        else:
            return self._empty_batch()
        pixel_values = torch.stack([torch.as_tensor(sample["pixel_values"]) for sample in kept])
        labels = [int(sample["labels"]) for sample in kept]
        if not self.train:
            return self._eval_batch(pixel_values, labels)
        batch = self._train_batch(pixel_values, labels, [sample.get("clip_seed") for sample in kept])
        if self.count_in_batch:
            batch[SKIPPED_KEY] = torch.tensor(dropped)
        return batch

    def _eval_batch(self, pixel_values: torch.Tensor, labels: list[int]) -> dict:
        return {"pixel_values": pixel_values, **self._vocabulary, "labels": torch.tensor(labels, dtype=torch.long)}

    def _pad(self, token_ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        length = max(len(ids) for ids in token_ids)
        input_ids = torch.full((len(token_ids), length), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(token_ids), length), dtype=torch.long)
        for row, ids in enumerate(token_ids):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention_mask[row, : len(ids)] = 1
        return input_ids, attention_mask

    def _train_batch(self, pixel_values: torch.Tensor, labels: list[int], clip_seeds=()) -> dict:
        rng = self._rng(clip_seeds)
        if self.negatives == "vocabulary":  # one drawn template per class, rows gathered from the tokenized table
            templates = torch.from_numpy(rng.integers(self.num_templates, size=self.num_classes))
            rows = templates * self.num_classes + torch.arange(self.num_classes)
            input_ids, attention_mask = (tensor[rows] for tensor in self._vocabulary.values())
            return {"pixel_values": pixel_values, "input_ids": input_ids, "attention_mask": attention_mask,
                    "labels": torch.tensor(labels, dtype=torch.long)}
        present = list(dict.fromkeys(labels))  # the batch's classes, in order of first appearance
        rows = {label: row for row, label in enumerate(present)}
        templates = rng.integers(self.num_templates, size=len(present))
        input_ids, attention_mask = self._pad(
            [self._token_ids[int(t) * self.num_classes + label] for t, label in zip(templates, present)]
        )
        return {
            "pixel_values": pixel_values,
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "labels": torch.tensor([rows[label] for label in labels], dtype=torch.long),
        }

    def _empty_batch(self) -> dict:
        """Eval batch whose videos all failed: zero rows (evaluation loops skip `labels.numel() == 0`)."""
        return {"pixel_values": torch.zeros((0,)), **self._vocabulary, "labels": torch.zeros((0,), dtype=torch.long)}

    def _rng(self, clip_seeds=()) -> np.random.Generator:
        # From the seeds of the batch's clips (the train transform's, see VideoTransform): the same batch draws the
        # same templates in an uninterrupted and in a resumed run, whose call count restarts at the checkpoint.
        if clip_seeds and all(seed is not None for seed in clip_seeds):
            return np.random.default_rng(_clip_seed(self.seed, *clip_seeds))
        # Samples from another transform: a call count. Worker processes start from copies of this object, so mix
        # in the worker's seed (re-drawn every epoch).
        worker = torch.utils.data.get_worker_info()
        self._calls += 1
        return np.random.default_rng(_clip_seed(self.seed, worker.seed if worker else 0, self._calls))

