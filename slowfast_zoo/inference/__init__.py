"""Inference: the engine (:mod:`.engine`), devices and dtypes (:mod:`.device`), and the
applications built on it: :mod:`.windows` (one prediction per time window) and
:mod:`.features` (per-clip embeddings). ``slowfast_zoo.predict`` is the one-video entry point.

Example:
    >>> from slowfast_zoo.inference import prepare_model, run_views
"""

from slowfast_zoo.inference.device import resolve_device
from slowfast_zoo.inference.engine import (
    Prediction,
    ViewOutputs,
    average_views,
    default_views_per_batch,
    prepare_model,
    run_views,
    topk_predictions,
    video_scores,
)

__all__ = ["prepare_model", "run_views", "ViewOutputs", "average_views", "video_scores",
           "Prediction", "topk_predictions", "default_views_per_batch", "resolve_device"]
