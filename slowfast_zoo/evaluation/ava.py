"""AVA frame-mAP@0.5: the official ActivityNet evaluator and MMAction2's, each reproduced exactly.

Both evaluators match, per keyframe and class, each detection (highest score first) to the
ground-truth box it overlaps most; IoU >= 0.5 with a box not yet matched is a true positive,
anything else a false positive. AP is VOC's area under the precision envelope, mAP the ``nanmean``
over classes. They differ in which rows they read and which classes they count:

* detections per keyframe: official, the 50 highest scores; MMAction2, all of them;
* excluded keyframes: official, dropped from detections and ground truth; MMAction2, detections
  dropped, but their ground truth still counts as positives;
* detections on keyframes without ground truth: official, false positives; MMAction2, ignored
  (``ignore_empty_frames=True``, its default) or false positives (``False``);
* a class with ground truth but no detection: official, AP 0 and in the mean; MMAction2, not
  evaluated (NaN here, not in the mean, so its mean is higher). A class without ground truth is
  NaN in both;
* a detection box with ``x1 >= x2`` or ``y1 >= y2``: official, dropped before matching; MMAction2
  crashes on ``x1 > x2`` or ``y1 > y2``, refused here with its line;
* arithmetic: official, float64; MMAction2, float32 boxes (IoU) and scores (ranking).

Reproduces (our own code, no copy) ``Evaluation/get_ava_performance.py`` of ActivityNet at commit
1212804a (``activitynet/ActivityNet``, MIT, with its ``Evaluation/ava`` package from the TensorFlow
Object Detection API, Apache-2.0) and ``ava_eval`` of MMAction2 1.x
``mmaction/evaluation/functional/ava_utils.py`` (OpenMMLab, Apache-2.0). Tied scores, frequent in
MMAction2's 4-decimal results, are ranked by the same ``numpy.argsort`` call on the same array as
in the references, so the numbers agree under the same numpy build (its default sort is not
stable: how it orders ties is numpy's choice).

Example:
    >>> from slowfast_zoo._io import temporary_directory
    >>> with temporary_directory() as d:
    ...     _ = (d / "labels.pbtxt").write_text('item {\\n  name: "stand"\\n  id: 12\\n}\\n')
    ...     _ = (d / "gt.csv").write_text("v,0902,0.1,0.1,0.5,0.9,12,0\\nv,0902,0.5,0.1,0.9,0.9,12,1\\n")
    ...     # 0.9: a true positive; 0.8: the same person again, a false positive
    ...     _ = (d / "det.csv").write_text("v,0902,0.1,0.1,0.5,0.9,12,0.9\\nv,0902,0.1,0.1,0.5,0.8,12,0.8\\n")
    ...     ava_frame_map(d / "gt.csv", d / "det.csv", d / "labels.pbtxt")
    {'mAP': 0.5, 'per_class_ap': {12: 0.5}}
"""

from __future__ import annotations

import heapq
import os
import warnings
from collections.abc import Collection, Mapping
from typing import Literal, TypedDict

import numpy as np

from slowfast_zoo.errors import AnnotationError, UsageError, WrongTypeError
from slowfast_zoo.data.ava_files import (
    AvaRows,
    read_ava_csv,
    read_ava_exclusions,
    read_ava_label_map,
    write_ava_detections_csv,
)

__all__ = ["ava_frame_map", "AvaFrameMap", "EVALUATORS", "IOU_THRESHOLD", "OFFICIAL_CAPACITY",
           "read_ava_csv", "read_ava_exclusions", "read_ava_label_map", "write_ava_detections_csv", "AvaRows"]

#: The evaluators :func:`ava_frame_map` reproduces.
EVALUATORS = ("official", "mmaction2")
#: A detection matches a ground-truth box from this IoU on (``>=``).
IOU_THRESHOLD = 0.5
#: Detections the official reader keeps per keyframe (``read_csv(..., capacity=50)``).
OFFICIAL_CAPACITY = 50


class AvaFrameMap(TypedDict):
    """What :func:`ava_frame_map` returns."""

    #: nanmean of ``per_class_ap`` (NaN when no class is evaluated).
    mAP: float
    #: every label-map class id -> its AP, NaN where the evaluator gives none.
    per_class_ap: dict[int, float]


