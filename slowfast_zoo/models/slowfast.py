"""One parametrised SlowFast network covering the MMAction2, PySlowFast and PyTorchVideo architectures.

Design: Feichtenhofer, Fan, Malik, He, "SlowFast Networks for Video Recognition", ICCV 2019.
Numerics and layout reproduce MMAction2's ``ResNet3dSlowFast`` + ``SlowFastHead`` (Apache-2.0,
docs/SPEC.md section 2) and, for the ``pysf_*`` architectures, PySlowFast's ``SlowFast`` model =
PyTorchVideo's ``create_slowfast`` (both Apache-2.0). The two families share every layer; what
differs is data of the :class:`~slowfast_zoo.registry.records.ArchSpec`: how the slow clip is
taken (``slow_sampling``), which blocks are temporal (``inflated_blocks``), the head's pooling
and channel order (``head_pool``, ``feature_order``: :mod:`.head`). Module names are our own
(``weights/convert.py`` maps each framework's keys).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from slowfast_zoo.models.clips import ClipInput, resample, split_clip
from slowfast_zoo.models.fusion import fuse_model
from slowfast_zoo.models.head import feature_slices, pool_pathways, project_map
from slowfast_zoo.models.layers import (
    STAGE_BLOCKS,
    Bottleneck,
    Conv3d,
    ConvBn,
    NormLateral,
    is_channels_last_3d,
    make_stage,
)
from slowfast_zoo.registry.records import ArchSpec, PretrainedCfg
from slowfast_zoo.errors import ModelStateError, UsageError

__all__ = ["Pathway", "SlowFast"]

class Pathway(nn.Module):
    """Stem (conv + BN + ReLU + max-pool) and four residual stages of one pathway.

    Args:
        depth: ResNet depth (50, 101, 152).
        base_channels: stem width (64 slow, 8 fast).
        stem_temporal_kernel: 1 for the slow stem, 5 for the fast stem.
        inflate: per stage, whether the bottlenecks' first conv is temporal (3x1x1).
        lateral_channels: per stage, extra input channels concatenated from the fast pathway
            before the stage (0 for the fast pathway).
        inflated_blocks: per stage, how many leading blocks of an inflated stage are temporal
            (empty: all).
        spatial_strides: per stage, the first block's spatial stride (detectors: res5 stride 1).
        res5_dilation: spatial dilation of res5's 3x3 convs.

    Example:
        >>> fast = Pathway(50, 8, 5, (True, True, True, True))
        >>> fast.out_channels, fast.forward_stem(torch.zeros(1, 3, 8, 64, 64)).shape
        (256, torch.Size([1, 8, 8, 16, 16]))
    """

    def __init__(self, depth: int, base_channels: int, stem_temporal_kernel: int,
                 inflate: tuple[bool, bool, bool, bool],
                 lateral_channels: tuple[int, int, int, int] = (0, 0, 0, 0),
                 inflated_blocks: tuple[int, ...] = (),
                 spatial_strides: tuple[int, int, int, int] = (1, 2, 2, 2),
                 res5_dilation: int = 1) -> None:
        super().__init__()
        if depth not in STAGE_BLOCKS:
            raise UsageError(f"depth must be one of {sorted(STAGE_BLOCKS)}, got {depth}")
        kt = stem_temporal_kernel
        self.stem = ConvBn(3, base_channels, (kt, 7, 7), stride=(1, 2, 2), padding=(kt // 2, 3, 3))
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        stages = []
        in_channels = base_channels
        for i, num_blocks in enumerate(STAGE_BLOCKS[depth]):
            planes = base_channels * 2**i
            stages.append(make_stage(in_channels + lateral_channels[i], planes, num_blocks,
                                     spatial_strides[i], inflate[i],
                                     inflated_blocks[i] if inflated_blocks else None,
                                     res5_dilation if i == 3 else 1))
            in_channels = planes * 4
        self.stages = nn.ModuleList(stages)
        self.out_channels = in_channels

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        """Stem conv + BN + ReLU + max-pool: ``[N, 3, T, H, W]`` -> ``[N, C, T, H/4, W/4]``."""
        return self.pool(self.relu(self.stem(x)))

    def blocks(self) -> Iterator[Bottleneck]:
        """Every bottleneck of the four stages, in order.

        Example:
            >>> sum(1 for _ in Pathway(50, 8, 5, (True, True, True, True)).blocks())
            16
        """
        for stage in self.stages:
            for block in stage.children():
                assert isinstance(block, Bottleneck)  # make_stage builds nothing else
                yield block


class SlowFast(nn.Module):
    """SlowFast video classifier: ``[N, 3, T, H, W]`` normalized frames -> ``[N, num_classes]`` logits.

    The input is one clip of T frames (``spec.num_frames``: 32, or 64 for Something-Something V1
    and the 16x8 networks), or ``[slow, fast]`` clips. From one clip the fast pathway sees every
    frame and the slow pathway frames 0, tau, 2*tau, ... (MMAction2's nearest-neighbour temporal
    resampling) or, for the ``pysf_*`` networks, PySlowFast's ``linspace(0, T - 1, T // alpha)``
    frames. The output is raw logits, not probabilities, averaged over the head's positions when
    the input is larger than the training crop (``pysf_*``: :meth:`forward_head` with
    ``return_map=True`` gives each position's): apply ``softmax`` (and average over views, see
    the weight's ``pretrained_cfg.test``) yourself.

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
            raise UsageError(f"tau ({spec.tau}) must be a multiple of alpha ({spec.alpha})")
        fast_base = spec.slow_base_channels // spec.channel_ratio
        fast_widths = [fast_base] + [fast_base * 4 * 2**i for i in range(3)]  # 8, 32, 64, 128
        expand = spec.lateral_expansion
        lateral_out = tuple(c * expand for c in fast_widths)
        self.slow = Pathway(spec.slow_depth, spec.slow_base_channels, spec.slow_stem_kernel,
                            spec.slow_inflate, lateral_out, spec.inflated_blocks,
                            spec.spatial_strides, spec.res5_dilation)
        self.fast = Pathway(spec.fast_depth, fast_base, spec.fast_stem_kernel, spec.fast_inflate,
                            inflated_blocks=spec.inflated_blocks, spatial_strides=spec.spatial_strides,
                            res5_dilation=spec.res5_dilation)
        k = spec.fusion_kernel
        kernel, stride, padding = (k, 1, 1), (spec.alpha, 1, 1), ((k - 1) // 2, 0, 0)
        self.laterals = nn.ModuleList(
            NormLateral(c, c * expand, kernel, stride, padding) if spec.lateral_norm
            else Conv3d(c, c * expand, kernel, stride, padding, bias=False)
            for c in fast_widths
        )
        self.num_features = self.slow.out_channels + self.fast.out_channels  # 2048 + 256
        #: Where each pathway's pooled channels lie in ``forward_head(..., pre_logits=True)`` (and
        #: in the classifier's weight columns): the checkpoint's own order, ``spec.feature_order``.
        self.slow_channels, self.fast_channels = feature_slices(
            spec.feature_order, self.slow.out_channels, self.fast.out_channels)
        self.num_classes = spec.num_classes if num_classes is None else num_classes
        self.head_dropout = nn.Dropout(spec.dropout)
        self.fc: nn.Module = self._new_classifier(self.num_classes)
        #: Where the weights came from when loaded from a saved model (``hf-hub:...``, a folder).
        self.hub_source: str | None = None
        #: MMAction2's ``ResNet3d`` training state, honoured by :meth:`train` (see :meth:`freeze`).
        self.frozen_stages = -1
        self.norm_eval = False
        self.freeze_backbone = False
        self._class_names: tuple[str, ...] | None = None
        self._fused = False
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
        """Training-from-scratch initialisation of MMAction2 (docs/SPEC.md 2.10)."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):  # also the lateral_norm BNs
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # Zero the last BN of every residual branch so each block starts as an identity.
        for pathway in (self.slow, self.fast):
            for block in pathway.blocks():
                bn = block.conv_c.bn
                if isinstance(bn, nn.BatchNorm3d):  # not yet folded: init runs at construction
                    nn.init.zeros_(bn.weight)

    #: MMAction2's nearest-neighbour temporal resampling (:func:`~slowfast_zoo.models.clips.resample`).
    _resample = staticmethod(resample)

    def split_clip(self, x: ClipInput) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``(slow, fast)`` clips the two pathways see (:func:`~slowfast_zoo.models.clips.split_clip`).

        Example:
            >>> import slowfast_zoo as sz
            >>> spec = sz.registry.ARCHS["pysf_slowfast_r50_8x8"]
            >>> clip = torch.arange(32.0).view(1, 1, 32, 1, 1).expand(1, 3, 32, 32, 32)
            >>> slow, fast = SlowFast(spec).split_clip(clip)
            >>> slow[0, 0, :, 0, 0].tolist(), fast.shape[2]
            ([0.0, 4.0, 8.0, 13.0, 17.0, 22.0, 26.0, 31.0], 32)
        """
        return split_clip(x, self.spec)

    @staticmethod
    def _fuse_lateral(slow: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
        # Lateral output goes after the slow channels (MMAction2's and PySlowFast's cat order).
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
    def forward_features(self, x: ClipInput) -> tuple[torch.Tensor, torch.Tensor]:
        """Backbone: returns the unpooled maps ``(slow [N,2048,T/tau,h,w], fast [N,256,T,h,w])``.

        Args:
            x: one normalized clip ``[N, 3, T, H, W]`` or ``[slow, fast]`` clips (:meth:`split_clip`).

        Example:
            >>> import slowfast_zoo as sz
            >>> model = sz.create_model("slowfast_r50_4x16x1").eval()
            >>> slow, fast = model.forward_features(torch.zeros(1, 3, 8, 32, 32))
            >>> slow.shape, fast.shape
            (torch.Size([1, 2048, 1, 1, 1]), torch.Size([1, 256, 8, 1, 1]))
            >>> model.forward_head((slow, fast), pre_logits=True).shape
            torch.Size([1, 2304])
        """
        slow, fast = self.split_clip(x)
        slow = self.slow.forward_stem(slow)
        fast = self.fast.forward_stem(fast)
        slow = self._fuse_lateral(slow, self.laterals[0](fast))
        for i in range(4):
            slow = self.slow.stages[i](slow)
            fast = self.fast.stages[i](fast)
            if i < 3:
                slow = self._fuse_lateral(slow, self.laterals[i + 1](fast))
        return slow, fast

    def forward_head(self, features: tuple[torch.Tensor, torch.Tensor], pre_logits: bool = False,
                     return_map: bool = False) -> torch.Tensor:
        """Pool both pathways and classify (:mod:`slowfast_zoo.models.head`).

        Args:
            features: ``(slow, fast)`` as returned by :meth:`forward_features`.
            pre_logits: return the classifier's input ``[N, 2304]`` averaged over the head's
                positions instead of logits, in the checkpoint's channel order: MMAction2's fast
                256 then slow 2048, PySlowFast's slow then fast (``model.slow_channels`` and
                ``model.fast_channels`` slice it).
            return_map: keep the head's positions: per-position logits ``[N, C, t, h, w]``
                (``1 x 1 x 1`` for a global-average head), or with ``pre_logits`` the per-position
                classifier input ``[N, 2304, t, h, w]``.

        Example:
            >>> import slowfast_zoo as sz
            >>> model = SlowFast(sz.registry.ARCHS["pysf_slowfast_r50_4x16"]).eval()
            >>> feats = (torch.randn(1, 2048, 4, 8, 8), torch.randn(1, 256, 32, 8, 8))
            >>> logit_map = model.forward_head(feats, return_map=True)
            >>> logit_map.shape, torch.allclose(logit_map.mean((2, 3, 4)), model.forward_head(feats), atol=1e-5)
            (torch.Size([1, 400, 1, 2, 2]), True)
            >>> model.forward_head(feats, pre_logits=True)[:, model.fast_channels].shape
            torch.Size([1, 256])
        """
        slow, fast = features
        pooled = pool_pathways(slow, fast, self.spec.head_pool, self.spec.feature_order)
        if pre_logits:
            return pooled if return_map else pooled.mean((2, 3, 4))
        pooled = self.head_dropout(pooled)
        if return_map:
            return project_map(pooled, self.fc)
        # The projection is affine: the mean of the per-position logits (PyTorchVideo hub's
        # output) is the projection of the mean input, one [N, 2304] matmul.
        return self.fc(pooled.mean((2, 3, 4)))

    def forward(self, x: ClipInput) -> torch.Tensor:
        """Per-view logits ``[N, num_classes]`` (averaged over head positions) for normalized
        clips ``[N, 3, T, H, W]`` or ``[slow, fast]``."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The final linear layer (``nn.Identity`` when built with ``num_classes=0``).

        Example:
            >>> import slowfast_zoo as sz
            >>> sz.create_model("slowfast_r50_4x16x1", num_classes=0).get_classifier()
            Identity()
        """
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a fresh one (normal std 0.01, bias 0); 0 removes it.

        Example:
            >>> import slowfast_zoo as sz
            >>> model = sz.create_model("slowfast_r50_4x16x1")
            >>> model.reset_classifier(7)
            >>> model.fc, model.class_names[:2]
            (Linear(in_features=2304, out_features=7, bias=True), ('class_0', 'class_1'))
        """
        self.num_classes = num_classes
        self._class_names = None  # names describe the classifier they were loaded with
        device = next(self.parameters()).device
        self.fc = self._new_classifier(num_classes).to(device)

    # ------------------------------------------------------------- inference
    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the ``num_classes`` outputs: the loaded weight's own names when it carried
        them (a fine-tuned file, a saved model), else the registry weight's names when the class
        count matches, else ``class_0``, ``class_1``, ...

        Example:
            >>> import slowfast_zoo as sz
            >>> sz.create_model("slowfast_r50_4x16x1").class_names[:2]
            ('abseiling', 'air drumming')
            >>> model = sz.create_model("slowfast_r50_4x16x1", num_classes=2)
            >>> model.class_names = ["left", "right"]
            >>> model.class_names
            ('left', 'right')
        """
        if self._class_names is not None and len(self._class_names) == self.num_classes:
            return self._class_names
        cfg = self.pretrained_cfg
        if cfg is not None and len(cfg.class_names) == self.num_classes:
            return cfg.class_names
        return tuple(f"class_{i}" for i in range(self.num_classes))

    @class_names.setter
    def class_names(self, names: Sequence[str] | None) -> None:
        if names is not None:
            names = tuple(str(n) for n in names)
            if len(names) != self.num_classes:
                raise UsageError(f"{len(names)} class names for a {self.num_classes}-class model")
        self._class_names = names

    @property
    def is_fused(self) -> bool:
        """True once :meth:`fuse` has folded the BatchNorms (inference only)."""
        return self._fused

    def fuse(self) -> "SlowFast":
        """Fold every BatchNorm into its convolution, for faster inference (in place).

        The model must be in eval mode and stays inference-only: ``train()`` raises afterwards.
        Outputs match the unfused model within ~1e-5 (float rounding of the folded weights).

        Example:
            >>> import slowfast_zoo as sz
            >>> model = sz.create_model("slowfast_r50_4x16x1").eval().fuse()  # doctest: +SKIP
            >>> model.is_fused, any(isinstance(m, nn.BatchNorm3d) for m in model.modules())  # doctest: +SKIP
            (True, False)
        """
        fuse_model(self)
        self._fused = True
        return self

    # ------------------------------------------------------------- training
    def frozen_modules(self) -> list[nn.Module]:
        """The modules :meth:`freeze` froze: MMAction2's ``frozen_stages`` for both pathways
        (stems, then stages 1..k with the lateral conv feeding each), or the whole backbone.

        Example:
            >>> import slowfast_zoo as sz
            >>> model = sz.create_model("slowfast_r50_4x16x1")
            >>> model.freeze(frozen_stages=1)
            >>> len(model.frozen_modules())  # 2 stems + 2 stages + 1 lateral
            5
        """
        if self.freeze_backbone:
            return [m for name, m in self.named_children() if name not in ("fc", "head_dropout")]
        if self.frozen_stages < 0:
            return []
        mods: list[nn.Module] = [self.slow.stem, self.fast.stem]
        for i in range(min(self.frozen_stages, 4)):
            mods += [self.slow.stages[i], self.fast.stages[i], self.laterals[i]]
        return mods

    def freeze(self, frozen_stages: int = -1, *, norm_eval: bool = False,
               backbone: bool = False) -> None:
        """Choose what training updates, as MMAction2's ``ResNet3d(frozen_stages, norm_eval)``.

        The choice is model state: :meth:`train` keeps frozen modules (and, with ``norm_eval``,
        every BatchNorm) in eval mode, so their running statistics are not updated, and a copy
        of the model (``copy.deepcopy``, a reloaded state) behaves the same way.

        Args:
            frozen_stages: -1 trains everything; 0 freezes both stems; k in 1..4 also freezes
                stages 1..k of both pathways and the lateral convs feeding them.
            norm_eval: keep every BatchNorm in eval mode (affine parameters still trained
                unless frozen).
            backbone: freeze everything but the classifier (a linear probe).

        Example:
            >>> import slowfast_zoo as sz
            >>> model = sz.create_model("slowfast_r50_4x16x1", num_classes=4)
            >>> model.freeze(backbone=True)
            >>> [n for n, p in model.named_parameters() if p.requires_grad]
            ['fc.weight', 'fc.bias']
        """
        if not -1 <= frozen_stages <= 4:
            raise UsageError(f"frozen_stages must be in -1..4, got {frozen_stages}")
        if self.is_fused:
            raise UsageError("cannot train a fused model: build it again with create_model()")
        self.frozen_stages, self.norm_eval, self.freeze_backbone = frozen_stages, norm_eval, backbone
        for p in self.parameters():
            p.requires_grad_(True)
        for m in self.frozen_modules():
            for p in m.parameters():
                p.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> "SlowFast":
        """Set training mode, keeping frozen modules and (``norm_eval``) BatchNorms in eval mode.

        Example:
            >>> import slowfast_zoo as sz
            >>> model = sz.create_model("slowfast_r50_4x16x1")
            >>> model.freeze(norm_eval=True)
            >>> model.train().training, model.slow.stem.bn.training
            (True, False)
        """
        if mode and self.is_fused:
            raise ModelStateError("this model was fused for inference (BatchNorm folded into convs); "
                               "build a new one with create_model() to train")
        super().train(mode)
        if mode:
            # Frozen layers keep their pretrained BatchNorm statistics, as MMAction2's
            # ResNet3d.train does.
            for m in self.frozen_modules():
                m.eval()
            if self.norm_eval:
                for m in self.modules():
                    if isinstance(m, nn.BatchNorm3d):
                        m.eval()
        return self

    def extra_repr(self) -> str:
        s = self.spec
        head = f"avgpool{list(s.head_pool)}" if s.head_pool else "global"
        return (f"arch={s.name}, tau={s.tau}, alpha={s.alpha}, fusion_kernel={s.fusion_kernel}, "
                f"lateral_norm={s.lateral_norm}, slow_sampling={s.slow_sampling}, head={head}, "
                f"feature_order={s.feature_order}, num_classes={self.num_classes}")
