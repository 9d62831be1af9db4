"""The inference engine: the one loop that runs a model over many views.

predict, windows, features, evaluate and the benchmark all call :func:`run_views` (per-view
logits, pooled features or unpooled maps) and :func:`average_views` / :func:`topk_predictions`
(video scores and their best classes), so chunking, autocast, memory format and device moves
are decided here and nowhere else.

The fast path is decided here and nowhere else (:func:`prepare_model`, on by default, called by
predict, windows, features, evaluate, the benchmark and fine-tuning): BatchNorm folded into the
convolutions (:meth:`SlowFast.fuse <slowfast_zoo.models.slowfast.SlowFast.fuse>`) and the
channels_last_3d memory format, in which every conv but the fast stem runs as a 2-D
convolution (:class:`slowfast_zoo.models.layers.Conv3d`). Inference prepares a copy: the
caller's model is never changed. Outputs stay within 1e-4 of MMAction2's golden
logits; the measured speed-ups are in benchmarks/RESULTS.md ("Model speed").
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, overload

import torch

from slowfast_zoo._progress import ProgressBar
from slowfast_zoo.errors import UsageError
from slowfast_zoo.inference.device import autocast, resolve_device
from slowfast_zoo.models.layers import is_channels_last_3d
from slowfast_zoo.models.slowfast import SlowFast

__all__ = ["prepare_model", "run_views", "run_view_stream", "streamed_scores", "ViewOutputs", "average_views", "video_scores",
           "position_scores", "protocol_scoring",
           "Prediction", "topk_predictions", "default_views_per_batch", "resolve_device"]


#: Voxels (frames x height x width) of one published test view: 32 x 256 x 256.
_FULL_VIEW = 32 * 256 * 256


def default_views_per_batch(device: torch.device, view_shape: Sequence[int] | None = None) -> int:
    """Views per forward: on CPU, one full-size view (32x256x256) worth of voxels; 10 on accelerators.

    On the project's 2-core CPU one full-size view per forward is faster than three (streamed
    predict of a 10 s video: 16.2 s against 17.3 s) and peaks lower (0.96 GB against 1.23 GB RSS):
    such a view already gives every convolution plenty of work (benchmarks/RESULTS.md, "Streamed
    predict"). Smaller views (``view_shape`` ``(T, H, W)``, e.g. a 64x64 quick look) are grouped up
    to the same voxel count, so that per-call overhead does not dominate.

    Example:
        >>> default_views_per_batch(torch.device("cpu")), default_views_per_batch(torch.device("cpu"), (8, 64, 64))
        (1, 64)
    """
    if device.type != "cpu":
        return 10
    if view_shape is None:
        return 1
    t, h, w = (int(v) for v in view_shape[-3:])
    return max(1, _FULL_VIEW // max(1, t * h * w))


def _is_prepared(model: SlowFast, device: torch.device, fuse: bool, channels_last: bool) -> bool:
    param = next(model.parameters())
    return (not model.training and model.is_fused == fuse and param.device == device
            and is_channels_last_3d(model.slow.stem.conv.weight) == channels_last)


def prepare_model(model: SlowFast, *, device: str | torch.device | None = None, fuse: bool = True,
                  channels_last: bool = True, training: bool = False, inplace: bool = False) -> SlowFast:
    """The model on the fast path: the one place that decides it (every caller comes here).

    For inference (the default): eval mode on ``device``, BatchNorm folded into the convolutions
    (``fuse``) and the channels_last_3d memory format (``channels_last``), in which every conv
    but the fast stem runs as a 2-D convolution. The caller's model is never changed: a prepared
    copy is returned (a model already prepared this way is returned as is), so after
    ``sz.predict(model, ...)`` its weights, ``model.train()`` and ``sz.save_pretrained(model, ...)``
    work as before. The copy costs one model's memory and a fraction of a second.

    For training (``training=True``): train mode and channels_last on ``device`` in place (the
    optimizer holds these very Parameters); BatchNorm cannot be folded there.

    Args:
        model: a model from :func:`slowfast_zoo.create_model`.
        device: ``"cpu"``, ``"cuda"``...; default CUDA when available.
        fuse: fold BatchNorm (inference only).
        channels_last: use the channels_last_3d memory format.
        training: prepare for training instead (in place, no folding).
        inplace: prepare the caller's own model instead of a copy (inference).

    Raises:
        UsageError: ``training=True`` with ``fuse=True``.

    Example:
        >>> import slowfast_zoo as sz
        >>> plain = sz.create_model("slowfast_r50_4x16x1")
        >>> model = prepare_model(plain, device="cpu")
        >>> model.is_fused, model.training, plain.is_fused, plain.training
        (True, False, False, True)
        >>> prepare_model(model, device="cpu") is model
        True
    """
    dev = resolve_device(device)
    if training:
        if fuse:
            raise UsageError("prepare_model(training=True) needs fuse=False: folded BatchNorm cannot train")
        model.train()
        model.to(dev)
        if channels_last:
            model.to(memory_format=torch.channels_last_3d)  # in place: the same Parameters
        return model
    if _is_prepared(model, dev, fuse, channels_last):
        return model
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    if fuse and not model.is_fused:
        model.fuse()
    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last_3d)
    return model


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


class ViewOutputs(NamedTuple):
    """What :func:`run_views` returns with ``return_maps=True``: pooled features and both maps.

    Example:
        >>> import torch
        >>> out = ViewOutputs(torch.zeros(2, 2304), torch.zeros(2, 2048, 1, 1, 1), torch.zeros(2, 256, 8, 1, 1))
        >>> pooled, slow, fast = out
        >>> out.pooled is pooled
        True
    """

    pooled: torch.Tensor
    slow: torch.Tensor
    fast: torch.Tensor


_ACTIVATIONS = ("softmax", "sigmoid")


def position_scores(logit_map: torch.Tensor, activation: str) -> torch.Tensor:
    """PySlowFast's per-view score of a head's per-position logits ``[N, C, t, h, w]``: the
    activation at every position, then the mean over positions (its ``ResNetBasicHead`` in eval;
    SlowFast, Apache-2.0). ``[N, C]``, in float32.

    Example:
        >>> logit_map = torch.tensor([[[[[0.0, 4.0]]], [[[0.0, 0.0]]]]])  # 2 classes, 2 positions
        >>> [round(v, 4) for v in position_scores(logit_map, "softmax")[0].tolist()]
        [0.741, 0.259]
        >>> [round(v, 4) for v in logit_map.mean((2, 3, 4)).softmax(1)[0].tolist()]  # not the same
        [0.8808, 0.1192]
    """
    x = logit_map.float()
    act = x.softmax(dim=1) if activation == "softmax" else x.sigmoid()
    return act.mean(dim=(2, 3, 4))


def protocol_scoring(test: Any) -> tuple[str | None, str]:
    """``(activation, average)`` for :func:`run_views` / :func:`average_views` that score videos
    as a weight's test protocol (``PretrainedCfg.test``) did: MMAction2's weights average the
    softmax of each view's logits (``(None, "prob")``); PyTorchVideo's and PySlowFast's take
    PySlowFast's per-view score (``score_activation`` at every head position, then the mean)
    and combine views by their mean (PySlowFast's ``sum``, the same ranking) or ``max``
    (Charades).

    Example:
        >>> import slowfast_zoo as sz
        >>> protocol_scoring(sz.get_pretrained_cfg("slowfast_r50_4x16x1").test)
        (None, 'prob')
        >>> protocol_scoring(sz.get_pretrained_cfg("pysf_slowfast_r50_16x8.charades").test)
        ('sigmoid', 'max_probs')
    """
    if getattr(test, "family", "mmaction2") == "mmaction2":
        return None, "prob"
    activation = getattr(test, "score_activation", "softmax")
    return activation, "max_probs" if getattr(test, "view_combination", "mean") == "max" else "mean_probs"


@overload
def run_views(model: SlowFast, views: torch.Tensor, *, views_per_batch: int | None = ...,
              dtype: torch.dtype | None = ..., pre_logits: bool = ...,
              return_maps: Literal[False] = ..., progress: bool = ...,
              activation: str | None = ...) -> torch.Tensor: ...


@overload
def run_views(model: SlowFast, views: torch.Tensor, *, views_per_batch: int | None = ...,
              dtype: torch.dtype | None = ..., pre_logits: bool = ...,
              return_maps: Literal[True], progress: bool = ...,
              activation: str | None = ...) -> ViewOutputs: ...


@overload
def run_views(model: SlowFast, views: torch.Tensor, *, views_per_batch: int | None = ...,
              dtype: torch.dtype | None = ..., pre_logits: bool = ...,
              return_maps: bool, progress: bool = ...,
              activation: str | None = ...) -> torch.Tensor | ViewOutputs: ...


def run_views(model: SlowFast, views: torch.Tensor, *, views_per_batch: int | None = None,
              dtype: torch.dtype | None = None, pre_logits: bool = False,
              return_maps: bool = False, progress: bool = False,
              activation: str | None = None) -> torch.Tensor | ViewOutputs:
    """Per-view logits (or pooled features, or unpooled maps) of ``views [V, 3, T, H, W]``, in chunks.

    Args:
        model: a model in eval mode (see :func:`prepare_model`); its device is used.
        views: normalized float views on any device.
        views_per_batch: views per forward pass (default: :func:`default_views_per_batch`).
        dtype: autocast dtype (``torch.bfloat16``/``torch.float16``) or None for float32.
        pre_logits: return the pooled ``[V, 2304]`` features instead of logits.
        return_maps: return :class:`ViewOutputs` (pooled ``[V, 2304]`` and the unpooled
            ``slow [V, 2048, T/tau, h, w]`` / ``fast [V, 256, T, h, w]`` maps) from one backbone pass.
        progress: a progress bar over the views on stderr (terminal only; 30 views take
            half a minute on a small CPU).
        activation: ``None`` (logits, averaged over the head's positions), or ``"softmax"`` /
            ``"sigmoid"``: PySlowFast's per-view score, the activation at every head position
            then the mean (:func:`position_scores`; the same as the activation of the logits
            when the head has one position).

    Returns:
        float32 tensor ``[V, num_classes]`` (or ``[V, 2304]``) on the CPU, or :class:`ViewOutputs`.

    Example:
        >>> import torch, slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1").eval()  # or prepare_model(...): faster
        >>> run_views(model, torch.zeros(2, 3, 8, 32, 32), views_per_batch=1).shape
        torch.Size([2, 400])
        >>> out = run_views(model, torch.zeros(1, 3, 8, 32, 32), return_maps=True)
        >>> out.pooled.shape, out.slow.shape, out.fast.shape
        (torch.Size([1, 2304]), torch.Size([1, 2048, 1, 1, 1]), torch.Size([1, 256, 8, 1, 1]))
    """
    if views.ndim != 5:
        raise UsageError(f"views must be [V, 3, T, H, W], got shape {list(views.shape)}")
    if activation is not None and (activation not in _ACTIVATIONS or pre_logits or return_maps):
        raise UsageError(f"activation must be one of {_ACTIVATIONS} (and without pre_logits / return_maps), "
                         f"got {activation!r}")
    param = next(model.parameters())
    device = param.device
    step = default_views_per_batch(device, views.shape[2:]) if views_per_batch is None else views_per_batch
    if step < 1:
        raise UsageError(f"views_per_batch must be >= 1, got {step}")
    channels_last = is_channels_last_3d(param)
    pooled: list[torch.Tensor] = []
    slows: list[torch.Tensor] = []
    fasts: list[torch.Tensor] = []
    bar = ProgressBar(views.shape[0], desc="views", enabled=progress, unit="views")
    with bar, torch.inference_mode(), autocast(device, dtype):
        for part in _chunks(views.shape[0], step):
            x = views[part].to(device, non_blocking=True)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last_3d)
            feats = model.forward_features(x)
            if activation is not None:
                out = position_scores(model.forward_head(feats, return_map=True), activation)
            else:
                out = model.forward_head(feats, pre_logits=pre_logits or return_maps)
            pooled.append(out.float().cpu())
            if return_maps:
                slows.append(feats[0].float().cpu())
                fasts.append(feats[1].float().cpu())
            bar.update(x.shape[0])
    if return_maps:
        return ViewOutputs(torch.cat(pooled), torch.cat(slows), torch.cat(fasts))
    return torch.cat(pooled)


def prefetched(items: Iterable[Any], depth: int = 1) -> Iterator[Any]:
    """``items``, produced by a background thread up to ``depth`` ahead of the consumer.

    For overlapping view building with the model. Exceptions are re-raised in the consumer;
    leaving the loop early stops the producer at its next item.

    Example:
        >>> list(prefetched(x * x for x in range(5)))
        [0, 1, 4, 9, 16]
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((end, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put((end, exc))

    worker = threading.Thread(target=produce, name="slowfast_zoo-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = q.get()
            if exc is not None:
                raise exc
            if item is end:
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


def run_view_stream(model: SlowFast, chunks: Iterable[torch.Tensor], *, total: int | None = None,
                    views_per_batch: int | None = None, dtype: torch.dtype | None = None,
                    pre_logits: bool = False, progress: bool = False, overlap: bool = False,
                    activation: str | None = None) -> torch.Tensor:
    """Per-view logits ``[V, num_classes]`` (or pooled features) of views that arrive in chunks (e.g.
    :meth:`TestTransform.stream_views <slowfast_zoo.data.TestTransform.stream_views>`): only one
    chunk of float views exists at a time.

    Args:
        model: a model in eval mode (see :func:`prepare_model`).
        chunks: ``[c, 3, T, H, W]`` views, in view order.
        total: the number of views, for the progress bar.
        views_per_batch, dtype, pre_logits, activation: as :func:`run_views`.
        progress: a progress bar over the views on stderr (terminal only).
        overlap: build the next chunk in a background thread while the model runs
            (:func:`prefetched`).

    Example:
        >>> import torch, slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1").eval()
        >>> chunks = (torch.zeros(1, 3, 8, 32, 32) for _ in range(2))
        >>> run_view_stream(model, chunks, pre_logits=True).shape
        torch.Size([2, 2304])
    """
    outs = []
    with ProgressBar(total, desc="views", enabled=progress, unit="views") as bar:
        for chunk in (prefetched(chunks) if overlap else chunks):
            outs.append(run_views(model, chunk, views_per_batch=views_per_batch, dtype=dtype,
                                  pre_logits=pre_logits, activation=activation))
            bar.update(chunk.shape[0])
    if not outs:
        raise UsageError("no views to run")
    return torch.cat(outs)


def streamed_scores(model: SlowFast, transform: Any, reader: Any, indices: Any, *,
                    views_per_batch: int | None = None, dtype: torch.dtype | None = None,
                    average: str = "prob", progress: bool = False, overlap: bool = False,
                    activation: str | None = None) -> torch.Tensor:
    """Video scores ``[num_classes]`` from the views ``transform.stream_views`` builds, a chunk of
    ``views_per_batch`` at a time (what predict and windows run): :func:`run_view_stream` +
    :func:`average_views` (``activation``, ``average``: see :func:`protocol_scoring`)."""
    step = views_per_batch or default_views_per_batch(next(model.parameters()).device, transform.view_shape)
    logits = run_view_stream(model, transform.stream_views(reader, indices, step), total=transform.num_views,
                             views_per_batch=step, dtype=dtype, progress=progress, overlap=overlap,
                             activation=activation)
    return average_views(logits[None], average)[0]


def average_views(logits: torch.Tensor, mode: str | None = "prob") -> torch.Tensor:
    """Combine per-view logits ``[B, V, K]`` into video scores (MMAction2's ``average_clips``).

    Args:
        logits: raw per-view class scores (per-view probabilities for ``"mean_probs"`` and
            ``"max_probs"``).
        mode: ``"prob"`` (mean of per-view softmax, what every MMAction2 weight was tested with),
            ``"score"`` (mean of logits), ``"mean_probs"`` / ``"max_probs"`` (the mean / the
            maximum over views of scores that are already probabilities: PySlowFast's per-view
            scores, :func:`protocol_scoring`) or ``None`` (return the ``[B, V, K]`` logits unchanged).

    Example:
        >>> round(average_views(torch.zeros(1, 30, 400)).sum().item(), 6)
        1.0
        >>> average_views(torch.tensor([[[0.2, 0.9], [0.6, 0.1]]]), "max_probs").tolist()
        [[0.6000000238418579, 0.8999999761581421]]
    """
    if logits.ndim != 3:
        raise UsageError(f"logits must be [B, V, K], got shape {list(logits.shape)}")
    if mode == "prob":
        return logits.softmax(dim=2).mean(dim=1)
    if mode in ("score", "mean_probs"):
        return logits.mean(dim=1)
    if mode == "max_probs":
        return logits.max(dim=1).values
    if mode is None:
        return logits
    raise UsageError(f"average mode must be 'prob', 'score' or None, or 'mean_probs' / 'max_probs' for "
                     f"per-view probabilities, got {mode!r}")


def video_scores(model: SlowFast, views: torch.Tensor, *, average: str = "prob",
                 views_per_batch: int | None = None, dtype: torch.dtype | None = None,
                 progress: bool = False, activation: str | None = None) -> torch.Tensor:
    """Scores ``[num_classes]`` of one video from all its views: :func:`run_views` + :func:`average_views`
    (``activation``, ``average``: :func:`protocol_scoring` gives a weight's own).

    Example:
        >>> import torch, slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1", num_classes=5).eval()
        >>> scores = video_scores(model, torch.zeros(2, 3, 8, 32, 32), views_per_batch=1)
        >>> scores.shape, round(scores.sum().item(), 5)
        (torch.Size([5]), 1.0)
    """
    logits = run_views(model, views, views_per_batch=views_per_batch, dtype=dtype, progress=progress,
                       activation=activation)
    return average_views(logits[None], average)[0]


@dataclass(frozen=True)
class Prediction:
    """One of the top-k classes of a video: its index, name and averaged probability.

    Example:
        >>> Prediction(index=3, label="archery", probability=0.5).label
        'archery'
    """

    index: int
    label: str
    probability: float


def topk_predictions(scores: torch.Tensor, class_names: Sequence[str], k: int) -> list[Prediction]:
    """The ``k`` best classes of a ``[num_classes]`` score vector, best first.

    Example:
        >>> topk_predictions(torch.tensor([0.1, 0.7, 0.2]), ["a", "b", "c"], 2)[0]
        Prediction(index=1, label='b', probability=0.699999988079071)
    """
    if k < 1:
        raise UsageError(f"topk must be >= 1, got {k}")
    values, indices = scores.topk(min(k, scores.numel()))
    return [Prediction(int(i), class_names[int(i)], float(v)) for v, i in zip(values, indices)]
