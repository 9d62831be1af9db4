# Datasets over annotation lists.
#
# Follows the annotation formats and item semantics of MMAction2's VideoDataset and
# RawframeDataset (OpenMMLab, Apache-2.0, https://github.com/open-mmlab/mmaction2, v0.13.0);
# an independent re-implementation, no MMAction2 code is copied.
"""``torch.utils.data.Dataset`` s over MMAction2-style annotation lists.

Every item is ``(views, label, index)``: ``views`` is what the transform makes of the
video's sampled frames (e.g. ``[30, 3, 32, 256, 256]`` with ``test_transform(...)``).

Damaged or missing files, ``on_error``:

* ``"raise"`` (default): :class:`~slowfast_zoo.errors.VideoDecodeError` naming the file.
* ``"skip"``: the item is a :class:`Failure` ``(index, path, reason)`` instead (never a
  substitute sample), and it is appended to ``dataset.failures``. Use
  :func:`collate_skip_failures` as the DataLoader's ``collate_fn``: it drops the failures
  from the batch and hands them back, so they reach the main process even when they
  happened in a worker (``dataset.failures`` of a worker process is not shared)::

      loader = DataLoader(ds, batch_size=1, num_workers=4, collate_fn=collate_skip_failures)
      for views, labels, indices, failures in loader:
          for f in failures:
              print(f"skipped {f.path}: {f.reason}")
          if views is None:          # every item of this batch failed
              continue
          ...
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from slowfast_zoo.data.reading import FrameReader, read_sampled
from slowfast_zoo.errors import (
    AnnotationError,
    IndexOutOfRangeError,
    InputFileError,
    UsageError,
    VideoDecodeError,
    WrongTypeError,
)

__all__ = ["VideoDataset", "RawframeDataset", "ClipTransform", "Failure", "Record", "AnnotationError",
           "collate_skip_failures", "find_video",
           "VIDEO_EXTENSIONS", "read_text_lines"]

#: Extensions tried, in order, when an annotation names a video without one (Kinetics ids).
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".flv",
                                     ".mpg", ".mpeg", ".3gp", ".ogv", ".wmv")

_ON_ERROR = ("raise", "skip")


class Failure(NamedTuple):
    """An item that could not be loaded (``on_error="skip"``)."""

    index: int  # type: ignore[assignment]  # the item's number; shadows tuple.index on purpose
    path: str
    reason: str


class Record(NamedTuple):
    """One annotation line (one video of a multi-label frame list: its first line)."""

    path: str          # as written in the annotation (relative to data_root)
    label: int         # -1 for a multi-label video: its classes are ``classes``
    num_frames: int | None  # the annotation's frame count, when the line has one
    line: int          # 1-based line number in the annotation file
    classes: tuple[int, ...] | None = None  # multi-label lists (Charades): the video's classes
    frames: tuple[str, ...] | None = None   # frame lists: the video's frame files, in order


def _parse_int(tok: str, what: str, where: str) -> int:
    try:
        return int(tok)
    except ValueError:
        raise AnnotationError(f"{where}: {what} must be an integer, got {tok!r}") from None


#: An annotation file or a folder, as the caller names it.
PathArg = Union[str, "os.PathLike[str]"]
_T = TypeVar("_T")
#: What one item is: ``(views or DecodedVideo, label, index)``, or why it failed.
Item = Union[tuple[Any, int, int], Failure]


def read_text_lines(path: PathArg, what: str = "annotation file") -> list[tuple[int, str]]:
    """``(line number, stripped line)`` of every non-blank line of a UTF-8 list file.

    Raises:
        InputFileError: the file cannot be read.
        AnnotationError: not UTF-8 text (``what`` names the file's role in the message).

    Example:
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     _ = (d / "l.txt").write_text("a.mp4 1\\n\\n  b.mp4 2 \\n")
        ...     read_text_lines(d / "l.txt")
        [(1, 'a.mp4 1'), (3, 'b.mp4 2')]
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{path}: the {what} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]


_read_lines = read_text_lines  # the annotation lists' reader, under the name this package uses


