"""Class-text resolution: bundled T2L descriptions, ActionCLIP templates, and the fallback between them."""
import csv
import hashlib
import json
import warnings
from pathlib import Path

import pytest

from modeling_t2l.zero_shot.prompts import (
    ACTIONCLIP_TEMPLATES,
    DESCRIPTION_SETS,
    DESCRIPTIONS_DIR,
    MissingDescriptionWarning,
    class_texts,
    humanize_class_name,
    load_descriptions,
)

FIXTURE = Path(__file__).parent / "fixtures" / "official_t2l" / "tokenization.json"
DATA_FILES = DESCRIPTIONS_DIR.parent

# The bundled label lists (owned by the data package) and the description set each must resolve to.
EXPECTED_SET = {
    "hmdb_51": "hmdb51",
    "ucf_101": "ucf101",
    "kinetics_400": "k400",
    "kinetics_600_labels.csv": "k600",
    "kinetics_600_labels_exclusive": "k600_exclusive",
    "ssv2": "ssv2",
}
ROW_COUNTS = {"hmdb51": 51, "ucf101": 101, "k400": 400, "k600": 600, "k600_exclusive": 232, "ssv2": 174}
# sha256 prefixes of the upstream T2L GPT_discription files (shared/data/MANIFEST.tsv): the copies are byte-identical.
SHA256_PREFIX = {
    "hmdb51": "af6d9839a75952c8",
    "ucf101": "dbbd851d7a0d5837",
    "k400": "ff8a1e1bc8fd1042",
    "k600": "e218930137b4beb7",
    "k600_exclusive": "0cdde4e4d86cbb38",
    "ssv2": "d0783aeed3092d4e",
}


