# Multi-view evaluation of a video dataset.
#
# Reproduces the test procedure of MMAction2 0.x's ``tools/test.py`` (OpenMMLab, Apache-2.0,
# https://github.com/open-mmlab/mmaction2, v0.13.0) as written down in docs/SPEC.md sections 3, 5
# and 7: every view of a video through the model, ``average_clips`` over the views, then
# top-k accuracy and mean class accuracy over the video scores. An independent
# re-implementation; no MMAction2 code is copied.
"""``evaluate(model, dataset)``: accuracy of a model on a dataset, single- or multi-process.

Typical use::

    import slowfast_zoo as sz
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True)
    tf = sz.data.test_transform(model.pretrained_cfg)              # 30 views per video
    ds = sz.data.VideoDataset("val_list.txt", "videos_val/", tf, on_error="skip")
    result = sz.evaluation.evaluate(model, ds)
    print(result.metrics)              # {'top1_acc': ..., 'top5_acc': ..., 'mean_class_accuracy': ...}

A multi-label dataset (:class:`~slowfast_zoo.data.multilabel.MultiLabelDataset`, Charades) is
scored by PySlowFast's ``get_map`` instead: ``{'mAP': ...}``.

Under ``torchrun --nproc_per_node N`` the same call shards the videos over the N processes
and gathers the scores on rank 0 (see :mod:`slowfast_zoo.evaluation.distributed`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from typing import Any, TextIO, TypeVar, cast

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from slowfast_zoo.data.datasets import Failure, collate_skip_failures
from slowfast_zoo.errors import DistributedError, IndexOutOfRangeError, InputFileError, UsageError, WrongTypeError
from slowfast_zoo.evaluation.distributed import DistInfo, gather_to_main, init_distributed, shard
from slowfast_zoo.evaluation.metrics import mean_average_precision, mean_class_accuracy, top_k_accuracy
from slowfast_zoo.evaluation.results import RecordCollector, VideoRecord
from slowfast_zoo.inference.device import resolve_device, slow_low_precision_warning
from slowfast_zoo.inference.engine import (average_views, default_views_per_batch, prepare_model,
                                           protocol_scoring, run_view_stream, video_scores)
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo._progress import ProgressBar

__all__ = ["EvalResult", "evaluate", "compute_metrics", "gather_records", "job_device",
           "check_run_options"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_AVERAGES = ("protocol", "prob", "score")


def compute_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """MMAction2's test metrics of video scores: ``top1_acc``, ``top5_acc`` (when there are
    at least 5 classes) and ``mean_class_accuracy``, as fractions; for multi-hot ``labels``
    ``[num_videos, num_classes]`` (Charades) PySlowFast's ``mAP`` instead
    (:func:`~slowfast_zoo.evaluation.metrics.mean_average_precision`).

    Returns an empty dict when there is no video (or, multi-label, no class with a positive).

    Example:
        >>> compute_metrics(np.array([[0.2, 0.8], [0.6, 0.4]]), np.array([1, 1]))
        {'top1_acc': 0.5, 'mean_class_accuracy': 0.25}
        >>> compute_metrics(np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.1]]),
        ...                 np.array([[0, 1], [0, 1], [1, 0]]))
        {'mAP': 0.75}
    """
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    if len(scores) == 0:
        return {}
    if labels.ndim == 2:
        if not (labels > 0).any():  # get_map's mean of nothing; say so rather than report NaN
            log.warning("no evaluated video has a class: no mAP")
            return {}
        return {"mAP": mean_average_precision(scores, labels)}
    ks = (1, 5) if scores.shape[1] >= 5 else (1,)
    metrics = {f"top{k}_acc": v for k, v in zip(ks, top_k_accuracy(scores, labels, ks))}
    metrics["mean_class_accuracy"] = mean_class_accuracy(scores, labels)
    return metrics


@dataclass
class EvalResult:
    """What :func:`evaluate` found.

    Attributes:
        records: one :class:`VideoRecord` per selected video, in dataset order (evaluated and
            skipped ones; on ranks other than 0 of a distributed run: this rank's share only).
        metrics: ``top1_acc``, ``top5_acc`` (K >= 5), ``mean_class_accuracy`` over the
            evaluated videos (skipped videos excluded), or ``mAP`` for a multi-label dataset;
            empty on ranks other than 0.
        num_selected: videos asked for (dataset length, or the given ``indices``).
        is_main: False on ranks other than 0 of a distributed run.
        multi_label: the dataset gives each video a set of classes (Charades).
    """

    records: list[VideoRecord]
    metrics: dict[str, float] = field(default_factory=dict)
    num_selected: int = 0
    is_main: bool = True
    multi_label: bool = False

    @property
    def evaluated(self) -> list[VideoRecord]:
        return [r for r in self.records if r.ok]

    @property
    def indices(self) -> list[int]:
        """Dataset indices of the evaluated videos (rows of :attr:`scores`)."""
        return [r.index for r in self.evaluated]

    @property
    def scores(self) -> np.ndarray:
        """float32 ``[num_evaluated, num_classes]`` video scores, dataset order."""
        ok = self.evaluated
        if not ok:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([r.scores for r in ok if r.scores is not None]).astype(np.float32, copy=False)

    @property
    def labels(self) -> np.ndarray:
        """int64 ``[num_evaluated]`` labels of the evaluated videos; multi-label: the multi-hot
        ``[num_evaluated, num_classes]`` (PySlowFast's ``as_binary_vector``)."""
        ok = self.evaluated
        if not self.multi_label:
            return np.asarray([r.label for r in ok], dtype=np.int64)
        hot = np.zeros((len(ok), self.scores.shape[1] if ok else 0), dtype=np.int64)
        for row, rec in enumerate(ok):
            classes = list(_classes(rec.label))
            if classes and not 0 <= min(classes) <= max(classes) < hot.shape[1]:
                raise UsageError(f"video {rec.index} ({rec.video}) has classes {classes}, outside the "
                                 f"model's {hot.shape[1]} scores")
            hot[row, classes] = 1
        return hot

    @property
    def failures(self) -> list[Failure]:
        """The skipped videos: ``Failure(index, path, reason)``."""
        return [Failure(r.index, r.video, r.reason or "") for r in self.records if not r.ok]

    @property
    def num_evaluated(self) -> int:
        return sum(1 for r in self.records if r.ok)

    @property
    def num_skipped(self) -> int:
        return sum(1 for r in self.records if not r.ok)

    @property
    def counts(self) -> dict[str, int]:
        """``{"selected", "evaluated", "skipped"}``."""
        return {"selected": self.num_selected, "evaluated": self.num_evaluated,
                "skipped": self.num_skipped}


class _VideoBar(ProgressBar):
    """The package's progress bar, counting videos."""

    def __init__(self, total: int | None, desc: str = "", enabled: bool = True,
                 stream: TextIO | None = None) -> None:
        super().__init__(total, desc, enabled, stream, unit="videos")


def _length(dataset: Dataset[Any]) -> int:
    """``len(dataset)``: every dataset :func:`evaluate` takes is sized (torch's ``Dataset`` type is not)."""
    return len(cast(Sized, dataset))


def _record_path(dataset: Dataset[Any], index: int) -> str:
    """The file of item ``index`` as the dataset would name it, without opening it."""
    resolve = getattr(dataset, "resolve", None)
    if resolve is not None:
        try:
            return str(resolve(index))
        except Exception:  # noqa: BLE001 - a missing file is reported by the loader itself
            pass
    records = getattr(dataset, "records", None)
    full = getattr(dataset, "_full", None)
    if records is not None and full is not None:
        return str(full(records[index].path))
    return str(index)


def _classes(label: int | tuple[int, ...]) -> tuple[int, ...]:
    return label if isinstance(label, tuple) else (int(label),)


def _labels_of(dataset: Dataset[Any]) -> Sequence[int | tuple[int, ...]]:
    """One int per item, or (``dataset.multi_label``) one tuple of classes per item."""
    labels = getattr(dataset, "labels", None)
    if labels is None:
        raise WrongTypeError("dataset must expose .labels (one int per item, or a tuple of classes per "
                             "item with multi_label = True), like VideoDataset / RawframeDataset / "
                             "MultiLabelDataset")
    if getattr(dataset, "multi_label", False):
        return [tuple(int(c) for c in y) for y in labels]
    return labels


def evaluate(model: SlowFast, dataset: Dataset[Any], *, average: str = "protocol", views_per_batch: int | None = None,
             device: str | torch.device | None = None, dtype: torch.dtype | None = None,
             progress: bool = True, num_workers: int = 0, indices: Iterable[int] | None = None,
             resume_from: Mapping[int, VideoRecord] | None = None,
             on_result: Callable[[VideoRecord], None] | None = None,
             prepare: bool = True, resize_on_device: bool | None = None) -> EvalResult:
    """Evaluate ``model`` on every video of ``dataset`` with multi-view testing.

    Each video's views (e.g. 30 = 10 clips x 3 crops) go through the model in chunks of
    ``views_per_batch`` (bounded memory on any device), are averaged with ``average``
    (MMAction2's ``average_clips``) and scored with MMAction2's metrics. Videos the dataset
    cannot read (``on_error="skip"``) are reported in :attr:`EvalResult.failures` and left
    out of the metrics. Under ``torchrun`` (``WORLD_SIZE > 1``) every rank evaluates a
    disjoint share and rank 0 returns the gathered result; single- and multi-process runs
    give the same numbers.

    Args:
        model: a SlowFast (e.g. from :func:`slowfast_zoo.create_model`); evaluated as a prepared
            copy (eval mode, BatchNorm folded, channels_last, see
            :func:`~slowfast_zoo.inference.prepare_model`) unless ``prepare=False``.
        dataset: items ``(views [V, 3, T, H, W], label, index)`` or ``Failure``, with a
            ``labels`` attribute: :class:`~slowfast_zoo.data.VideoDataset` /
            :class:`~slowfast_zoo.data.RawframeDataset` (use ``on_error="skip"`` to survive
            damaged videos; with ``"raise"`` the first one stops the run). A dataset with
            ``multi_label = True`` (:class:`~slowfast_zoo.data.multilabel.MultiLabelDataset`:
            PySlowFast's Charades frame lists, or ``path l1,l2`` lists) gives a tuple of classes
            per video, and is scored by ``mAP`` (PySlowFast's ``get_map``: scikit-learn's
            ``average_precision_score`` per class, over the classes with a positive video).
        average: ``"protocol"`` (default): the weight's own scoring
            (:func:`~slowfast_zoo.inference.engine.protocol_scoring` of ``model.pretrained_cfg.test``:
            ``"prob"`` for MMAction2 weights; PySlowFast's per-view score, softmax or sigmoid at
            every head position then the mean, combined by mean or max, for PyTorchVideo /
            PySlowFast weights); ``"prob"`` (softmax then mean) or ``"score"``: MMAction2's
            ``average_clips`` whatever the weight.
        views_per_batch: views per forward pass (default: 1 on CPU, 10 on GPU).
        device: compute device (default: CUDA when available; ``cuda:LOCAL_RANK`` under torchrun).
        dtype: autocast dtype (``torch.float16`` / ``torch.bfloat16``), ``None`` for float32.
        progress: show a progress bar (rank 0, and only when stderr is a terminal).
        num_workers: DataLoader worker processes decoding videos ahead of the model.
        indices: dataset positions to evaluate (default: all), e.g. ``range(100)``.
        resume_from: records of videos already done (e.g. :func:`~slowfast_zoo.evaluation.
            results.load_records`); they are not evaluated again but are part of the result.
        on_result: called in this process with each new :class:`VideoRecord` as it finishes
            (e.g. :meth:`ResultWriter.add <slowfast_zoo.evaluation.results.ResultWriter.add>`).
        prepare: call :func:`~slowfast_zoo.inference.prepare_model` first.
        resize_on_device: with a dataset whose transform streams (``test_transform(...)``):
            the loader hands over each video's distinct frames as uint8 (pinned for a
            non-blocking copy), and the views are built chunk by chunk on ``device``, never
            all at once. ``True`` sends the decoded frames and resizes them there (torch ops),
            ``False`` resizes in the loader (OpenCV/numpy); default: on the device for an
            accelerator, in the loader on CPU. Identical views either way.

    Returns:
        :class:`EvalResult`; on ranks other than 0 of a distributed run, that rank's share
        and no metrics.

    Example:
        >>> result = evaluate(model, dataset, device="cuda")     # doctest: +SKIP
        >>> result.metrics["top1_acc"], result.num_skipped        # doctest: +SKIP
        (0.7564, 3)
    """
    if average not in _AVERAGES:
        raise UsageError(f"average must be one of {_AVERAGES} for evaluation, got {average!r}")
    activation, mode = (protocol_scoring(getattr(getattr(model, "pretrained_cfg", None), "test", None))
                        if average == "protocol" else (None, average))
    labels = _labels_of(dataset)
    size = _length(dataset)
    selection = list(range(size)) if indices is None else [int(i) for i in indices]
    if len(set(selection)) != len(selection):
        raise UsageError("indices must not repeat a video")
    for i in selection:
        if not 0 <= i < size:
            raise IndexOutOfRangeError(f"index {i} out of range for a dataset of {size} items")
    wanted = set(selection)
    done = {i: r for i, r in (resume_from or {}).items() if i in wanted}

    info = init_distributed(device)
    if device is None and info.distributed and torch.cuda.is_available():
        device = f"cuda:{info.local_rank}"
    elif device is not None and info.distributed and str(device) == "cuda":
        device = f"cuda:{info.local_rank}"
    dev = resolve_device(device)
    if prepare:
        model = prepare_model(model, device=dev)

    todo = [i for i in selection if i not in done]
    mine = shard(todo, info.rank, info.world_size)
    log.info("rank %d/%d: %d of %d selected videos to evaluate (%d already done)",
             info.rank, info.world_size, len(mine), len(selection), len(done))
    if resize_on_device is None:
        resize_on_device = dev.type != "cpu"
    new = _run_shard(model, dataset, mine, labels, average=mode, activation=activation,
                     views_per_batch=views_per_batch,
                     dtype=dtype, num_workers=num_workers, pin=dev.type == "cuda",
                     progress=progress and info.is_main, on_result=on_result,
                     resize_on_device=bool(resize_on_device))
    return _assemble(new, done, selection, info, multi_label=bool(getattr(dataset, "multi_label", False)))


class _DecodedItems(Dataset[Any]):
    """``dataset`` items as uint8 distinct frames (its ``load_decoded``), for the streamed path."""

    def __init__(self, dataset: Dataset[Any], resize: bool) -> None:
        self.dataset, self.resize = dataset, resize
        self.load: Callable[..., Any] = getattr(dataset, "load_decoded")

    def __len__(self) -> int:
        return _length(self.dataset)

    def __getitem__(self, index: int) -> Any:
        return self.load(index, resize=self.resize)


def _one_item(batch: Sequence[Any]) -> Any:
    return batch[0]


def _stream_transform(dataset: Dataset[Any]) -> Any:
    """The dataset's transform when its views can be built chunk by chunk (``iter_views``), else None."""
    transform = getattr(dataset, "transform", None)
    if hasattr(dataset, "load_decoded") and hasattr(transform, "iter_views"):
        return transform
    return None


def _loader_items(dataset: Dataset[Any], mine: list[int], *, num_workers: int, pin: bool,
                  resize_on_device: bool) -> Iterator[Any]:
    """``(videos-or-views, label, index)`` or ``Failure`` per video, one video per loader batch.

    One video per batch: a video's views already fill a forward chunk, and MMAction2's chunked
    testing (max_testing_views) assumes batch 1 too. prefetch_factor 1: each worker holds one
    video ahead; more would multiply host memory by the ranks on a machine for no gain.
    """
    prefetch = 1 if num_workers > 0 else None
    if _stream_transform(dataset) is not None:
        # Streamed: a worker hands over uint8 distinct frames (112 MB for 320 frames of 256x455,
        # against 755 MB of float32 views); the views are built here, a chunk at a time.
        source = _DecodedItems(dataset, resize=not resize_on_device)
        loader = DataLoader(Subset(source, mine), batch_size=1, shuffle=False, num_workers=num_workers,
                            collate_fn=_one_item, pin_memory=pin, prefetch_factor=prefetch)
        yield from loader
        return
    loader = DataLoader(Subset(dataset, mine), batch_size=1, shuffle=False, num_workers=num_workers,
                        collate_fn=collate_skip_failures, pin_memory=pin, prefetch_factor=prefetch)
    for views, labels, idx, failures in loader:
        yield from failures
        if views is not None:  # the label is the dataset's (an int, or a multi-hot vector)
            yield views[0], labels[0], int(idx[0])


def _run_shard(model: SlowFast, dataset: Dataset[Any], mine: list[int], labels: Sequence[int | tuple[int, ...]], *,
               average: str, views_per_batch: int | None, dtype: torch.dtype | None, num_workers: int,
               activation: str | None = None,
               pin: bool, progress: bool, on_result: Callable[[VideoRecord], None] | None,
               resize_on_device: bool = False) -> list[VideoRecord]:
    """Evaluate this process's videos."""
    device = next(model.parameters()).device
    transform = _stream_transform(dataset)
    start = time.monotonic()
    with RecordCollector[VideoRecord](_VideoBar(total=len(mine), desc="evaluating", enabled=progress),
                                      on_result) as out:
        for item in _loader_items(dataset, mine, num_workers=num_workers, pin=pin,
                                  resize_on_device=resize_on_device):
            if isinstance(item, Failure):
                # INFO: the record (EvalResult.failures) carries it; the CLI prints it once.
                log.info("skipped video %d (%s): %s", item.index, item.path, item.reason)
                out.add(VideoRecord(int(item.index), str(item.path), _as_label(labels[item.index]), None,
                                    item.reason))
                continue
            payload, _label, i = item
            if isinstance(payload, torch.Tensor):  # a dataset that gives whole views
                step = views_per_batch or default_views_per_batch(device, payload.shape[2:])
                video_score = video_scores(model, payload, average=average, views_per_batch=step,
                                           dtype=dtype, activation=activation)
            else:
                step = views_per_batch or default_views_per_batch(device, transform.view_shape)
                video = payload.to(device, non_blocking=True) if device.type != "cpu" else payload
                logits = run_view_stream(model, transform.iter_views(video, step),
                                         views_per_batch=step, dtype=dtype, activation=activation)
                video_score = average_views(logits[None], average)[0]
            scores = video_score.numpy().astype(np.float32, copy=False)
            out.add(VideoRecord(i, _record_path(dataset, i), _as_label(labels[i]), scores, None))
    log.info("finished %d videos (evaluated or skipped) in %.1f s", len(out.records), time.monotonic() - start)
    return out.records


def _as_label(label: int | tuple[int, ...]) -> int | tuple[int, ...]:
    return label if isinstance(label, tuple) else int(label)


def gather_records(new: list[T], done: Mapping[Any, T], order: Sequence[Any], key: Callable[[T], Any],
                   info: DistInfo, what: str = "videos") -> list[T] | None:
    """Every rank's ``new`` records on rank 0, merged with the resumed ones ``done``, in ``order``
    (the selected keys, e.g. dataset indices); ``None`` on the other ranks.

    Raises:
        DistributedError: a selected key has no record (a rank lost work: never partial metrics).

    Example:
        >>> from slowfast_zoo.evaluation.distributed import DistInfo
        >>> gather_records(["b"], {"a": "a"}, ["a", "b"], str, DistInfo(0, 1, 0, None))
        ['a', 'b']
    """
    gathered = gather_to_main(new, info)
    if gathered is None:
        return None
    by_key = dict(done)
    for part in gathered:
        by_key.update((key(rec), rec) for rec in part)
    records = [by_key[k] for k in order if k in by_key]
    missing = len(order) - len(records)
    if missing:  # cannot happen unless a rank lost work; never report partial metrics silently
        raise DistributedError(f"{missing} selected {what} have no result after gathering")
    return records


def job_device(device: str | None, amp: bool, workers: int | None,
               notify: Callable[[int, str], None]) -> tuple[DistInfo, torch.device, torch.dtype | None, int]:
    """A job's process (``slowfast-zoo eval``, either task): its place in a ``torchrun`` job (joined
    now), its device (``cuda:LOCAL_RANK`` under torchrun when ``device`` names no index), the
    autocast dtype (``amp``: float16 on GPU, bfloat16 on CPU; a slow one is told to ``notify`` as a
    ``WARNING`` on rank 0) and the loader's worker processes (default: 4 on GPU, 1 on CPU).
    """
    info = init_distributed(device)
    dev = resolve_device(device)
    if info.distributed and dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", info.local_rank)  # one GPU per rank
    dtype = (torch.float16 if dev.type == "cuda" else torch.bfloat16) if amp else None
    slow = slow_low_precision_warning(dev, dtype)
    if slow and info.is_main:
        notify(logging.WARNING, f"--amp: {slow}")
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # a few input shapes: cuDNN picks its fastest kernels once each
    # CPU: one worker decodes the next video while the model runs (measured 1.08x the throughput
    # of none on 2 cores, benchmarks/RESULTS.md "Evaluate over short videos").
    return info, dev, dtype, workers if workers is not None else (4 if dev.type == "cuda" else 1)


def check_run_options(weights: str | os.PathLike[str] | None, save_every: float, resume: bool,
                      out: str | os.PathLike[str] | None, limit: int | None) -> None:
    """The run options every job checks before any work: ``weights`` (a file that exists, unless a
    URL), ``save_every`` (seconds >= 0; NaN is refused too), ``resume`` (needs ``out``), ``limit``.

    Raises:
        InputFileError, UsageError: naming the option.
    """
    if weights and "://" not in os.fspath(weights) and not os.path.isfile(weights):
        raise InputFileError(f"--weights {os.fspath(weights)}: no such file")
    if not save_every >= 0:  # 0: after every record
        raise UsageError(f"--save-every must be a number of seconds >= 0, got {save_every:g}")
    if resume and not out:
        raise UsageError("--resume needs --out")
    if limit is not None and limit < 0:
        raise UsageError("--limit must be >= 0")


def _assemble(new: list[VideoRecord], done: Mapping[int, VideoRecord], selection: list[int],
              info: DistInfo, *, multi_label: bool = False) -> EvalResult:
    records = gather_records(new, done, selection, lambda rec: rec.index, info)
    if records is None:  # not rank 0: keep the local share
        return EvalResult(records=sorted(new, key=lambda r: r.index), num_selected=len(selection),
                          is_main=False, multi_label=multi_label)
    result = EvalResult(records=records, num_selected=len(selection), multi_label=multi_label)
    if result.num_evaluated:
        result.metrics = compute_metrics(result.scores, result.labels)
    else:
        log.warning("no video could be evaluated: no metrics")
    return result
