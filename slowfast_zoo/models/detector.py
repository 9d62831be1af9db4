"""SlowFast spatio-temporal action detectors: a clip and person boxes in, action logits per box out.

Design: Feichtenhofer et al., "SlowFast Networks for Video Recognition", ICCV 2019, section 5
(AVA detection: a Faster R-CNN-style RoI head on SlowFast with res5 at spatial stride 1).
Numerics reproduce MMAction2's ``FastRCNN`` (``ResNet3dSlowFast`` + ``AVARoIHead``: RoI
extractor, optional ``ACRNHead``, ``BBoxHeadAVA``) and PyTorchVideo's
``create_slowfast_with_roi_head`` (both Apache-2.0); the RoI chain is :mod:`.roi`, the network
is the recognition :class:`~slowfast_zoo.models.slowfast.SlowFast` with the architecture's
``spatial_strides`` and ``res5_dilation``, so loading, folding, freezing and the fast path are
shared with the classifiers.
"""

from __future__ import annotations

import torch
from torch import nn

from slowfast_zoo.errors import UsageError
from slowfast_zoo.models.clips import ClipInput
from slowfast_zoo.models.roi import ACRNHead, check_boxes, clip_map, roi_features
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.registry.records import ArchSpec, PretrainedCfg, RoISpec

__all__ = ["SlowFastDetector"]


def _roi(spec: ArchSpec) -> RoISpec:
    if spec.roi is None:
        raise UsageError(f"{spec.name} is a video classifier, not a detector (its spec has no roi)")
    return spec.roi


class SlowFastDetector(SlowFast):
    """SlowFast action detector: ``model(x, boxes)`` -> action logits ``[K, num_classes]``.

    ``x`` is the normalized fast clip ``[N, 3, T, H, W]`` (the slow clip is taken inside, each
    family its own way) or ``[slow, fast]``; ``boxes`` is ``[K, 5]`` float rows ``(clip index, x1,
    y1, x2, y2)`` in pixels of ``x``. Boxes may reach outside the frame, be larger than it or
    smaller than one 16-pixel cell: RoIAlign treats them as the source frameworks do. Column
    ``j`` of the output is action ``j + 1`` of the weight's label map (MMAction2's background
    column 0 is kept in ``fc`` and dropped from every output). Apply ``sigmoid`` (AVA) or
    ``softmax`` (MultiSports): ``spec.roi.score_activation``.

    Build instances with :func:`slowfast_zoo.create_model`.

    Example:
        >>> import torch, slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1_ava").eval()
        >>> boxes = torch.tensor([[0, 4.0, 8.0, 40.0, 60.0], [0, 0.0, 0.0, 64.0, 64.0]])
        >>> model(torch.randn(1, 3, 32, 64, 64), boxes).shape
        torch.Size([2, 80])
        >>> model.fc.out_features, model.num_features
        (81, 2304)
    """

    def __init__(self, spec: ArchSpec, num_classes: int | None = None,
                 pretrained_cfg: PretrainedCfg | None = None) -> None:
        roi = _roi(spec)
        super().__init__(spec, num_classes, pretrained_cfg)
        self.roi_spec = roi
        if roi.with_global:
            self.num_features = 2 * (self.slow.out_channels + self.fast.out_channels)
        self.shared_head: ACRNHead | None = None
        if roi.shared_head == "acrn":
            width = self.slow.out_channels + self.fast.out_channels
            self.shared_head = ACRNHead(2 * width, width)

    def _new_classifier(self, num_classes: int) -> nn.Module:
        # MMAction2's AVA files carry a background row 0: kept so that the file loads as it is,
        # and dropped from the outputs (forward_head).
        if num_classes <= 0:
            return nn.Identity()
        roi = _roi(self.spec)
        width = self.slow.out_channels + self.fast.out_channels
        fc = nn.Linear(2 * width if roi.with_global else width, num_classes + roi.background_class)
        nn.init.normal_(fc.weight, std=0.01)
        nn.init.zeros_(fc.bias)
        return fc

    def forward_head(self, features: tuple[torch.Tensor, torch.Tensor],  # type: ignore[override]
                     boxes: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool each box's region of both pathways and classify it.

        The signature differs from the classifier's: a detector's head needs the boxes.

        Args:
            features: ``(slow, fast)`` maps from :meth:`forward_features`.
            boxes: ``[K, 5]`` rows ``(clip index, x1, y1, x2, y2)`` in input pixels.
            pre_logits: return the classifier's input ``[K, num_features]`` (slow channels
                first, then fast; the global cells after them for the context head).

        Example:
            >>> import slowfast_zoo as sz
            >>> model = sz.create_model("ptv_slowfast_r50_detection").eval()
            >>> feats = (torch.randn(2, 2048, 8, 4, 5), torch.randn(2, 256, 32, 4, 5))
            >>> boxes = torch.tensor([[1, 0.0, 0.0, 80.0, 64.0]])
            >>> model.forward_head(feats, boxes, pre_logits=True).shape, model.forward_head(feats, boxes).shape
            (torch.Size([1, 2304]), torch.Size([1, 80]))
        """
        slow, fast = features
        roi = self.roi_spec
        boxes = check_boxes(boxes, slow.shape[0]).to(slow.device)
        cmap = clip_map(slow, fast, roi.temporal_pool)
        feats = roi_features(cmap, boxes, roi)
        if self.shared_head is not None:
            feats = self.shared_head(feats, cmap, boxes[:, 0].long())
        pooled = feats.amax((-2, -1)) if feats.shape[0] else feats.new_zeros(0, feats.shape[1])
        if pre_logits:
            return pooled
        logits = self.fc(self.head_dropout(pooled))
        return logits[:, 1:] if roi.background_class and isinstance(self.fc, nn.Linear) else logits

    def forward(self, x: ClipInput, boxes: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Action logits ``[K, num_classes]`` of each box (module docstring)."""
        return self.forward_head(self.forward_features(x), boxes)

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        """The weight's own scores of :meth:`forward`'s logits: sigmoid (AVA) or softmax.

        Example:
            >>> import slowfast_zoo as sz
            >>> model = sz.create_model("slowfast_r50_4x16x1_multisports")
            >>> model.scores(torch.zeros(1, 66)).sum().item()
            1.0
        """
        if self.roi_spec.score_activation == "softmax":
            return logits.softmax(-1)
        return logits.sigmoid()

    def frozen_modules(self) -> list[nn.Module]:
        """As :meth:`SlowFast.frozen_modules`; a linear probe also trains the RoI head's layers.

        Example:
            >>> import slowfast_zoo as sz
            >>> model = sz.create_model("slowfast_r50_8x8x1_ava_acrn")
            >>> model.freeze(backbone=True)
            >>> sorted({n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad})
            ['fc', 'shared_head']
        """
        if self.freeze_backbone:
            return [m for name, m in self.named_children()
                    if name not in ("fc", "head_dropout", "shared_head")]
        return super().frozen_modules()

    def extra_repr(self) -> str:
        r = self.roi_spec
        return (super().extra_repr() + f", spatial_strides={self.spec.spatial_strides}, "
                f"res5_dilation={self.spec.res5_dilation}, roi_align={r.output_size}x{r.output_size}"
                f"(aligned={r.aligned}), temporal_pool={r.temporal_pool}, with_global={r.with_global}, "
                f"shared_head={r.shared_head or None}, background_class={r.background_class}")
