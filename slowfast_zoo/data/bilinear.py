# OpenCV-exact bilinear resize of uint8 frames.
#
# Reproduces OpenCV's (Apache-2.0) fixed-point ``cv2.resize(..., INTER_LINEAR)`` on uint8
# images, the resize MMAction2's ``Resize`` step uses (OpenMMLab, Apache-2.0; docs/SPEC.md
# section 4.4).
# An independent re-implementation from the documented algorithm; no code is copied.
"""Bilinear resize, bit-exact with OpenCV's ``INTER_LINEAR`` on uint8: :func:`resize`.

OpenCV's algorithm, as reproduced here: per axis, the source coordinate
``f = float32((d + 0.5) * (1 / (dst / src)) - 0.5)``, ``s = floor(f)``, ``f -= s``, and the
11-bit weights ``round(float32(1 - f) * 2048)`` and ``round(f * 2048)``. Horizontally the
source column is clamped and its fraction zeroed at the borders; vertically the weights
stay and the row index is clamped. A horizontal pass ``T = S[x] * a0 + S[x + 1] * a1``
(exact int32) is followed by the vertical pass with the rounding of OpenCV's SIMD kernel:
``(((T0 >> 4) * b0 >> 16) + ((T1 >> 4) * b1 >> 16) + 2) >> 2`` (bit-exact with OpenCV 5.x on
x86-64; the scalar formula ``(T0 * b0 + T1 * b1 + 2**21) >> 22`` differs by 1 on some pixels).

Which code computes it is not a choice left to the caller: :func:`resize` picks by where the
frames are. Frames on an accelerator go through the torch ops of
:func:`slowfast_zoo.data.torch_ops.resize_tensor`. CPU frames go through OpenCV itself when it
is installed and reproduces the reference pixels (checked once per process on a few sizes),
else through :func:`resize_numpy`. The torch ops would serve CPU frames too, but they are the
slowest there. Measured on the 2-core development machine, shared with other jobs (torch 2.14,
numpy 2.4, OpenCV 5.1; the resize of a 30-view test pipeline: 160 distinct 240x320 frames into
the 340x256 window of a 256x341 resize; best of 5, torch threads 1 and 2, several runs)::

    OpenCV (cv2.resize per frame)     33-37 ms
    resize_numpy                      88-181 ms
    torch ops (resize_tensor)       635-1340 ms

The three agree bit for bit: tests/test_data_transforms.py and tests/test_data_torch_ops.py hold them to
the golden pixels of MMAction2's pipeline and to ``cv2.resize`` on hundreds of random sizes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from slowfast_zoo.data import torch_ops
from slowfast_zoo.data.resize_plan import COEF_SCALE, Box, ResizePlan, check_resize_input, resize_plan
from slowfast_zoo.errors import UsageError

__all__ = ["resize", "resize_numpy", "resize_cv2", "cv2_usable", "parallel_ranges"]

_cv2_ok: bool | None = None


def resize(frames: torch.Tensor, size: Sequence[int], *, box: Sequence[int] | None = None,
           out: torch.Tensor | None = None) -> torch.Tensor:
    """Bilinear resize of uint8 frames ``[M, H, W, C]`` to ``size = (h, w)``.

    Bit-exact with ``cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)`` (half-pixel
    centres, no antialiasing, OpenCV's 11-bit fixed-point weights), which is what MMAction2's
    ``Resize`` runs, on any device (see the module docstring for which code runs where).

    Args:
        frames: uint8 ``[M, H, W, C]``, on the CPU or an accelerator.
        size: output ``(h, w)`` of the full resized image.
        box: optional ``(left, top, right, bottom)`` window of the resized image: only
            those pixels are computed (identical to resizing then cropping, cheaper).
        out: optional preallocated uint8 output ``[M, box_h, box_w, C]`` on the frames' device.

    Returns:
        uint8 ``[M, h, w, C]`` (or the window). When no resampling is needed the input
        (or a view of it) is returned, like OpenCV's copy.

    Raises:
        WrongTypeError: frames that are not a uint8 tensor.
        UsageError: a size, box or ``out`` that does not fit.

    Example:
        >>> frames = torch.zeros(2, 240, 320, 3, dtype=torch.uint8)
        >>> resize(frames, (256, 341)).shape
        torch.Size([2, 256, 341, 3])
        >>> resize(frames, (256, 341), box=(42, 0, 298, 256)).shape   # a centre crop only
        torch.Size([2, 256, 256, 3])
    """
    frames, (h, w), window = check_resize_input(frames, size, box, "resize")
    if torch_ops.uses_torch_ops(frames):
        return torch_ops.resize_tensor(frames, (h, w), box=window, out=out)
    M, H, W, C = frames.shape
    left, top, right, bottom = window
    if (H, W) == (h, w):
        view = frames[:, top:bottom, left:right]
        return view if out is None else out.copy_(view)
    shape = (M, bottom - top, right - left, C)
    if out is None:
        out = torch.empty(shape, dtype=torch.uint8)
    elif tuple(out.shape) != shape or out.dtype != torch.uint8 or out.device.type != "cpu":
        raise UsageError(f"out must be a uint8 CPU tensor {shape}, got {out.dtype} {tuple(out.shape)} "
                         f"on {out.device}")
    if M == 0:
        return out
    kernel = resize_cv2 if cv2_usable() else resize_numpy
    return kernel(frames, (h, w), window, out)


def _window_and_out(frames: torch.Tensor, hw: tuple[int, int], box: Box | None,
                    out: torch.Tensor | None) -> tuple[Box, torch.Tensor]:
    h, w = hw
    box = (0, 0, w, h) if box is None else box
    if out is None:
        out = torch.empty((frames.shape[0], box[3] - box[1], box[2] - box[0], frames.shape[3]), dtype=torch.uint8)
    return box, out


def cv2_usable() -> bool:
    """True when OpenCV is importable and reproduces :func:`resize_numpy` bit for bit.

    Checked once per process on a few sizes, so that an OpenCV build with other rounding (its
    scalar, non-SIMD kernel) is never used silently: the numpy kernel serves then.
    """
    global _cv2_ok
    if _cv2_ok is None:
        try:
            import cv2  # noqa: F401  (optional: the library never needs OpenCV)

            rng = np.random.default_rng(0)
            ok = True
            for (H, W), (h, w) in [((12, 16), (8, 11)), ((15, 20), (10, 13)), ((37, 53), (61, 29)),
                                   ((360, 64), (256, 45)), ((7, 300), (9, 200))]:
                img = torch.from_numpy(rng.integers(0, 256, (2, H, W, 3), dtype=np.uint8))
                ok = ok and torch.equal(resize_numpy(img, (h, w)), resize_cv2(img, (h, w)))
            _cv2_ok = ok
        except Exception:  # ImportError, or a broken cv2 build: the numpy kernel serves
            _cv2_ok = False
    return _cv2_ok


# Per-frame loops run on a few host threads: numpy and OpenCV release the GIL. Sized by
# torch.get_num_threads(), i.e. 1 inside DataLoader workers, where processes already fill the cores.
_pool: ThreadPoolExecutor | None = None
_pool_key: tuple[int, int] | None = None


def parallel_ranges(fn: Callable[[int, int], None], n: int, *, min_per_thread: int = 1) -> None:
    """Run ``fn(lo, hi)`` over contiguous slices of ``range(n)``, on up to
    ``torch.get_num_threads()`` threads (inline when one is enough).

    Example:
        >>> seen = []
        >>> parallel_ranges(lambda lo, hi: seen.extend(range(lo, hi)), 10)
        >>> sorted(seen) == list(range(10))
        True
    """
    global _pool, _pool_key
    k = max(1, min(torch.get_num_threads(), n // max(1, min_per_thread)))
    if k == 1:
        fn(0, n)
        return
    key = (os.getpid(), k)
    if _pool is None or _pool_key != key:  # threads do not survive fork(): a fresh pool after it
        _pool = ThreadPoolExecutor(max_workers=k, thread_name_prefix="slowfast_zoo")
        _pool_key = key
    bounds = [n * j // k for j in range(k + 1)]
    futures = [_pool.submit(fn, bounds[j], bounds[j + 1]) for j in range(k)]
    for f in futures:
        f.result()


def resize_cv2(frames: torch.Tensor, hw: tuple[int, int], box: Box | None = None,
               out: torch.Tensor | None = None) -> torch.Tensor:
    """OpenCV's own resize of CPU frames (arguments as checked by :func:`resize`; no copy shortcut)."""
    # Never call cv2.setNumThreads() here: in a forked DataLoader worker whose parent used
    # OpenCV it waits for pool threads that did not survive fork() (a hang, seen in tests).
    import cv2

    box, out = _window_and_out(frames, hw, box, out)
    h, w = hw
    left, top, right, bottom = box
    C = frames.shape[3]
    src = frames.numpy()
    dst = out.numpy()
    full = (left, top, right, bottom) == (0, 0, w, h) and out.is_contiguous()
    for i in range(frames.shape[0]):
        f = src[i]
        if not f.flags.c_contiguous:
            f = np.ascontiguousarray(f)
        if full:
            cv2.resize(f, (w, h), dst=dst[i], interpolation=cv2.INTER_LINEAR)
        else:
            r = cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR)
            dst[i] = r.reshape(h, w, C)[top:bottom, left:right]
    return out


