"""Tests of slowfast_zoo.data.transforms (sizes, crop boxes) and data.bilinear (the resize) against
MMAction2's Resize/CenterCrop/ThreeCrop/Normalize/FormatShape cases (pipeline_cases_public.json)
and against OpenCV's bilinear resize (when cv2 is installed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import slowfast_zoo.data as sz_data
from pipeline_reference import crop, format_ncthw, hflip, normalize
from slowfast_zoo.data import (
    center_crop_box,
    random_resized_crop_box,
    rescale_size,
    resize,
    three_crop_boxes,
)
from slowfast_zoo.data.bilinear import resize_cv2, resize_numpy
from slowfast_zoo.data.torch_ops import resize_tensor
from slowfast_zoo.data.views import assemble_views

CASES = json.loads((Path(__file__).parent / "data" / "pipeline_cases_public.json").read_text())


def _rc_id(c):
    return f"{c['input_hw'][0]}x{c['input_hw'][1]}-S{c['scale'][1]}"


@pytest.mark.parametrize("case", CASES["resize_and_crop"], ids=_rc_id)
def test_sizes_and_boxes_golden(case):
    assert case["scale"][0] == -1
    hw = rescale_size(case["input_hw"], case["scale"][1])
    assert list(hw) == case["output_hw"]
    for size, boxes in case["crops"].items():
        assert list(center_crop_box(hw, int(size))) == boxes["center_crop_ltrb"]
        if boxes["three_crop_ltrb"] == "AssertionError":
            with pytest.raises(ValueError, match="ThreeCrop"):
                three_crop_boxes(hw, int(size))
        else:
            assert [list(b) for b in three_crop_boxes(hw, int(size))] == boxes["three_crop_ltrb"]


def test_rescale_size_spec_examples():
    assert rescale_size((240, 320), 256) == (256, 341)
    assert rescale_size((256, 340), 256) == (256, 340)
    assert rescale_size((360, 640), 256) == (256, 455)
    assert rescale_size((480, 272), 256) == (452, 256)
    assert rescale_size((1080, 1920), 256) == (256, 455)
    assert rescale_size((240, 320), 320) == (320, 427)
    with pytest.raises(ValueError):
        rescale_size((0, 10), 256)


def test_crop_box_errors():
    with pytest.raises(ValueError, match="larger"):
        center_crop_box((200, 300), 256)
    assert three_crop_boxes((256, 256), 256) == [(0, 0, 256, 256)] * 3
    assert three_crop_boxes((452, 256), 256) == [(0, 0, 256, 256), (0, 196, 256, 452), (0, 98, 256, 354)]
    with pytest.raises(ValueError, match="larger"):
        three_crop_boxes((256, 200), 256)


# Every implementation of the resize: the numpy kernel, the torch ops (accelerators) and resize()
# itself (OpenCV when installed, else the numpy kernel, for CPU frames).
KERNELS = {"builtin": resize_numpy, "torch": resize_tensor, None: resize}


@pytest.mark.parametrize("backend", ["builtin", "torch", None])
@pytest.mark.parametrize("case", CASES["resize_pixels"], ids=lambda c: f"seed{c['seed']}")
def test_resize_pixels_golden(case, backend):
    img = np.random.default_rng(case["seed"]).integers(0, 256, tuple(case["input_hw"]) + (3,), dtype=np.uint8)
    hw = rescale_size(case["input_hw"], case["scale"][1])
    got = KERNELS[backend](torch.from_numpy(img)[None], hw)[0].numpy()
    ref = np.array(case["output"], dtype=np.uint8).reshape(case["output_shape"])
    # Measured maximum difference: 0 (bit-exact OpenCV fixed-point bilinear).
    assert np.abs(got.astype(int) - ref).max() == 0


def _random_size_cases(n, seed=1234):
    rng = np.random.default_rng(seed)
    out = [((360, 640), (256, 455)), ((240, 320), (256, 341)), ((480, 272), (452, 256)),
           ((512, 680), (256, 340)), ((256, 340), (224, 224)), ((1, 5), (3, 7)), ((5, 1), (7, 3)),
           ((1, 1), (4, 4)), ((3, 3), (1, 1)), ((100, 700), (30, 1000))]
    for _ in range(n):
        H, W = (int(v) for v in rng.integers(1, 160, 2))
        h, w = (int(v) for v in rng.integers(1, 160, 2))
        out.append(((H, W), (h, w)))
    return out


@pytest.fixture
def one_thread():
    # Many tiny tensors: intra-op threads only add overhead (a lot on a loaded CI machine).
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_resize_matches_opencv_random_sizes(one_thread):
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    worst = 0
    for (H, W), (h, w) in _random_size_cases(120):
        img = rng.integers(0, 256, (2, H, W, 3), dtype=np.uint8)
        ref = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) for f in img])
        got = resize_numpy(torch.from_numpy(img), (h, w)).numpy()
        worst = max(worst, int(np.abs(got.astype(int) - ref).max()))
        # A window of the output is the same as cropping the full output.
        left, top = int(rng.integers(0, w)), int(rng.integers(0, h))
        right, bottom = int(rng.integers(left + 1, w + 1)), int(rng.integers(top + 1, h + 1))
        win = resize_numpy(torch.from_numpy(img), (h, w), (left, top, right, bottom)).numpy()
        worst = max(worst, int(np.abs(win.astype(int) - ref[:, top:bottom, left:right]).max()))
    assert worst == 0


def test_resize_builtin_equals_cv2_backend():
    pytest.importorskip("cv2")
    x = torch.from_numpy(np.random.default_rng(3).integers(0, 256, (3, 45, 80, 3), dtype=np.uint8))
    for hw, box in [((32, 57), None), ((32, 57), (3, 0, 35, 32)), ((90, 160), (10, 20, 60, 80))]:
        assert torch.equal(resize_numpy(x, hw, box), resize_cv2(x, hw, box))


def test_resize_identity_and_no_backend_switch():
    x = torch.from_numpy(np.random.default_rng(4).integers(0, 256, (2, 10, 12, 3), dtype=np.uint8))
    assert torch.equal(resize(x, (10, 12)), x)
    assert torch.equal(resize(x, (10, 12), box=(2, 1, 8, 9)), x[:, 1:9, 2:8])
    # 0.3: the implementation follows the frames' device; the switches of 0.2 are gone.
    for gone in ("resize_backend", "set_resize_backend", "crop", "hflip", "normalize", "format_ncthw"):
        assert not hasattr(sz_data, gone) and gone not in sz_data.__all__
    with pytest.raises(TypeError, match="backend"):
        resize(x, (5, 6), backend="pil")
    with pytest.raises(TypeError):
        resize(x.float(), (5, 6))
    with pytest.raises(ValueError):
        resize(x, (5, 6), box=(0, 0, 7, 6))


@pytest.mark.parametrize("to_bgr", [False, True])
def test_normalize_golden(to_bgr):
    case = CASES["normalize"][0]
    x = np.random.default_rng(case["seed"]).integers(0, 256, tuple(case["output_shape"]), dtype=np.uint8)
    got = normalize(torch.from_numpy(x), case["mean"], case["std"], to_bgr=to_bgr)
    assert got.dtype == torch.float32
    ref = torch.tensor(case[f"to_bgr_{to_bgr}"], dtype=torch.float32).view(case["output_shape"])
    torch.testing.assert_close(got, ref, atol=1e-6, rtol=0)
    # The library's one pass (crop + Normalize + layout) gives the reference values bit for bit.
    frames = torch.from_numpy(x).flip(-1) if to_bgr else torch.from_numpy(x)
    T_, H, W, _ = frames.shape
    one = assemble_views([frames], [((0, 0, W, H), [0])], [(0, 0, W, H)], torch.arange(T_)[None], [0],
                         case["mean"], case["std"])
    assert torch.equal(one[0], got.permute(3, 0, 1, 2))


def test_format_shape_golden():
    case = CASES["format_shape"][0]
    K, L = case["num_clips"], case["clip_len"]
    frames = []
    for crop_i in range(3):
        for clip in range(K):
            for t in range(L):
                frames.append([1000 * ch + 100 * crop_i + 10 * clip + t for ch in range(3)])
    x = torch.tensor(frames, dtype=torch.float32).view(-1, 1, 1, 3)
    got = format_ncthw(x, K, L)
    assert list(got.shape) == case["output_shape"]
    assert got.reshape(-1).tolist() == case["output"]
    # The library lays its views out the same way: crop-major, then clip, channels before time.
    rng = np.random.default_rng(5)
    region = torch.from_numpy(rng.integers(0, 256, (7, 6, 10, 3), dtype=np.uint8))
    boxes = [(0, 0, 6, 6), (4, 0, 10, 6), (2, 0, 8, 6)]
    clips = torch.from_numpy(rng.integers(0, 7, (K, L)))
    views = assemble_views([region], [((0, 0, 10, 6), [0, 1, 2])], boxes, clips, range(3 * K),
                           (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    frames = torch.cat([crop(region, b)[clips.reshape(-1)] for b in boxes]).float()
    assert torch.equal(views, format_ncthw(frames, K, L))


def test_random_resized_crop_box():
    hw = (256, 340)
    boxes = [random_resized_crop_box(hw, rng=np.random.default_rng(s)) for s in range(300)]
    assert boxes[5] == random_resized_crop_box(hw, rng=5)  # int seed = default_rng(seed)
    for left, top, right, bottom in boxes:
        assert 0 <= left < right <= 340 and 0 <= top < bottom <= 256
        w, h = right - left, bottom - top
        if (w, h) != (256, 256):  # not the fallback
            assert 0.08 * 0.9 <= w * h / (256 * 340) <= 1.0
            assert 3 / 4 * 0.85 <= w / h <= 4 / 3 * 1.15
    assert len(set(boxes)) > 250
    # Impossible areas: always the centred square fallback.
    assert random_resized_crop_box((100, 300), area_range=(1.0, 1.0), aspect_ratio_range=(5, 5),
                                   rng=0) == (100, 0, 200, 100)
    # Legacy RandomState + python random: MMAction2's calls, reproducible.
    import random
    a = random_resized_crop_box(hw, rng=np.random.RandomState(1), offset_rng=random.Random(2))
    b = random_resized_crop_box(hw, rng=np.random.RandomState(1), offset_rng=random.Random(2))
    assert a == b
    with pytest.raises(ValueError):
        random_resized_crop_box(hw, area_range=(0, 1))


def test_crop_and_flip():
    x = torch.arange(2 * 4 * 5 * 3, dtype=torch.int64).view(2, 4, 5, 3).to(torch.uint8)
    assert torch.equal(crop(x, (1, 2, 4, 4)), x[:, 2:4, 1:4])
    f = hflip(x)
    assert torch.equal(f[:, :, 0], x[:, :, -1]) and torch.equal(hflip(f), x)
    with pytest.raises(ValueError):
        crop(x, (0, 0, 6, 4))
