"""Accuracy metrics, view averaging and (distributed) evaluation."""

from slowfast_zoo.evaluation.metrics import (
    average_views,
    confusion_matrix,
    mean_class_accuracy,
    top_k_accuracy,
)

__all__ = ["top_k_accuracy", "mean_class_accuracy", "confusion_matrix", "average_views",
           "evaluate", "EvalResult", "compute_metrics", "VideoRecord", "ResultWriter", "load_records",
           "init_distributed", "DistInfo", "shard"]

_LAZY = {
    "evaluate": "runner", "EvalResult": "runner", "compute_metrics": "runner",
    "VideoRecord": "results", "ResultWriter": "results", "load_records": "results",
    "init_distributed": "distributed", "DistInfo": "distributed", "shard": "distributed",
}


def __getattr__(name: str):
    # evaluate() pulls in the data package (PyAV) and the model: import it on first use so the
    # metrics stay importable on their own.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"slowfast_zoo.evaluation.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'slowfast_zoo.evaluation' has no attribute {name!r}")
