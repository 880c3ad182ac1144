"""The benchmark harness on tiny configurations: rows present, ratios finite, the fresh-process memory probe works.

Timings are never asserted (the machine is shared); what is checked is what the numbers are computed from.
"""
from __future__ import annotations

import json
import math
import sys

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
    # The row times the contract's embeddings, which T2L computes with its last block for the CLS tokens only.
    pixels = torch.randn(1, settings.num_frames, 3, settings.image_size, settings.image_size)
    with torch.no_grad():
        embeddings_flops = bm.count_flops(lambda: t2l.eval().get_video_embeddings(pixels), inference_of=t2l)
        whole_flops = bm.count_flops(lambda: t2l.get_video_features(pixels), inference_of=t2l)
    assert rows[bm.T2L_NAME].gflops_per_video * 1e9 == pytest.approx(embeddings_flops) and embeddings_flops < whole_flops

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
    assert result["saved_activations_mb"] > 0 and result["checkpointed_layers"] == result["encoder_layers"]
    assert "step_s" not in result  # time is the timing probe's, where configurations run side by side
    model = bm.build_t2l(tiny, head=True)
    assert result["params_trainable"] == sum(
        p.numel() for n, p in model.named_parameters() if n in set(model.trainable_parameter_names()))


def test_timing_probe_interleaves_configurations_in_one_fresh_process_and_reports_progress(tiny):
    from dataclasses import asdict

    from modeling_t2l.benchmarking.training import TrainingConfiguration

    configurations = [TrainingConfiguration(bm.T2L_TRAIN, "t2l", False), TrainingConfiguration(bm.FULL_FT_TRAIN, "full_ft", False)]
    messages = []
    task = {"kind": "train_timing", "label": "training: time", "settings": bm.asdict(tiny),
            "configurations": [asdict(c) for c in configurations]}
    result = bm.run_probe(task, timeout=None, progress=messages.append)
    assert messages == [f"training: time: round {i}/{tiny.train_steps}" for i in range(1, tiny.train_steps + 1)]
    assert set(result) == {bm.T2L_TRAIN, bm.FULL_FT_TRAIN}
    for times in result.values():  # the warm-up step's phases are not among the timed ones
        assert all(len(times[key]) == tiny.train_steps for key in ("step_s", "forward_s", "backward_s", "optimizer_s"))
        for i, step in enumerate(times["step_s"]):  # a step is its three phases (plus the timer's own calls)
            phases = times["forward_s"][i] + times["backward_s"][i] + times["optimizer_s"][i]
            assert phases > 0 and phases <= step + 1e-6 and step < phases + 0.05


def test_a_failing_probe_names_its_task_and_shows_the_error():
    with pytest.raises(RuntimeError, match=r"probe 'nonsense' failed with exit code 1:(.|\n)*unknown task kind"):
        bm.run_probe({"kind": "nonsense"})


def test_a_probe_past_its_timeout_is_stopped_and_says_so(tiny):
    task = {"kind": "train", "method": "t2l", "checkpointing": False, "settings": bm.asdict(tiny)}
    with pytest.raises(RuntimeError, match=r"probe 'train' was stopped after 0.2 s"):
        bm.run_probe(task, timeout=0.2)  # importing torch alone takes longer


def test_training_rows_take_memory_from_each_probe_and_times_side_by_side(tiny, monkeypatch):
    """The section's orchestration, its probes run in this process: one memory probe per configuration, one timing
    probe per checkpointing setting, every configuration of a setting in it; the rows pair the timed steps."""
    from modeling_t2l.benchmarking import training

    calls = []

    def in_process(task, timeout=1800, progress=None):
        calls.append((task["kind"], task.get("checkpointing"), len(task.get("configurations", [])), timeout))
        if task["kind"] == "train":
            return bm._train_probe(task, baseline_rss_mb=bm.peak_rss_mb())
        return bm._timing_probe(task)

    monkeypatch.setattr(training, "run_probe", in_process)
    configurations = training.training_configurations()
    messages = []
    rows = bm.run_training(tiny, report_row=lambda row: None, progress=messages.append)
    per_setting = len(configurations) // 2
    assert sorted(c for c in calls if c[0] == "train_timing") == [("train_timing", None, per_setting, None)] * 2
    assert sum(c[0] == "train" for c in calls) == len(configurations)
    assert [(r.method, r.checkpointing) for r in rows] == [(c.name, c.checkpointing) for c in configurations]
    for row in rows:
        assert len(row.step_samples_s) == tiny.train_steps and row.median_step_s > 0
        assert row.peak_memory_mb > 0 and row.checkpointed_layers.endswith(f"/ {row.checkpointed_layers.split()[-1]}")
        assert row.forward_s > 0 and row.backward_s > 0
    assert any("memory, 1/" in m for m in messages) and any("time with checkpointing" in m for m in messages)
    report = bm.BenchmarkReport(settings=bm.asdict(tiny), environment={}, training=rows)
    ratios = {ratio.name: ratio for ratio in bm.compute_ratios(report)}
    step = ratios["training step time T2L / full fine-tuning, with checkpointing"]
    assert math.isfinite(step.spread)  # timed side by side: the ratio has a round-by-round spread
    assert math.isnan(ratios["training peak memory T2L / full fine-tuning, with checkpointing"].spread)
    report.ratios = list(ratios.values())
    assert f"| {step.name} | {step.value:.3f} ± {step.spread:.3f} |" in bm.format_markdown(report)


