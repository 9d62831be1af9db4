"""``extract_folder(FeatureJob(...))``: clip embeddings of many videos, one output per video.

The job behind ``slowfast-zoo features`` (and ``examples/extract_features.py``, which calls the
command): it lists the videos (files, folders searched recursively, or a list file), skips
those whose output is complete (``resume``), builds the model only if something is left to
do, runs :func:`~slowfast_zoo.inference.extract_features` over each video (DataLoader workers
open the next videos meanwhile) and writes each video's output atomically:

* ``format="safetensors"``: ``<out>/<name>.safetensors`` holding ``embeddings`` float32
  ``[num_clips, 2304]``, ``timestamps`` float64 ``[num_clips, 2]`` (seconds) and
  ``frame_indices`` int64 ``[num_clips, clip_len]``; metadata: the model, the weight, fps, the
  channel layout, the video's name and the clip settings;
* ``format="npy"``: ``<out>/<name>.npy`` (the embeddings, float32 ``[num_clips, 2304]``) and
  ``<out>/<name>.json`` (written after it) with the video's name, fps, ``num_clips``,
  ``timestamps``, ``frame_indices``, the weight, the ``channels`` of each pathway
  (``{"fast": [0, 256], "slow": [256, 2304]}`` for MMAction2's weights, slow first for the
  PySlowFast / PyTorchVideo ones: ``model.slow_channels`` / ``model.fast_channels``), dtype
  and shape.

``<name>`` is the video's path relative to the folder it was found in (or to the list file's
folder; a video named on its own: its file name), so ``videos/a/x.mp4`` -> ``feats/a/x.mp4.npy``.
Nothing is written outside ``out``: a name with an absolute path or a ``..`` segment is refused
(reported, the others go on). A video that cannot be read is reported and skipped. Under
``torchrun`` (``RANK`` / ``WORLD_SIZE`` in the environment) each process takes
``videos[rank::world_size]`` on ``cuda:LOCAL_RANK``; at the end the ranks wait for each other
and rank 0 gets every rank's report (over a gloo group; the GPUs are never used for it), so one
summary speaks for the job. SIGTERM is handled like Ctrl-C: the finished files are whole, the
same job with ``resume=True`` goes on.

Example:
    >>> from slowfast_zoo.inference.feature_job import FeatureJob, extract_folder
    >>> report = extract_folder(FeatureJob(out="feats", videos=["videos/"], stride=32))  # doctest: +SKIP
    >>> print(report.summary())                                                          # doctest: +SKIP
    wrote 2 feature files to feats (0 skipped, 0 already there)
"""

from __future__ import annotations

import datetime
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset

from slowfast_zoo._io import atomic_write, atomic_write_text, json_finite, path_inside, remove_leftovers
from slowfast_zoo._progress import ProgressBar
from slowfast_zoo._signals import terminate_as_interrupt
from slowfast_zoo.data.datasets import VIDEO_EXTENSIONS, read_text_lines
from slowfast_zoo.data.decode import VideoReader
from slowfast_zoo.errors import InputFileError, UsageError, VideoDecodeError
from slowfast_zoo.inference.device import resolve_device
from slowfast_zoo.inference.engine import prepare_model
from slowfast_zoo.inference.features import ClipFeatures, extract_features
from slowfast_zoo.models.detector import SlowFastDetector
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.registry import get_arch_spec
from slowfast_zoo.registry.records import TestProtocol
from slowfast_zoo.weights.source import is_prefixed

__all__ = ["FeatureJob", "FeatureReport", "VideoItem", "extract_folder", "find_videos", "output_paths",
           "outputs_complete", "write_features", "FORMATS", "Notify"]

log = logging.getLogger(__name__)

#: Values of :attr:`FeatureJob.format`.
FORMATS = ("safetensors", "npy")

# Ranks can finish hours apart (long videos); the final gather waits for the slowest one.
_GATHER_TIMEOUT = datetime.timedelta(hours=24)

#: ``notify(level, sentence)``: what a person should read (a skipped or refused video: ``ERROR``;
#: after an interruption, what was kept: ``INFO``).
Notify = Callable[[int, str], None]

_DETECTOR = ("is an action detector; features need a video classifier's weights "
             "(slowfast-zoo list --pretrained)")


