"""Predict the action in a video: decode, the weight's own test views, model, the weight's own scoring."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import torch

from slowfast_zoo.errors import UsageError
from slowfast_zoo.data.presets import ViewTransform, test_transform
from slowfast_zoo.data.reading import VideoSource, open_reader, read_sampled
from slowfast_zoo.inference.engine import (Prediction, prepare_model, protocol_scoring, streamed_scores,
                                           topk_predictions)
from slowfast_zoo.models.slowfast import SlowFast

__all__ = ["Prediction", "predict", "predict_scores", "sample_video_path", "class_names_of",
           "protocol_transform"]


def sample_video_path() -> Path:
    """Path of the small sample video shipped with the package (see assets/CREDITS.md).

    Example:
        >>> path = sample_video_path()
        >>> path.name, path.is_file()
        ('sample.mp4', True)
    """
    return Path(str(resources.files("slowfast_zoo").joinpath("assets/sample.mp4")))


def class_names_of(model: SlowFast) -> tuple[str, ...]:
    """The model's class names (:attr:`SlowFast.class_names <slowfast_zoo.models.slowfast.SlowFast.class_names>`).

    Example:
        >>> import slowfast_zoo as sz
        >>> class_names_of(sz.create_model("slowfast_r50_4x16x1"))[-1]
        'zumba'
    """
    return model.class_names


def protocol_transform(model: SlowFast, views: int | None) -> ViewTransform:
    """The test transform of the model's weight: its own protocol, or 1 view (a quick look):
    a :class:`~slowfast_zoo.data.TestTransform` (MMAction2 weights) or a
    :class:`~slowfast_zoo.data.pysf_transforms.PysfTestTransform` (PyTorchVideo / PySlowFast).

    Args:
        model: a model built by :func:`slowfast_zoo.create_model` (it has a ``pretrained_cfg``).
        views: ``None`` or the protocol's view count for the published protocol, ``1`` for one
            centre clip with a centre crop (MMAction2's validation pipeline).

    Example:
        >>> import slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1")
        >>> protocol_transform(model, None).num_views, protocol_transform(model, 1).num_views
        (30, 1)
    """
    return test_transform(model.pretrained_cfg, views=views)


def predict_scores(model: SlowFast, video: VideoSource, *, views: int | None = None,
                   device: str | torch.device | None = None, views_per_batch: int | None = None,
                   dtype: torch.dtype | None = None, average: str | None = None,
                   progress: bool = False) -> torch.Tensor:
    """Video-level scores ``[num_classes]``, scored as the weight's test protocol scored them.

    ``average=None`` (default): the weight's own scoring (:func:`~slowfast_zoo.inference.engine.
    protocol_scoring`): MMAction2 weights average the softmax of each view's logits;
    PyTorchVideo / PySlowFast weights take PySlowFast's per-view score (softmax, sigmoid for
    Charades, at every head position, then the mean) and combine the views by their mean (max
    for Charades). ``"prob"`` / ``"score"``: MMAction2's ``average_clips`` whatever the weight.

    The model runs on the fast path (eval, BatchNorm folded, channels_last) as a prepared copy
    (:func:`slowfast_zoo.inference.prepare_model`): the caller's model is left unchanged. The views are streamed: each distinct frame is
    decoded once and kept as uint8, and only ``views_per_batch`` float views exist at a time
    (:meth:`TestTransform.stream_views <slowfast_zoo.data.TestTransform.stream_views>`); the
    scores equal those of ``video_scores(model, transform.load(video))`` bit for bit.

    Example:
        >>> import slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1", pretrained=True)  # doctest: +SKIP
        >>> scores = predict_scores(model, sample_video_path(), views=1)  # doctest: +SKIP
        >>> scores.shape, round(scores.sum().item(), 4)  # doctest: +SKIP
        (torch.Size([400]), 1.0)
    """
    tf = protocol_transform(model, views)
    activation, mode = (protocol_scoring(getattr(model.pretrained_cfg, "test", None)) if average is None
                        else (None, average))
    reader, first = open_reader(os.fspath(video) if isinstance(video, (str, os.PathLike)) else video,
                                filename_tmpl=tf.filename_tmpl)
    model = prepare_model(model, device=device)
    return read_sampled(lambda n: tf.sample_reader(reader, first),
                        lambda idx: streamed_scores(model, tf, reader, idx, views_per_batch=views_per_batch,
                                                    dtype=dtype, average=mode, progress=progress,
                                                    activation=activation),
                        reader)


def predict(model: SlowFast, video: VideoSource, *, topk: int = 5, views: int | None = None,
            device: str | torch.device | None = None, views_per_batch: int | None = None,
            dtype: torch.dtype | None = None, progress: bool = False) -> list[Prediction]:
    """Top-k classes of a video with their scores, using the weight's test protocol (views and
    scoring: :func:`predict_scores`; Charades weights give per-class sigmoid scores).

    Args:
        model: a model from :func:`slowfast_zoo.create_model` (left unchanged: a prepared copy runs).
        video: path of a video file (any container/codec FFmpeg reads), a rawframe folder, or
            an open :class:`~slowfast_zoo.data.VideoReader` (not opened and probed again).
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
        raise UsageError(f"topk must be >= 1, got {topk}")
    probs = predict_scores(model, video, views=views, device=device,
                           views_per_batch=views_per_batch, dtype=dtype, progress=progress)
    return topk_predictions(probs, model.class_names, topk)
