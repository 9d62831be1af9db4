"""Tests of slowfast_zoo.data (VideoReader + test_transform) on every real-world sample video: the
published 30-view test pipeline."""

from __future__ import annotations

import pytest
import torch

from slowfast_zoo.data import VideoReader, rescale_size, test_transform
from test_data_decode import GPL_VIDEOS, LOCAL_VIDEOS, REAL_VIDEOS, SHARED_VIDEOS


def _path(name):
    path = (SHARED_VIDEOS if name in GPL_VIDEOS else LOCAL_VIDEOS) / name
    if not path.exists():
        pytest.skip(f"not in a clone: needs the project's real-world video collection ({name} is not redistributable)")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REAL_VIDEOS))
def test_thirty_view_test_pipeline(name):
    path = _path(name)
    tf = test_transform("slowfast_r50_4x16x1.k400_video")
    reader = VideoReader(path)
    assert reader.num_frames == REAL_VIDEOS[name]
    idx = tf.sample(reader.num_frames)
    assert idx.min() >= 0 and idx.max() < reader.num_frames and len(idx) == 320
    views = tf(reader.read(idx), indices=idx)
    assert views.shape == (30, 3, 32, 256, 256) and views.dtype == torch.float32
    assert torch.isfinite(views).all()
    # Views are crops of the resized frames: the short side is exactly 256.
    assert min(rescale_size(reader.size, 256)) == 256
    # Crop-major layout: view 0 (left/top crop of clip 0) and view 20 (middle crop of clip 0)
    # come from the same frames, so they differ only if the frame is not square.
    if reader.size[0] != reader.size[1]:
        assert not torch.equal(views[0], views[20])
