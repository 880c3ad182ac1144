"""The protocol registry and its bundled files: contents, counts, label orders, aggregation."""
from __future__ import annotations

import csv
import hashlib
import json
import re

import pytest

from modeling_t2l.data import aggregation, get_protocol, list_protocols, read_labels, read_split_list
from modeling_t2l.data.lists import FILES_DIR, parse_split_lines, read_llm_labels


def test_bundled_files_match_manifest_bytes_and_counts():
    rows = list(csv.DictReader(open(FILES_DIR / "MANIFEST.tsv", encoding="utf-8"), delimiter="\t"))
    assert len(rows) == 65
    bundled = {p.relative_to(FILES_DIR).as_posix() for p in FILES_DIR.rglob("*") if p.is_file()}
    bundled -= {"MANIFEST.tsv", "README.md"}
    bundled = {p for p in bundled if not p.startswith("descriptions/")}  # the text helper's files
    assert bundled == {row["path"] for row in rows}
    for row in rows:
        path = FILES_DIR / row["path"]
        assert hashlib.sha256(path.read_bytes()).hexdigest()[:16] == row["sha256_16"], row["path"]
        count = len(read_split_list(path)) if path.suffix == ".txt" else None
        if count is not None:
            assert count == int(row["entries"]), row["path"]


def test_no_noncommercial_files_are_bundled():
    names = [p.as_posix() for p in FILES_DIR.rglob("*")]
    assert not [n for n in names if "llm" in n or "froster" in n or "rephrased" in n]


def test_registry_names():
    names = list_protocols()
    expected = {
        "zero_shot_hmdb51", "zero_shot_ucf101", "zero_shot_k600", "t2l_k600_exclusive", "fully_supervised_k400",
        *(f"base_to_novel_{d}" for d in ("k400", "hmdb51", "ucf101", "ssv2")),
        *(f"few_shot_{d}_k{k}" for d in ("hmdb51", "ucf101", "ssv2") for k in (2, 4, 8, 16)),
    }
    assert set(names) == expected
    with pytest.raises(KeyError, match="zero_shot_hmdb51"):
        get_protocol("zero_shot_hmdb")


@pytest.mark.parametrize(
    "name, split, videos, classes",
    [
        ("zero_shot_hmdb51", "split2", 1530, 51),
        ("zero_shot_ucf101", "split1", 3783, 101),
        ("zero_shot_ucf101", "split3", 3696, 101),
        ("zero_shot_k600", "split1", 14084, 160),
        ("zero_shot_k600", "split3", 14136, 160),
        ("t2l_k600_exclusive", "test", 11462, 232),
        ("base_to_novel_hmdb51", "train_seed2", 416, 26),
        ("base_to_novel_hmdb51", "novel", 750, 25),
        ("base_to_novel_ucf101", "base", 2088, 51),
        ("base_to_novel_ssv2", "novel", 7215, 87),
        ("few_shot_ssv2_k8", "train", 1392, 174),
        ("few_shot_ssv2_k8", "test", 24777, 174),
        ("few_shot_hmdb51_k16", "train", 816, 51),
        ("fully_supervised_k400", "test", 19877, 400),
    ],
)
def test_split_sizes(name, split, videos, classes):
    protocol = get_protocol(name)
    entries = protocol.entries(split)
    assert len(entries) == videos
    assert len(protocol.class_names(split)) == classes
    assert {e.label for e in entries} <= set(range(classes))


def test_k400_base_novel_val_are_derived_from_k400_val():
    protocol = get_protocol("base_to_novel_k400")
    base, novel = protocol.entries("base"), protocol.entries("novel")
    assert (len(base), len(novel)) == (9944, 9933)
    full_names = read_labels(FILES_DIR / "labels/kinetics_400_labels.csv")
    full = {e.name: full_names[e.label] for e in read_split_list(FILES_DIR / "fully_supervised/k400/val.txt")}
    base_names, novel_names = protocol.class_names("base"), protocol.class_names("novel")
    assert not set(base_names) & set(novel_names)
    assert all(full[e.name] == base_names[e.label] for e in base)
    assert all(full[e.name] == novel_names[e.label] for e in novel)
    assert {e.name for e in base} | {e.name for e in novel} == set(full)


