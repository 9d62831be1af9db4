"""Aliases kept at the import paths of modules that moved in 0.2 (removed in 0.3; see CHANGELOG.md)."""

from __future__ import annotations

import warnings

__all__ = ["warn_moved"]


def warn_moved(old: str, new: str) -> None:
    """Tell the importer of ``old`` that its module now lives at ``new``."""
    warnings.warn(f"{old} moved to {new} in slowfast_zoo 0.2; the old import path is removed in 0.3",
                  DeprecationWarning, stacklevel=3)
