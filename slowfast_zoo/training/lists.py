"""Checks of ``path label`` lists before a fine-tuning run starts (errors name ``file:line``)."""

from __future__ import annotations

import os

import numpy as np

from slowfast_zoo.data.datasets import VideoDataset
from slowfast_zoo.errors import ListFileError, VideoDecodeError

__all__ = ["check_list_file"]


def check_list_file(ann_file: str | os.PathLike, data_root: str | os.PathLike | None,
                    num_classes: int | None = None, *, require_all_classes: bool = False) -> int:
    """Check a ``path label`` list before training; returns the number of classes it implies.

    Raises:
        ListFileError: an empty list; a video that does not exist; a label outside
            ``[0, num_classes)``; with ``require_all_classes``, fewer distinct labels than
            ``num_classes`` (a class that can never be learned).
        AnnotationError: a malformed line.

    Example:
        >>> check_list_file("train.txt", "videos/", num_classes=4)  # doctest: +SKIP
        4
    """
    class _NoTransform:
        def sample(self, num_frames: int, start_index: int = 0) -> np.ndarray:  # the dataset only parses here
            raise NotImplementedError

    ds = VideoDataset(ann_file, data_root, _NoTransform())
    if not ds.records:
        raise ListFileError(f"{ann_file}: the list has no videos")
    for i, rec in enumerate(ds.records):
        where = f"{ann_file}:{rec.line}"
        try:
            ds.resolve(i)
        except VideoDecodeError:
            raise ListFileError(f"{where}: video {ds._full(rec.path)} does not exist") from None
        if rec.label < 0 or (num_classes is not None and rec.label >= num_classes):
            raise ListFileError(f"{where}: label {rec.label} is out of range [0, {num_classes}) "
                                f"(num_classes={num_classes})")
    labels = {r.label for r in ds.records}
    if num_classes is not None and require_all_classes and len(labels) < num_classes:
        missing = sorted(set(range(num_classes)) - labels)
        raise ListFileError(f"{ann_file}: {num_classes} classes declared but only {len(labels)} occur; "
                            f"no video of class(es) {missing[:20]}")
    return num_classes if num_classes is not None else max(labels) + 1
