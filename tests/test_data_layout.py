"""Finding the videos of a split list under the usual dataset folder layouts, and building the Dataset."""
from __future__ import annotations

import logging
import os

import datasets
import pytest

from modeling_t2l.data import MissingVideosError, VideoIndex, build_video_dataset, get_protocol
from modeling_t2l.data.lists import SplitEntry


def touch(root, *relative_paths):
    for relative in relative_paths:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


@pytest.mark.parametrize(
    "entry, on_disk",
    [
        # UCF: official class folders, or flat
        ("v_ApplyEyeMakeup_g01_c01.avi", "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"),
        ("v_ApplyEyeMakeup_g01_c01.avi", "v_ApplyEyeMakeup_g01_c01.avi"),
        # HMDB: flat or class folders (names may start with '#')
        ("#20_Rhythm_clap_u_nm_np1_fr_goo_0.avi", "clap/#20_Rhythm_clap_u_nm_np1_fr_goo_0.avi"),
        ("April_09_brush_hair_u_nm_np1_ba_goo_0.avi", "April_09_brush_hair_u_nm_np1_ba_goo_0.avi"),
        # Kinetics: CVDF train/val/test folders, files directly under the root, class sub-folders, other
        # extensions, and `<youtube_id>.mp4` downloads
        ("train/-aNccq2jvUA_000055_000065.mp4", "train/-aNccq2jvUA_000055_000065.mp4"),
        ("train/-aNccq2jvUA_000055_000065.mp4", "-aNccq2jvUA_000055_000065.mp4"),
        ("val/0wR5jVB-WPk_000417_000427.mp4", "kinetics400/val/abseiling/0wR5jVB-WPk_000417_000427.mp4"),
        ("val/0wR5jVB-WPk_000417_000427.mp4", "val/0wR5jVB-WPk_000417_000427.mkv"),
        ("val/0wR5jVB-WPk_000417_000427.mp4", "videos/0wR5jVB-WPk.mp4"),
        # SSv2
        ("74225.webm", "20bn-something-something-v2/74225.webm"),
        # ActionCLIP/T2L frame lists name the folder without extension; lists with extensions find folders too
        ("v_ApplyEyeMakeup_g01_c01", "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"),
        ("v_ApplyEyeMakeup_g01_c01.avi", "frames/v_ApplyEyeMakeup_g01_c01/img_00001.jpg"),
        # T2L's released lists carry the authors' absolute paths: only the name is used
        ("/cluster/datastore/shahzaa/UCF101/v_ApplyEyeMakeup_g01_c01", "v_ApplyEyeMakeup_g01_c01/img_00001.jpg"),
    ],
)
def test_entry_resolves_in_layout(tmp_path, entry, on_disk):
    touch(tmp_path, on_disk, "unrelated/v_Other_g01_c01.avi")
    expected = on_disk[: -len("/img_00001.jpg")] if on_disk.endswith("img_00001.jpg") else on_disk
    assert VideoIndex(tmp_path).resolve(entry) == expected


def test_frame_folder_contents_are_not_videos_and_misses_are_none(tmp_path):
    touch(tmp_path, "v_A_g01_c01/img_00001.jpg", "v_A_g01_c01/img_00002.jpg", "notes.txt")
    index = VideoIndex(tmp_path)
    assert len(index) == 1 and index.num_frame_folders == 1
    assert index.resolve("img_00001.jpg") is None
    assert index.resolve("v_B_g01_c01.avi") is None
    # A different clip of the same YouTube video is not a match.
    touch(tmp_path, "abcdefghijk_000010_000020.mp4")
    assert VideoIndex(tmp_path).resolve("train/abcdefghijk_000030_000040.mp4") is None


