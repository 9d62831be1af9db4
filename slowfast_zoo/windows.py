"""Moved to :mod:`slowfast_zoo.inference.windows` in 0.2; this alias is kept for one release (see CHANGELOG.md)."""

from slowfast_zoo._compat import warn_moved
from slowfast_zoo.inference.windows import WindowPrediction, predict_windows, window_ranges  # noqa: F401

warn_moved(__name__, "slowfast_zoo.inference.windows")
