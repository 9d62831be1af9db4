"""What a fine-tuning run trains and validates on, checked before the run starts.

Two layouts (:func:`training_data` picks by what is given):

* ``path label`` lists (MMAction2's VideoDataset format) relative to ``data_root``; errors name
  ``file:line`` (:func:`check_list_file`);
* class folders: ``data_root/<class>/<video>``, one sub-folder per class, classes numbered in the
  order of their sorted folder names, videos the files under each class folder (sub-folders
  included) whose extension is one of :data:`~slowfast_zoo.data.VIDEO_EXTENSIONS` (any case);
  names starting with ``.`` are skipped. Validation: ``val_root`` of the same layout (its class
  folders a subset of the training ones), or ``val_fraction`` of each class's videos, drawn with
  ``seed`` (the same files and seed give the same split, so a resumed run validates on the same
  videos) (:func:`class_folder_data`).

Example:
    >>> data = training_data(data_root="clips/", val_fraction=0.2, seed=0)  # doctest: +SKIP
    >>> data.class_names, len(data.train), len(data.val)                   # doctest: +SKIP
    (['jump', 'run', 'sit'], 12, 3)
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from slowfast_zoo.data.datasets import VIDEO_EXTENSIONS, ClipTransform, Record, VideoDataset
from slowfast_zoo.errors import InputFileError, ListFileError, UsageError, VideoDecodeError

__all__ = ["check_list_file", "class_folder_names", "class_folder_data", "training_data", "TrainingData",
           "Videos", "LabelledVideos"]

_EXTENSIONS = frozenset(ext.lower() for ext in VIDEO_EXTENSIONS)


class _NoTransform:
    def sample(self, num_frames: int, start_index: int = 0) -> np.ndarray:  # the dataset only parses here
        raise NotImplementedError


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


class LabelledVideos(VideoDataset):
    """A :class:`~slowfast_zoo.data.VideoDataset` over ``(path, label)`` pairs instead of a list file
    (class folders); ``where`` names the source in messages (``where:N`` is the N-th pair).

    Example:
        >>> ds = LabelledVideos([("clips/run/a.mp4", 1)], transform, where="clips")  # doctest: +SKIP
    """

    def __init__(self, videos: Sequence[tuple[str, int]], transform: ClipTransform, *, where: str,
                 on_error: str = "raise") -> None:
        self._pairs = [(str(path), int(label)) for path, label in videos]
        super().__init__(where, None, transform, on_error=on_error)

    def _parse(self, ann_file: Any) -> list[Record]:
        return [Record(path, label, None, i) for i, (path, label) in enumerate(self._pairs, 1)]


@dataclass(frozen=True)
class Videos:
    """One split of a run: a ``path label`` list file (relative to ``data_root``), or the
    ``(path, label)`` pairs of class folders under ``data_root``."""

    data_root: str | None
    list_file: str | None = None
    pairs: tuple[tuple[str, int], ...] = ()

    @property
    def where(self) -> str:
        """The list file or the class folders' root, for messages."""
        return str(self.list_file if self.list_file is not None else self.data_root)

    def dataset(self, transform: ClipTransform, *, on_error: str = "skip") -> VideoDataset:
        """The split's dataset with ``transform``."""
        if self.list_file is not None:
            return VideoDataset(self.list_file, self.data_root, transform, on_error=on_error)
        return LabelledVideos(self.pairs, transform, where=self.where, on_error=on_error)


@dataclass(frozen=True)
class TrainingData:
    """The classes of a run (``class_names[k]`` names label ``k``) and its train / validation videos."""

    class_names: list[str]
    train: Videos
    val: Videos | None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def _visible(name: str) -> bool:
    return not name.startswith(".")


def class_folder_names(root: str | os.PathLike) -> list[str]:
    """The class names of a class-folder root: its sub-folders (not starting with ``.``), sorted.

    Raises:
        InputFileError: ``root`` is not a folder.
        ListFileError: it has no sub-folder.

    Example:
        >>> class_folder_names("clips/")  # doctest: +SKIP
        ['jump', 'run', 'sit']
    """
    p = Path(root)
    if not p.is_dir():
        raise InputFileError(f"{root}: no such folder (class folders: one sub-folder of videos per class)")
    try:
        names = sorted(e.name for e in os.scandir(p) if _visible(e.name) and e.is_dir())
    except OSError as e:
        raise InputFileError(f"{root}: cannot list the folder ({e.strerror or e})") from e
    if not names:
        raise ListFileError(f"{root}: no class folders (expected one sub-folder of videos per class, "
                            f"e.g. {p / 'jump' / 'a.mp4'})")
    return names


def _videos_of(folder: Path) -> list[str]:
    """The video files under ``folder`` (recursively, hidden names skipped), sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if _visible(d)]
        found += [os.path.join(dirpath, f) for f in filenames
                  if _visible(f) and os.path.splitext(f)[1].lower() in _EXTENSIONS]
    return sorted(found)


def _scan(root: str | os.PathLike, classes: list[str]) -> list[list[str]]:
    return [_videos_of(Path(root) / name) for name in classes]


def _split(per_class: list[list[str]], fraction: float, seed: int) -> tuple[list[list[str]], list[list[str]]]:
    """Each class's videos split: ``round(fraction * n)`` to validation, at least 1 and at most
    ``n - 1`` (a class of one video stays in training), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for videos in per_class:
        n = len(videos)
        k = min(n - 1, max(1, round(fraction * n)))
        chosen = set(rng.permutation(n)[:k].tolist())
        val.append([v for i, v in enumerate(videos) if i in chosen])
        train.append([v for i, v in enumerate(videos) if i not in chosen])
    return train, val


