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
