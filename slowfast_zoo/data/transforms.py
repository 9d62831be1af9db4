# Frame transforms on uint8 tensors.
#
# Reproduces the behaviour of MMAction2's pipeline steps Resize, CenterCrop, ThreeCrop,
# RandomResizedCrop, Flip, Normalize and FormatShape (OpenMMLab, Apache-2.0,
# https://github.com/open-mmlab/mmaction2, v0.13.0) and of mmcv's ``rescale_size``
# (OpenMMLab, Apache-2.0), as written down in docs/SPEC.md sections 4.4-4.6. The bilinear
# resize reproduces OpenCV's (Apache-2.0) fixed-point INTER_LINEAR for uint8 images.
# All of it is an independent re-implementation (torch tensors in and out, numpy inside); no code is copied.
"""Transforms on uint8 video frames ``[M, H, W, C]`` (channel last, RGB) as torch tensors.

* :func:`rescale_size`, :func:`resize` -- MMAction2's ``Resize`` (OpenCV bilinear, bit-exact).
* :func:`center_crop_box`, :func:`three_crop_boxes`, :func:`random_resized_crop_box`,
  :func:`crop` -- crop boxes are ``(left, top, right, bottom)`` (right/bottom exclusive).
* :func:`hflip`, :func:`normalize`, :func:`format_ncthw`.
"""

from __future__ import annotations

import math
import random
import numbers
from typing import Sequence

import numpy as np
import torch

from slowfast_zoo.data.sampling import RandomSource

from slowfast_zoo.data.bilinear import (  # resize and its helpers live there (re-exported)
    Box,
    _check_box,
    _check_frames,
    _crop_hw,
    _hw,
    resize,
    resize_backend,
    set_resize_backend,
)

__all__ = [
    "rescale_size",
    "resize",
    "set_resize_backend",
    "resize_backend",
    "center_crop_box",
    "three_crop_boxes",
    "random_resized_crop_box",
    "crop",
    "hflip",
    "normalize",
    "format_ncthw",
]

# --------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------

def rescale_size(hw: Sequence[int], short_side: int) -> tuple[int, int]:
    """Output ``(new_h, new_w)`` of MMAction2's ``Resize(scale=(-1, short_side))``.

    The factor is ``f = short_side / min(h, w)`` (float64) and each side becomes
    ``int(side * f + 0.5)``, so the short side is exactly ``short_side`` and the long side
    is rounded half up: ``(240, 320) -> (256, 341)``, ``(360, 640) -> (256, 455)``.
    """
    h, w = _hw(hw)
    if isinstance(short_side, bool) or int(short_side) != short_side or short_side < 1:
        raise ValueError(f"short_side must be a positive int, got {short_side!r}")
    f = min(math.inf / max(h, w), float(short_side) / min(h, w))
    return int(h * f + 0.5), int(w * f + 0.5)


# --------------------------------------------------------------------------------------
# Crop boxes (left, top, right, bottom)
# --------------------------------------------------------------------------------------

def center_crop_box(hw: Sequence[int], size: int | Sequence[int]) -> Box:
    """MMAction2's ``CenterCrop(size)`` box on an image of ``(h, w)``.

    ``left = (w - cw) // 2``, ``top = (h - ch) // 2``. ``size`` is an int or ``(ch, cw)``.
    Raises ``ValueError`` if the crop is larger than the image (MMAction2 would silently
    return a wrongly sliced crop there).
    """
    h, w = _hw(hw)
    ch, cw = _crop_hw(size)
    if ch > h or cw > w:
        raise ValueError(f"crop (height, width) {(ch, cw)} larger than the image {(h, w)}")
    left, top = (w - cw) // 2, (h - ch) // 2
    return (left, top, left + cw, top + ch)


def three_crop_boxes(hw: Sequence[int], size: int | Sequence[int]) -> list[Box]:
    """MMAction2's ``ThreeCrop(size)`` boxes, in its output order.

    The crop must span the image's full height or full width (MMAction2 asserts this;
    here ``ValueError``). Full height: left, right, middle; else full width: top,
    bottom, middle. ``step = (w - cw) // 2`` and the crops start at ``0, 2*step, step``.
    """
    h, w = _hw(hw)
    ch, cw = _crop_hw(size)
    if ch != h and cw != w:
        raise ValueError(f"ThreeCrop needs the crop {(ch, cw)} to span the full height or "
                         f"width of the image {(h, w)} (MMAction2 raises AssertionError here)")
    if ch > h or cw > w:
        raise ValueError(f"crop (height, width) {(ch, cw)} larger than the image {(h, w)}")
    if ch == h:
        step = (w - cw) // 2
        offsets = [(0, 0), (2 * step, 0), (step, 0)]
    else:
        step = (h - ch) // 2
        offsets = [(0, 0), (0, 2 * step), (0, step)]
    return [(x, y, x + cw, y + ch) for x, y in offsets]


