"""From resized uint8 frames to float views: :func:`assemble_views`, and :class:`DecodedVideo`.

What :class:`~slowfast_zoo.data.TestTransform` and ``TrainTransform`` share after the resize
(docs/SPEC.md sections 4.5-4.6): each view's crop, ``Normalize`` and ``FormatShape('NCTHW')``,
done in one pass straight into the output. CPU frames are assembled with numpy over a few host
threads, accelerator frames with the torch ops of :func:`slowfast_zoo.data.torch_ops.build_views`
(bit-identical). The torch ops would serve CPU frames too, but are slower there. Measured on the
2-core development machine, shared with other jobs (torch 2.14, numpy 2.4; the 30 views
``[30, 3, 32, 256, 256]`` of 160 distinct resized 256x340 frames; best of 5, torch threads 1
and 2, several runs)::

                                 contiguous     channels_last_3d
    numpy (assemble_views)       145-310 ms       165-290 ms
    torch ops (build_views)      690-7200 ms      410-3830 ms

Test views are contiguous (``read_views``, ``__call__``, the datasets) except those that
:meth:`~slowfast_zoo.data.TestTransform.iter_views` hands straight to the model, which are in
its channels_last_3d input layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from slowfast_zoo.data import torch_ops
from slowfast_zoo.data.bilinear import parallel_ranges
from slowfast_zoo.data.resize_plan import Box
from slowfast_zoo.errors import UsageError, WrongTypeError

__all__ = ["as_frames", "dedupe", "check_out", "assemble_views", "RegionBoxes", "DecodedVideo"]


def as_frames(frames: torch.Tensor | np.ndarray) -> torch.Tensor:
    """``frames`` as a uint8 ``[M, H, W, 3]`` tensor, or a clear error."""
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(frames)
    if not isinstance(frames, torch.Tensor):
        raise WrongTypeError(f"frames must be a uint8 torch.Tensor [M, H, W, 3], got {type(frames).__name__}")
    if frames.dim() != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
        raise UsageError(f"frames must be uint8 [M, H, W, 3] (RGB), got {frames.dtype} {tuple(frames.shape)}")
    return frames


def dedupe(frames: torch.Tensor, indices: Sequence[int] | np.ndarray | torch.Tensor | None,
           expected: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Distinct frames and the map from each sampled position to one of them."""
    if frames.shape[0] != expected:
        raise UsageError(f"expected {expected} frames (num_clips * clip_len), got {frames.shape[0]}")
    if indices is None:
        return frames, torch.arange(expected)
    idx = np.asarray(indices.tolist() if isinstance(indices, torch.Tensor) else indices, dtype=np.int64).reshape(-1)
    if idx.size != expected:
        raise UsageError(f"indices has {idx.size} entries, frames {expected}")
    unique, first, inverse = np.unique(idx, return_index=True, return_inverse=True)
    if len(unique) == expected:
        return frames, torch.arange(expected)
    # numpy's single-threaded copy: torch's threaded one stalls when another process holds a core.
    picked = np.take(frames.numpy(), first, axis=0)
    return torch.from_numpy(picked), torch.from_numpy(inverse.reshape(-1))



def check_out(out: torch.Tensor | None, shape: tuple[int, ...]) -> torch.Tensor:
    """A float32 CPU output of ``shape``: ``out`` when it fits (any memory layout), else an error,
    or a fresh contiguous one."""
    if out is None:
        # numpy allocates big arrays with madvise(MADV_HUGEPAGE): a fresh 755 MB output then
        # costs far fewer page faults than torch.empty's (measured: benchmarks/RESULTS.md,
        # "Measurements quoted from the code").
        return torch.from_numpy(np.empty(shape, dtype=np.float32))
    if tuple(out.shape) != tuple(shape) or out.dtype != torch.float32 or out.device.type != "cpu":
        raise UsageError(f"out must be a float32 CPU tensor of shape {tuple(shape)}, "
                         f"got {out.dtype} {tuple(out.shape)} on {out.device}")
    return out


#: ``[(box of a region on the resized frame, the crops inside it)]``.
RegionBoxes = Sequence[tuple[Box, Sequence[int]]]


