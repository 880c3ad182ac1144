"""Class names -> the texts the text tower encodes: T2L's GPT-3 descriptions or ActionCLIP's 16 templates.

Official behaviour (spec t2l_reference §4.2-4.3):
- descriptions: one text per class, the description alone, looked up by the *exact* class-name string (no
  `_`->space on that path); every `\\n` of the CSV field is deleted;
- templates: the class name with `_`->space put into each template; texts are template-major (all classes for
  template 0, then template 1, ...) and test-time scores are averaged over templates.

`class_texts` returns both forms in one shape: `texts[j][i]` is the text of class i under template j (descriptions
are a single "template").
"""
from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

DESCRIPTIONS_DIR = Path(__file__).resolve().parents[1] / "data" / "files" / "descriptions"

# Bundled T2L description sets (MIT), smallest first: `class_texts(mode="auto")` prefers the tightest set that
# covers a vocabulary, because the same class name has different descriptions in different files (e.g. K400 vs K600).
DESCRIPTION_SETS = ("hmdb51", "ucf101", "ssv2", "k600_exclusive", "k400", "k600")

ACTIONCLIP_TEMPLATES = (
    "a photo of action {}",
    "a picture of action {}",
    "Human action of {}",
    "{}, an action",
    "{} this is an action",
    "{}, a video of action",
    "Playing action of {}",
    "{}",
    "Playing a kind of action, {}",
    "Doing a kind of action, {}",
    "Look, the human is {}",
    "Can you recognize the action of {}?",
    "Video classification of {}",
    "A video of {}",
    "The man is {}",
    "The woman is {}",
)
"""ActionCLIP's 16 hand templates, in the official order (used by T2L when `use_llm: False`)."""

_CSV_COLUMNS = ("Class Name", "GPT3 discription")  # upstream spelling
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class MissingDescriptionWarning(UserWarning):
    """`class_texts(mode="auto")` fell back to templates because some classes have no description."""


@dataclass(frozen=True)
class ClassTexts:
    """Texts for a class vocabulary.

    texts: one list per template, each with one text per class, in class order (`texts[j][i]`: class i, template j).
        Descriptions give a single list.
    mode: "descriptions", "templates" or "model" (the model's own prompts, `model_class_texts`), what was used.
    description_set: the bundled set the descriptions came from ("k400", ...), "custom" for a caller's dict,
        "mixed" when several bundled sets were needed, None for templates.
    class_names: the vocabulary, in the order of each inner list.
    """

    texts: list[list[str]]
    mode: str
    description_set: str | None = None
    class_names: tuple[str, ...] = ()

    @property
    def num_templates(self) -> int:
        return len(self.texts)

    @property
    def num_classes(self) -> int:
        return len(self.texts[0])

    def flat(self) -> list[str]:
        """All texts template-major, the row order of the official token matrix (row = j * num_classes + i)."""
        return [text for per_template in self.texts for text in per_template]

    def flat_class_names(self) -> list[str]:
        """The class of each text of `flat()` (e.g. for `T2LProcessor(text=..., text_names=...)` warnings)."""
        return list(self.class_names) * len(self.texts)


def normalize_class_name(name: str) -> str:
    """The identity of a class name: `_` -> space (the official template cleaning), runs of whitespace collapsed,
    ends stripped, case folded. Two names with the same normal form become the same text under templates, so they
    cannot be two classes ("brush_hair", "brush hair" and "Brush Hair " are one class).

    The one rule every vocabulary check uses (pipeline labels, `class_texts`, label files); descriptions are still
    looked up by the exact name, as the official code does.
    """
    return " ".join(name.replace("_", " ").split()).casefold()


def duplicate_class_names(class_names: Sequence[str]) -> list[list[str]]:
    """Groups (in first-seen order) of names with the same `normalize_class_name`, each as written, repeats kept."""
    groups: dict[str, list[str]] = {}
    for name in class_names:
        groups.setdefault(normalize_class_name(name), []).append(name)
    return [names for names in groups.values() if len(names) > 1]


