"""Predict the action in a video: decode, the weight's own test views, model, softmax average."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import torch

from slowfast_zoo.data.presets import TestTransform, views_transform
from slowfast_zoo.data.reading import open_reader, read_sampled
from slowfast_zoo.inference.engine import Prediction, prepare_model, streamed_scores, topk_predictions
from slowfast_zoo.models.slowfast import SlowFast

__all__ = ["Prediction", "predict", "predict_scores", "sample_video_path", "class_names_of",
           "protocol_transform"]


def sample_video_path() -> Path:
    """Path of the small sample video shipped with the package (see assets/CREDITS.md)."""
    return Path(str(resources.files("slowfast_zoo").joinpath("assets/sample.mp4")))


def class_names_of(model: SlowFast) -> tuple[str, ...]:
    """The model's class names (:attr:`SlowFast.class_names <slowfast_zoo.models.slowfast.SlowFast.class_names>`)."""
    return model.class_names


def protocol_transform(model: SlowFast, views: int | None) -> TestTransform:
    """The test transform of the model's weight: its own protocol, or 1 view (a quick look).

    Args:
        model: a model built by :func:`slowfast_zoo.create_model` (it has a ``pretrained_cfg``).
        views: ``None`` or the protocol's view count for the published protocol, ``1`` for one
            centre clip with a centre crop (MMAction2's validation pipeline).
    """
    return views_transform(model.pretrained_cfg, views)


def predict_scores(model: SlowFast, video: str | os.PathLike, *, views: int | None = None,
                   device: str | torch.device | None = None, views_per_batch: int | None = None,
                   dtype: torch.dtype | None = None, average: str = "prob",
                   progress: bool = False) -> torch.Tensor:
    """Video-level scores ``[num_classes]`` (softmax averaged over the views by default).

    The model is put in inference mode in place (eval, BatchNorm folded, channels_last), see
    :func:`slowfast_zoo.inference.prepare_model`. The views are streamed: each distinct frame is
    decoded once and kept as uint8, and only ``views_per_batch`` float views exist at a time
    (:meth:`TestTransform.stream_views <slowfast_zoo.data.TestTransform.stream_views>`); the
    scores equal those of ``video_scores(model, transform.load(video))`` bit for bit.
    """
    tf = protocol_transform(model, views)
    reader, first = open_reader(os.fspath(video), filename_tmpl=tf.filename_tmpl)
    prepare_model(model, device=device)
    return read_sampled(lambda n: tf.sample(n, first),
                        lambda idx: streamed_scores(model, tf, reader, idx, views_per_batch=views_per_batch,
                                                    dtype=dtype, average=average, progress=progress),
                        reader)


def predict(model: SlowFast, video: str | os.PathLike, *, topk: int = 5, views: int | None = None,
            device: str | torch.device | None = None, views_per_batch: int | None = None,
            dtype: torch.dtype | None = None, progress: bool = False) -> list[Prediction]:
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
        progress: a progress bar over the views on stderr (terminal only; off by default).

    Example:
        >>> import slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1", pretrained=True)  # doctest: +SKIP
        >>> sz.predict(model, "video.mp4", topk=3)  # doctest: +SKIP
        [Prediction(index=..., label='...', probability=...), ...]
    """
    if topk < 1:
        raise ValueError(f"topk must be >= 1, got {topk}")
    probs = predict_scores(model, video, views=views, device=device,
                           views_per_batch=views_per_batch, dtype=dtype, progress=progress)
    return topk_predictions(probs, model.class_names, topk)
