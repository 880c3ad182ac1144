"""A protocol's dataset -> decoding transform -> DataLoader(2 workers) -> collator -> the model's forward."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from modeling_t2l import T2LForVideoClassification
from modeling_t2l.data import VideoCollator, get_protocol, make_transform
from modeling_t2l.processing.processing_t2l import T2LProcessor
from modeling_t2l.processing.video_io import read_video
from tests.tiny import tiny_t2l_config
from tests.video_factory import write_video

NUM_FRAMES = 4
# Six videos of few_shot_ucf101_k2's training list (classes 0, 0, 1, 1, 2, 2), in UCF's class folders.
VIDEOS = [
    ("ApplyEyeMakeup", "v_ApplyEyeMakeup_g24_c04.avi"), ("ApplyEyeMakeup", "v_ApplyEyeMakeup_g18_c01.avi"),
    ("ApplyLipstick", "v_ApplyLipstick_g17_c05.avi"), ("ApplyLipstick", "v_ApplyLipstick_g11_c02.avi"),
    ("Archery", "v_Archery_g18_c05.avi"), ("Archery", "v_Archery_g11_c02.avi"),
]


@pytest.fixture(scope="module")
def processor():
    return T2LProcessor.from_clip_tokenizer(num_frames=NUM_FRAMES, crop_size=32, shortest_edge=36)


@pytest.fixture(scope="module")
def ucf_root(tmp_path_factory):
    protocol = get_protocol("few_shot_ucf101_k2")
    listed = {entry.name for entry in protocol.entries("train")}
    assert {name for _, name in VIDEOS} <= listed
    root = tmp_path_factory.mktemp("ucf101")
    for i, (folder, name) in enumerate(VIDEOS):
        (root / folder).mkdir(exist_ok=True)
        write_video(root / folder / name, num_frames=10 + i, fmt="avi-mpeg4")
    return root


def train_dataset(root, processor, seed=0):
    protocol = get_protocol("few_shot_ucf101_k2")
    dataset = protocol.build_dataset("train", root, missing="skip")
    dataset.set_transform(make_transform(processor.image_processor, train=True, seed=seed))
    return protocol, dataset


def test_dataloader_with_two_workers_into_the_model(ucf_root, processor):
    protocol, dataset = train_dataset(ucf_root, processor)
    assert sorted(dataset.data.column("label").to_pylist()) == [0, 0, 1, 1, 2, 2]
    collator = VideoCollator(processor, protocol.class_texts("train"), train=True)
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, shuffle=True, num_workers=2, collate_fn=collator,
                                         generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = T2LForVideoClassification(tiny_t2l_config(num_frames=NUM_FRAMES, image_size=32))
    batches = list(loader)
    assert len(batches) == 2
    for batch in batches:
        assert set(batch) == {"pixel_values", "input_ids", "attention_mask", "labels"}
        assert batch["pixel_values"].shape == (3, NUM_FRAMES, 3, 32, 32)
        # only the classes present in the batch are encoded, and labels index those rows
        assert batch["input_ids"].shape[0] == int(batch["labels"].max()) + 1 <= 3
        output = model(**batch)
        assert output.logits.shape == (3, batch["input_ids"].shape[0])
        assert torch.isfinite(output.loss)
    assert collator.skipped.count == 0


def test_undecodable_video_is_skipped_and_counted_across_workers(ucf_root, processor, tmp_path):
    root = tmp_path / "ucf"
    root.mkdir()
    for folder, name in VIDEOS[:4]:
        (root / folder).mkdir(exist_ok=True)
        (root / folder / name).symlink_to(ucf_root / folder / name)
    (root / "ApplyLipstick" / "v_ApplyLipstick_g11_c02.avi").unlink()
    (root / "ApplyLipstick" / "v_ApplyLipstick_g11_c02.avi").write_bytes(b"not a video at all" * 50)
    protocol, dataset = train_dataset(root, processor)
    assert len(dataset) == 4
    collator = VideoCollator(processor, protocol.class_texts("train"), train=True)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=2, collate_fn=collator)
    for _ in range(2):  # two epochs: the count keeps growing in the main process
        kept = sum(batch["labels"].numel() for batch in loader)
        assert kept == 3
    assert collator.skipped.count == 2
    (path, reason), _ = collator.skipped.examples()
    assert path.endswith("v_ApplyLipstick_g11_c02.avi") and "VideoDecodeError" in reason
    # Evaluation: same rule, and a batch with nothing decodable is empty rather than an error.
    eval_collator = VideoCollator(processor, protocol.class_texts("train"), train=False)
    broken = {"pixel_values": None, "labels": 1, "video_path": "x.avi", "decode_error": "VideoDecodeError: bad"}
    empty = eval_collator([broken])
    assert empty["labels"].numel() == 0 and eval_collator.skipped.count == 1


def test_train_clips_are_seeded_and_change_between_draws(ucf_root, processor):
    _, first = train_dataset(ucf_root, processor, seed=3)
    _, again = train_dataset(ucf_root, processor, seed=3)
    a, b = first[0]["pixel_values"], again[0]["pixel_values"]
    assert torch.equal(a, b)  # same seed, same draw
    assert not torch.equal(a, first[0]["pixel_values"])  # the next draw of the same video (next epoch) differs
    transform = make_transform(processor.image_processor, train=True, seed=3)
    transform.set_epoch(1)
    _, other_epoch = train_dataset(ucf_root, processor, seed=3)
    other_epoch.set_transform(transform)
    assert not torch.equal(a, other_epoch[0]["pixel_values"])


def test_frame_cache_decodes_each_video_once_and_changes_no_pixel(ucf_root, processor, tmp_path):
    root = tmp_path / "ucf"
    for folder, name in VIDEOS:
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / name).write_bytes((ucf_root / folder / name).read_bytes())
    _, plain = train_dataset(root, processor, seed=4)
    _, cached = train_dataset(root, processor, seed=4)
    cache = {}
    cached.set_transform(make_transform(processor.image_processor, train=True, seed=4, frame_cache=cache))
    for _ in range(2):  # two draws of every video: the random clips are the same as without the cache
        for index in range(len(plain)):
            assert torch.equal(cached[index]["pixel_values"], plain[index]["pixel_values"])
    assert sorted(cache) == sorted(str(root / folder / name) for folder, name in VIDEOS)
    # a second transform sharing the cache (another run) no longer reads the files
    evaluation = train_dataset(root, processor)[1]
    evaluation.set_transform(make_transform(processor.image_processor, train=False, frame_cache=cache))
    for folder, name in VIDEOS:
        (root / folder / name).unlink()
    assert evaluation[0]["decode_error"] is None
    assert torch.equal(evaluation[0]["pixel_values"], processor.image_processor(
        [read_video(cache[evaluation[0]["video_path"]], NUM_FRAMES)], return_tensors="pt")["pixel_values"][0])
    # videos given as bytes are cached under a digest of their content: two different videos never share an entry
    transform = make_transform(processor.image_processor, train=False, frame_cache={})
    first, second = (write_video(tmp_path / f"{i}.mp4", num_frames=6 + i).read_bytes() for i in range(2))
    for video in (first, second, first):
        transform.decode({"bytes": video})
    assert [len(frames) for frames in transform.frame_cache.values()] == [6, 7]


def test_eval_transform_is_the_processor_on_segment_centres(ucf_root, processor):
    protocol = get_protocol("few_shot_ucf101_k2")
    dataset = protocol.build_dataset("train", ucf_root, missing="skip")
    dataset.set_transform(make_transform(processor.image_processor, train=False))
    sample = dataset[2]
    expected = processor.image_processor([read_video(sample["video_path"], NUM_FRAMES)], return_tensors="pt")["pixel_values"][0]
    assert torch.equal(sample["pixel_values"], expected)
    dataset.set_transform(make_transform(processor, train=False, num_clips=2, num_crops=3))  # a processor works too
    assert dataset[2]["pixel_values"].shape == (6, NUM_FRAMES, 3, 32, 32)


def test_train_collator_remaps_labels_and_draws_one_template_per_class(processor):
    texts = [[f"template {t} of class {c}" for c in range(5)] for t in range(16)]
    collator = VideoCollator(processor, texts, train=True, seed=1)
    pixels = np.zeros((NUM_FRAMES, 3, 8, 8), dtype=np.float32)
    samples = [{"pixel_values": pixels, "labels": label} for label in (4, 1, 4, 2)]
    seen_templates = set()
    for _ in range(10):
        batch = collator(samples)
        assert batch["labels"].tolist() == [0, 1, 0, 2]
        decoded = processor.tokenizer.batch_decode(batch["input_ids"], skip_special_tokens=True)
        classes = [int(text.split()[-1]) for text in decoded]
        assert classes == [4, 1, 2]
        seen_templates |= {int(text.split()[1]) for text in decoded}
        assert batch["attention_mask"].sum(1).tolist() == [len(processor.tokenizer(t)["input_ids"]) for t in decoded]
    assert len(seen_templates) > 4  # templates are drawn at random


def test_train_collator_with_vocabulary_negatives_encodes_every_class(processor):
    # the paper's eq. 1: a cross-entropy over all classes, so labels are class ids into the whole vocabulary
    texts = [[f"template {t} of class {c}" for c in range(5)] for t in range(3)]
    collator = VideoCollator(processor, texts, train=True, seed=1, negatives="vocabulary")
    pixels = np.zeros((NUM_FRAMES, 3, 8, 8), dtype=np.float32)
    batch = collator([{"pixel_values": pixels, "labels": label} for label in (4, 1, 4)])
    assert batch["labels"].tolist() == [4, 1, 4]
    seen_templates = set()
    for _ in range(10):
        batch = collator([{"pixel_values": pixels, "labels": label} for label in (4, 1, 4)])
        decoded = processor.tokenizer.batch_decode(batch["input_ids"], skip_special_tokens=True)
        assert [int(text.split()[-1]) for text in decoded] == [0, 1, 2, 3, 4]  # every class, in class order
        assert batch["attention_mask"].sum(1).tolist() == [len(processor.tokenizer(t)["input_ids"]) for t in decoded]
        seen_templates |= {int(text.split()[1]) for text in decoded}
    assert seen_templates == {0, 1, 2}  # a template drawn per class and step
    with pytest.raises(ValueError, match="negatives must be one of"):
        VideoCollator(processor, texts, negatives="all")


def test_training_contrasts_the_batch_for_kl_and_the_vocabulary_for_cross_entropy():
    from modeling_t2l import T2LConfig
    from types import SimpleNamespace

    from modeling_t2l.modeling_utils import ZeroShotVideoModelMixin

    def training_negatives(config):  # the property of every family's model, read on a bare config
        return ZeroShotVideoModelMixin.training_negatives.fget(SimpleNamespace(config=config))

    assert training_negatives(T2LConfig()) == "batch"  # official: the B x B matrix
    assert training_negatives(T2LConfig(contrastive_loss="cross_entropy")) == "vocabulary"


def test_eval_collator_encodes_the_whole_vocabulary_once(processor):
    texts = [["a video of walking", "a video of running", "a video of jumping"], ["walk", "run", "jump"]]
    collator = VideoCollator(processor, texts, train=False)
    pixels = torch.zeros((NUM_FRAMES, 3, 8, 8))
    first = collator([{"pixel_values": pixels, "labels": 2}])
    second = collator([{"pixel_values": pixels, "labels": 0}, {"pixel_values": pixels, "labels": 1}])
    assert first["input_ids"] is second["input_ids"]  # cached
    assert second["labels"].tolist() == [0, 1]  # class ids, not rows
    decoded = processor.tokenizer.batch_decode(first["input_ids"], skip_special_tokens=True)
    assert [d.strip() for d in decoded] == [*texts[0], *texts[1]]  # template-major rows


def test_skip_counter_copies_are_snapshots():
    import copy

    from modeling_t2l.data import SkippedVideos

    skipped = SkippedVideos()
    skipped.add("a.avi", "VideoDecodeError: truncated")
    snapshot = copy.deepcopy(skipped)  # outside process spawning: an independent copy, not an error
    snapshot.add("b.avi", "x")
    assert (skipped.count, snapshot.count) == (1, 2)
    assert skipped.as_dict() == {"skipped_videos": 1, "skipped_examples": [{"path": "a.avi", "reason": "VideoDecodeError: truncated"}]}