def ava_frame_map(groundtruth_csv: str | os.PathLike, detections_csv: str | os.PathLike,
                  label_map: str | os.PathLike, *, exclusions: str | os.PathLike | None = None,
                  evaluator: Literal["official", "mmaction2"] = "official",
                  ignore_empty_frames: bool = True) -> AvaFrameMap:
    """Frame-mAP@0.5 of AVA detections, exactly as the chosen reference evaluator computes it.

    Args:
        groundtruth_csv: ``video_id,timestamp,x1,y1,x2,y2,action_id,person_id`` rows.
        detections_csv: ``video_id,timestamp,x1,y1,x2,y2,action_id,score`` rows (the 8-column
            format of MMAction2's ``results2csv`` and of :func:`write_ava_detections_csv`).
        label_map: AVA's pbtxt or MMAction2's ``label_map.txt``: only its classes are evaluated.
        exclusions: ``video_id,timestamp`` keyframes left out (AVA's ``*_excluded_timestamps``).
        evaluator: ``"official"`` (ActivityNet's ``get_ava_performance.py`` at 1212804a) or
            ``"mmaction2"`` (MMAction2 1.x ``ava_eval``); the module docstring lists how they
            differ.
        ignore_empty_frames: MMAction2 only (the official evaluator always counts detections on
            keyframes without ground truth as false positives): ``True``, its default, ignores them.

    Returns:
        ``{"mAP": float, "per_class_ap": {class id: AP}}`` with every label-map class; a class
        the evaluator does not score is NaN and left out of the mean. With no detection at all
        the official mAP is 0.0 (every class with ground truth scores 0) and MMAction2's is NaN
        (no class is evaluated).

    Raises:
        UsageError: an unknown ``evaluator`` (:class:`~slowfast_zoo.errors.WrongTypeError`, one,
            for an ``ignore_empty_frames`` that is not a bool).
        InputFileError: a file that does not exist.
        AnnotationError: a malformed line (``file:line`` and what was expected), a file too large,
            or (``"mmaction2"``) an inverted detection box.
    """
    if evaluator not in EVALUATORS:
        raise UsageError(f"evaluator must be one of {', '.join(map(repr, EVALUATORS))}, got {evaluator!r}")
    if not isinstance(ignore_empty_frames, bool):
        raise WrongTypeError(f"ignore_empty_frames must be True or False, got {ignore_empty_frames!r}")
    classes = read_ava_label_map(label_map)
    gt = read_ava_csv(groundtruth_csv, kind="groundtruth")
    det = read_ava_csv(detections_csv, kind="detections")
    excluded = read_ava_exclusions(exclusions) if exclusions is not None else frozenset()
    keys = _Keyframes(gt, det, excluded, classes)
    if evaluator == "official":
        return _official(gt, det, keys)
    return _mmaction2(gt, det, keys, ignore_empty_frames)


class _Keyframes:
    """One integer id per keyframe ``(video_id, timestamp)`` over both files and the exclusions,
    and the rows of label-map classes (both references drop the others as they read)."""

    def __init__(self, gt: AvaRows, det: AvaRows, excluded: Collection[tuple[str, int]],
                 classes: Mapping[int, str]) -> None:
        vocab: dict[str, int] = {}
        for video in gt.videos + det.videos:
            vocab.setdefault(video, len(vocab))
        pairs = [np.stack([np.array([vocab[v] for v in rows.videos], np.int64)[rows.video_index],
                           rows.timestamps], axis=1).reshape(-1, 2) for rows in (gt, det)]
        ex = [(vocab[v], t) for v, t in excluded if v in vocab]  # others exclude nothing here
        pairs.append(np.array(ex, np.int64).reshape(-1, 2))
        both = np.concatenate(pairs)
        low = int(both[:, 1].min()) if len(both) else 0
        span = int(both[:, 1].max()) - low + 1 if len(both) else 1
        # One int64 per keyframe (timestamps below 1e9, videos below 4e7: no overflow).
        _, inverse = np.unique(both[:, 0] * span + (both[:, 1] - low), return_inverse=True)
        inverse = inverse.reshape(-1)
        n_gt, n_det = len(gt), len(det)
        self.gt_frame, self.det_frame = inverse[:n_gt], inverse[n_gt:n_gt + n_det]
        self.excluded = np.zeros(int(inverse.max(initial=-1)) + 1, bool)
        self.excluded[inverse[n_gt + n_det:]] = True
        ids = np.array(sorted(classes), np.int64)
        self.gt_rows = np.flatnonzero(np.isin(gt.action_ids, ids))
        self.det_rows = np.flatnonzero(np.isin(det.action_ids, ids))
        self.class_ids = ids


def _first_seen_rank(frame: np.ndarray, size: int) -> np.ndarray:
    """Each keyframe's rank by its first row in ``frame`` (the references' dict insertion order)."""
    uniq, first = np.unique(frame, return_index=True)
    rank = np.full(size, size, np.int64)
    rank[uniq[np.argsort(first, kind="stable")]] = np.arange(len(uniq))
    return rank


