"""Tests of slowfast_zoo.inference.windows, the long-video window mode: window placement, per-window
parity with a direct computation, CLI."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import slowfast_zoo as sz
from slowfast_zoo.cli import main
from slowfast_zoo.data import VideoReader, test_transform
from slowfast_zoo.errors import UsageError, VideoDecodeError
from slowfast_zoo.inference.windows import MAX_WINDOWS, WindowRanges, predict_windows, window_ranges
from slowfast_zoo.registry import get_pretrained_cfg
from hostile_files import slow_rate_video
from video_factory import make_video

ARCH = "slowfast_r50_4x16x1"
# A small test protocol (32-pixel views) so a 20-second video runs in seconds on 2 cores.
SMALL = sz.TestProtocol(resize_short_side=32, crop_size=32, num_clips=2, num_crops=3, val_crop_size=32)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("v") / "long.mp4", num_frames=200, width=64, height=48,
                      fps=10, gop=10)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    m = sz.create_model(ARCH, num_classes=5)
    torch.nn.init.normal_(m.fc.weight, std=0.05)  # well separated class probabilities
    m.pretrained_cfg = dataclasses.replace(m.pretrained_cfg, test=SMALL)
    m.class_names = ("a", "b", "c", "d", "e")
    return m.eval()


def test_window_ranges() -> None:
    assert len(window_ranges(20.0, 4.0, 2.0)) == 9
    assert window_ranges(20.0, 5.0, 5.0) == [(0.0, 5.0), (5.0, 10.0), (10.0, 15.0), (15.0, 20.0)]
    assert window_ranges(20.0, 6.0, 4.0)[-1] == (16.0, 20.0) and len(window_ranges(20.0, 6.0, 4.0)) == 5
    assert window_ranges(3.0, 4.0, 1.0) == [(0.0, 3.0)]
    with pytest.raises(ValueError):
        window_ranges(20.0, 0.0, 1.0)
    with pytest.raises(ValueError):
        window_ranges(20.0, 1.0, -1.0)


@pytest.mark.parametrize("window,stride", [(1e-300, None), (5e-324, None), (1.0, 1e-300),
                                           (math.inf, None), (math.nan, None), (1.0, -math.inf)])
def test_window_ranges_refuse_tiny_or_non_finite_windows(window: float, stride: float | None) -> None:
    """``--window 1e-300`` used to build a list of 2e301 windows (MemoryError): now one typed line,
    naming the window and stride, and the count and the cap when the count is the problem."""
    with pytest.raises(UsageError) as info:
        window_ranges(20.0, window, window if stride is None else stride)
    text = str(info.value)
    assert "\n" not in text and ("window" in text or "stride" in text)
    if 1e-300 in (window, stride):  # a finite (huge) count: named with the cap
        assert f"at most {MAX_WINDOWS}" in text and "e+301 windows" in text


def test_window_ranges_are_lazy_and_bounded() -> None:
    day = window_ranges(86400.0, 1.0, 1.0)  # a day in 1-second windows: allowed, never a list
    assert isinstance(day, WindowRanges) and len(day) == 86400 and day[-1] == (86399.0, 86400.0)
    assert day[10:12] == [(10.0, 11.0), (11.0, 12.0)] and next(iter(day)) == (0.0, 1.0)
    assert len(window_ranges(MAX_WINDOWS * 1.0, 1.0, 1.0)) == MAX_WINDOWS
    with pytest.raises(UsageError, match=f"about 1e\\+05 windows; at most {MAX_WINDOWS}"):
        window_ranges(MAX_WINDOWS + 1.0, 1.0, 1.0)
    with pytest.raises(IndexError):
        day[86400]
    for duration in (math.inf, math.nan, 0.0):
        with pytest.raises(VideoDecodeError, match="duration"):
            window_ranges(duration, 1.0, 1.0)
    # With the frame rate: a window or stride must span a frame (float noise tolerated).
    assert len(window_ranges(1.0, 1 / 30, 1 / 30, fps=30.0)) == 30
    with pytest.raises(UsageError, match="stride=0.01 s is shorter than one frame"):
        window_ranges(1.0, 1.0, 0.01, fps=30.0)


def test_slow_rate_video_cannot_multiply_windows(tmp_path: Path) -> None:
    """A crafted 2.8 KB video at 1/1000 fps lasts 7000 s: 0.7-second windows used to make 10,000
    windows of the same 7 frames. Refused at the call, before the model is touched (a stand-in
    without weights) or any window is computed."""
    video = slow_rate_video(tmp_path / "slow.y4m")
    assert video.stat().st_size < 3000
    reader = VideoReader(video)
    assert reader.fps == 0.001 and reader.num_frames == 7
    stand_in = types.SimpleNamespace(pretrained_cfg=get_pretrained_cfg(ARCH), class_names=None)
    for window in (0.7, 1e-300):
        with pytest.raises(UsageError, match=f"slow.y4m: window={window:g} s is shorter than one frame "
                                             r"\(1000 s at 0.001 fps\)"):
            predict_windows(stand_in, reader, window=window, views=1)  # type: ignore[arg-type]
    assert list(window_ranges(7000.0, 1000.0, 1000.0, fps=0.001))[-1] == (6000.0, 7000.0)


def _direct(model: torch.nn.Module, video: Path, f0: int, f1: int, views: str) -> torch.Tensor:
    """The window's probabilities computed without windows.py: sample inside [f0, f1), eager model."""
    tf = test_transform(model.pretrained_cfg, views=views)
    idx = tf.sample(f1 - f0) + f0
    assert idx.min() >= f0 and idx.max() < f1
    frames = VideoReader(video).read(idx)
    clips = tf(frames, indices=idx)
    with torch.inference_mode():
        return model(clips).softmax(1).mean(0)


