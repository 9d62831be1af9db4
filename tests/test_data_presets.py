"""Tests of slowfast_zoo.data.presets and train_presets (test/val/train transforms): the end-to-end
golden rawframe case, equivalence of the fast paths, each weight's own protocol (1.x sampling,
Something-Something V1's clip, template and flipped labels), big and extreme frames, streamed views."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.io import write_png

import slowfast_zoo as sz
from slowfast_zoo.data.pysf_transforms import PysfTestTransform
from slowfast_zoo.errors import UsageError
import weightgen
from pipeline_reference import normalize
from slowfast_zoo.data import (
    RawframeDataset,
    RawframeReader,
    TestTransform,
    VideoDataset,
    VideoDecodeError,
    VideoReader,
    center_crop_box,
    rescale_size,
    resize,
    sample_frames,
    test_transform,
    three_crop_boxes,
    train_transform,
)
from slowfast_zoo.registry.records import TestProtocol as _TestProtocol
from slowfast_zoo.registry.records import TrainProtocol
from video_factory import make_video

DATA = Path(__file__).parent / "data"
CASES = json.loads((DATA / "pipeline_cases_public.json").read_text())
E2E = CASES["end_to_end_test_pipeline"][0]
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
SMALL = _TestProtocol(clip_len=4, frame_interval=2, num_clips=2, resize_short_side=8, crop_size=8,
                     num_crops=3, val_num_clips=1, val_crop_size=6)
SMALL_TF = dict(clip_len=8, frame_interval=2, num_clips=2, resize_short_side=64, crop_size=64, num_crops=3)
# The child's own peak RSS in kB: VmHWM starts afresh at exec (ru_maxrss would carry the
# forking pytest process's peak over).
_PEAK = "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))"
_1X = json.loads((weightgen.REFERENCE / "sample_frames_test_1x_public.json").read_text())["cases"]


@pytest.fixture(autouse=True)
def one_thread():
    # Small tensors: intra-op threads only add overhead (a lot on a loaded CI machine).
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _write_rawframes(folder: Path, video: np.ndarray, tmpl: str = "img_{:05d}.png") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(video):
        write_png(torch.from_numpy(frame).permute(2, 0, 1).contiguous(), str(folder / tmpl.format(i + 1)))


def _e2e_video():
    T, H, W = E2E["total_frames"], *E2E["frame_hw"]
    return np.random.default_rng(E2E["seed"]).integers(0, 256, (T, H, W, 3), dtype=np.uint8)


def _reference_views(frames: torch.Tensor, tf: TestTransform) -> torch.Tensor:
    """The pipeline step by step with the public building blocks (no fast paths)."""
    hw = rescale_size(frames.shape[1:3], tf.resize_short_side)
    r = resize(frames, hw)
    boxes = three_crop_boxes(hw, tf.crop_size) if tf.num_crops == 3 else [center_crop_box(hw, tf.crop_size)]
    crops = torch.cat([r[:, t:b, l:rr] for l, t, rr, b in boxes])
    x = normalize(crops, tf.mean, tf.std)
    L = tf.clip_len
    x = x.reshape(-1, tf.num_clips, L, *x.shape[1:]).permute(0, 1, 5, 2, 3, 4)
    return x.reshape(-1, 3, L, *x.shape[-2:])


# ------------------------------------------------------------------------- presets
def test_end_to_end_rawframe_golden(tmp_path):
    _write_rawframes(tmp_path / "frames" / "vid0", _e2e_video())
    (tmp_path / "ann.txt").write_text(f"vid0 {E2E['total_frames']} 7\n")
    tf = test_transform(SMALL)
    assert (tf.clip_len, tf.frame_interval, tf.num_clips) == (4, 2, 2)
    np.testing.assert_array_equal(tf.sample(E2E["total_frames"], start_index=1), E2E["frame_inds"])
    ds = RawframeDataset(tmp_path / "ann.txt", tmp_path / "frames", tf, filename_tmpl="img_{:05d}.png")
    views, label, index = ds[0]
    assert (label, index) == (7, 0)
    ref = torch.tensor(E2E["output"], dtype=torch.float32).view(E2E["output_shape"])
    assert views.shape == ref.shape == tf.output_shape
    torch.testing.assert_close(views, ref, atol=1e-5, rtol=0)
    # The same through the reader + sample + transform, with and without de-duplication.
    reader = RawframeReader(tmp_path / "frames" / "vid0", "img_{:05d}.png", 1, E2E["total_frames"])
    idx = tf.sample(reader.num_frames, start_index=1)
    torch.testing.assert_close(tf(reader.read(idx)), ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(tf.load(reader), ref, atol=1e-5, rtol=0)
    # A rawframe folder given by path (its .png frames via a reader with that template).
    (tmp_path / "frames" / "jpgless").mkdir()
    with pytest.raises(VideoDecodeError, match="img_00001.jpg"):
        tf.load(tmp_path / "frames" / "jpgless")


@pytest.mark.parametrize("hw", [(12, 16), (16, 12), (9, 9), (20, 13)])
@pytest.mark.parametrize("views", ["test", "val"])
def test_test_transform_equals_step_by_step(hw, views):
    rng = np.random.default_rng(hw[0] * 100 + hw[1])
    video = torch.from_numpy(rng.integers(0, 256, (7, *hw, 3), dtype=np.uint8))
    tf = test_transform(SMALL, views=views)
    idx = tf.sample(7)  # short video: looping repeats frames
    frames = video[torch.from_numpy(idx)]
    ref = _reference_views(frames, tf)
    out = torch.empty(tf.output_shape)
    for got in (tf(frames), tf(frames, indices=idx), tf(frames, indices=idx, out=out)):
        assert torch.equal(got, ref)
    if views == "val":
        assert tf.output_shape == (1, 3, 4, 6, 6) and tf.num_crops == 1


def test_presets_from_registry_names():
    pytest.importorskip("slowfast_zoo.registry.pretrained")
    from slowfast_zoo.registry import get_pretrained_cfg

    for name in ("slowfast_r50_4x16x1", "slowfast_r50_4x16x1.k400_256p"):
        tf = test_transform(name)
        assert (tf.clip_len, tf.frame_interval, tf.num_clips) == (32, 2, 10)
        assert tf.output_shape == (30, 3, 32, 256, 256)
        assert tf.mean == MEAN and tf.std == STD
        assert test_transform(name, views="val").output_shape == (1, 3, 32, 224, 224)
        tr = train_transform(name)
        assert tr.output_shape == (1, 3, 32, 224, 224) and tr.flip_ratio == 0.5
        assert train_transform(get_pretrained_cfg(name), flip=False).flip_ratio == 0.0
    with pytest.raises(ValueError, match="views"):
        test_transform("slowfast_r50_4x16x1", views="train")


def test_train_transform_small():
    proto = TrainProtocol(clip_len=4, frame_interval=2, num_clips=1, resize_short_side=12, crop_size=10)
    rng = np.random.default_rng(0)
    video = torch.from_numpy(rng.integers(0, 256, (30, 15, 20, 3), dtype=np.uint8))
    tr = train_transform(proto, rng=np.random.default_rng(5))
    idx = tr.sample(30)
    assert idx.shape == (4,) and idx.max() < 30
    out = tr(video[torch.from_numpy(idx)], indices=idx)
    assert out.shape == (1, 3, 4, 10, 10) and torch.isfinite(out).all()
    # Same seed, same draws: identical sample; the fast path equals resize -> crop -> resize.
    g = np.random.default_rng(11)
    a = train_transform(proto, rng=np.random.default_rng(11), flip=False)(video[:4])
    new_hw = rescale_size((15, 20), 12)
    from slowfast_zoo.data import random_resized_crop_box

    left, top, right, bottom = random_resized_crop_box(new_hw, rng=g)
    full = resize(video[:4], new_hw)[:, top:bottom, left:right]
    ref = normalize(resize(full.contiguous(), (10, 10)), MEAN, STD).permute(3, 0, 1, 2)[None]
    assert torch.equal(a, ref)
    with pytest.raises(TypeError):
        train_transform(proto, rng="x")


def test_train_transform_flip_ratio():
    proto = TrainProtocol(clip_len=2, frame_interval=1, num_clips=1, resize_short_side=8, crop_size=8,
                          area_range=(1.0, 1.0), aspect_ratio_range=(1.0, 1.0))
    video = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8))
    plain = normalize(video, MEAN, STD).permute(3, 0, 1, 2)[None]
    tr = train_transform(proto, rng=np.random.default_rng(0))
    outs = [tr(video) for _ in range(60)]
    flipped = sum(torch.equal(o, plain.flip(-1)) for o in outs)
    assert sum(torch.equal(o, plain) for o in outs) + flipped == 60
    assert 15 <= flipped <= 45
    assert all(torch.equal(o, plain) for o in (train_transform(proto, flip=False, rng=1)(video) for _ in range(5)))


# ------------------------------------------------------------------------- each weight's own protocol
@pytest.mark.parametrize("name", sz.list_models("pysf_*", pretrained=True))
def test_pysf_protocols_get_their_own_transform(name: str) -> None:
    # PyTorchVideo / PySlowFast weights: their own frame selection and crops (test_data_pysf.py
    # checks them against the frameworks), never MMAction2's.
    test = sz.get_pretrained_cfg(name).test
    tf = sz.data.test_transform(name, short_side=20, crop_size=16)
    assert isinstance(tf, PysfTestTransform) and tf.sampling_rule == test.sampling_rule
    assert tf.output_shape == (test.num_views, 3, test.clip_len, 16, 16)
    assert tf.resize_short_side == 20
    with pytest.raises(UsageError, match="sampling_rule"):
        sz.data.test_transform("slowfast_r50_4x16x1", sampling_rule="ptv_pinned")


def test_a_detector_weight_has_no_classification_views() -> None:
    with pytest.raises(UsageError, match="action detector"):
        sz.data.test_transform("slowfast_r50_4x16x1_ava")


@pytest.mark.parametrize("name", [n for n in sz.list_models("slowfast_*", pretrained=True)
                                  if sz.get_pretrained_cfg(n).task == "recognition"])
def test_each_weight_test_transform_follows_its_generation(name: str) -> None:
    cfg = sz.get_pretrained_cfg(name)
    for views in ("test", "val"):
        tf = sz.data.test_transform(name, views=views)
        assert tf.sampling_rule == cfg.mmaction2
        n = 300
        expected = sample_frames(n, tf.clip_len, tf.frame_interval, tf.num_clips, test_mode=True,
                                 rule=cfg.mmaction2)
        assert tf.sample(n).tolist() == expected.tolist()
    case = next(c for c in _1X if (c["total_frames"], c["clip_len"], c["num_clips"], c["start_index"])
                == (300, 32, 10, 0) and c["frame_interval"] == 2)
    if cfg.mmaction2 == "1.x":
        assert sz.data.test_transform(name).sample(300).tolist() == case["frame_inds"]
    elif cfg.test.num_clips == 10:
        assert sz.data.test_transform(name).sample(300).tolist() != case["frame_inds"]


def _rawframes(folder: Path, n: int, tmpl: str, hw: tuple[int, int] = (48, 64)) -> Path:
    from torchvision.io import encode_jpeg

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, n + 1):
        img = torch.from_numpy(rng.integers(0, 256, (3, *hw), dtype=np.uint8))
        (folder / tmpl.format(i)).write_bytes(encode_jpeg(img).numpy().tobytes())
    return folder


def test_sthv1_test_protocol_on_its_own_rawframes(tmp_path: Path) -> None:
    frames = _rawframes(tmp_path / "clip1", 40, "{:05}.jpg")
    tf = sz.data.test_transform("slowfast_r50_16x8x1")
    assert tf.filename_tmpl == "{:05}.jpg" and tf.output_shape == (1, 3, 64, 256, 256)
    views = tf.load(frames)  # the folder's frames are counted with the weight's template
    assert views.shape == (1, 3, 64, 256, 256)
    # One 64-frame clip of every 2nd frame, looped, from frame 1: exactly what the reader is asked.
    expected = sample_frames(40, 64, 2, 1, test_mode=True, start_index=1)
    reader = sz.data.RawframeReader(frames, "{:05}.jpg")
    manual = TestTransform(clip_len=64, frame_interval=2, num_clips=1, resize_short_side=256, crop_size=256,
                           num_crops=1)(reader.read(expected))
    torch.testing.assert_close(views, manual, rtol=0, atol=0)
    ann = tmp_path / "val.txt"
    ann.write_text("clip1 40 3\n")
    ds = RawframeDataset(ann, tmp_path, tf)
    assert ds.filename_tmpl == "{:05}.jpg"
    torch.testing.assert_close(ds[0][0], views, rtol=0, atol=0)


@pytest.mark.slow
def test_sthv1_train_flip_swaps_labels(tmp_path: Path) -> None:
    make_video(tmp_path / "v.mp4", 70, 40, 56, fps=25)
    ann = tmp_path / "train.txt"
    ann.write_text("v.mp4 2\nv.mp4 3\nv.mp4 41\n")
    name = "slowfast_r50_16x8x1.sthv1"
    flipping = sz.data.train_transform(name, rng=np.random.default_rng(7))
    plain = sz.data.train_transform(name, flip=False, rng=np.random.default_rng(7))  # same draws
    assert flipping.flip_label_map == {2: 4, 4: 2, 30: 41, 41: 30, 52: 66, 66: 52}
    assert flipping.resize_short_side is None and flipping.clip_len == 64
    ds_f, ds_p = VideoDataset(ann, tmp_path, flipping), VideoDataset(ann, tmp_path, plain)
    seen = {True: set(), False: set()}
    for _ in range(6):
        for i, label in enumerate((2, 3, 41)):
            vf, yf, _ = ds_f[i]
            vp, yp, _ = ds_p[i]
            assert yp == label  # no flip, no swap
            flipped = torch.equal(vf, vp.flip(-1)) and not torch.equal(vf, vp)
            assert flipped or torch.equal(vf, vp)  # the same draws: flipped or identical
            assert yf == (flipping.flip_label(label) if flipped else label)
            seen[flipped].add(label)
    assert seen[True] and seen[False]  # both outcomes were drawn
    assert {2: 4, 3: 3, 41: 30} == {k: flipping.flip_label(k) for k in (2, 3, 41)}
    # A Kinetics weight's train transform swaps nothing.
    assert sz.data.train_transform("slowfast_r50_4x16x1").flip_label_map == {}


# ------------------------------------------------------------------------- big and extreme frames
@pytest.mark.slow
def test_extreme_aspect_ratio_stays_in_bounded_memory(tmp_path: Path) -> None:
    """An 8192x8 frame resizes to 262144x256: only the three crops are resized, in a child
    process whose peak RSS is measured (the published 30-view protocol)."""
    video = make_video(tmp_path / "wide.mp4", 20, 8192, 8, fps=25)
    code = ("import torch, slowfast_zoo as sz; torch.set_num_threads(1); "
            f"v = sz.data.test_transform('slowfast_r50_4x16x1').load({str(video)!r}); "
            "assert v.shape == (30, 3, 32, 256, 256) and all(torch.isfinite(x).all() for x in v); "
            f"{_PEAK}")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) < 3 * 2**20  # kB: under 3 GB (it was 22.5 GiB asked)


def test_per_crop_regions_equal_the_union_path() -> None:
    """Resizing each crop's own region gives the same pixels as resizing their union."""
    tf = TestTransform(**SMALL_TF)
    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (5, 40, 900, 3), dtype=np.uint8))
    assert len(tf._regions((40, 900))) == 3  # far apart: one region per crop
    inverse = torch.arange(16) % 5
    union = TestTransform(**{**SMALL_TF, "num_crops": 3})
    union._regions = lambda hw: [((0, 0, 1440, 64), [0, 1, 2])]  # type: ignore[method-assign]
    torch.testing.assert_close(tf.apply_unique(frames, inverse), union.apply_unique(frames, inverse),
                               rtol=0, atol=0)