def random_resized_crop_box(hw: Sequence[int], *, area_range: Sequence[float] = (0.08, 1.0),
                            aspect_ratio_range: Sequence[float] = (3 / 4, 4 / 3), max_attempts: int = 10,
                            rng: RandomSource | None = None,
                            offset_rng: random.Random | None = None) -> Box:
    """A random crop box as MMAction2's ``RandomResizedCrop`` draws it.

    Draws ``max_attempts`` log-uniform aspect ratios, then as many uniform area fractions
    (both vectorised, in that order), candidate ``w = round(sqrt(area * ar))``,
    ``h = round(sqrt(area / ar))`` (round half to even); the first candidate that fits
    gets uniform integer offsets (x first); if none fits, the centred square of side
    ``min(h, w)``.

    Random source: ``rng`` is a ``numpy.random.Generator`` (default: a fresh one), an int
    seed, or a ``numpy.random.RandomState``. MMAction2 draws the ratios/areas from numpy's
    global RNG but the offsets from Python's ``random.randint``; here the offsets also come
    from ``rng`` (``integers(0, W - w + 1)``) unless ``offset_rng`` (a ``random.Random``)
    is given. ``rng=RandomState(s), offset_rng=random.Random(t)`` reproduces MMAction2
    after ``numpy.random.seed(s); random.seed(t)`` when nothing else draws in between.
    """
    h, w = _hw(hw)
    lo, hi = (float(v) for v in area_range)
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"area_range must satisfy 0 < low <= high <= 1, got {area_range}")
    min_ar, max_ar = (float(v) for v in aspect_ratio_range)
    if not 0 < min_ar <= max_ar:
        raise ValueError(f"aspect_ratio_range must satisfy 0 < low <= high, got {aspect_ratio_range}")
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        rng = np.random.default_rng(int(rng))
    elif rng is None:
        rng = np.random.default_rng()
    if not isinstance(rng, (np.random.Generator, np.random.RandomState)):
        raise TypeError(f"rng must be a numpy Generator, RandomState, int or None, got {type(rng).__name__}")
    area = h * w
    aspect = np.exp(rng.uniform(np.log(min_ar), np.log(max_ar), size=max_attempts))
    target = rng.uniform(lo, hi, size=max_attempts) * area
    cand_w = np.round(np.sqrt(target * aspect)).astype(np.int32)
    cand_h = np.round(np.sqrt(target / aspect)).astype(np.int32)
    for cw, ch in zip(cand_w.tolist(), cand_h.tolist()):
        if ch <= h and cw <= w:
            if offset_rng is not None:
                x = offset_rng.randint(0, w - cw)
                y = offset_rng.randint(0, h - ch)
            elif isinstance(rng, np.random.Generator):
                x = int(rng.integers(0, w - cw + 1))
                y = int(rng.integers(0, h - ch + 1))
            else:
                x = int(rng.randint(0, w - cw + 1))
                y = int(rng.randint(0, h - ch + 1))
            return (x, y, x + cw, y + ch)
    side = min(h, w)
    x, y = (w - side) // 2, (h - side) // 2
    return (x, y, x + side, y + side)


def crop(frames: torch.Tensor, box: Box) -> torch.Tensor:
    """View of ``frames[..., top:bottom, left:right, :]`` for ``[M, H, W, C]`` frames."""
    frames = _check_frames(frames)
    left, top, right, bottom = _check_box(box, frames.shape[1], frames.shape[2])
    return frames[:, top:bottom, left:right]


def hflip(frames: torch.Tensor) -> torch.Tensor:
    """Horizontal flip of ``[M, H, W, C]`` frames (MMAction2 ``Flip``, direction horizontal)."""
    return _check_frames(frames).flip(2)


# --------------------------------------------------------------------------------------
# Normalize and layout
# --------------------------------------------------------------------------------------

def normalize(frames: torch.Tensor, mean: Sequence[float], std: Sequence[float], *,
              to_bgr: bool = False) -> torch.Tensor:
    """float32 ``(x - mean) / std`` per channel on channel-last frames ``[..., C]``.

    ``mean``/``std`` are on the 0-255 scale in the frames' channel order (RGB). With
    ``to_bgr=True`` the channels are reversed first (MMAction2's ``to_bgr``).
    """
    if not isinstance(frames, torch.Tensor):
        raise TypeError(f"frames must be a torch.Tensor, got {type(frames).__name__}")
    c = frames.shape[-1]
    m = torch.tensor(mean, dtype=torch.float32)
    s = torch.tensor(std, dtype=torch.float32)
    if m.numel() != c or s.numel() != c:
        raise ValueError(f"mean/std need {c} values, got {m.numel()} and {s.numel()}")
    x = frames.flip(-1) if to_bgr else frames
    x = x.to(torch.float32)
    return x.sub_(m).div_(s)


def format_ncthw(frames: torch.Tensor, num_clips: int, clip_len: int) -> torch.Tensor:
    """MMAction2's ``FormatShape('NCTHW')``: ``[M, H, W, C] -> [M // clip_len, C, clip_len, H, W]``.

    ``M = crops * num_clips * clip_len`` frames ordered crop-major, then clip, then frame;
    the views come out crop-major (crop0: clip0..clipK-1, crop1: ...). Returns a
    contiguous tensor.
    """
    frames = _check_frames(frames)
    M, H, W, C = frames.shape
    if M % (num_clips * clip_len):
        raise ValueError(f"{M} frames is not a multiple of num_clips * clip_len = {num_clips * clip_len}")
    x = frames.reshape(-1, num_clips, clip_len, H, W, C)
    x = x.permute(0, 1, 5, 2, 3, 4)
    return x.reshape(-1, C, clip_len, H, W).contiguous()
