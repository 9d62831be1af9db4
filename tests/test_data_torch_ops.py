"""Tests of slowfast_zoo.data.torch_ops: preprocessing as torch tensor code (issue 15, item 4).

The resize, crops and normalisation that run on an accelerator are bit-identical to the numpy
path, proven here on CPU tensors against the golden pixels, the builtin numpy resize and
``cv2.resize`` on random sizes."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from slowfast_zoo.data import TestTransform, VideoReader, rescale_size, resize, test_transform
from slowfast_zoo.data import bilinear, torch_ops
from slowfast_zoo.data.torch_ops import build_views, resize_tensor, uses_torch_ops
from slowfast_zoo.data.views import DecodedVideo
from video_factory import make_video

CASES = json.loads((Path(__file__).parent / "data" / "pipeline_cases_public.json").read_text())


@pytest.mark.parametrize("case", CASES["resize_pixels"], ids=lambda c: f"seed{c['seed']}")
def test_torch_resize_golden_pixels(case) -> None:
    img = np.random.default_rng(case["seed"]).integers(0, 256, tuple(case["input_hw"]) + (3,), dtype=np.uint8)
    hw = rescale_size(case["input_hw"], case["scale"][1])
    got = resize_tensor(torch.from_numpy(img)[None], hw)[0].numpy()
    ref = np.array(case["output"], dtype=np.uint8).reshape(case["output_shape"])
    assert np.array_equal(got, ref)


def _sizes(n: int, seed: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    rng = np.random.default_rng(seed)
    out = [((360, 640), (256, 455)), ((240, 320), (256, 341)), ((1, 5), (3, 7)), ((5, 1), (7, 3)),
           ((3, 3), (1, 1)), ((100, 700), (30, 1000)), ((64, 48), (64, 85))]
    for _ in range(n):
        out.append((tuple(int(v) for v in rng.integers(1, 150, 2)), tuple(int(v) for v in rng.integers(1, 150, 2))))
    return out


def test_torch_resize_equals_opencv_on_random_sizes() -> None:
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(7)
    for (H, W), (h, w) in _sizes(80, 11):
        img = rng.integers(0, 256, (2, H, W, 3), dtype=np.uint8)
        ref = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) for f in img]).reshape(2, h, w, 3)
        assert np.array_equal(resize_tensor(torch.from_numpy(img), (h, w)).numpy(), ref), ((H, W), (h, w))


def test_torch_resize_equals_builtin_with_windows_and_out() -> None:
    rng = np.random.default_rng(8)
    for (H, W), (h, w) in _sizes(60, 12):
        img = torch.from_numpy(rng.integers(0, 256, (3, H, W, 3), dtype=np.uint8))
        left, top = int(rng.integers(0, w)), int(rng.integers(0, h))
        box = (left, top, int(rng.integers(left + 1, w + 1)), int(rng.integers(top + 1, h + 1)))
        ref = bilinear.resize_numpy(img, (h, w), box)
        assert torch.equal(resize_tensor(img, (h, w), box=box), ref)
        out = torch.empty_like(ref)
        assert resize_tensor(img, (h, w), box=box, out=out) is out and torch.equal(out, ref)
    # Many frames go through in groups (bounded int32 work memory): same pixels.
    big = torch.from_numpy(rng.integers(0, 256, (7, 90, 120, 3), dtype=np.uint8))
    old = __import__("slowfast_zoo.data.torch_ops", fromlist=["_WORK_BYTES"])
    saved, old._WORK_BYTES = old._WORK_BYTES, 1
    try:
        assert torch.equal(resize_tensor(big, (64, 85)), bilinear.resize_numpy(big, (64, 85)))
    finally:
        old._WORK_BYTES = saved


def test_torch_resize_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="uint8"):
        resize_tensor(torch.zeros(1, 4, 4, 3), (2, 2))
    with pytest.raises(ValueError, match="does not fit"):
        resize_tensor(torch.zeros(1, 4, 4, 3, dtype=torch.uint8), (2, 2), box=(0, 0, 3, 2))
    with pytest.raises(ValueError, match="out must be"):
        resize_tensor(torch.zeros(1, 4, 4, 3, dtype=torch.uint8), (2, 2), out=torch.empty(1, 2, 3, 3, dtype=torch.uint8))


@pytest.mark.parametrize("frame_w", [64, 900])  # 900: far-apart crops, one region per crop
@pytest.mark.parametrize("num_crops", [1, 3])
def test_views_built_by_torch_equal_read_views(tmp_path: Path, frame_w: int, num_crops: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_video(tmp_path / "v.mp4", 40, frame_w, 48, fps=25)
    tf = TestTransform(clip_len=8, frame_interval=2, num_clips=4, resize_short_side=32, crop_size=32,
                       num_crops=num_crops)
    reader = VideoReader(path)
    idx = tf.sample(reader.num_frames)
    whole = tf.read_views(reader, idx)
    # on_device: the accelerator path (torch ops for the resize and the views), run on CPU tensors.
    for on_device, resized in [(False, True), (False, False), (True, False), (True, True)]:
        monkeypatch.setattr(torch_ops, "uses_torch_ops", lambda t: on_device)
        video = tf.read_decoded(reader, idx, resize=resized)
        assert isinstance(video, DecodedVideo) and video.resized is resized and video.hw == (48, frame_w)
        chunks = list(tf.iter_views(video, 5))
        assert all(c.is_contiguous(memory_format=torch.channels_last_3d) for c in chunks)
        assert torch.equal(torch.cat(chunks), whole)
    with pytest.raises(ValueError, match="sampled frames"):
        next(test_transform("slowfast_r50_4x16x1").iter_views(video, 3))


def test_build_views_one_view_by_hand() -> None:
    rng = np.random.default_rng(2)
    region = torch.from_numpy(rng.integers(0, 256, (5, 10, 12, 3), dtype=np.uint8))
    clips = torch.tensor([[0, 2], [4, 4]])
    boxes = [(1, 2, 7, 8), (6, 4, 12, 10)]
    mean, std = (10.0, 20.0, 30.0), (2.0, 3.0, 4.0)
    got = build_views([region], [((0, 0, 12, 10), [0, 1])], boxes, clips, [3], mean, std)
    # view 3 = crop 1 of clip 1 (crop-major): frames 4, 4 inside (6, 4, 12, 10).
    x = region[[4, 4], 4:10, 6:12].permute(3, 0, 1, 2).numpy().astype(np.float32)
    ref = (x - np.float32(mean)[:, None, None, None]) / np.float32(std)[:, None, None, None]
    assert got.shape == (1, 3, 2, 6, 6) and np.array_equal(got[0].numpy(), ref)


def test_the_resize_follows_the_device_with_no_switch_left(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0.3: resize_backend=, set_resize_backend() and SLOWFAST_ZOO_RESIZE_BACKEND are gone.
    with pytest.raises(TypeError, match="resize_backend"):
        test_transform("slowfast_r50_4x16x1", resize_backend="torch")  # type: ignore[call-arg]
    assert not hasattr(test_transform("slowfast_r50_4x16x1"), "resize_backend")
    assert not hasattr(bilinear, "set_resize_backend") and not hasattr(bilinear, "resize_backend")
    assert not uses_torch_ops(torch.zeros(1)) and uses_torch_ops(torch.zeros(1, device="meta"))
    monkeypatch.setenv("SLOWFAST_ZOO_RESIZE_BACKEND", "builtin")
    x = torch.from_numpy(np.random.default_rng(9).integers(0, 256, (2, 9, 13, 3), dtype=np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the variable is ignored, without a word
        assert torch.equal(resize(x, (5, 7)), bilinear.resize_numpy(x, (5, 7)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_views_on_cuda_equal_cpu(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", 40, 64, 48, fps=25)
    tf = TestTransform(clip_len=8, frame_interval=2, num_clips=4, resize_short_side=32, crop_size=32)
    reader = VideoReader(path)
    idx = tf.sample(reader.num_frames)
    video = tf.read_decoded(reader, idx, resize=False).pin_memory().to("cuda", non_blocking=True)
    assert torch.equal(torch.cat(list(tf.iter_views(video, 5))).cpu(), tf.read_views(reader, idx))
