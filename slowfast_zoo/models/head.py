"""The classification head of every SlowFast: pool each pathway, join them, classify each position.

Two heads are reproduced, chosen by the architecture's :class:`~slowfast_zoo.registry.records.ArchSpec`:

* MMAction2's ``SlowFastHead`` (Apache-2.0; ``head_pool`` empty, ``feature_order="fast_slow"``):
  each pathway averaged globally, the fast pathway's 256 channels first, then the slow 2048.
* PySlowFast's ``ResNetBasicHead`` = PyTorchVideo's ``create_res_basic_head`` as
  ``create_slowfast`` builds it (both Apache-2.0; ``head_pool`` set, ``feature_order="slow_fast"``):
  each pathway pooled by ``AvgPool3d`` of the training crop's kernel ``[T/alpha | T, 7, 7]`` with
  stride 1, slow channels first, then the linear projection at *every* position of the pooled
  map. At the training size (224 px) the map is one position; fully-convolutional testing at
  256 px gives 2x2 positions, which PySlowFast scores one by one (softmax at each, then the mean)
  and PyTorchVideo's hub models average as logits. Its multigrid short-cycle weights use the
  global average instead (``head_pool`` empty, slow channels still first).

The projection is affine, so the mean of the per-position logits equals the projection of the
mean pooled vector: :meth:`SlowFast.forward` computes the latter (one small matmul), and
``forward_head(..., return_map=True)`` gives the per-position logits ``[N, C, t, h, w]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["pool_pathways", "project_map", "feature_slices"]


def _fitted(kernel: tuple[int, ...], size: torch.Size) -> tuple[int, ...]:
    """``kernel`` clamped to the map's ``(t, h, w)``.

    A map smaller than the kernel along a dimension is averaged over that whole dimension (the
    original frameworks raise there: an input smaller than the training crop cannot run their
    head, while ours still classifies it).

    Example:
        >>> _fitted((8, 7, 7), torch.Size([8, 2, 9]))
        (8, 2, 7)
    """
    return tuple(min(k, s) for k, s in zip(kernel, size))


def pool_pathways(slow: torch.Tensor, fast: torch.Tensor, head_pool: tuple[tuple[int, int, int], ...],
                  feature_order: str) -> torch.Tensor:
    """Both pathways pooled and joined along the channels: the classifier's input map ``[N, C, t, h, w]``.

    Args:
        slow: the slow pathway's last map ``[N, 2048, T/alpha, h, w]``.
        fast: the fast pathway's last map ``[N, 256, T, h, w]``.
        head_pool: ``(slow, fast)`` AvgPool3d kernels (stride 1); empty for the global average.
        feature_order: ``"fast_slow"`` (MMAction2) or ``"slow_fast"`` (PySlowFast, PyTorchVideo).

    Example:
        >>> slow, fast = torch.ones(1, 4, 8, 8, 8), torch.zeros(1, 2, 32, 8, 8)
        >>> pooled = pool_pathways(slow, fast, ((8, 7, 7), (32, 7, 7)), "slow_fast")
        >>> pooled.shape, pooled[0, :, 0, 0, 0].tolist()
        (torch.Size([1, 6, 1, 2, 2]), [1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
        >>> pool_pathways(slow, fast, (), "fast_slow").shape
        torch.Size([1, 6, 1, 1, 1])
    """
    if not head_pool:
        pooled_slow, pooled_fast = F.adaptive_avg_pool3d(slow, 1), F.adaptive_avg_pool3d(fast, 1)
    else:
        slow_kernel, fast_kernel = _fitted(head_pool[0], slow.shape[2:]), _fitted(head_pool[1], fast.shape[2:])
        if slow.shape[2] - slow_kernel[0] != fast.shape[2] - fast_kernel[0]:
            # A clip longer than the training clip would leave the pathways with different
            # numbers of temporal positions (the frameworks fail on the concatenation): average
            # each over its whole length instead. Spatially both pathways have the same size.
            slow_kernel = (slow.shape[2], *slow_kernel[1:])
            fast_kernel = (fast.shape[2], *fast_kernel[1:])
        pooled_slow = F.avg_pool3d(slow, slow_kernel, stride=1)
        pooled_fast = F.avg_pool3d(fast, fast_kernel, stride=1)
    parts = [pooled_slow, pooled_fast] if feature_order == "slow_fast" else [pooled_fast, pooled_slow]
    return torch.cat(parts, dim=1)


def project_map(pooled: torch.Tensor, fc: nn.Module) -> torch.Tensor:
    """The classifier applied at every position: ``[N, C, t, h, w]`` -> ``[N, num_classes, t, h, w]``.

    As PySlowFast and PyTorchVideo do it: the map permuted to ``[N, t, h, w, C]``, the linear
    layer, then permuted back (``nn.Identity`` returns the map itself).

    Example:
        >>> fc = nn.Linear(6, 3)
        >>> pooled = torch.randn(2, 6, 1, 2, 2)
        >>> out = project_map(pooled, fc)
        >>> out.shape, torch.allclose(out[:, :, 0, 1, 0], fc(pooled[:, :, 0, 1, 0]))
        (torch.Size([2, 3, 1, 2, 2]), True)
    """
    return fc(pooled.movedim(1, -1)).movedim(-1, 1)


def feature_slices(feature_order: str, slow_channels: int, fast_channels: int) -> tuple[slice, slice]:
    """``(slow, fast)``: where each pathway's channels lie in the classifier's input.

    Example:
        >>> feature_slices("fast_slow", 2048, 256)
        (slice(256, 2304, None), slice(0, 256, None))
        >>> feature_slices("slow_fast", 2048, 256)
        (slice(0, 2048, None), slice(2048, 2304, None))
    """
    total = slow_channels + fast_channels
    if feature_order == "slow_fast":
        return slice(0, slow_channels), slice(slow_channels, total)
    return slice(fast_channels, total), slice(0, fast_channels)