def _official_keyframe_rows(rows: AvaRows, index: np.ndarray, frame: np.ndarray, capacity: int,
                            size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(frame, score, action, box)`` arrays as the official ``read_csv`` leaves them: keyframes in
    order of first appearance, each one's rows through its heap (at most ``capacity`` kept when
    ``capacity >= 1``), then sorted by score, stable over the heap's order."""
    order = index[np.argsort(_first_seen_rank(frame[index], size)[frame[index]], kind="stable")]
    frames, scores, actions = frame[order].tolist(), rows.scores[order].tolist(), rows.action_ids[order].tolist()
    x1s, y1s, x2s, y2s = rows.boxes[order].T.tolist()
    out: list[tuple[float, int, float, float, float, float]] = []
    out_frame: list[int] = []
    start = 0
    while start < len(order):
        stop = start
        while stop < len(order) and frames[stop] == frames[start]:
            stop += 1
        # The heap holds (score, action, y1, x1, y2, x2) tuples: ties on the score are broken by
        # the rest of the tuple and by the heap's layout, which only the same heap reproduces.
        heap: list[tuple[float, int, float, float, float, float]] = []
        for i in range(start, stop):
            item = (scores[i], actions[i], y1s[i], x1s[i], y2s[i], x2s[i])
            if capacity < 1 or len(heap) < capacity:
                heapq.heappush(heap, item)
            elif item[0] > heap[0][0]:
                heapq.heapreplace(heap, item)
        out.extend(sorted(heap, key=lambda t: -t[0]))
        out_frame.extend([frames[start]] * len(heap))
        start = stop
    table = np.array(out, np.float64).reshape(-1, 6)
    return (np.array(out_frame, np.int64), table[:, 0], table[:, 1].astype(np.int64),
            table[:, [3, 2, 5, 4]])  # back to x1, y1, x2, y2