def test_checkpointing_is_configured_alike_for_t2l_and_full_finetuning(tiny):
    """Both methods recompute every encoder layer of both towers through the same transformers mechanism, and the
    probe sees the activations it frees."""
    results = {}
    for method in ("t2l", "full_ft"):
        for checkpointing in (False, True):
            task = {"kind": "train", "method": method, "checkpointing": checkpointing, "settings": bm.asdict(tiny)}
            results[method, checkpointing] = bm._train_probe(task, baseline_rss_mb=bm.peak_rss_mb())
    layers = tiny.vision["num_hidden_layers"] + tiny.text["num_hidden_layers"]
    for method in ("t2l", "full_ft"):
        plain, checkpointed = results[method, False], results[method, True]
        assert (plain["checkpointed_layers"], plain["encoder_layers"]) == (0, layers)
        assert (checkpointed["checkpointed_layers"], checkpointed["encoder_layers"]) == (layers, layers)
        assert checkpointed["saved_activations_mb"] < 0.5 * plain["saved_activations_mb"]
    # and recompute alike: every CLIP linear layer but the MLP's last (recomputation stops before it) in both
    clip_linears = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1", "mlp.fc2"}
    recomputed = {method: dict(item.rsplit(" ", 1) for item in results[method, True]["recomputed_linears"].split(", "))
                  for method in ("t2l", "full_ft")}
    assert {k: v for k, v in recomputed["t2l"].items() if k in clip_linears} == recomputed["full_ft"]
    assert recomputed["full_ft"]["mlp.fc2"] == f"0/{layers}" and recomputed["full_ft"]["mlp.fc1"] == f"{layers}/{layers}"
    assert set(results["t2l", False]["recomputed_linears"].split(", ")) >= {f"mlp.fc1 0/{layers}"}  # nothing without


def test_configurations_cover_every_family_the_baseline_and_t2l_without_attention_dropout():
    from modeling_t2l.benchmarking.training import T2L_NO_ATTENTION_DROPOUT, training_configurations

    configurations = training_configurations()
    for checkpointing in (False, True):
        methods = {(c.method, c.attention_dropout) for c in configurations if c.checkpointing == checkpointing}
        assert methods == {(model_type, None) for model_type in families()} | {("full_ft", None), ("t2l", 0.0)}
    names = {c.name for c in configurations}
    assert bm.T2L_TRAIN in names and bm.FULL_FT_TRAIN in names and T2L_NO_ATTENTION_DROPOUT in names


def test_recomputation_table_reads_what_checkpointing_added():
    from modeling_t2l.benchmarking.report import recomputation_rows

    report = bm.BenchmarkReport(settings={}, environment={}, training=[
        bm.TrainingRow("m", False, 2, 3.0, 0, 500, "rss", 100, 1, forward_s=1.0, backward_s=2.0, optimizer_s=0.0,
                       saved_activations_mb=300, checkpointed_layers="0 / 4"),
        bm.TrainingRow("m", True, 2, 4.1, 0, 250, "rss", 100, 1, forward_s=1.0, backward_s=3.1, optimizer_s=0.0,
                       saved_activations_mb=20, checkpointed_layers="4 / 4"),
    ])
    (row,) = recomputation_rows(report)
    assert row["backward_added_s"] == pytest.approx(1.1) and row["recompute_per_forward"] == pytest.approx(1.1)
    assert row["saved_freed_mb"] == 280 and row["peak_freed_mb"] == 250


