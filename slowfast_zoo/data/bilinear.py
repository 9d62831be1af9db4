# OpenCV-exact bilinear resize of uint8 frames.
#
# Reproduces OpenCV's (Apache-2.0) fixed-point ``cv2.resize(..., INTER_LINEAR)`` on uint8
# images, the resize MMAction2's ``Resize`` step uses (OpenMMLab, Apache-2.0; docs/SPEC.md
# section 4.4).
# An independent re-implementation from the documented algorithm; no code is copied.
"""Bilinear resize, bit-exact with OpenCV's ``INTER_LINEAR`` on uint8 (see :func:`resize`).

OpenCV's algorithm, as reproduced here: per axis, the source coordinate
``f = float32((d + 0.5) * (1 / (dst / src)) - 0.5)``, ``s = floor(f)``, ``f -= s``, and the
11-bit weights ``round(float32(1 - f) * 2048)`` and ``round(f * 2048)``. Horizontally the
source column is clamped and its fraction zeroed at the borders; vertically the weights
stay and the row index is clamped. A horizontal pass ``T = S[x] * a0 + S[x + 1] * a1``
(exact int32) is followed by the vertical pass with the rounding of OpenCV's SIMD kernel:
``(((T0 >> 4) * b0 >> 16) + ((T1 >> 4) * b1 >> 16) + 2) >> 2`` (bit-exact with OpenCV 5.0 on
x86-64; the scalar formula ``(T0 * b0 + T1 * b1 + 2**21) >> 22`` differs by 1 on some pixels).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Sequence

import numpy as np
import torch

__all__ = ["resize", "set_resize_backend", "resize_backend", "BACKENDS", "check_backend"]

from slowfast_zoo.data.resize_plan import (  # noqa: F401  (re-exported to the transforms)
    _COEF_SCALE,
    Box,
    _check_box,
    _check_frames,
    _crop_hw,
    _hw,
    _resize_plan,
    check_resize_input,
)
from slowfast_zoo.data.torch_ops import resize_tensor

# Resize implementations (the ``backend`` argument of resize() and of the transforms), all
# giving the same pixels:
# * "cv2": OpenCV computes the reference pixels (it *is* the reference), much faster than the
#   builtin numpy path on CPU (benchmarks/RESULTS.md, "Measurements quoted from the code"); used
#   only if importable and if it agrees bit for bit with the builtin path on a self-check (so a
#   cv2 build with other rounding is never used silently).
# * "builtin": the fixed-point reimplementation in numpy (CPU tensors).
# * "torch": the same integer arithmetic as torch ops (data/torch_ops.py), on any device.
# * "auto" / None: "torch" for frames on an accelerator, else "cv2" when usable, else "builtin".
BACKENDS = ("auto", "builtin", "cv2", "torch")
_LEGACY = ("auto", "builtin", "cv2")
_ENV = "SLOWFAST_ZOO_RESIZE_BACKEND"
_cv2_ok: bool | None = None
# Deprecated process-wide default, kept for one release: set only by set_resize_backend() or
# the environment variable; None means "auto".
_legacy_choice: str | None = None


def _env_choice() -> str | None:
    value = os.environ.get(_ENV, "").strip().lower()
    if not value:
        return None
    import warnings

    if value not in _LEGACY:
        warnings.warn(f"{_ENV}={value!r} is not one of {_LEGACY}; using 'auto'", RuntimeWarning, stacklevel=3)
        return None
    warnings.warn(f"{_ENV} is deprecated and will be removed in the next release: pass "
                  f"resize_backend= to test_transform()/train_transform() or backend= to resize()",
                  DeprecationWarning, stacklevel=3)
    return value


def set_resize_backend(name: str) -> None:
    """Deprecated: choose the default bilinear resize implementation process-wide.

    Pass ``resize_backend=`` to :func:`~slowfast_zoo.data.test_transform` /
    :func:`~slowfast_zoo.data.train_transform`, or ``backend=`` to :func:`resize`, instead;
    this function and the ``SLOWFAST_ZOO_RESIZE_BACKEND`` variable go in the next release.
    """
    import warnings

    warnings.warn("set_resize_backend() is deprecated and will be removed in the next release: pass "
                  "resize_backend= to test_transform()/train_transform() or backend= to resize()",
                  DeprecationWarning, stacklevel=2)
    global _legacy_choice
    if name not in _LEGACY:
        raise ValueError(f"resize backend must be one of {_LEGACY}, got {name!r}")
    _legacy_choice = check_backend(name)


def resize_backend() -> str:
    """The implementation ``backend=None`` picks for CPU frames: ``"builtin"`` or ``"cv2"``."""
    return "cv2" if _use_cv2() else "builtin"


def check_backend(backend: str | None) -> str | None:
    """``backend`` if it names an implementation (``None`` and ``"auto"`` mean automatic), else ValueError."""
    if backend is None or backend == "auto":
        return None
    if backend not in BACKENDS:
        raise ValueError(f"resize backend must be one of {BACKENDS} or None, got {backend!r}")
    if backend == "cv2" and not _cv2_usable():
        raise ValueError("resize backend 'cv2' requested but OpenCV (cv2) is not importable "
                         "or does not reproduce the reference pixels")
    return backend


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
                ref = _resize_builtin(img, (h, w), (0, 0, w, h), None)
                got = _resize_cv2(img, (h, w), (0, 0, w, h), None)
                ok = ok and torch.equal(ref, got)
            _cv2_ok = ok
        except Exception:  # ImportError, or a broken cv2 build
            _cv2_ok = False
    return _cv2_ok


def _use_cv2() -> bool:
    choice = _legacy_choice or _env_choice()
    if choice == "builtin":
        return False
    return _cv2_usable()


# A few host threads for per-frame loops: numpy (and OpenCV) release the GIL, so frames are
# processed in parallel. Sized by torch.get_num_threads(), i.e. 1 inside DataLoader workers.
_pool = None
_pool_key = None


def parallel_ranges(fn: Callable[[int, int], None], n: int, *, min_per_thread: int = 1) -> None:
    """Run ``fn(lo, hi)`` over contiguous slices of ``range(n)``, on up to
    ``torch.get_num_threads()`` threads (inline when one is enough)."""
    global _pool, _pool_key
    k = max(1, min(torch.get_num_threads(), n // max(1, min_per_thread)))
    if k == 1:
        fn(0, n)
        return
    key = (os.getpid(), k)
    if _pool is None or _pool_key != key:  # a fresh pool after fork(): threads don't survive it
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(max_workers=k, thread_name_prefix="slowfast_zoo")
        _pool_key = key
    bounds = [n * j // k for j in range(k + 1)]
    futures = [_pool.submit(fn, bounds[j], bounds[j + 1]) for j in range(k)]
    for f in futures:
        f.result()


def _resize_cv2(frames, hw, box, out):
    # Note: never call cv2.setNumThreads() in a forked DataLoader worker after the parent
    # used OpenCV: it waits for pool threads that did not survive fork() (a hang, seen in
    # tests). OpenCV's own parallel_for is used as is.
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
    what MMAction2's ``Resize`` runs. The builtin path is checked against the golden
    pixels and against OpenCV 5.0 on hundreds of random sizes (tests/test_transforms.py).

    Args:
        frames: uint8 ``[M, H, W, C]``.
        size: output ``(h, w)`` of the full resized image.
        box: optional ``(left, top, right, bottom)`` window of the resized image: only
            those pixels are computed (identical to resizing then cropping, cheaper).
        out: optional preallocated uint8 output ``[M, box_h, box_w, C]``.
        backend: ``"builtin"`` (numpy), ``"cv2"`` (OpenCV, verified bit-exact), ``"torch"``
            (torch ops, any device: :func:`slowfast_zoo.data.torch_ops.resize_tensor`), or
            ``None`` / ``"auto"``: torch for frames on an accelerator, else OpenCV when
            installed and verified, else builtin. All give identical pixels.

    Returns:
        uint8 ``[M, h, w, C]`` (or the window). When no resampling is needed the input
        (or a view of it) is returned, like OpenCV's copy.
    """
    frames, (h, w), box = check_resize_input(frames, size, box, "resize")
    M, H, W, C = frames.shape
    left, top, right, bottom = box
    if (H, W) == (h, w):
        view = frames[:, top:bottom, left:right]
        if out is None:
            return view
        out.copy_(view)
        return out
    oh, ow = bottom - top, right - left
    if out is None:
        out = torch.empty((M, oh, ow, C), dtype=torch.uint8, device=frames.device)
    elif tuple(out.shape) != (M, oh, ow, C) or out.dtype != torch.uint8:
        raise ValueError(f"out must be uint8 {(M, oh, ow, C)}, got {out.dtype} {tuple(out.shape)}")
    if M == 0:
        return out
    backend = check_backend(backend)
    if backend == "torch" or (backend is None and frames.device.type != "cpu"):
        return resize_tensor(frames, (h, w), box=box, out=out)
    if frames.device.type != "cpu":
        raise ValueError(f"resize backend {backend!r} runs on CPU tensors; frames are on {frames.device} "
                         "(use backend='torch' or None)")
    use_cv2 = _use_cv2() if backend is None else backend == "cv2"
    if use_cv2:
        return _resize_cv2(frames, (h, w), box, out)
    return _resize_builtin(frames, (h, w), box, out)


