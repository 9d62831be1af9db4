"""Moved to :mod:`slowfast_zoo.registry.records` in 0.2; this alias is kept for one release (see CHANGELOG.md)."""

from slowfast_zoo._compat import warn_moved
from slowfast_zoo.registry.records import (  # noqa: F401
    ArchSpec,
    KINETICS_MEAN,
    KINETICS_STD,
    PretrainedCfg,
    TestProtocol,
    TrainProtocol,
)

warn_moved(__name__, "slowfast_zoo.registry.records")