def _check_on_error(on_error: str) -> str:
    if on_error not in _ON_ERROR:
        raise UsageError(f"on_error must be one of {_ON_ERROR}, got {on_error!r}")
    return on_error


def find_video(full: Path, where: str) -> Path:
    """``full``, or else ``full`` plus the first of :data:`VIDEO_EXTENSIONS` that is a file.

    Raises:
        VideoDecodeError: none is, naming the annotation line ``where``.
    """
    if full.is_file():
        return full
    for ext in VIDEO_EXTENSIONS:
        cand = full.with_name(full.name + ext)
        if cand.is_file():
            return cand
    raise VideoDecodeError(f"{full}: no such file (also tried the extensions {' '.join(VIDEO_EXTENSIONS)}; "
                           f"annotation {where})")


class ClipTransform(Protocol):
    """What a dataset needs of its transform: the sampling protocol, then the views
    (``read_views(reader, indices)``, or ``__call__(frames)``), e.g. ``test_transform(name)``."""

    def sample(self, num_frames: int, start_index: int = 0) -> np.ndarray: ...


class _ClipDataset(Dataset[Item], abc.ABC):
    """Shared item logic: open a reader, sample with the transform, read, transform."""

    def __init__(self, ann_file: PathArg, data_root: PathArg | None, transform: Any, *,
                 test_mode: bool | None, on_error: str) -> None:
        if not hasattr(transform, "sample"):
            raise WrongTypeError("transform must carry its sampling protocol (a .sample(num_frames, "
                            "start_index) method), e.g. slowfast_zoo.data.test_transform(name)")
        t_mode = getattr(transform, "test_mode", None)
        if test_mode is not None and t_mode is not None and bool(test_mode) != bool(t_mode):
            raise UsageError(f"test_mode={test_mode} but the transform samples with test_mode={t_mode}; "
                             "use test_transform(...) for testing and train_transform(...) for training")
        self.ann_file = str(ann_file)
        self.data_root = Path(data_root) if data_root not in (None, "") else None
        self.transform = transform
        self.test_mode = bool(t_mode if test_mode is None else test_mode)
        self.on_error = _check_on_error(on_error)
        self.failures: list[Failure] = []
        self.records: list[Record] = self._parse(ann_file)

    @abc.abstractmethod
    def _parse(self, ann_file: PathArg) -> list[Record]:
        """The records of the annotation file."""

    def _full(self, rel: str) -> Path:
        p = Path(rel)
        return p if self.data_root is None or p.is_absolute() else self.data_root / p

    def __len__(self) -> int:
        return len(self.records)

    @property
    def labels(self) -> list[int]:
        """The label of every item, in order."""
        return [r.label for r in self.records]

    def _locate(self, rec: Record) -> Path:
        return self._full(rec.path)

    @abc.abstractmethod
    def _open(self, path: Path, rec: Record) -> FrameReader:
        """A reader of the item's frames."""

    def _start_index(self) -> int:
        return 0

    def _target(self, rec: Record) -> Any:
        """What an item carries as its label: the class (multi-label datasets: a multi-hot vector)."""
        return rec.label

    def _read_sampled(self, reader: FrameReader, read: Callable[[np.ndarray], _T]) -> _T:
        """``read(indices)`` of the transform's sampled frame indices (sampled again if reading
        corrects the reader's frame count, see :func:`read_sampled`)."""
        start = self._start_index()
        sample_reader = getattr(self.transform, "sample_reader", None)
        if sample_reader is not None:  # PyTorchVideo / PySlowFast place clips by timestamps
            return read_sampled(lambda n: np.asarray(sample_reader(reader, start), dtype=np.int64), read, reader)
        return read_sampled(lambda n: np.asarray(self.transform.sample(n, start), dtype=np.int64), read, reader)

    def _load(self, reader: FrameReader, label: int) -> tuple[torch.Tensor, int]:
        tf = self.transform

        def read(idx: np.ndarray) -> tuple[torch.Tensor, int]:
            if hasattr(tf, "read_labelled_views"):
                # A train transform may mirror the label with the frames (flip_label_map).
                return tf.read_labelled_views(reader, idx, label)
            if hasattr(tf, "read_views"):
                return tf.read_views(reader, idx), label
            return tf(reader.read(idx)), label

        return self._read_sampled(reader, read)

    def __getitem__(self, index: int) -> Item:
        return self._item(index, self._load)

    def load_decoded(self, index: int, *, resize: bool = True) -> Item:
        """Item ``index`` as ``(DecodedVideo, label, index)`` (or a :class:`Failure`): the uint8
        distinct frames the views are built from, not the float views (the streamed path of
        evaluation; needs a transform with ``read_decoded``, e.g. ``test_transform(...)``).

        Args:
            index: the item.
            resize: resize here (``True``) or leave it to the device the frames go to.
        """
        tf = self.transform
        if not hasattr(tf, "read_decoded"):
            raise WrongTypeError(f"the transform {type(tf).__name__} cannot stream its views (no read_decoded)")

        def load(reader: FrameReader, label: int) -> tuple[Any, int]:
            return self._read_sampled(reader, lambda idx: (tf.read_decoded(reader, idx, resize=resize), label))

        return self._item(index, load)

    def _item(self, index: int, load: Callable[[FrameReader, int], tuple[Any, int]]) -> Item:
        if index < 0:
            index += len(self.records)
        if not 0 <= index < len(self.records):
            raise IndexOutOfRangeError(f"index {index} out of range for a dataset of {len(self.records)} items")
        rec = self.records[index]
        path = self._full(rec.path)
        try:
            path = self._locate(rec)
            views, label = load(self._open(path, rec), self._target(rec))
        except (VideoDecodeError, OSError) as exc:
            if self.on_error == "raise":
                raise
            failure = Failure(index, str(path), f"{type(exc).__name__}: {exc}")
            self.failures.append(failure)
            return failure
        return views, label, index


