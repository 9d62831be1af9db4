"""Accuracy metrics exactly as MMAction2 0.x computes them (docs/SPEC.md sections 3 and 5).

Reproduces ``mmaction.core.evaluation`` (``top_k_accuracy``, ``mean_class_accuracy``,
``confusion_matrix``) and the recognizer's ``average_clips`` of MMAction2 (Apache-2.0), and the
Charades mAP of PySlowFast's ``utils/meters.py`` ``get_map`` (Meta, Apache-2.0), which calls
scikit-learn's ``average_precision_score`` per class (re-implemented here, no dependency).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from slowfast_zoo.errors import UsageError
from slowfast_zoo.inference.engine import average_views  # re-exported: the one view averaging

__all__ = ["top_k_accuracy", "mean_class_accuracy", "confusion_matrix", "average_views", "average_precision",
           "mean_average_precision"]

ArrayLike = np.ndarray | torch.Tensor | Sequence


def _scores_labels(scores: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor) else np.asarray(scores)
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if s.ndim != 2:
        raise UsageError(f"scores must be 2-D [num_videos, num_classes], got shape {s.shape}")
    if y.ndim != 1 or len(y) != len(s):
        raise UsageError(f"labels must be 1-D with one label per row of scores ({len(s)}), "
                         f"got shape {y.shape}")
    if len(s) == 0:
        raise UsageError("no videos to evaluate (scores is empty)")
    if not np.issubdtype(y.dtype, np.integer):
        raise UsageError(f"labels must be integers, got dtype {y.dtype}")
    return s, y.astype(np.int64)


def top_k_accuracy(scores: ArrayLike, labels: ArrayLike, topk: Sequence[int] = (1, 5)) -> list[float]:
    """Fraction of videos whose label is among the k highest scores, for each k.

    Ties are broken as MMAction2 breaks them: by the order of ``numpy.argsort`` (default kind).

    Args:
        scores: ``[num_videos, num_classes]`` video scores (probabilities with ``average='prob'``).
        labels: ``[num_videos]`` integer labels.
        topk: the k values.

    Example:
        >>> top_k_accuracy([[0.1, 0.9], [0.8, 0.2]], [1, 1], topk=(1, 2))
        [0.5, 1.0]
    """
    s, y = _scores_labels(scores, labels)
    order = np.argsort(s, axis=1)
    result = []
    for k in topk:
        if not 1 <= k:
            raise UsageError(f"topk values must be >= 1, got {k}")
        best_k = order[:, -k:][:, ::-1]
        hits = np.logical_or.reduce(best_k == y[:, None], axis=1)
        result.append(float(hits.sum() / hits.shape[0]))
    return result


def confusion_matrix(pred: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Confusion matrix over the sorted union of classes present in ``labels`` or ``pred``.

    Returns:
        ``(matrix, classes)``: ``matrix[i, j]`` counts videos of true class ``classes[i]``
        predicted as ``classes[j]`` (int64).

    Example:
        >>> m, c = confusion_matrix([0, 2, 2], [0, 1, 2])
        >>> c.tolist(), m.tolist()
        ([0, 1, 2], [[1, 0, 0], [0, 0, 1], [0, 0, 1]])
    """
    p = np.asarray(pred.cpu() if isinstance(pred, torch.Tensor) else pred).astype(np.int64)
    y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).astype(np.int64)
    if p.shape != y.shape or p.ndim != 1:
        raise UsageError(f"pred and labels must be 1-D of equal length, got {p.shape} and {y.shape}")
    classes = np.union1d(p, y)
    index = {c: i for i, c in enumerate(classes.tolist())}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, q in zip(y.tolist(), p.tolist()):
        matrix[index[t], index[q]] += 1
    return matrix, classes


def mean_class_accuracy(scores: ArrayLike, labels: ArrayLike) -> float:
    """Mean per-class recall of the top-1 prediction, MMAction2-style.

    The mean runs over the union of classes that occur as labels **or** as predictions; a class
    that is only predicted has no true sample and counts as 0 (docs/SPEC.md 5). Classes that occur in
    neither are ignored.

    Example:
        >>> mean_class_accuracy([[0.9, 0.1, 0.0], [0.0, 0.1, 0.9]], [0, 1])
        0.3333333333333333
    """
    s, y = _scores_labels(scores, labels)
    matrix, _ = confusion_matrix(np.argmax(s, axis=1), y)
    counts = matrix.sum(axis=1)
    hits = np.diag(matrix)
    return float(np.mean([h / c if c else 0.0 for c, h in zip(counts, hits)]))


def average_precision(scores: ArrayLike, positives: ArrayLike) -> float:
    """Average precision of one class: scikit-learn's ``average_precision_score`` (the step-wise
    sum ``sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds, highest first), which
    PySlowFast's ``get_map`` calls per class.

    Example:
        >>> round(average_precision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 6)
        0.833333
    """
    s = np.asarray(scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor) else scores,
                   dtype=np.float64).reshape(-1)
    y = np.asarray(positives.detach().cpu().numpy() if isinstance(positives, torch.Tensor) else positives
                   ).reshape(-1) > 0
    if s.size != y.size or s.size == 0:
        raise UsageError(f"scores and positives must be non-empty and of one length, got {s.size} and {y.size}")
    if not y.any():
        raise UsageError("average precision needs at least one positive")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # the last row of each distinct score
    tps = np.cumsum(y)[last].astype(np.float64)
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def mean_average_precision(scores: ArrayLike, labels: ArrayLike) -> float:
    """PySlowFast's ``get_map`` (Charades): the mean of :func:`average_precision` over the classes
    that have at least one positive video (the others are dropped, as it drops them).

    Args:
        scores: ``[num_videos, num_classes]`` video scores.
        labels: ``[num_videos, num_classes]`` multi-hot ground truth (0/1).

    Example:
        >>> mean_average_precision([[0.9, 0.2, 0.1], [0.3, 0.8, 0.5]], [[1, 0, 0], [0, 1, 0]])
        1.0
    """
    s = np.asarray(scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor) else scores, dtype=np.float64)
    y = np.asarray(labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels)
    if s.ndim != 2 or s.shape != y.shape:
        raise UsageError(f"scores and labels must both be [num_videos, num_classes], got {s.shape} and {y.shape}")
    keep = np.flatnonzero((y > 0).any(axis=0))
    if keep.size == 0:
        raise UsageError("no class has a positive video: mAP is undefined")
    return float(np.mean([average_precision(s[:, k], y[:, k]) for k in keep]))
