"""The benchmark harness on tiny configurations: rows present, ratios finite, the fresh-process memory probe works.

Timings are never asserted (the machine is shared); what is checked is what the numbers are computed from.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from modeling_t2l import benchmarking as bm
from modeling_t2l.models.registry import families
from modeling_t2l.cli import main
from modeling_t2l.plotting import COLOURS, bar_chart, confusion_matrix_png


@pytest.fixture(scope="module")
def tiny():
    return bm.BenchmarkSettings.tiny()


# -- the timing harness ------------------------------------------------------------------------------------------


def test_measure_interleaved_warms_up_then_rotates_the_order():
    calls = []
    functions = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    timings = bm.measure_interleaved(functions, warmup=2, repeats=3, skip_warmup=["c"])
    # warm-up: a, a, b, b (c was already warm); then rounds starting at a, b, c in turn
    assert calls == ["a", "a", "b", "b"] + list("abc") + list("bca") + list("cab")
    assert all(len(timings[name].samples) == 3 for name in "abc")
    assert all(t >= 0 for timing in timings.values() for t in timing.samples)


def test_timing_median_and_spread():
    timing = bm.Timing([5.0, 1.0, 3.0, 2.0, 4.0])
    assert timing.median == 3.0
    assert timing.spread == pytest.approx(1.0)  # quartiles 2 and 4
    assert bm.Timing([7.0]).spread == 0.0


def test_flop_counter_convention_is_two_flops_per_multiply_add():
    layer = torch.nn.Linear(16, 8, bias=False)
    with torch.inference_mode():
        flops = bm.count_flops(lambda: layer(torch.randn(4, 16)), inference_of=layer)
    assert flops == 2 * 4 * 16 * 8
    assert layer.weight.requires_grad  # restored after the count


# -- the sections, on tiny models --------------------------------------------------------------------------------


def test_inference_and_text_rows_on_a_tiny_config(tiny, tmp_path):
    settings = bm.BenchmarkSettings.tiny(sections=("inference", "text"))
    report = bm.run_benchmark(settings, tmp_path, report_row=lambda row: None)

    # every registered family (at its released frame count too, when that differs), then the two baselines
    names = {bm.family_name(family.name) for family in families().values()} | {bm.CLIP_NAME, bm.XCLIP_NAME}
    names |= {bm.family_name(family.name, family.processor_defaults["num_frames"]) for family in families().values()
              if family.processor_defaults["num_frames"] != settings.num_frames}
    assert {"T2L", "TC-CLIP"} <= {family.name for family in families().values()}
    assert bm.family_name("TC-CLIP", 16) in names  # TC-CLIP's checkpoints take 16 frames
    assert {(row.model, row.batch_size) for row in report.inference} == {(n, b) for n in names for b in (1, 2)}
    assert any(r.name.startswith("inference time T2L / TC-CLIP") for r in report.ratios)
    rows = {row.model: row for row in report.inference if row.batch_size == 1}
    for row in report.inference:
        assert row.median_s > 0 and math.isfinite(row.videos_per_s) and row.gflops_per_video > 0

    # Parameters: T2L trains exactly its temporal tokens and adapters; ViFi-CLIP trains all of CLIP.
    t2l = bm.build_t2l(settings)
    expected = sum(p.numel() for n, p in t2l.named_parameters() if n in set(t2l.trainable_parameter_names()))
    assert rows[bm.T2L_NAME].params_trainable == expected
    assert rows[bm.T2L_NAME].params_total == sum(p.numel() for p in t2l.parameters())
    assert rows[bm.CLIP_NAME].params_trainable == rows[bm.CLIP_NAME].params_total
    assert rows[bm.XCLIP_NAME].params_trainable < rows[bm.XCLIP_NAME].params_total  # text encoder frozen
    # T2L = the same CLIP frames + adapters + one temporal token per frame: strictly more FLOPs than averaging.
    assert rows[bm.T2L_NAME].gflops_per_video > rows[bm.CLIP_NAME].gflops_per_video

    # Text cost: all classes vs the batch's classes; FLOPs scale with the number of texts.
    batch_row, all_row = report.text
    assert (batch_row.num_texts, all_row.num_texts) == (settings.train_batch_size, settings.num_classes)
    assert all_row.gflops == pytest.approx(batch_row.gflops * settings.num_classes / settings.train_batch_size,
                                           rel=0.05)

    ratio_names = [ratio.name for ratio in report.ratios]
    peers = len(families()) - 1
    assert len(ratio_names) == 2 * (2 + peers)  # T2L vs CLIP, vs X-CLIP and vs every other family, per batch size
    assert all(math.isfinite(ratio.value) and ratio.passed in (True, False) for ratio in report.ratios)

    # The three outputs.
    markdown = (tmp_path / "benchmark.md").read_text()
    for name in names:
        assert name in markdown
    assert "FLOPs = 2 × MACs" in markdown and "| ratio | measured | target | result |" in markdown
    data = json.loads((tmp_path / "benchmark.json").read_text())
    assert len(data["inference"]) == len(report.inference) and data["settings"]["num_frames"] == settings.num_frames
    with Image.open(tmp_path / "benchmark.png") as image:
        assert image.format == "PNG" and image.height > 400


def test_memory_probe_in_a_fresh_process_trains_one_tiny_t2l_step(tiny):
    task = {"kind": "train", "method": "t2l", "checkpointing": True, "settings": bm.asdict(tiny)}
    result = bm.run_probe(task)
    assert result["peak_memory_mb"] > result["baseline_memory_mb"] > 0
    assert len(result["step_s"]) == tiny.train_steps and all(t > 0 for t in result["step_s"])
    model = bm.build_t2l(tiny, head=True)
    assert result["params_trainable"] == sum(
        p.numel() for n, p in model.named_parameters() if n in set(model.trainable_parameter_names()))


def test_full_finetuning_step_trains_every_clip_parameter(tiny):
    task = {"kind": "train", "method": "full_ft", "checkpointing": False, "settings": bm.asdict(tiny)}
    result = bm._train_probe(task, baseline_rss_mb=bm.peak_rss_mb())
    assert result["params_trainable"] == sum(p.numel() for p in bm.build_clip(tiny).parameters())
    assert result["peak_memory_mb"] > 0


def test_decoding_rows_compare_both_readers_on_the_same_clip(tmp_path):
    settings = bm.BenchmarkSettings.tiny()
    rows = bm.run_decoding(settings, tmp_path, report_row=lambda row: None)
    assert [row.reader for row in rows] == ["video_io.read_video", 'transformers load_video(backend="pyav")']
    assert rows[0].clip == rows[1].clip and all(row.median_s > 0 for row in rows)


def test_generated_clip_has_the_requested_key_frame_interval(tmp_path):
    import av

    path = bm.write_test_clip(tmp_path / "gop.mp4", seconds=2.0, fps=10, size=(64, 48), keyframe_interval_s=0.5)
    with av.open(str(path)) as container:
        key_frames = [packet.is_keyframe for packet in container.demux(video=0) if packet.size]
    assert len(key_frames) == 20
    assert [i for i, key in enumerate(key_frames) if key] == [0, 5, 10, 15]


def test_ratios_pass_miss_and_unmeasured():
    report = bm.BenchmarkReport(settings={}, environment={})
    report.inference = [
        bm.InferenceRow(bm.T2L_NAME, 1, 1.05, 0, 1 / 1.05, 10, 1, 1.0),
        bm.InferenceRow(bm.CLIP_NAME, 1, 1.0, 0, 1.0, 10, 10, 1.0),
    ]
    report.training = [
        bm.TrainingRow(bm.T2L_TRAIN, False, 2, 0.7, 0, 500, "rss", 100, 1),
        bm.TrainingRow(bm.FULL_FT_TRAIN, False, 2, 1.0, 0, 1000, "rss", 100, 10),
    ]
    ratios = {ratio.name: ratio for ratio in bm.compute_ratios(report)}
    clip_ratio = ratios["inference time T2L / CLIP frame averaging, batch 1"]
    assert clip_ratio.value == pytest.approx(1.05) and clip_ratio.passed is True
    assert ratios["inference time T2L / X-CLIP, batch 1"].passed is None  # X-CLIP row missing
    assert ratios["training peak memory T2L / full fine-tuning, without checkpointing"].passed is True
    assert ratios["training step time T2L / full fine-tuning, without checkpointing"].passed is True
    assert ratios["training step time T2L / full fine-tuning, with checkpointing"].passed is None
    assert "not measured" in bm.format_markdown(
        bm.BenchmarkReport(settings=bm.asdict(bm.BenchmarkSettings.tiny()), environment={},
                           ratios=list(ratios.values())))


def test_settings_validate_sections_and_batch_sizes():
    with pytest.raises(ValueError, match="unknown section"):
        bm.BenchmarkSettings.tiny(sections=("inference", "speed"))
    with pytest.raises(ValueError, match="batch sizes"):
        bm.BenchmarkSettings.tiny(batch_sizes=(0,))
    quick = bm.BenchmarkSettings.vit_b16(quick=True, device="cpu")
    assert quick.vision["hidden_size"] == 768 and quick.num_frames == 8 and quick.image_size == 224
    assert quick.dtype == "float32" and quick.num_classes == 400


def test_cli_tiny_run_writes_the_report(tmp_path, capsys):
    out = tmp_path / "bench"
    threads = torch.get_num_threads()
    try:
        code = main(["benchmark", "--tiny", "--sections", "inference,text", "--batch-sizes", "1", "--clock", "cpu",
                     "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    printed = capsys.readouterr().out
    assert "T2L get_video_features" in printed and "inference time T2L / CLIP frame averaging, batch 1" in printed
    assert "process CPU time with one torch thread" in printed
    assert {p.name for p in out.iterdir()} == {"benchmark.md", "benchmark.json", "benchmark.png"}
    data = json.loads((out / "benchmark.json").read_text())
    assert data["environment"]["torch_threads"] == 1 and data["settings"]["clock"] == "cpu"
    assert all(row["median_s"] > 0 for row in data["inference"] + data["text"])


def test_cpu_clock_measures_process_time_not_waiting():
    import time as time_module

    timings = bm.measure_interleaved({"sleep": lambda: time_module.sleep(0.05)}, warmup=0, repeats=2,
                                     timer=time_module.process_time)
    assert timings["sleep"].median < 0.04  # sleeping uses no CPU; the wall clock would say >= 0.05
    with pytest.raises(ValueError, match="clock must be"):
        bm.BenchmarkSettings.tiny(clock="gpu")


# -- plotting ----------------------------------------------------------------------------------------------------


def _rgb(path):
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def _colour_mask(pixels, hex_colour):
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return (np.abs(pixels - rgb) <= 2).all(-1)


def test_bar_chart_draws_one_coloured_bar_per_value(tmp_path):
    path = bar_chart(tmp_path / "bars.png", ["a", "b", "c"], [1.0, 2.0, float("nan")], "title", "unit",
                     errors=[0.1, 0.2, 0.0])
    pixels = _rgb(path)
    first, second = (_colour_mask(pixels, colour) for colour in COLOURS[:2])
    assert first.sum() > 0 and second.sum() > 0
    # bar b (2.0) is twice as tall as bar a (1.0): count the pixel rows each colour covers
    assert second.any(1).sum() / first.any(1).sum() == pytest.approx(2.0, rel=0.05)
    with pytest.raises(ValueError, match="2 labels but 3 values"):
        bar_chart(tmp_path / "bad.png", ["a", "b"], [1, 2, 3], "t", "y")
    with pytest.raises(ValueError, match="should end with .png"):
        bar_chart(tmp_path / "bad.jpg", ["a"], [1], "t", "y")


def test_confusion_matrix_colours_follow_the_row_fractions(tmp_path):
    import matplotlib

    matrix = np.array([[9, 1], [0, 5]])
    pixels = _rgb(confusion_matrix_png(tmp_path / "cm.png", matrix, ["run", "jump"], "confusion"))
    # the darkest blue of the map (fraction 1.0, the jump row) is drawn; a fraction of 0 is near white
    darkest = np.array([round(255 * c) for c in matplotlib.colormaps["Blues"](1.0)[:3]])
    assert (np.abs(pixels - darkest) <= 3).all(-1).sum() > 100
    with pytest.raises(ValueError, match="2 rows but 3 class names"):
        confusion_matrix_png(tmp_path / "x.png", matrix, ["a", "b", "c"], "t")
    with pytest.raises(ValueError, match="square"):
        confusion_matrix_png(tmp_path / "x.png", np.zeros((2, 3)), ["a", "b"], "t")


def test_without_matplotlib_charts_are_skipped_with_one_line(tmp_path, monkeypatch, caplog):
    import builtins

    from modeling_t2l import plotting

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    monkeypatch.setattr(plotting, "_warned", False)
    with caplog.at_level("WARNING", logger="modeling_t2l.plotting"):
        assert bar_chart(tmp_path / "a.png", ["a"], [1.0], "t", "y") is None
        assert confusion_matrix_png(tmp_path / "b.png", np.eye(2), ["a", "b"], "t") is None
    assert not list(tmp_path.glob("*.png"))
    warnings = [record.message for record in caplog.records]
    assert len(warnings) == 1 and 'pip install "modeling-t2l[plots]"' in warnings[0]
