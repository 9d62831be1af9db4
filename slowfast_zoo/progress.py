"""Moved to :mod:`slowfast_zoo._progress` in 0.2; this alias is kept for one release (see CHANGELOG.md)."""

from slowfast_zoo._compat import warn_moved
from slowfast_zoo._progress import ProgressBar  # noqa: F401

warn_moved(__name__, "slowfast_zoo._progress")
