"""Class-name files (``--label-map``): one name per line, as MMAction2's ``label_map_*.txt``.

MMAction2 ships no names for some weights (Something-Something V1: its records carry
``class_0`` ... ``class_173``); a label map shows the real ones.
"""

from __future__ import annotations

import os
from pathlib import Path

from slowfast_zoo.errors import InputFileError, UsageError

__all__ = ["read_label_map"]


def read_label_map(path: str | os.PathLike, num_classes: int | None = None) -> tuple[str, ...]:
    """The class names of a label-map file: one per line, in class order; blank lines skipped.

    Args:
        path: the text file (UTF-8).
        num_classes: when given, the file must have exactly this many names.

    Raises:
        InputFileError: the file is missing or unreadable.
        UsageError: not UTF-8 text, no names, or a count other than ``num_classes``.

    Example:
        >>> names = read_label_map("sthv1_labels.txt", num_classes=174)  # doctest: +SKIP
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{p}: label map is not UTF-8 text ({e.reason} at byte {e.start})") from e
    except OSError as e:
        raise InputFileError(f"{p}: cannot read the label map ({e.strerror or e})") from e
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not names:
        raise UsageError(f"{p}: the label map has no class names (expected one name per line)")
    if num_classes is not None and len(names) != num_classes:
        raise UsageError(f"{p}: the label map has {len(names)} class names, the model has "
                         f"{num_classes} classes (one name per line, in class order)")
    return names