def assemble_views(regions: Sequence[torch.Tensor], region_boxes: RegionBoxes, crop_boxes: Sequence[Box],
                   clips: torch.Tensor, views: Sequence[int], mean: Sequence[float], std: Sequence[float],
                   *, out: torch.Tensor | None = None, channels_last: bool = False) -> torch.Tensor:
    """Crop, ``Normalize`` and ``FormatShape('NCTHW')`` in one pass: float32 views ``[n, 3, L, h, w]``.

    View ``v`` is crop ``v // K`` of clip ``v % K`` (crop-major, MMAction2's order); its frame
    ``t`` is ``(x - mean) / std`` in float32 of distinct frame ``clips[k, t]`` inside that crop.
    Every transform builds its views here; frames on an accelerator go to
    :func:`slowfast_zoo.data.torch_ops.build_views` (same values bit for bit, channels last).

    Args:
        regions: uint8 ``[U, bh, bw, 3]``: the resized regions of the distinct frames.
        region_boxes: where each region lies on the resized frame, and which crops it holds.
        crop_boxes: each crop's box on the resized frame (all of the same size).
        clips: int64 ``[K, L]``: the distinct frame of each position of each clip.
        views: the view numbers to build.
        mean, std: per-channel normalisation (RGB, 0-255 scale).
        out: optional float32 CPU output ``[n, 3, L, h, w]``, in any memory layout.
        channels_last: allocate the output in channels_last_3d memory (the folded model's input
            layout) rather than contiguous.

    Example:
        >>> frames = torch.full((2, 4, 6, 3), 100, dtype=torch.uint8)
        >>> v = assemble_views([frames], [((0, 0, 6, 4), [0])], [(1, 0, 5, 4)], torch.tensor([[0, 1, 1]]),
        ...                    [0], (50.0, 50.0, 50.0), (25.0, 25.0, 25.0))
        >>> v.shape, v.unique().tolist()
        (torch.Size([1, 3, 3, 4, 4]), [2.0])
    """
    if torch_ops.uses_torch_ops(regions[0]):
        built = torch_ops.build_views(regions, region_boxes, crop_boxes, clips, views, mean, std)
        return built if out is None else out.copy_(built)
    K, L = clips.shape
    left0, top0, right0, bottom0 = crop_boxes[0]
    shape = (len(views), 3, L, bottom0 - top0, right0 - left0)
    if out is None and channels_last:
        out = torch.from_numpy(np.empty((shape[0], L, shape[3], shape[4], 3), dtype=np.float32)).permute(0, 4, 1, 2, 3)
    out = check_out(out, shape)
    dst = out.numpy()
    rows = clips.tolist()
    for r, (box, crops) in enumerate(region_boxes):
        mine = [(j, int(v) // K, int(v) % K) for j, v in enumerate(views) if int(v) // K in crops]
        if mine:
            _fill_region(dst, regions[r].numpy(), box, crop_boxes, mine, rows, mean, std,
                         channels_last=bool(dst.strides[1] < dst.strides[4]))
    return out


#: Float32 bytes of normalized frames held at once while views are assembled.
NORM_CHUNK_BYTES = 64 << 20


def _fill_region(dst: np.ndarray, src: np.ndarray, box: Box, crop_boxes: Sequence[Box],
                 mine: list[tuple[int, int, int]], rows: list[list[int]], mean: Sequence[float],
                 std: Sequence[float], *, channels_last: bool) -> None:
    """Normalize the frames of one resized region that ``mine`` uses, then copy each view's crops.

    Each distinct frame is normalized once, not once per view that shows it (the 30 views of a
    test pipeline show each frame in several crops and clips; normalizing per view measured
    1.3-2x slower), in chunks of ``NORM_CHUNK_BYTES`` so that the float copy of all distinct
    frames (450 MB for 320 frames of 256x455) never sits next to the output.
    """
    windows = {c: (crop_boxes[c][0] - box[0], crop_boxes[c][1] - box[1],
                   crop_boxes[c][2] - box[0], crop_boxes[c][3] - box[1]) for _, c, _ in mine}
    left = min(w[0] for w in windows.values())
    top = min(w[1] for w in windows.values())
    right = max(w[2] for w in windows.values())
    bottom = max(w[3] for w in windows.values())
    used = sorted({u for _, _, k in mine for u in rows[k]})
    where = {u: i for i, u in enumerate(used)}
    step = max(1, NORM_CHUNK_BYTES // (12 * (bottom - top) * (right - left)))
    m = [np.float32(v) for v in mean]
    s = [np.float32(v) for v in std]
    for lo in range(0, len(used), step):
        chunk = used[lo:lo + step]
        pixels = src[chunk[0]:chunk[-1] + 1] if chunk[-1] - chunk[0] + 1 == len(chunk) else src[chunk]
        pixels = pixels[:, top:bottom, left:right]
        # Normalized in the output's own layout, so that the copies below are plain block copies.
        if channels_last:
            norm = np.empty(pixels.shape, dtype=np.float32).transpose(3, 0, 1, 2)
        else:
            norm = np.empty((3,) + pixels.shape[:3], dtype=np.float32)

        def normalize(a: int, b: int) -> None:
            for c in range(3):
                part = norm[c, a:b]
                # The same two float32 operations per element as torch's sub_ / div_ (torch_ops).
                np.subtract(pixels[a:b, ..., c], m[c], out=part, dtype=np.float32)
                np.divide(part, s[c], out=part)

        parallel_ranges(normalize, len(chunk), min_per_thread=8)
        copies = [(j, t, where[u] - lo, windows[c]) for j, c, k in mine for t, u in enumerate(rows[k])
                  if lo <= where[u] < lo + len(chunk)]

        def copy(a: int, b: int) -> None:
            for j, t, i, (x0, y0, x1, y1) in copies[a:b]:
                np.copyto(dst[j, :, t], norm[:, i, y0 - top:y1 - top, x0 - left:x1 - left])

        parallel_ranges(copy, len(copies), min_per_thread=8)


@dataclass(frozen=True)
class DecodedVideo:
    """One video's distinct sampled frames as uint8, and how its views use them.

    What a DataLoader worker hands over in the streamed path (eval): a few hundred MB of uint8
    instead of the 755 MB of float32 views, pinned by the loader for a non-blocking copy to an
    accelerator, where the views are then built (see
    :meth:`TestTransform.iter_views <slowfast_zoo.data.TestTransform.iter_views>`).

    Attributes:
        frames: the resized regions of the distinct frames (``resized=True``, one uint8
            ``[U, bh, bw, 3]`` per region the transform resizes: the union of its crops, or each
            crop on its own when they lie far apart), or the decoded distinct
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
