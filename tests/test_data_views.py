"""Tests of slowfast_zoo.data.views: float views assembled in chunks equal those made at once and
those of the accelerator path (data.torch_ops)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slowfast_zoo.data.views import assemble_views


@pytest.mark.parametrize("channels_last", [False, True])
def test_views_normalized_in_chunks_equal_all_at_once(monkeypatch, channels_last):
    import slowfast_zoo.data.views as views_mod
    from slowfast_zoo.data.torch_ops import build_views

    region = torch.from_numpy(np.random.default_rng(6).integers(0, 256, (9, 6, 10, 3), dtype=np.uint8))
    boxes = [(0, 0, 6, 6), (4, 0, 10, 6), (2, 0, 8, 6)]
    clips = torch.tensor([[0, 2, 4], [8, 1, 1]])  # scattered and repeated frames
    args = ([region], [((0, 0, 10, 6), [0, 1, 2])], boxes, clips, [5, 0, 3], (10.0, 20.0, 30.0), (2.0, 3.0, 4.0))
    whole = assemble_views(*args, channels_last=channels_last)
    assert whole.is_contiguous(memory_format=torch.channels_last_3d if channels_last else torch.contiguous_format)
    assert torch.equal(whole, build_views(*args))  # the accelerator path, one view at a time
    monkeypatch.setattr(views_mod, "NORM_CHUNK_BYTES", 1)  # one distinct frame at a time
    assert torch.equal(assemble_views(*args, channels_last=channels_last), whole)
