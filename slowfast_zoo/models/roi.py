"""The RoI part of the action detectors: boxes in, one feature vector per box out.

Reproduces the chain of MMAction2's ``SingleRoIExtractor3D`` + ``ACRNHead`` + ``BBoxHeadAVA``
and of PyTorchVideo's ``create_slowfast_with_roi_head`` (both Apache-2.0; docs/SPEC.md section
12), which differ only in data of :class:`~slowfast_zoo.registry.records.RoISpec`:

1. each pathway's last map pooled over its own time axis (mean, or max for MMAction2's
   ``temporal_pool_mode='max'``) and the two joined **slow first**, then fast: the clip map
   ``[N, 2304, h, w]`` at 1/16 of the input. MMAction2 first resizes both pathways to the fast
   length by nearest-neighbour interpolation, which repeats each slow frame alpha times: the mean
   and the maximum are the same as over the slow frames themselves (to float rounding);
2. ``torchvision.ops.roi_align`` of every box on its clip's map (``spatial_scale`` 1/16, sampling
   ratio 0 = adaptive, ``aligned`` per family; MMAction2's mmcv ``RoIAlign`` computes the same
   numbers as torchvision's on CPU, see ``../shared/reference/detection/README.md``);
3. optionally the clip map pooled to the same cells appended (``with_global``), or the ACRN
   relation head applied (``shared_head="acrn"``);
4. the maximum over the cells (MMAction2's ``AdaptiveMaxPool3d((None, 1, 1))`` after a temporal
   mean over one frame; PyTorchVideo's ``MaxPool2d(7)`` on 7x7 cells): the classifier's input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from slowfast_zoo.errors import UsageError, WrongTypeError
from slowfast_zoo.models.layers import ConvBn
from slowfast_zoo.registry.records import RoISpec

__all__ = ["FEATURE_STRIDE", "MAX_BOXES", "check_boxes", "clip_map", "roi_features", "ACRNHead"]

#: The detectors' maps are at 1/16 of the input (res5 has spatial stride 1).
FEATURE_STRIDE = 16
#: Most boxes of one forward: each box costs its own ``[C, 7, 7]`` features (and, with the ACRN
#: head, a ``[2C, h, w]`` map), so a million boxes would ask for terabytes. AVA's test protocol
#: has at most 1000 per keyframe.
MAX_BOXES = 10_000


def check_boxes(boxes: torch.Tensor, num_clips: int) -> torch.Tensor:
    """``boxes`` as a float ``[K, 5]`` tensor ``(clip index, x1, y1, x2, y2)``, checked.

    Raises:
        WrongTypeError: not a tensor.
        UsageError: not ``[K, 5]``, over :data:`MAX_BOXES` rows, not finite, or a clip index outside
            ``0..num_clips-1``.

    Example:
        >>> check_boxes(torch.tensor([[0, 1.0, 2.0, 30.0, 40.0]]), num_clips=1).shape
        torch.Size([1, 5])
        >>> check_boxes(torch.tensor([[1, 1.0, 2.0, 3.0, 4.0]]), num_clips=1)
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.UsageError: boxes: clip index 1 in row 0, but the input has 1 clip(s) (indices 0..0)
    """
    if not isinstance(boxes, torch.Tensor):
        raise WrongTypeError(f"boxes must be a torch.Tensor [K, 5] (clip index, x1, y1, x2, y2), "
                             f"got {type(boxes).__name__}")
    if boxes.dim() != 2 or boxes.shape[1] != 5:
        raise UsageError(f"boxes must be [K, 5] rows (clip index, x1, y1, x2, y2), got shape "
                         f"{list(boxes.shape)}")
    if boxes.shape[0] > MAX_BOXES:
        raise UsageError(f"boxes: {boxes.shape[0]} rows, more than the {MAX_BOXES} of one forward; split them")
    if not boxes.is_floating_point():
        boxes = boxes.float()
    if boxes.numel() and not bool(torch.isfinite(boxes).all()):
        raise UsageError("boxes hold NaN or infinite values")
    if boxes.numel():
        index = boxes[:, 0]
        bad = (index != index.round()) | (index < 0) | (index >= num_clips)
        if bool(bad.any()):
            row = int(bad.nonzero()[0, 0])
            raise UsageError(f"boxes: clip index {index[row].item():g} in row {row}, but the input "
                             f"has {num_clips} clip(s) (indices 0..{num_clips - 1})")
    return boxes


def clip_map(slow: torch.Tensor, fast: torch.Tensor, temporal_pool: str) -> torch.Tensor:
    """Each pathway pooled over time, slow channels first: ``[N, C_slow + C_fast, h, w]``.

    Example:
        >>> slow, fast = torch.ones(1, 4, 2, 3, 3), torch.arange(8.0).view(1, 1, 8, 1, 1).expand(1, 2, 8, 3, 3)
        >>> clip_map(slow, fast, "avg")[0, :, 0, 0].tolist(), clip_map(slow, fast, "max")[0, 4:, 0, 0].tolist()
        ([1.0, 1.0, 1.0, 1.0, 3.5, 3.5], [7.0, 7.0])
    """
    if temporal_pool == "max":
        parts = [slow.amax(2), fast.amax(2)]
    else:
        parts = [slow.mean(2), fast.mean(2)]
    return torch.cat(parts, dim=1).contiguous()


def roi_features(cmap: torch.Tensor, boxes: torch.Tensor, spec: RoISpec) -> torch.Tensor:
    """RoIAlign of every box on its clip's map, plus the global cells with ``with_global``.

    Args:
        cmap: the clip maps ``[N, C, h, w]`` (:func:`clip_map`).
        boxes: checked ``[K, 5]`` boxes in input pixels.
        spec: the detector's RoI settings.

    Returns:
        ``[K, C, S, S]`` (``[K, 2C, S, S]`` with ``with_global``), ``S = spec.output_size``.

    Raises:
        UsageError: a box reaching over the input's size past its edges (the input being the
            map's size times :data:`FEATURE_STRIDE`): RoIAlign samples a box's area adaptively, so
            a box of 10^5 pixels would take minutes.

    Example:
        >>> cmap = torch.arange(16.0).view(1, 1, 4, 4)
        >>> feats = roi_features(cmap, torch.tensor([[0, 0.0, 0.0, 64.0, 64.0]]), RoISpec(output_size=2))
        >>> feats.shape, feats[0, 0].tolist()
        (torch.Size([1, 1, 2, 2]), [[2.5, 4.5], [10.5, 12.5]])
    """
    size = spec.output_size
    if boxes.numel():
        w, h = cmap.shape[-1] * FEATURE_STRIDE, cmap.shape[-2] * FEATURE_STRIDE
        xs, ys = boxes[:, 1::2], boxes[:, 2::2]
        far = ((xs < -w) | (xs > 2 * w)).any(1) | ((ys < -h) | (ys > 2 * h)).any(1)
        if bool(far.any()):
            row = int(far.nonzero()[0, 0])
            raise UsageError(f"boxes: row {row} {boxes[row, 1:].tolist()} reaches over the input's size past it "
                             f"(about {w}x{h} pixels for a {cmap.shape[-1]}x{cmap.shape[-2]} map); boxes are "
                             f"x1, y1, x2, y2 in input pixels")
    feats = roi_align(cmap, boxes.to(cmap.dtype), (size, size), 1.0 / FEATURE_STRIDE, 0, spec.aligned)
    if spec.with_global:
        # MMAction2's with_global: the whole clip map pooled to the same cells, per box's clip.
        whole = F.adaptive_avg_pool2d(cmap, size)
        feats = torch.cat([feats, whole[boxes[:, 0].long()]], dim=1)
    return feats


class ACRNHead(nn.Module):
    """MMAction2's actor-context relation head (``ACRNHead``, Sun et al., ECCV 2018).

    Each box's feature, max-pooled over its cells and tiled over its clip's ``h x w`` map, joined
    (box part first) with that map, then a 1x1 conv and a 1x3x3 conv, each with BatchNorm and ReLU:
    ``[K, 2C, h, w]`` -> ``[K, C, h, w]``.

    Example:
        >>> head = ACRNHead(8, 4).eval()
        >>> head(torch.randn(3, 4, 2, 2), torch.randn(2, 4, 5, 6), torch.tensor([0, 1, 1])).shape
        torch.Size([3, 4, 5, 6])
    """

    def __init__(self, in_channels: int = 4608, out_channels: int = 2304) -> None:
        super().__init__()
        self.conv1 = ConvBn(in_channels, out_channels, 1)
        self.conv2 = ConvBn(out_channels, out_channels, (1, 3, 3), padding=(0, 1, 1))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, roi_feats: torch.Tensor, cmap: torch.Tensor, clip_index: torch.Tensor) -> torch.Tensor:
        h, w = cmap.shape[-2:]
        actor = roi_feats.amax((-2, -1), keepdim=True).expand(-1, -1, h, w)
        x = torch.cat([actor, cmap[clip_index]], dim=1).unsqueeze(2)  # [K, 2C, 1, h, w]
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        return x.squeeze(2)

