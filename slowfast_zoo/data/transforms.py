# Sizes and crop boxes of the pipeline steps.
#
# Reproduces the geometry of MMAction2's pipeline steps Resize, CenterCrop, ThreeCrop and
# RandomResizedCrop (OpenMMLab, Apache-2.0, https://github.com/open-mmlab/mmaction2, v0.13.0)
# and of mmcv's ``rescale_size`` (OpenMMLab, Apache-2.0), as written down in docs/SPEC.md
# sections 4.4-4.6. An independent re-implementation; no code is copied.
"""The geometry of MMAction2's test and train pipelines: sizes and crop boxes, and the resize.

* :func:`rescale_size` -- the output size of ``Resize((-1, short_side))``.
* :func:`center_crop_box`, :func:`three_crop_boxes`, :func:`random_resized_crop_box` -- boxes
  are ``(left, top, right, bottom)`` (right/bottom exclusive) on the resized frame.
* :func:`resize` -- the OpenCV-exact bilinear resize itself (:mod:`slowfast_zoo.data.bilinear`).

Cropping, normalising and the ``NCTHW`` layout have one implementation, inside the transforms
(:func:`slowfast_zoo.data.views.assemble_views`).
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Sequence

import numpy as np

from slowfast_zoo.data.bilinear import resize
from slowfast_zoo.data.resize_plan import Box, crop_hw, hw_pair
from slowfast_zoo.data.sampling import RandomSource
from slowfast_zoo.errors import UsageError, WrongTypeError

__all__ = [
    "rescale_size",
    "resize",
    "center_crop_box",
    "three_crop_boxes",
    "random_resized_crop_box",
]

def rescale_size(hw: Sequence[int], short_side: int) -> tuple[int, int]:
    """Output ``(new_h, new_w)`` of MMAction2's ``Resize(scale=(-1, short_side))``.

    The factor is ``f = short_side / min(h, w)`` (float64) and each side becomes
    ``int(side * f + 0.5)``, so the short side is exactly ``short_side`` and the long side
    is rounded half up.

    Example:
        >>> rescale_size((240, 320), 256), rescale_size((360, 640), 256)
        ((256, 341), (256, 455))
    """
    h, w = hw_pair(hw)
    if isinstance(short_side, bool) or int(short_side) != short_side or short_side < 1:
        raise UsageError(f"short_side must be a positive int, got {short_side!r}")
    f = min(math.inf / max(h, w), float(short_side) / min(h, w))
    return int(h * f + 0.5), int(w * f + 0.5)


def center_crop_box(hw: Sequence[int], size: int | Sequence[int]) -> Box:
    """MMAction2's ``CenterCrop(size)`` box on an image of ``(h, w)``.

    ``left = (w - cw) // 2``, ``top = (h - ch) // 2``. ``size`` is an int or ``(ch, cw)``.

    Raises:
        UsageError: the crop is larger than the image (MMAction2 would silently return a
            wrongly sliced crop there).

    Example:
        >>> center_crop_box((256, 341), 224)
        (58, 16, 282, 240)
    """
    h, w = hw_pair(hw)
    ch, cw = crop_hw(size)
    if ch > h or cw > w:
        raise UsageError(f"crop (height, width) {(ch, cw)} larger than the image {(h, w)}")
    left, top = (w - cw) // 2, (h - ch) // 2
    return (left, top, left + cw, top + ch)


def three_crop_boxes(hw: Sequence[int], size: int | Sequence[int]) -> list[Box]:
    """MMAction2's ``ThreeCrop(size)`` boxes, in its output order.

    Full height: left, right, middle; else full width: top, bottom, middle.
    ``step = (w - cw) // 2`` and the crops start at ``0, 2*step, step``.

    Raises:
        UsageError: the crop spans neither the full height nor the full width (MMAction2
            asserts this), or is larger than the image.

    Example:
        >>> three_crop_boxes((256, 341), 256)
        [(0, 0, 256, 256), (84, 0, 340, 256), (42, 0, 298, 256)]
    """
    h, w = hw_pair(hw)
    ch, cw = crop_hw(size)
    if ch != h and cw != w:
        raise UsageError(f"ThreeCrop needs the crop {(ch, cw)} to span the full height or "
                         f"width of the image {(h, w)} (MMAction2 raises AssertionError here)")
    if ch > h or cw > w:
        raise UsageError(f"crop (height, width) {(ch, cw)} larger than the image {(h, w)}")
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

    Example:
        >>> random_resized_crop_box((256, 340), area_range=(1.0, 1.0), aspect_ratio_range=(1.0, 1.0), rng=0)
        (42, 0, 298, 256)
    """
    h, w = hw_pair(hw)
    lo, hi = (float(v) for v in area_range)
    if not 0 < lo <= hi <= 1:
        raise UsageError(f"area_range must satisfy 0 < low <= high <= 1, got {area_range}")
    min_ar, max_ar = (float(v) for v in aspect_ratio_range)
    if not 0 < min_ar <= max_ar:
        raise UsageError(f"aspect_ratio_range must satisfy 0 < low <= high, got {aspect_ratio_range}")
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        rng = np.random.default_rng(int(rng))
    elif rng is None:
        rng = np.random.default_rng()
    if not isinstance(rng, (np.random.Generator, np.random.RandomState)):
        raise WrongTypeError(f"rng must be a numpy Generator, RandomState, int or None, got {type(rng).__name__}")
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
