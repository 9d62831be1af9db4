"""Fused oneDNN convolutions for CPU inference of a folded model: conv (+ residual add) + ReLU.

After :meth:`SlowFast.fuse` every conv carries its BatchNorm as a bias, so a bottleneck is
``relu(conv_c(relu(conv_b(relu(conv_a(x))))) + shortcut(x))``. Eager PyTorch runs each ReLU
and the residual add as separate passes over memory; oneDNN can apply them as post-ops of
the convolution (``torch.ops.mkldnn._convolution_pointwise``, the kernel that Inductor's
CPU freezing path uses). Same arithmetic (the add and ReLU in float32 after the conv), fewer
passes: on the reference 2-core AVX2 CPU this is the largest single speed-up of r50 4x16x1
(see benchmarks/RESULTS.md). Used only where it is exact to use: float32 CPU tensors, no
autograd, no autocast, oneDNN available; everything else takes the eager path.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["available", "usable", "conv_act"]

_OPS = getattr(torch.ops, "mkldnn", None)


def available() -> bool:
    """oneDNN fused convolutions can run in this build of PyTorch."""
    try:
        return bool(torch.backends.mkldnn.is_available()) and hasattr(_OPS, "_convolution_pointwise")
    except (AttributeError, RuntimeError):  # pragma: no cover - exotic builds
        return False


_AVAILABLE = available()


def usable(x: torch.Tensor) -> bool:
    """Whether the fused path applies to this input (CPU float32 inference, no autocast)."""
    return (_AVAILABLE and x.device.type == "cpu" and x.dtype == torch.float32
            and not torch.is_grad_enabled() and not torch.is_autocast_enabled("cpu"))


def conv_act(conv: nn.Conv3d, x: torch.Tensor, relu: bool = True,
             add: torch.Tensor | None = None) -> torch.Tensor:
    """``relu(conv(x) [+ add])`` (ReLU only when ``relu``) in one oneDNN call."""
    unary = "relu" if relu else "none"
    if add is None:
        return _OPS._convolution_pointwise(x, conv.weight, conv.bias, conv.padding, conv.stride,
                                           conv.dilation, conv.groups, unary, [], "")
    return _OPS._convolution_pointwise(x, add, conv.weight, conv.bias, conv.padding, conv.stride,
                                       conv.dilation, conv.groups, "add", 1.0, unary, [], "")
