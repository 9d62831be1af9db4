"""The SlowFast architectures of MMAction2's Kinetics-400 zoo (docs/SPEC.md section 2.1).

Names follow MMAction2's configs: ``slowfast_<slow depth>[_<fast depth>]_<T>x<tau>x<clips>``,
where "4x16" means the slow pathway sees 4 frames at a video stride of 16 (the network input
is 32 frames taken every 2nd frame; 64 for the Something-Something V1 ``16x8``). ``_ln``
marks MMAction2's ``lateral_norm=True`` (each lateral conv followed by BN and ReLU). Design: Feichtenhofer et al., "SlowFast Networks
for Video Recognition", ICCV 2019; hyper-parameters as in MMAction2 (Apache-2.0).

This file alone says what layers an architecture has: each pathway is a 3-D ResNet
(``slowfast_zoo.models.layers.STAGE_BLOCKS[depth]`` bottlenecks per stage) built from the
recipe below, and :class:`~slowfast_zoo.models.slowfast.SlowFast` only assembles it.
"""

from __future__ import annotations

from types import MappingProxyType

from slowfast_zoo.registry.records import ArchSpec

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

#: Read-only mapping ``architecture name -> ArchSpec``.
ARCHS: MappingProxyType[str, ArchSpec] = MappingProxyType({s.name: s for s in _SPECS})
