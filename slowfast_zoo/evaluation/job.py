# The options follow MMAction2 0.x's ``tools/test.py CONFIG CKPT --eval top_k_accuracy
# mean_class_accuracy --out result.json --average-clips prob`` (OpenMMLab, Apache-2.0,
# https://github.com/open-mmlab/mmaction2, v0.13.0), with the config replaced by the weight's
# registered test protocol (docs/SPEC.md 4.1 and 7).
"""``run_evaluation(EvalConfig(...))``: a weight's accuracy on your copy of its dataset, in one call.
A detection weight (``list_models("*ava*", pretrained=True)``) runs the AVA job instead (:func:`ava_config`).

The job behind ``slowfast-zoo eval`` and ``examples/eval_k400.py``: it checks every option
before any weight is loaded, resolves the weight's published test protocol (and any override),
builds the dataset, joins a ``torchrun`` job if there is one, loads the weights, evaluates with
:func:`~slowfast_zoo.evaluation.evaluate`, keeps the ``out`` result file up to date (resumable
with ``resume=True``) and returns an :class:`EvalReport`, whose :meth:`~EvalReport.summary` is
the text the command prints (the table row next to the published number).

Example:
    >>> from slowfast_zoo.evaluation import EvalConfig, run_evaluation
    >>> config = EvalConfig(ann_file="data/kinetics400/kinetics400_val_list_videos.txt",
    ...                     data_root="data/kinetics400/videos_val",
    ...                     model="slowfast_r50_4x16x1.k400_video", out="r50.json")
    >>> report = run_evaluation(config)       # doctest: +SKIP
    >>> print(report.summary())               # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from slowfast_zoo.data import RawframeDataset, TestTransform, VideoDataset, read_label_map, test_transform
from slowfast_zoo.data.multilabel import MultiLabelDataset
from slowfast_zoo.errors import UsageError
from slowfast_zoo.evaluation.ava_job import AvaEvalConfig, AvaEvalReport, run_ava_evaluation
from slowfast_zoo.evaluation.distributed import destroy_distributed
from slowfast_zoo.evaluation.results import ResultWriter, load_records, saved_on_interrupt
from slowfast_zoo.evaluation.runner import EvalResult, check_run_options, evaluate, job_device
from slowfast_zoo.factory import create_model
from slowfast_zoo.registry import PretrainedCfg, get_arch_spec, get_pretrained_cfg
from slowfast_zoo.weights import resolve_url
from slowfast_zoo.weights.source import is_prefixed

__all__ = ["EvalConfig", "EvalReport", "run_evaluation", "resolve_protocol", "is_multi_label", "DATA_FORMATS",
           "Notify", "ava_config"]

log = logging.getLogger(__name__)

#: Values of :attr:`EvalConfig.data_format`.
DATA_FORMATS = ("video", "rawframes")

#: ``notify(level, sentence)``: where :func:`run_evaluation` sends what a person should read
#: (``level`` is a :mod:`logging` level).
Notify = Callable[[int, str], None]

# Protocol overrides: (EvalConfig field, key of the published protocol).
_OVERRIDES = (("clip_len", "clip_len"), ("frame_interval", "frame_interval"), ("num_clips", "num_clips"),
              ("num_crops", "num_crops"), ("short_side", "resize_short_side"), ("crop_size", "crop_size"))


@dataclass(frozen=True)
class EvalConfig:
    """Everything an evaluation job needs; the fields are the options of ``slowfast-zoo eval``.

    Error messages name a field by its command-line spelling (``--clip-len`` for ``clip_len``).

    Attributes:
        ann_file: annotation list: ``video_id num_frames label`` (Kinetics-400 val list) or
            ``path label`` for videos; ``frame_dir total_frames label`` for rawframes. For a
            multi-label weight (Charades, scored by mAP): PySlowFast's frame list
            (``original_vido_id video_id frame_id path labels`` with a header line; a video's
            classes are the union of its frames'), or ``path l1,l2,...`` (videos or, with
            ``data_format="rawframes"``, frame folders; also ``frame_dir total_frames l1,l2``),
            see :class:`~slowfast_zoo.data.multilabel.MultiLabelDataset`.
        model: weight ``NAME[.TAG]`` whose protocol and published numbers are used.
        weights: local MMAction2 ``.pth`` / slowfast_zoo ``.safetensors`` file or URL
            (default: the published file, downloaded and sha256-verified).
        data_root: folder the annotation paths are relative to.
        data_format: ``"video"`` (PyAV) or ``"rawframes"`` (folders of ``img_00001.jpg`` ...);
            default: ``"video"``, ``"rawframes"`` for a detection weight.
        filename_tmpl: rawframe file names (default: the weight's own).
        start_index: first frame number (default: 1 for rawframes, 0 for videos, as MMAction2).
        label_map: class names, one per line (default: the weight's names); for a detection weight
            the classes evaluated (AVA's pbtxt; default: the shipped list of the weight).
        proposals, exclusions, evaluator: detection weights only (AVA): the person boxes, the
            excluded keyframes and ``"official"`` / ``"mmaction2"`` (:class:`~slowfast_zoo.
            evaluation.ava_job.AvaEvalConfig`); ``ann_file`` is then AVA's annotation CSV and ``out``
            the results CSV.
        num_clips, num_crops, clip_len, frame_interval, short_side, crop_size, average_clips:
            overrides of the published test protocol (``None``: the published value); any
            override makes the numbers incomparable to the table and is recorded in the output.
        out: the JSON result file (per-video scores, metrics, failures, model and protocol),
            rewritten atomically every ``save_every`` seconds during the run.
        resume: continue from an existing (partial) ``out`` without redoing finished videos.
        save_every: seconds between rewrites of ``out`` (0: after every video).
        limit: only the first ``limit`` videos.
        workers: decoding worker processes per rank (default: 4 on GPU, 1 on CPU).
        device: ``cpu``, ``cuda``, ``cuda:1`` ... (default: CUDA if available;
            ``cuda:LOCAL_RANK`` under ``torchrun``).
        amp: autocast: float16 on GPU, bfloat16 on CPU.
        views_per_batch: views per forward pass (default: 1 on CPU, 10 on GPU).
        progress: download and evaluation progress bars (drawn only on a terminal, rank 0).

    Example:
        >>> EvalConfig("val.txt", clip_len=8).model
        'slowfast_r50_4x16x1'
    """

    ann_file: str | os.PathLike[str]
    model: str = "slowfast_r50_4x16x1"
    weights: str | os.PathLike[str] | None = None
    data_root: str | os.PathLike[str] | None = None
    data_format: str | None = None
    filename_tmpl: str | None = None
    start_index: int | None = None
    label_map: str | os.PathLike[str] | None = None
    num_clips: int | None = None
    num_crops: int | None = None
    clip_len: int | None = None
    frame_interval: int | None = None
    short_side: int | None = None
    crop_size: int | None = None
    average_clips: str | None = None
    out: str | os.PathLike[str] | None = None
    resume: bool = False
    save_every: float = 60.0
    limit: int | None = None
    workers: int | None = None
    device: str | None = None
    amp: bool = False
    views_per_batch: int | None = None
    progress: bool = True
    proposals: str | os.PathLike[str] | None = None
    exclusions: str | os.PathLike[str] | None = None
    evaluator: str | None = None


# Options of one task only: (EvalConfig field, option).
_CLASSIFIER_ONLY = (("num_clips", "--num-clips"), ("num_crops", "--num-crops"), ("crop_size", "--crop-size"),
                    ("average_clips", "--average-clips"), ("views_per_batch", "--views-per-batch"))
_DETECTOR_ONLY = (("proposals", "--proposals"), ("exclusions", "--exclusions"), ("evaluator", "--evaluator"))


def ava_config(config: EvalConfig) -> AvaEvalConfig | None:
    """The AVA job's options for a detection weight, ``None`` for a video classifier.

    Raises:
        UsageError: an option of the other task (``--num-clips`` for a detector, ``--proposals``
            for a classifier), naming it.
        UnknownModelError: ``config.model`` is not registered.

    Example:
        >>> ava_config(EvalConfig("val.txt")) is None, ava_config(EvalConfig("gt.csv", "slowfast_r50_8x8x1_ava")).model
        (True, 'slowfast_r50_8x8x1_ava')
    """
    task = "recognition" if is_prefixed(config.model) else get_pretrained_cfg(config.model).task
    if task != "detection":
        for field, option in _DETECTOR_ONLY:
            if getattr(config, field) is not None:
                raise UsageError(f"{option} is for action detectors (AVA); {config.model} is a video classifier")
        return None
    for field, option in _CLASSIFIER_ONLY:
        if getattr(config, field) is not None:
            raise UsageError(f"{option} is for video classifiers; {config.model} is an action detector (AVA)")
    shared = {f.name: getattr(config, f.name) for f in fields(AvaEvalConfig)}  # same names, same meaning
    return AvaEvalConfig(**{**shared, "data_format": config.data_format or "rawframes"})


def resolve_protocol(cfg: PretrainedCfg, config: EvalConfig) -> tuple[dict[str, Any], Any]:
    """The ``protocol`` entry of the result file and the :class:`~slowfast_zoo.data.TestTransform`
    that implements it: the weight's published protocol with ``config``'s overrides.

    Raises:
        UsageError: an override the model cannot run (e.g. ``clip_len`` below its tau).

    Example:
        >>> from slowfast_zoo.registry import get_pretrained_cfg
        >>> protocol, tf = resolve_protocol(get_pretrained_cfg("slowfast_r50_4x16x1"),
        ...                                 EvalConfig("val.txt", num_clips=2))
        >>> protocol["num_views"], protocol["published"], protocol["overrides"]
        (6, False, {'num_clips': 2})
    """
    pub = cfg.test
    values = {"clip_len": pub.clip_len, "frame_interval": pub.frame_interval, "num_clips": pub.num_clips,
              "resize_short_side": pub.resize_short_side, "crop_size": pub.crop_size,
              "num_crops": pub.num_crops}
    overrides: dict[str, Any] = {}
    for field, key in _OVERRIDES:
        v = getattr(config, field)
        if v is not None and v != values[key]:
            overrides[key] = v
            values[key] = v
    if values["num_crops"] not in (1, 3):
        raise UsageError(f"--num-crops must be 1 (CenterCrop) or 3 (ThreeCrop), got {values['num_crops']}")
    if values["clip_len"] < 1 or values["frame_interval"] < 1 or values["num_clips"] < 1:
        raise UsageError("--clip-len, --frame-interval and --num-clips must be >= 1")
    if values["crop_size"] > values["resize_short_side"]:
        raise UsageError("--crop-size must not exceed --short-side")
    # Fail before loading weights and decoding, not on the first forward pass.
    tau = get_arch_spec(cfg.name).tau
    if values["clip_len"] < tau or values["crop_size"] < 32:
        raise UsageError(f"{cfg.architecture} needs --clip-len >= {tau} (tau) and --crop-size >= 32, "
                         f"got {values['clip_len']} and {values['crop_size']}")
    average = config.average_clips or pub.average_clips
    if average not in ("prob", "score"):
        raise UsageError(f"--average-clips must be 'prob' or 'score', got {average!r}")
    if average != pub.average_clips:
        overrides["average_clips"] = average
    data_format = config.data_format or "video"
    if data_format not in DATA_FORMATS:
        raise UsageError(f"--data-format must be one of {DATA_FORMATS}, got {data_format!r}")
    start = (config.start_index if config.start_index is not None
             else (1 if data_format == "rawframes" else 0))
    tf: Any
    if pub.family == "mmaction2":
        tf = TestTransform(clip_len=values["clip_len"], frame_interval=values["frame_interval"],
                           num_clips=values["num_clips"], resize_short_side=values["resize_short_side"],
                           crop_size=values["crop_size"], num_crops=values["num_crops"], mean=cfg.mean,
                           std=cfg.std, sampling_rule=pub.sampling_rule)
    else:
        # PyTorchVideo / PySlowFast: their own frame selection, crops and scoring ("protocol"
        # average: PySlowFast's per-view score, see protocol_scoring), unless --average-clips.
        tf = test_transform(cfg, clip_len=values["clip_len"], frame_interval=values["frame_interval"],
                            num_clips=values["num_clips"], resize_short_side=values["resize_short_side"],
                            crop_size=values["crop_size"], num_crops=values["num_crops"])
        if config.average_clips is None:
            average = "protocol"
        else:  # MMAction2's averaging instead of the weight's own scoring
            overrides["average_clips"] = average
    protocol = {**values, "num_views": values["num_clips"] * values["num_crops"], "average_clips": average,
                "sampling_rule": pub.sampling_rule,
                "start_index": start, "mean": list(cfg.mean), "std": list(cfg.std),
                "published": not overrides, "overrides": overrides}
    return protocol, tf


def _class_names(config: EvalConfig, cfg: PretrainedCfg) -> tuple[list[str], str | None]:
    if config.label_map is None:
        return list(cfg.class_names), None
    return list(read_label_map(config.label_map, cfg.num_classes)), os.fspath(config.label_map)


def is_multi_label(cfg: PretrainedCfg) -> bool:
    """True for a weight scored by mean average precision over multi-label videos (Charades).

    Example:
        >>> from slowfast_zoo.registry import get_pretrained_cfg
        >>> is_multi_label(get_pretrained_cfg("pysf_slowfast_r50_16x8.charades"))
        True
    """
    return cfg.mean_ap is not None


def _dataset(config: EvalConfig, cfg: PretrainedCfg, tf: Any,
             start_index: int) -> VideoDataset | RawframeDataset | MultiLabelDataset:
    if is_multi_label(cfg):
        return MultiLabelDataset(config.ann_file, config.data_root, tf, num_classes=cfg.num_classes,
                                 data_format=config.data_format or "video",
                                 filename_tmpl=config.filename_tmpl or cfg.test.filename_tmpl,
                                 start_index=start_index, on_error="skip")
    if config.data_format == "rawframes":
        return RawframeDataset(config.ann_file, config.data_root, tf,
                               filename_tmpl=config.filename_tmpl or cfg.test.filename_tmpl,
                               start_index=start_index, on_error="skip")
    if start_index != 0:
        raise UsageError("--start-index other than 0 is only meaningful with --data-format rawframes")
    return VideoDataset(config.ann_file, config.data_root, tf, on_error="skip")


def _check(config: EvalConfig, cfg: PretrainedCfg) -> None:
    """The checks that need neither the dataset nor the weights."""
    resolve_url(cfg.url)  # a bad SLOWFAST_ZOO_MIRROR
    check_run_options(config.weights, config.save_every, config.resume, config.out, config.limit)
    if config.views_per_batch is not None and config.views_per_batch < 1:
        raise UsageError(f"--views-per-batch must be >= 1, got {config.views_per_batch}")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def _frac(x: float) -> str:
    # Accuracies are fractions (0-1) in every key/value output and file, as MMAction2 reports
    # them; only the comparison table is in percent, like the published tables.
    return f"{x:.4f}"


@dataclass(frozen=True)
class EvalReport:
    """What :func:`run_evaluation` did.

    Attributes:
        config: the job's options.
        pretrained_cfg: the weight's record (published numbers, protocol).
        header: the run's description at the top of the result file: ``model``, ``protocol``,
            ``dataset``, ``dtype``, ``label_map``, ``class_names``.
        result: the :class:`~slowfast_zoo.evaluation.EvalResult` (on ranks other than 0 of a
            ``torchrun`` job: that rank's share, no metrics).
    """

    config: EvalConfig
    pretrained_cfg: PretrainedCfg
    header: dict[str, Any]
    result: EvalResult

    @property
    def is_main(self) -> bool:
        """False on ranks other than 0 of a ``torchrun`` job (they print and write nothing)."""
        return self.result.is_main

    @property
    def nothing_evaluated(self) -> bool:
        """True when videos were selected but none could be read (the command then exits 1)."""
        c = self.result.counts
        return c["evaluated"] == 0 and c["selected"] > 0

    @property
    def caveats(self) -> list[str]:
        """Why the numbers are not comparable to the published row (empty when they are)."""
        c, cfg = self.result.counts, self.pretrained_cfg
        caveats = []
        overrides = self.header["protocol"]["overrides"]
        if overrides:
            caveats.append("protocol overridden " + ", ".join(f"{k}={v}" for k, v in overrides.items()))
        num_videos = self.header["dataset"]["num_videos"]
        if self.config.limit is not None and c["selected"] < num_videos:
            caveats.append(f"--limit {self.config.limit}: {c['selected']} of {num_videos} videos")
        if c["skipped"]:
            caveats.append(f"{c['skipped']} unreadable videos left out")
        if self.config.weights:
            caveats.append(f"weights from {os.fspath(self.config.weights)}, published numbers are for "
                           f"{cfg.file_name}")
        return caveats

    def summary(self) -> str:
        """The skipped videos, the metrics and the table row next to the published one (text)."""
        r, cfg = self.result, self.pretrained_cfg
        lines = [f"skipped: {f.path}: {f.reason}" for f in r.failures]
        c = r.counts
        lines.append(f"evaluated {c['evaluated']} of {c['selected']} videos, skipped {c['skipped']}")
        m = r.metrics
        lines.append("  ".join(f"{k} {_frac(v)}" for k, v in m.items()) or "no metrics (no video evaluated)")
        top1, top5 = m.get("top1_acc"), m.get("top5_acc")

        def diff(ours: float | None, pub: float | None) -> str:
            return "-" if ours is None or pub is None else f"{100 * ours - pub:+.2f}"

        def published(pub: float | None) -> str:
            return "-" if pub is None else f"{pub:.2f}"

        if is_multi_label(cfg):  # Charades publishes mAP, not top-1/top-5 (both None in its record)
            ours = m.get("mAP")
            lines += ["| weight | mAP (%) | published mAP (%) | diff mAP |", "|---|---|---|---|",
                      f"| {cfg.name} | {_pct(ours)} | {published(cfg.mean_ap)} | {diff(ours, cfg.mean_ap)} |"]
        else:
            lines += ["| weight | top-1 (%) | top-5 (%) | published top-1 (%) | published top-5 (%) "
                  "| diff top-1 | diff top-5 |",
                      "|---|---|---|---|---|---|---|",
                      f"| {cfg.name} | {_pct(top1)} | {_pct(top5)} | {published(cfg.top1)} | "
                      f"{published(cfg.top5)} | {diff(top1, cfg.top1)} | {diff(top5, cfg.top5)} |"]
        if self.caveats:
            lines.append("not comparable to the published row: " + "; ".join(self.caveats))
        if self.config.out:
            lines.append(f"results written to {os.fspath(self.config.out)}")
        return "\n".join(lines)


def run_evaluation(config: EvalConfig, *, notify: Notify | None = None) -> EvalReport | AvaEvalReport:
    """Evaluate a weight on a dataset as ``slowfast-zoo eval`` does; rank 0 writes ``config.out``.

    A detection weight runs the AVA job instead (:func:`ava_config`,
    :func:`~slowfast_zoo.evaluation.ava_job.run_ava_evaluation`) and returns its
    :class:`~slowfast_zoo.evaluation.ava_job.AvaEvalReport`.

    Everything checkable (names, files, protocol overrides, the annotation list) is checked
    before weights are loaded or downloaded. Under ``torchrun`` every rank evaluates its share
    and rank 0 gathers the scores and writes the final file. While the videos are evaluated,
    SIGTERM is handled like Ctrl-C; on either the finished videos are saved to the result
    file (see ``notify``) and the ``KeyboardInterrupt`` is raised again.

    Args:
        config: the job's options.
        notify: called with ``(logging level, sentence)`` for what a person should read: a slow
            ``amp`` setting (``WARNING``, rank 0) and, after an interruption, where the finished
            videos were saved (``INFO``). Default: this module's logger.

    Returns:
        :class:`EvalReport`; ``report.summary()`` is the text to print (on rank 0).

    Raises:
        UsageError: an option that cannot be used (the message names its command-line spelling).
        UnknownModelError: ``config.model`` is not registered.
        InputFileError, AnnotationError: a missing weights file, annotation list or label map;
            a malformed annotation line.
        ResultFileError: ``resume=True`` with an ``out`` from another run.
        CheckpointError, DownloadError: weights that cannot be loaded or fetched.

    Example:
        >>> report = run_evaluation(EvalConfig("val.txt", data_root="videos/", out="r.json"))  # doctest: +SKIP
        >>> report.result.metrics["top1_acc"]                                                # doctest: +SKIP
        0.7564
    """
    say: Notify = notify if notify is not None else log.log
    ava = ava_config(config)
    if ava is not None:
        return run_ava_evaluation(ava, notify=say)
    cfg = get_pretrained_cfg(config.model)
    # Everything checkable is checked before weights are loaded or downloaded.
    _check(config, cfg)
    protocol, tf = resolve_protocol(cfg, config)
    names, label_map = _class_names(config, cfg)
    dataset = _dataset(config, cfg, tf, protocol["start_index"])
    classes = ({c for y in dataset.labels for c in y} if isinstance(dataset, MultiLabelDataset)
               else set(dataset.labels))
    bad = sorted(y for y in classes if not 0 <= y < len(names))
    if bad:
        raise UsageError(f"labels {bad[:5]} of {os.fspath(config.ann_file)} are outside [0, {len(names)})")

    info, device, dtype, workers = job_device(config.device, config.amp, config.workers, say)
    selection = range(len(dataset) if config.limit is None else min(config.limit, len(dataset)))

    header: dict[str, Any] = {
        "model": {"name": cfg.name, "weights": os.fspath(config.weights) if config.weights else cfg.url,
                  "sha256_prefix": None if config.weights else cfg.sha256_prefix,
                  "published": ({"mAP": cfg.mean_ap} if is_multi_label(cfg)
                                else {"top1": cfg.top1, "top5": cfg.top5})},
        "protocol": protocol,
        "dataset": {"ann_file": os.fspath(config.ann_file),
                    "data_root": None if config.data_root is None else os.fspath(config.data_root),
                    "data_format": config.data_format or "video", "num_videos": len(dataset), "limit": config.limit},
        "dtype": str(dtype or torch.float32).replace("torch.", ""),
        "label_map": label_map,
        "class_names": names,
    }
    done = load_records(config.out, header) if config.resume and config.out else {}
    if config.out and not config.resume and info.is_main and Path(config.out).exists():
        log.warning("overwriting %s (use --resume to continue it instead)", os.fspath(config.out))

    weights = None if config.weights is None else os.fspath(config.weights)
    model = create_model(config.model, pretrained=True, checkpoint_path=weights,
                         progress=info.is_main and config.progress)
    writer = (ResultWriter(config.out, header, records=done, every_s=config.save_every, rank=info.rank,
                           world_size=info.world_size) if config.out else None)
    if writer is not None and not config.resume:
        writer.discard_stale()
    try:
        with saved_on_interrupt(writer, say, "videos"):
            result = evaluate(model, dataset, average=protocol["average_clips"],
                              views_per_batch=config.views_per_batch, device=device, dtype=dtype,
                              progress=config.progress, num_workers=workers, indices=selection,
                              resume_from=done, on_result=writer.add if writer else None)
    finally:
        if info.distributed:
            destroy_distributed()
    if result.is_main and writer is not None:
        writer.finish(result.records, result.metrics, result.counts, selection)
    return EvalReport(config=config, pretrained_cfg=cfg, header=header, result=result)

