"""Tests of slowfast_zoo.models.fusion and the channels_last_3d convolutions of models.layers: the
inference fast paths (BatchNorm folding, channels_last_3d) keep MMAction2's golden outputs."""

from __future__ import annotations


import pytest
import torch

import slowfast_zoo as sz
import weightgen
from slowfast_zoo.weights.loader import convert_mmaction2_state_dict
from weightgen import LN, SS, Files
from weightgen import ARCHS, MODEL_NAMES, generate_state_dict, golden_input, load_golden


def _golden_model(arch: str) -> sz.SlowFast:
    model = sz.create_model(f"slowfast_{arch}").eval()
    model.load_state_dict(convert_mmaction2_state_dict(generate_state_dict(arch), model, source=arch))
    return model


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
def test_one_clip_per_forward_matches_golden(arch):
    # One clip per forward is the layout-fragile case (size-1 batch strides): each view alone
    # through the fused channels_last model must still give MMAction2's logits.
    golden = load_golden(arch)
    x = golden_input(golden).contiguous(memory_format=torch.channels_last_3d)
    want = torch.tensor(golden["logits"])
    model = _golden_model(arch).fuse().to(memory_format=torch.channels_last_3d)
    with torch.inference_mode():
        got = torch.cat([model(x[i:i + 1]) for i in range(x.shape[0])])
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("arch", ["slowfast_r50_8x8x1", "pysf_slowfast_r50_8x8"])
def test_channels_last_layout_survives_the_whole_network(batch, arch):
    # Every conv must see a channels_last_3d input. Before the fix, with one clip 106 of 110 convs
    # got contiguous inputs (size-1 batch strides: torch.cat of a lateral fell back to contiguous),
    # with two the slow stem did (strided frames): the slower contiguous kernels. PySlowFast's
    # slow clip (index_select of linspace frames) must keep the layout too.
    model = sz.SlowFast(sz.registry.ARCHS[arch]).eval().fuse().to(memory_format=torch.channels_last_3d)
    seen = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv3d):
            module.register_forward_pre_hook(
                lambda m, inp, name=name: seen.append(
                    (name, inp[0].is_contiguous(memory_format=torch.channels_last_3d))))
    x = torch.randn(batch, 3, 32, 64, 64).contiguous(memory_format=torch.channels_last_3d)
    with torch.inference_mode():
        model(x)
    assert len(seen) == sum(isinstance(m, torch.nn.Conv3d) for m in model.modules())
    assert [name for name, ok in seen if not ok] == []


_KERNELS = [  # (in, out, kernel, stride, padding): every conv shape of SlowFast
    (8, 16, (1, 3, 3), (1, 2, 2), (0, 1, 1)),   # spatial bottleneck conv, strided
    (16, 32, (1, 1, 1), (1, 2, 2), (0, 0, 0)),  # projection shortcut
    (3, 8, (1, 7, 7), (1, 2, 2), (0, 3, 3)),    # slow stem
    (8, 4, (3, 1, 1), (1, 1, 1), (1, 0, 0)),    # inflated conv_a
    (8, 16, (5, 1, 1), (4, 1, 1), (2, 0, 0)),   # lateral, time-strided
    (3, 8, (5, 7, 7), (1, 2, 2), (2, 3, 3)),    # fast stem: stays 3-D
]


@pytest.mark.parametrize("cin,cout,kernel,stride,padding", _KERNELS)
@pytest.mark.parametrize("batch", [1, 3])
def test_conv3d_as_2d_equals_conv3d(cin, cout, kernel, stride, padding, batch, monkeypatch):
    from slowfast_zoo.models.layers import Conv3d

    torch.manual_seed(0)
    conv = Conv3d(cin, cout, kernel, stride, padding, bias=True)
    x = torch.randn(batch, cin, 8, 12, 10)
    want = torch.nn.functional.conv3d(x, conv.weight, conv.bias, stride, padding)
    calls = []
    real = torch.nn.functional.conv3d
    monkeypatch.setattr(torch.nn.functional, "conv3d", lambda *a, **k: calls.append(1) or real(*a, **k))

    xc = x.contiguous(memory_format=torch.channels_last_3d).requires_grad_()
    conv_cl = Conv3d(cin, cout, kernel, stride, padding, bias=True)
    conv_cl.load_state_dict(conv.state_dict())
    conv_cl.to(memory_format=torch.channels_last_3d)
    got = conv_cl(xc)
    mixed = kernel[0] > 1 and kernel[1:] != (1, 1)
    assert len(calls) == (1 if mixed else 0)  # the 2-D path is taken whenever the kernel allows
    assert got.shape == want.shape
    assert got.is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)

    # Gradients flow through the views exactly as through conv3d (fine-tuning uses this path).
    got.square().sum().backward()
    xr = x.clone().requires_grad_()
    ref = Conv3d(cin, cout, kernel, stride, padding, bias=True)
    ref.load_state_dict(conv.state_dict())
    real(xr, ref.weight, ref.bias, stride, padding).square().sum().backward()
    torch.testing.assert_close(xc.grad, xr.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(conv_cl.weight.grad, ref.weight.grad, atol=1e-3, rtol=1e-4)

    calls.clear()  # contiguous input: the ordinary 3-D kernel
    torch.testing.assert_close(conv(x), want, atol=1e-5, rtol=1e-5)
    assert len(calls) == 1


# ------------------------------------------------------------------------- the lateral-norm and sthv1 architectures

@pytest.mark.slow
@pytest.mark.parametrize("arch", [LN, SS])
def test_fused_channels_last_fast_path_keeps_golden_outputs(files: Files, arch: str) -> None:
    kind = "ln_0x" if arch == LN else "sthv1_0x"
    model = sz.create_model(MODEL_NAMES[arch], pretrained=True, checkpoint_path=files.file(kind))
    golden = load_golden(arch)
    x = weightgen.golden_input(golden)
    model = sz.inference.prepare_model(model, device="cpu")  # eval, BN folded, channels_last_3d
    assert model.is_fused
    if arch == LN:
        assert all(isinstance(lat.bn, torch.nn.Identity) and lat.bias is not None for lat in model.laterals)
    with torch.no_grad():
        logits = model(x.contiguous(memory_format=torch.channels_last_3d))
        one = model(x[:1].contiguous(memory_format=torch.channels_last_3d))  # one clip per forward
    torch.testing.assert_close(logits, torch.tensor(golden["logits"]), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(one[0], torch.tensor(golden["logits"][0]), atol=1e-4, rtol=1e-4)
    assert logits.argmax(1).tolist() == golden["argmax_per_view"]
