"""Fold BatchNorm into the preceding convolution for inference.

In eval mode ``bn(conv(x)) = conv'(x)`` with ``w' = w * g`` and ``b' = beta - mean * g``,
``g = gamma / sqrt(running_var + eps)``: one op instead of two, and one pass over memory less.
Outputs change only by float rounding; inference gets faster (measured on CPU:
benchmarks/RESULTS.md, section "Measurements quoted from the code").
"""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import nn

from slowfast_zoo.models.layers import Conv3d, ConvBn, NormLateral, _triple
from slowfast_zoo.errors import ModelStateError

__all__ = ["fold_conv_bn", "fold_lateral_bn", "fuse_model"]

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def _bn_stats(bn: nn.BatchNorm3d) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(weight, bias, running_mean, running_var)`` of an affine BatchNorm that tracks statistics
    (every BatchNorm of SlowFast is built that way)."""
    weight, bias, mean, var = bn.weight, bn.bias, bn.running_mean, bn.running_var
    assert weight is not None and bias is not None, "SlowFast's BatchNorms are affine"
    assert mean is not None and var is not None, "SlowFast's BatchNorms track running statistics"
    return weight, bias, mean, var


def _folded(conv: nn.Conv3d, bn: nn.BatchNorm3d) -> tuple[torch.Tensor, torch.Tensor]:
    """``(weight, bias)`` of the conv with ``bn`` folded in, in the conv's dtype."""
    gamma, beta, mean, var = _bn_stats(bn)
    # Fold in float64 so the folded weights carry no extra rounding beyond the final cast.
    scale = gamma.double() / torch.sqrt(var.double() + bn.eps)
    weight = conv.weight.double() * scale.view(-1, 1, 1, 1, 1)
    bias = beta.double() - mean.double() * scale
    if conv.bias is not None:
        bias = bias + conv.bias.double() * scale
    return weight.to(conv.weight.dtype), bias.to(conv.weight.dtype)


@torch.no_grad()
def fold_conv_bn(unit: ConvBn) -> None:
    """Replace ``unit.bn`` by its effect on ``unit.conv`` (in place; the BN becomes Identity).

    Example:
        >>> unit = ConvBn(3, 4, 1).eval()
        >>> x = torch.randn(1, 3, 2, 4, 4)
        >>> before = unit(x)
        >>> fold_conv_bn(unit)
        >>> type(unit.bn).__name__, torch.allclose(unit(x), before, atol=1e-6)
        ('Identity', True)
    """
    conv, bn = unit.conv, unit.bn
    if not isinstance(bn, nn.BatchNorm3d):
        return  # already folded
    weight, bias = _folded(conv, bn)
    padding = conv.padding if isinstance(conv.padding, str) else _triple(conv.padding)
    fused = Conv3d(conv.in_channels, conv.out_channels, _triple(conv.kernel_size), _triple(conv.stride),
                   padding, _triple(conv.dilation), bias=True).to(device=conv.weight.device)
    assert fused.bias is not None  # built with bias=True
    fused.weight.copy_(weight)
    fused.bias.copy_(bias)
    unit.conv = fused
    unit.bn = nn.Identity()


@torch.no_grad()
def fold_lateral_bn(lateral: NormLateral) -> None:
    """Fold a ``lateral_norm`` lateral's BatchNorm into its own conv (in place; ReLU stays).

    Example:
        >>> lateral = NormLateral(2, 4, (5, 1, 1), (8, 1, 1), (2, 0, 0)).eval()
        >>> fold_lateral_bn(lateral)
        >>> type(lateral.bn).__name__, lateral.bias.shape
        ('Identity', torch.Size([4]))
    """
    if not isinstance(lateral.bn, nn.BatchNorm3d):
        return  # already folded
    weight, bias = _folded(lateral, lateral.bn)
    lateral.weight.copy_(weight)
    lateral.bias = nn.Parameter(bias)
    lateral.bn = nn.Identity()


def fuse_model(model: ModuleT) -> ModuleT:
    """Fold every :class:`ConvBn` of ``model`` (must be in eval mode). Returns ``model``.

    Any module holding :class:`ConvBn` units or ``lateral_norm`` laterals works (a whole
    :class:`~slowfast_zoo.models.slowfast.SlowFast`, one bottleneck...).

    Example:
        >>> from slowfast_zoo.models.layers import Bottleneck
        >>> block = fuse_model(Bottleneck(8, 2).eval())
        >>> sum(isinstance(m, nn.BatchNorm3d) for m in block.modules())
        0
    """
    if model.training:
        raise ModelStateError("fuse() folds BatchNorm running statistics and is for inference only: "
                              "call model.eval() first")
    for module in model.modules():
        if isinstance(module, ConvBn):
            fold_conv_bn(module)
        elif isinstance(module, NormLateral):
            fold_lateral_bn(module)
    return model
