"""Evaluation on tiny protocols whose answers are known in advance.

The videos are flat grey frame folders; `KnownAnswerModel` reads the grey level back from the normalised pixels
and predicts class `round(level / 40) + shift`, with one-hot text features, so every top-1 / top-5 / aggregate
below is computed by hand. Real decoding, the data layer's eval transform and collator, the shipped `evaluate`
metric and the report writers all run for real; only the network is replaced.
"""
import json
import math

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from torch import nn

from modeling_t2l.data import Protocol, SplitSpec
from modeling_t2l.evaluation.evaluate import (
    aggregate,
    evaluate_protocol,
    evaluate_videos,
    markdown_table,
    write_reports,
)
from modeling_t2l.modeling_utils import ZeroShotVideoModelMixin
from modeling_t2l.processing.processing_t2l import T2LProcessor
from modeling_t2l.zero_shot.classifier import build_zero_shot_classifier
from transformers.modeling_outputs import BaseModelOutputWithPooling

NUM_FRAMES = 4
CLASSES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
LEVEL_STEP = 40  # grey level of a video predicted as class k (shift 0): 40 * k


class KnownAnswerModel(ZeroShotVideoModelMixin, nn.Module):
    """Predicts class round(grey level / 40) + shift; text features are one-hot by class."""

    def __init__(self, processor, num_classes=len(CLASSES), shift=0):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))
        self.config = type("Config", (), {"eval_logit_scale": 100.0, "num_frames": NUM_FRAMES})()
        self.num_classes = num_classes
        self.shift = shift
        self.mean = float(processor.image_processor.image_mean[0])
        self.std = float(processor.image_processor.image_std[0])
        self.text_calls = 0

    def get_video_features(self, pixel_values):
        red = pixel_values[:, :, 0].mean(dim=(1, 2, 3))  # (B,)
        level = (red * self.std + self.mean) * 255
        predicted = (torch.round(level / LEVEL_STEP).long() + self.shift) % self.num_classes
        return BaseModelOutputWithPooling(pooler_output=nn.functional.one_hot(predicted, self.num_classes + 2).float())

    def get_text_features(self, input_ids, attention_mask=None, video_outputs=None):
        self.text_calls += 1
        rows = torch.arange(input_ids.shape[0]) % self.num_classes  # template-major rows: row = t * K + k
        return BaseModelOutputWithPooling(pooler_output=nn.functional.one_hot(rows, self.num_classes + 2).float())


def _grey_video(folder, level):
    folder.mkdir(parents=True)
    frame = Image.fromarray(np.full((40, 48, 3), level, dtype=np.uint8))
    for index in range(1, 7):
        frame.save(folder / f"img_{index:05d}.jpg", quality=100)
    return folder


