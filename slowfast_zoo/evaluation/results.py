"""Per-video evaluation records and the ``--out`` JSON file: atomic, periodic, resumable.

The file plays the role of MMAction2's ``tools/test.py --out result.json`` (MMAction2 is
Apache-2.0, https://github.com/open-mmlab/mmaction2): per-video scores plus the metrics, and
here also the model, the protocol and the videos that could not be read. It is rewritten
atomically (temporary file + ``os.replace``) every ``every_s`` seconds while the run goes on
(``"complete": false``), so an interrupted run loses at most that much work and
``--resume`` continues from it. Under ``torchrun`` with more than one process every rank
writes its own ``<out>.rank<r>.part`` file instead, and rank 0 merges them at the end.

Schema (``"format": "slowfast_zoo.eval/1"``)::

    {"format", "complete": bool,
     "model": {...}, "protocol": {...}, "dataset": {...}, "dtype", "class_names",
     "metrics": {"top1_acc", "top5_acc", "mean_class_accuracy"},   # fractions, as MMAction2
     "counts": {"selected", "evaluated", "skipped"},
     "failures": [{"index", "video", "label", "reason"}],
     "results": [{"index", "video", "label", "pred", "scores": [K floats]}]}   # dataset order

A multi-label dataset (Charades) writes each ``label`` as the list of the video's classes and
its ``metrics`` as ``{"mAP"}`` (PySlowFast's ``get_map``, a fraction).

Scores are written as the shortest decimal that reads back to the same float32, so a
resumed run computes its metrics from bit-identical scores.

The mechanics are shared with the AVA job's state file (:mod:`.ava_results`), which differs only
in its format tag, its records and what a resumed run must share: :class:`RecordWriter` (periodic
atomic rewrites, rank part files, the final file), :func:`read_record_files` (a file and its
``.rank*.part`` files: format, compatibility, records) and :func:`saved_on_interrupt` (SIGTERM
handled like Ctrl-C, the finished records flushed).
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np

from slowfast_zoo._io import atomic_write_text, json_finite, remove_leftovers
from slowfast_zoo._progress import ProgressBar
from slowfast_zoo._signals import terminate_as_interrupt
from slowfast_zoo.errors import ResultFileError

__all__ = ["VideoRecord", "ResultWriter", "RecordWriter", "FORMAT", "atomic_write_text", "load_records",
           "read_record_files", "saved_on_interrupt", "RecordCollector", "part_path", "record_to_json", "record_from_json",
           "float32_text"]

log = logging.getLogger(__name__)

#: Value of the file's ``"format"`` field.
FORMAT = "slowfast_zoo.eval/1"

# Header fields that must agree between a partial file and the run resuming it: anything
# that changes the per-record numbers (the selection, e.g. --limit, may change).
_MUST_MATCH = ("model", "protocol", "dtype")
_DATASET_MUST_MATCH = ("ann_file", "data_format", "num_videos")

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


@dataclass(frozen=True)
class VideoRecord:
    """The outcome for one video of the dataset.

    Attributes:
        index: position in the dataset (annotation order).
        video: the file or folder (as the dataset resolved it).
        label: the annotated class; a tuple of classes for a multi-label video (Charades).
        scores: float32 ``[num_classes]`` video scores, or ``None`` when the video was skipped.
        reason: why it was skipped (``None`` when evaluated).
    """

    index: int
    video: str
    label: int | tuple[int, ...]
    scores: np.ndarray | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when the video was evaluated."""
        return self.scores is not None


