"""The five SlowFast architectures of MMAction2's Kinetics-400 zoo (SPEC.md section 2.1).

Names follow MMAction2's configs: ``slowfast_<slow depth>[_<fast depth>]_<T>x<tau>x<clips>``,
where "4x16" means the slow pathway sees 4 frames at a video stride of 16 (the network input
is always 32 frames taken every 2nd frame). Design: Feichtenhofer et al., "SlowFast Networks
for Video Recognition", ICCV 2019; hyper-parameters as in MMAction2 (Apache-2.0).
"""

from __future__ import annotations

from types import MappingProxyType

from slowfast_zoo.registry.specs import ArchSpec

__all__ = ["ARCHS"]

_SPECS = (
    ArchSpec("slowfast_r50_4x16x1", slow_depth=50, fast_depth=50, tau=8, alpha=8,
             channel_ratio=8, fusion_kernel=5, default_tag="k400_320p"),
    ArchSpec("slowfast_r50_8x8x1", slow_depth=50, fast_depth=50, tau=4, alpha=4,
             channel_ratio=8, fusion_kernel=7, default_tag="k400_320p"),
    ArchSpec("slowfast_r101_r50_4x16x1", slow_depth=101, fast_depth=50, tau=8, alpha=8,
             channel_ratio=8, fusion_kernel=5, default_tag="k400_256p"),
    ArchSpec("slowfast_r101_8x8x1", slow_depth=101, fast_depth=101, tau=4, alpha=4,
             channel_ratio=8, fusion_kernel=7, default_tag="k400_256p"),
    ArchSpec("slowfast_r152_r50_4x16x1", slow_depth=152, fast_depth=50, tau=8, alpha=8,
             channel_ratio=8, fusion_kernel=5, default_tag="k400_256p"),
)

#: Read-only mapping ``architecture name -> ArchSpec``.
ARCHS: MappingProxyType[str, ArchSpec] = MappingProxyType({s.name: s for s in _SPECS})
