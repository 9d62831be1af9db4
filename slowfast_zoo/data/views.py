"""Assembling float views from decoded uint8 frames: normalisation and the crop-major gather.

The pieces :class:`~slowfast_zoo.data.presets.TestTransform` and ``TrainTransform`` share after
the resize (docs/SPEC.md sections 4.5-4.6): ``Normalize`` into channel-first float32, then
``FormatShape('NCTHW')`` as a gather of each view's frames and crop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from slowfast_zoo.data.bilinear import parallel_ranges

__all__ = ["as_frames", "dedupe", "check_out", "normalize_chw", "fill_views", "DecodedVideo"]


def as_frames(frames: torch.Tensor | np.ndarray) -> torch.Tensor:
    """``frames`` as a uint8 ``[M, H, W, 3]`` tensor, or a clear error."""
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(frames)
    if not isinstance(frames, torch.Tensor):
        raise TypeError(f"frames must be a uint8 torch.Tensor [M, H, W, 3], got {type(frames).__name__}")
    if frames.dim() != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
        raise ValueError(f"frames must be uint8 [M, H, W, 3] (RGB), got {frames.dtype} {tuple(frames.shape)}")
    return frames


def dedupe(frames: torch.Tensor, indices: Sequence[int] | np.ndarray | torch.Tensor | None,
           expected: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Distinct frames and the map from each sampled position to one of them."""
    if frames.shape[0] != expected:
        raise ValueError(f"expected {expected} frames (num_clips * clip_len), got {frames.shape[0]}")
    if indices is None:
        return frames, torch.arange(expected)
    idx = np.asarray(indices.tolist() if isinstance(indices, torch.Tensor) else indices, dtype=np.int64).reshape(-1)
    if idx.size != expected:
        raise ValueError(f"indices has {idx.size} entries, frames {expected}")
    unique, first, inverse = np.unique(idx, return_index=True, return_inverse=True)
    if len(unique) == expected:
        return frames, torch.arange(expected)
    # numpy's single-threaded copy: predictable on a loaded machine (see normalize_chw).
    picked = np.take(frames.numpy(), first, axis=0)
    return torch.from_numpy(picked), torch.from_numpy(inverse.reshape(-1))



def check_out(out: torch.Tensor | None, shape: tuple[int, ...]) -> torch.Tensor:
    """A float32 output of ``shape``: ``out`` when it fits (else an error), or a fresh one."""
    if out is None:
        # numpy allocates big arrays with madvise(MADV_HUGEPAGE): a fresh 755 MB output then
        # costs far fewer page faults than torch.empty's (measured: benchmarks/RESULTS.md,
        # "Measurements quoted from the code").
        return torch.from_numpy(np.empty(shape, dtype=np.float32))
    if tuple(out.shape) != tuple(shape) or out.dtype != torch.float32 or not out.is_contiguous() \
            or out.device.type != "cpu":
        raise ValueError(f"out must be a contiguous float32 CPU tensor of shape {tuple(shape)}, "
                         f"got {out.dtype} {tuple(out.shape)}")
    return out


# Normalization and the final gather run in numpy (frames / views split over a few host
# threads by parallel_ranges): torch's intra-op threaded copies of many mid-sized blocks
# stall badly when another process holds a core (measured: benchmarks/RESULTS.md,
# "Measurements quoted from the code").

def normalize_chw(frames: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """float32 ``(x - mean) / std`` of uint8 ``[U, h, w, 3]`` frames, channel-first ``[3, U, h, w]``."""
    src = frames.numpy()
    out = np.empty((3,) + src.shape[:3], dtype=np.float32)
    m = [np.float32(v) for v in mean]
    s = [np.float32(v) for v in std]

    def work(lo: int, hi: int) -> None:
        for c in range(3):
            dst = out[c, lo:hi]
            np.subtract(src[lo:hi, ..., c], m[c], out=dst, dtype=np.float32)
            np.divide(dst, s[c], out=dst)

    parallel_ranges(work, src.shape[0], min_per_thread=8)
    return out


def fill_views(out: torch.Tensor, norm: np.ndarray, boxes: Sequence[tuple[int, int, int, int]],
               inverse: torch.Tensor, first: int = 0) -> None:
    """``out[crop * K + k, :, t] = norm[:, inverse[k, t] - first, box]`` for every crop box.

    ``norm`` may hold only the distinct frames ``first .. first + norm.shape[1] - 1`` (the
    frames are then normalized a slice at a time, bounding memory); entries of other frames are
    left as they are.
    """
    dst = out.numpy()
    inv = inverse.tolist()
    K = len(inv)
    count = norm.shape[1]
    srcs = [norm[:, :, top:bottom, left:right] for left, top, right, bottom in boxes]

    def work(lo: int, hi: int) -> None:
        for v in range(lo, hi):  # view v = crop c, clip k
            c, k = divmod(v, K)
            view, src = dst[v], srcs[c]
            for t, u in enumerate(inv[k]):
                if first <= u < first + count:
                    np.copyto(view[:, t], src[:, u - first])

    parallel_ranges(work, len(boxes) * K)


@dataclass(frozen=True)
class DecodedVideo:
    """One video's distinct sampled frames as uint8, and how its views use them.

    What a DataLoader worker hands over in the streamed path (eval): a few hundred MB of uint8
    instead of the 755 MB of float32 views, pinned by the loader for a non-blocking copy to an
    accelerator, where the views are then built (see
    :meth:`TestTransform.iter_views <slowfast_zoo.data.TestTransform.iter_views>`).

    Attributes:
        frames: the resized regions of the distinct frames (``resized=True``, one uint8
            ``[U, bh, bw, 3]`` per region of ``TestTransform.regions``), or the decoded distinct
            frames themselves (``resized=False``: ``[frames [U, H, W, 3]]``, resized later on
            the device they are sent to).
        hw: ``(height, width)`` of the decoded frames.
        inverse: int64 ``[num_clips * clip_len]``: sampled position -> distinct frame.
        resized: whether ``frames`` are already resized.
    """

    frames: tuple[torch.Tensor, ...]
    hw: tuple[int, int]
    inverse: torch.Tensor
    resized: bool = True

    def pin_memory(self) -> "DecodedVideo":
        """A copy in pinned host memory (called by ``DataLoader(pin_memory=True)``)."""
        return replace(self, frames=tuple(f.pin_memory() for f in self.frames))

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "DecodedVideo":
        """The frames on ``device`` (the small ``inverse`` stays on the host)."""
        return replace(self, frames=tuple(f.to(device, non_blocking=non_blocking) for f in self.frames))
