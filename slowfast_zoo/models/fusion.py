"""Fold BatchNorm into the preceding convolution for inference.

In eval mode ``bn(conv(x)) = conv'(x)`` with ``w' = w * g`` and ``b' = beta - mean * g``,
``g = gamma / sqrt(running_var + eps)``: one op instead of two, and one pass over memory less.
Outputs change only by float rounding; inference gets faster (measured on CPU:
benchmarks/RESULTS.md, section "Measurements quoted from the code").
"""

from __future__ import annotations

import torch
from torch import nn

from slowfast_zoo.models.layers import Conv3d, ConvBn, NormLateral

__all__ = ["fold_conv_bn", "fold_lateral_bn", "fuse_model"]


def _folded(conv: nn.Conv3d, bn: nn.BatchNorm3d) -> tuple[torch.Tensor, torch.Tensor]:
    """``(weight, bias)`` of the conv with ``bn`` folded in, in the conv's dtype."""
    # Fold in float64 so the folded weights carry no extra rounding beyond the final cast.
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    weight = conv.weight.double() * scale.view(-1, 1, 1, 1, 1)
    bias = bn.bias.double() - bn.running_mean.double() * scale
    if conv.bias is not None:
        bias = bias + conv.bias.double() * scale
    return weight.to(conv.weight.dtype), bias.to(conv.weight.dtype)


@torch.no_grad()
def fold_conv_bn(unit: ConvBn) -> None:
    """Replace ``unit.bn`` by its effect on ``unit.conv`` (in place; the BN becomes Identity)."""
    conv, bn = unit.conv, unit.bn
    if not isinstance(bn, nn.BatchNorm3d):
        return  # already folded
    weight, bias = _folded(conv, bn)
    fused = Conv3d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                   conv.padding, bias=True).to(device=conv.weight.device)
    fused.weight.copy_(weight)
    fused.bias.copy_(bias)
    unit.conv = fused
    unit.bn = nn.Identity()


@torch.no_grad()
def fold_lateral_bn(lateral: NormLateral) -> None:
    """Fold a ``lateral_norm`` lateral's BatchNorm into its own conv (in place; ReLU stays)."""
    if not isinstance(lateral.bn, nn.BatchNorm3d):
        return  # already folded
    weight, bias = _folded(lateral, lateral.bn)
    lateral.weight.copy_(weight)
    lateral.bias = nn.Parameter(bias)
    lateral.bn = nn.Identity()


def fuse_model(model: nn.Module) -> nn.Module:
    """Fold every :class:`ConvBn` of ``model`` (must be in eval mode). Returns ``model``."""
    if model.training:
        raise RuntimeError("fuse() folds BatchNorm running statistics and is for inference only: "
                           "call model.eval() first")
    for module in model.modules():
        if isinstance(module, ConvBn):
            fold_conv_bn(module)
        elif isinstance(module, NormLateral):
            fold_lateral_bn(module)
    return model
