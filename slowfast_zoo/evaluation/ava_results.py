"""Per-keyframe detection records, how they are made, and the resume state of an AVA evaluation.

:func:`detect_keyframes` runs a detector over keyframes of an :class:`~slowfast_zoo.data.AvaDataset`,
one keyframe per forward, and gives a :class:`KeyframeRecord` each; :func:`detection_rows` turns
records into AVA's result rows with :func:`keyframe_rows`, the one rule (MMAction2's ``bbox2result``)
from a keyframe's boxes and scores to rows, which ``slowfast-zoo detect --csv`` uses too.

The AVA job (:mod:`slowfast_zoo.evaluation.ava_job`) keeps every finished keyframe's person boxes
and **all** its action scores in a JSON state file next to the results CSV
(:func:`state_path`: ``<out>.state.json``), rewritten atomically (temporary file + ``os.replace``)
every ``every_s`` seconds while the run goes on (``"complete": false``), so that an interrupted
run loses at most that much work and ``--resume`` continues from it; the CSV itself is written
once, from these records, when every keyframe is done. Under ``torchrun`` with more than one
process every rank writes its own ``<state>.rank<r>.part`` and rank 0 writes the final state. The
file mechanics (writer, reader, interruption) are the classification job's
(:mod:`slowfast_zoo.evaluation.results`); only the format tag and the records differ.

Schema (``"format": "slowfast_zoo.ava_eval/1"``)::

    {"format", "complete": bool, "model", "protocol", "dataset", "evaluation", "dtype",
     "action_ids", "class_names",
     "metrics": {"mAP", "per_class_ap": {"<action id>": AP}},     # fractions; NaN written as null
     "counts": {"selected", "evaluated", "skipped"},
     "failures": [{"index", "img_key", "reason"}],
     "results": [{"index", "img_key", "boxes": [[x1, y1, x2, y2], ...], "scores": [[K floats], ...]}]}

``boxes`` are float32, normalized by the resized clip's width and height (MMAction2's
``BBoxHeadAVA.predict_by_feat``), ``scores`` the float32 sigmoid (or softmax) of every output
column; both are written as the shortest decimal that reads back to the same float32, so a resumed
run writes the same CSV as an uninterrupted one. Keyframes are identified by their ``img_key``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from slowfast_zoo._digest import short_error
from slowfast_zoo._progress import ProgressBar
from slowfast_zoo.data.ava import AvaDataset, KeyframeSample
from slowfast_zoo.data.ava_boxes import img_key
from slowfast_zoo.data.datasets import Failure
from slowfast_zoo.errors import ResultFileError, VideoDecodeError
from slowfast_zoo.evaluation.results import RecordCollector, RecordWriter, float32_text, read_record_files
from slowfast_zoo.models.detector import SlowFastDetector

__all__ = ["KeyframeRecord", "KeyframeWriter", "FORMAT", "state_path", "load_keyframe_records",
           "keyframe_to_json", "keyframe_from_json", "keyframe_rows", "detection_rows", "detect_keyframes",
           "groundtruth_without", "ResultRow"]

log = logging.getLogger(__name__)

#: Value of the state file's ``"format"`` field.
FORMAT = "slowfast_zoo.ava_eval/1"

# Dataset fields a partial state and the run resuming it must share, with its model, protocol and
# dtype: what changes a keyframe's boxes or scores. The selection (--limit, --exclusions) and the
# evaluation (evaluator, label map) may change.
_DATASET_MUST_MATCH = ("ann_file", "proposals", "data_format")

#: An AVA result row: ``(video_id, timestamp, x1, y1, x2, y2, action_id, score)``.
ResultRow = tuple[str, int | float, float, float, float, float, int, float]


@dataclass(frozen=True, eq=False)
class KeyframeRecord:
    """The outcome for one keyframe.

    Attributes:
        index: position in the dataset (annotation order) in the run that made it.
        img_key: ``"video_id,timestamp"`` (``%04d``), the keyframe's identity.
        boxes: float32 ``[k, 4]`` normalized person boxes, or ``None`` when skipped.
        scores: float32 ``[k, num_classes]``: every action score of every box, or ``None``.
        reason: why it was skipped (``None`` when evaluated).
    """

    index: int
    img_key: str
    boxes: np.ndarray | None = None
    scores: np.ndarray | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when the keyframe was evaluated."""
        return self.scores is not None