def test_full_finetuning_step_trains_every_clip_parameter(tiny):
    task = {"kind": "train", "method": "full_ft", "checkpointing": False, "settings": bm.asdict(tiny)}
    result = bm._train_probe(task, baseline_rss_mb=bm.peak_rss_mb())
    assert result["params_trainable"] == sum(p.numel() for p in bm.build_clip(tiny).parameters())
    assert result["peak_memory_mb"] > 0


def test_decoding_rows_time_every_reader_on_the_same_clip_and_check_its_frames(tmp_path):
    from modeling_t2l.benchmarking.readers import OURS, READERS, TRANSFORMERS

    settings = bm.BenchmarkSettings.tiny()
    rows = bm.run_decoding(settings, tmp_path, report_row=lambda row: None)
    assert sorted(row.reader for row in rows) == sorted(READERS)  # each reader once: timed, or why not
    assert len({row.clip for row in rows}) == 1
    by_reader = {row.reader: row for row in rows}
    threaded = 'PyAV, threaded sequential (thread_type="AUTO")'
    for name in (OURS, TRANSFORMERS, threaded):  # PyAV is a dependency: these always run
        assert by_reader[name].median_s > 0
    assert by_reader[OURS].frames_check == "reference"
    assert by_reader[threaded].frames_check == "identical frames"  # exact decoding, threads or not
    assert by_reader[TRANSFORMERS].frames_check == "its own indices, not compared"
    for row in rows:
        assert math.isfinite(row.median_s) or row.frames_check.startswith(("not installed", "cannot load"))
    report = bm.BenchmarkReport(settings={}, environment={}, decoding=rows)
    (ratio,) = bm.compute_ratios(report)
    assert ratio.name.startswith("decoding time read_video / fastest other reader") and ratio.passed is not None


def test_a_reader_that_differs_from_read_video_is_reported_not_hidden(tmp_path, monkeypatch):
    from modeling_t2l.benchmarking import readers

    path = bm.write_test_clip(tmp_path / "c.mp4", seconds=1.0, fps=10, size=(64, 48), keyframe_interval_s=0.5)
    off_by_one = lambda path, indices: readers.pyav_threaded_reader(path, [i + 1 for i in indices])  # noqa: E731
    monkeypatch.setitem(readers.READERS, "shifted", (off_by_one, True))
    runnable, _ = readers.available_readers(str(path), 4)
    assert runnable["shifted"][1] > 0 and runnable[readers.OURS][1] == 0


def test_generated_clip_has_the_requested_key_frame_interval(tmp_path):
    import av

    path = bm.write_test_clip(tmp_path / "gop.mp4", seconds=2.0, fps=10, size=(64, 48), keyframe_interval_s=0.5)
    with av.open(str(path)) as container:
        key_frames = [packet.is_keyframe for packet in container.demux(video=0) if packet.size]
    assert len(key_frames) == 20
    assert [i for i, key in enumerate(key_frames) if key] == [0, 5, 10, 15]


def test_ratios_pass_miss_and_unmeasured():
    report = bm.BenchmarkReport(settings={}, environment={})
    report.inference = [  # the time ratio's target is the FLOP ratio of the same calls
        bm.InferenceRow(bm.T2L_NAME, 1, 1.04, 0, 1 / 1.04, 10, 1, 1.05),
        bm.InferenceRow(bm.CLIP_NAME, 1, 1.0, 0, 1.0, 10, 10, 1.0),
    ]
    report.training = [
        bm.TrainingRow(bm.T2L_TRAIN, False, 2, 0.7, 0, 500, "rss", 100, 1),
        bm.TrainingRow(bm.FULL_FT_TRAIN, False, 2, 1.0, 0, 1000, "rss", 100, 10),
    ]
    ratios = {ratio.name: ratio for ratio in bm.compute_ratios(report)}
    clip_ratio = ratios["inference time T2L / CLIP frame averaging, batch 1"]
    assert clip_ratio.value == pytest.approx(1.04) and clip_ratio.passed is True and clip_ratio.target == "<= 1.05"
    report.inference[0].gflops_per_video = 1.03
    assert bm.compute_ratios(report)[0].passed is False
    assert ratios["inference time T2L / X-CLIP, batch 1"].passed is None  # X-CLIP row missing
    assert ratios["training peak memory T2L / full fine-tuning, without checkpointing"].passed is True
    assert ratios["training step time T2L / full fine-tuning, without checkpointing"].passed is True
    assert ratios["training step time T2L / full fine-tuning, with checkpointing"].passed is None
    assert "not measured" in bm.format_markdown(
        bm.BenchmarkReport(settings=bm.asdict(bm.BenchmarkSettings.tiny()), environment={},
                           ratios=list(ratios.values())))
    assert math.isnan(clip_ratio.spread)  # no samples: nothing to pair