class VideoDataset(_ClipDataset):
    """Video files listed in an annotation file.

    Annotation lines (whitespace separated, blank lines ignored):

    * ``relative/path.mp4 label`` (MMAction2's VideoDataset format), or
    * ``video_id num_frames label`` (the Kinetics-400 validation list format): ``video_id``
      is resolved under ``data_root`` as given, or else with the first of
      :data:`VIDEO_EXTENSIONS` that exists. ``num_frames`` is kept in ``records`` but
      sampling always uses the decoder's count (``VideoReader.num_frames``), as MMAction2's
      decord pipeline does.

    Args:
        ann_file: the annotation list.
        data_root: folder the paths are relative to (``None``: as written).
        transform: e.g. ``test_transform("slowfast_r50_4x16x1")``; its ``sample`` gives the
            frame indices (start index 0), its ``read_views`` (or ``__call__``) the views.
        test_mode: optional consistency check against the transform's sampling mode.
        on_error: ``"raise"`` or ``"skip"`` (see the module docstring).
        reader_kwargs: passed to ``VideoReader`` (e.g. ``{"num_threads": 0}``: threaded decoding).

    Raises:
        AnnotationError: a malformed line, reported as ``file:line``.
    """

    def __init__(self, ann_file: PathArg, data_root: PathArg | None,
                 transform: ClipTransform, *, test_mode: bool | None = None,
                 on_error: str = "raise", reader_kwargs: dict[str, Any] | None = None) -> None:
        self.reader_kwargs = dict(reader_kwargs or {})
        super().__init__(ann_file, data_root, transform, test_mode=test_mode, on_error=on_error)

    def _parse(self, ann_file: PathArg) -> list[Record]:
        records = []
        for no, line in _read_lines(ann_file):
            where = f"{ann_file}:{no}"
            toks = line.split()
            if len(toks) == 2:
                records.append(Record(toks[0], _parse_int(toks[1], "label", where), None, no))
            elif len(toks) == 3:
                n = _parse_int(toks[1], "num_frames (format 'video_id num_frames label')", where)
                records.append(Record(toks[0], _parse_int(toks[2], "label", where), n, no))
            else:
                raise AnnotationError(f"{where}: expected 'path label' or 'video_id num_frames label', "
                                      f"got {len(toks)} fields: {line!r}")
        return records

    def resolve(self, index: int) -> Path:
        """The file of item ``index`` (trying :data:`VIDEO_EXTENSIONS` for bare ids).

        Raises:
            VideoDecodeError: no such file.
        """
        return self._locate(self.records[index])

    def _locate(self, rec: Record) -> Path:
        return find_video(self._full(rec.path), f"{self.ann_file}:{rec.line}")

    def _open(self, path: Path, rec: Record) -> FrameReader:
        from slowfast_zoo.data.decode import VideoReader

        return VideoReader(path, **self.reader_kwargs)


