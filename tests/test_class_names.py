"""One rule for when two class names are the same class (`normalize_class_name`), used by every vocabulary check."""
from __future__ import annotations

import pytest

from modeling_t2l.data.lists import read_labels
from modeling_t2l.zero_shot.prompts import (
    check_distinct_class_names,
    class_texts,
    duplicate_class_names,
    normalize_class_name,
)
from tests.test_pipeline import model, pipe, processor, random_video  # noqa: F401  (fixtures)


def test_normal_form_is_the_template_cleaning_plus_spaces_and_case():
    assert normalize_class_name("brush_hair") == normalize_class_name("Brush  Hair ") == "brush hair"
    assert normalize_class_name("ApplyEyeMakeup") != normalize_class_name("apply eye makeup")  # CamelCase is kept
    assert duplicate_class_names(["brush_hair", "run", "brush hair", "BRUSH_HAIR"]) == [
        ["brush_hair", "brush hair", "BRUSH_HAIR"]
    ]


@pytest.mark.parametrize("names", [["brush_hair", "brush hair"], ["Run", "run"], ["run ", "run"]])
def test_names_equal_after_cleaning_are_refused_naming_both(names):
    with pytest.raises(ValueError, match="duplicates") as caught:
        check_distinct_class_names(names, "candidate_labels")
    assert all(repr(name) in str(caught.value) for name in names)
    with pytest.raises(ValueError, match="duplicates"):
        class_texts(names, mode="templates")


def test_pipeline_refuses_labels_that_would_split_one_probability(pipe):
    with pytest.raises(ValueError, match=r"duplicates: 'brush_hair' and 'brush hair'"):
        pipe(random_video(0), candidate_labels=["brush_hair", "wave", "brush hair"], hypothesis_template="{}")
    with pytest.raises(ValueError, match=r"'Wave' and 'wave'"):
        pipe(random_video(0), candidate_labels="brush_hair,Wave ,wave")  # a comma list is stripped: 'Wave', 'wave'


def test_label_file_with_names_equal_after_cleaning_is_refused(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("id,name\n0,brush_hair\n1,wave\n2,Brush hair\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"labels\.csv.*'brush_hair' and 'Brush hair'"):
        read_labels(path)
