"""The published evaluation protocols as named, frozen objects.

A `Protocol` knows everything a paper table depends on: the label file(s) and split lists (per test split or
seed), the scored vocabulary of each split, frames, views (clips x crops), normalisation, the text used for the
classes, the aggregation over splits, the dataset folder layout and, for HMDB, which label order. Protocol
definitions follow `spec/protocols.md` §1 (the ViFi-CLIP / TC-CLIP lineage) and T2L's own K600 set.

    protocol = get_protocol("zero_shot_hmdb51")
    dataset = protocol.build_dataset("split1", video_root="/data/hmdb51")
    names = protocol.class_names("split1")
    protocol.aggregate({"split1": 52.0, "split2": 53.1, "split3": 51.4})   # mean ± population std

Options are fields: `get_protocol("zero_shot_hmdb51", hmdb_label_order="legacy", num_clips=2)`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping, Sequence

from ..zero_shot import prompts
from .aggregation import aggregate_base_to_novel, aggregate_splits
from .builder import build_video_dataset
from .lists import SplitEntry, bundled_file, check_labels, read_labels, read_llm_labels, read_split_list, relabel_subset

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

LAYOUTS = {
    "hmdb51": "HMDB-51 .avi files, flat (`<root>/<video>.avi`) or in class folders (`<root>/brush_hair/<video>.avi`), "
    "or frame folders of the same names",
    "ucf101": "UCF-101 .avi files in class folders (`<root>/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi`, the "
    "official archive) or flat, or frame folders of the same names",
    "kinetics": "Kinetics clips `<youtube_id>_<start6>_<end6>.mp4` (any video extension) under the CVDF folders "
    "`<root>/train|val|test/`, in class sub-folders, or directly under the root; `<youtube_id>.mp4` also matches",
    "ssv2": "Something-Something v2 `<root>/<id>.webm` (the official `20bn-something-something-v2/` folder)",
}

# Class texts: T2L's GPT descriptions by default (the released configs set use_llm: True).
TextMode = Literal["descriptions", "templates", "llm_labels"]


@dataclass(frozen=True)
class SplitSpec:
    """One list of videos and the closed vocabulary it is scored against.

    `list_file` / `label_file` are paths inside `modeling_t2l/data/files/`. `list_file=None` means the list is
    not redistributable and comes from the protocol's `train_list` option. `derived_from=(list, labels)` builds
    the list at load time by keeping the videos of `label_file`'s classes from a bigger list and relabelling them.
    """

    name: str
    role: Literal["train", "eval"]
    label_file: str
    list_file: str | None = None
    derived_from: tuple[str, str] | None = None
    descriptions: str | None = None  # bundled description set (modeling_t2l.zero_shot.prompts.load_descriptions)
    llm_labels_file: str | None = None  # path inside a user-supplied llm_labels/ directory
    scored: bool = True  # eval splits that enter the protocol's aggregate
    note: str = ""
    dataset: str | None = None  # whose videos, when not the protocol's own (K400 training of zero-shot protocols)


@dataclass(frozen=True)
class Protocol:
    name: str
    task: Literal["zero_shot", "base_to_novel", "few_shot", "fully_supervised"]
    dataset: str
    summary: str
    splits: tuple[SplitSpec, ...]
    aggregation: Literal["mean_std", "harmonic_mean_of_means", "single"]
    layout: str
    num_frames: int = 8
    num_clips: int = 1
    num_crops: int = 1
    # "uniform": evenly spaced clips (segment centres for one clip); "random": each clip an independent random TSN
    # draw, seeded per video from `clip_seed` (the TC-CLIP / ViFi-CLIP multi-view test)
    clip_sampling: Literal["uniform", "random"] = "uniform"
    clip_seed: int = 0
    image_mean: tuple[float, float, float] = CLIP_MEAN
    image_std: tuple[float, float, float] = CLIP_STD
    text_mode: TextMode = "descriptions"
    hmdb_label_order: Literal["fixed", "legacy"] | None = None
    train_list: str | None = None  # user-supplied training list (K400 train, the full base split)
    llm_labels: str | None = None  # user-supplied directory with FROSTER/TC-CLIP llm_labels (not bundled: NC licence)
    seeds: tuple[str, ...] = ()  # base-to-novel: the train splits that each give one (base, novel) result
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if self.hmdb_label_order not in ((None,) if self.dataset != "hmdb51" else ("fixed", "legacy")):
            raise ValueError(f"{self.name}: hmdb_label_order must be 'fixed' or 'legacy' for HMDB, None otherwise")
        if self.text_mode not in ("descriptions", "templates", "llm_labels"):
            raise ValueError(f"{self.name}: unknown text_mode {self.text_mode!r}")
        if self.text_mode == "llm_labels" and self.hmdb_label_order == "legacy":
            raise ValueError(f"{self.name}: the LLM label files are in the corrected HMDB order; use hmdb_label_order='fixed'")
        if self.clip_sampling not in ("uniform", "random"):
            raise ValueError(f"{self.name}: clip_sampling must be 'uniform' or 'random', got {self.clip_sampling!r}")
        if self.num_frames < 1 or self.num_clips < 1 or self.num_crops not in (1, 3):
            raise ValueError(f"{self.name}: need num_frames >= 1, num_clips >= 1 and num_crops 1 or 3")

    # ----------------------------------------------------------------------------------------------- splits
    @property
    def views(self) -> int:
        return self.num_clips * self.num_crops

    @property
    def split_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.splits)

    @property
    def eval_splits(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.splits if spec.role == "eval")

    @property
    def scored_splits(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.splits if spec.role == "eval" and spec.scored)

    @property
    def train_splits(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.splits if spec.role == "train")

    def splits_of(self, dataset: str | None = None) -> tuple[str, ...]:
        """The splits whose videos are in `dataset` (default: the protocol's own), i.e. under one video root."""
        dataset = dataset or self.dataset
        return tuple(spec.name for spec in self.splits if (spec.dataset or self.dataset) == dataset)

    def split(self, name: str) -> SplitSpec:
        for spec in self.splits:
            if spec.name == name:
                return spec
        raise KeyError(f"protocol {self.name!r} has no split {name!r}; splits: {list(self.split_names)}")

    def label_file(self, split: str) -> Path:
        relative = self.split(split).label_file
        if self.hmdb_label_order == "legacy":
            relative = relative.replace("_fixed.csv", ".csv")
        return bundled_file(relative)

    def class_names(self, split: str) -> list[str]:
        """The scored vocabulary of a split, in label-id order."""
        return read_labels(self.label_file(split))

    def entries(self, split: str) -> list[SplitEntry]:
        """The (video name, label id) pairs of a split; label ids index `class_names(split)`."""
        spec = self.split(split)
        names = self.class_names(split)
        if spec.derived_from is not None:
            list_file, full_label_file = spec.derived_from
            entries = relabel_subset(read_split_list(bundled_file(list_file)), read_labels(bundled_file(full_label_file)), names)
            source = f"{list_file} (restricted to {spec.label_file})"
        elif spec.list_file is not None:
            entries = read_split_list(bundled_file(spec.list_file))
            source = spec.list_file
        else:
            if self.train_list is None:
                raise ValueError(
                    f"protocol {self.name!r}, split {split!r}: this list is not redistributable ({spec.note or 'not bundled'}); "
                    f"pass your own with get_protocol({self.name!r}, train_list='path/to/list.txt')"
                )
            entries = read_split_list(self.train_list)
            source = self.train_list
        check_labels(entries, len(names), source)
        return entries

    def build_dataset(self, split: str, video_root, **kwargs):
        """`build_video_dataset` for one split of this protocol (see `modeling_t2l.data.builder`)."""
        kwargs.setdefault("source", f"{self.name}/{split}")
        return build_video_dataset(self.entries(split), self.class_names(split), video_root, **kwargs)

    # ------------------------------------------------------------------------------------------------- text
    def class_texts(self, split: str, templates: Sequence[str] | None = None):
        """The class texts for a split according to `text_mode` (a `modeling_t2l.zero_shot.prompts.ClassTexts`)."""
        spec = self.split(split)
        names = self.class_names(split)
        if self.text_mode == "templates":
            return prompts.class_texts(names, mode="templates", templates=templates)
        if self.text_mode == "llm_labels":
            if self.llm_labels is None or spec.llm_labels_file is None:
                raise ValueError(
                    f"protocol {self.name!r}, split {split!r}: text_mode='llm_labels' needs llm_labels=<directory> "
                    f"holding {spec.llm_labels_file or 'a label file (none is known for this split)'}"
                )
            texts = read_llm_labels(Path(self.llm_labels) / spec.llm_labels_file, len(names))
            return prompts.class_texts(names, mode="descriptions", descriptions=dict(zip(names, texts)))
        if spec.descriptions is None:
            raise ValueError(f"protocol {self.name!r}, split {split!r}: no bundled descriptions; use text_mode='templates'")
        return prompts.class_texts(names, mode="descriptions", descriptions=prompts.load_descriptions(spec.descriptions))

    # ------------------------------------------------------------------------------------------ aggregation
    def aggregate(self, results: Mapping) -> dict:
        """Paper-table numbers from per-split accuracies.

        mean_std / single: `{"split1": acc, ...}` over `scored_splits`.
        harmonic_mean_of_means: `{"train_seed1": {"base": acc, "novel": acc}, ...}` over `seeds`.
        """
        if self.aggregation == "harmonic_mean_of_means":
            return aggregate_base_to_novel(results, self.seeds)
        summary = aggregate_splits(results, self.scored_splits)
        if self.aggregation == "single":
            (only,) = self.scored_splits
            return {"top1": summary["per_split"][only], "per_split": summary["per_split"]}
        return summary

    def describe(self) -> dict:
        """The protocol knobs, for results files and model cards."""
        return {
            "protocol": self.name,
            "task": self.task,
            "dataset": self.dataset,
            "num_frames": self.num_frames,
            "views": f"{self.num_clips}x{self.num_crops}",
            "clip_sampling": self.clip_sampling,
            "clip_seed": self.clip_seed if self.clip_sampling == "random" else None,
            "normalisation": "clip" if (self.image_mean, self.image_std) == (CLIP_MEAN, CLIP_STD) else "custom",
            "text_mode": self.text_mode,
            "aggregation": self.aggregation,
            "hmdb_label_order": self.hmdb_label_order,
            "scored_splits": list(self.scored_splits),
        }


# =================================================================================================== registry
_K400_LABELS = "labels/kinetics_400_labels.csv"
_K400_TRAIN_NOTE = "the K400 train list is over 4 MiB and absent from every upstream snapshot"


def _k400_train(name: str = "train") -> SplitSpec:
    return SplitSpec(name, "train", _K400_LABELS, descriptions="k400",
                     llm_labels_file="froster/k400_rephrased_classes.json", note=_K400_TRAIN_NOTE, dataset="k400")


def _k400_val(scored: bool) -> SplitSpec:
    return SplitSpec("k400_val", "eval", _K400_LABELS, list_file="fully_supervised/k400/val.txt", descriptions="k400",
                     llm_labels_file="froster/k400_rephrased_classes.json", scored=scored, dataset="k400")


def _zero_shot() -> list[Protocol]:
    protocols = []
    for dataset, label_file, descriptions, llm_file, title in (
        ("hmdb51", "labels/hmdb_51_labels_fixed.csv", "hmdb51", "froster/hmdb_rephrased_classes.json", "HMDB-51"),
        ("ucf101", "labels/ucf_101_labels.csv", "ucf101", "froster/ucf101_rephrased_classes.json", "UCF-101"),
    ):
        test_splits = tuple(
            SplitSpec(f"split{i}", "eval", label_file, list_file=f"zero_shot/{dataset}/val{i}.txt",
                      descriptions=descriptions, llm_labels_file=llm_file)
            for i in (1, 2, 3)
        )
        protocols.append(Protocol(
            name=f"zero_shot_{dataset}", task="zero_shot", dataset=dataset,
            summary=f"train on K400, test on the 3 official {title} test splits with the full vocabulary; mean ± std",
            splits=(_k400_train(), _k400_val(scored=False), *test_splits), aggregation="mean_std",
            layout=LAYOUTS[dataset], hmdb_label_order="fixed" if dataset == "hmdb51" else None,
        ))
    k600_splits = tuple(
        SplitSpec(f"split{i}", "eval", f"zero_shot/k600/ZS_split{i}_K600.csv",
                  list_file=f"zero_shot/k600/ZS_split{i}_K600_eval.txt", descriptions="k600",
                  llm_labels_file=f"froster/k600_split{i}_rephrased_classes.json")
        for i in (1, 2, 3)
    )
    protocols.append(Protocol(
        name="zero_shot_k600", task="zero_shot", dataset="k600",
        summary="train on K400, test on ER-ZSAR's 3 K600 splits of 160 novel classes each (160-way); mean ± std",
        splits=(_k400_train(), _k400_val(scored=False), *k600_splits), aggregation="mean_std", layout=LAYOUTS["kinetics"],
    ))
    protocols.append(Protocol(
        name="t2l_k600_exclusive", task="zero_shot", dataset="k600",
        summary="T2L's own K600 set: 232 classes (K600 minus K400 names by string), one 232-way evaluation of "
        "11,462 videos; not comparable with zero_shot_k600",
        splits=(_k400_train(), _k400_val(scored=False),
                SplitSpec("test", "eval", "t2l_protocol/kinetics_600_labels_exclusive.csv",
                          list_file="t2l_protocol/k600_exclusive_test.txt", descriptions="k600_exclusive")),
        aggregation="single", layout=LAYOUTS["kinetics"],
        notes=("12 of the 232 classes are K400 classes renamed in K600, so they are not truly novel",
               "T2L's K600 test config sets 16 segments, which cannot load its 8-frame checkpoint; 8 is used here"),
    ))
    return protocols


_BASE_TO_NOVEL = {
    # dataset: (base label CSV, novel label CSV, description set, LLM label file pattern, layout key)
    "k400": ("kinetics_400_base_labels.csv", "kinetics_400_novel_labels.csv", "k400",
             "tc_clip_base_novel/kinetics_400_{}_llm_labels.json", "kinetics"),
    "hmdb51": ("hmdb_51_base_labels_fixed.csv", "hmdb_51_novel_labels_fixed.csv", "hmdb51",
               "tc_clip_base_novel/hmdb_51_{}_llm_labels.json", "hmdb51"),
    "ucf101": ("ucf_101_base_labels.csv", "ucf_101_novel_labels.csv", "ucf101",
               "tc_clip_base_novel/ucf_101_{}_llm_labels.json", "ucf101"),
    "ssv2": ("ssv2_174_base_labels.csv", "ssv2_174_novel_labels.csv", "ssv2", None, "ssv2"),
}


def _base_to_novel() -> list[Protocol]:
    protocols = []
    for dataset, (base_csv, novel_csv, descriptions, llm_pattern, layout) in _BASE_TO_NOVEL.items():
        folder = f"base2novel/{dataset}"
        base_labels, novel_labels = f"{folder}/{base_csv}", f"{folder}/{novel_csv}"
        llm = (lambda half: llm_pattern.format(half)) if llm_pattern else (lambda half: None)
        seeds = tuple(
            SplitSpec(f"train_seed{s}", "train", base_labels, list_file=f"{folder}/fs_base_s{s}_train.txt",
                      descriptions=descriptions, llm_labels_file=llm("base"))
            for s in (1, 2, 3)
        )
        full_base = SplitSpec("train_full", "train", base_labels, descriptions=descriptions, llm_labels_file=llm("base"),
                              note="the full base-class training split is not bundled")
        if dataset == "k400":  # the upstream val lists are exactly K400 val split by class: derive them
            evals = tuple(
                SplitSpec(half, "eval", labels, derived_from=("fully_supervised/k400/val.txt", _K400_LABELS),
                          descriptions=descriptions, llm_labels_file=llm(half))
                for half, labels in (("base", base_labels), ("novel", novel_labels))
            )
        else:
            evals = tuple(
                SplitSpec(half, "eval", labels, list_file=f"{folder}/{half}_val.txt", descriptions=descriptions,
                          llm_labels_file=llm(half))
                for half, labels in (("base", base_labels), ("novel", novel_labels))
            )
        protocols.append(Protocol(
            name=f"base_to_novel_{dataset}", task="base_to_novel", dataset=dataset,
            summary="train 16 shots per base class (3 seeds); base and novel accuracy each closed-set on its own "
            "half; HM of the seed-averaged base and novel accuracies",
            splits=(*seeds, full_base, *evals), aggregation="harmonic_mean_of_means", layout=LAYOUTS[layout],
            hmdb_label_order="fixed" if dataset == "hmdb51" else None, seeds=tuple(s.name for s in seeds),
        ))
    return protocols


def _few_shot() -> list[Protocol]:
    protocols = []
    for dataset, label_file, test_list, descriptions, llm_file in (
        ("hmdb51", "labels/hmdb_51_labels_fixed.csv", "zero_shot/hmdb51/val1.txt", "hmdb51", "froster/hmdb_rephrased_classes.json"),
        ("ucf101", "labels/ucf_101_labels.csv", "zero_shot/ucf101/val1.txt", "ucf101", "froster/ucf101_rephrased_classes.json"),
        ("ssv2", "labels/ssv2_labels.csv", "few_shot/ssv2/validation.txt", "ssv2", None),
    ):
        for shots in (2, 4, 8, 16):
            protocols.append(Protocol(
                name=f"few_shot_{dataset}_k{shots}", task="few_shot", dataset=dataset,
                summary=f"{shots} training videos per class (one fixed draw), all classes; top-1 on "
                + ("the SSv2 validation set" if dataset == "ssv2" else "test split 1"),
                splits=(
                    SplitSpec("train", "train", label_file, list_file=f"few_shot/{dataset}/train1_few_shot_{shots}.txt",
                              descriptions=descriptions, llm_labels_file=llm_file),
                    SplitSpec("test", "eval", label_file, list_file=test_list, descriptions=descriptions,
                              llm_labels_file=llm_file),
                ),
                aggregation="single", layout=LAYOUTS[dataset],
                hmdb_label_order="fixed" if dataset == "hmdb51" else None,
            ))
    return protocols


def _fully_supervised() -> list[Protocol]:
    return [Protocol(
        name="fully_supervised_k400", task="fully_supervised", dataset="k400",
        summary="train on the K400 train list (user-supplied), top-1 on K400 val (19,877 videos, 400 classes)",
        splits=(_k400_train(), SplitSpec("test", "eval", _K400_LABELS, list_file="fully_supervised/k400/val.txt",
                                         descriptions="k400", llm_labels_file="froster/k400_rephrased_classes.json")),
        aggregation="single", layout=LAYOUTS["kinetics"],
        notes=("X-CLIP / ViFi-CLIP / TC-CLIP test with 4 clips x 3 crops: get_protocol(..., num_clips=4, num_crops=3)",),
    )]


_REGISTRY: dict[str, Protocol] = {p.name: p for p in (*_zero_shot(), *_base_to_novel(), *_few_shot(), *_fully_supervised())}


def list_protocols() -> list[str]:
    return sorted(_REGISTRY)


def get_protocol(name: str, **options) -> Protocol:
    """A registered protocol, with options (`hmdb_label_order`, `num_frames`, `num_clips`, `num_crops`,
    `clip_sampling`, `clip_seed`, `text_mode`, `train_list`, `llm_labels`, `image_mean`, `image_std`) replaced."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown protocol {name!r}; known: {', '.join(list_protocols())}")
    protocol = _REGISTRY[name]
    fixed = {"name", "task", "dataset", "splits", "aggregation", "seeds", "summary", "layout"}
    bad = sorted(set(options) & fixed) + sorted(set(options) - {f.name for f in dataclasses.fields(Protocol)})
    if bad:
        raise TypeError(f"get_protocol({name!r}): {bad} cannot be set; options are fields of Protocol other than {sorted(fixed)}")
    for key in ("train_list", "llm_labels"):
        if options.get(key) is not None:
            options[key] = str(Path(options[key]).expanduser())
    return dataclasses.replace(protocol, **options) if options else protocol


def custom_protocol(spec: Mapping, num_frames: int = 8, text_mode: str = "templates", *, train: bool = True) -> Protocol:
    """A protocol for your own videos: `{name, labels: <csv>, train: <list>, eval: {<split>: <list>, ...}}`.

    Lists use the usual formats (`<video> <label>` lines, label CSV `id,name`). For training (`train=True`) the train
    list is required and the eval splits are unscored, i.e. usable as validation data; for evaluation
    (`train=False`) only eval splits are needed and every one is scored. Class texts default to the ActionCLIP
    templates (no bundled descriptions).
    """
    required = ("name", "labels", "train") if train else ("name", "labels", "eval")
    missing = [key for key in required if not spec.get(key)]
    if missing:
        raise ValueError(f"custom protocol needs {missing} (got keys {sorted(spec)})")
    labels = str(Path(spec["labels"]).expanduser().resolve())
    splits = []
    if spec.get("train"):
        splits.append(SplitSpec("train", "train", labels, list_file=str(Path(spec["train"]).expanduser().resolve())))
    for name, list_file in (spec.get("eval") or {}).items():
        list_file = str(Path(list_file).expanduser().resolve())
        splits.append(SplitSpec(name, "eval", labels, list_file=list_file, scored=not train))
    return Protocol(name=spec["name"], task="fully_supervised", dataset=spec["name"], summary="custom protocol",
                    splits=tuple(splits), aggregation="mean_std", layout="any", num_frames=num_frames,
                    text_mode=text_mode)