def test_big_frames_are_read_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import slowfast_zoo.data.presets as presets

    video = make_video(tmp_path / "v.mp4", 30, 320, 240, fps=25)
    tf = TestTransform(**SMALL_TF)
    whole = tf.load(video)
    calls = []
    reader = VideoReader(video)
    original = reader.read
    reader.read = lambda idx, **kw: calls.append(len(idx)) or original(idx, **kw)  # type: ignore[method-assign]
    monkeypatch.setattr(presets, "READ_CHUNK_BYTES", 3 * 320 * 240 * 4)  # 4 frames per chunk
    chunked = tf.read_views(reader, tf.sample(reader.num_frames))
    assert max(calls) == 4 and len(calls) > 1
    torch.testing.assert_close(chunked, whole, rtol=0, atol=0)


# ------------------------------------------------------------------------- streamed views
@pytest.mark.parametrize("per_chunk", [1, 2, 3, 5, 12])
@pytest.mark.parametrize("frame_w", [64, 900])  # 900: far-apart crops, one region per crop
def test_stream_views_equal_read_views(tmp_path: Path, per_chunk: int, frame_w: int) -> None:
    path = make_video(tmp_path / "v.mp4", 40, frame_w, 48, fps=25)
    tf = TestTransform(clip_len=8, frame_interval=2, num_clips=4, resize_short_side=32, crop_size=32, num_crops=3)
    reader = VideoReader(path)
    idx = tf.sample(reader.num_frames)
    whole = tf.read_views(reader, idx)
    chunks = list(tf.stream_views(reader, idx, per_chunk))
    assert all(c.shape[0] <= per_chunk for c in chunks) and len(chunks) == -(-tf.num_views // per_chunk)
    assert torch.equal(torch.cat(chunks), whole)
