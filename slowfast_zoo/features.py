"""Moved to :mod:`slowfast_zoo.inference.features` in 0.2; this alias is kept for one release (see CHANGELOG.md)."""

from slowfast_zoo._compat import warn_moved
from slowfast_zoo.inference.features import (  # noqa: F401
    ClipFeatures,
    FAST_CHANNELS,
    SLOW_CHANNELS,
    dense_clip_starts,
    extract_features,
)

warn_moved(__name__, "slowfast_zoo.inference.features")