def test_a_ratio_of_rows_timed_side_by_side_has_the_spread_of_its_round_by_round_ratios():
    t2l = bm.InferenceRow(bm.T2L_NAME, 1, 2.0, 0, 0.5, 10, 1, 1.0, samples_s=[1.0, 2.0, 3.0, 4.0, 5.0])
    clip = bm.InferenceRow(bm.CLIP_NAME, 1, 4.0, 0, 0.25, 10, 10, 1.0, samples_s=[2.0, 4.0, 6.0, 8.0, 9.0])
    ratio = bm.compute_ratios(bm.BenchmarkReport(settings={}, environment={}, inference=[t2l, clip]))[0]
    # drift that moves both sides cancels: the round-by-round ratios are 0.5, 0.5, 0.5, 0.5, 0.556
    assert ratio.value == pytest.approx(0.5) and ratio.spread == pytest.approx(0.0)
    clip.samples_s = [2.0, 4.0, 6.0, 8.0]  # not the same rounds: no pairing
    assert math.isnan(bm.compute_ratios(bm.BenchmarkReport(settings={}, environment={}, inference=[t2l, clip]))[0].spread)


def test_inference_models_select_the_rows_built(tmp_path, capsys):
    """The README's batch-8 command: only the named rows are built and timed (with the text section after them)."""
    threads = torch.get_num_threads()
    try:
        code = main(["benchmark", "--tiny", "--sections", "inference,text", "--batch-sizes", "1", "--clock", "cpu",
                     "--inference-models", "t2l, clip", "--out", str(tmp_path)])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    data = json.loads((tmp_path / "benchmark.json").read_text())
    assert {row["model"].split(" get_video")[0] for row in data["inference"]} == {"T2L", bm.CLIP_NAME}
    assert data["text"] and data["settings"]["inference_models"] == ["t2l", "clip"]
    measured = [r["name"] for r in data["ratios"] if r["passed"] is not None]
    assert measured == ["inference time T2L / CLIP frame averaging, batch 1"]  # the rest: "not measured"
    capsys.readouterr()
    with pytest.raises(ValueError, match="unknown inference model"):
        bm.BenchmarkSettings.tiny(inference_models=("t2l", "resnet"))
    assert main(["benchmark", "--tiny", "--inference-models", "t2l,resnet"]) == 2
    assert "unknown inference model(s) ['resnet']" in capsys.readouterr().err


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
    assert "T2L get_video_embeddings" in printed and "inference time T2L / CLIP frame averaging, batch 1" in printed
    assert "process CPU time with one torch thread" in printed
    assert {p.name for p in out.iterdir()} == {"benchmark.md", "benchmark.json", "benchmark.png"}
    data = json.loads((out / "benchmark.json").read_text())
    assert data["environment"]["torch_threads"] == 1 and data["settings"]["clock"] == "cpu"
    assert all(row["median_s"] > 0 for row in data["inference"] + data["text"])


def test_training_profile_tables_each_step_and_its_difference_from_full_finetuning(tiny):
    text = bm.profile_training(tiny, row_limit=200)
    assert "== t2l, one training step at batch 2, with checkpointing ==" in text
    assert "== full_ft, one training step at batch 2, with checkpointing ==" in text
    difference = text.split("== t2l - full fine-tuning, self time per operator, with checkpointing")[1]
    rows = {}
    for line in difference.splitlines()[2:-1]:
        name, delta, ours, base, calls = line.rsplit(maxsplit=4)
        assert float(delta) == pytest.approx(float(ours) - float(base), abs=0.11), line  # printed to 0.1 ms
        rows[name.strip()] = calls
    # T2L's attention with probability dropout runs only in T2L's step; only full fine-tuning convolves the
    # patch embedding's weight gradient
    assert rows["_DropoutAttention"].startswith("0->") and rows["aten::convolution_backward"].endswith("->0")
    assert "total (self time of every operator)" in difference.splitlines()[-1]


def test_cli_profile_writes_the_tables_of_the_sections_run(tmp_path, monkeypatch, capsys):
    import modeling_t2l.benchmarking.runner as runner

    monkeypatch.setattr(runner, "run_training", lambda settings, report_row, progress: [])  # the rows are tested above
    out = tmp_path / "bench"
    threads = torch.get_num_threads()
    try:
        assert main(["benchmark", "--tiny", "--sections", "training", "--profile", "--out", str(out)]) == 0
        assert (out / "profile_training.txt").is_file() and not (out / "profile.txt").exists()
        assert "t2l - full fine-tuning" in (out / "profile_training.txt").read_text()
        assert main(["benchmark", "--tiny", "--sections", "text", "--profile", "--out", str(tmp_path / "text")]) == 0
        assert not any(p.name.startswith("profile") for p in (tmp_path / "text").iterdir())
    finally:
        torch.set_num_threads(threads)
    assert "profile written to" in capsys.readouterr().out


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


