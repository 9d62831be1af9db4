"""Tests of slowfast_zoo.models (SlowFast, as create_model builds it): the timm-style model contract,
checked for every architecture on tiny random inputs, the classifier, arguments refused early."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import slowfast_zoo as sz
from slowfast_zoo.data import TestTransform
from slowfast_zoo.errors import UsageError

# The video classifiers; the detectors' contract (boxes in) is tests/test_models_detector.py's.
ARCHS = [a for a in sz.list_models() if sz.registry.ARCHS[a].task == "recognition"]
SMALL = dict(clip_len=8, frame_interval=2, num_clips=2, resize_short_side=64, crop_size=64, num_crops=3)


@pytest.fixture(scope="module", params=ARCHS)
def model(request):
    torch.manual_seed(0)
    return sz.create_model(request.param).eval()


@pytest.mark.slow
def test_contract(model):
    assert model.num_classes == model.spec.num_classes == model.pretrained_cfg.num_classes
    assert model.num_features == 2304
    assert model.pretrained_cfg.architecture == model.spec.name
    x = torch.randn(2, 3, 32, 32, 48)
    with torch.no_grad():
        slow, fast = model.forward_features(x)
        t_slow = 32 // model.spec.tau
        assert slow.shape == (2, 2048, t_slow, 1, 2) and fast.shape == (2, 256, 32, 1, 2)
        feats = model.forward_head((slow, fast), pre_logits=True)
        logits = model.forward_head((slow, fast))
        assert torch.equal(logits, model(x))
    assert feats.shape == (2, 2304) and logits.shape == (2, model.num_classes)
    # The checkpoint's order, exposed as slices: MMAction2's fast 256 pooled channels first, then
    # the slow 2048; PySlowFast's slow first.
    mmaction2 = not model.spec.name.startswith("pysf_")
    assert (model.fast_channels, model.slow_channels) == (
        (slice(0, 256), slice(256, 2304)) if mmaction2 else (slice(2048, 2304), slice(0, 2048)))
    assert torch.allclose(feats[:, model.fast_channels], fast.mean(dim=(2, 3, 4)), atol=1e-6)
    assert torch.allclose(feats[:, model.slow_channels], slow.mean(dim=(2, 3, 4)), atol=1e-6)
    # Every architecture gives its head's per-position logits (one position for a global average).
    with torch.no_grad():
        logit_map = model.forward_head((slow, fast), return_map=True)
    assert logit_map.shape == (2, model.num_classes, 1, 1, 1)
    assert torch.allclose(logit_map.flatten(1), logits, atol=1e-5)
    fc = model.get_classifier()
    assert isinstance(fc, torch.nn.Linear) and fc.in_features == 2304
    assert torch.allclose(logits, fc(feats), atol=1e-6)


def test_slow_input_is_nearest_resampling():
    model = sz.create_model("slowfast_r50_8x8x1")
    x = torch.randn(1, 3, 32, 4, 4)
    for stride in (4, 8, 3):
        ours = model._resample(x, stride)
        mm = F.interpolate(x, mode="nearest", scale_factor=(1.0 / stride, 1.0, 1.0))
        assert torch.equal(ours, mm), stride
    assert model._resample(x, 8).shape[2] == 4
    assert torch.equal(model._resample(x, 8)[:, :, 1], x[:, :, 8])  # frames 0, 8, 16, 24


def test_num_classes_and_reset_classifier():
    model = sz.create_model("slowfast_r50_4x16x1", num_classes=10).eval()
    assert model.num_classes == 10 and model.fc.out_features == 10
    x = torch.randn(1, 3, 32, 32, 32)
    with torch.no_grad():
        assert model(x).shape == (1, 10)
    model.reset_classifier(7)
    assert model.num_classes == 7 and model.get_classifier().out_features == 7
    assert model.fc.bias.abs().max() == 0 and 0.005 < model.fc.weight.std() < 0.02
    model.reset_classifier(0)
    with torch.no_grad():
        assert model(x).shape == (1, 2304)
    with pytest.raises(ValueError, match="num_classes"):
        sz.create_model("slowfast_r50_4x16x1", num_classes=-1)


@pytest.mark.parametrize("shape", [(1, 3, 32, 16, 64), (1, 1, 32, 64, 64), (3, 32, 64, 64), (1, 3, 4, 64, 64)])
def test_bad_input_shapes_raise(shape):
    model = sz.create_model("slowfast_r50_4x16x1").eval()
    with pytest.raises(ValueError, match=r"\[N, 3, T, H, W\]|H, W >= 32|frames"):
        model(torch.randn(*shape))


def test_init_follows_mmaction2():
    model = sz.create_model("slowfast_r50_4x16x1")
    block = model.slow.stages[0][0]
    assert block.conv_c.bn.weight.abs().max() == 0  # zero-init residual gamma
    assert block.conv_a.bn.weight.min() == 1
    assert model.fc.bias.abs().max() == 0


def test_checkpoint_path_needs_pretrained():
    with pytest.raises(ValueError, match="pretrained=True"):
        sz.create_model("slowfast_r50_4x16x1", checkpoint_path="x.pth")


@pytest.mark.slow
def test_training_mode_backward():
    model = sz.create_model("slowfast_r50_4x16x1", num_classes=3).train()
    out = model(torch.randn(2, 3, 32, 32, 32))
    F.cross_entropy(out, torch.tensor([0, 2])).backward()
    assert model.slow.stem.conv.weight.grad is not None
    assert model.laterals[0].weight.grad is not None


def test_reset_classifier_and_pre_logits() -> None:
    model = sz.create_model("slowfast_r50_4x16x1").eval()
    x = torch.randn(3, 3, 32, 32, 32)
    model.reset_classifier(7)
    assert model.get_classifier().out_features == 7
    assert torch.count_nonzero(model.fc.bias) == 0
    with torch.no_grad():
        feats = model.forward_features(x)
        assert model.forward_head(feats).shape == (3, 7)
        assert model.forward_head(feats, pre_logits=True).shape == (3, 2304)


def test_hostile_arguments_fail_before_allocation() -> None:
    with pytest.raises(UsageError, match="num_classes"):
        sz.create_model("slowfast_r50_4x16x1", num_classes=10**12)
    with pytest.raises(ValueError, match="std > 0"):
        TestTransform(**SMALL, std=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="finite"):
        TestTransform(**SMALL, mean=(float("nan"), 0.0, 0.0))