@pytest.mark.slow
def test_windows_match_direct_computation(model, video: Path) -> None:
    reference = copy.deepcopy(model)  # predict_windows folds BatchNorm in place
    out = list(predict_windows(copy.deepcopy(model), video, window=4, stride=2, topk=3, views=1))
    assert len(out) == 9 and [w.index for w in out] == list(range(9)) and out[0].total == 9
    assert (out[0].start, out[0].end, out[0].start_frame, out[0].end_frame) == (0.0, 4.0, 0, 40)
    assert (out[-1].start, out[-1].end, out[-1].start_frame, out[-1].end_frame) == (16.0, 20.0, 160, 200)
    _check(reference, video, [out[3], out[-1]], "val")


@pytest.mark.slow
def test_windows_full_protocol(model, video: Path) -> None:
    """views=None: the weight's test protocol (here 2 clips x 3 crops) inside each window."""
    reference = copy.deepcopy(model)
    out = list(predict_windows(copy.deepcopy(model), video, window=12, stride=10, topk=3))
    assert [(w.start_frame, w.end_frame) for w in out] == [(0, 120), (100, 200)]
    _check(reference, video, out[1:], "test")


def _check(reference, video, windows, views: str) -> None:
    model = reference
    for w in windows:
        probs = _direct(reference, video, w.start_frame, w.end_frame, views)
        best = probs.topk(3)
        assert [p.index for p in w.topk] == best.indices.tolist()
        assert [p.label for p in w.topk] == [model.class_names[i] for i in best.indices.tolist()]
        np.testing.assert_allclose([p.probability for p in w.topk], best.values.numpy(), atol=1e-5)


@pytest.mark.slow
def test_cli_window_json_lines(model, video: Path, tmp_path: Path, capsys) -> None:
    folder = sz.save_pretrained(model, tmp_path / "small")  # keeps the small test protocol
    assert main(["predict", str(video), "--model", f"local-dir:{folder}", "--views", "1",
                 "--window", "5", "--json", "--topk", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [(r["start"], r["end"]) for r in rows] == [(0, 5), (5, 10), (10, 15), (15, 20)]
    assert all(len(r["topk"]) == 2 and r["topk"][0]["label"] in "abcde" for r in rows)
    assert main(["predict", str(video), "--model", f"local-dir:{folder}", "--views", "1",
                 "--window", "8", "--stride", "6"]) == 0
    text = capsys.readouterr().out.strip().splitlines()
    assert len(text) == 1 + 3  # header + windows [0,8] [6,14] [12,20]
    assert "12.00-   20.00s" in text[-1]


def test_window_counter_bar_draws_only_on_a_terminal() -> None:
    import io

    from slowfast_zoo.inference.windows import _CountBar

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = _CountBar(total=4, desc="windows", stream=stream)
        bar.update(1)
        bar.clear_line()
        bar.update(3)
        bar.close()
    assert "windows [" in tty.getvalue() and "4/4" in tty.getvalue() and "\x1b[K" in tty.getvalue()
    assert pipe.getvalue() == ""