@dataclass(frozen=True)
class FeatureJob:
    """Everything a feature job needs; the fields are the options of ``slowfast-zoo features``.

    Attributes:
        out: the output folder (created if needed; nothing is written outside it).
        videos: video files and folders (searched recursively for :data:`~slowfast_zoo.data.VIDEO_EXTENSIONS`).
        list_file: instead of ``videos``: a text file, one video per line (first column; the
            rest, e.g. a label, is ignored), relative to the list's folder.
        model: weight ``NAME[.TAG]``, ``hf-hub:ORG/REPO`` or ``local-dir:PATH``.
        weights: a weights file or URL instead of the published one.
        num_classes: class count of a fine-tuned ``weights`` file.
        clip_len, frame_interval, num_clips, crop_size, resize_short_side: the clips (default:
            the weight's test protocol); ``num_clips`` is ignored with ``stride``.
        stride: dense clips, one every ``stride`` frames (default: ``num_clips`` evenly spread).
        crop: ``"center"`` or ``"three"`` (the three crops' embeddings averaged).
        format: ``"safetensors"`` (one file) or ``"npy"`` (``.npy`` + ``.json``).
        resume: skip videos whose output is complete in ``format``.
        workers: DataLoader processes opening the next videos (0: in this process).
        device: compute device (default: CUDA when available, ``cuda:LOCAL_RANK`` under torchrun).
        progress: a progress bar over videos (and the download), rank 0, on a terminal only.

    Example:
        >>> FeatureJob(out="feats", videos=["videos/"]).format
        'safetensors'
    """

    out: str | os.PathLike[str]
    videos: Sequence[str | os.PathLike[str]] = ()
    list_file: str | os.PathLike[str] | None = None
    model: str = "slowfast_r50_4x16x1"
    weights: str | os.PathLike[str] | None = None
    num_classes: int | None = None
    clip_len: int | None = None
    frame_interval: int | None = None
    num_clips: int | None = None
    stride: int | None = None
    crop: str = "center"
    crop_size: int | None = None
    resize_short_side: int | None = None
    format: str = "safetensors"
    resume: bool = False
    workers: int = 2
    device: str | None = None
    progress: bool = True


@dataclass(frozen=True)
class VideoItem:
    """A video to read (``path``) and its ``name``: the relative path its outputs mirror."""

    path: Path
    name: str


@dataclass
class FeatureReport:
    """What :func:`extract_folder` did in this process (under torchrun: this rank's share).

    Example:
        >>> r = FeatureReport(out=Path("feats"), format="npy", written=["a.mp4"], skipped=[("b.mp4", "refused")])
        >>> r.summary()
        'wrote 1 feature files to feats (1 skipped, 0 already there)'
    """

    out: Path
    format: str
    rank: int = 0
    world_size: int = 1
    weight: str | None = None
    written: list[str] = field(default_factory=list)
    already_there: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    gathered: bool = False

    @property
    def printed_here(self) -> bool:
        """This process prints the summary: the only one, rank 0 of a gathered torchrun job (its
        report counts every rank's videos), or every rank when there was no process group to gather
        over (each then prints its own share)."""
        return self.rank == 0 or not self.gathered

    def summary(self) -> str:
        """The one line ``slowfast-zoo features`` prints (a rank's own share: prefixed by the rank)."""
        rank = f"rank {self.rank}/{self.world_size}: " if self.world_size > 1 and not self.gathered else ""
        return (f"{rank}wrote {len(self.written)} feature files to {os.fspath(self.out)} "
                f"({len(self.skipped)} skipped, {len(self.already_there)} already there)")

    def to_json(self) -> dict[str, Any]:
        """What ``--json`` prints."""
        return {"out": os.fspath(self.out), "format": self.format, "weight": self.weight,
                "world_size": self.world_size, "rank": None if self.gathered else self.rank,
                "written": self.written, "already_there": self.already_there,
                "skipped": [{"video": name, "reason": reason} for name, reason in self.skipped]}


# ----------------------------------------------------------------------------- inputs and outputs
def _read_list(list_file: str | os.PathLike[str]) -> list[VideoItem]:
    path = Path(list_file)
    names = [line.split()[0] for _, line in read_text_lines(path, "--list file")]
    return [VideoItem(path.parent / n, n) for n in names]


