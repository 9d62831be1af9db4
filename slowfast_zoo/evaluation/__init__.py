"""Accuracy metrics, view averaging, (distributed) evaluation and the whole evaluation job.

* :func:`top_k_accuracy`, :func:`mean_class_accuracy`, :func:`confusion_matrix`,
  :func:`average_views`: MMAction2's metrics (:mod:`.metrics`);
* :func:`evaluate`: a model on a dataset, multi-view, single- or multi-process (:mod:`.runner`);
* :func:`run_evaluation`: the ``slowfast-zoo eval`` job (protocol, dataset, weights, resumable
  result file, report) from an :class:`EvalConfig` (:mod:`.job`); for a detection weight the AVA
  job, :func:`run_ava_evaluation` (:mod:`.ava_job`, records and resume state: :mod:`.ava_results`).
* :func:`ava_frame_map`: AVA frame-mAP@0.5 as the official evaluator or MMAction2's computes it, with
  the AVA file readers and the results writer (:mod:`.ava`; the readers live in
  :mod:`slowfast_zoo.data.ava_files`, re-exported here).

Example:
    >>> from slowfast_zoo.evaluation import top_k_accuracy
    >>> top_k_accuracy([[0.1, 0.9], [0.8, 0.2]], [1, 0], topk=(1,))
    [1.0]
"""

from typing import Any

from slowfast_zoo.evaluation.metrics import (
    average_views,
    confusion_matrix,
    mean_class_accuracy,
    top_k_accuracy,
)

__all__ = ["top_k_accuracy", "mean_class_accuracy", "confusion_matrix", "average_views",
           "evaluate", "EvalResult", "compute_metrics", "VideoRecord", "ResultWriter", "load_records",
           "init_distributed", "DistInfo", "shard",
           "run_evaluation", "EvalConfig", "EvalReport", "resolve_protocol",
           "ava_frame_map", "AvaFrameMap", "AvaRows", "read_ava_csv", "read_ava_exclusions", "read_ava_label_map",
           "write_ava_detections_csv",
           "run_ava_evaluation", "AvaEvalConfig", "AvaEvalReport", "KeyframeRecord", "detect_keyframes"]

_LAZY = {
    "evaluate": "runner", "EvalResult": "runner", "compute_metrics": "runner",
    "VideoRecord": "results", "ResultWriter": "results", "load_records": "results",
    "init_distributed": "distributed", "DistInfo": "distributed", "shard": "distributed",
    "run_evaluation": "job", "EvalConfig": "job", "EvalReport": "job", "resolve_protocol": "job",
    "ava_frame_map": "ava", "AvaFrameMap": "ava", "AvaRows": "ava", "read_ava_csv": "ava",
    "read_ava_exclusions": "ava", "read_ava_label_map": "ava", "write_ava_detections_csv": "ava",
    "run_ava_evaluation": "ava_job", "AvaEvalConfig": "ava_job", "AvaEvalReport": "ava_job",
    "KeyframeRecord": "ava_results", "detect_keyframes": "ava_results",
}


def __getattr__(name: str) -> Any:
    # evaluate() pulls in the data package (PyAV) and the model: import it on first use so the
    # metrics stay importable on their own.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"slowfast_zoo.evaluation.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'slowfast_zoo.evaluation' has no attribute {name!r}")
