"""Predict the action in a video: decode, the weight's own test views, model, softmax average."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from slowfast_zoo.evaluation.metrics import average_views
from slowfast_zoo.inference import prepare_model, run_views
from slowfast_zoo.models import SlowFast

__all__ = ["Prediction", "predict", "predict_scores", "sample_video_path", "class_names_of"]


@dataclass(frozen=True)
class Prediction:
    """One of the top-k classes of a video: its index, name and averaged probability."""

    index: int
    label: str
    probability: float


def sample_video_path() -> Path:
    """Path of the small sample video shipped with the package (see assets/CREDITS.md)."""
    return Path(str(resources.files("slowfast_zoo").joinpath("assets/sample.mp4")))


def class_names_of(model: SlowFast) -> tuple[str, ...]:
    """The model's class names: its weight's names when the class count matches, else ``class_<i>``."""
    names = getattr(model, "class_names", None)
    if names and len(names) == model.num_classes:
        return tuple(names)
    cfg = model.pretrained_cfg
    if cfg is not None and len(cfg.class_names) == model.num_classes:
        return cfg.class_names
    return tuple(f"class_{i}" for i in range(model.num_classes))


def _transform(model: SlowFast, views: int | None):
    from slowfast_zoo import data

    cfg = model.pretrained_cfg
    if cfg is None:
        raise ValueError("the model has no pretrained_cfg (test protocol); build it with create_model()")
    if views is None or views == cfg.test.num_views:
        return data.test_transform(cfg)
    if views == 1:
        return data.test_transform(cfg, views="val")
    raise ValueError(f"views must be {cfg.test.num_views} (the weight's test protocol) or 1 "
                     f"(one centre clip, a quick look), got {views}")


def predict_scores(model: SlowFast, video: str | os.PathLike, *, views: int | None = None,
                   device: str | torch.device | None = None, views_per_batch: int | None = None,
                   dtype: torch.dtype | None = None, average: str = "prob") -> torch.Tensor:
    """Video-level scores ``[num_classes]`` (softmax averaged over the views by default).

    The model is put in inference mode in place (eval, BatchNorm folded, channels_last), see
    :func:`slowfast_zoo.inference.prepare_model`.
    """
    transform = _transform(model, views)
    clips = transform.load(os.fspath(video))
    prepare_model(model, device=device)
    logits = run_views(model, clips, views_per_batch=views_per_batch, dtype=dtype)
    return average_views(logits[None], average)[0]


def predict(model: SlowFast, video: str | os.PathLike, *, topk: int = 5, views: int | None = None,
            device: str | torch.device | None = None, views_per_batch: int | None = None,
            dtype: torch.dtype | None = None) -> list[Prediction]:
    """Top-k classes of a video with their probabilities, using the weight's test protocol.

    Args:
        model: a model from :func:`slowfast_zoo.create_model` (modified in place for inference).
        video: path of a video file (any container/codec FFmpeg reads).
        topk: number of classes returned, best first.
        views: ``None`` for the weight's protocol (30 views: 10 clips x 3 crops), or 1 for a
            quick look (one centre clip, centre crop 224).
        device: ``"cpu"``, ``"cuda"``...; default CUDA when available.
        views_per_batch: views per forward pass (memory bound).
        dtype: autocast dtype on GPU (``torch.bfloat16``), None for float32.

    Example:
        >>> import slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1", pretrained=True)  # doctest: +SKIP
        >>> sz.predict(model, "video.mp4", topk=3)  # doctest: +SKIP
        [Prediction(index=..., label='...', probability=...), ...]
    """
    if topk < 1:
        raise ValueError(f"topk must be >= 1, got {topk}")
    probs = predict_scores(model, video, views=views, device=device,
                           views_per_batch=views_per_batch, dtype=dtype)
    names = class_names_of(model)
    values, indices = probs.topk(min(topk, probs.numel()))
    return [Prediction(int(i), names[int(i)], float(v)) for v, i in zip(values, indices)]