def _pairs(per_class: list[list[str]]) -> tuple[tuple[str, int], ...]:
    return tuple((v, label) for label, videos in enumerate(per_class) for v in videos)


def class_folder_data(data_root: str | os.PathLike, *, val_root: str | os.PathLike | None = None,
                      val_fraction: float | None = None, seed: int = 0) -> TrainingData:
    """The classes and videos of class folders (see the module docstring for the layout).

    Raises:
        InputFileError: ``data_root`` or ``val_root`` is not a folder.
        ListFileError: no class folders, fewer than two, a class folder without videos (a class
            that could never be learned), a ``val_root`` class folder the training data lacks, a
            ``val_root`` without videos.
        UsageError: both ``val_root`` and ``val_fraction``; ``val_fraction`` outside (0, 1); a
            ``val_fraction`` that leaves no validation video (every class has one video).

    Example:
        >>> class_folder_data("clips/", val_root="clips_val/").num_classes  # doctest: +SKIP
        3
    """
    if val_root is not None and val_fraction is not None:
        raise UsageError("val_root and val_fraction exclude each other")
    if val_fraction is not None and not (math.isfinite(val_fraction) and 0 < val_fraction < 1):
        raise UsageError(f"val_fraction must be a number between 0 and 1 (exclusive), got {val_fraction:g}")
    classes = class_folder_names(data_root)
    if len(classes) < 2:
        raise ListFileError(f"{data_root}: one class folder ({classes[0]}); a classifier needs at least two")
    per_class = _scan(data_root, classes)
    for name, videos in zip(classes, per_class):
        if not videos:
            raise ListFileError(f"{Path(data_root) / name}: no videos in this class folder (extensions: "
                                f"{' '.join(VIDEO_EXTENSIONS)})")
    root = os.fspath(data_root)
    val: Videos | None = None
    if val_fraction is not None:
        per_class, held = _split(per_class, val_fraction, seed)
        if not any(held):
            raise UsageError(f"val_fraction={val_fraction:g} leaves no validation video: every class folder "
                             f"of {root} has one video")
        val = Videos(root, pairs=_pairs(held))
    elif val_root is not None:
        val_classes = class_folder_names(val_root)
        unknown = [c for c in val_classes if c not in classes]
        if unknown:
            raise ListFileError(f"{Path(val_root) / unknown[0]}: no class of that name in {root} "
                                f"(its classes: {', '.join(classes[:20])})")
        held = [_videos_of(Path(val_root) / c) if c in val_classes else [] for c in classes]
        if not any(held):
            raise ListFileError(f"{val_root}: no videos in its class folders (extensions: "
                                f"{' '.join(VIDEO_EXTENSIONS)})")
        val = Videos(os.fspath(val_root), pairs=_pairs(held))
    return TrainingData(classes, Videos(root, pairs=_pairs(per_class)), val)


def training_data(*, train_list: str | os.PathLike | None = None, val_list: str | os.PathLike | None = None,
                  data_root: str | os.PathLike | None = None, val_root: str | os.PathLike | None = None,
                  val_fraction: float | None = None, class_names: Sequence[str] | None = None,
                  num_classes: int | None = None, seed: int = 0) -> TrainingData:
    """A run's data: ``path label`` lists when ``train_list`` is given, else the class folders of
    ``data_root``. Every video is checked to exist; lists without ``class_names`` get the names
    ``"0"``, ``"1"``, ... and ``num_classes`` or the largest training label + 1 classes.

    Raises:
        UsageError: options of the other layout (``val_root``/``val_fraction`` with lists,
            ``val_list``/``class_names`` with class folders), neither ``train_list`` nor
            ``data_root``, a ``num_classes`` the class names or folders contradict.
        ListFileError, AnnotationError, InputFileError: see :func:`check_list_file` and
            :func:`class_folder_data`.

    Example:
        >>> training_data(train_list="train.txt", data_root="videos/").num_classes  # doctest: +SKIP
        4
    """
    if train_list is None:
        if data_root is None:
            raise UsageError("give data_root (one sub-folder of videos per class) or train_list "
                             "('path label' lines)")
        if val_list is not None or class_names is not None:
            raise UsageError("class folders name their classes and validate on val_root or val_fraction; "
                             "val_list and class_names are for a train_list")
        data = class_folder_data(data_root, val_root=val_root, val_fraction=val_fraction, seed=seed)
        if num_classes not in (None, data.num_classes):
            raise UsageError(f"num_classes={num_classes} but {data_root} has {data.num_classes} class folders")
        return data
    if val_root is not None or val_fraction is not None:
        raise UsageError("val_root and val_fraction are for class folders (data_root without a train_list)")
    declared = len(class_names) if class_names is not None else num_classes
    if class_names is not None and num_classes not in (None, declared):
        raise UsageError(f"num_classes={num_classes} but {declared} class names were given")
    root = None if data_root is None else os.fspath(data_root)
    k = check_list_file(train_list, root, declared, require_all_classes=declared is not None)
    if val_list is not None:
        check_list_file(val_list, root, k)
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    return TrainingData(names, Videos(root, list_file=os.fspath(train_list)),
                        Videos(root, list_file=os.fspath(val_list)) if val_list is not None else None)
