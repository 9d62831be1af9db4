"""Presets (test/val/train transforms) and datasets: the end-to-end golden rawframe case,
equivalence of the fast paths, real videos, damaged files with on_error="skip"."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.io import write_png

from slowfast_zoo.data import (
    AnnotationError,
    Failure,
    RawframeDataset,
    RawframeReader,
    TestTransform as _TestTransform,
    VideoDataset,
    VideoDecodeError,
    VideoReader,
    center_crop_box,
    collate_skip_failures,
    rescale_size,
    resize,
    test_transform,
    three_crop_boxes,
    train_transform,
)
from pipeline_reference import normalize
from slowfast_zoo.registry.records import TestProtocol as _TestProtocol
from slowfast_zoo.registry.records import TrainProtocol

DATA = Path(__file__).parent / "data"
CASES = json.loads((DATA / "pipeline_cases_public.json").read_text())
E2E = CASES["end_to_end_test_pipeline"][0]
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
SMALL = _TestProtocol(clip_len=4, frame_interval=2, num_clips=2, resize_short_side=8, crop_size=8,
                     num_crops=3, val_num_clips=1, val_crop_size=6)


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


def _reference_views(frames: torch.Tensor, tf: _TestTransform) -> torch.Tensor:
    """The pipeline step by step with the public building blocks (no fast paths)."""
    hw = rescale_size(frames.shape[1:3], tf.resize_short_side)
    r = resize(frames, hw)
    boxes = three_crop_boxes(hw, tf.crop_size) if tf.num_crops == 3 else [center_crop_box(hw, tf.crop_size)]
    crops = torch.cat([r[:, t:b, l:rr] for l, t, rr, b in boxes])
    x = normalize(crops, tf.mean, tf.std)
    L = tf.clip_len
    x = x.reshape(-1, tf.num_clips, L, *x.shape[1:]).permute(0, 1, 5, 2, 3, 4)
    return x.reshape(-1, 3, L, *x.shape[-2:])


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


# ------------------------------------------------------------------------------ datasets

@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    vf = pytest.importorskip("video_factory")
    root = tmp_path_factory.mktemp("videos")
    vf.make_video(root / "good_a.mp4", 20, 64, 48)
    (root / "sub").mkdir()
    vf.make_video(root / "sub" / "good_b.mkv", 9, 48, 64)
    (root / "empty.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("this is not a video\n" * 20)
    return root


def test_video_dataset_skip_and_raise(videos, tmp_path):
    ann = tmp_path / "list.txt"
    ann.write_text("good_a.mp4 3\nempty.mp4 1\n\nsub/good_b 9 4\ntext.mp4 2\nmissing 5 0\n")
    tf = test_transform(SMALL)
    ds = VideoDataset(ann, videos, tf, on_error="skip")
    assert len(ds) == 5 and ds.labels == [3, 1, 4, 2, 0]
    items = [ds[i] for i in range(len(ds))]
    good = [it for it in items if not isinstance(it, Failure)]
    assert [(lab, i) for _, lab, i in good] == [(3, 0), (4, 2)]
    for views, _, _ in good:
        assert views.shape == tf.output_shape and torch.isfinite(views).all()
    fails = [it for it in items if isinstance(it, Failure)]
    assert [f.index for f in fails] == [1, 3, 4] == [f.index for f in ds.failures]
    assert fails[0].path.endswith("empty.mp4") and "empty" in fails[0].reason
    assert fails[1].path.endswith("text.mp4") and "VideoDecodeError" in fails[1].reason
    assert fails[2].path.endswith("missing") and "no such file" in fails[2].reason
    # Kinetics-style id resolved by extension; the annotation's frame count is kept.
    assert ds.resolve(2).name == "good_b.mkv" and ds.records[2].num_frames == 9
    # The reader of a good item gives the same views as the dataset.
    torch.testing.assert_close(good[0][0], tf.load(VideoReader(videos / "good_a.mp4")))
    # collate: failures travel in-band, good items are stacked.
    views, labels, indices, failures = collate_skip_failures(items[:2])
    assert views.shape == (1, *tf.output_shape) and labels.tolist() == [3] and indices.tolist() == [0]
    assert [f.index for f in failures] == [1]
    assert collate_skip_failures([items[1]])[0] is None
    # A DataLoader with a worker process: failures come back through collate.
    loader = torch.utils.data.DataLoader(ds, batch_size=5, num_workers=1, collate_fn=collate_skip_failures,
                                         timeout=120)  # a hung worker fails instead of blocking CI
    (views, labels, indices, failures), = list(loader)
    assert indices.tolist() == [0, 2] and [f.index for f in failures] == [1, 3, 4]
    # on_error="raise": the typed error naming the file.
    strict = VideoDataset(ann, videos, tf)
    assert strict[0][1] == 3
    with pytest.raises(VideoDecodeError, match="empty.mp4"):
        strict[1]
    with pytest.raises(VideoDecodeError, match="text.mp4"):
        strict[3]


def test_video_dataset_full_protocol(videos, tmp_path):
    ann = tmp_path / "list.txt"
    ann.write_text("good_a.mp4 1\n")
    views, label, index = VideoDataset(ann, videos, test_transform(_TestProtocol()))[0]
    assert views.shape == (30, 3, 32, 256, 256) and torch.isfinite(views).all()
    assert (label, index) == (1, 0)


def test_annotation_errors(tmp_path):
    tf = test_transform(SMALL)
    bad = tmp_path / "bad.txt"
    bad.write_text("a.mp4 1\nb.mp4 one\n")
    with pytest.raises(AnnotationError, match=r"bad.txt:2: label"):
        VideoDataset(bad, tmp_path, tf)
    bad.write_text("a.mp4 1\n\nb.mp4 2 3 4\n")
    with pytest.raises(AnnotationError, match=r"bad.txt:3: expected"):
        VideoDataset(bad, tmp_path, tf)
    bad.write_text("f 12 1\nf 0 1\n")
    with pytest.raises(AnnotationError, match=r"bad.txt:2: total_frames"):
        RawframeDataset(bad, tmp_path, tf)
    bad.write_text("f 1\n")
    with pytest.raises(AnnotationError, match=r"bad.txt:1: expected 'frame_dir"):
        RawframeDataset(bad, tmp_path, tf)
    with pytest.raises(FileNotFoundError):
        VideoDataset(tmp_path / "nope.txt", tmp_path, tf)
    with pytest.raises(ValueError, match="on_error"):
        VideoDataset(bad, tmp_path, tf, on_error="ignore")
    with pytest.raises(ValueError, match="test_mode"):
        VideoDataset(bad, tmp_path, tf, test_mode=False)


def test_rawframe_dataset_skip(tmp_path):
    video = np.random.default_rng(0).integers(0, 256, (10, 12, 16, 3), dtype=np.uint8)
    _write_rawframes(tmp_path / "ok", video)
    _write_rawframes(tmp_path / "short", video[:3])  # annotation claims 10 frames
    (tmp_path / "ann.txt").write_text("ok 10 0\nshort 10 1\nnone 10 2\n")
    ds = RawframeDataset(tmp_path / "ann.txt", tmp_path, test_transform(SMALL),
                         filename_tmpl="img_{:05d}.png", on_error="skip")
    assert ds[0][0].shape == (6, 3, 4, 8, 8)
    f1, f2 = ds[1], ds[2]
    assert isinstance(f1, Failure) and "img_0000" in f1.reason
    assert isinstance(f2, Failure) and f2.path.endswith("none")