def resize_numpy(frames: torch.Tensor, hw: tuple[int, int], box: Box | None = None,
                 out: torch.Tensor | None = None) -> torch.Tensor:
    """OpenCV's fixed-point INTER_LINEAR in numpy int32 (CPU; arguments as checked by :func:`resize`).

    One frame at a time, frames spread over :func:`parallel_ranges`: a frame's int32 passes
    stay in the cache, and numpy runs each on one core (torch's intra-op threads stall on a
    loaded machine; see the module docstring for the numbers).
    """
    box, out = _window_and_out(frames, hw, box, out)
    M, H, W, C = frames.shape
    h, w = hw
    plan = resize_plan(H, W, h, w, box, C)
    oh, ow = plan.out_hw
    src_all = frames.numpy()
    dst_all = out.numpy()
    b0 = np.ascontiguousarray(np.broadcast_to(plan.b0[:, None], (oh, ow * C)))
    b1 = np.ascontiguousarray(np.broadcast_to(plan.b1[:, None], (oh, ow * C)))

    def work(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            _resize_one(src_all[i], dst_all[i], plan, b0, b1)

    parallel_ranges(work, M, min_per_thread=4)
    return out


def _resize_one(src: np.ndarray, dst: np.ndarray, plan: ResizePlan, b0: np.ndarray, b1: np.ndarray) -> None:
    """One frame ``[H, W, C]`` -> ``dst`` ``[oh, ow, C]`` (both numpy uint8)."""
    H, W, C = src.shape
    oh, ow = plan.out_hw
    if not src.flags.c_contiguous:
        src = np.ascontiguousarray(src)
    src = src.reshape(H, W * C)
    if not plan.all_rows:
        src = src[plan.rows]
    # Kept as T >> 4 (OpenCV's SIMD kernel does the same), so the products below fit in int32.
    if plan.identity_x:
        t = src.astype(np.int32)
        t *= COEF_SCALE >> 4
    else:
        t = src.take(plan.x0, axis=1).astype(np.int32)
        t *= plan.a0
        if plan.use_x1:
            t1 = src.take(plan.x1, axis=1).astype(np.int32)
            t1 *= plan.a1
            t += t1
        t >>= 4
    # T >> 4 <= 32655 and b0 + b1 <= 2049, so the result is always within 0..255: no clamp.
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
