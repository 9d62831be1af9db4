# Frame transforms on uint8 tensors.
#
# Reproduces the behaviour of MMAction2's pipeline steps Resize, CenterCrop, ThreeCrop,
# RandomResizedCrop, Flip, Normalize and FormatShape (OpenMMLab, Apache-2.0,
# https://github.com/open-mmlab/mmaction2, v0.13.0) and of mmcv's ``rescale_size``
# (OpenMMLab, Apache-2.0), as written down in SPEC.md sections 4.4-4.6. The bilinear
# resize reproduces OpenCV's (Apache-2.0) fixed-point INTER_LINEAR for uint8 images.
# All of it is an independent re-implementation in torch; no code is copied.
"""Transforms on uint8 video frames ``[M, H, W, C]`` (channel last, RGB), in torch.

* :func:`rescale_size`, :func:`resize` -- MMAction2's ``Resize`` (OpenCV bilinear, bit-exact).
* :func:`center_crop_box`, :func:`three_crop_boxes`, :func:`random_resized_crop_box`,
  :func:`crop` -- crop boxes are ``(left, top, right, bottom)`` (right/bottom exclusive).
* :func:`hflip`, :func:`normalize`, :func:`format_ncthw`.
"""

from __future__ import annotations

import functools
import math
import os
import numbers
import random as _pyrandom
from typing import Sequence

import numpy as np
import torch

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

Box = tuple  # (left, top, right, bottom)

# OpenCV's fixed point: coefficients scaled by 2**11 (INTER_RESIZE_COEF_BITS).
_COEF_SCALE = 2048


# --------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------

def _hw(size, what: str = "size") -> tuple[int, int]:
    try:
        h, w = size
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a (height, width) pair, got {size!r}") from None
    h, w = int(h), int(w)
    if h < 1 or w < 1:
        raise ValueError(f"{what} must be positive, got {(h, w)}")
    return h, w


def _crop_hw(size) -> tuple[int, int]:
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        return _hw((size, size), "crop size")
    return _hw(size, "crop size")


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
# Bilinear resize, bit-exact with OpenCV's cv2.resize(INTER_LINEAR) on uint8
# --------------------------------------------------------------------------------------

