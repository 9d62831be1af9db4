"""Tests of slowfast_zoo.data.datasets: VideoDataset / RawframeDataset over annotation lists, damaged
and hostile files with on_error="skip", annotation errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.io import write_png

import slowfast_zoo as sz
from hostile_files import DAMAGE, crafted, damaged_variants, samples
from slowfast_zoo.data import (
    AnnotationError,
    Failure,
    RawframeDataset,
    TestTransform,
    VideoDataset,
    VideoDecodeError,
    VideoReader,
    collate_skip_failures,
    test_transform,
)
from slowfast_zoo.registry.records import TestProtocol as _TestProtocol

SMALL = _TestProtocol(clip_len=4, frame_interval=2, num_clips=2, resize_short_side=8, crop_size=8,
                     num_crops=3, val_num_clips=1, val_crop_size=6)
SMALL_TF = dict(clip_len=8, frame_interval=2, num_clips=2, resize_short_side=64, crop_size=64, num_crops=3)


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


@pytest.mark.slow
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


# ------------------------------------------------------------------------- hostile files
@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("hostile")
    items = list(crafted(root / "crafted"))
    items += [(p, "damaged") for p in damaged_variants(samples(), root / "damaged", DAMAGE[:4])]
    return items


@pytest.mark.slow
def test_dataset_skips_what_used_to_crash(hostile, tmp_path: Path) -> None:
    """AttributeError/IndexError from PyAV used to end a run: now every item is views or a Failure."""
    ann = tmp_path / "list.txt"
    ann.write_text("".join(f"{p} 0\n" for p, _ in hostile if " " not in str(p)))
    ds = VideoDataset(ann, None, TestTransform(**SMALL_TF), on_error="skip")
    items = [ds[i] for i in range(len(ds))]
    failures = [x for x in items if isinstance(x, sz.data.Failure)]
    assert failures and len(failures) < len(items)
    assert all(f.path in f.reason or "VideoDecodeError" in f.reason for f in failures)
