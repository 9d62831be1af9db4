"""The SlowFast architectures of MMAction2's zoo and of PySlowFast / PyTorchVideo's (docs/SPEC.md section 2.1).

MMAction2 names follow its configs: ``slowfast_<slow depth>[_<fast depth>]_<T>x<tau>x<clips>``,
where "4x16" means the slow pathway sees 4 frames at a video stride of 16 (the network input
is 32 frames taken every 2nd frame; 64 for the Something-Something V1 ``16x8``). ``_ln``
marks MMAction2's ``lateral_norm=True`` (each lateral conv followed by BN and ReLU).

``pysf_*`` names follow PySlowFast's configs (``SLOWFAST_<T/alpha>x<stride>_R<depth>``, the
same networks PyTorchVideo's ``create_slowfast`` builds): lateral conv + BN + ReLU, the slow
clip taken by PySlowFast's ``linspace``, the head pooling the training crop's ``[T/alpha | T, 7,
7]`` with stride 1 and classifying slow-then-fast features at each position; the R101 16x8
("R101_50_50") has temporal kernels in only the first 6 of its 23 res4 blocks.

Design: Feichtenhofer et al., "SlowFast Networks for Video Recognition", ICCV 2019;
hyper-parameters as in MMAction2, PySlowFast and PyTorchVideo (all Apache-2.0).

This file alone says what layers an architecture has: each pathway is a 3-D ResNet
(``slowfast_zoo.models.layers.STAGE_BLOCKS[depth]`` bottlenecks per stage) built from the
recipe below, and :class:`~slowfast_zoo.models.slowfast.SlowFast` only assembles it.
"""

from __future__ import annotations

from types import MappingProxyType

from slowfast_zoo.registry.records import ArchSpec, RoISpec

__all__ = ["ARCHS"]

# MMAction2's ResNet3dSlowFast pathways, shared by every architecture of the zoo: a 64-wide
# slow pathway with a 1x7x7 stem and temporal (3x1x1) first convs in stages 3-4 only, a fast
# pathway 1/channel_ratio as wide with a 5x7x7 stem and temporal first convs everywhere, and
# time-strided lateral convs doubling the fast channels into the slow pathway.
def _spec(name: str, *, slow_depth: int, fast_depth: int, tau: int, alpha: int, fusion_kernel: int,
          default_tag: str, lateral_norm: bool = False, num_frames: int = 32,
          num_classes: int = 400) -> ArchSpec:
    """An :class:`ArchSpec` on the shared recipe above (what varies between networks is named).

    Example:
        >>> spec = _spec("x", slow_depth=50, fast_depth=50, tau=8, alpha=8, fusion_kernel=5,
        ...              default_tag="t")
        >>> spec.channel_ratio, spec.slow_inflate, spec.dropout
        (8, (False, False, True, True), 0.5)
    """
    return ArchSpec(name, slow_depth=slow_depth, fast_depth=fast_depth, tau=tau, alpha=alpha,
                    channel_ratio=8, fusion_kernel=fusion_kernel, default_tag=default_tag,
                    num_classes=num_classes, dropout=0.5, slow_base_channels=64,
                    slow_stem_kernel=1, fast_stem_kernel=5,
                    slow_inflate=(False, False, True, True), fast_inflate=(True, True, True, True),
                    lateral_expansion=2, lateral_norm=lateral_norm, num_frames=num_frames)


_SPECS = (
    _spec("slowfast_r50_4x16x1", slow_depth=50, fast_depth=50, tau=8, alpha=8,
          fusion_kernel=5, default_tag="k400_320p"),
    _spec("slowfast_r50_8x8x1", slow_depth=50, fast_depth=50, tau=4, alpha=4,
          fusion_kernel=7, default_tag="k400_320p"),
    _spec("slowfast_r101_r50_4x16x1", slow_depth=101, fast_depth=50, tau=8, alpha=8,
          fusion_kernel=5, default_tag="k400_256p"),
    _spec("slowfast_r101_8x8x1", slow_depth=101, fast_depth=101, tau=4, alpha=4,
          fusion_kernel=7, default_tag="k400_256p"),
    _spec("slowfast_r152_r50_4x16x1", slow_depth=152, fast_depth=50, tau=8, alpha=8,
          fusion_kernel=5, default_tag="k400_256p"),
    # MMAction2 0.x step-LR / multigrid configs and the 1.x step-LR config.
    _spec("slowfast_r50_8x8x1_ln", slow_depth=50, fast_depth=50, tau=4, alpha=4,
          fusion_kernel=7, default_tag="k400_steplr_prebn", lateral_norm=True),
    # Something-Something V1: the r50 8x8 network on 64-frame clips, 174 classes.
    _spec("slowfast_r50_16x8x1", slow_depth=50, fast_depth=50, tau=4, alpha=4,
          fusion_kernel=7, default_tag="sthv1", num_frames=64, num_classes=174),
)


