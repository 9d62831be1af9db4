"""Per-keyframe detection records, how they are made, and the resume state of an AVA evaluation.

:func:`detect_keyframes` runs a detector over keyframes of an :class:`~slowfast_zoo.data.AvaDataset`,
one keyframe per forward, and gives a :class:`KeyframeRecord` each; :func:`detection_rows` turns
records into AVA's result rows.

The AVA job (:mod:`slowfast_zoo.evaluation.ava_job`) keeps every finished keyframe's person boxes
and **all** its action scores in a JSON state file next to the results CSV
(:func:`state_path`: ``<out>.state.json``), rewritten atomically (temporary file + ``os.replace``)
every ``every_s`` seconds while the run goes on (``"complete": false``), so that an interrupted
run loses at most that much work and ``--resume`` continues from it; the CSV itself is written
once, from these records, when every keyframe is done. Under ``torchrun`` with more than one
process every rank writes its own ``<state>.rank<r>.part`` and rank 0 writes the final state.

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
import glob
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from slowfast_zoo._digest import short_error
from slowfast_zoo._io import atomic_write_text, json_finite, remove_leftovers
from slowfast_zoo._progress import ProgressBar
from slowfast_zoo.data.ava import AvaDataset, KeyframeSample
from slowfast_zoo.data.ava_boxes import img_key
from slowfast_zoo.data.datasets import Failure
from slowfast_zoo.errors import ResultFileError, VideoDecodeError
from slowfast_zoo.evaluation.results import part_path
from slowfast_zoo.models.detector import SlowFastDetector

__all__ = ["KeyframeRecord", "KeyframeWriter", "FORMAT", "state_path", "load_keyframe_records",
           "keyframe_to_json", "keyframe_from_json", "detection_rows", "detect_keyframes",
           "groundtruth_without"]

log = logging.getLogger(__name__)

#: Value of the state file's ``"format"`` field.
FORMAT = "slowfast_zoo.ava_eval/1"

# Header fields a partial state and the run resuming it must share: what changes a keyframe's boxes
# or scores. The selection (--limit, --exclusions) and the evaluation (evaluator, label map) may change.
_MUST_MATCH = ("model", "protocol", "dtype")
_DATASET_MUST_MATCH = ("ann_file", "proposals", "data_format")


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


def _float32_text(values: np.ndarray) -> str:
    v = np.asarray(values, dtype=np.float32)
    if v.ndim > 1:
        return "[" + ", ".join(_float32_text(row) for row in v) + "]"
    if not np.all(np.isfinite(v)):  # NaN is not JSON: null, which reads back as NaN
        return json.dumps(json_finite(v.tolist()), allow_nan=False)
    return "[" + ", ".join(str(x) for x in v) + "]"


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
    return head + f'"boxes": {_float32_text(rec.boxes)}, "scores": {_float32_text(rec.scores)}}}'


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


def _compatible(header: Mapping[str, Any], other: Mapping[str, Any], source: str) -> None:
    for key in _MUST_MATCH:
        if header.get(key) != other.get(key):
            raise ResultFileError(f"cannot resume from {source}: its {key!r} differs from this run's "
                                  f"({json.dumps(other.get(key))[:160]} there); use another --out, or the "
                                  f"options that produced the file")
    a, b = header.get("dataset", {}), other.get("dataset", {})
    for key in _DATASET_MUST_MATCH:
        if a.get(key) != b.get(key):
            raise ResultFileError(f"cannot resume from {source}: dataset {key} is {b.get(key)!r} there and "
                                  f"{a.get(key)!r} in this run")


def load_keyframe_records(state: str | os.PathLike[str], header: Mapping[str, Any] | None = None, *,
                          num_classes: int | None = None) -> dict[str, KeyframeRecord]:
    """Keyframes already finished by an earlier (possibly interrupted) run: ``{img_key: record}``.

    Reads ``state`` and every ``state.rank*.part`` next to it (any world size). With ``header``,
    refuses files made with another model, protocol, dtype, annotation, proposal file or data
    format; with ``num_classes``, records whose score rows have another length.

    Raises:
        ResultFileError: an unreadable, foreign, damaged or incompatible file.
    """
    paths = [Path(state)] + sorted(Path(p) for p in glob.glob(glob.escape(os.fspath(state)) + ".rank*.part"))
    records: dict[str, KeyframeRecord] = {}
    for path in paths:
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ResultFileError(f"cannot resume from {path}: not a readable state file ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ResultFileError(f"cannot resume from {path}: not a slowfast_zoo AVA state file (format "
                                  f"{data.get('format') if isinstance(data, dict) else None!r})")
        if header is not None:
            _compatible(header, data, str(path))
        for obj in list(data.get("results", [])) + list(data.get("failures", [])):
            try:
                rec = keyframe_from_json(obj)
            except (KeyError, TypeError, ValueError, AttributeError, ResultFileError) as exc:
                raise ResultFileError(f"cannot resume from {path}: a record is damaged or not one of ours "
                                      f"({type(exc).__name__}: {str(exc)[:120]})") from exc
            if rec.scores is not None and num_classes is not None and rec.scores.shape[1] != num_classes:
                raise ResultFileError(f"cannot resume from {path}: keyframe {rec.img_key} has "
                                      f"{rec.scores.shape[1]} scores per box, the model {num_classes}")
            records[rec.img_key] = rec
    if records:
        log.info("resuming: %d keyframes already done in %s", len(records), state)
    return records


def detection_rows(records: Iterable[KeyframeRecord], action_ids: Sequence[int],
                   threshold: float) -> Iterator[tuple[str, int, float, float, float, float, int, float]]:
    """AVA result rows ``(video_id, timestamp, x1, y1, x2, y2, action_id, score)`` of the records.

    As MMAction2's ``bbox2result`` + ``results2csv``: per keyframe, class by class (column ``j`` is
    action ``action_ids[j]``), each box whose score is **above** ``threshold`` (``>``; a NaN never is).

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
        ts = int(timestamp)
        columns, boxes = np.nonzero(rec.scores.T > np.float32(threshold))
        for j, b in zip(columns.tolist(), boxes.tolist()):
            x1, y1, x2, y2 = (float(v) for v in rec.boxes[b])
            yield video, ts, x1, y1, x2, y2, int(action_ids[j]), float(rec.scores[b, j])


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
    out: list[KeyframeRecord] = []
    bar = ProgressBar(len(mine), desc="evaluating", enabled=progress, unit="keyframes")
    try:
        for index, item in zip(mine, loader):  # the loader keeps the order of mine
            if isinstance(item, Failure):
                rec = KeyframeRecord(index, item.path, reason=item.reason)
                log.info("skipped keyframe %s: %s", item.path, item.reason)
            else:
                x = (item.inputs.to(device, non_blocking=True).float() - mean) / std
                x = x.unsqueeze(0).contiguous(memory_format=torch.channels_last_3d)
                px = torch.from_numpy(np.ascontiguousarray(item.proposals_px, dtype=np.float32))
                rois = torch.cat([torch.zeros(len(px), 1), px], dim=1).to(device)
                with torch.no_grad(), autocast():
                    logits = model(x, rois)
                scores = model.scores(logits.float()).cpu().numpy().astype(np.float32, copy=False)
                h, w = item.img_shape  # BBoxHeadAVA.predict_by_feat: float32 boxes / (w, h)
                boxes = item.proposals_px.astype(np.float32) / np.array([w, h, w, h], dtype=np.float32)
                rec = KeyframeRecord(index, item.img_key, boxes, scores)
            out.append(rec)
            if on_result is not None:
                on_result(rec)
            bar.update(1)
    finally:
        bar.close()
    return out


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


