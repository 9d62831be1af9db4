# Test-time preprocessing as torch tensor code, on any device.
#
# The same OpenCV-exact fixed-point bilinear resize as data/bilinear.py (OpenCV's INTER_LINEAR
# on uint8, the resize of MMAction2's ``Resize``; OpenCV and OpenMMLab are Apache-2.0), and the
# crops + ``Normalize`` + ``FormatShape('NCTHW')`` of MMAction2's test pipeline (docs/SPEC.md
# sections 4.4-4.6), written with public torch ops only so that uint8 frames can be sent to an
# accelerator once and the views built there. An independent re-implementation.
"""Preprocessing as torch ops for frames on an accelerator: :func:`resize_tensor`, :func:`build_views`.

Both are bit-identical to the CPU kernels (:func:`slowfast_zoo.data.resize` and
:func:`slowfast_zoo.data.views.assemble_views`): the resize is the same integer arithmetic
(int32 products, the same shifts), and ``(x - mean) / std`` is the same two float32 operations
per element. They run on CPU tensors too, which is how tests/test_data_torch_ops.py proves them
against the golden pixels, the numpy kernel and ``cv2.resize``; but on the CPU they are the
slowest implementation (the numbers are in the docstrings of :mod:`slowfast_zoo.data.bilinear`
and :mod:`slowfast_zoo.data.views`), so the library sends only accelerator frames here
(:func:`uses_torch_ops`, the one place that decides).

Example:
    >>> frames = torch.zeros(4, 240, 320, 3, dtype=torch.uint8)        # any device
    >>> resize_tensor(frames, (256, 341)).shape
    torch.Size([4, 256, 341, 3])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from slowfast_zoo.data.resize_plan import COEF_SCALE, Box, ResizePlan, check_resize_input, resize_plan
from slowfast_zoo.errors import UsageError

__all__ = ["uses_torch_ops", "resize_tensor", "build_views"]

#: int32 bytes of the horizontal pass computed at once (frames are processed in groups).
_WORK_BYTES = 64 << 20

_tables: dict[tuple[int, str], tuple[ResizePlan, dict[str, torch.Tensor]]] = {}


def uses_torch_ops(tensor: torch.Tensor) -> bool:
    """True when frames on ``tensor``'s device are resized and assembled by these torch ops
    (an accelerator), False for CPU tensors (OpenCV / numpy kernels, measured faster there).

    Example:
        >>> uses_torch_ops(torch.zeros(1))
        False
    """
    return tensor.device.type != "cpu"


def _device_tables(plan: ResizePlan, device: torch.device) -> dict[str, torch.Tensor]:
    """The plan's index and weight tables on ``device`` (cached: a plan is immutable)."""
    key = (id(plan), str(device))
    hit = _tables.get(key)
    if hit is not None and hit[0] is plan:
        return hit[1]
    t = {name: torch.from_numpy(getattr(plan, name)).to(device)
         for name in ("rows", "x0", "x1", "a0", "a1", "r0", "r1")}
    t["b0"] = torch.from_numpy(plan.b0).to(device)[:, None]
    t["b1"] = torch.from_numpy(plan.b1).to(device)[:, None]
    if len(_tables) > 64:
        _tables.clear()
    _tables[key] = (plan, t)
    return t