def _iou(det: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Elementwise IoU of box pairs, in the references' order of operations and dtypes: the
    intersection in float64 (their ``np.zeros`` is float64), areas and their sum in the boxes' dtype."""
    inter = np.ones(len(det), np.float64)
    for lo, hi in ((1, 3), (0, 2)):  # heights, then widths
        side = np.minimum(det[:, hi], gt[:, hi]) - np.maximum(det[:, lo], gt[:, lo])
        inter *= np.maximum(np.zeros(len(det)), side)
    area_det = (det[:, 3] - det[:, 1]) * (det[:, 2] - det[:, 0])
    area_gt = (gt[:, 3] - gt[:, 1]) * (gt[:, 2] - gt[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 for two empty boxes: NaN, as theirs
        return inter / ((area_det + area_gt) - inter)


def _true_positives(det_key: np.ndarray, det_box: np.ndarray, gt_key: np.ndarray, gt_box: np.ndarray) -> np.ndarray:
    """Greedy matching within each (keyframe, class) key; detections in evaluation order.

    A detection takes the ground-truth box of highest IoU (the first of equal ones, a NaN counting
    as highest as in ``numpy.argmax``) and is a true positive when that IoU is >= 0.5 and no earlier
    detection took the box. It never falls back to another box, so the matching needs no loop.
    """
    gt_order = np.argsort(gt_key, kind="stable")  # keeps each keyframe's ground-truth order
    sorted_keys = gt_key[gt_order]
    lo = np.searchsorted(sorted_keys, det_key, "left")
    count = np.searchsorted(sorted_keys, det_key, "right") - lo
    tp = np.zeros(len(det_key), bool)
    has = np.flatnonzero(count)
    if not len(has):
        return tp
    owner = np.repeat(has, count[has])
    offsets = np.cumsum(count[has]) - count[has]
    pos = np.arange(len(owner)) - np.repeat(offsets, count[has])
    gt_index = gt_order[lo[owner] + pos]
    iou = _iou(det_box[owner], gt_box[gt_index])
    rank = np.where(np.isnan(iou), 2.0, iou)  # IoU <= 1: a NaN outranks every number
    best = np.maximum.reduceat(rank, offsets)
    first = np.minimum.reduceat(np.where(rank == np.repeat(best, count[has]), pos, len(owner)), offsets)
    chosen = gt_index[offsets + first]
    hit = iou[offsets + first] >= IOU_THRESHOLD  # NaN >= 0.5 is False
    candidates = has[hit]
    _, first_taker = np.unique(chosen[hit], return_index=True)
    tp[candidates[first_taker]] = True
    return tp


def _voc_ap(scores: np.ndarray, tp: np.ndarray, num_gt: int) -> float:
    """VOC average precision: area under the precision envelope; NaN without ground truth."""
    if num_gt == 0:
        return float("nan")
    if scores.size == 0:
        return 0.0
    # argsort, reversed: both references' order, ties included (numpy's default sort kind).
    hits = tp[np.argsort(scores)[::-1]].astype(np.int64)
    cum_tp = np.cumsum(hits)
    precision = np.concatenate([[0.0], cum_tp / np.arange(1, len(hits) + 1), [0.0]])
    recall = np.concatenate([[0.0], cum_tp / num_gt, [1.0]])
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * envelope[steps]))


def _result(per_class: dict[int, float]) -> AvaFrameMap:
    values = np.array(list(per_class.values()), np.float64)
    with warnings.catch_warnings():  # all NaN: the mean is NaN, no warning
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = float(np.nanmean(values)) if values.size else float("nan")
    return {"mAP": mean, "per_class_ap": per_class}


def _per_class(keys: _Keyframes, det_label: np.ndarray, det_score: np.ndarray, tp: np.ndarray,
               num_gt: np.ndarray, evaluated: np.ndarray) -> AvaFrameMap:
    per_class = {}
    for c, n, scored in zip(keys.class_ids.tolist(), num_gt.tolist(), evaluated.tolist()):
        mine = det_label == c
        per_class[c] = _voc_ap(det_score[mine], tp[mine], n) if scored else float("nan")
    return _result(per_class)


def _official(gt: AvaRows, det: AvaRows, keys: _Keyframes) -> AvaFrameMap:
    size = len(keys.excluded)
    gt_index = keys.gt_rows[~keys.excluded[keys.gt_frame[keys.gt_rows]]]
    det_index = keys.det_rows[~keys.excluded[keys.det_frame[keys.det_rows]]]
    # Ground truth goes through the same reader (capacity 0: every row), which sets its order.
    g_frame, _, g_label, g_box = _official_keyframe_rows(gt, gt_index, keys.gt_frame, 0, size)
    d_frame, d_score, d_label, d_box = _official_keyframe_rows(det, det_index, keys.det_frame, OFFICIAL_CAPACITY, size)
    # The per-image evaluation drops empty or inverted detection boxes after the 50 were chosen.
    valid = (d_box[:, 1] < d_box[:, 3]) & (d_box[:, 0] < d_box[:, 2])
    d_frame, d_score, d_label, d_box = d_frame[valid], d_score[valid], d_label[valid], d_box[valid]
    width = int(keys.class_ids.max()) + 1
    tp = _true_positives(d_frame * width + d_label, d_box, g_frame * width + g_label, g_box)
    num_gt = np.bincount(np.searchsorted(keys.class_ids, g_label), minlength=len(keys.class_ids))
    # Every class with ground truth is scored (0.0 without detections); the others are NaN.
    return _per_class(keys, d_label, d_score, tp, num_gt, num_gt > 0)


def _mmaction2(gt: AvaRows, det: AvaRows, keys: _Keyframes, ignore_empty_frames: bool) -> AvaFrameMap:
    size = len(keys.excluded)
    g_rows, d_rows = keys.gt_rows, keys.det_rows
    g_frame, d_frame = keys.gt_frame[g_rows], keys.det_frame[d_rows]
    # The keyframes evaluated, in the order their tp/fp lists are concatenated: those of the ground
    # truth by default, those of the detections with ignore_empty_frames=False; excluded ones never.
    basis = g_frame if ignore_empty_frames else d_frame
    rank = _first_seen_rank(basis, size)
    considered = np.zeros(size, bool)
    considered[basis] = True
    considered &= ~keys.excluded
    d_keep = considered[d_frame]
    d_rows, d_frame = d_rows[d_keep], d_frame[d_keep]
    # Within a keyframe: sorted by score, stable over file order (Python's sorted); ground truth
    # too, by its 8th column (the person id), which sets which of equal overlaps wins.
    d_order = np.lexsort((-det.scores[d_rows], rank[d_frame]))
    d_rows, d_frame = d_rows[d_order], d_frame[d_order]
    g_order = np.lexsort((-gt.scores[g_rows], g_frame))
    g_rows, g_frame = g_rows[g_order], g_frame[g_order]
    d_box = det.boxes[d_rows].astype(np.float32)
    inverted = (d_box[:, 0] > d_box[:, 2]) | (d_box[:, 1] > d_box[:, 3])
    if inverted.any():
        line = int(det.lines[d_rows[int(np.argmax(inverted))]])
        raise AnnotationError(f"{det.path}:{line}: inverted detection box (x1 > x2 or y1 > y2): MMAction2's "
                              "evaluator refuses it (the official one drops it)")
    d_label, g_label = det.action_ids[d_rows], gt.action_ids[g_rows]
    width = int(keys.class_ids.max()) + 1
    tp = _true_positives(d_frame * width + d_label, d_box, g_frame * width + g_label,
                         gt.boxes[g_rows].astype(np.float32))
    # Positives: every ground-truth row of the class, excluded keyframes included.
    num_gt = np.bincount(np.searchsorted(keys.class_ids, g_label), minlength=len(keys.class_ids))
    evaluated = np.isin(keys.class_ids, d_label)  # classes with at least one detection considered
    return _per_class(keys, d_label, det.scores[d_rows].astype(np.float32), tp, num_gt, evaluated)