class RawframeDataset(_ClipDataset):
    """Rawframe folders listed in an annotation file (MMAction2's RawframeDataset).

    Annotation lines: ``frame_dir total_frames label``; frame ``i`` of a folder is
    ``data_root/frame_dir/filename_tmpl.format(i)`` with ``i`` from ``start_index``
    (``img_00001.jpg`` ...). Sampling uses ``total_frames`` from the annotation and adds
    ``start_index`` to the sampled indices, as MMAction2 does.

    Args: as :class:`VideoDataset`, plus ``filename_tmpl`` (default: the transform's, i.e. the
    weight's own: ``"img_{:05d}.jpg"``, ``"{:05}.jpg"`` for Something-Something V1) and
    ``start_index``.
    """

    def __init__(self, ann_file: PathArg, data_root: PathArg | None,
                 transform: ClipTransform, *, filename_tmpl: str | None = None,
                 start_index: int = 1, test_mode: bool | None = None, on_error: str = "raise") -> None:
        if filename_tmpl is None:
            filename_tmpl = getattr(transform, "filename_tmpl", "img_{:05d}.jpg")
        self.filename_tmpl = filename_tmpl
        self.start_index = int(start_index)
        super().__init__(ann_file, data_root, transform, test_mode=test_mode, on_error=on_error)

    def _parse(self, ann_file: PathArg) -> list[Record]:
        records = []
        for no, line in _read_lines(ann_file):
            where = f"{ann_file}:{no}"
            toks = line.split()
            if len(toks) != 3:
                raise AnnotationError(f"{where}: expected 'frame_dir total_frames label', "
                                      f"got {len(toks)} fields: {line!r}")
            n = _parse_int(toks[1], "total_frames", where)
            if n < 1:
                raise AnnotationError(f"{where}: total_frames must be positive, got {n}")
            records.append(Record(toks[0], _parse_int(toks[2], "label", where), n, no))
        return records

    def _start_index(self) -> int:
        return self.start_index

    def _open(self, path: Path, rec: Record) -> FrameReader:
        from slowfast_zoo.data.rawframes import RawframeReader

        return RawframeReader(path, self.filename_tmpl, self.start_index, rec.num_frames)


def collate_skip_failures(batch: Sequence[Item]) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor,
                                                     list[Failure]]:
    """DataLoader ``collate_fn`` for ``on_error="skip"`` datasets.

    Returns:
        ``(views, labels, indices, failures)``: ``views`` stacked ``[B', ...]`` over the
        items that loaded (``None`` if none did), ``labels`` and ``indices`` int64 ``[B']``
        (multi-label datasets: ``labels`` float32 multi-hot ``[B', num_classes]``),
        ``failures`` the list of :class:`Failure` of this batch.
    """
    good = [b for b in batch if not isinstance(b, Failure)]
    failures = [b for b in batch if isinstance(b, Failure)]
    if not good:
        return None, torch.empty(0, dtype=torch.int64), torch.empty(0, dtype=torch.int64), failures
    views = torch.stack([g[0] for g in good])
    if isinstance(good[0][1], torch.Tensor):  # multi-label items: multi-hot vectors, stacked [B', K]
        labels = torch.stack([g[1] for g in good])
    else:
        labels = torch.tensor([int(g[1]) for g in good], dtype=torch.int64)
    indices = torch.tensor([int(g[2]) for g in good], dtype=torch.int64)
    return views, labels, indices, failures