def check_distinct_class_names(class_names: Sequence[str], what: str = "the class names") -> None:
    """Raise ValueError naming every group of duplicates: repeated names and names equal after the cleaning."""
    groups = duplicate_class_names(class_names)
    if not groups:
        return
    parts, cleaned = [], False
    for names in groups:
        spellings = list(dict.fromkeys(names))
        if len(spellings) == 1:
            parts.append(repr(spellings[0]))
        else:
            cleaned = True
            parts.append(" and ".join(repr(name) for name in spellings))
    note = (" (names that are equal once '_' is a space, spaces are collapsed and case is ignored are the same "
            "class: their probability would be split)") if cleaned else ""
    raise ValueError(f"{what} has duplicates: {', '.join(parts)}{note}")


def humanize_class_name(name: str) -> str:
    """Readable words from a dataset class name: "ApplyEyeMakeup" -> "apply eye makeup", "kick_ball" -> "kick ball".

    Opt-in (`class_texts(..., humanize=True)`): the official code uses the names as written in the label CSVs.
    """
    words = _CAMEL_BOUNDARY.sub(" ", name).replace("_", " ")
    return " ".join(words.split()).lower()


def load_descriptions(name: str | Path) -> dict[str, str]:
    """Descriptions of a bundled set ("hmdb51", "ucf101", "k400", "k600", "k600_exclusive", "ssv2") or of a CSV file
    with the T2L columns `Class Name` and `GPT3 discription`, as {class name: description}."""
    if str(name) in DESCRIPTION_SETS:
        path = DESCRIPTIONS_DIR / f"{name}.csv"
    elif Path(name).suffix == ".csv":
        path = Path(name)
    else:
        raise ValueError(
            f"Unknown description set {str(name)!r}: use one of {', '.join(DESCRIPTION_SETS)} or a path to a .csv"
        )
    return dict(_read_descriptions(str(path)))


@lru_cache(maxsize=None)
def _read_descriptions(path: str) -> tuple[tuple[str, str], ...]:
    if not Path(path).is_file():
        raise FileNotFoundError(f"Description file {path!r} does not exist")
    # newline="" lets csv keep the quoted multi-line fields intact.
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in _CSV_COLUMNS if column not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"Description file {path!r} lacks the column(s) {missing}; found {reader.fieldnames}")
        entries: dict[str, str] = {}
        for row in reader:
            line_number = reader.line_num  # physical line: descriptions span several lines
            class_name, text = row["Class Name"], row["GPT3 discription"].replace("\n", "")
            if class_name in entries and entries[class_name] != text:
                raise ValueError(
                    f"Description file {path!r}, row ending on line {line_number}: a second, different "
                    f"description for {class_name!r}"
                )
            if not text.strip():
                raise ValueError(
                    f"Description file {path!r}, row ending on line {line_number}: empty description for {class_name!r}"
                )
            entries[class_name] = text
    return tuple(entries.items())


