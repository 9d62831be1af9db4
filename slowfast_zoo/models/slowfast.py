"""One parametrised SlowFast network covering the five MMAction2 Kinetics-400 architectures.

Design: Feichtenhofer, Fan, Malik, He, "SlowFast Networks for Video Recognition", ICCV 2019.
Numerics and layout reproduce MMAction2's ``ResNet3dSlowFast`` + ``SlowFastHead`` (Apache-2.0),
see SPEC.md section 2; module names are our own (``weights/convert.py`` maps MMAction2's keys).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from slowfast_zoo.models.layers import STAGE_BLOCKS, Conv3d, ConvBn, is_channels_last_3d, make_stage
from slowfast_zoo.registry.specs import ArchSpec, PretrainedCfg

__all__ = ["Pathway", "SlowFast"]

_SPATIAL_STRIDES = (1, 2, 2, 2)
_LATERAL_EXPANSION = 2  # a lateral conv maps C fast channels to 2C (time-strided conv fusion)


class Pathway(nn.Module):
    """Stem (conv + BN + ReLU + max-pool) and four residual stages of one pathway.

    Args:
        depth: ResNet depth (50, 101, 152).
        base_channels: stem width (64 slow, 8 fast).
        stem_temporal_kernel: 1 for the slow stem, 5 for the fast stem.
        inflate: per stage, whether the bottlenecks' first conv is temporal (3x1x1).
        lateral_channels: per stage, extra input channels concatenated from the fast pathway
            before the stage (0 for the fast pathway).
    """

    def __init__(self, depth: int, base_channels: int, stem_temporal_kernel: int,
                 inflate: tuple[bool, bool, bool, bool],
                 lateral_channels: tuple[int, int, int, int] = (0, 0, 0, 0)) -> None:
        super().__init__()
        if depth not in STAGE_BLOCKS:
            raise ValueError(f"depth must be one of {sorted(STAGE_BLOCKS)}, got {depth}")
        kt = stem_temporal_kernel
        self.stem = ConvBn(3, base_channels, (kt, 7, 7), stride=(1, 2, 2), padding=(kt // 2, 3, 3))
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        stages = []
        in_channels = base_channels
        for i, num_blocks in enumerate(STAGE_BLOCKS[depth]):
            planes = base_channels * 2**i
            stages.append(make_stage(in_channels + lateral_channels[i], planes, num_blocks,
                                     _SPATIAL_STRIDES[i], inflate[i]))
            in_channels = planes * 4
        self.stages = nn.ModuleList(stages)
        self.out_channels = in_channels

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.relu(self.stem(x)))


class SlowFast(nn.Module):
    """SlowFast video classifier: ``[N, 3, T, H, W]`` normalized frames -> ``[N, num_classes]`` logits.

    The input is one clip of T (=32) frames; the slow pathway sees frames 0, tau, 2*tau, ...
    of it (MMAction2's nearest-neighbour temporal resampling), the fast pathway all of them.
    The output is raw logits, not probabilities: apply ``softmax`` (and average over views,
    see the weight's ``pretrained_cfg.test``) yourself.

    Build instances with :func:`slowfast_zoo.create_model`.

    Example:
        >>> import torch, slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1").eval()
        >>> logits = model(torch.randn(1, 3, 32, 64, 64))
        >>> logits.shape
        torch.Size([1, 400])
    """

    def __init__(self, spec: ArchSpec, num_classes: int | None = None,
                 pretrained_cfg: PretrainedCfg | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.pretrained_cfg = pretrained_cfg
        self.tau = spec.tau
        self.alpha = spec.alpha
        if spec.tau % spec.alpha:
            raise ValueError(f"tau ({spec.tau}) must be a multiple of alpha ({spec.alpha})")
        fast_base = 64 // spec.channel_ratio
        fast_widths = [fast_base] + [fast_base * 4 * 2**i for i in range(3)]  # 8, 32, 64, 128
        lateral_out = tuple(c * _LATERAL_EXPANSION for c in fast_widths)
        self.slow = Pathway(spec.slow_depth, 64, 1, (False, False, True, True), lateral_out)
        self.fast = Pathway(spec.fast_depth, fast_base, 5, (True, True, True, True))
        k = spec.fusion_kernel
        self.laterals = nn.ModuleList(
            Conv3d(c, c * _LATERAL_EXPANSION, (k, 1, 1), stride=(spec.alpha, 1, 1),
                   padding=((k - 1) // 2, 0, 0), bias=False)
            for c in fast_widths
        )
        self.num_features = self.slow.out_channels + self.fast.out_channels  # 2048 + 256
        self.num_classes = spec.num_classes if num_classes is None else num_classes
        self.head_dropout = nn.Dropout(spec.dropout)
        self.fc: nn.Module = self._new_classifier(self.num_classes)
        self.init_weights()

    # ------------------------------------------------------------------ helpers
    def _new_classifier(self, num_classes: int) -> nn.Module:
        if num_classes <= 0:
            return nn.Identity()
        fc = nn.Linear(self.num_features, num_classes)
        nn.init.normal_(fc.weight, std=0.01)
        nn.init.zeros_(fc.bias)
        return fc

    def init_weights(self) -> None:
        """Training-from-scratch initialisation of MMAction2 (SPEC.md 2.10)."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # Zero the last BN of every residual branch so each block starts as an identity.
        for pathway in (self.slow, self.fast):
            for stage in pathway.stages:
                for block in stage:
                    nn.init.zeros_(block.conv_c.bn.weight)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 5 or x.shape[1] != 3:
            raise ValueError(f"expected input of shape [N, 3, T, H, W], got {list(x.shape)}")
        if x.shape[2] < self.tau:
            raise ValueError(f"expected at least tau={self.tau} frames (T=32 for the published "
                             f"weights), got input of shape {list(x.shape)}")
        if x.shape[3] < 32 or x.shape[4] < 32:
            raise ValueError(f"expected H, W >= 32, got input of shape {list(x.shape)}")

    @staticmethod
    def _resample(x: torch.Tensor, stride: int) -> torch.Tensor:
        # MMAction2 calls interpolate(mode="nearest", scale_factor=(1/stride, 1, 1)): it keeps
        # floor(T/stride) frames, at indices 0, stride, 2*stride, ... A strided view is the
        # same selection without a copy.
        if stride == 1:
            return x
        keep = math.floor(x.shape[2] * (1.0 / stride))
        view = x[:, :, : keep * stride : stride]
        # A strided view of a channels_last_3d clip is no longer channels_last_3d: copy these few
        # frames so that the slow stem (and, with one clip, the convs after it) keeps the layout.
        if is_channels_last_3d(x):
            return view.contiguous(memory_format=torch.channels_last_3d)
        return view

    @staticmethod
    def _fuse_lateral(slow: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
        # Lateral output goes after the slow channels (MMAction2 cat order).
        if not is_channels_last_3d(slow):
            return torch.cat([slow, lateral], dim=1)
        # channels_last_3d: write into a tensor of that layout. torch.cat infers the layout from
        # strides, and with one clip a lateral's batch stride is arbitrary (size-1 dim), so it
        # fell back to contiguous and every slow conv after it ran in the slow layout.
        n, c, t, h, w = slow.shape
        out = torch.empty((n, c + lateral.shape[1], t, h, w), dtype=slow.dtype, device=slow.device,
                          memory_format=torch.channels_last_3d)
        out[:, :c] = slow
        out[:, c:] = lateral
        return out

    # ------------------------------------------------------------ timm contract
    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Backbone: returns the unpooled maps ``(slow [N,2048,T/tau,h,w], fast [N,256,T,h,w])``."""
        self._check_input(x)
        slow = self.slow.forward_stem(self._resample(x, self.tau))
        fast = self.fast.forward_stem(self._resample(x, self.tau // self.alpha))
        slow = self._fuse_lateral(slow, self.laterals[0](fast))
        for i in range(4):
            slow = self.slow.stages[i](slow)
            fast = self.fast.stages[i](fast)
            if i < 3:
                slow = self._fuse_lateral(slow, self.laterals[i + 1](fast))
        return slow, fast

    def forward_head(self, features: tuple[torch.Tensor, torch.Tensor],
                     pre_logits: bool = False) -> torch.Tensor:
        """Pool both pathways and classify.

        Args:
            features: ``(slow, fast)`` as returned by :meth:`forward_features`.
            pre_logits: return the pooled ``[N, 2304]`` vector instead of logits: the fast
                pathway's 256 channels first, then the slow pathway's 2048 (MMAction2's order).
        """
        slow, fast = features
        pooled = torch.cat([F.adaptive_avg_pool3d(fast, 1).flatten(1),
                            F.adaptive_avg_pool3d(slow, 1).flatten(1)], dim=1)
        if pre_logits:
            return pooled
        return self.fc(self.head_dropout(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-view logits ``[N, num_classes]`` for normalized clips ``[N, 3, T, H, W]``."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The final linear layer (``nn.Identity`` when built with ``num_classes=0``)."""
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a fresh one (normal std 0.01, bias 0); 0 removes it."""
        self.num_classes = num_classes
        device = next(self.parameters()).device
        self.fc = self._new_classifier(num_classes).to(device)

    # ------------------------------------------------------------- inference
    @property
    def is_fused(self) -> bool:
        """True once :meth:`fuse` has folded the BatchNorms (inference only)."""
        return getattr(self, "_fused", False)

    def fuse(self) -> "SlowFast":
        """Fold every BatchNorm into its convolution, for faster inference (in place).

        The model must be in eval mode and stays inference-only: ``train()`` raises afterwards.
        Outputs match the unfused model within ~1e-5 (float rounding of the folded weights).

        Example:
            >>> model = sz.create_model("slowfast_r50_4x16x1").eval().fuse()  # doctest: +SKIP
        """
        from slowfast_zoo.models.fusion import fuse_model

        fuse_model(self)
        self._fused = True
        return self

    def train(self, mode: bool = True) -> "SlowFast":
        if mode and self.is_fused:
            raise RuntimeError("this model was fused for inference (BatchNorm folded into convs); "
                               "build a new one with create_model() to train")
        return super().train(mode)

    def extra_repr(self) -> str:
        s = self.spec
        return (f"arch={s.name}, tau={s.tau}, alpha={s.alpha}, fusion_kernel={s.fusion_kernel}, "
                f"num_classes={self.num_classes}")