@pytest.fixture(scope="module")
def official_entries():
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _label_names(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [row["name"] for row in csv.DictReader(handle)]


def _bundled_label_lists() -> list[Path]:
    paths = []
    for path in sorted(DATA_FILES.rglob("*.csv")):
        if DESCRIPTIONS_DIR in path.parents:
            continue
        with open(path, newline="", encoding="utf-8") as handle:
            if "name" in (csv.DictReader(handle).fieldnames or ()):
                paths.append(path)
    return paths


@pytest.mark.parametrize("name", DESCRIPTION_SETS)
def test_bundled_files_are_the_upstream_bytes(name):
    digest = hashlib.sha256((DESCRIPTIONS_DIR / f"{name}.csv").read_bytes()).hexdigest()
    assert digest.startswith(SHA256_PREFIX[name])
    assert len(load_descriptions(name)) == ROW_COUNTS[name]


def test_descriptions_equal_the_official_preprocessed_texts(official_entries):
    # The fixture holds every CSV row after the official "\n" removal, in file order, tagged by dataset.
    for name in DESCRIPTION_SETS:
        expected = [e["text"] for e in official_entries if e["source"] == f"gpt_description:{name}"]
        assert list(load_descriptions(name).values()) == expected, name
        assert all("\n" not in text for text in expected)


def test_every_bundled_label_list_resolves_to_its_descriptions():
    label_lists = _bundled_label_lists()
    assert len(label_lists) >= 7, "the data package's label lists are missing"
    for path in label_lists:
        names = _label_names(path)
        with warnings.catch_warnings():
            warnings.simplefilter("error", MissingDescriptionWarning)
            result = class_texts(names)
        assert result.mode == "descriptions", path
        assert result.num_templates == 1 and result.num_classes == len(names)
        expected = next((s for key, s in EXPECTED_SET.items() if path.name.startswith(key)), None)
        if expected is not None:
            assert result.description_set == expected, path
            table = load_descriptions(expected)
            assert result.texts[0] == [table[name] for name in names]


def test_descriptions_are_looked_up_by_exact_name_without_underscore_replacement():
    table = {"kick_ball": "a kick of a ball"}
    assert class_texts(["kick_ball"], descriptions=table).texts == [["a kick of a ball"]]
    with pytest.raises(KeyError, match="'kick ball'"):
        class_texts(["kick ball"], mode="descriptions", descriptions=table)


def test_description_set_by_name_and_the_same_class_differs_between_sets():
    k400 = class_texts(["abseiling", "air drumming"], descriptions="k400")
    k600 = class_texts(["abseiling", "air drumming"], descriptions="k600")
    assert k400.description_set == "k400" and k600.description_set == "k600"
    assert k400.texts != k600.texts
    # Without a choice, auto takes the smallest bundled set covering the vocabulary (K400 for these names).
    assert class_texts(["abseiling", "air drumming"]).texts == k400.texts


def test_templates_are_template_major_and_match_the_official_strings(official_entries):
    official = [e for e in official_entries if e["source"].startswith("template:")]
    ucf_names = [e["text"] for e in official if e["source"] == "template:7"]  # template 7 is "{}"
    assert len(ucf_names) == 101
    result = class_texts(ucf_names, mode="templates")
    assert result.mode == "templates" and result.num_templates == 16 and result.num_classes == 101
    assert result.flat() == [e["text"] for e in official]
    assert result.texts[3][2] == "Archery, an action"
    assert result.flat_class_names()[16 * 101 - 1] == ucf_names[-1]
    assert len(result.flat_class_names()) == len(result.flat())


def test_templates_replace_underscores_and_accept_custom_templates():
    result = class_texts(["kick_ball", "sword"], mode="templates", templates=["a video of {}", "{}!"])
    assert result.texts == [["a video of kick ball", "a video of sword"], ["kick ball!", "sword!"]]
    assert class_texts(["ride_bike"], mode="templates", templates="{} now").texts == [["ride bike now"]]


def test_actionclip_templates():
    assert len(ACTIONCLIP_TEMPLATES) == 16
    assert ACTIONCLIP_TEMPLATES[0] == "a photo of action {}" and ACTIONCLIP_TEMPLATES[-1] == "The woman is {}"


def test_auto_falls_back_to_templates_with_one_warning_listing_exactly_the_missing_classes():
    names = ["archery", "juggling chainsaws", "abseiling", "moonwalking_on_mars"]
    with pytest.warns(MissingDescriptionWarning) as record:
        result = class_texts(names)
    assert len(record) == 1
    message = str(record[0].message)
    assert "'juggling chainsaws'" in message and "'moonwalking_on_mars'" in message
    assert "'archery'" not in message and "'abseiling'" not in message
    assert result.mode == "templates" and result.num_templates == 16
    assert result.texts[0][3] == "a photo of action moonwalking on mars"


def test_auto_with_a_custom_dict_warns_for_classes_outside_it():
    with pytest.warns(MissingDescriptionWarning, match=r"'b'") as record:
        result = class_texts(["a", "b"], descriptions={"a": "text a"}, templates=["{}"])
    assert "'a'" not in str(record[0].message)
    assert result.texts == [["a", "b"]]


def test_auto_mixes_bundled_sets_when_no_single_set_covers_the_vocabulary():
    result = class_texts(["ApplyEyeMakeup", "brush hair"])
    assert result.mode == "descriptions" and result.description_set == "mixed"
    assert result.texts[0] == [load_descriptions("ucf101")["ApplyEyeMakeup"], load_descriptions("hmdb51")["brush hair"]]


def test_descriptions_mode_raises_naming_the_missing_classes():
    with pytest.raises(KeyError, match="'no such action'"):
        class_texts(["archery", "no such action"], mode="descriptions")


@pytest.mark.parametrize(
    "name, words",
    [
        ("ApplyEyeMakeup", "apply eye makeup"),
        ("YoYo", "yo yo"),
        ("HandstandPushups", "handstand pushups"),
        ("PlayingDaf", "playing daf"),
        ("kick_ball", "kick ball"),
        ("tying knot (not on a tie)", "tying knot (not on a tie)"),
        ("Skijet", "skijet"),
    ],
)
def test_humanize_class_name(name, words):
    assert humanize_class_name(name) == words


def test_humanize_is_opt_in():
    assert class_texts(["ApplyEyeMakeup"], mode="templates", templates="{}").texts == [["ApplyEyeMakeup"]]
    humanized = class_texts(["ApplyEyeMakeup"], mode="templates", templates="{}", humanize=True)
    assert humanized.texts == [["apply eye makeup"]]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(class_names=[]), ValueError, "at least one"),
        (dict(class_names="archery"), TypeError, "list of class names"),
        (dict(class_names=["a"], mode="llm"), ValueError, "Unknown class text mode"),
        (dict(class_names=["a"], mode="templates", templates=["no placeholder"]), ValueError, "placeholder"),
        (dict(class_names=["a"], descriptions="k700"), ValueError, "Unknown description set"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        class_texts(**kwargs)


def test_load_descriptions_from_a_csv_path_and_bad_files(tmp_path):
    good = tmp_path / "mine.csv"
    good.write_text('SNo,Class Name,GPT3 discription\n1,wave,"\n\nWaving a\nhand."\n', encoding="utf-8")
    assert load_descriptions(good) == {"wave": "Waving ahand."}
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\n0,wave\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.csv.*Class Name"):
        load_descriptions(bad)
    duplicate = tmp_path / "duplicate.csv"
    duplicate.write_text('SNo,Class Name,GPT3 discription\n1,wave,"a"\n2,wave,"b"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 3: a second, different description for 'wave'"):
        load_descriptions(duplicate)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        load_descriptions(tmp_path / "missing.csv")
