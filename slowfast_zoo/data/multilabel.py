# Multi-label annotation lists (Charades).
#
# The frame-list format and its video-level labels follow PySlowFast's
# ``slowfast/datasets/utils.py`` (``load_image_lists``, ``convert_to_video_level_labels``,
# ``aggregate_labels``, ``as_binary_vector``) and ``slowfast/datasets/charades.py`` (Meta,
# Apache-2.0, https://github.com/facebookresearch/SlowFast, DATASET.md "Charades"); an independent
# re-implementation, no PySlowFast code is copied.
"""Multi-label datasets: PySlowFast's Charades frame lists and a simple ``path l1,l2`` list.

Two annotation formats, told apart by the first line:

* **PySlowFast frame list** (``train.csv`` / ``val.csv`` of PySlowFast's Charades, DATASET.md):
  a header line starting with ``original_vido_id`` (sic), then one line per frame,
  ``original_vido_id video_id frame_id path labels``, whitespace separated; ``path`` is the frame
  image relative to ``data_root`` (PySlowFast's ``PATH_PREFIX``) and ``labels`` the frame's
  comma-separated class ids (``""`` for none, quotes ignored). A video is the frames of one
  ``original_vido_id``, in file order (videos in order of first appearance). At test time
  PySlowFast labels a video with the union of its frames' labels (``convert_to_video_level_labels``),
  and so does this dataset.
* **Simple list**: one video per line, ``path labels`` (a video file, or with
  ``data_format="rawframes"`` a frame folder whose frames are counted) or
  ``frame_dir total_frames labels`` (rawframes), ``labels`` comma-separated as above.

An item is ``(views, target, index)`` with ``target`` the float32 multi-hot vector of the
video's classes (PySlowFast's ``as_binary_vector``); :attr:`MultiLabelDataset.labels` gives
each video's classes as a tuple. :func:`~slowfast_zoo.evaluation.evaluate` scores such a
dataset by mean average precision (PySlowFast's ``get_map``).

Example:
    >>> parse_label_field('"3,1,3"', "val.csv:2")
    (1, 3)
    >>> parse_label_field('""', "val.csv:3")
    ()
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from slowfast_zoo.data.datasets import PathArg, Record, _ClipDataset, _read_lines, find_video
from slowfast_zoo.data.rawframes import RawframeReader
from slowfast_zoo.data.reading import FrameReader
from slowfast_zoo.errors import AnnotationError, UsageError, VideoDecodeError

__all__ = ["MultiLabelDataset", "FrameListReader", "parse_label_field", "is_frame_list", "FRAME_LIST_HEADER"]

#: How a PySlowFast frame list's header line starts (PySlowFast's own spelling, checked there too).
FRAME_LIST_HEADER = "original_vido_id"

_FORMATS = ("video", "rawframes")


def parse_label_field(field: str, where: str) -> tuple[int, ...]:
    """The sorted distinct class ids of a ``"1,5,7"`` label field (quotes ignored; empty: none).

    Raises:
        AnnotationError: a field that is not comma-separated non-negative integers, at ``where``.
    """
    text = field.replace('"', "")
    if not text:
        return ()
    try:
        ids = {int(tok) for tok in text.split(",")}
    except ValueError:
        raise AnnotationError(f"{where}: labels must be comma-separated class ids, got {field!r}") from None
    if min(ids) < 0:
        raise AnnotationError(f"{where}: class ids must be >= 0, got {field!r}")
    return tuple(sorted(ids))


def is_frame_list(ann_file: PathArg) -> bool:
    """True when ``ann_file``'s first non-blank line is a PySlowFast frame-list header.

    Raises:
        InputFileError, AnnotationError: the file cannot be read as UTF-8 text.
    """
    lines = _read_lines(ann_file)
    return bool(lines) and lines[0][1].startswith(FRAME_LIST_HEADER)


class FrameListReader(RawframeReader):
    """The frames of one frame-list video, frame ``i`` being ``frames[i]`` (from 0), with the
    guarantees of :class:`~slowfast_zoo.data.RawframeReader` for every file.

    Raises:
        VideoDecodeError: no frame, or the first frame's folder does not exist.
    """

    def __init__(self, frames: Sequence[str | os.PathLike[str]]) -> None:
        if not frames:
            raise VideoDecodeError("a frame-list video with no frame")
        self.frames = [Path(f) for f in frames]
        # The template is never used: frame_path below names each file from the list.
        super().__init__(self.frames[0].parent, "{}", start_index=0, num_frames=len(self.frames))

    def frame_path(self, index: int) -> Path:
        """The file of frame ``index`` (0-based position in the list)."""
        return self.frames[index]


class MultiLabelDataset(_ClipDataset):
    """Videos with several classes each (Charades), from either format of the module docstring.

    Args:
        ann_file: a PySlowFast frame list (header ``original_vido_id ...``) or a simple list.
        data_root: folder the paths are relative to (PySlowFast's ``PATH_PREFIX``).
        transform: e.g. ``test_transform("pysf_slowfast_r50_16x8.charades")``.
        num_classes: length of the multi-hot targets; every class id must be below it.
        data_format: for a simple list, ``"video"`` (files) or ``"rawframes"`` (folders of
            ``filename_tmpl`` frames); a frame list names its frames itself.
        filename_tmpl, start_index: rawframe folders' file names and first number (default: the
            transform's template, 1). Frame lists index their frames from 0.
        test_mode, on_error, reader_kwargs: as :class:`~slowfast_zoo.data.VideoDataset`.

    Raises:
        AnnotationError: a malformed line or a class id ``>= num_classes``, as ``file:line``.
    """

    multi_label = True

    def __init__(self, ann_file: PathArg, data_root: PathArg | None, transform: Any, *,
                 num_classes: int, data_format: str = "video", filename_tmpl: str | None = None,
                 start_index: int = 1, test_mode: bool | None = None, on_error: str = "raise",
                 reader_kwargs: dict[str, Any] | None = None) -> None:
        if data_format not in _FORMATS:
            raise UsageError(f"data_format must be one of {_FORMATS}, got {data_format!r}")
        if num_classes < 1:
            raise UsageError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = int(num_classes)
        self.data_format = data_format
        self.filename_tmpl = str(filename_tmpl or getattr(transform, "filename_tmpl", "img_{:05d}.jpg"))
        self.start_index = int(start_index)
        self.reader_kwargs = dict(reader_kwargs or {})
        self.frame_list = is_frame_list(ann_file)
        super().__init__(ann_file, data_root, transform, test_mode=test_mode, on_error=on_error)

    @property
    def labels(self) -> list[tuple[int, ...]]:  # type: ignore[override]
        """Each video's classes, sorted (``()`` for a video without any)."""
        # A multi-label video has a tuple of classes, not one int: code that needs one class
        # per item checks ``multi_label`` first (the evaluation runner does).
        return [r.classes or () for r in self.records]

    def _parse(self, ann_file: PathArg) -> list[Record]:
        records = self._parse_frame_list(ann_file) if self.frame_list else self._parse_simple(ann_file)
        for rec in records:
            if rec.classes and rec.classes[-1] >= self.num_classes:
                raise AnnotationError(f"{ann_file}:{rec.line}: class id {rec.classes[-1]} is not below "
                                      f"num_classes={self.num_classes}")
        return records

    def _parse_frame_list(self, ann_file: PathArg) -> list[Record]:
        videos: dict[str, tuple[int, list[str], set[int]]] = {}  # insertion order = first appearance
        for no, line in _read_lines(ann_file)[1:]:
            where = f"{ann_file}:{no}"
            toks = line.split()
            if len(toks) != 5:
                raise AnnotationError(f"{where}: expected 'original_vido_id video_id frame_id path labels' "
                                      f"(PySlowFast frame list), got {len(toks)} fields: {line!r}")
            first, frames, classes = videos.setdefault(toks[0], (no, [], set()))
            frames.append(toks[3])
            classes.update(parse_label_field(toks[4], where))
        return [Record(name, -1, len(frames), first, tuple(sorted(classes)), tuple(frames))
                for name, (first, frames, classes) in videos.items()]

    def _parse_simple(self, ann_file: PathArg) -> list[Record]:
        records = []
        for no, line in _read_lines(ann_file):
            where = f"{ann_file}:{no}"
            toks = line.split()
            if len(toks) == 2:
                records.append(Record(toks[0], -1, None, no, parse_label_field(toks[1], where)))
            elif len(toks) == 3 and self.data_format == "rawframes":
                try:
                    n = int(toks[1])
                except ValueError:
                    raise AnnotationError(f"{where}: total_frames must be an integer, got {toks[1]!r}") from None
                if n < 1:
                    raise AnnotationError(f"{where}: total_frames must be positive, got {n}")
                records.append(Record(toks[0], -1, n, no, parse_label_field(toks[2], where)))
            else:
                shapes = ("'path labels' or 'frame_dir total_frames labels'" if self.data_format == "rawframes"
                          else "'path labels'")
                raise AnnotationError(f"{where}: expected {shapes} (labels: comma-separated class ids), "
                                      f"got {len(toks)} fields: {line!r}")
        return records

    def _target(self, rec: Record) -> torch.Tensor:
        target = torch.zeros(self.num_classes, dtype=torch.float32)
        target[list(rec.classes or ())] = 1.0
        return target

    def _start_index(self) -> int:
        return 0 if self.frame_list or self.data_format == "video" else self.start_index

    def resolve(self, index: int) -> Path:
        """The video file or frame folder of item ``index`` (a frame list: its first frame's folder).

        Raises:
            VideoDecodeError: a video file that does not exist (extensions are tried as for
                :class:`~slowfast_zoo.data.VideoDataset`).
        """
        return self._locate(self.records[index])

    def _locate(self, rec: Record) -> Path:
        if rec.frames is not None:
            return self._full(rec.frames[0]).parent
        if self.data_format == "video":
            return find_video(self._full(rec.path), f"{self.ann_file}:{rec.line}")
        return self._full(rec.path)

    def _open(self, path: Path, rec: Record) -> FrameReader:
        if rec.frames is not None:
            return FrameListReader([self._full(f) for f in rec.frames])
        if self.data_format == "rawframes":
            return RawframeReader(path, self.filename_tmpl, self.start_index, rec.num_frames)
        from slowfast_zoo.data.decode import VideoReader

        return VideoReader(path, **self.reader_kwargs)
