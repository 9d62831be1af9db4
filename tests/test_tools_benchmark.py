"""Tests of slowfast_zoo.tools.benchmark (`slowfast-zoo benchmark`): runs on a tiny CPU configuration
and reports every field (no timing asserted)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from slowfast_zoo.tools import benchmark as bm
from slowfast_zoo.cli import main
from video_factory import make_video

TINY = ["--device", "cpu", "--size", "32", "--views", "2", "--videos", "2", "--warmup", "1",
        "--views-per-batch", "2", "--matmul-size", "128", "--json"]

FIELDS = {
    "model", "architecture", "date", "machine", "device", "dtype", "threads", "channels_last", "fuse",
    "compile", "views_per_batch", "views_per_video", "input_shape", "warmup_videos",
    "timed_videos", "video_times_s", "median_video_s", "mean_video_s", "min_video_s", "max_video_s",
    "video_per_s", "mmaction2_method_video_per_s", "per_view_s", "gflops_per_view", "attained_gflops",
    "matmul_peak_gflops", "matmul_peak_dtype", "matmul_size", "percent_of_peak", "peak_memory_bytes",
    "peak_memory_kind", "peak_memory_reset", "note", "end_to_end", "loadavg_before", "loadavg_after",
}


def _run_json(capsys, argv):
    assert main(["benchmark", *argv]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_tiny_benchmark_emits_every_field(capsys):
    r = _run_json(capsys, TINY)
    assert FIELDS <= set(r)
    assert r["input_shape"] == [2, 3, 32, 32, 32]
    assert r["timed_videos"] == 2 and len(r["video_times_s"]) == 2  # the last video counted once
    assert r["fuse"] and r["channels_last"] and r["views_per_batch"] == 2
    for key in ("median_video_s", "video_per_s", "per_view_s", "attained_gflops",
                "matmul_peak_gflops", "percent_of_peak", "gflops_per_view"):
        assert math.isfinite(r[key]) and r[key] > 0, key
    assert r["video_per_s"] == pytest.approx(1 / r["median_video_s"])
    assert r["per_view_s"] == pytest.approx(r["median_video_s"] / 2)
    # 72.6 GFLOP per 32x256x256 view scales with the input area.
    assert r["gflops_per_view"] == pytest.approx(72.6 * (32 / 256) ** 2, rel=0.02)
    assert r["peak_memory_bytes"] > 0 and "RSS" in r["peak_memory_kind"]
    assert "twice" in r["note"] and r["end_to_end"] is None
    assert r["threads"] == torch.get_num_threads()


def test_table_and_eager_options(capsys):
    argv = [a for a in TINY if a != "--json"] + ["--no-fuse", "--no-channels-last", "--videos", "1"]
    assert main(["benchmark", *argv]) == 0
    out = capsys.readouterr().out
    for label in ("video/s (1/median)", "per view", "GFLOP/s attained", "matmul peak", "peak memory",
                  "fuse False", "channels_last False", "twice"):
        assert label in out, label


@pytest.mark.slow
def test_end_to_end_on_a_synthetic_video(tmp_path, capsys):
    video = make_video(tmp_path / "clip.mp4", num_frames=40, width=64, height=48)
    r = _run_json(capsys, TINY + ["--end-to-end", str(video)])
    e = r["end_to_end"]
    assert e["views_per_video"] == 2 and e["timed_videos"] >= 1
    for key in ("decode_s", "transform_s", "model_s", "average_s", "total_s"):
        assert e["median"][key] >= 0, key
    assert 0 < e["data_share_of_total"] < 1
    assert e["peak_memory_bytes"] > 0
    row = e["videos"][0]
    assert row["path"] == str(video) and 0 <= row["top1"] < 400 and row["distinct_frames"] > 0


def test_bf16_on_cpu_without_native_support_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(bm, "native_low_precision", lambda dtype: False)
    with pytest.raises(bm.BenchmarkError, match="41x"):
        bm.check_dtype("bf16", torch.device("cpu"))
    assert bm.check_dtype("bf16", torch.device("cpu"), force=True) is torch.bfloat16
    assert bm.check_dtype("fp32", torch.device("cpu")) is torch.float32
    assert main(["benchmark", "--device", "cpu", "--dtype", "bf16", "--size", "32"]) == 2
    err = capsys.readouterr().err
    assert "--force" in err and "native" in err


def test_bad_settings_are_errors(capsys):
    assert main(["benchmark", "--device", "cpu", "--videos", "0"]) == 2
    assert "--videos" in capsys.readouterr().err