def _from_argument(arg: str | os.PathLike[str]) -> list[VideoItem]:
    p = Path(arg)
    if p.is_dir():
        found = sorted(q for q in p.rglob("*") if q.suffix.lower() in VIDEO_EXTENSIONS and q.is_file())
        return [VideoItem(q, q.relative_to(p).as_posix()) for q in found]
    if not p.exists():
        raise InputFileError(f"{os.fspath(arg)}: no such video or folder")
    if p.suffix.lower() not in VIDEO_EXTENSIONS:
        raise UsageError(f"{os.fspath(arg)} is not a video (extensions {' '.join(VIDEO_EXTENSIONS)}); "
                         f"a list of videos goes with --list")
    return [VideoItem(p, p.name)]


def find_videos(videos: Sequence[str | os.PathLike[str]] = (),
                list_file: str | os.PathLike[str] | None = None) -> list[VideoItem]:
    """The videos of a job: each file of ``videos`` (named by its file name), every video under
    each folder of ``videos`` (named by its path under it), or the lines of ``list_file``.

    A name two different videos would share is refused (their outputs would overwrite each
    other); the same video given twice is taken once.

    Raises:
        UsageError: none or both of ``videos`` and ``list_file``, a file that is not a video,
            no video found, two videos with one name, a list that is not UTF-8.
        InputFileError: a missing video, folder or list.

    Example:
        >>> find_videos([])
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.UsageError: no videos: give video files or folders, or --list FILE
    """
    if videos and list_file is not None:
        raise UsageError("give video files or folders, or --list FILE, not both")
    if not videos and list_file is None:
        raise UsageError("no videos: give video files or folders, or --list FILE")
    items = _read_list(list_file) if list_file is not None else [i for v in videos for i in _from_argument(v)]
    if not items:
        where = os.fspath(list_file) if list_file is not None else " ".join(os.fspath(v) for v in videos)
        raise UsageError(f"{where}: no video found (extensions {' '.join(VIDEO_EXTENSIONS)})")
    seen: dict[str, Path] = {}
    unique = []
    for item in items:
        first = seen.setdefault(item.name, item.path)
        if first is item.path:
            unique.append(item)
        elif os.path.abspath(first) != os.path.abspath(item.path):
            raise UsageError(f"{os.fspath(first)} and {os.fspath(item.path)} would both be written as "
                             f"{item.name}: give them from their common folder")
    return unique


def output_paths(out: str | os.PathLike[str], name: str, format: str) -> tuple[Path, ...]:
    """The files a video's features go to, the last one written last: ``(<name>.safetensors,)``
    or ``(<name>.npy, <name>.json)`` under ``out``.

    Raises:
        UsageError: a ``name`` that would leave ``out`` (absolute, ``..``, a link outside).

    Example:
        >>> [p.as_posix() for p in output_paths("feats", "a/x.mp4", "npy")]
        ['feats/a/x.mp4.npy', 'feats/a/x.mp4.json']
    """
    if format not in FORMATS:
        raise UsageError(f"format must be one of {FORMATS}, got {format!r}")
    suffixes = (".safetensors",) if format == "safetensors" else (".npy", ".json")
    return tuple(path_inside(out, name + s) for s in suffixes)


def outputs_complete(paths: Sequence[Path]) -> bool:
    """Every file of :func:`output_paths` is there (each is written atomically, the ``.json``
    after the ``.npy``), so ``resume`` can skip the video."""
    return all(p.is_file() for p in paths)


def _save_npy(tmp: str, array: np.ndarray) -> None:
    with open(tmp, "wb") as f:  # np.save(path) would append ".npy" to the temporary name
        np.save(f, array)


def write_features(feats: ClipFeatures, paths: Sequence[Path], **metadata: Any) -> None:
    """Write one video's features to its :func:`output_paths` (the format is told by the
    suffix), each file atomically; ``metadata`` (JSON-able values) goes into the
    ``.safetensors`` metadata or the ``.json``."""
    meta = {k: v for k, v in metadata.items() if v is not None}
    if paths[0].suffix == ".safetensors":
        feats.save(paths[0], **meta)
        return
    emb = feats.embeddings.detach().to("cpu", torch.float32).numpy()
    channels = {name: [sl.start or 0, sl.stop] for name, sl in (("fast", feats.fast_channels),
                                                                ("slow", feats.slow_channels))}
    doc = {**meta, "embeddings": paths[0].name, "dtype": "float32", "shape": list(emb.shape),
           "channels": channels, "fps": feats.fps, "num_clips": int(emb.shape[0]),
           "timestamps": feats.timestamps.tolist(), "frame_indices": feats.frame_indices.tolist()}
    # One key per line, each value on its line (a long video's clips would be 30 lines each indented).
    text = ",\n".join(f" {json.dumps(k)}: {json.dumps(v, allow_nan=False)}" for k, v in json_finite(doc).items())
    atomic_write(paths[0], lambda tmp: _save_npy(tmp, emb))
    atomic_write_text(paths[1], "{\n" + text + "\n}\n")  # after the .npy: its presence means both are whole