# PySlowFast's SlowFast (configs/*/SLOWFAST_*.yaml; = PyTorchVideo's create_slowfast): the same
# pathways with BN + ReLU after every lateral conv, whose stride is alpha (the fast clip is the
# input: tau = alpha), the slow clip taken by linspace, and the head pooling the training crop
# (224 px: 7x7 at stride 32) over the slow pathway's T/alpha and the fast pathway's T frames.
def _pysf_spec(name: str, *, depth: int, num_frames: int, alpha: int, fusion_kernel: int,
               default_tag: str, num_classes: int = 400,
               inflated_blocks: tuple[int, ...] = ()) -> ArchSpec:
    """A PySlowFast :class:`ArchSpec` (what varies between its networks is named).

    Example:
        >>> spec = _pysf_spec("x", depth=50, num_frames=32, alpha=8, fusion_kernel=5, default_tag="t")
        >>> spec.tau, spec.head_pool, spec.lateral_norm, spec.slow_sampling
        (8, ((4, 7, 7), (32, 7, 7)), True, 'linspace')
    """
    return _spec(name, slow_depth=depth, fast_depth=depth, tau=alpha, alpha=alpha,
                 fusion_kernel=fusion_kernel, default_tag=default_tag, lateral_norm=True,
                 num_frames=num_frames, num_classes=num_classes).replace(
        slow_sampling="linspace", inflated_blocks=inflated_blocks, feature_order="slow_fast",
        head_pool=((num_frames // alpha, 7, 7), (num_frames, 7, 7)))


_PYSF_SPECS = (
    _pysf_spec("pysf_slowfast_r50_4x16", depth=50, num_frames=32, alpha=8, fusion_kernel=5,
               default_tag="k400_ptv"),
    _pysf_spec("pysf_slowfast_r50_8x8", depth=50, num_frames=32, alpha=4, fusion_kernel=7,
               default_tag="k400_ptv"),
    # PyTorchVideo's hub slowfast_r101 and slowfast_16x8_r101_50_50 have kernel-5 laterals.
    _pysf_spec("pysf_slowfast_r101_8x8", depth=101, num_frames=32, alpha=4, fusion_kernel=5,
               default_tag="k400_ptv"),
    _pysf_spec("pysf_slowfast_16x8_r101_50_50", depth=101, num_frames=64, alpha=4, fusion_kernel=5,
               default_tag="k400_ptv", inflated_blocks=(3, 4, 6, 3)),
    # The multigrid zoo's Something-Something V2 (174 classes) and Charades (157) network.
    _pysf_spec("pysf_slowfast_r50_16x8", depth=50, num_frames=64, alpha=4, fusion_kernel=7,
               default_tag="ssv2", num_classes=174),
)


# Spatio-temporal action detectors (AVA, MultiSports): the recognition networks with res5 at
# spatial stride 1 (maps at 1/16 of the input) and a RoI head instead of the global one.
# MMAction2's FastRCNN (configs/detection/{slowfast,acrn}): no dilation, RoIAlign 8x8 aligned,
# 81 AVA rows with the background first.
def _mm_det(name: str, base: str, default_tag: str, roi: RoISpec = RoISpec(),
            num_classes: int = 80) -> ArchSpec:
    """An MMAction2 detector on the recognition architecture ``base``.

    Example:
        >>> spec = _mm_det("x", "slowfast_r50_4x16x1", "t")
        >>> spec.spatial_strides, spec.task, spec.roi.output_size
        ((1, 2, 2, 1), 'detection', 8)
    """
    # The RoI extractor joins the pathways slow first (the recognition head: fast first).
    return _BY_NAME[base].replace(name=name, default_tag=default_tag, spatial_strides=(1, 2, 2, 1),
                                   roi=roi, num_classes=num_classes, feature_order="slow_fast")


_BY_NAME = {s.name: s for s in _SPECS}

_DET_SPECS = (
    _mm_det("slowfast_r50_4x16x1_ava", "slowfast_r50_4x16x1", "ava21_mm1"),
    _mm_det("slowfast_r50_8x8x1_ava", "slowfast_r50_8x8x1", "ava21_mm1"),
    _mm_det("slowfast_r50_8x8x1_ava_tmax", "slowfast_r50_8x8x1", "ava22_mm1",
            RoISpec(temporal_pool="max")),
    _mm_det("slowfast_r50_4x16x1_ava_context", "slowfast_r50_4x16x1", "ava21_mm1",
            RoISpec(with_global=True)),
    _mm_det("slowfast_r50_8x8x1_ava_acrn", "slowfast_r50_8x8x1", "ava21_mm1",
            RoISpec(shared_head="acrn")),
    # MMAction2 0.x's ACRN configs pool over time by max (its 1.x configs average).
    _mm_det("slowfast_r50_8x8x1_ava_acrn_tmax", "slowfast_r50_8x8x1", "ava21",
            RoISpec(shared_head="acrn", temporal_pool="max")),
    _mm_det("slowfast_r50_4x16x1_multisports", "slowfast_r50_4x16x1", "multisports_mm1",
            RoISpec(background_class=False, score_activation="softmax"), num_classes=66),
    # PyTorchVideo's hub slowfast_r50_detection (create_slowfast_with_roi_head): the PySlowFast
    # 8x8 R50 with res5 dilated by 2 in both pathways, RoIAlign 7x7 not aligned, 80 classes.
    _pysf_spec("ptv_slowfast_r50_detection", depth=50, num_frames=32, alpha=4, fusion_kernel=7,
               default_tag="ava22_ptv", num_classes=80).replace(
        head_pool=(), spatial_strides=(1, 2, 2, 1), res5_dilation=2,
        roi=RoISpec(output_size=7, aligned=False, background_class=False)),
)

#: Read-only mapping ``architecture name -> ArchSpec`` (classifiers and detectors).
ARCHS: MappingProxyType[str, ArchSpec] = MappingProxyType(
    {s.name: s for s in _SPECS + _PYSF_SPECS + _DET_SPECS})
