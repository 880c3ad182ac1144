"""Text-to-video search: `build_index` (resumable, incremental, unreadable files), `search` (exact and FAISS,
model checks, families whose text depends on the video) on tiny random models and tiny videos written with PyAV."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers.modeling_outputs import BaseModelOutputWithPooling

from modeling_t2l import T2LModel
from modeling_t2l.cli import main
from modeling_t2l.processing.processing_t2l import T2LProcessor
from modeling_t2l.search import (
    IndexMismatchError, TextDependsOnVideoError, build_index, load_index, plan_windows, search,
)
from modeling_t2l.search.archive import window_frame_indices
from modeling_t2l.search.querying import rank
from modeling_t2l.processing.video_io import probe_video, read_all_frames, read_video, sample_frame_indices
from tests.tiny import tiny_t2l_config
from tests.video_factory import write_video

REPO = Path(__file__).resolve().parent.parent
NUM_FRAMES = 4
QUERIES = ["someone juggling three balls", "a dog surfing", "archery"]


def save_tiny_model(path: Path, seed: int = 0, **config) -> Path:
    torch.manual_seed(seed)
    T2LModel(tiny_t2l_config(num_frames=NUM_FRAMES, **config)).save_pretrained(path)
    T2LProcessor.from_clip_tokenizer(num_frames=NUM_FRAMES, crop_size=32, shortest_edge=36).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("search_model") / "model")


@pytest.fixture(scope="module")
def model(model_dir):
    return T2LModel.from_pretrained(model_dir).eval()


@pytest.fixture(scope="module")
def processor(model_dir):
    return T2LProcessor.from_pretrained(model_dir)


# Distinct frame counts, rates and sizes, so no two clips (and no two embeddings) are the same.
ARCHIVE = {
    "a.mp4": dict(num_frames=14, fps=10, width=64),
    "b.mkv": dict(num_frames=23, fps=12, width=56, fmt="mkv-h264"),
    "long/c.mp4": dict(num_frames=61, fps=10, width=72),
    "long/d.mp4": dict(num_frames=47, fps=8, width=48),
    "e.mp4": dict(num_frames=9, fps=6, width=80),
}
BROKEN = b"\x00\x00\x00\x18ftypisom" + b"not really a video" * 40


def write_archive(root: Path, names=ARCHIVE) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_video(root / name, height=40, **ARCHIVE[name])
    return root


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return write_archive(tmp_path_factory.mktemp("archive"))


@pytest.fixture(scope="module")
def reference(archive, model, processor, tmp_path_factory) -> Path:
    """The uninterrupted index of `archive` (windows of 2 s every 1.5 s) that other runs must reproduce."""
    out = tmp_path_factory.mktemp("reference") / "index"
    build_index(archive, model, processor, out, window=2.0, stride=1.5, progress=False)
    return out


def assert_same_index(left, right, atol: float = 1e-5) -> None:
    left, right = load_index(left), load_index(right)
    assert left.dataset["path"] == right.dataset["path"]
    assert left.dataset["start"] == right.dataset["start"]
    assert left.dataset["end"] == right.dataset["end"]
    np.testing.assert_allclose(left.embeddings, right.embeddings, rtol=0, atol=atol)
    assert [item["path"] for item in left.skipped] == [item["path"] for item in right.skipped]
    assert left.model == right.model and left.settings == right.settings


class Interrupted(Exception):
    pass


def interrupt_after(count: int, seen: list):
    def hook(path: str) -> None:
        seen.append(path)
        if len(seen) == count:
            raise Interrupted(path)

    return hook


# -- windows ------------------------------------------------------------------------------------------------------


def test_plan_windows_covers_the_video_and_aligns_the_last_window_to_the_end():
    assert plan_windows(10.0, 4.0, 3.0) == [(0.0, 4.0), (3.0, 7.0), (6.0, 10.0)]
    assert plan_windows(10.0, 4.0, None) == [(0.0, 4.0), (4.0, 8.0), (6.0, 10.0)]
    assert plan_windows(8.0, 4.0, 4.0) == [(0.0, 4.0), (4.0, 8.0)]
    assert plan_windows(3.0, 4.0, 1.0) == [(0.0, 3.0)]  # shorter than a window: the whole video
    assert plan_windows(10.0, None, None) == [(0.0, 10.0)]


def test_a_whole_video_window_samples_the_official_segment_centres():
    for total in (3, 8, 61, 300):
        assert window_frame_indices(total, total / 30, 0.0, total / 30, 8) == sample_frame_indices(total, 8, "eval")
    # 61 frames over 6.1 s: the window [2, 4) s holds frames 20..39
    assert window_frame_indices(61, 6.1, 2.0, 4.0, 4) == [20 + i for i in sample_frame_indices(20, 4, "eval")]


def test_rows_are_the_embeddings_of_the_sampled_clips(archive, reference, model, processor):
    index = load_index(reference)
    rows = index.dataset.to_list()
    by_key = {(row["path"], row["start"]): np.asarray(row["embedding"]) for row in rows}
    assert {row["path"] for row in rows} == set(ARCHIVE)
    # a short video is one row, embedded from the same frames as the pipeline reads
    clip = read_video(archive / "a.mp4", NUM_FRAMES)
    with torch.no_grad():
        expected = torch.nn.functional.normalize(
            model.get_video_features(processor(videos=clip[None], return_tensors="pt")["pixel_values"]).pooler_output,
            dim=-1,
        )[0]
    np.testing.assert_allclose(by_key[("a.mp4", 0.0)], expected.numpy(), rtol=0, atol=1e-5)
    # a long video (6.1 s) is windows of 2 s every 1.5 s, the last ending at the end
    duration = probe_video(archive / "long/c.mp4").duration
    assert duration == pytest.approx(6.1)
    windows = [(row["start"], row["end"]) for row in rows if row["path"] == "long/c.mp4"]
    assert windows == plan_windows(duration, 2.0, 1.5) and len(windows) == 4
    frames = read_all_frames(archive / "long/c.mp4")
    start, end = windows[1]
    indices = window_frame_indices(len(frames), duration, start, end, NUM_FRAMES)
    with torch.no_grad():
        expected = torch.nn.functional.normalize(
            model.get_video_features(
                processor(videos=frames[indices][None], return_tensors="pt")["pixel_values"]
            ).pooler_output,
            dim=-1,
        )[0]
    np.testing.assert_allclose(by_key[("long/c.mp4", start)], expected.numpy(), rtol=0, atol=1e-5)


def test_workers_batches_and_chunked_reads_give_the_same_index(archive, reference, model, processor, tmp_path):
    out = tmp_path / "index"
    build_index(archive, model, processor, out, window=2.0, stride=1.5, batch_size=3, num_workers=2,
                windows_per_read=1, progress=False)
    assert_same_index(out, reference)


# -- resumable ----------------------------------------------------------------------------------------------------


def test_an_interrupted_run_resumes_and_equals_an_uninterrupted_one(archive, reference, model, processor, tmp_path):
    out = tmp_path / "index"
    first: list[str] = []
    with pytest.raises(Interrupted):
        build_index(archive, model, processor, out, window=2.0, stride=1.5, flush_every=2, progress=False,
                    on_file_done=interrupt_after(3, first))
    assert not (out / "index.json").exists()  # no index yet, only the finished files' shards
    second: list[str] = []
    summary = build_index(archive, model, processor, out, window=2.0, stride=1.5, flush_every=2, progress=False,
                          on_file_done=second.append)
    assert sorted(second) == sorted(set(ARCHIVE) - set(first))  # nothing finished is embedded again
    assert (summary.resumed, summary.embedded, summary.kept) == (3, len(ARCHIVE) - 3, 0)
    assert_same_index(out, reference)
    assert not (out / "partial").exists()


KILL_SCRIPT = """
import os, sys
from modeling_t2l import T2LModel
from modeling_t2l.processing.processing_t2l import T2LProcessor
from modeling_t2l.search import build_index
model_dir, archive, out = sys.argv[1:4]
done = []
def hook(path):
    done.append(path)
    if len(done) == 3:
        os._exit(9)  # killed: no exception handler, no cleanup runs
