"""A bad video is counted once in `t2l evaluate`'s table and results.json, whatever the number of workers.

With DataLoader workers, a second iterator over the loader (tqdm.auto's bar makes one in its constructor) started
a second set of workers that decoded, and counted, the same batches again: `skipped 2` for one zero-byte file.
"""
import json

import pytest

from modeling_t2l.data import Protocol, SplitSpec
from modeling_t2l.evaluation.evaluate import evaluate_videos
from modeling_t2l.processing.processing_t2l import T2LProcessor
from tests.test_evaluation import CLASSES, NUM_FRAMES, KnownAnswerModel, _grey_video, _labels_csv


@pytest.fixture(scope="module")
def processor():
    return T2LProcessor.from_clip_tokenizer(num_frames=NUM_FRAMES, crop_size=32, shortest_edge=36)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_one_empty_file_is_one_skipped_video(tmp_path, processor, num_workers):
    good = [_grey_video(tmp_path / f"good{i}", 80) for i in range(3)]
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    result = evaluate_videos(KnownAnswerModel(processor), processor, [*good, empty], [2, 2, 2, 0], CLASSES,
                             batch_size=2, num_workers=num_workers, progress=num_workers > 0)
    assert result.num_videos == 3 and result.top1 == 100.0
    assert result.skipped_videos == 1
    assert [example["path"] for example in result.skipped_examples] == [str(empty)]


def test_evaluate_command_counts_a_bad_video_once_with_default_workers(tmp_path, processor, monkeypatch, capsys):
    from modeling_t2l import data
    from modeling_t2l.cli import main
    from modeling_t2l.commands import evaluate as command

    root = tmp_path / "data"
    videos = root / "videos"
    for i in range(3):
        _grey_video(videos / f"v{i}", 40 * i)
    (videos / "empty.mp4").write_bytes(b"")
    (root / "test.txt").write_text("v0 0\nv1 1\nv2 2\nempty.mp4 3\n")
    protocol = Protocol(name="tiny", task="zero_shot", dataset="tiny", summary="", layout="any",
                        splits=(SplitSpec("test", "eval", _labels_csv(root, "labels", CLASSES),
                                          list_file=str(root / "test.txt")),),
                        aggregation="mean_std", num_frames=NUM_FRAMES, text_mode="templates")
    monkeypatch.setattr(data, "get_protocol", lambda name, **options: protocol)
    monkeypatch.setattr(command, "load_model_and_processor",
                        lambda path, device, dtype: (KnownAnswerModel(processor), processor))
    # no --num-workers: the default (2) DataLoader workers
    code = main(["evaluate", "--model", "unused", "--protocol", "tiny", "--data-root", str(videos),
                 "--output-dir", str(tmp_path / "out"), "--batch-size", "2"])
    assert code == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["skipped_videos"] == 1 and results["splits"]["test"]["skipped_videos"] == 1
    assert results["splits"]["test"]["num_videos"] == 3
    assert "| test | 3 | 1 | 6 |" in capsys.readouterr().out
    assert "| test | 3 | 1 | 6 |" in (tmp_path / "out" / "results.md").read_text()