def _axis_coeffs(src: int, dst: int):
    """OpenCV's source index and fixed-point weights along one axis (before clamping).

    ``fx = float32((d + 0.5) * scale - 0.5)`` with ``scale = 1 / (dst / src)`` in float64,
    ``sx = floor(fx)``, ``fx -= sx``; weights ``round(float32(1 - fx) * 2048)`` and
    ``round(fx * 2048)`` (round half to even), computed independently.
    """
    scale = 1.0 / (float(dst) / float(src))
    d = np.arange(dst, dtype=np.float64)
    f = ((d + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f)
    f = (f - s).astype(np.float32)
    return s.astype(np.int64), f


def _weights(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    one = np.float32(1.0)
    scale = np.float32(_COEF_SCALE)
    w0 = np.rint((one - f) * scale).astype(np.int32)
    w1 = np.rint(f * scale).astype(np.int32)
    return w0, w1


class _ResizePlan:
    """Index and weight tables of one (src size, dst size, output window, channels) resize."""

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
        self.rows = rows.astype(np.int64)  # source rows the output needs
        self.all_rows = len(rows) == src_h
        self.r0 = inv[:n].astype(np.int64)  # into `rows`
        self.r1 = inv[n:].astype(np.int64)
        self.use_r1 = bool((b1 != 0).any())
        self.use_x1 = bool((a1 != 0).any())
        # Flat (pixel * C + channel) column indices and per-element weights, so that the
        # horizontal pass is a gather along a contiguous last dim (fast in torch).
        self.x0 = torch.from_numpy((sx[:, None] * C + ch).reshape(1, -1))
        self.x1 = torch.from_numpy((sx1[:, None] * C + ch).reshape(1, -1))
        self.a0 = torch.from_numpy(np.repeat(a0, C))
        self.a1 = torch.from_numpy(np.repeat(a1, C))
        self.b0 = b0.astype(np.int32)
        self.b1 = b1.astype(np.int32)
        self._chunk_cache: dict = {}

    def chunk_tables(self, m: int):
        """Flat row indices and row weights for a chunk of ``m`` frames."""
        t = self._chunk_cache.get(m)
        if t is None:
            R = len(self.rows)
            src_rows = (np.arange(m)[:, None] * self.src_h + self.rows[None]).reshape(-1)
            r0 = (np.arange(m)[:, None] * R + self.r0[None]).reshape(-1)
            r1 = (np.arange(m)[:, None] * R + self.r1[None]).reshape(-1)
            t = (torch.from_numpy(src_rows), torch.from_numpy(r0), torch.from_numpy(r1),
                 torch.from_numpy(np.tile(self.b0, m)).view(-1, 1),
                 torch.from_numpy(np.tile(self.b1, m)).view(-1, 1))
            if len(self._chunk_cache) < 8:
                self._chunk_cache[m] = t
        return t


@functools.lru_cache(maxsize=64)
def _resize_plan(src_h, src_w, dst_h, dst_w, box, channels) -> _ResizePlan:
    return _ResizePlan(src_h, src_w, dst_h, dst_w, box, channels)


def _check_frames(frames: torch.Tensor) -> torch.Tensor:
    if not isinstance(frames, torch.Tensor):
        raise TypeError(f"frames must be a torch.Tensor, got {type(frames).__name__}")
    if frames.dim() != 4:
        raise ValueError(f"frames must have shape [M, H, W, C], got {tuple(frames.shape)}")
    return frames


def _check_box(box, h: int, w: int, what: str = "box") -> Box:
    left, top, right, bottom = (int(v) for v in box)
    if not (0 <= left < right <= w and 0 <= top < bottom <= h):
        raise ValueError(f"{what} {(left, top, right, bottom)} does not fit in an image of "
                         f"(height, width) {(h, w)}")
    return left, top, right, bottom


_CHUNK = 2  # frames per step: keeps the int32 working set in cache

# Optional OpenCV backend. cv2 computes exactly the reference pixels (it *is* the
# reference), ~10x faster than the torch path; it is used only if importable and if it
# agrees bit for bit with the torch implementation on a self-check (so a cv2 build with
# different rounding is never used silently). Environment override:
# SLOWFAST_ZOO_RESIZE_BACKEND=torch|cv2|auto.
_BACKENDS = ("auto", "torch", "cv2")
_backend_choice = os.environ.get("SLOWFAST_ZOO_RESIZE_BACKEND", "auto").strip().lower() or "auto"
_cv2_ok: bool | None = None


def set_resize_backend(name: str) -> None:
    """Choose the bilinear resize implementation: ``"auto"`` (default: OpenCV when it is
    installed and passes a bit-exactness self-check, else torch), ``"torch"`` or ``"cv2"``."""
    global _backend_choice
    if name not in _BACKENDS:
        raise ValueError(f"resize backend must be one of {_BACKENDS}, got {name!r}")
    if name == "cv2" and not _cv2_usable():
        raise ValueError("resize backend 'cv2' requested but OpenCV (cv2) is not importable "
                         "or does not reproduce the reference pixels")
    _backend_choice = name


def resize_backend() -> str:
    """The resize implementation in use: ``"torch"`` or ``"cv2"``."""
    return "cv2" if _use_cv2() else "torch"


def _cv2_usable() -> bool:
    global _cv2_ok
    if _cv2_ok is None:
        try:
            import cv2  # noqa: F401  (optional dependency)

            rng = np.random.default_rng(0)
            ok = True
            for (H, W), (h, w) in [((12, 16), (8, 11)), ((15, 20), (10, 13)), ((37, 53), (61, 29)),
                                   ((360, 64), (256, 45)), ((7, 300), (9, 200))]:
                img = torch.from_numpy(rng.integers(0, 256, (2, H, W, 3), dtype=np.uint8))
                ref = _resize_torch(img, (h, w), (0, 0, w, h), None)
                got = _resize_cv2(img, (h, w), (0, 0, w, h), None)
                ok = ok and torch.equal(ref, got)
            _cv2_ok = ok
        except Exception:  # ImportError, or a broken cv2 build
            _cv2_ok = False
    return _cv2_ok


def _use_cv2() -> bool:
    if _backend_choice == "torch":
        return False
    return _cv2_usable()


def _resize_cv2(frames, hw, box, out):
    import cv2

    h, w = hw
    left, top, right, bottom = box
    M, C = frames.shape[0], frames.shape[3]
    if out is None:
        out = torch.empty((M, bottom - top, right - left, C), dtype=torch.uint8)
    src = frames.numpy()
    dst = out.numpy()
    full = (left, top, right, bottom) == (0, 0, w, h) and out.is_contiguous()
    for i in range(M):
        f = src[i]
        if not f.flags.c_contiguous:
            f = np.ascontiguousarray(f)
        if full:
            cv2.resize(f, (w, h), dst=dst[i], interpolation=cv2.INTER_LINEAR)
        else:
            r = cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR)
            dst[i] = r.reshape(h, w, C)[top:bottom, left:right]
    return out



def resize(frames: torch.Tensor, size: Sequence[int], *, box: Box | None = None,
           out: torch.Tensor | None = None, backend: str | None = None) -> torch.Tensor:
    """Bilinear resize of uint8 frames ``[M, H, W, C]`` to ``size = (h, w)``.

    Bit-exact with ``cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)``
    (half-pixel centres, no antialiasing, OpenCV's 11-bit fixed-point weights, a
    horizontal pass into int32 then a vertical pass with OpenCV's rounding), which is
    what MMAction2's ``Resize`` runs. The torch path is checked against the golden
    pixels and against OpenCV 5.0 on hundreds of random sizes (tests/test_transforms.py).

    Args:
        frames: uint8 ``[M, H, W, C]``.
        size: output ``(h, w)`` of the full resized image.
        box: optional ``(left, top, right, bottom)`` window of the resized image: only
            those pixels are computed (identical to resizing then cropping, cheaper).
        out: optional preallocated uint8 output ``[M, box_h, box_w, C]``.
        backend: ``"torch"``, ``"cv2"`` or ``None`` for the process-wide choice
            (:func:`set_resize_backend`; default: OpenCV when installed and verified
            bit-exact, else torch). Both give identical pixels.

    Returns:
        uint8 ``[M, h, w, C]`` (or the window). When no resampling is needed the input
        (or a view of it) is returned, like OpenCV's copy.
    """
    frames = _check_frames(frames)
    if frames.dtype != torch.uint8:
        raise TypeError(f"resize expects uint8 frames, got {frames.dtype}")
    M, H, W, C = frames.shape
    h, w = _hw(size)
    box = (0, 0, w, h) if box is None else _check_box(box, h, w)
    left, top, right, bottom = box
    if (H, W) == (h, w):
        view = frames[:, top:bottom, left:right]
        if out is None:
            return view
        out.copy_(view)
        return out
    oh, ow = bottom - top, right - left
    if out is None:
        out = torch.empty((M, oh, ow, C), dtype=torch.uint8)
    elif tuple(out.shape) != (M, oh, ow, C) or out.dtype != torch.uint8:
        raise ValueError(f"out must be uint8 {(M, oh, ow, C)}, got {out.dtype} {tuple(out.shape)}")
    if M == 0:
        return out
    if backend is None:
        use_cv2 = _use_cv2()
    elif backend in ("torch", "cv2"):
        use_cv2 = backend == "cv2"
    else:
        raise ValueError(f"backend must be None, 'torch' or 'cv2', got {backend!r}")
    if use_cv2:
        return _resize_cv2(frames, (h, w), box, out)
    return _resize_torch(frames, (h, w), box, out)


def _resize_torch(frames, hw, box, out):
    M, H, W, C = frames.shape
    h, w = hw
    plan = _resize_plan(H, W, h, w, box, C)
    oh, ow = plan.out_hw
    if out is None:
        out = torch.empty((M, oh, ow, C), dtype=torch.uint8)
    frames = frames.contiguous()
    step = _CHUNK
    tables = {}
    for i in range(0, M, step):
        m = min(step, M - i)
        if m not in tables:
            src_rows, r0, r1, b0, b1 = plan.chunk_tables(m)
            # Row weights expanded to full rows: broadcasting along the last dim is slow.
            tables[m] = (src_rows, r0, r1, b0.expand(-1, ow * C).contiguous(),
                         b1.expand(-1, ow * C).contiguous())
        src_rows, r0, r1, b0, b1 = tables[m]
        src = frames[i:i + m].view(m * H, W * C)
        if not plan.all_rows:
            src = src.index_select(0, src_rows)
        n = src.shape[0]
        # Horizontal pass: T = S[x0] * a0 + S[x1] * a1 (exact in int32), kept as T >> 4.
        if plan.identity_x:
            t = src.to(torch.int32)
            t.mul_(_COEF_SCALE >> 4)
        else:
            t = torch.gather(src, 1, plan.x0.expand(n, -1)).to(torch.int32)
            t.mul_(plan.a0)
            if plan.use_x1:
                t1 = torch.gather(src, 1, plan.x1.expand(n, -1)).to(torch.int32)
                t1.mul_(plan.a1)
                t.add_(t1)
                del t1
            t.bitwise_right_shift_(4)
        # Vertical pass with OpenCV's (SIMD) rounding:
        # (((T0 >> 4) * b0 >> 16) + ((T1 >> 4) * b1 >> 16) + 2) >> 2. T >> 4 <= 32640 and
        # b0 + b1 <= 2049, so the result is always within 0..255 (no clamp needed).
        v = t.index_select(0, r0)
        v.mul_(b0).bitwise_right_shift_(16)
        if plan.use_r1:
            v1 = t.index_select(0, r1)
            v1.mul_(b1).bitwise_right_shift_(16)
            v.add_(v1)
            del v1
        v.add_(2).bitwise_right_shift_(2)
        out[i:i + m].view(m * oh, ow * C).copy_(v)
    return out


# --------------------------------------------------------------------------------------
# Crop boxes (left, top, right, bottom)
# --------------------------------------------------------------------------------------

def center_crop_box(hw: Sequence[int], size) -> Box:
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


def three_crop_boxes(hw: Sequence[int], size) -> list[Box]:
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


def random_resized_crop_box(hw: Sequence[int], *, area_range=(0.08, 1.0),
                            aspect_ratio_range=(3 / 4, 4 / 3), max_attempts: int = 10,
                            rng=None, offset_rng=None) -> Box:
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