build_index(archive, T2LModel.from_pretrained(model_dir), T2LProcessor.from_pretrained(model_dir), out,
            window=2.0, stride=1.5, flush_every=2, progress=False, on_file_done=hook)
"""


def test_a_killed_run_resumes_from_its_last_shard(archive, reference, model_dir, model, processor, tmp_path):
    out = tmp_path / "index"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(model_dir), str(archive), str(out)], env=env,
                            capture_output=True, text=True, timeout=240)
    assert killed.returncode == 9, killed.stderr
    embedded: list[str] = []
    summary = build_index(archive, model, processor, out, window=2.0, stride=1.5, progress=False,
                          on_file_done=embedded.append)
    # two files were in the shard written after the second; the third was lost with the process
    assert summary.resumed == 2 and len(embedded) == len(ARCHIVE) - 2
    assert_same_index(out, reference)


# -- incremental --------------------------------------------------------------------------------------------------


def test_rerunning_adds_new_and_changed_files_and_drops_removed_ones(model, processor, tmp_path):
    root = write_archive(tmp_path / "videos", ["a.mp4", "b.mkv", "e.mp4"])
    out = tmp_path / "index"
    build_index(root, model, processor, out, progress=False)
    write_video(root / "new.mp4", num_frames=30, fps=10, width=64, height=40)  # added
    write_video(root / "b.mkv", num_frames=17, fps=12, width=56, height=40, fmt="mkv-h264")  # changed
    os.utime(root / "b.mkv", ns=(1, 1))  # a distinct mtime even on a coarse clock
    (root / "e.mp4").unlink()  # removed
    embedded: list[str] = []
    summary = build_index(root, model, processor, out, progress=False, on_file_done=embedded.append)
    assert sorted(embedded) == ["b.mkv", "new.mp4"]
    assert (summary.num_files, summary.kept, summary.embedded, summary.removed) == (3, 1, 2, 1)
    fresh = tmp_path / "fresh"
    build_index(root, model, processor, fresh, progress=False)
    assert_same_index(out, fresh)
    # nothing changed: nothing embedded, the index is left as it is
    before = json.loads((out / "index.json").read_text())
    again: list[str] = []
    summary = build_index(root, model, processor, out, progress=False, on_file_done=again.append)
    assert again == [] and summary.kept == 3 and json.loads((out / "index.json").read_text()) == before


def test_an_unreadable_file_is_skipped_logged_and_counted_once(model, processor, tmp_path, caplog):
    root = write_archive(tmp_path / "videos", ["a.mp4", "long/c.mp4"])
    (root / "broken.mp4").write_bytes(BROKEN)
    out = tmp_path / "index"
    with caplog.at_level(logging.WARNING, logger="modeling_t2l.search"):
        summary = build_index(root, model, processor, out, window=2.0, progress=False)
    assert [item["path"] for item in summary.skipped] == ["broken.mp4"]
    assert "truncated" in summary.skipped[0]["reason"]
    assert sum("broken.mp4" in record.getMessage() for record in caplog.records) == 1
    assert "broken.mp4" not in load_index(out).dataset["path"] and summary.num_files == 2
    # unchanged, it is not tried again, and still reported once
    caplog.clear()
    seen: list[str] = []
    summary = build_index(root, model, processor, out, window=2.0, progress=False, on_file_done=seen.append)
    assert seen == [] and [item["path"] for item in summary.skipped] == ["broken.mp4"]
    assert not any("broken.mp4" in record.getMessage() for record in caplog.records)
    # repaired, it is indexed
    write_video(root / "broken.mp4", num_frames=12, fps=10, width=40, height=40)
    summary = build_index(root, model, processor, out, window=2.0, progress=False)
    assert summary.skipped == [] and "broken.mp4" in load_index(out).dataset["path"]


# -- search -------------------------------------------------------------------------------------------------------


def query_embedding(model, processor, query: str) -> np.ndarray:
    encoded = processor(text=[query], return_tensors="pt")
    with torch.no_grad():
        text = model.get_text_features(encoded["input_ids"], encoded["attention_mask"]).pooler_output
    return torch.nn.functional.normalize(text, dim=-1)[0].numpy()


def test_exact_search_ranks_rows_by_cosine_similarity(reference, model, processor):
    index = load_index(reference)
    for query in QUERIES:
        scores = index.embeddings @ query_embedding(model, processor, query)
        expected = [(index.dataset[int(i)]["path"], index.dataset[int(i)]["start"]) for i in np.argsort(-scores)[:5]]
        results = search(index, query, model, processor, top_k=5, backend="exact")
        assert [(Path(r["path"]).relative_to(index.root).as_posix(), r["start"]) for r in results] == expected
        np.testing.assert_allclose([r["score"] for r in results], np.sort(scores)[::-1][:5], rtol=0, atol=1e-6)
        assert all(Path(r["path"]).is_file() for r in results)


def test_faiss_and_exact_give_the_same_top_k(reference, model, processor):
    pytest.importorskip("faiss", reason="faiss-cpu is not installed (pip install modeling-t2l[search])")
    index = load_index(reference)
    for query in QUERIES:
        exact = search(index, query, model, processor, top_k=len(index), backend="exact")
        with_faiss = search(index, query, model, processor, top_k=len(index), backend="faiss")
        assert [(r["path"], r["start"]) for r in with_faiss] == [(r["path"], r["start"]) for r in exact]
        np.testing.assert_allclose([r["score"] for r in with_faiss], [r["score"] for r in exact], rtol=0, atol=1e-5)
        assert search(index, query, model, processor, top_k=3, backend="faiss") == with_faiss[:3]


def test_without_faiss_auto_ranks_with_the_exact_product(reference, model, processor, monkeypatch):
    from modeling_t2l.search import querying

    expected = search(reference, QUERIES[1], model, processor, top_k=4, backend="exact")
    monkeypatch.setattr(querying, "faiss_available", lambda: False)
    index = load_index(reference)
    assert search(index, QUERIES[1], model, processor, top_k=4) == expected
    assert not index.dataset.is_index_initialized("embedding")  # no FAISS index was built


def test_an_empty_archive_gives_an_empty_index(model, processor, tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "notes.txt").write_text("not a video")
    summary = build_index(tmp_path / "videos", model, processor, tmp_path / "index", progress=False)
    assert (summary.num_files, summary.num_rows, summary.skipped) == (0, 0, [])
    assert search(tmp_path / "index", "archery", model, processor, backend="exact") == []


def test_a_query_with_another_model_is_refused(reference, model, processor, tmp_path):
    # the same architecture and config under another name (e.g. other weights)
    other = T2LModel.from_pretrained(save_tiny_model(tmp_path / "other", seed=1)).eval()
    with pytest.raises(IndexMismatchError, match="was built with model .* not .*other"):
        search(reference, "archery", other, processor)
    # a changed config (the same name)
    changed = T2LModel(tiny_t2l_config(num_frames=NUM_FRAMES, temporal_token_dropout=0.5)).eval()
    changed.name_or_path = model.name_or_path
    changed.config._name_or_path = model.name_or_path
    with pytest.raises(IndexMismatchError, match="config"):
        search(reference, "archery", changed, processor)
    # and updating an index with another model
    with pytest.raises(IndexMismatchError, match="Choose another --out"):
        build_index(load_index(reference).root, other, processor, reference, window=2.0, stride=1.5, progress=False)


class VideoConditionedText(T2LModel):
    """A stand-in family whose text embedding depends on the video (as TC-CLIP's does), through the contract."""

    text_depends_on_video = True
    offers_video_independent_text = True

    def get_text_features(self, input_ids, attention_mask=None, video_outputs=None, **kwargs):
        text = super().get_text_features(input_ids, attention_mask).pooler_output  # (K, E)
        if video_outputs is None:
            if not self.offers_video_independent_text:
                raise ValueError("video_outputs is required: the text depends on the video")
            return BaseModelOutputWithPooling(pooler_output=text)
        return BaseModelOutputWithPooling(pooler_output=text[None] + 0.5 * video_outputs.pooler_output[:, None])


class VideoOnlyText(VideoConditionedText):
    offers_video_independent_text = False


def conditioned_scores(index, model, processor, query: str) -> np.ndarray:
    """Brute force: every row's clip, decoded again, against the text conditioned on it."""
    encoded = processor(text=[query], return_tensors="pt")
    scores = []
    for row in index.dataset:
        frames = read_all_frames(index.root / row["path"])
        duration = probe_video(index.root / row["path"]).duration
        clip = frames[window_frame_indices(len(frames), duration, row["start"], row["end"], NUM_FRAMES)]
        with torch.no_grad():
            video = model.get_video_features(processor(videos=clip[None], return_tensors="pt")["pixel_values"])
            text = model.get_text_features(encoded["input_ids"], encoded["attention_mask"], video_outputs=video)
        scores.append(torch.nn.functional.cosine_similarity(text.pooler_output[:, 0], video.pooler_output).item())
    return np.asarray(scores)


def test_text_depending_on_the_video_is_rescored_on_a_shortlist(reference, model_dir, processor):
    conditioned = VideoConditionedText.from_pretrained(model_dir).eval()
    index = load_index(reference)
    query = QUERIES[0]
    scores = conditioned_scores(index, conditioned, processor, query)
    # a shortlist of the whole index: exactly the conditioned ranking
    results = search(index, query, conditioned, processor, top_k=4, shortlist=len(index), backend="exact")
    order = np.argsort(-scores)[:4]
    assert [(Path(r["path"]).relative_to(index.root).as_posix(), r["start"]) for r in results] == [
        (index.dataset[int(i)]["path"], index.dataset[int(i)]["start"]) for i in order
    ]
    np.testing.assert_allclose([r["score"] for r in results], scores[order], rtol=0, atol=1e-5)
    # a shortlist of 3: the 3 best by the video-independent text, re-ordered by the conditioned score
    _, shortlisted = rank(index, query_embedding(conditioned, processor, query), 3, "exact")
    results = search(index, query, conditioned, processor, top_k=3, shortlist=3, backend="exact")
    expected = sorted(shortlisted, key=lambda i: -scores[i])
    assert [r["start"] for r in results] == [index.dataset[int(i)]["start"] for i in expected]


def test_text_depending_on_the_video_without_an_independent_text_is_refused(reference, model_dir, processor):
    with pytest.raises(TextDependsOnVideoError, match="offers no video-independent"):
        search(reference, "archery", VideoOnlyText.from_pretrained(model_dir).eval(), processor)


def test_tc_clip_indexes_and_its_search_is_refused_without_a_video_independent_text(archive, processor, tmp_path):
    from modeling_t2l import TCCLIPModel
    from tests.test_tc_clip_modeling import tiny_config

    torch.manual_seed(0)
    TCCLIPModel(tiny_config(num_frames=NUM_FRAMES)).save_pretrained(tmp_path / "tc_clip")
    model = TCCLIPModel.from_pretrained(tmp_path / "tc_clip").eval()
    summary = build_index(archive, model, processor, tmp_path / "index", progress=False)
    assert summary.num_files == len(ARCHIVE) and summary.skipped == []
    with pytest.raises(TextDependsOnVideoError, match="depends on the video .* offers no video-independent"):
        search(tmp_path / "index", "archery", model, processor)


# -- command line -------------------------------------------------------------------------------------------------


def test_index_and_search_commands_end_to_end(model_dir, model, processor, tmp_path, capsys):
    root = write_archive(tmp_path / "videos", ["a.mp4", "long/c.mp4", "e.mp4"])
    (root / "broken.mp4").write_bytes(BROKEN)
    out = tmp_path / "index"
    code = main(["index", str(root), "--model", str(model_dir), "--out", str(out), "--window", "2", "--stride", "1"])
    captured = capsys.readouterr()
    assert code == 2, captured.err  # written, with one unreadable file named
    assert "skipped 1 unreadable" in captured.err and "skipped broken.mp4" in captured.err
    assert load_index(out).num_files == 3

    assert main(["search", str(out), QUERIES[0], "--top-k", "3", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["results"] == search(out, QUERIES[0], model, processor, top_k=3)
    assert main(["search", str(out), QUERIES[0], "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split()[1] == document["results"][0]["path"]

    other = save_tiny_model(tmp_path / "other", seed=1)
    assert main(["search", str(out), "archery", "--model", str(other)]) == 1
    assert "was built with model" in capsys.readouterr().err
    assert main(["index", str(root), "--model", str(other), "--out", str(out)]) == 1
    assert "Choose another --out" in capsys.readouterr().err
    assert main(["index", str(tmp_path / "nowhere"), "--model", str(model_dir), "--out", str(tmp_path / "x")]) == 1
    assert "nowhere: not a directory" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["search", str(tmp_path / "x"), "archery"]) == 1
    assert "no index.json" in capsys.readouterr().err


def test_distributed_index_equals_a_single_process_one(archive, reference, model_dir, tmp_path):
    out = tmp_path / "index"
    # torchrun-style: two CPU processes (accelerate's own launcher starts one process for --cpu without MPI)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "true"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                "-m", "modeling_t2l.cli"]
    result = subprocess.run(
        [*launcher, "index", str(archive), "--model", str(model_dir), "--out", str(out), "--window", "2",
         "--stride", "1.5", "--flush-every", "1"],
        env=env, capture_output=True, text=True, timeout=280,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(2 processes)" in result.stderr
    assert_same_index(out, reference)