def resize_tensor(frames: torch.Tensor, size: Sequence[int], *, box: Sequence[int] | None = None,
                  out: torch.Tensor | None = None) -> torch.Tensor:
    """OpenCV-exact bilinear resize of uint8 frames ``[M, H, W, C]`` on their own device.

    The same algorithm and integer rounding as :func:`slowfast_zoo.data.resize` (see
    :mod:`slowfast_zoo.data.bilinear`): a horizontal pass ``S[x0] * a0 + S[x1] * a1`` in int32
    kept as ``>> 4``, then the vertical pass ``((T0 * b0 >> 16) + (T1 * b1 >> 16) + 2) >> 2``.

    Args:
        frames: uint8 ``[M, H, W, C]`` on any device.
        size: ``(h, w)`` of the full resized image.
        box: optional ``(left, top, right, bottom)`` window of the resized image to compute.
        out: optional uint8 output ``[M, box_h, box_w, C]`` on the frames' device.

    Returns:
        uint8 ``[M, box_h, box_w, C]`` on the frames' device (the input, or a view of it, when
        no resampling is needed).

    Example:
        >>> x = torch.arange(2 * 4 * 6 * 3, dtype=torch.uint8).view(2, 4, 6, 3)
        >>> resize_tensor(x, (8, 12), box=(0, 0, 4, 4)).shape
        torch.Size([2, 4, 4, 3])
    """
    frames, (h, w), window = check_resize_input(frames, size, box, "resize_tensor")
    M, H, W, C = frames.shape
    left, top, right, bottom = window
    if (H, W) == (h, w):
        view = frames[:, top:bottom, left:right]
        return view if out is None else out.copy_(view)
    plan = resize_plan(H, W, h, w, window, C)
    oh, ow = plan.out_hw
    if out is None:
        out = torch.empty((M, oh, ow, C), dtype=torch.uint8, device=frames.device)
    elif tuple(out.shape) != (M, oh, ow, C) or out.dtype != torch.uint8 or out.device != frames.device:
        raise UsageError(f"out must be uint8 {(M, oh, ow, C)} on {frames.device}, got {out.dtype} "
                         f"{tuple(out.shape)} on {out.device}")
    if M == 0:
        return out
    t = _device_tables(plan, frames.device)
    src_all = frames.reshape(M, H, W * C)
    step = max(1, _WORK_BYTES // (4 * len(plan.rows) * max(ow * C, W * C)))
    for lo in range(0, M, step):
        src = src_all[lo:lo + step]
        if not plan.all_rows:
            src = src.index_select(1, t["rows"])
        if plan.identity_x:
            hor = src.to(torch.int32) * (COEF_SCALE >> 4)
        else:
            hor = src.index_select(2, t["x0"]).to(torch.int32) * t["a0"]
            if plan.use_x1:
                hor += src.index_select(2, t["x1"]).to(torch.int32) * t["a1"]
            hor >>= 4
        # Vertical pass with OpenCV's SIMD rounding; always within 0..255 (see bilinear.py).
        v = hor.index_select(1, t["r0"]) * t["b0"]
        v >>= 16
        if plan.use_r1:
            v1 = hor.index_select(1, t["r1"]) * t["b1"]
            v1 >>= 16
            v += v1
        v += 2
        v >>= 2
        out[lo:lo + step].copy_(v.view(-1, oh, ow, C))
    return out


def build_views(regions: Sequence[torch.Tensor], region_boxes: Sequence[tuple[Box, Sequence[int]]],
                crop_boxes: Sequence[Box], clips: torch.Tensor, views: Sequence[int],
                mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Normalized float32 views ``[n, 3, L, S, S]`` in channels_last_3d memory, on the regions' device.

    View ``v`` is crop ``v // K`` of clip ``v % K`` (crop-major, MMAction2's
    ``FormatShape('NCTHW')`` order), ``(x - mean) / std`` per channel in float32: the values of
    :meth:`TestTransform.read_views <slowfast_zoo.data.TestTransform.read_views>` bit for bit.
    The memory is ``[n, L, S, S, 3]`` (channels last), the layout the folded model runs in, so
    no layout copy follows.

    Args:
        regions: uint8 ``[U, bh, bw, 3]`` resized regions of the distinct frames (one device).
        region_boxes: ``[(box of region r on the resized frame, crops inside it)]``.
        crop_boxes: each crop's box on the resized frame.
        clips: int64 ``[K, L]``: row ``k`` holds the positions (into the distinct frames) of clip ``k``.
        views: the view numbers to build.
        mean, std: per-channel normalisation (RGB).
    """
    device = regions[0].device
    K, L = clips.shape
    left0, top0, right0, bottom0 = crop_boxes[0]
    Sh, Sw = bottom0 - top0, right0 - left0
    out = torch.empty((len(views), L, Sh, Sw, 3), dtype=torch.float32, device=device)
    m = torch.tensor(mean, dtype=torch.float32, device=device)
    s = torch.tensor(std, dtype=torch.float32, device=device)
    where = {c: (r, box) for r, (box, crops) in enumerate(region_boxes) for c in crops}
    clips = clips.to(device)
    for j, v in enumerate(views):
        c, k = divmod(int(v), K)
        r, box = where[c]
        left, top, right, bottom = crop_boxes[c]
        part = regions[r][:, top - box[1]:bottom - box[1], left - box[0]:right - box[0]]
        dst = out[j]
        dst.copy_(torch.index_select(part, 0, clips[k]))
        dst.sub_(m).div_(s)
    return out.permute(0, 4, 1, 2, 3)