# ----------------------------------------------------------------------------- the job
class _Readers(Dataset):
    """Opens each video in a worker (counting frames there), so decoding overlaps the model."""

    def __init__(self, items: list[VideoItem]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[int, VideoReader | str]:
        try:
            reader = VideoReader(self.items[i].path)
            reader.num_frames  # noqa: B018 - decode the count in the worker
        except VideoDecodeError as e:  # reported by the main process, which goes on
            return i, f"{type(e).__name__}: {e}"
        return i, reader


def _distributed() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from torchrun's environment."""
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    return rank, world, int(os.environ.get("LOCAL_RANK", rank))


def _gloo_group(world: int) -> tuple[Any, bool]:
    """``(group, created)``: a gloo group over the job's processes to gather the reports on (the
    caller's own group when it made one); ``(None, False)`` alone, or without torchrun's
    rendezvous address (then each rank reports its own share)."""
    if world <= 1 or not dist.is_available() or (not dist.is_initialized() and "MASTER_ADDR" not in os.environ):
        return None, False
    if not dist.is_initialized():
        dist.init_process_group("gloo", init_method="env://", timeout=_GATHER_TIMEOUT)
        return dist.group.WORLD, True
    if dist.get_backend() == "gloo":
        return dist.group.WORLD, False
    return dist.new_group(backend="gloo", timeout=_GATHER_TIMEOUT), False


def _gather(report: FeatureReport, group: Any) -> FeatureReport:
    """Rank 0: one report of every rank's videos; the other ranks: their own, marked gathered."""
    parts: list[Any] | None = [None] * report.world_size if report.rank == 0 else None
    dist.gather_object(report, parts, dst=0, group=group)
    report.gathered = True
    if parts is None:
        return report
    whole = FeatureReport(out=report.out, format=report.format, rank=0, world_size=report.world_size, gathered=True,
                          weight=next((p.weight for p in parts if p.weight), None))
    whole.written = sorted(n for p in parts for n in p.written)
    whole.already_there = sorted(n for p in parts for n in p.already_there)
    whole.skipped = sorted(s for p in parts for s in p.skipped)
    return whole


def _settings(job: FeatureJob, proto: TestProtocol) -> dict[str, Any]:
    """The clip settings used: the job's, the protocol's for those left ``None``."""
    def pick(value: int | None, default: int) -> int:
        return int(value if value is not None else default)

    return {"clip_len": pick(job.clip_len, proto.clip_len),
            "frame_interval": pick(job.frame_interval, proto.frame_interval),
            "num_clips": None if job.stride is not None else pick(job.num_clips, proto.num_clips),
            "stride": job.stride, "crop": job.crop, "crop_size": pick(job.crop_size, proto.crop_size),
            "resize_short_side": pick(job.resize_short_side, proto.resize_short_side)}


def _build(job: FeatureJob, device: torch.device, progress: bool) -> SlowFast:
    from slowfast_zoo.factory import create_model

    model = create_model(job.model, pretrained=True, checkpoint_path=job.weights, num_classes=job.num_classes,
                         progress=progress)
    if isinstance(model, SlowFastDetector):
        raise UsageError(f"--model {job.model} {_DETECTOR}")
    return prepare_model(model, device=device)  # eval mode, BatchNorm folded


def extract_folder(job: FeatureJob, *, model: SlowFast | None = None,
                   notify: Notify | None = None) -> FeatureReport:
    """Run a feature job: every listed video's features into its files under ``job.out``.

    Everything that can be checked without weights (the videos, the names, the format) is
    checked before the model is built; the model is built only if a video is left to do.

    Args:
        job: the job's options.
        model: a model to use instead of building ``job.model`` (it is prepared for inference
            on the job's device, a copy; ``job.model`` is then only recorded in the files).
        notify: called with ``(logging level, sentence)`` for each skipped or refused video
            (``ERROR``) and after an interruption (``INFO``). Default: this module's logger.

    Returns:
        :class:`FeatureReport` (``summary()`` is the line the command prints).

    Raises:
        UsageError, InputFileError: see :func:`find_videos`; a detection weight; a bad ``format``.
        KeyboardInterrupt: Ctrl-C or SIGTERM; the files written so far are whole.
    """
    say: Notify = notify if notify is not None else log.log
    if job.format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {job.format!r}")
    if job.workers < 0:
        raise UsageError(f"--workers must be >= 0, got {job.workers}")
    if (model is None and not is_prefixed(job.model) and get_arch_spec(job.model).task == "detection") \
            or isinstance(model, SlowFastDetector):
        raise UsageError(f"--model {job.model} {_DETECTOR}")
    rank, world, local_rank = _distributed()
    mine = find_videos(job.videos, job.list_file)[rank::world]
    device = resolve_device(job.device)
    if world > 1 and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)  # one GPU per process
    out = Path(job.out)
    if rank == 0:  # temporary files of a killed earlier run (only those of dead processes)
        remove_leftovers(out, recursive=True)
    report = FeatureReport(out=out, format=job.format, rank=rank, world_size=world)
    targets: dict[str, tuple[Path, ...]] = {}
    for item in mine:
        try:
            targets[item.name] = output_paths(out, item.name, job.format)
        except UsageError as e:
            say(logging.ERROR, f"refused: {e}")
            report.skipped.append((item.name, f"refused: {e}"))
    todo = [it for it in mine if it.name in targets and not (job.resume and outputs_complete(targets[it.name]))]
    to_do = {it.name for it in todo}
    report.already_there = [it.name for it in mine if it.name in targets and it.name not in to_do]
    log.info("rank %d/%d: %d videos, %d to do", rank, world, len(mine), len(todo))
    group, created = _gloo_group(world)
    if todo:
        with terminate_as_interrupt():  # SIGTERM like Ctrl-C: finished files are already whole
            try:
                _run(job, model, device, todo, targets, report, say)
            except KeyboardInterrupt:
                say(logging.INFO, f"interrupted: {len(report.written)} of {len(todo)} videos written to "
                                  f"{os.fspath(out)}; the same command with --resume goes on")
                raise
    if group is None:
        return report
    # Every rank waits here for the slowest one, so no rank ends the torchrun job early (a rank
    # exiting with 1 makes torchrun stop the others); rank 0 then speaks for all of them.
    report = _gather(report, group)
    if created:
        dist.destroy_process_group()
    return report