def _write_split(root, name, labels, predictions, num_classes=len(CLASSES)):
    """Videos `<name>_<i>` with the given labels whose grey level makes the model predict `predictions`."""
    lines = []
    for i, (label, predicted) in enumerate(zip(labels, predictions)):
        _grey_video(root / "videos" / f"{name}_{i}", LEVEL_STEP * predicted)
        lines.append(f"{name}_{i} {label}")
    (root / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return str(root / f"{name}.txt")


def _labels_csv(root, name, classes):
    path = root / f"{name}.csv"
    path.write_text("id,name\n" + "".join(f"{i},{c}\n" for i, c in enumerate(classes)))
    return str(path)


@pytest.fixture(scope="module")
def processor():
    return T2LProcessor.from_clip_tokenizer(num_frames=NUM_FRAMES, crop_size=32, shortest_edge=36)


# (labels, predictions) per split; top-5 with one-hot scores = the prediction plus the 4 lowest other ids.
SPLITS = {
    "split1": ([0, 1, 2, 3, 4, 5, 0, 1], [0, 1, 2, 3, 5, 5, 1, 1]),  # top-1 6/8; top-5 misses (4 -> 5): 7/8
    "split2": ([0, 1, 2, 3, 4], [0, 0, 0, 0, 0]),  # top-1 1/5; top-5 = {0,1,2,3,4}: all hit
    "split3": ([5, 5, 5], [5, 4, 3]),  # top-1 1/3; top-5 of pred 4 = {4,0,1,2,3}: miss; pred 3: miss -> 1/3
}
EXPECTED = {"split1": (75.0, 87.5), "split2": (20.0, 100.0), "split3": (100 / 3, 100 / 3)}


@pytest.fixture(scope="module")
def zero_shot_protocol(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_zero_shot")
    labels = _labels_csv(root, "labels", CLASSES)
    splits = tuple(
        SplitSpec(name, "eval", labels, list_file=_write_split(root, name, *SPLITS[name])) for name in SPLITS
    )
    protocol = Protocol(name="tiny_zero_shot", task="zero_shot", dataset="tiny", summary="known answers",
                        splits=splits, aggregation="mean_std", layout="frame folders", num_frames=NUM_FRAMES,
                        text_mode="templates")
    return protocol, root / "videos"


def test_protocol_gives_the_known_accuracies_and_aggregate(zero_shot_protocol, processor):
    protocol, data_root = zero_shot_protocol
    model = KnownAnswerModel(processor)
    results = evaluate_protocol(model, processor, protocol, data_root, batch_size=3, progress=False)
    for name, (top1, top5) in EXPECTED.items():
        result = results["splits"][name]
        assert result.num_videos == len(SPLITS[name][0])  # the partial last batch is kept
        assert result.skipped_videos == 0
        assert result.top1 == pytest.approx(top1, abs=1e-9)
        assert result.top5 == pytest.approx(top5, abs=1e-9)
    values = [EXPECTED[name][0] for name in SPLITS]
    mean = sum(values) / 3
    population_std = math.sqrt(sum((v - mean) ** 2 for v in values) / 3)
    assert results["aggregate"]["mean"] == pytest.approx(mean)
    assert results["aggregate"]["std"] == pytest.approx(population_std)
    # The 16 ActionCLIP templates x 6 classes are encoded once per split, in one batch of texts.
    assert model.text_calls == 3
    # Confusion matrix of split1: rows are true classes.
    confusion = np.array(results["splits"]["split1"].confusion)
    assert confusion.sum() == 8 and confusion[4, 5] == 1 and confusion[0, 1] == 1 and np.trace(confusion) == 6


def test_reports_are_written(zero_shot_protocol, processor, tmp_path):
    protocol, data_root = zero_shot_protocol
    results = evaluate_protocol(KnownAnswerModel(processor), processor, protocol, data_root, splits=["split1"],
                                progress=False)
    assert results["aggregate"]["partial"] is True
    paths = write_reports(results, tmp_path / "report")
    data = json.loads(paths["json"].read_text())
    assert data["splits"]["split1"]["top1"] == 75.0 and data["skipped_videos"] == 0
    assert "| split1 | 8 | 0 | 6 | 75.00 | 87.50 |" in paths["markdown"].read_text()
    with Image.open(paths["confusion_split1"]) as image:
        assert image.format == "PNG" and image.size[0] > 50


def test_undecodable_video_is_skipped_and_counted(tmp_path, processor):
    good = _grey_video(tmp_path / "good", 80)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    result = evaluate_videos(KnownAnswerModel(processor), processor, [good, broken], [2, 0], CLASSES,
                             progress=False)
    assert result.num_videos == 1 and result.skipped_videos == 1 and result.top1 == 100.0
    assert "broken.mp4" in result.skipped_examples[0]["path"]


def test_multi_view_evaluation_keeps_one_row_per_video(tmp_path, processor):
    videos = [_grey_video(tmp_path / f"g{level}", level) for level in (0, 80, 160)]
    result = evaluate_videos(KnownAnswerModel(processor), processor, videos, [0, 2, 1], CLASSES,
                             num_clips=2, num_crops=3, progress=False)
    assert result.num_videos == 3 and result.top1 == pytest.approx(200 / 3)
    assert np.array(result.confusion)[1, 4] == 1


def test_base_to_novel_three_seeds_harmonic_mean_of_means(tmp_path, processor):
    base_classes, novel_classes = CLASSES[:3], CLASSES[3:]
    base = _labels_csv(tmp_path, "base", base_classes)
    novel = _labels_csv(tmp_path, "novel", novel_classes)
    splits = (
        SplitSpec("train_seed1", "train", base, list_file=_write_split(tmp_path, "tr", [0], [0], 3)),
        SplitSpec("base", "eval", base, list_file=_write_split(tmp_path, "base_val", [0, 1, 2], [0, 1, 2], 3)),
        SplitSpec("novel", "eval", novel, list_file=_write_split(tmp_path, "novel_val", [0, 1, 2, 0], [0, 1, 2, 0], 3)),
    )
    protocol = Protocol(name="tiny_b2n", task="base_to_novel", dataset="tiny", summary="", splits=splits,
                        aggregation="harmonic_mean_of_means", layout="", num_frames=NUM_FRAMES,
                        text_mode="templates", seeds=("s1", "s2", "s3"))
    # shift 0: all right (100/100); shift 1: all wrong (0/0); shift 3 == 0 mod 3: all right.
    models = {f"s{i}": KnownAnswerModel(processor, num_classes=3, shift=shift) for i, shift in ((1, 0), (2, 1), (3, 3))}
    results = evaluate_protocol(models, processor, protocol, tmp_path / "videos", progress=False)
    summary = results["aggregate"]
    assert results["splits"]["s2/base"].top1 == 0.0 and results["splits"]["s1/novel"].top1 == 100.0
    assert summary["base"] == pytest.approx(200 / 3) and summary["novel"] == pytest.approx(200 / 3)
    assert summary["hm"] == pytest.approx(200 / 3)
    assert summary["base_std"] == pytest.approx(math.sqrt(((100 - 200 / 3) ** 2 * 2 + (200 / 3) ** 2) / 3))
    assert "Base 66.67 / Novel 66.67 / HM 66.67" in markdown_table(results)
    # one model: its own base/novel/HM
    single = aggregate(protocol, {"base": 80.0, "novel": 40.0})
    assert single == {"base": 80.0, "novel": 40.0, "hm": pytest.approx(2 * 80 * 40 / 120), "single_seed": True}


def test_views_and_templates_are_averaged(processor):
    torch.manual_seed(0)
    model = KnownAnswerModel(processor, num_classes=3)
    classifier = build_zero_shot_classifier(
        model, lambda texts: processor(text=texts, return_tensors="pt"), [["a", "b", "c"], ["x", "y", "z"]]
    )
    assert classifier.text_embeds.shape == (2, 3, 5)
    pixel_values = torch.randn(2, 3, NUM_FRAMES, 3, 8, 8)  # 2 videos x 3 views
    probabilities = classifier(model, pixel_values)
    per_view = classifier(model, pixel_values.flatten(0, 1)).view(2, 3, 3)
    torch.testing.assert_close(probabilities, per_view.mean(dim=1))
    torch.testing.assert_close(probabilities.sum(-1), torch.ones(2))


def test_evaluate_command_end_to_end(zero_shot_protocol, processor, tmp_path, monkeypatch, capsys):
    """`t2l evaluate` (what scripts/evaluate.py runs) with the known-answer model and protocol patched in."""
    from modeling_t2l import data
    from modeling_t2l.cli import main
    from modeling_t2l.commands import evaluate as command

    protocol, data_root = zero_shot_protocol
    monkeypatch.setattr(data, "get_protocol", lambda name, **options: protocol)
    monkeypatch.setattr(command, "load_model_and_processor",
                        lambda path, device, dtype: (KnownAnswerModel(processor), processor))
    code = main(["evaluate", "--model", "unused", "--protocol", "tiny_zero_shot", "--data-root", str(data_root),
                 "--output-dir", str(tmp_path / "out"), "--num-workers", "0", "--batch-size", "4"])
    assert code == 0
    data_out = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {k: round(v["top1"], 4) for k, v in data_out["splits"].items()} == {
        "split1": 75.0, "split2": 20.0, "split3": round(100 / 3, 4)}
    assert data_out["aggregate"]["mean"] == pytest.approx((75 + 20 + 100 / 3) / 3)
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == [f"confusion_{s}.png" for s in SPLITS]
    assert "mean ± population std over 3 splits" in capsys.readouterr().out


def test_metric_module_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from modeling_t2l.metrics import load_topk_accuracy

    metric = load_topk_accuracy()
    scores = [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1]]
    assert metric.compute(predictions=scores, references=[1, 0]) == {"top1": 0.5, "top5": 0.5}


def _evaluate_command(arguments, processor, tmp_path, monkeypatch):
    from modeling_t2l.cli import main
    from modeling_t2l.commands import evaluate as command

    monkeypatch.setattr(command, "load_model_and_processor",
                        lambda path, device, dtype: (KnownAnswerModel(processor), processor))
    out = tmp_path / "out"
    code = main(["evaluate", "--model", "unused", *arguments, "--output-dir", str(out), "--num-workers", "0"])
    assert code == 0
    return {k: round(v["top1"], 4) for k, v in json.loads((out / "results.json").read_text())["splits"].items()}


def test_evaluate_command_on_your_own_label_and_list_files(zero_shot_protocol, processor, tmp_path, monkeypatch):
    """--labels + --eval-list: the same known answers as the registered protocol, without registering one."""
    protocol, data_root = zero_shot_protocol
    root = data_root.parent
    top1 = _evaluate_command(["--labels", str(root / "labels.csv"), "--eval-list", f"first={root / 'split1.txt'}",
                              "--eval-list", str(root / "split3.txt"), "--data-root", str(data_root)],
                             processor, tmp_path, monkeypatch)
    assert top1 == {"first": 75.0, "split3": round(100 / 3, 4)}


def test_evaluate_command_on_a_training_recipes_own_data(zero_shot_protocol, processor, tmp_path, monkeypatch):
    """--recipe: what `t2l train` trained on (a custom protocol mapping) is evaluated on that recipe's eval lists."""
    protocol, data_root = zero_shot_protocol
    root = data_root.parent
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "data": {"protocol": {"name": "mine", "labels": str(root / "labels.csv"), "train": str(root / "split1.txt"),
                              "eval": {"val": str(root / "split2.txt")}}, "data_root": str(data_root)},
        "training": {"output_dir": str(tmp_path / "run")},
    }))
    top1 = _evaluate_command(["--recipe", str(recipe), "--data-root", str(data_root)], processor, tmp_path, monkeypatch)
    assert top1 == {"val": 20.0}
