# The index and weight tables of OpenCV's fixed-point INTER_LINEAR resize, shared by the numpy
# (data/bilinear.py) and torch (data/torch_ops.py) implementations.
#
# Reproduces OpenCV's (Apache-2.0) coefficient computation for ``cv2.resize(..., INTER_LINEAR)``
# on uint8, the resize of MMAction2's ``Resize`` (docs/SPEC.md section 4.4); an independent
# re-implementation from the documented algorithm.
"""Resize plans: per (source size, output size, window, channels), which source rows/columns each
output pixel reads and with which 11-bit weights (see :mod:`slowfast_zoo.data.bilinear`)."""

from __future__ import annotations

import functools
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from slowfast_zoo.errors import UsageError, WrongTypeError

__all__ = ["Box", "COEF_SCALE", "ResizePlan", "resize_plan", "hw_pair", "crop_hw", "check_frames",
           "check_box", "check_resize_input"]

#: A window ``(left, top, right, bottom)``, right and bottom exclusive.
Box = tuple[int, int, int, int]

#: OpenCV's fixed point: coefficients scaled by 2**11 (INTER_RESIZE_COEF_BITS).
COEF_SCALE = 2048


def hw_pair(size: Any, what: str = "size") -> tuple[int, int]:
    """``(height, width)`` as positive ints, or a :class:`~slowfast_zoo.errors.UsageError`.

    Example:
        >>> hw_pair((240.0, 320))
        (240, 320)
    """
    try:
        h, w = size
    except (TypeError, ValueError):
        raise WrongTypeError(f"{what} must be a (height, width) pair, got {size!r}") from None
    h, w = int(h), int(w)
    if h < 1 or w < 1:
        raise UsageError(f"{what} must be positive, got {(h, w)}")
    return h, w


def crop_hw(size: int | Sequence[int]) -> tuple[int, int]:
    """A crop size given as an int (square) or ``(height, width)``."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        return hw_pair((size, size), "crop size")
    return hw_pair(size, "crop size")


def _axis_coeffs(src: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's source index and fraction along one axis (before clamping).

    ``fx = float32((d + 0.5) * scale - 0.5)`` with ``scale = 1 / (dst / src)`` in float64,
    ``sx = floor(fx)``, ``fx -= sx``.
    """
    scale = 1.0 / (float(dst) / float(src))
    d = np.arange(dst, dtype=np.float64)
    f = ((d + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f)
    f = (f - s).astype(np.float32)
    return s.astype(np.int64), f


def _weights(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # OpenCV rounds the two weights independently (half to even), so they need not sum to 2048.
    one = np.float32(1.0)
    scale = np.float32(COEF_SCALE)
    w0 = np.rint((one - f) * scale).astype(np.int32)
    w1 = np.rint(f * scale).astype(np.int32)
    return w0, w1


class ResizePlan:
    """Index and weight tables of one (src size, dst size, output window, channels) resize.

    Attributes:
        out_hw: ``(height, width)`` of the window computed.
        rows: the source rows the window needs; ``r0``/``r1`` index into them.
        x0, x1, a0, a1: flat ``pixel * C + channel`` source columns and their 11-bit weights.
        b0, b1: the 11-bit vertical weights of each output row.
        identity_x, all_rows, use_x1, use_r1: shortcuts the kernels may take.
    """

    def __init__(self, src_h: int, src_w: int, dst_h: int, dst_w: int, box: Box, channels: int):
        left, top, right, bottom = box
        C = channels
        # Horizontal: OpenCV clamps the source column and zeroes the fraction at borders.
        sx, fx = _axis_coeffs(src_w, dst_w)
        neg = sx < 0
        sx[neg], fx[neg] = 0, 0
        high = sx >= src_w - 1
        sx[high], fx[high] = src_w - 1, 0
        a0, a1 = _weights(fx)
        sx, a0, a1 = sx[left:right], a0[left:right], a1[left:right]
        sx1 = np.minimum(sx + 1, src_w - 1)
        # Vertical: OpenCV keeps the fraction and clamps the row index.
        sy, fy = _axis_coeffs(src_h, dst_h)
        b0, b1 = _weights(fy)
        sy, b0, b1 = sy[top:bottom], b0[top:bottom], b1[top:bottom]
        r0 = np.clip(sy, 0, src_h - 1)
        r1 = np.clip(sy + 1, 0, src_h - 1)
        rows, inv = np.unique(np.concatenate([r0, r1]), return_inverse=True)
        n = len(r0)
        ch = np.arange(C, dtype=np.int64)
        self.src_h = src_h
        self.channels = C
        self.out_hw = (bottom - top, right - left)
        self.identity_x = (src_w == dst_w and left == 0 and right == dst_w)
        self.rows = rows.astype(np.int64)
        self.all_rows = len(rows) == src_h
        self.r0 = inv[:n].astype(np.int64)
        self.r1 = inv[n:].astype(np.int64)
        self.use_r1 = bool((b1 != 0).any())
        self.use_x1 = bool((a1 != 0).any())
        # Flat column indices and per-element weights make the horizontal pass one gather along
        # a contiguous last axis instead of a gather per channel.
        self.x0 = (sx[:, None] * C + ch).reshape(-1)
        self.x1 = (sx1[:, None] * C + ch).reshape(-1)
        self.a0 = np.repeat(a0, C)
        self.a1 = np.repeat(a1, C)
        self.b0 = b0.astype(np.int32)
        self.b1 = b1.astype(np.int32)


@functools.lru_cache(maxsize=64)
def resize_plan(src_h: int, src_w: int, dst_h: int, dst_w: int, box: Box, channels: int) -> ResizePlan:
    """The (cached, immutable) :class:`ResizePlan` of one resize."""
    return ResizePlan(src_h, src_w, dst_h, dst_w, box, channels)


def check_frames(frames: object) -> torch.Tensor:
    """``frames`` if it is a 4-d tensor ``[M, H, W, C]``, else a typed error."""
    if not isinstance(frames, torch.Tensor):
        raise WrongTypeError(f"frames must be a torch.Tensor, got {type(frames).__name__}")
    if frames.dim() != 4:
        raise UsageError(f"frames must have shape [M, H, W, C], got {tuple(frames.shape)}")
    return frames


def check_box(box: Sequence[int], h: int, w: int, what: str = "box") -> Box:
    """``box`` as ints if it fits inside an image of ``(h, w)`` and is not empty."""
    left, top, right, bottom = (int(v) for v in box)
    if not (0 <= left < right <= w and 0 <= top < bottom <= h):
        raise UsageError(f"{what} {(left, top, right, bottom)} does not fit in an image of "
                         f"(height, width) {(h, w)}")
    return left, top, right, bottom


def check_resize_input(frames: object, size: Sequence[int], box: Sequence[int] | None,
                       what: str) -> tuple[torch.Tensor, tuple[int, int], Box]:
    """The checked ``(frames, (h, w), box)`` of a resize call; ``what`` names the caller in errors."""
    frames = check_frames(frames)
    if frames.dtype != torch.uint8:
        raise WrongTypeError(f"{what} expects uint8 frames, got {frames.dtype}")
    h, w = hw_pair(size)
    return frames, (h, w), (0, 0, w, h) if box is None else check_box(box, h, w)
