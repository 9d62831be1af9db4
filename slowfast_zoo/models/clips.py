"""The two clips of a SlowFast: how the slow and fast pathways' frames are taken from the input.

* MMAction2 (``ArchSpec.slow_sampling="stride"``): ``ResNet3dSlowFast`` resamples the input clip
  with ``interpolate(mode="nearest", scale_factor=1/tau)`` for the slow pathway (frames 0, tau,
  2*tau, ...) and ``1/(tau/alpha)`` for the fast one.
* PySlowFast (``"linspace"``, Apache-2.0): its data loaders' ``pack_pathway_output`` gives the
  fast pathway the clip and the slow pathway ``index_select`` of
  ``linspace(0, T - 1, T // alpha).long()``: frames 0, 4, 8, 13, 17, 22, 26, 31 of 32 for alpha 4,
  not every 4th. PyTorchVideo's model zoo was trained and evaluated through the same function.

A caller may also pass ``[slow, fast]`` clips already split, as PySlowFast's models take them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Union

import torch

from slowfast_zoo.errors import UsageError
from slowfast_zoo.models.layers import is_channels_last_3d
from slowfast_zoo.registry.records import ArchSpec

__all__ = ["ClipInput", "check_clip", "resample", "linspace_frames", "split_clip"]

#: What a model takes: one normalized clip ``[N, 3, T, H, W]`` (the slow clip is derived from
#: it), or ``[slow, fast]`` clips already split, as PySlowFast's ``pack_pathway_output`` gives.
ClipInput = Union[torch.Tensor, Sequence[torch.Tensor]]


def check_clip(x: torch.Tensor, spec: ArchSpec) -> None:
    """Refuse a clip the network cannot take (:class:`UsageError`), before any computation.

    Example:
        >>> import slowfast_zoo as sz
        >>> check_clip(torch.zeros(1, 3, 2, 64, 64), sz.registry.ARCHS["slowfast_r50_4x16x1"])
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.UsageError: expected at least tau=8 frames (T=32 for the published weights), got input of shape [1, 3, 2, 64, 64]
    """
    if x.ndim != 5 or x.shape[1] != 3:
        raise UsageError(f"expected input of shape [N, 3, T, H, W], got {list(x.shape)}")
    if x.shape[2] < spec.tau:
        raise UsageError(f"expected at least tau={spec.tau} frames (T={spec.num_frames} for "
                         f"the published weights), got input of shape {list(x.shape)}")
    if x.shape[3] < 32 or x.shape[4] < 32:
        raise UsageError(f"expected H, W >= 32, got input of shape {list(x.shape)}")


def resample(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Frames 0, stride, 2*stride, ... of ``x`` (MMAction2's nearest-neighbour resampling).

    Example:
        >>> resample(torch.arange(10.0).view(1, 1, 10, 1, 1), 4).flatten().tolist()
        [0.0, 4.0]
    """
    # MMAction2 calls interpolate(mode="nearest", scale_factor=(1/stride, 1, 1)): it keeps
    # floor(T/stride) frames, at indices 0, stride, 2*stride, ... A strided view is the
    # same selection without a copy.
    if stride == 1:
        return x
    keep = math.floor(x.shape[2] * (1.0 / stride))
    view = x[:, :, : keep * stride : stride]
    # A strided view of a channels_last_3d clip is no longer channels_last_3d: copy these few
    # frames so that the slow stem (and, with one clip, the convs after it) keeps the layout.
    if is_channels_last_3d(x):
        return view.contiguous(memory_format=torch.channels_last_3d)
    return view


def linspace_frames(fast: torch.Tensor, alpha: int) -> torch.Tensor:
    """PySlowFast's slow clip: ``index_select(fast, 2, linspace(0, T - 1, T // alpha).long())``.

    Example:
        >>> linspace_frames(torch.arange(32.0).view(1, 1, 32, 1, 1), 4).flatten().tolist()
        [0.0, 4.0, 8.0, 13.0, 17.0, 22.0, 26.0, 31.0]
    """
    t = fast.shape[2]
    # The same float32 linspace, truncated by .long(), as PySlowFast: the indices are its own.
    index = torch.linspace(0, t - 1, t // alpha).long().to(fast.device)
    slow = fast.index_select(2, index)
    if is_channels_last_3d(fast):
        return slow.contiguous(memory_format=torch.channels_last_3d)
    return slow


def split_clip(x: ClipInput, spec: ArchSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(slow, fast)`` clips of network ``spec`` for an input clip, or checked ``[slow, fast]``.

    Args:
        x: one normalized clip ``[N, 3, T, H, W]``, or ``[slow, fast]`` clips (returned as they
            are, once checked).
        spec: the network; its ``slow_sampling``, ``tau`` and ``alpha`` decide the frames.

    Raises:
        UsageError: a clip of another shape, too few frames or too small frames; two clips with
            different batch or frame sizes.

    Example:
        >>> import slowfast_zoo as sz
        >>> clip = torch.zeros(2, 3, 32, 64, 64)
        >>> [t.shape[2] for t in split_clip(clip, sz.registry.ARCHS["slowfast_r50_4x16x1"])]
        [4, 32]
        >>> slow, fast = split_clip([clip[:, :, :8], clip], sz.registry.ARCHS["pysf_slowfast_r50_8x8"])
        >>> slow.shape[2], fast.shape[2]
        (8, 32)
    """
    if isinstance(x, torch.Tensor):
        check_clip(x, spec)
        fast = resample(x, spec.tau // spec.alpha)
        if spec.slow_sampling == "linspace":
            return linspace_frames(fast, spec.alpha), fast
        return resample(x, spec.tau), fast
    if len(x) != 2 or not all(isinstance(t, torch.Tensor) for t in x):
        raise UsageError("expected one clip [N, 3, T, H, W] or two clips [slow, fast]")
    slow, fast = x
    for clip in (slow, fast):
        if clip.ndim != 5 or clip.shape[1] != 3 or clip.shape[3] < 32 or clip.shape[4] < 32:
            raise UsageError(f"expected [slow, fast] clips of shape [N, 3, T, H, W] with H, W >= 32, "
                             f"got {list(slow.shape)} and {list(fast.shape)}")
    if slow.shape[0] != fast.shape[0] or slow.shape[3:] != fast.shape[3:]:
        raise UsageError(f"the slow and fast clips must have the same N, H and W, got "
                         f"{list(slow.shape)} and {list(fast.shape)}")
    return slow, fast