def _run(job: FeatureJob, model: SlowFast | None, device: torch.device, todo: list[VideoItem],
         targets: dict[str, tuple[Path, ...]], report: FeatureReport, say: Notify) -> None:
    """The model over the ``todo`` videos, each into its ``targets``; counted in ``report``."""
    progress = job.progress and report.rank == 0
    net = _build(job, device, progress) if model is None else prepare_model(model, device=device)
    cfg = net.pretrained_cfg
    settings = _settings(job, cfg.test if cfg is not None else TestProtocol())
    report.weight = cfg.name if cfg is not None else None
    weights = (os.fspath(job.weights) if job.weights else
               None if model is not None else (net.hub_source or (cfg.url if cfg is not None else None)))
    loader = DataLoader(_Readers(todo), batch_size=None, num_workers=job.workers)
    bar = ProgressBar(total=len(todo), desc="features", enabled=progress, unit="videos")
    try:
        for i, reader in loader:
            item = todo[i]
            bar.update(1)
            if isinstance(reader, str):
                say(logging.ERROR, f"skipped: {reader}")
                report.skipped.append((item.name, reader))
                continue
            try:
                feats = extract_features(net, reader, clip_len=settings["clip_len"],
                                         frame_interval=settings["frame_interval"],
                                         num_clips=settings["num_clips"], stride=job.stride, crop=job.crop,
                                         crop_size=settings["crop_size"],
                                         resize_short_side=settings["resize_short_side"], prepare=False)
            except VideoDecodeError as e:
                reason = f"{type(e).__name__}: {e}"
                say(logging.ERROR, f"skipped: {reason}")
                report.skipped.append((item.name, reason))
                continue
            write_features(feats, targets[item.name], video=item.name, model=job.model, weight=report.weight,
                           weights=weights, settings=settings)
            report.written.append(item.name)
    finally:
        bar.close()