def _resize_builtin(frames, hw, box, out):
    """OpenCV's fixed-point INTER_LINEAR in numpy int32, frames split over a few threads.

    numpy rather than torch ops: torch's intra-op threads add large overheads on the many
    mid-sized ops of this per-frame loop, worst on a loaded machine; numpy runs each frame on
    one core, and the frames are spread over ``torch.get_num_threads()`` host threads
    (measured: benchmarks/RESULTS.md, section "Measurements quoted from the code").
    """
    M, H, W, C = frames.shape
    h, w = hw
    plan = _resize_plan(H, W, h, w, box, C)
    oh, ow = plan.out_hw
    if out is None:
        out = torch.empty((M, oh, ow, C), dtype=torch.uint8)
    src_all = frames.numpy()
    dst_all = out.numpy()
    x0, x1 = plan.x0.numpy()[0], plan.x1.numpy()[0]
    a0, a1 = plan.a0.numpy(), plan.a1.numpy()
    b0 = np.ascontiguousarray(np.broadcast_to(plan.b0[:, None], (oh, ow * C)))
    b1 = np.ascontiguousarray(np.broadcast_to(plan.b1[:, None], (oh, ow * C)))

    def work(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            _resize_one(src_all[i], dst_all[i], plan, x0, x1, a0, a1, b0, b1)

    parallel_ranges(work, M, min_per_thread=4)
    return out


def _resize_one(src, dst, plan, x0, x1, a0, a1, b0, b1) -> None:
    """One frame ``[H, W, C]`` -> ``dst`` ``[oh, ow, C]`` (both numpy uint8)."""
    H, W, C = src.shape
    oh, ow = plan.out_hw
    if not src.flags.c_contiguous:
        src = np.ascontiguousarray(src)
    src = src.reshape(H, W * C)
    if not plan.all_rows:
        src = src[plan.rows]
    # Horizontal pass: T = S[x0] * a0 + S[x1] * a1 (exact in int32), kept as T >> 4.
    if plan.identity_x:
        t = src.astype(np.int32)
        t *= _COEF_SCALE >> 4
    else:
        t = src.take(x0, axis=1).astype(np.int32)
        t *= a0
        if plan.use_x1:
            t1 = src.take(x1, axis=1).astype(np.int32)
            t1 *= a1
            t += t1
        t >>= 4
    # Vertical pass with OpenCV's (SIMD) rounding:
    # (((T0 >> 4) * b0 >> 16) + ((T1 >> 4) * b1 >> 16) + 2) >> 2. T >> 4 <= 32655 and
    # b0 + b1 <= 2049, so the result is always within 0..255 (no clamp needed).
    v = t[plan.r0]
    v *= b0
    v >>= 16
    if plan.use_r1:
        v1 = t[plan.r1]
        v1 *= b1
        v1 >>= 16
        v += v1
    v += 2
    v >>= 2
    np.copyto(dst.reshape(oh, ow * C), v, casting="unsafe")

