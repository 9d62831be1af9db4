"""Inference fast paths (BatchNorm folding, channels_last_3d) keep MMAction2's golden outputs."""

from __future__ import annotations

import pytest
import torch

import slowfast_zoo as sz
from slowfast_zoo.weights.convert import convert_mmaction2_state_dict
from weightgen import ARCHS, generate_state_dict, golden_input, load_golden


def _golden_model(arch: str) -> sz.SlowFast:
    model = sz.create_model(f"slowfast_{arch}").eval()
    model.load_state_dict(convert_mmaction2_state_dict(generate_state_dict(arch), model, source=arch))
    return model


@pytest.mark.parametrize("arch", ARCHS)
def test_fused_and_channels_last_match_golden(arch):
    golden = load_golden(arch)
    x = golden_input(golden)
    want = torch.tensor(golden["logits"])
    model = _golden_model(arch)
    with torch.inference_mode():
        plain = model(x)
        model.fuse()
        fused = model(x)
        model.to(memory_format=torch.channels_last_3d)
        fused_cl = model(x.contiguous(memory_format=torch.channels_last_3d))
    assert model.is_fused
    assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in model.modules())
    for out in (plain, fused, fused_cl):
        torch.testing.assert_close(out, want, atol=1e-4, rtol=1e-4)
        assert out.argmax(1).tolist() == golden["argmax_per_view"]
    torch.testing.assert_close(fused, plain, atol=2e-5, rtol=1e-5)


def test_fuse_requires_eval_and_blocks_training():
    model = sz.create_model("slowfast_r50_4x16x1")
    with pytest.raises(RuntimeError, match="eval"):
        model.fuse()
    model.eval().fuse()
    with pytest.raises(RuntimeError, match="fused for inference"):
        model.train()
    model.eval()  # still allowed


def test_run_views_chunks_match_one_forward():
    from slowfast_zoo.inference import prepare_model, run_views

    torch.manual_seed(0)
    model = sz.create_model("slowfast_r50_4x16x1", num_classes=7).eval()
    views = torch.randn(5, 3, 32, 32, 32)
    with torch.inference_mode():
        want = model(views)
        want_feats = model.forward_head(model.forward_features(views), pre_logits=True)
    prepare_model(model, device="cpu")
    got = run_views(model, views, views_per_batch=2)
    assert got.shape == (5, 7) and got.dtype == torch.float32
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(run_views(model, views, views_per_batch=3, pre_logits=True), want_feats,
                               atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="views_per_batch"):
        run_views(model, views, views_per_batch=0)