def test_k600_splits_are_er_zsar_160_class_splits():
    protocol = get_protocol("zero_shot_k600")
    assert protocol.scored_splits == ("split1", "split2", "split3")
    novel220 = read_labels(FILES_DIR / "labels/k600_novel220_labels.csv")
    er_zsar = json.loads((FILES_DIR / "zero_shot/k600/er_zsar/tst_class_idxs.json").read_text())
    k400 = set(read_labels(FILES_DIR / "labels/kinetics_400_labels.csv"))
    for i, split in enumerate(protocol.scored_splits):
        names = protocol.class_names(split)
        assert len(names) == 160 and not set(names) & k400
        assert names == [novel220[index - 400] for index in er_zsar[i]]
        assert len({e.label for e in protocol.entries(split)}) == 160
    # T2L's own set is a different protocol, never mixed in: 232 classes, 12 of them K400 classes renamed in K600.
    exclusive = get_protocol("t2l_k600_exclusive").class_names("test")
    assert len(exclusive) == 232 and len(set(exclusive) - set(novel220)) == 12


HMDB_SUFFIX = r"_[fhul]_(cm|nm)_np\d+_(fr|ba|le|ri)_(bad|med|goo)_\d+\.avi$"


def _hmdb_mismatches(entries, names):
    return [e.name for e in entries if not re.search(r"(^|_)" + re.escape(names[e.label].replace(" ", "_")) + HMDB_SUFFIX, e.name)]


def test_hmdb_fixed_order_matches_the_video_file_names():
    fixed = get_protocol("zero_shot_hmdb51")
    legacy = get_protocol("zero_shot_hmdb51", hmdb_label_order="legacy")
    assert fixed.hmdb_label_order == "fixed"
    for split in fixed.scored_splits:
        entries = fixed.entries(split)
        assert _hmdb_mismatches(entries, fixed.class_names(split)) == []
        # The legacy CSV names 4 classes wrongly: kick/kick ball and sword/sword exercise, 4 x 30 test videos.
        assert len(_hmdb_mismatches(entries, legacy.class_names(split))) == 120
    assert legacy.class_names("split1")[20:22] == ["kick ball", "kick"]
    assert fixed.class_names("split1")[20:22] == ["kick", "kick ball"]
    b2n = get_protocol("base_to_novel_hmdb51")
    for split in ("train_seed1", "base", "novel"):
        assert _hmdb_mismatches(b2n.entries(split), b2n.class_names(split)) == []


def test_protocol_knobs_and_options():
    protocol = get_protocol("zero_shot_ucf101")
    assert (protocol.num_frames, protocol.num_clips, protocol.num_crops, protocol.text_mode) == (8, 1, 1, "descriptions")
    assert protocol.image_mean == (0.48145466, 0.4578275, 0.40821073)
    assert protocol.describe()["views"] == "1x1"
    assert get_protocol("fully_supervised_k400", num_clips=4, num_crops=3).views == 12
    with pytest.raises(TypeError, match="splits"):
        get_protocol("zero_shot_ucf101", splits=())
    with pytest.raises(ValueError, match="hmdb_label_order"):
        get_protocol("zero_shot_ucf101", hmdb_label_order="legacy")
    with pytest.raises(ValueError, match="corrected HMDB order"):
        get_protocol("zero_shot_hmdb51", hmdb_label_order="legacy", text_mode="llm_labels", llm_labels="/x")