def test_symlinked_folders_are_followed_but_loops_are_not(tmp_path):
    touch(tmp_path / "store", "Walk/v_Walk_g01_c01.avi")
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "ucf").symlink_to(tmp_path / "store")
    (tmp_path / "store" / "Walk" / "loop").symlink_to(tmp_path / "store")
    index = VideoIndex(tmp_path / "root")
    assert index.resolve("v_Walk_g01_c01.avi") == "ucf/Walk/v_Walk_g01_c01.avi" and len(index) == 1


def test_the_entry_folders_break_ties(tmp_path):
    touch(tmp_path, "train/x2345678901_000001_000011.mp4", "val/x2345678901_000001_000011.mp4")
    index = VideoIndex(tmp_path / "")
    assert index.resolve("k600/val/x2345678901_000001_000011.mp4") == "val/x2345678901_000001_000011.mp4"
    assert index.resolve("train/x2345678901_000001_000011.mp4") == "train/x2345678901_000001_000011.mp4"


def test_index_walks_the_root_once(tmp_path, monkeypatch):
    touch(tmp_path, *(f"Class{i}/v_Class{i}_g01_c0{j}.avi" for i in range(20) for j in range(5)))
    walks = []
    real_walk = os.walk
    monkeypatch.setattr(os, "walk", lambda *a, **k: walks.append(a) or real_walk(*a, **k))
    index = VideoIndex(tmp_path)
    assert len(walks) == 1 and len(index) == 100
    # Lookups are answered from memory: they still work after the files are gone.
    for path in tmp_path.rglob("*.avi"):
        path.unlink()
    assert index.resolve("v_Class7_g01_c03.avi") == "Class7/v_Class7_g01_c03.avi"


def test_build_dataset_columns(tmp_path):
    touch(tmp_path, "Walk/v_Walk_g01_c01.avi", "Run/v_Run_g02_c01.avi")
    dataset = build_video_dataset([("v_Run_g02_c01.avi", 1), ("v_Walk_g01_c01.avi", 0)], ["walk", "run"], tmp_path)
    assert isinstance(dataset.features["video"], datasets.Video) and dataset.features["video"].decode is False
    assert dataset.features["label"].names == ["walk", "run"]
    assert dataset[0] == {
        "video": {"path": str(tmp_path / "Run/v_Run_g02_c01.avi"), "bytes": None},
        "label": 1,
        "label_name": "run",
    }


def test_missing_videos_are_reported_or_skipped(tmp_path, caplog):
    touch(tmp_path, "a.avi")
    entries = [SplitEntry("a.avi", 0), *(SplitEntry(f"gone{i}.avi", 1) for i in range(12))]
    with pytest.raises(MissingVideosError) as error:
        build_video_dataset(entries, ["x", "y"], tmp_path)
    message = str(error.value)
    assert "12 of 13 videos" in message and "gone0.avi" in message and "gone9.avi" in message and "gone11" not in message
    with caplog.at_level(logging.WARNING, logger="modeling_t2l.data.builder"):
        dataset = build_video_dataset(entries, ["x", "y"], tmp_path, missing="skip")
    assert len(dataset) == 1 and "skipping 12 of 13 videos" in caplog.text
    with pytest.raises(ValueError, match="label 5"):
        build_video_dataset([SplitEntry("a.avi", 5)], ["x", "y"], tmp_path)


def test_protocol_split_on_a_partial_root(tmp_path):
    # Two HMDB videos of test split 1, in class folders; the 1,528 others are absent.
    touch(tmp_path, "kick_ball/funny_soccer_commercial_kick_ball_f_cm_np1_fr_med_0.avi",
          "brush_hair/Aussie_Brunette_Brushing_Long_Hair_brush_hair_u_nm_np1_ba_med_3.avi")
    protocol = get_protocol("zero_shot_hmdb51")
    with pytest.raises(MissingVideosError, match="1528 of 1530 videos listed in zero_shot_hmdb51/split1"):
        protocol.build_dataset("split1", tmp_path)
    dataset = protocol.build_dataset("split1", tmp_path, missing="skip")
    assert sorted(dataset["label_name"]) == ["brush hair", "kick ball"]  # the fixed HMDB order
