# AVA annotation, exclusion and person-box (proposal) files.
#
# The formats and their meaning follow MMAction2's ``AVADataset`` (``mmaction/datasets/
# ava_dataset.py``: ``load_data_list``, ``parse_img_record``, ``filter_data``, ``get_data_info``;
# OpenMMLab, Apache-2.0, https://github.com/open-mmlab/mmaction2, v1.2.0), PySlowFast's
# ``slowfast/datasets/ava_helper.py`` (``parse_bboxes_file``; Meta, Apache-2.0,
# https://github.com/facebookresearch/SlowFast). An independent re-implementation; no code of
# either is copied.
"""AVA files as the datasets read them: ground truth grouped per keyframe, and person boxes (proposals).

The CSV rows themselves are read by :mod:`.ava_files`, the one reader of AVA's CSVs (label maps and
excluded keyframes too: :func:`~.ava_files.read_ava_exclusions`), which this module builds on.

Every keyframe is keyed by its ``img_key``, ``f"{video_id},{timestamp:04d}"`` (MMAction2's key).

* :func:`read_ava_annotations` -- ``video_id,timestamp,x1,y1,x2,y2,action_id,person_id``
  (normalized boxes; :func:`~.ava_files.read_ava_csv` rows) -> :class:`GroundTruth` per keyframe,
  rows of one box merged as MMAction2 merges them (same four numbers -> one person, its actions
  collected).
* :func:`read_proposals` -- person boxes, three formats, each -> ``{img_key: [n, 5] array}``
  (``x1, y1, x2, y2, score``, normalized to ``[0, 1]``; float64, except a pickle's float arrays,
  which keep their dtype and may have 4 columns):

  - ``"mmaction2"``: MMAction2's proposal ``.pkl`` (``ava_dense_proposals_val.FAIR.recall_93.9.pkl``),
    a dict ``img_key -> [n, 4 | 5]`` array. Read only through the restricted unpickler of
    :mod:`slowfast_zoo.weights.pickle_guard` with :data:`PROPOSAL_PICKLE_GLOBALS` (numpy's array
    reconstruction, nothing else); never a plain ``pickle.load``. Arrays keep their float dtype
    (MMAction2 compares float32 scores with the threshold in float32).
  - ``"pyslowfast"``: PySlowFast's ``ava_val_predicted_boxes.csv``,
    ``video_id,timestamp,x1,y1,x2,y2,label,score`` (label often empty); rows below
    ``score_threshold`` (PySlowFast's AVA configs: ``DETECTION_SCORE_THRESH: 0.8``) are dropped
    and a box repeated on a keyframe is kept once (PySlowFast keys boxes by their text).
  - ``"boxes"``: our plain box file, ``video_id,timestamp,x1,y1,x2,y2[,score]``: one box per
    line, coordinates **normalized** to ``[0, 1]`` like every AVA file (divide pixel
    coordinates by the frame's width and height), score 1 when absent; blank lines and lines
    starting with ``#`` are skipped.

* :func:`keyframe_proposals` -- MMAction2's test-time choice of a keyframe's boxes.

Bad input raises :class:`~slowfast_zoo.errors.AnnotationError` naming ``file:line`` (or the
pickle key), a missing or unreadable file :class:`~slowfast_zoo.errors.InputFileError`; CSVs over
:data:`~.ava_files.MAX_CSV_BYTES` or :data:`~.ava_files.MAX_CSV_ROWS` rows, pickles over
:data:`MAX_FILE_BYTES` or :data:`MAX_ROWS` boxes are refused before they are read whole.

Example:
    >>> boxes, scores = keyframe_proposals({"v,0902": np.array([[.1, .1, .5, .9, .95],
    ...                                                    [.2, .2, .4, .4, .3]])}, "v,0902")
    >>> boxes.tolist(), scores.tolist()
    ([[0.1, 0.1, 0.5, 0.9]], [0.95])
    >>> keyframe_proposals({}, "v,0903")          # no proposals: the whole frame, score 1
    (array([[0., 0., 1., 1.]]), array([1.]))
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from slowfast_zoo.data.ava_files import _TIMESTAMP_LIMIT, AvaRows, _checked_file, _csv_rows, read_ava_csv
from slowfast_zoo.errors import AnnotationError, CheckpointError, UsageError

__all__ = ["GroundTruth", "read_ava_annotations",
           "read_proposals", "keyframe_proposals", "img_key", "PROPOSAL_PICKLE_GLOBALS",
           "MAX_FILE_BYTES", "MAX_ROWS", "WHOLE_FRAME"]

#: Largest proposal pickle read (AVA's largest, the train proposals, is far below). CSVs: the
#: limits of :mod:`.ava_files`.
MAX_FILE_BYTES = 1 << 30
#: Most boxes one proposal pickle may hold.
MAX_ROWS = 20_000_000
#: The globals a proposal pickle may name: numpy's array reconstruction in its numpy 1 and 2
#: spellings and ``_codecs.encode`` (protocol-2 pickles written by Python 3, as mmcv writes them,
#: carry array bytes through it). Nothing else: a pickle naming any other global is refused.
PROPOSAL_PICKLE_GLOBALS = frozenset({
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
    "numpy.ndarray", "numpy.dtype", "_codecs.encode",
    # Protocol 2 (what mmcv dumps) pickles an empty array's data as bytes(): the guard's stand-in
    # returns b"" and refuses any argument.
    "builtins.bytes"})
#: The box a keyframe without proposals gets (MMAction2: ``[[0, 0, 1, 1]]``, score 1).
WHOLE_FRAME = (0.0, 0.0, 1.0, 1.0)
# ASCII digits only, at most 9 (AVA's timestamps are seconds, below _TIMESTAMP_LIMIT): a longer
# run is no keyframe, and int() of thousands of digits raises.
_KEY = re.compile(r"([^,\s]+),([0-9]{1,9})\Z")
_BAD_VIDEO = re.compile(r"[,\s]")
ProposalFormat = Literal["auto", "mmaction2", "pyslowfast", "boxes"]


def img_key(video_id: str, timestamp: int) -> str:
    """MMAction2's keyframe key ``f"{video_id},{timestamp:04d}"``.

    Example:
        >>> img_key("-5KQ66BBWC4", 902)
        '-5KQ66BBWC4,0902'
    """
    return f"{video_id},{int(timestamp):04d}"


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """The annotated persons of one keyframe, as MMAction2's ``parse_img_record`` merges them.

    Rows with the same four box numbers are one person (in order of first appearance); that
    person's ``entity_id`` is the one of its first row.

    Attributes:
        boxes: float64 ``[n, 4]``, ``x1, y1, x2, y2`` normalized to ``[0, 1]``.
        labels: per person, its distinct action ids in increasing order (the non-zero columns
            of MMAction2's multi-hot ``gt_labels``; ids after ``custom_classes`` re-numbering).
        entity_ids: per person, the CSV's ``person_id``.
    """

    boxes: np.ndarray
    labels: tuple[tuple[int, ...], ...]
    entity_ids: tuple[int, ...]

    def label_matrix(self, num_classes: int = 81) -> np.ndarray:
        """MMAction2's ``gt_labels``: float32 ``[n, num_classes]`` multi-hot (column 0 unused).

        Raises:
            UsageError: an action id ``>= num_classes``.

        Example:
            >>> GroundTruth(np.zeros((1, 4)), ((1, 3),), (0,)).label_matrix(4).tolist()
            [[0.0, 1.0, 0.0, 1.0]]
        """
        out = np.zeros((len(self.labels), num_classes), dtype=np.float32)
        for i, ids in enumerate(self.labels):
            if ids and max(ids) >= num_classes:
                raise UsageError(f"action id {max(ids)} does not fit num_classes={num_classes}")
            out[i, list(ids)] = 1.0
        return out


# ----------------------------------------------------------------------------- box CSV fields
def _int(tok: str, what: str, where: str) -> int:
    try:
        return int(tok)
    except ValueError:
        raise AnnotationError(f"{where}: {what} must be an integer, got {tok[:40]!r}") from None


def _float(tok: str, what: str, where: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    try:
        value = float(tok)
    except ValueError:
        raise AnnotationError(f"{where}: {what} must be a number, got {tok[:40]!r}") from None
    if not lo <= value <= hi:  # NaN fails too
        raise AnnotationError(f"{where}: {what} {tok[:40]!r} is outside [{lo:g}, {hi:g}]")
    return value


def _fields(row: Sequence[str], counts: Sequence[int], layout: str, where: str) -> list[str]:
    fields = [t.strip() for t in row]
    if len(fields) not in counts:
        raise AnnotationError(f"{where}: {len(fields)} comma-separated fields, expected {layout}")
    if not fields[0] or any(c.isspace() for c in fields[0]):
        raise AnnotationError(f"{where}: video_id {fields[0][:40]!r} is empty or holds whitespace")
    return fields


def _box(fields: Sequence[str], where: str) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (_float(t, n, where, 0.0, 1.0) for t, n in zip(fields, ("x1", "y1", "x2", "y2")))
    if x1 > x2 or y1 > y2:
        raise AnnotationError(f"{where}: box {[x1, y1, x2, y2]} is inverted (expected x1 <= x2 and y1 <= y2)")
    return x1, y1, x2, y2


def _timestamp(tok: str, where: str) -> int:
    value = _int(tok, "timestamp", where)
    if not 0 <= value < _TIMESTAMP_LIMIT:
        raise AnnotationError(f"{where}: timestamp {tok[:40]!r} is outside [0, {_TIMESTAMP_LIMIT}) (seconds)")
    return value


# ----------------------------------------------------------------------------- ground truth
def read_ava_annotations(path: str | os.PathLike[str], *,
                         custom_classes: Sequence[int] | None = None) -> dict[str, GroundTruth]:
    """An AVA ground-truth CSV (``ava_val_v2.1.csv``): ``{img_key: GroundTruth}`` in file order.

    Lines are ``video_id,timestamp,x1,y1,x2,y2,action_id,person_id``, boxes normalized to
    ``[0, 1]``, read by :func:`~.ava_files.read_ava_csv` (``kind="groundtruth"``, all 8 columns).
    As MMAction2's ``AVADataset``: keyframes in order of first appearance; with
    ``custom_classes`` (a subset of action ids, 0 excluded) other actions are skipped and the
    kept ones re-numbered ``1..len(custom_classes)`` in the list's order.

    Raises:
        InputFileError: the file is missing or unreadable.
        AnnotationError: naming ``file:line``: a row :func:`~.ava_files.read_ava_csv` refuses
            (7 columns included), a video id holding whitespace or a comma, a box outside
            ``[0, 1]``, an action id below 1, a person id that is not an integer; too big a file.

    Example:
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     _ = (d / "gt.csv").write_text("v,0902,0.1,0.2,0.5,0.9,12,0\\nv,0902,0.1,0.2,0.5,0.9,80,0\\n")
        ...     gt = read_ava_annotations(d / "gt.csv")
        >>> gt["v,0902"].labels, gt["v,0902"].boxes.tolist()
        (((12, 80),), [[0.1, 0.2, 0.5, 0.9]])
    """
    classes = None if custom_classes is None else [0, *(int(c) for c in custom_classes)]
    if classes is not None and (0 in classes[1:] or len(set(classes)) != len(classes)):
        raise UsageError(f"custom_classes must be distinct action ids other than 0, got {custom_classes}")
    rows = read_ava_csv(path, kind="groundtruth", min_columns=8)
    _check_annotation_rows(rows)
    # img_key -> box numbers -> (entity_id, action ids): dicts keep the order of first appearance,
    # and equal tuples of floats are what MMAction2's np.array_equal merges.
    persons: dict[str, dict[tuple[float, ...], tuple[int, set[int]]]] = {}
    for video, ts, box, label, entity in zip(rows.video_index.tolist(), rows.timestamps.tolist(),
                                             rows.boxes.tolist(), rows.action_ids.tolist(), rows.scores.tolist()):
        if classes is not None:
            if label not in classes:
                continue
            label = classes.index(label)
        person = persons.setdefault(img_key(rows.videos[video], ts), {}).setdefault(tuple(box), (int(entity), set()))
        person[1].add(label)
    return {key: GroundTruth(np.array(list(boxes), dtype=np.float64).reshape(-1, 4),
                             tuple(tuple(sorted(ids)) for _, ids in boxes.values()),
                             tuple(e for e, _ in boxes.values()))
            for key, boxes in persons.items()}


def _check_annotation_rows(rows: AvaRows) -> None:
    """Refuse what the dataset cannot use (beyond :func:`~.ava_files.read_ava_csv`'s checks),
    naming the first such line."""
    bad_video = np.array([_BAD_VIDEO.search(v) is not None for v in rows.videos], dtype=bool)
    outside = (rows.boxes < 0) | (rows.boxes > 1)

    def box_message(i: int) -> str:
        c = int(np.argmax(outside[i]))
        name = ("x1", "y1", "x2", "y2")[c]
        return f"column {c + 3} ({name}) {rows.boxes[i, c]:g} is outside [0, 1] (boxes are normalized)"

    checks = (
        (bad_video[rows.video_index],
         lambda i: f"video_id {rows.videos[int(rows.video_index[i])][:40]!r} holds whitespace or a comma"),
        (outside.any(axis=1), box_message),
        (rows.action_ids < 1, lambda i: f"action_id must be >= 1, got {int(rows.action_ids[i])}"),
        (rows.scores != np.floor(rows.scores),
         lambda i: f"column 8 (person_id) must be an integer, got {rows.scores[i]:g}"),
    )
    found = [(int(np.argmax(bad)), message) for bad, message in checks if bad.any()]
    if found:
        i, message = min(found, key=lambda f: f[0])
        raise AnnotationError(f"{rows.path}:{int(rows.lines[i])}: {message(i)}")


# ----------------------------------------------------------------------------- proposals
def keyframe_proposals(proposals: Mapping[str, np.ndarray], key: str, *, score_threshold: float = 0.9,
                       max_proposals: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """MMAction2's test-time person boxes of keyframe ``key``: ``(boxes [k, 4], scores [k])``.

    As ``AVADataset.get_data_info``: boxes scoring ``>= min(score_threshold, best score)`` (so the
    best ones when none reaches the threshold), in file order, at most ``max_proposals``; a key
    absent from ``proposals`` -- or, where MMAction2 would fail, present with no box -- gets the
    whole frame :data:`WHOLE_FRAME`, score 1. A 4-column array keeps its first
    ``max_proposals`` boxes with score 1.

    Raises:
        AnnotationError: a kept box outside ``[0, 1]`` (MMAction2 asserts the same).

    Example:
        >>> keyframe_proposals({"v,0902": np.array([[0, 0, .5, .5, .6], [0, 0, .4, .4, .7]])},
        ...                    "v,0902")[1].tolist()
        [0.7]
    """
    if not 0 <= score_threshold <= 1:
        raise UsageError(f"score_threshold must be in [0, 1], got {score_threshold}")
    if isinstance(max_proposals, bool) or int(max_proposals) != max_proposals or max_proposals < 1:
        raise UsageError(f"max_proposals must be a positive int, got {max_proposals!r}")
    found = proposals.get(key)
    if found is None or len(found) == 0:
        return np.array([WHOLE_FRAME], dtype=np.float64), np.ones(1, dtype=np.float64)
    arr = np.asarray(found)
    if arr.ndim != 2 or arr.shape[1] not in (4, 5) or arr.dtype.kind not in "fiu":
        raise UsageError(f"proposals of {key}: expected a numeric [n, 4 | 5] array, got "
                         f"{arr.dtype} {arr.shape}")
    if arr.shape[1] == 5:
        arr = arr[arr[:, 4] >= min(score_threshold, arr[:, 4].max())]
        boxes, scores = arr[:max_proposals, :4], arr[:max_proposals, 4]
    else:
        boxes = arr[:max_proposals]
        scores = np.ones(len(boxes), dtype=np.float64)
    if boxes.min() < 0 or boxes.max() > 1:
        raise AnnotationError(f"proposals of {key}: box coordinates outside [0, 1] "
                              f"({boxes.min():g} .. {boxes.max():g}); expected normalized boxes")
    inverted = (boxes[:, 0] > boxes[:, 2]) | (boxes[:, 1] > boxes[:, 3])
    if inverted.any():
        k = int(np.argmax(inverted))
        raise AnnotationError(f"proposals of {key}: box {boxes[k].tolist()} is inverted "
                              f"(expected x1 <= x2 and y1 <= y2)")
    return boxes, scores


def read_proposals(path: str | os.PathLike[str], *, format: ProposalFormat = "auto",
                   score_threshold: float = 0.8) -> dict[str, np.ndarray]:
    """Person boxes of a file: ``{img_key: [n, 5] array}`` (``x1, y1, x2, y2, score``, normalized).

    CSV formats give float64; a pickle's float arrays keep their dtype (and may have 4 columns,
    no score), integer arrays become float64.

    Args:
        path: the file.
        format: ``"mmaction2"`` (proposal ``.pkl``), ``"pyslowfast"`` (predicted-boxes CSV,
            8 fields), ``"boxes"`` (plain CSV, 6 or 7 fields) or ``"auto"``: ``.pkl`` /
            ``.pickle`` files are MMAction2's, a CSV is told by the field count of its first line.
        score_threshold: PySlowFast's ``DETECTION_SCORE_THRESH`` (its AVA configs: 0.8); rows
            scoring below it are dropped. Only for ``"pyslowfast"``.

    Raises:
        InputFileError: the file is missing or unreadable.
        AnnotationError: a malformed line (``file:line``) or key, a pickle holding anything but
            a dict of ``img_key`` -> numeric ``[n, 4 | 5]`` arrays, a refused pickle, a file or
            row count over the limits.

    Example:
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     _ = (d / "b.csv").write_text("v,902,0.1,0.2,0.3,0.4\\n")
        ...     read_proposals(d / "b.csv")["v,0902"].tolist()
        [[0.1, 0.2, 0.3, 0.4, 1.0]]
    """
    p = Path(path)
    if format == "auto":
        if p.suffix.lower() in (".pkl", ".pickle"):
            format = "mmaction2"
        else:
            lines = _csv_rows(p, "box file", comments=True)
            try:
                first = next((row for _, _, row in lines), [])
            finally:
                lines.close()
            format = "pyslowfast" if len(first) == 8 else "boxes"
    if format == "mmaction2":
        return _read_proposal_pickle(p)
    if format not in ("pyslowfast", "boxes"):
        raise UsageError(f"format must be 'auto', 'mmaction2', 'pyslowfast' or 'boxes', got {format!r}")
    pysf = format == "pyslowfast"
    layout = ("8: video_id,timestamp,x1,y1,x2,y2,label,score" if pysf
              else "6 or 7: video_id,timestamp,x1,y1,x2,y2[,score] (normalized)")
    rows: dict[str, dict[object, list[float]]] = {}
    for shown, number, row in _csv_rows(p, "box file", comments=not pysf):
        where = f"{shown}:{number}"
        f = _fields(row, (8,) if pysf else (6, 7), layout, where)
        key = img_key(f[0], _timestamp(f[1], where))
        box = _box(f[2:6], where)
        if pysf and f[6]:
            _int(f[6], "label", where)
        score = _float(f[-1], "score", where, 0.0, 1.0) if len(f) != 6 else 1.0
        if pysf and score < score_threshold:
            continue
        # PySlowFast keeps a box once per keyframe, keyed by the text of its coordinates.
        boxes = rows.setdefault(key, {})
        boxes.setdefault(",".join(f[2:6]) if pysf else len(boxes), [*box, score])
    return {k: np.array(list(v.values()), dtype=np.float64) for k, v in rows.items()}


def _read_proposal_pickle(p: Path) -> dict[str, np.ndarray]:
    # Deferred: pickle_guard is the one reader of pickles (docs/ARCHITECTURE.md); only this
    # format needs it. data -> weights is a one-way edge (weights never imports data).
    from slowfast_zoo.weights.pickle_guard import load_plain_pickle
    from slowfast_zoo.weights.pickle_scan import Limits

    _checked_file(p, MAX_FILE_BYTES, "proposal file")
    # ~35 opcodes per keyframe (key, array header, data): 40M opcodes is over a million keyframes.
    limits = Limits(max_pickle_bytes=MAX_FILE_BYTES, max_string_bytes=16 << 20, max_ops=40_000_000,
                    max_globals=16, max_nodes=1 << 24, max_depth=8)
    expected = "expected MMAction2's proposal pickle (a dict 'video_id,timestamp' -> [n, 5] array)"
    try:
        obj = load_plain_pickle(p, allowed=PROPOSAL_PICKLE_GLOBALS, limits=limits, expected=expected)
    except CheckpointError as e:  # a refused or broken pickle: for a data file, an annotation error
        raise AnnotationError(str(e)) from e
    if not isinstance(obj, dict):
        raise AnnotationError(f"{p}: holds a {type(obj).__name__}; {expected}")
    out: dict[str, np.ndarray] = {}
    total = 0
    for name, arr in obj.items():
        m = _KEY.match(name) if isinstance(name, str) else None
        if m is None:
            raise AnnotationError(f"{p}: key {str(name)[:60]!r} is not 'video_id,timestamp' (a timestamp of at "
                                  f"most 9 digits); {expected}")
        # The canonical img_key: "v,902" would otherwise never match the dataset's "v,0902".
        key = img_key(m[1], int(m[2]))
        if key in out:
            raise AnnotationError(f"{p}: keys {name[:60]!r} and another name the same keyframe {key[:60]!r}")
        if (not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.shape[1] not in (4, 5)
                or arr.dtype.kind not in "fiu"):
            what = (f"a {arr.dtype} array of shape {arr.shape}" if isinstance(arr, np.ndarray)
                    else f"a {type(arr).__name__}")
            raise AnnotationError(f"{p}: key {name[:60]!r} holds {what}; {expected}")
        total += len(arr)
        if total > MAX_ROWS:
            raise AnnotationError(f"{p}: more than {MAX_ROWS} proposals")
        # Float arrays keep their dtype: MMAction2 thresholds float32 scores in float32.
        boxes = arr if arr.dtype.kind == "f" else arr.astype(np.float64)
        if not np.isfinite(boxes).all():
            raise AnnotationError(f"{p}: key {name[:60]!r} holds a non-finite value")
        out[key] = boxes
    return out