def test_user_supplied_train_list(tmp_path):
    protocol = get_protocol("zero_shot_hmdb51")
    with pytest.raises(ValueError, match="train_list="):
        protocol.entries("train")
    train_list = tmp_path / "k400_train.txt"
    # T2L-style absolute frame-folder lines: `<path> <num_frames> <label>`.
    train_list.write_text("/cluster/data/train/abseiling/a_000001_000011 300 0\ntrain/b_000002_000012.mp4 399\n")
    entries = get_protocol("zero_shot_hmdb51", train_list=str(train_list)).entries("train")
    assert [(e.name, e.label) for e in entries] == [("/cluster/data/train/abseiling/a_000001_000011", 0), ("train/b_000002_000012.mp4", 399)]
    train_list.write_text("train/b.mp4 400\n")
    with pytest.raises(ValueError, match="label 400.*400 classes"):
        get_protocol("fully_supervised_k400", train_list=str(train_list)).entries("train")


def test_split_list_parsing_errors_name_the_line():
    assert parse_split_lines(["#20_Rhythm_clap_u_nm_np1_fr_goo_0.avi 3"])[0].name.startswith("#20")
    with pytest.raises(ValueError, match="lists.txt, line 2"):
        parse_split_lines(["a.avi 1", "b.avi x"], source="lists.txt")


def test_llm_labels_are_read_from_a_user_directory(tmp_path):
    (tmp_path / "froster").mkdir()
    texts = {str(i): f"Class {i}: a person does thing {i}" for i in range(101)}
    (tmp_path / "froster" / "ucf101_rephrased_classes.json").write_text(json.dumps(texts))
    protocol = get_protocol("zero_shot_ucf101", text_mode="llm_labels", llm_labels=str(tmp_path))
    class_texts = protocol.class_texts("split2")
    assert class_texts.texts == [[texts[str(i)] for i in range(101)]]
    with pytest.raises(ValueError, match="51 classes.*found 101"):
        read_llm_labels(tmp_path / "froster" / "ucf101_rephrased_classes.json", 51)
    with pytest.raises(FileNotFoundError, match="not bundled"):
        get_protocol("zero_shot_hmdb51", text_mode="llm_labels", llm_labels=str(tmp_path)).class_texts("split1")


def test_default_text_is_t2l_descriptions_by_class_name():
    protocol = get_protocol("base_to_novel_hmdb51")
    texts = protocol.class_texts("novel")
    assert texts.mode == "descriptions" and len(texts.texts) == 1 and len(texts.texts[0]) == 25
    templates = get_protocol("few_shot_ssv2_k2", text_mode="templates").class_texts("test")
    assert templates.mode == "templates" and len(templates.texts) == 16


def test_mean_and_population_std():
    mean, std = aggregation.mean_std([50.0, 52.0, 57.0])
    assert mean == pytest.approx(53.0)
    assert std == pytest.approx((26 / 3) ** 0.5)  # ddof=0: deviations (-3, -1, 4); ddof=1 would give sqrt(13)
    result = get_protocol("zero_shot_k600").aggregate({"split1": 70.0, "split2": 72.0, "split3": 71.0, "k400_val": 1.0})
    assert result["mean"] == pytest.approx(71.0)
    assert result["std"] == pytest.approx((2 / 3) ** 0.5)
    assert set(result["per_split"]) == {"split1", "split2", "split3"}  # the K400 val check is not scored
    with pytest.raises(KeyError, match="split3"):
        get_protocol("zero_shot_hmdb51").aggregate({"split1": 1.0, "split2": 2.0})


def test_harmonic_mean_of_seed_averaged_base_and_novel():
    per_seed = {
        "train_seed1": {"base": 80.0, "novel": 50.0},
        "train_seed2": {"base": 70.0, "novel": 70.0},
        "train_seed3": {"base": 75.0, "novel": 60.0},
    }
    result = get_protocol("base_to_novel_ucf101").aggregate(per_seed)
    assert (result["base"], result["novel"]) == (pytest.approx(75.0), pytest.approx(60.0))
    assert result["hm"] == pytest.approx(2 * 75 * 60 / 135)  # 66.67, not the mean of the per-seed HMs (66.07)
    assert result["base_std"] == pytest.approx((50 / 3) ** 0.5)
    assert get_protocol("few_shot_hmdb51_k4").aggregate({"test": 61.5})["top1"] == 61.5
