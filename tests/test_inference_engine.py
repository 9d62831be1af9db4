"""Tests of slowfast_zoo.inference.engine: run_views in chunks and reduced precision, its progress
bar, prefetching, and streamed views (issue 15, item 1): the float views of a whole video never
exist at once, and predict / extract_features through the engine are bit-identical to the
materialised path."""

from __future__ import annotations

import dataclasses
import io
import sys
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
from slowfast_zoo.weights.loader import convert_mmaction2_state_dict
from video_factory import make_video
from weightgen import generate_state_dict, golden_input, load_golden

PROTOCOL = Protocol(clip_len=8, frame_interval=2, num_clips=4, resize_short_side=32, crop_size=32,
                        num_crops=3)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("stream") / "v.mp4", 60, 64, 48, fps=25)


def _golden_model(arch: str) -> sz.SlowFast:
    model = sz.create_model(f"slowfast_{arch}").eval()
    model.load_state_dict(convert_mmaction2_state_dict(generate_state_dict(arch), model, source=arch))
    return model


# ------------------------------------------------------------------------- run_views
@pytest.mark.slow
def test_run_views_chunks_match_one_forward():
    from slowfast_zoo.inference.engine import prepare_model, run_views

    torch.manual_seed(0)
    model = sz.create_model("slowfast_r50_4x16x1", num_classes=7).eval()
    views = torch.randn(5, 3, 32, 32, 32)
    with torch.inference_mode():
        want = model(views)
        want_feats = model.forward_head(model.forward_features(views), pre_logits=True)
    model = prepare_model(model, device="cpu")
    got = run_views(model, views, views_per_batch=2)
    assert got.shape == (5, 7) and got.dtype == torch.float32
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(run_views(model, views, views_per_batch=3, pre_logits=True), want_feats,
                               atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="views_per_batch"):
        run_views(model, views, views_per_batch=0)


@pytest.mark.slow
@pytest.mark.parametrize("dtype,max_rel", [(torch.bfloat16, 1.5e-2), (torch.float16, 2.5e-3)])
def test_reduced_precision_autocast_against_golden(dtype, max_rel):
    # The GPU fast path's numerics (autocast through run_views on the folded channels_last model),
    # checked on CPU where autocast emulates them. r101: its golden views have top-1 margins of
    # ~0.5, far above bf16's error, so top-1 agreement is a real check (r50 4x16's are 0.015).
    # Measured (benchmarks/RESULTS.md): bf16 3.5-4.4e-3, fp16 4.9-6.5e-4 of the largest logit.
    from slowfast_zoo.inference.engine import prepare_model, run_views

    arch = "r101_r50_4x16x1"
    golden = load_golden(arch)
    want = torch.tensor(golden["logits"])
    model = prepare_model(_golden_model(arch), device="cpu")
    got = run_views(model, golden_input(golden), dtype=dtype)
    assert got.dtype == torch.float32
    rel = (got - want).abs().max().item() / want.abs().max().item()
    assert 1e-5 < rel < max_rel  # the lower bound proves the reduced precision was really used
    assert got.argmax(1).tolist() == golden["argmax_per_view"]


@pytest.mark.slow
def test_views_progress_bar_draws_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    model = sz.inference.prepare_model(sz.create_model("slowfast_r50_4x16x1"), device="cpu")
    sz.inference.run_views(model, torch.zeros(4, 3, 8, 32, 32), views_per_batch=2, progress=True)
    assert "views" in tty.getvalue()
    quiet = Tty()
    monkeypatch.setattr(sys, "stderr", quiet)
    sz.inference.run_views(model, torch.zeros(2, 3, 8, 32, 32))
    assert quiet.getvalue() == ""  # quiet by default in library calls


# ------------------------------------------------------------------------- streamed views
@pytest.mark.slow
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


@pytest.mark.slow
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