def state_path(out: str | os.PathLike[str]) -> Path:
    """The resume state of a run writing the results CSV ``out``.

    Example:
        >>> state_path("runs/ava.csv").as_posix()
        'runs/ava.csv.state.json'
    """
    return Path(f"{os.fspath(out)}.state.json")


def keyframe_to_json(rec: KeyframeRecord) -> str:
    """One record as a JSON object (text), in the ``results`` or ``failures`` form.

    Example:
        >>> keyframe_to_json(KeyframeRecord(0, "v,0902", np.array([[0.1, 0.2, 0.5, 1.0]]), np.array([[0.75, 0.5]])))
        '{"index": 0, "img_key": "v,0902", "boxes": [[0.1, 0.2, 0.5, 1.0]], "scores": [[0.75, 0.5]]}'
        >>> keyframe_to_json(KeyframeRecord(1, "v,0903", reason="VideoDecodeError: no frame"))
        '{"index": 1, "img_key": "v,0903", "reason": "VideoDecodeError: no frame"}'
    """
    head = f'{{"index": {int(rec.index)}, "img_key": {json.dumps(rec.img_key)}, '
    if rec.scores is None or rec.boxes is None:
        return head + f'"reason": {json.dumps(rec.reason)}}}'
    return head + f'"boxes": {float32_text(rec.boxes)}, "scores": {float32_text(rec.scores)}}}'


