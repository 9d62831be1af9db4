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
from slowfast_zoo.predict import predict_scores
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
    assert torch.equal(streamed, video_scores(model, views, views_per_batch=3))
    logits = run_view_stream(model, iter([views[:5], views[5:]]), total=12, views_per_batch=3)
    assert logits.shape == (12, 400)
    with pytest.raises(ValueError, match="views_per_chunk"):
        next(sz.data.test_transform(cfg).stream_views(VideoReader(video), np.zeros(32, np.int64), 0))
