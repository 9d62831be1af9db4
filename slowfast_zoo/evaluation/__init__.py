"""Accuracy metrics, view averaging and (distributed) evaluation."""

from slowfast_zoo.evaluation.metrics import (
    average_views,
    confusion_matrix,
    mean_class_accuracy,
    top_k_accuracy,
)

__all__ = ["top_k_accuracy", "mean_class_accuracy", "confusion_matrix", "average_views"]
