"""Fold BatchNorm into the preceding convolution for inference.

In eval mode ``bn(conv(x)) = conv'(x)`` with ``w' = w * g`` and ``b' = beta - mean * g``,
``g = gamma / sqrt(running_var + eps)``: one op instead of two, and one pass over memory less.
Outputs change only by float rounding; inference gets faster (measured on CPU:
benchmarks/RESULTS.md, section "Measurements quoted from the code").
"""

from __future__ import annotations

import torch
from torch import nn

from slowfast_zoo.models.layers import Conv3d, ConvBn

__all__ = ["fold_conv_bn", "fuse_model"]


@torch.no_grad()
def fold_conv_bn(unit: ConvBn) -> None:
    """Replace ``unit.bn`` by its effect on ``unit.conv`` (in place; the BN becomes Identity)."""
    conv, bn = unit.conv, unit.bn
    if not isinstance(bn, nn.BatchNorm3d):
        return  # already folded
    # Fold in float64 so the folded weights carry no extra rounding beyond the final cast.
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    weight = conv.weight.double() * scale.view(-1, 1, 1, 1, 1)
    bias = bn.bias.double() - bn.running_mean.double() * scale
    if conv.bias is not None:
        bias = bias + conv.bias.double() * scale
    fused = Conv3d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                   conv.padding, bias=True).to(device=conv.weight.device)
    fused.weight.copy_(weight.to(conv.weight.dtype))
    fused.bias.copy_(bias.to(conv.weight.dtype))
    unit.conv = fused
    unit.bn = nn.Identity()


def fuse_model(model: nn.Module) -> nn.Module:
    """Fold every :class:`ConvBn` of ``model`` (must be in eval mode). Returns ``model``."""
    if model.training:
        raise RuntimeError("fuse() folds BatchNorm running statistics and is for inference only: "
                           "call model.eval() first")
    for module in model.modules():
        if isinstance(module, ConvBn):
            fold_conv_bn(module)
    return model