def class_texts(
    class_names: Sequence[str],
    mode: str = "auto",
    templates: str | Sequence[str] | None = None,
    descriptions: Mapping[str, str] | str | None = None,
    *,
    humanize: bool = False,
) -> ClassTexts:
    """Build the texts of a class vocabulary.

    mode:
        "descriptions": one description per class, by exact class name, from `descriptions` (a dict, or a bundled
            set's name, which is then the only source), or else from the smallest bundled set that has them all
            (failing that, each class from the smallest set that has it); a missing one raises KeyError.
        "templates": each template (default: the 16 ActionCLIP ones) filled with the class name, `_`->space
            (and CamelCase split with `humanize=True`).
        "auto": descriptions when every class has one, otherwise templates for the whole vocabulary with one
            MissingDescriptionWarning that lists the classes without a description.
    """
    if isinstance(class_names, str):
        raise TypeError(f"class_texts expects a list of class names, got the string {class_names!r}")
    class_names = list(class_names)
    if not class_names:
        raise ValueError("class_texts needs at least one class name")
    not_strings = [name for name in class_names if not isinstance(name, str)]
    if not_strings:
        raise TypeError(f"class_texts expects class names as strings, got {not_strings[:5]!r}")
    check_distinct_class_names(class_names)
    if mode not in ("auto", "descriptions", "templates"):
        raise ValueError(f"Unknown class text mode {mode!r}: use 'auto', 'descriptions' or 'templates'")

    if mode != "templates":
        found, source, missing = _resolve_descriptions(class_names, descriptions)
        if not missing:
            return ClassTexts(
                texts=[[found[name] for name in class_names]],
                mode="descriptions",
                description_set=source,
                class_names=tuple(class_names),
            )
        where = f"description set {source!r}" if source else "any bundled description set"
        listing = ", ".join(repr(name) for name in missing)
        if mode == "descriptions":
            raise KeyError(f"{len(missing)} class(es) have no description in {where}: {listing}")
        warnings.warn(
            f"{len(missing)} of {len(class_names)} class(es) have no description in {where}, so all classes use "
            f"templates: {listing}",
            MissingDescriptionWarning,
            stacklevel=2,
        )
    texts = _fill_templates(class_names, templates, humanize)
    return ClassTexts(texts=texts, mode="templates", class_names=tuple(class_names))


def model_class_texts(model, class_names: Sequence[str]) -> ClassTexts | None:
    """The model's own class prompts (`model.class_prompts(class_names)`, one text per class) as `ClassTexts`
    with mode "model", or None when the model's family uses the shared templates and descriptions."""
    class_prompts = getattr(model, "class_prompts", None)
    texts = class_prompts(list(class_names)) if callable(class_prompts) else None
    if texts is None:
        return None
    texts = list(texts)
    if len(texts) != len(class_names) or not all(isinstance(text, str) for text in texts):
        raise ValueError(
            f"{type(model).__name__}.class_prompts must return one text per class ({len(class_names)}), got {len(texts)}"
        )
    return ClassTexts(texts=[texts], mode="model", class_names=tuple(class_names))


def _resolve_descriptions(
    class_names: list[str], descriptions: Mapping[str, str] | str | None
) -> tuple[dict[str, str], str | None, list[str]]:
    """Return (descriptions found, their source, class names without one)."""
    if descriptions is not None:
        if isinstance(descriptions, (str, Path)):
            source, table = str(descriptions), load_descriptions(descriptions)
        else:
            source, table = "custom", dict(descriptions)
        found = {name: table[name] for name in class_names if name in table}
        return found, source, [name for name in class_names if name not in table]

    tables = {name: load_descriptions(name) for name in DESCRIPTION_SETS}
    for set_name, table in tables.items():  # smallest covering set: the dataset's own descriptions
        if all(name in table for name in class_names):
            return {name: table[name] for name in class_names}, set_name, []
    # No single set has them all: take each class from the smallest set that has it.
    found = {}
    for name in class_names:
        set_name = next((set_name for set_name, table in tables.items() if name in table), None)
        if set_name is not None:
            found[name] = tables[set_name][name]
    missing = [name for name in class_names if name not in found]
    return found, "mixed" if not missing else None, missing


def _fill_templates(class_names: list[str], templates: str | Sequence[str] | None, humanize: bool) -> list[list[str]]:
    if templates is None:
        templates = ACTIONCLIP_TEMPLATES
    elif isinstance(templates, str):
        templates = [templates]
    templates = list(templates)
    if not templates:
        raise ValueError("class_texts got an empty list of templates")
    for template in templates:
        if not isinstance(template, str) or template.count("{}") != 1:
            raise ValueError(f"Template {template!r} must contain exactly one '{{}}' placeholder for the class name")
    names = [humanize_class_name(name) if humanize else name.replace("_", " ") for name in class_names]
    # replace, not str.format: a template or class name may contain other braces.
    return [[template.replace("{}", name) for name in names] for template in templates]
