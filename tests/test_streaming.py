"""Streamed views (issue 15, item 1): the float views of a whole video never exist at once, and
the results are bit-identical to the materialised path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

import slowfast_zoo as sz
from slowfast_zoo.data import TestTransform, VideoReader
from slowfast_zoo.inference.engine import run_view_stream, video_scores
from slowfast_zoo.inference.predict import predict_scores
from slowfast_zoo.registry import get_arch_spec
from slowfast_zoo.registry.records import TestProtocol as Protocol
from video_factory import make_video

PROTOCOL = Protocol(clip_len=8, frame_interval=2, num_clips=4, resize_short_side=32, crop_size=32,
                        num_crops=3)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("stream") / "v.mp4", 60, 64, 48, fps=25)


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


def test_streamed_predict_equals_the_materialised_path(video: Path) -> None:
    torch.manual_seed(0)
    spec = get_arch_spec("slowfast_r50_4x16x1")
    cfg = dataclasses.replace(sz.get_pretrained_cfg("slowfast_r50_4x16x1"), test=PROTOCOL)
    model = sz.SlowFast(spec, pretrained_cfg=cfg)
    streamed = predict_scores(model, video, views_per_batch=3)
    views = sz.data.test_transform(cfg).load(video)
    assert views.shape[0] == 12
    model = sz.inference.prepare_model(model, device="cpu")  # what predict_scores ran: a prepared copy
    assert torch.equal(streamed, video_scores(model, views, views_per_batch=3))
    logits = run_view_stream(model, iter([views[:5], views[5:]]), total=12, views_per_batch=3)
    assert logits.shape == (12, 400)
    with pytest.raises(ValueError, match="views_per_chunk"):
        next(sz.data.test_transform(cfg).stream_views(VideoReader(video), np.zeros(32, np.int64), 0))


class _WholeViews(torch.utils.data.Dataset):
    """The same items as a VideoDataset, as whole float views (the materialised path)."""

    def __init__(self, ds: sz.data.VideoDataset) -> None:
        self.ds, self.labels = ds, ds.labels

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):
        return self.ds[i]


@pytest.mark.parametrize("workers,on_device", [(0, False), (0, True), (1, False)])
def test_streamed_eval_equals_the_materialised_path(tmp_path: Path, workers: int, on_device: bool) -> None:
    for i, (n, w) in enumerate([(40, 64), (25, 900), (30, 48)]):
        make_video(tmp_path / f"v{i}.mp4", n, w, 48, fps=25)
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    ann = tmp_path / "list.txt"
    ann.write_text("v0.mp4 1\nbroken.mp4 2\nv1.mp4 3\nv2.mp4 0\n")
    torch.manual_seed(0)
    cfg = dataclasses.replace(sz.get_pretrained_cfg("slowfast_r50_4x16x1"), test=PROTOCOL)
    model = sz.SlowFast(get_arch_spec("slowfast_r50_4x16x1"), pretrained_cfg=cfg)
    tf = sz.data.test_transform(cfg)
    ds = sz.data.VideoDataset(ann, tmp_path, tf, on_error="skip")
    streamed = sz.evaluation.evaluate(model, ds, device="cpu", progress=False, num_workers=workers,
                                      resize_on_device=on_device)
    prepared = sz.inference.prepare_model(model, device="cpu")  # what evaluate ran: a prepared copy
    whole = sz.evaluation.evaluate(prepared, _WholeViews(ds), device="cpu", progress=False, prepare=False)
    assert streamed.num_evaluated == 3 and [f.index for f in streamed.failures] == [1]
    assert np.array_equal(streamed.scores, whole.scores) and streamed.metrics == whole.metrics
    assert isinstance(ds.load_decoded(0)[0], sz.data.views.DecodedVideo)


def test_streamed_features_equal_the_materialised_path(video: Path) -> None:
    from slowfast_zoo.inference.engine import prepare_model, run_views
    from slowfast_zoo.inference.features import extract_features

    torch.manual_seed(0)
    cfg = dataclasses.replace(sz.get_pretrained_cfg("slowfast_r50_4x16x1"), test=PROTOCOL)
    model = prepare_model(sz.SlowFast(get_arch_spec("slowfast_r50_4x16x1"), pretrained_cfg=cfg), device="cpu")
    feats = extract_features(model, video, crop="three", clips_per_chunk=3, views_per_batch=2, prepare=False)
    reader = VideoReader(video)
    expected = []
    for part in (feats.frame_indices[:3], feats.frame_indices[3:]):
        views = TestTransform(clip_len=8, frame_interval=2, num_clips=len(part), resize_short_side=32,
                             crop_size=32, num_crops=3).read_views(reader, part.numpy())
        pooled = run_views(model, views, views_per_batch=2, pre_logits=True)
        expected.append(pooled.view(3, len(part), -1).mean(0))
    assert torch.equal(feats.embeddings, torch.cat(expected))


def test_prefetched_keeps_order_raises_and_stops() -> None:
    from slowfast_zoo.inference.engine import prefetched

    assert list(prefetched(iter(range(7)))) == list(range(7))

    def broken():
        yield 1
        raise ValueError("decode failed")

    got = []
    with pytest.raises(ValueError, match="decode failed"):
        for x in prefetched(broken()):
            got.append(x)
    assert got == [1]
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    for x in prefetched(endless()):
        if x == 2:
            break
    assert len(produced) <= 5  # the producer stopped shortly after the consumer left