# -- pipeline, evaluation and the official code ------------------------------------------------------------------


def test_pipeline_rows_for_every_family_with_and_without_a_label_cache(tiny, tmp_path):
    rows = bm.run_pipeline(tiny, tmp_path, report_row=lambda row: None)
    by_model = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row)
    assert set(by_model) == {family.name for family in families().values()}
    for family in families().values():
        first, later, video = by_model[family.name]
        assert first.call.startswith("first call") and first.num_labels == tiny.num_classes
        assert video.call.startswith("video forward") and all(r.median_s > 0 for r in (first, later, video))
        model = bm.build_family(tiny, family.model_type)
        assert later.label_cache is (not model.text_depends_on_video)
        # the forward the pipeline itself runs for the video
        assert ("get_video_features" if model.text_depends_on_video else "get_video_embeddings") in video.call
    assert by_model["TC-CLIP"][1].call == "later call (labels encoded with the video)"
    ratios = [r.name for r in bm.compute_ratios(bm.BenchmarkReport(settings={}, environment={}, pipeline=rows))]
    # a ratio for each family with a label cache; TC-CLIP encodes its labels with every video
    assert "cached pipeline call / video forward alone (T2L)" in ratios
    assert not any("TC-CLIP" in name for name in ratios)


def test_evaluation_rows_time_the_whole_pass_and_its_parts(tiny, tmp_path):
    rows = bm.run_evaluation(tiny, tmp_path, report_row=lambda row: None)
    assert [row.stage.split(":")[0].split(" ")[0] for row in rows] == ["evaluate_videos", "the", "the"]
    assert all(row.num_videos == tiny.eval_videos and row.workers == tiny.eval_workers for row in rows)
    assert all(row.median_s > 0 and row.videos_per_s > 0 for row in rows)
    report = bm.BenchmarkReport(settings=bm.asdict(tiny), environment={}, evaluation=rows)
    (ratio,) = bm.compute_ratios(report)
    assert ratio.name == "evaluation end to end / forward alone (data loading hidden)" and ratio.passed is not None
    assert "**Evaluation throughput**" in bm.format_markdown(report)


def test_official_code_is_read_from_a_checkout_with_clear_errors(tmp_path):
    from modeling_t2l.benchmarking.official import load_official_module

    with pytest.raises(FileNotFoundError, match="not a checkout of the official T2L code"):
        load_official_module(tmp_path)
    (tmp_path / "clip").mkdir()
    (tmp_path / "clip" / "model.py").write_text("import cv2\nimport a_module_nobody_has\n")
    with pytest.raises(ImportError, match="needs 'a_module_nobody_has'"):
        load_official_module(tmp_path)
    (tmp_path / "clip" / "model.py").write_text("import cv2\nVALUE = 3\n")  # cv2 stands in when OpenCV is absent
    had_cv2 = "cv2" in sys.modules
    assert load_official_module(tmp_path).VALUE == 3
    assert ("cv2" in sys.modules) == had_cv2  # the stand-in does not outlive the import


def test_official_ratio_is_reported_when_its_row_exists():
    report = bm.BenchmarkReport(settings={}, environment={}, inference=[
        bm.InferenceRow(bm.T2L_NAME, 1, 0.95, 0, 1, 10, 1, 1.0),
        bm.InferenceRow(bm.OFFICIAL_NAME, 1, 1.0, 0, 1, 10, 1, 1.0),
    ])
    ratios = {ratio.name: ratio for ratio in bm.compute_ratios(report)}
    official = ratios["inference time T2L / the official T2L code, batch 1"]
    assert official.value == pytest.approx(0.95) and official.passed is True and official.target == "<= 0.97"


def test_cli_names_a_wrong_official_checkout_in_one_line(tmp_path, capsys):
    code = main(["benchmark", "--tiny", "--sections", "inference", "--official-t2l", str(tmp_path),
                 "--out", str(tmp_path / "out")])
    assert code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == [f"t2l benchmark: --official-t2l: {tmp_path}: not a checkout of the official T2L code "
                     f"(no clip/model.py)"]
    assert not (tmp_path / "out").exists()