def float32_text(values: np.ndarray) -> str:
    """JSON array of float32 values (nested for a 2-D array), each the shortest text that
    round-trips to float32.

    Example:
        >>> float32_text(np.array([[0.1, 1 / 3], [np.nan, 2]], dtype=np.float32))
        '[[0.1, 0.33333334], [null, 2.0]]'
    """
    v = np.asarray(values, dtype=np.float32)
    if v.ndim > 1:
        return "[" + ", ".join(float32_text(row) for row in v) + "]"
    if not np.all(np.isfinite(v)):
        # NaN / Infinity are not JSON (other readers refuse them): a non-finite score is written
        # as null, which reads back as NaN.
        return json.dumps(json_finite(v.tolist()), allow_nan=False)
    return "[" + ", ".join(str(x) for x in v) + "]"


def _dumps(obj: Any, level: int = 0) -> str:
    """JSON with dicts indented and lists of plain values on one line (class names, mean/std)."""
    if isinstance(obj, dict) and obj:
        pad = "  " * (level + 1)
        items = [f"{pad}{json.dumps(str(k))}: {_dumps(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    return json.dumps(json_finite(obj), allow_nan=False)


def record_to_json(rec: VideoRecord) -> str:
    """One record as a JSON object (text), in the ``results`` or ``failures`` form.

    Example:
        >>> record_to_json(VideoRecord(0, "a.mp4", 1, np.array([0.25, 0.75], dtype=np.float32)))
        '{"index": 0, "video": "a.mp4", "label": 1, "pred": 1, "scores": [0.25, 0.75]}'
        >>> record_to_json(VideoRecord(1, "b.mp4", 0, reason="VideoDecodeError: empty file"))
        '{"index": 1, "video": "b.mp4", "label": 0, "reason": "VideoDecodeError: empty file"}'
        >>> record_to_json(VideoRecord(2, "c", (3, 7), reason="x"))
        '{"index": 2, "video": "c", "label": [3, 7], "reason": "x"}'
    """
    label = json.dumps(list(rec.label)) if isinstance(rec.label, tuple) else str(int(rec.label))
    head = f'{{"index": {rec.index}, "video": {json.dumps(rec.video)}, "label": {label}, '
    if rec.scores is None:
        return head + f'"reason": {json.dumps(rec.reason)}}}'
    return head + f'"pred": {int(np.argmax(rec.scores))}, "scores": {float32_text(rec.scores)}}}'


def record_from_json(obj: Mapping[str, Any]) -> VideoRecord:
    """Inverse of :func:`record_to_json` (on the parsed object).

    Example:
        >>> rec = record_from_json({"index": 0, "video": "a.mp4", "label": 1, "scores": [0.25, 0.75]})
        >>> rec.ok, rec.scores.dtype
        (True, dtype('float32'))
        >>> record_from_json({"index": 2, "video": "c", "label": [3, 7], "reason": "x"}).label
        (3, 7)
    """
    scores = obj.get("scores")
    raw = obj["label"]
    label = tuple(int(c) for c in raw) if isinstance(raw, list) else int(raw)
    return VideoRecord(int(obj["index"]), str(obj["video"]), label,
                       None if scores is None else np.asarray(scores, dtype=np.float32),
                       obj.get("reason"))


def part_path(out: str | os.PathLike, rank: int) -> Path:
    """The partial file of ``rank`` in a multi-process run writing to ``out``.

    Example:
        >>> part_path("results/r50.json", 3).as_posix()
        'results/r50.json.rank3.part'
    """
    return Path(f"{os.fspath(out)}.rank{rank}.part")


def _difference(file: Any, run: Any) -> str:
    """One line saying where two header values differ (the first few differing fields of a dict).

    Example:
        >>> _difference({"num_clips": 10, "crop": 256}, {"num_clips": 1, "crop": 256})
        'num_clips: 10 in the file, 1 in this run'
    """
    if isinstance(file, dict) and isinstance(run, dict):
        keys = [k for k in sorted(set(file) | set(run), key=str) if file.get(k) != run.get(k)]
        parts = [f"{k}: {_difference(file.get(k), run.get(k))}" for k in keys[:3]]
        return "; ".join(parts) + ("; ..." if len(keys) > 3 else "")
    return f"{json.dumps(file)[:120]} in the file, {json.dumps(run)[:120]} in this run"


def _compatible(header: Mapping[str, Any], other: Mapping[str, Any], source: str,
                dataset_keys: Sequence[str]) -> None:
    for key in _MUST_MATCH:
        if header.get(key) != other.get(key):
            raise ResultFileError(f"cannot resume from {source}: its {key!r} differs from this run's "
                                  f"({_difference(other.get(key), header.get(key))}); use another --out, "
                                  f"or the options that produced the file")
    a, b = header.get("dataset", {}), other.get("dataset", {})
    for key in dataset_keys:
        if a.get(key) != b.get(key):
            raise ResultFileError(f"cannot resume from {source}: dataset {key} is {b.get(key)!r} "
                                   f"there and {a.get(key)!r} in this run")


def _part_files(out: str | os.PathLike[str]) -> list[Path]:
    """Every ``out.rank*.part`` file next to ``out`` (any world size), sorted."""
    return sorted(Path(p) for p in glob.glob(glob.escape(os.fspath(out)) + ".rank*.part"))


def read_record_files(out: str | os.PathLike[str], parse: Callable[[Mapping[str, Any]], R], *, fmt: str,
                      kind: str, header: Mapping[str, Any] | None = None,
                      dataset_keys: Sequence[str] = _DATASET_MUST_MATCH) -> Iterator[tuple[Path, R]]:
    """The records of ``out`` and of every ``out.rank*.part`` next to it, each with its file.

    Args:
        out: the final file of a run (it and its part files may be missing: no record).
        parse: a record from its parsed JSON object (an entry of ``results`` or ``failures``).
        fmt: the files' ``"format"`` tag.
        kind: what the files are, in messages (``"result file"``).
        header: this run's header; with it, a file made with another model, protocol or dtype,
            or with another ``dataset`` entry for one of ``dataset_keys``, is refused.

    Raises:
        ResultFileError: an unreadable, foreign, incompatible or damaged file (``parse`` raising
            ``KeyError``, ``TypeError``, ``ValueError``, ``AttributeError`` or ``ResultFileError``).
    """
    for path in [Path(out)] + _part_files(out):
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ResultFileError(f"cannot resume from {path}: not a readable {kind} ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != fmt:
            raise ResultFileError(f"cannot resume from {path}: not a slowfast_zoo {kind} "
                                   f"(format {data.get('format') if isinstance(data, dict) else None!r})")
        if header is not None:
            _compatible(header, data, str(path), dataset_keys)
        for obj in list(data.get("results", [])) + list(data.get("failures", [])):
            try:
                rec = parse(obj)
            except (KeyError, TypeError, ValueError, AttributeError, ResultFileError) as exc:
                raise ResultFileError(f"cannot resume from {path}: a record is damaged or not one of ours "
                                      f"({type(exc).__name__}: {str(exc)[:120]})") from exc
            yield path, rec


def load_records(out: str | os.PathLike, header: Mapping[str, Any] | None = None) -> dict[int, VideoRecord]:
    """Records already finished by an earlier (possibly interrupted) run writing to ``out``.

    Reads ``out`` and every ``out.rank*.part`` file next to it (any world size). With
    ``header``, refuses files made with another model, protocol, dtype or annotation list.

    Returns:
        ``{dataset index: record}`` (empty when nothing exists yet).

    Raises:
        ResultFileError: an unreadable file or one from an incompatible run.
    """
    records = {rec.index: rec for _, rec in read_record_files(out, record_from_json, fmt=FORMAT,
                                                              kind="result file", header=header)}
    if records:
        log.info("resuming: %d videos already done in %s", len(records), out)
    return records


class _Record(Protocol):
    """What :class:`RecordWriter` needs of a record."""

    @property
    def index(self) -> int: ...

    @property
    def ok(self) -> bool: ...


RecordT = TypeVar("RecordT", bound=_Record)


class RecordWriter(Generic[K, RecordT]):
    """Collects records (use :meth:`add` as ``on_result``) and keeps a record file up to date.

    The mechanics of every job's file: a subclass gives the ``FORMAT`` tag, a record's
    :meth:`key` and its JSON text (:meth:`to_json`); the file is ``{"format", "complete", header
    fields, "metrics", "counts", "failures": [...], "results": [...]}``, records in dataset order.

    Args:
        out: the final JSON file.
        header: the run description (model, protocol, dataset, ...) written at the top.
        records: records carried over from an earlier run (``--resume``).
        every_s: seconds between periodic rewrites (0: after every record).
        rank, world_size: this process in a ``torchrun`` job; with ``world_size > 1`` the
            periodic writes go to :func:`part_path` and only rank 0 writes ``out``.
    """

    FORMAT: ClassVar[str] = ""

    def __init__(self, out: str | os.PathLike, header: Mapping[str, Any], *,
                 records: Mapping[K, RecordT] | None = None, every_s: float = 60.0,
                 rank: int = 0, world_size: int = 1) -> None:
        self.out = Path(out)
        # A killed earlier run's temporary files of this file (its part files are handled
        # by the resume logic).
        remove_leftovers(self.out.parent, [self.out.name, part_path(self.out, rank).name])
        self.header = dict(header)
        self.every_s = float(every_s)
        self.rank = rank
        self.world_size = world_size
        # Encoded once per record: a periodic rewrite is then a join, not 20k re-encodings.
        self._text: dict[K, tuple[int, bool, str]] = {}
        self._last = time.monotonic()
        for rec in (records or {}).values():
            self._keep(rec)

    def key(self, rec: RecordT) -> K:
        """What identifies ``rec`` in the file (and in ``finish``'s ``selection``)."""
        raise NotImplementedError

    def to_json(self, rec: RecordT) -> str:
        """``rec`` as a JSON object (text)."""
        raise NotImplementedError

    def _keep(self, rec: RecordT) -> None:
        self._text[self.key(rec)] = (rec.index, rec.ok, self.to_json(rec))

    @property
    def path(self) -> Path:
        """Where this process's periodic writes go."""
        return self.out if self.world_size == 1 else part_path(self.out, self.rank)

    def discard_stale(self) -> None:
        """Remove partial files an earlier run left next to ``out`` (call when not resuming).

        Every rank removes its own part file; rank 0 also those of ranks beyond this world size.
        """
        stale = [part_path(self.out, self.rank)]
        if self.rank == 0:
            for p in _part_files(self.out):
                r = p.name.rsplit(".rank", 1)[1][: -len(".part")]
                if r.isdigit() and int(r) >= self.world_size:
                    stale.append(p)
        for path in stale:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def add(self, rec: RecordT) -> None:
        """Record one finished item; rewrite the partial file if ``every_s`` has passed."""
        self._keep(rec)
        if time.monotonic() - self._last >= self.every_s:
            self.flush()

    def _render(self, *, complete: bool, metrics: Mapping[str, Any] | None,
                counts: Mapping[str, int] | None, only: Iterable[K] | None = None) -> str:
        keys = (sorted(self._text, key=lambda k: (self._text[k][0], str(k))) if only is None
                else [k for k in only if k in self._text])
        results = [self._text[k][2] for k in keys if self._text[k][1]]
        failures = [self._text[k][2] for k in keys if not self._text[k][1]]
        head = {"format": self.FORMAT, "complete": complete, **self.header,
                "metrics": dict(metrics or {}), "counts": dict(counts or {})}
        body = _dumps(head)[:-2]  # drop the closing "\n}" to append the lists

        def block(name: str, items: list[str]) -> str:
            if not items:
                return f',\n  "{name}": []'
            return f',\n  "{name}": [\n    ' + ",\n    ".join(items) + "\n  ]"

        return body + block("failures", failures) + block("results", results) + "\n}\n"

    def flush(self) -> None:
        """Rewrite this process's partial file now (``"complete": false``)."""
        atomic_write_text(self.path, self._render(complete=False, metrics=None, counts=None))
        self._last = time.monotonic()
        log.debug("wrote %d records to %s", len(self._text), self.path)

    def finish(self, records: Iterable[RecordT], metrics: Mapping[str, Any],
               counts: Mapping[str, int], selection: Iterable[K]) -> None:
        """Write the final file (rank 0) from the gathered records and drop the partial files.

        Args:
            records: every record of the run (all ranks, resumed ones included).
            metrics, counts: what the job computed.
            selection: the keys of this run's records, in dataset order; others are not written.
        """
        for rec in records:
            if self.key(rec) not in self._text:
                self._keep(rec)
        text = self._render(complete=True, metrics=metrics, counts=counts, only=selection)
        atomic_write_text(self.out, text)
        for part in _part_files(self.out):
            with contextlib.suppress(OSError):
                os.unlink(part)


class ResultWriter(RecordWriter[int, VideoRecord]):
    """Collects :class:`VideoRecord` s (use :meth:`add` as ``evaluate(on_result=...)``) and
    keeps the result file up to date (:class:`RecordWriter`, records keyed by dataset index).

    Example:
        >>> w = ResultWriter("/tmp/r.json", {"model": {"name": "m"}}, every_s=60)
        >>> w.add(VideoRecord(0, "a.mp4", 3, reason="VideoDecodeError: empty file"))
    """

    FORMAT = FORMAT

    def key(self, rec: VideoRecord) -> int:
        """The record's dataset index."""
        return rec.index

    def to_json(self, rec: VideoRecord) -> str:
        """:func:`record_to_json`."""
        return record_to_json(rec)


class RecordCollector(Generic[R]):
    """This process's finished records, in order: each one is kept, handed to ``on_result`` (e.g.
    :meth:`RecordWriter.add`) and counted on ``bar``, which is closed when the ``with`` block ends.

    Example:
        >>> with RecordCollector(ProgressBar(2, enabled=False, unit="videos"), None) as done:
        ...     done.add("a"); done.add("b")
        >>> done.records, done.bar.n
        (['a', 'b'], 2)
    """

    def __init__(self, bar: ProgressBar, on_result: Callable[[R], None] | None) -> None:
        self.records: list[R] = []
        self.bar = bar
        self.on_result = on_result

    def add(self, rec: R) -> None:
        """Keep ``rec``, pass it on, count it."""
        self.records.append(rec)
        if self.on_result is not None:
            self.on_result(rec)
        self.bar.update(1)

    def __enter__(self) -> RecordCollector[R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()


@contextlib.contextmanager
def saved_on_interrupt(writer: RecordWriter[Any, Any] | None, notify: Callable[[int, str], None],
                       what: str) -> Iterator[None]:
    """Run the block with SIGTERM handled like Ctrl-C, keeping the finished records either way.

    Inside, SIGTERM raises a ``KeyboardInterrupt`` (:func:`~slowfast_zoo._signals.terminate_as_interrupt`:
    torchrun, SLURM and Kubernetes stop a job with it). On either, ``writer`` saves its records
    (:meth:`RecordWriter.flush`) and ``notify(logging.INFO, sentence)`` says where (``what``: "videos");
    on any other error (e.g. out of memory) they are saved quietly. The exception goes on.
    """
    try:
        with terminate_as_interrupt():
            yield
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM
        if writer is not None:
            writer.flush()
            notify(logging.INFO, f"interrupted: finished {what} saved in {writer.path}; rerun with --resume")
        raise
    except BaseException:
        if writer is not None:  # e.g. out of memory: still keep what is finished
            with contextlib.suppress(Exception):
                writer.flush()
        raise
