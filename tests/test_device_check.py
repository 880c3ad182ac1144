"""The device check's CPU path on tiny models: every section runs end to end and the report is well-formed.

Only the report's structure is checked (rows, fields, types, statuses), never a timing value: the same code runs on
the GPU machine, where its numbers are the product. CUDA itself is covered by tests/test_cuda.py.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from modeling_t2l.benchmarking import device_check as dcheck
from modeling_t2l.benchmarking.device_correctness import sdpa_calls
from modeling_t2l.cli import main
from modeling_t2l.models.registry import families

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "official_t2l"


def expected_families() -> set[str]:
    """Every family registered when the check runs (other test modules may register more families than
    `import modeling_t2l` does), plus the transformers peers."""
    return {family.name for family in families().values()} | {"CLIP frame averaging", "X-CLIP"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("device_check")
    fixtures = tmp_path_factory.mktemp("fixtures")  # the smaller official fixture only, to keep the run short
    (fixtures / "tiny_t8").symlink_to(FIXTURES / "tiny_t8", target_is_directory=True)
    settings = dcheck.DeviceCheckSettings.tiny_run(fixtures=str(fixtures), batch_sizes=(2,), repeats=1)
    return dcheck.run_device_check(settings, out), out


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def test_every_section_runs_and_both_files_are_written(report):
    report, out = report
    assert sorted(p.name for p in out.iterdir()) == ["device_check.json", "device_check.md"]
    assert {name: s.status for name, s in report.sections.items()} == {name: "ok" for name in dcheck.DEVICE_SECTIONS}
    written = json.loads((out / "device_check.json").read_text())
    assert list(written["sections"]) == list(dcheck.DEVICE_SECTIONS)
    markdown = (out / "device_check.md").read_text()
    for name in dcheck.DEVICE_SECTIONS:
        assert f"## {dcheck._TITLES[name]}" in markdown
    assert "## Ratios" in markdown and "## Conclusions" in markdown


def test_rows_carry_exactly_their_columns(report):
    report, _ = report
    for name, section in report.sections.items():
        assert section.rows, name
        for row in section.rows:
            assert set(row) == set(dcheck.COLUMNS[name]), (name, row)


def test_families_are_discovered_from_the_registry_and_transformers(report):
    report, _ = report
    assert {f["name"] for f in report.families if f["available"]} >= expected_families()
    correctness = report.sections["correctness"].rows
    assert {(r["family"], r["precision"], r["output"]) for r in correctness} == {
        (family, precision, output) for family in expected_families()
        for precision in ("float32", "bfloat16 autocast") for output in ("video embeddings", "text embeddings")}
    for row in correctness:
        assert _is_number(row["relative_error"]) and -1 <= row["min_cosine"] <= 1 + 1e-6
        assert isinstance(row["passed"], bool) and row["tolerance"].startswith("relative <=")


def test_parity_compares_outputs_losses_and_gradients_of_every_fixture(report):
    report, _ = report
    rows = report.sections["parity"].rows
    assert {(r["fixture"], r["compared"]) for r in rows} == {
        (f, c) for f in ("tiny_t8",) for c in ("outputs", "losses", "gradients")}
    for row in rows:
        assert row["count"] > 0 and _is_number(row["relative_error"]) and isinstance(row["passed"], bool)
    # on the CPU the fixtures' own device, parity is the charter's: this also checks the gradient mapping
    assert all(row["passed"] for row in rows), rows


def test_sdpa_rows_see_the_official_attention_dropout_in_training_only(report):
    report, _ = report
    rows = report.sections["sdpa"].rows
    profiled = [r for r in rows if r["mode"] in ("training", "inference")]
    assert {(r["tower"], r["mode"]) for r in profiled} == {(t, m) for t in ("vision", "text")
                                                          for m in ("training", "inference")}
    assert any(r["calls_with_dropout"] > 0 for r in profiled if r["mode"] == "training")
    assert all(r["calls_with_dropout"] == 0 for r in profiled if r["mode"] == "inference")
    forced = [r for r in rows if r["mode"].startswith("training, only")]
    assert {r["backend"] for r in forced} == {"flash", "memory-efficient", "cuDNN", "math"}
    assert all(r["details"] == "runs" or r["details"].startswith("cannot run: ") for r in forced)


def test_inference_training_and_data_rows(report):
    report, _ = report
    settings = report.settings
    for name, compiled in (("inference", False), ("inference_compiled", True)):
        rows = report.sections[name].rows
        assert {(r["family"], r["batch_size"]) for r in rows} == {(f, b) for f in expected_families()
                                                                  for b in settings["batch_sizes"]}
        for row in rows:
            assert row["compiled"] is compiled and row["precision"] == "bfloat16 autocast"
            assert _is_number(row["median_ms"]) and _is_number(row["videos_per_s"])
            assert _is_number(row["compile_s"]) if compiled else row["compile_s"] is None
    assert {(r["name"].endswith("compiled"), r["target"]) for r in report.ratios} == {(False, "<= 1.08"),
                                                                                       (True, "<= 1.08")}
    assert len(report.ratios) == 2 * len(settings["batch_sizes"])

    training = report.sections["training"].rows
    assert {(r["method"].split()[0], r["checkpointing"]) for r in training} == {
        (m, c) for m in ("T2L", "full") for c in (False, True)}
    for row in training:
        assert row["status"] == "ok" and row["batch_size"] == settings["train_batch_size"]
        assert _is_number(row["median_step_s"]) and row["params_trainable"] > 0
        assert row["peak_allocated_gib"] is None and row["fits"] is None  # no per-configuration peak on CPU
    t2l, full = (next(r for r in training if r["method"].startswith(m) and not r["checkpointing"])
                 for m in ("T2L", "full"))
    assert t2l["params_trainable"] < full["params_trainable"]

    data = report.sections["data"].rows
    assert [r["pipeline"].split(":")[0] for r in data] == ["train", "eval"]
    for row in data:
        assert row["videos"] > 0 and row["skipped"] == 0 and _is_number(row["videos_per_s"])
        assert row["workers"] == settings["data_workers"] and row["pinned"] is False  # pinning is for CUDA
    assert data[0]["consumer_videos_per_s"] == t2l["videos_per_s"]
    assert data[0]["data_bound"] == (data[0]["videos_per_s"] < t2l["videos_per_s"])


def test_conclusions(report):
    report, _ = report
    conclusions = report.conclusions
    assert conclusions["parity_passed"] is True and conclusions["parity_failures"] == []
    assert isinstance(conclusions["correctness_passed"], bool)
    failing = [r for r in report.sections["correctness"].rows if not r["passed"]]
    assert len(conclusions["correctness_failures"]) == len(failing)
    assert conclusions["correctness_passed"] == (not failing)
    assert isinstance(conclusions["training_data_bound"], bool)
    assert conclusions["sections_failed"] == conclusions["sections_skipped"] == conclusions["sections_not_run"] == []
    assert conclusions["sdpa_backend_with_dropout"]


def test_a_failing_section_is_recorded_and_the_rest_still_runs(tmp_path, capsys):
    code = main(["benchmark", "--device-check", "--tiny", "--device", "cpu", "--sections", "parity,correctness",
                 "--out", str(tmp_path)])
    assert code == 0
    written = json.loads((tmp_path / "device_check.json").read_text())
    sections = written["sections"]
    assert sections["parity"]["status"] == "failed" and "--fixtures" in sections["parity"]["error"]
    assert sections["correctness"]["status"] == "ok" and sections["correctness"]["rows"]
    assert sections["training"]["status"] == "skipped" and sections["training"]["error"] == "not requested"
    assert written["conclusions"]["sections_failed"] == ["parity"]
    assert "Status: **failed**" in (tmp_path / "device_check.md").read_text()


def test_a_spent_time_budget_skips_the_remaining_sections(tmp_path):
    settings = dcheck.DeviceCheckSettings.tiny_run(time_budget_s=1e-3)
    report = dcheck.run_device_check(settings, tmp_path)
    assert {s.status for s in report.sections.values()} == {"skipped"}
    assert {s.error for s in report.sections.values()} == {"time budget spent"}
    assert json.loads((tmp_path / "device_check.json").read_text())["conclusions"]["sections_skipped"]


def test_time_budget_counts_down():
    now = [100.0]
    budget = dcheck.TimeBudget(10, clock=lambda: now[0])
    assert budget.left() == 10 and not budget.exhausted()
    now[0] = 110.5
    assert budget.left() == pytest.approx(-0.5) and budget.exhausted()


@pytest.mark.parametrize("overrides, message", [
    (dict(sections=("inference", "speed")), "unknown section"),
    (dict(batch_sizes=(0,)), "positive"),
    (dict(dtype="int8"), "dtype"),
    (dict(time_budget_s=0), "budget"),
])
def test_settings_refuse_bad_values(overrides, message):
    with pytest.raises(ValueError, match=message):
        dcheck.DeviceCheckSettings.tiny_run(**overrides)


def test_cuda_requested_without_cuda_is_a_clear_error(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code = main(["benchmark", "--device-check", "--tiny", "--device", "cuda", "--out", str(tmp_path)])
    assert code == 2 and "torch.cuda.is_available() is False" in capsys.readouterr().err


def test_sdpa_calls_reads_backend_and_dropout_from_the_profiler():
    import torch
    from torch.profiler import ProfilerActivity, profile

    q = torch.randn(1, 2, 6, 8)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as profiler:
        torch.nn.functional.scaled_dot_product_attention(q, q, q, dropout_p=0.25)
        torch.nn.functional.scaled_dot_product_attention(q, q, q)
    calls = sdpa_calls(profiler)
    assert [p for _, p in calls] == [0.25, 0.0]
    assert all(backend != "unknown" for backend, _ in calls)


# -- family discovery ---------------------------------------------------------------------------------------------


def test_registered_families_come_from_the_auto_registry():
    from modeling_t2l import T2LConfig
    from modeling_t2l.benchmarking import families

    assert families.registered_model_types()["t2l"] is T2LConfig


def test_a_family_that_cannot_be_built_is_reported_with_its_reason(monkeypatch):
    from modeling_t2l import T2LConfig
    from modeling_t2l.benchmarking import families
    from modeling_t2l.benchmarking.settings import BenchmarkSettings

    class NeedsMoreConfig:  # a registered config that does not take the common CLIP fields
        def __init__(self, **kwargs):
            raise TypeError("missing required field 'prompt_length'")

    NeedsMoreConfig.__name__ = "FutureFamilyConfig"
    monkeypatch.setattr(families, "registered_model_types",
                        lambda: {"t2l": T2LConfig, "future_family": NeedsMoreConfig})
    found, unavailable = families.discover_families(BenchmarkSettings.tiny())
    assert [f.name for f in found] == ["T2L", families.CLIP_FRAME_AVERAGING, families.XCLIP]
    assert [(u.name, u.reason) for u in unavailable] == [("FutureFamily", "TypeError: missing required field "
                                                                          "'prompt_length'")]


def test_text_that_depends_on_the_video_gets_the_video_outputs():
    import torch

    from modeling_t2l.benchmarking.families import _contract_text

    class VideoConditionedText(torch.nn.Module):  # the contract of a family like TC-CLIP
        text_depends_on_video = True

        def get_video_features(self, pixel_values):
            return pixel_values.mean(dim=(1, 2, 3, 4))[:, None]  # (B, 1)

        def get_text_features(self, input_ids, attention_mask=None, video_outputs=None):
            assert video_outputs is not None, "video_outputs must be passed"
            return video_outputs[:, None, :] + input_ids[None, :, :1].float()  # (B, K, 1)

    pixels = torch.arange(2.0)[:, None, None, None, None].expand(2, 3, 3, 4, 4)
    ids = torch.tensor([[5, 1], [7, 1], [9, 1]])
    text = _contract_text(VideoConditionedText(), ids, torch.ones_like(ids), pixels)
    assert text.shape == (2, 3, 1)
    assert text[:, :, 0].tolist() == [[5.0, 7.0, 9.0], [6.0, 8.0, 10.0]]