def keyframe_from_json(obj: Mapping[str, Any]) -> KeyframeRecord:
    """Inverse of :func:`keyframe_to_json` (on the parsed object).

    Example:
        >>> rec = keyframe_from_json({"index": 0, "img_key": "v,0902", "boxes": [[0, 0, 1, 1]], "scores": [[0.5]]})
        >>> rec.ok, rec.boxes.dtype, rec.scores.shape
        (True, dtype('float32'), (1, 1))
    """
    key = obj["img_key"]
    if not isinstance(key, str) or key.count(",") < 1:
        raise ResultFileError(f"img_key {str(key)[:60]!r} is not 'video_id,timestamp'")
    if obj.get("scores") is None:
        return KeyframeRecord(int(obj["index"]), key, reason=str(obj.get("reason")))
    boxes = np.asarray(obj["boxes"], dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(obj["scores"], dtype=np.float32).reshape(len(boxes), -1)
    return KeyframeRecord(int(obj["index"]), key, boxes, scores)


def load_keyframe_records(state: str | os.PathLike[str], header: Mapping[str, Any] | None = None, *,
                          num_classes: int | None = None) -> dict[str, KeyframeRecord]:
    """Keyframes already finished by an earlier (possibly interrupted) run: ``{img_key: record}``.

    Reads ``state`` and every ``state.rank*.part`` next to it (any world size,
    :func:`~slowfast_zoo.evaluation.results.read_record_files`). With ``header``, refuses files made
    with another model, protocol, dtype, annotation, proposal file or data format; with
    ``num_classes``, records whose score rows have another length.

    Raises:
        ResultFileError: an unreadable, foreign, damaged or incompatible file.
    """
    records: dict[str, KeyframeRecord] = {}
    for path, rec in read_record_files(state, keyframe_from_json, fmt=FORMAT, kind="AVA state file",
                                       header=header, dataset_keys=_DATASET_MUST_MATCH):
        if rec.scores is not None and num_classes is not None and rec.scores.shape[1] != num_classes:
            raise ResultFileError(f"cannot resume from {path}: keyframe {rec.img_key} has "
                                  f"{rec.scores.shape[1]} scores per box, the model {num_classes}")
        records[rec.img_key] = rec
    if records:
        log.info("resuming: %d keyframes already done in %s", len(records), state)
    return records


def keyframe_rows(video_id: str, timestamp: int | float, boxes: np.ndarray, scores: np.ndarray,
                  action_ids: Sequence[int], threshold: float) -> list[ResultRow]:
    """AVA result rows ``(video_id, timestamp, x1, y1, x2, y2, action_id, score)`` of one keyframe.

    As MMAction2's ``bbox2result`` + ``results2csv``: class by class (score column ``j`` is action
    ``action_ids[j]``), each box whose float32 score is **above** ``threshold`` (``>``, the
    ``action_thr`` rule; a NaN never is). ``boxes`` ``[k, 4]`` are written as given (normalized).

    Example:
        >>> keyframe_rows("v", 902, np.array([[0, 0, .5, 1], [.5, 0, 1, 1]]),
        ...               np.array([[0.75, 0.002], [0.002, 0.5]]), [1, 2], 0.002)
        [('v', 902, 0.0, 0.0, 0.5, 1.0, 1, 0.75), ('v', 902, 0.5, 0.0, 1.0, 1.0, 2, 0.5)]
    """
    out: list[ResultRow] = []
    if len(boxes) == 0:
        return out
    scores = np.asarray(scores, dtype=np.float32).reshape(len(boxes), -1)
    columns, rows = np.nonzero(scores.T > np.float32(threshold))
    for j, b in zip(columns.tolist(), rows.tolist()):
        x1, y1, x2, y2 = (float(v) for v in boxes[b])
        out.append((video_id, timestamp, x1, y1, x2, y2, int(action_ids[j]), float(scores[b, j])))
    return out


def detection_rows(records: Iterable[KeyframeRecord], action_ids: Sequence[int],
                   threshold: float) -> Iterator[ResultRow]:
    """AVA result rows ``(video_id, timestamp, x1, y1, x2, y2, action_id, score)`` of the records
    (:func:`keyframe_rows` of each evaluated keyframe, in order).

    Example:
        >>> rec = KeyframeRecord(0, "v,0902", np.array([[0, 0, .5, 1], [.5, 0, 1, 1]], np.float32),
        ...                      np.array([[0.9, 0.001], [0.002, 0.5]], np.float32))
        >>> [(r[0], r[1], r[2], r[6], round(r[7], 3)) for r in detection_rows([rec], [1, 2], 0.002)]
        [('v', 902, 0.0, 1, 0.9), ('v', 902, 0.5, 2, 0.5)]
    """
    for rec in records:
        if rec.scores is None or rec.boxes is None:
            continue
        video, timestamp = rec.img_key.rsplit(",", 1)
        yield from keyframe_rows(video, int(timestamp), rec.boxes, rec.scores, action_ids, threshold)


class _Items(Dataset[Any]):
    """The dataset's samples, or a :class:`Failure` for a keyframe whose frames cannot be read."""

    def __init__(self, dataset: AvaDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> KeyframeSample | Failure:
        try:
            return self.dataset[index]
        except (VideoDecodeError, OSError) as exc:
            return Failure(index, self.dataset.keyframes[index].img_key, f"{type(exc).__name__}: {short_error(exc)}")


def _first(batch: list[Any]) -> Any:
    return batch[0]


def detect_keyframes(model: SlowFastDetector, dataset: AvaDataset, mine: list[int], *,
                     dtype: torch.dtype | None = None, workers: int = 0, progress: bool = False,
                     on_result: Callable[[KeyframeRecord], None] | None = None) -> list[KeyframeRecord]:
    """Every box's action scores at the keyframes ``mine`` of ``dataset``, one keyframe per forward.

    ``model`` is on the fast path already (:func:`~slowfast_zoo.inference.prepare_model`); a sample is
    normalized on its device with the weight's mean and std as MMAction2's data preprocessor does,
    its proposals (pixels of the resized clip) are the RoIs, the scores are ``model.scores`` and the
    boxes are divided by the clip's ``(w, h)`` in float32 (``BBoxHeadAVA.predict_by_feat``). A
    keyframe whose frames cannot be read is a record with a ``reason``.

    Args:
        model: the prepared detector.
        dataset: the keyframes (:class:`~slowfast_zoo.data.AvaDataset` or its video variant).
        mine: dataset positions to run, in order.
        dtype: autocast dtype, or None for float32.
        workers: DataLoader worker processes reading and resizing frames ahead of the model.
        progress: a progress bar (stderr, terminal only).
        on_result: called with each record as it is finished.
    """
    device = next(model.parameters()).device
    cfg = model.pretrained_cfg
    assert cfg is not None
    mean = torch.tensor(cfg.mean, dtype=torch.float32, device=device).view(3, 1, 1, 1)
    std = torch.tensor(cfg.std, dtype=torch.float32, device=device).view(3, 1, 1, 1)
    loader = DataLoader(Subset(_Items(dataset), mine), batch_size=1, shuffle=False, num_workers=workers,
                        collate_fn=_first, prefetch_factor=2 if workers else None)
    autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else contextlib.nullcontext
    with RecordCollector[KeyframeRecord](ProgressBar(len(mine), desc="evaluating", enabled=progress,
                                                     unit="keyframes"), on_result) as out:
        for index, item in zip(mine, loader):  # the loader keeps the order of mine
            if isinstance(item, Failure):
                log.info("skipped keyframe %s: %s", item.path, item.reason)
                out.add(KeyframeRecord(index, item.path, reason=item.reason))
                continue
            x = (item.inputs.to(device, non_blocking=True).float() - mean) / std
            x = x.unsqueeze(0).contiguous(memory_format=torch.channels_last_3d)
            px = torch.from_numpy(np.ascontiguousarray(item.proposals_px, dtype=np.float32))
            rois = torch.cat([torch.zeros(len(px), 1), px], dim=1).to(device)
            with torch.no_grad(), autocast():
                logits = model(x, rois)
            scores = model.scores(logits.float()).cpu().numpy().astype(np.float32, copy=False)
            h, w = item.img_shape  # BBoxHeadAVA.predict_by_feat: float32 boxes / (w, h)
            boxes = item.proposals_px.astype(np.float32) / np.array([w, h, w, h], dtype=np.float32)
            out.add(KeyframeRecord(index, item.img_key, boxes, scores))
    return out.records


def groundtruth_without(ann_file: str | os.PathLike[str], left_out: set[str], path: Path) -> Path:
    """Write ``ann_file`` to ``path`` without the rows of the keyframes ``left_out`` (img_keys).

    Example:
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     _ = (d / "gt.csv").write_text("v,0902,0,0,1,1,12,0\\nv,903,0,0,1,1,12,0\\n")
        ...     groundtruth_without(d / "gt.csv", {"v,0903"}, d / "kept.csv").read_text()
        'v,0902,0,0,1,1,12,0\\n'
    """
    with open(ann_file, encoding="utf-8") as src, open(path, "w", encoding="utf-8") as dst:
        for line in src:
            fields = line.split(",", 2)
            if len(fields) < 3 or img_key(fields[0].strip(), int(fields[1])) not in left_out:
                dst.write(line)
    return path


class KeyframeWriter(RecordWriter[str, KeyframeRecord]):
    """Collects :class:`KeyframeRecord` s and keeps the state file up to date
    (:class:`~slowfast_zoo.evaluation.results.RecordWriter`, records keyed by ``img_key``).

    Args:
        state: the final state file (:func:`state_path` of the results CSV).
        header: the run description (model, protocol, dataset, ...) written at the top.
        records: records carried over from an earlier run (``--resume``).
        every_s: seconds between periodic rewrites (0: after every keyframe).
        rank, world_size: this process in a ``torchrun`` job; with ``world_size > 1`` the periodic
            writes go to ``<state>.rank<r>.part`` and only rank 0 writes ``state``.
    """

    FORMAT = FORMAT

    def key(self, rec: KeyframeRecord) -> str:
        """The keyframe's ``img_key``."""
        return rec.img_key

    def to_json(self, rec: KeyframeRecord) -> str:
        """:func:`keyframe_to_json`."""
        return keyframe_to_json(rec)
