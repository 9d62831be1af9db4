"""Every published SlowFast weight, as data: ``PRETRAINED`` (33 recognition + 17 detection weights).

The records live by source: :mod:`.pretrained_mmaction2` (MMAction2 0.x and 1.x recognition, 19
weights), :mod:`.pretrained_pysf` (PyTorchVideo and PySlowFast recognition, 14 weights) and
:mod:`.pretrained_ava` (the AVA / MultiSports detectors of MMAction2 0.x and 1.x and PyTorchVideo,
17 weights); the class names in :mod:`.classes`. This module only assembles them, refusing a name
registered twice.
"""

from __future__ import annotations

from types import MappingProxyType

from slowfast_zoo.errors import ConfigError
from slowfast_zoo.registry import pretrained_ava, pretrained_mmaction2, pretrained_pysf
from slowfast_zoo.registry.classes import (
    AVA_CLASSES,
    CHARADES_CLASSES,
    KINETICS400_CLASSES,
    MULTISPORTS_CLASSES,
    SSV2_CLASSES,
    STHV1_CLASSES,
)
from slowfast_zoo.registry.records import PretrainedCfg

__all__ = ["PRETRAINED", "KINETICS400_CLASSES", "STHV1_CLASSES", "SSV2_CLASSES", "CHARADES_CLASSES",
           "AVA_CLASSES", "MULTISPORTS_CLASSES"]


def _assemble(*groups: tuple[PretrainedCfg, ...]) -> dict[str, PretrainedCfg]:
    out: dict[str, PretrainedCfg] = {}
    for record in (r for group in groups for r in group):
        if record.name in out:  # a later record must never silently replace another
            raise ConfigError(f"weight {record.name!r} is registered twice")
        out[record.name] = record
    return out


#: Read-only mapping ``"arch.tag" -> PretrainedCfg``: MMAction2's recognition weights, then
#: PyTorchVideo's and PySlowFast's, then the detectors.
PRETRAINED: MappingProxyType[str, PretrainedCfg] = MappingProxyType(
    _assemble(pretrained_mmaction2.RECORDS, pretrained_pysf.RECORDS, pretrained_ava.RECORDS))