class KeyframeWriter:
    """Collects :class:`KeyframeRecord` s and keeps the state file up to date.

    Args:
        state: the final state file (:func:`state_path` of the results CSV).
        header: the run description (model, protocol, dataset, ...) written at the top.
        records: records carried over from an earlier run (``--resume``).
        every_s: seconds between periodic rewrites (0: after every keyframe).
        rank, world_size: this process in a ``torchrun`` job; with ``world_size > 1`` the periodic
            writes go to ``<state>.rank<r>.part`` and only rank 0 writes ``state``.
    """

    def __init__(self, state: str | os.PathLike[str], header: Mapping[str, Any], *,
                 records: Mapping[str, KeyframeRecord] | None = None, every_s: float = 60.0,
                 rank: int = 0, world_size: int = 1) -> None:
        self.out = Path(state)
        remove_leftovers(self.out.parent, [self.out.name, part_path(self.out, rank).name])
        self.header = dict(header)
        self.every_s = float(every_s)
        self.rank, self.world_size = rank, world_size
        # Encoded once per keyframe: a periodic rewrite is a join, not an encoding of every record.
        self._text: dict[str, tuple[int, bool, str]] = {}
        self._last = time.monotonic()
        for rec in (records or {}).values():
            self._keep(rec)

    @property
    def path(self) -> Path:
        """Where this process's periodic writes go."""
        return self.out if self.world_size == 1 else part_path(self.out, self.rank)

    def _keep(self, rec: KeyframeRecord) -> None:
        self._text[rec.img_key] = (rec.index, rec.ok, keyframe_to_json(rec))

    def discard_stale(self) -> None:
        """Remove the partial files an earlier run left (call when not resuming)."""
        stale = [part_path(self.out, self.rank)]  # every rank removes its own
        if self.rank == 0:  # and rank 0 those of ranks beyond this world size
            for p in glob.glob(glob.escape(os.fspath(self.out)) + ".rank*.part"):
                r = p.rsplit(".rank", 1)[1][: -len(".part")]
                if r.isdigit() and int(r) >= self.world_size:
                    stale.append(Path(p))
        for path in stale:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def add(self, rec: KeyframeRecord) -> None:
        """Record one finished keyframe; rewrite the partial file if ``every_s`` has passed."""
        self._keep(rec)
        if time.monotonic() - self._last >= self.every_s:
            self.flush()

    def _render(self, *, complete: bool, metrics: Mapping[str, Any] | None, counts: Mapping[str, int] | None,
                only: Sequence[str] | None = None) -> str:
        keys = (sorted(self._text, key=lambda k: (self._text[k][0], k)) if only is None
                else [k for k in only if k in self._text])
        results = [self._text[k][2] for k in keys if self._text[k][1]]
        failures = [self._text[k][2] for k in keys if not self._text[k][1]]
        head = {"format": FORMAT, "complete": complete, **self.header,
                "metrics": dict(metrics or {}), "counts": dict(counts or {})}
        lines = [f"  {json.dumps(k)}: {json.dumps(json_finite(v), allow_nan=False)}" for k, v in head.items()]

        def block(name: str, items: list[str]) -> str:
            return f'  "{name}": [' + ("\n    " + ",\n    ".join(items) + "\n  ]" if items else "]")

        return "{\n" + ",\n".join(lines + [block("failures", failures), block("results", results)]) + "\n}\n"

    def flush(self) -> None:
        """Rewrite this process's partial file now (``"complete": false``)."""
        atomic_write_text(self.path, self._render(complete=False, metrics=None, counts=None))
        self._last = time.monotonic()

    def finish(self, records: Iterable[KeyframeRecord], metrics: Mapping[str, Any], counts: Mapping[str, int],
               selection: Sequence[str]) -> None:
        """Write the final state (rank 0) from every record, in ``selection`` order (the img_keys of
        this run; others are left out), and drop the partial files."""
        for rec in records:
            self._keep(rec)
        atomic_write_text(self.out, self._render(complete=True, metrics=metrics, counts=counts, only=selection))
        for part in glob.glob(glob.escape(os.fspath(self.out)) + ".rank*.part"):
            with contextlib.suppress(OSError):
                os.unlink(part)
