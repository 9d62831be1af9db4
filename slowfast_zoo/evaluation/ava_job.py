# The AVA test of MMAction2 (OpenMMLab, Apache-2.0, https://github.com/open-mmlab/mmaction2, v1.2.0):
# ``tools/test.py`` over ``AVADataset`` in test mode (docs/SPEC.md section 12.2), ``FastRCNN.predict``
# one keyframe per forward, ``AVAMetric`` (``bbox2result`` at ``action_thr``, ``results2csv``,
# ``ava_eval``). An independent re-implementation; no MMAction2 code is copied.
"""``run_ava_evaluation(AvaEvalConfig(...))``: a detection weight's frame-mAP on your copy of AVA.

The job behind ``slowfast-zoo eval --model <AVA weight>`` (also reached through
:func:`~slowfast_zoo.evaluation.run_evaluation`): every option is checked before any weight is
loaded; then the weight's published detection protocol (:class:`~slowfast_zoo.registry.records.
DetectionProtocol`, with any override) runs over every keyframe of the annotation file, minus the
excluded ones (:class:`~slowfast_zoo.data.AvaDataset`: rawframes; :class:`~slowfast_zoo.data.
ava_video.AvaVideoDataset`: the 15-minute videos), one keyframe per forward on the fast path. Every
box's scores are kept in a resumable state file (:mod:`.ava_results`), the results CSV is written in
AVA's format (scores above ``action_score_threshold``, boxes normalized by the resized clip) and
scored by :func:`~slowfast_zoo.evaluation.ava_frame_map` with the weight's own evaluator. Under
``torchrun`` the keyframes are sharded over the ranks and rank 0 writes and scores.

Example:
    >>> config = AvaEvalConfig("ava_val_v2.1.csv", "ava_dense_proposals_val.FAIR.recall_93.9.pkl",
    ...                        data_root="ava/rawframes", exclusions="ava_val_excluded_timestamps_v2.1.csv",
    ...                        out="ava_results.csv")
    >>> report = run_ava_evaluation(config)          # doctest: +SKIP
    >>> print(report.summary())                      # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import torch

from slowfast_zoo._io import temporary_directory
from slowfast_zoo.data.ava import AvaDataset
from slowfast_zoo.data.ava_video import AvaVideoDataset
from slowfast_zoo.errors import InputFileError, UsageError
from slowfast_zoo.evaluation import ava_frame_map, read_ava_label_map, write_ava_detections_csv
from slowfast_zoo.evaluation.ava_results import (KeyframeRecord, KeyframeWriter, detect_keyframes,
                                                 detection_rows, groundtruth_without, load_keyframe_records,
                                                 state_path)
from slowfast_zoo.evaluation.distributed import destroy_distributed, shard
from slowfast_zoo.evaluation.results import saved_on_interrupt
from slowfast_zoo.evaluation.runner import check_run_options, gather_records, job_device
from slowfast_zoo.factory import create_model
from slowfast_zoo.inference.engine import prepare_model
from slowfast_zoo.models.detector import SlowFastDetector
from slowfast_zoo.registry import PretrainedCfg, get_arch_spec, get_pretrained_cfg
from slowfast_zoo.registry.classes import read_pbtxt
from slowfast_zoo.weights import resolve_url

__all__ = ["AvaEvalConfig", "AvaEvalReport", "run_ava_evaluation", "check_ava_config",
           "AVA_DATA_FORMATS", "EVALUATORS", "SHIPPED_LABEL_MAPS"]

log = logging.getLogger(__name__)

#: Values of :attr:`AvaEvalConfig.data_format`.
AVA_DATA_FORMATS = ("rawframes", "video")
#: Values of :attr:`AvaEvalConfig.evaluator` (:func:`~slowfast_zoo.evaluation.ava_frame_map`).
EVALUATORS = ("official", "mmaction2")
#: The label map shipped for each ``DetectionProtocol.label_map`` (``slowfast_zoo/labels/``): the 60
#: actions of the official evaluation (v2.1's ActivityNet-2018 list holds the same 60), and all 80
#: for the custom-classes weight (the model's 16 are evaluated).
SHIPPED_LABEL_MAPS = {"ava_v2.1": "ava_action_list_v2.2.pbtxt", "ava_v2.2": "ava_action_list_v2.2.pbtxt",
                      "ava_v2.1_custom16": "ava_action_list_v2.2_all.pbtxt"}
# (EvalConfig field, protocol key): the overrides of the published protocol.
_OVERRIDES = (("clip_len", "clip_len"), ("frame_interval", "frame_interval"),
              ("short_side", "resize_short_side"), ("start_index", "start_index"))


@dataclass(frozen=True)
class AvaEvalConfig:
    """Everything an AVA evaluation needs; the fields are options of ``slowfast-zoo eval``.

    Attributes:
        ann_file: the AVA ground-truth CSV (``ava_val_v2.1.csv``): its keyframes are evaluated.
        proposals: person boxes: MMAction2's proposal ``.pkl``, PySlowFast's predicted-boxes CSV or a
            plain ``video_id,timestamp,x1,y1,x2,y2[,score]`` CSV (normalized boxes).
        model: a detection weight ``NAME[.TAG]`` (``list_models("*ava*", pretrained=True)``).
        weights: local weights file or URL (default: the published file, sha256-verified).
        data_root: ``rawframes``: the folder of ``<video_id>/img_00001.jpg`` ... (30 fps, frame 1 =
            second 900, MMAction2's layout); ``video``: the folder of the 15-minute cuts
            ``<video_id>.mp4`` (see :mod:`slowfast_zoo.data.ava_video`).
        data_format: ``"rawframes"`` or ``"video"``.
        filename_tmpl: rawframe file names (default ``img_{:05d}.jpg``).
        start_index: override of the protocol's ``start_index`` (0 for MMAction2 0.x weights, 1 for 1.x).
        exclusions: AVA's excluded keyframes CSV (``ava_val_excluded_timestamps_v2.1.csv``).
        label_map: the classes evaluated: AVA's pbtxt or ``ID: name`` lines (default: the shipped
            list of the weight's ``detection.label_map``); only the weight's actions are scored.
        evaluator: ``"official"`` or ``"mmaction2"`` (default: the weight's ``detection.evaluator``).
        clip_len, frame_interval, short_side: overrides of the published protocol (recorded).
        out: the results CSV; the resume state is ``<out>.state.json`` (rewritten every
            ``save_every`` seconds). Without ``out`` nothing is written but the mAP is reported.
        resume, save_every, limit, workers, device, amp, progress: as for classification
            (:class:`~slowfast_zoo.evaluation.EvalConfig`); ``limit`` counts keyframes.
    """

    ann_file: str | os.PathLike[str]
    proposals: str | os.PathLike[str] | None = None
    model: str = "slowfast_r50_4x16x1_ava"
    weights: str | os.PathLike[str] | None = None
    data_root: str | os.PathLike[str] | None = None
    data_format: str = "rawframes"
    filename_tmpl: str | None = None
    start_index: int | None = None
    exclusions: str | os.PathLike[str] | None = None
    label_map: str | os.PathLike[str] | None = None
    evaluator: str | None = None
    clip_len: int | None = None
    frame_interval: int | None = None
    short_side: int | None = None
    out: str | os.PathLike[str] | None = None
    resume: bool = False
    save_every: float = 60.0
    limit: int | None = None
    workers: int | None = None
    device: str | None = None
    amp: bool = False
    progress: bool = True


class _Plan(NamedTuple):
    """What the checks resolved: the record, the protocol entry, the evaluated classes."""

    cfg: PretrainedCfg
    protocol: dict[str, Any]
    evaluator: str
    label_map: str              # the file, or the shipped one's name
    classes: dict[int, str]     # evaluated: the label map's actions the model outputs


def _input(path: str | os.PathLike[str] | None, option: str) -> None:
    if path is not None and not os.path.isfile(path):
        raise InputFileError(f"{option} {os.fspath(path)}: no such file")


def _protocol(cfg: PretrainedCfg, config: AvaEvalConfig) -> dict[str, Any]:
    det = cfg.detection
    assert det is not None
    values: dict[str, Any] = {
        "clip_len": det.clip_len, "frame_interval": det.frame_interval, "fps": det.fps,
        "timestamp_start": det.timestamp_start, "timestamp_end": det.timestamp_end,
        "start_index": det.start_index, "resize_short_side": det.resize_short_side,
        "proposal_score_threshold": det.proposal_score_threshold, "max_proposals": det.max_proposals,
        "action_score_threshold": det.action_score_threshold}
    overrides = {}
    for field, key in _OVERRIDES:
        v = getattr(config, field)
        if v is not None and v != values[key]:
            overrides[key] = values[key] = v
    tau = get_arch_spec(cfg.name).tau
    if values["clip_len"] < tau or values["frame_interval"] < 1 or values["resize_short_side"] < 32 \
            or values["start_index"] < 0:
        raise UsageError(f"{cfg.architecture} needs --clip-len >= {tau} (tau), --frame-interval >= 1, "
                         f"--short-side >= 32 and --start-index >= 0")
    if not float(det.fps).is_integer():
        raise UsageError(f"{cfg.name}: a frame rate of {det.fps} fps is not supported")
    ids = [det.action_id(column) for column in range(cfg.num_classes)]  # the label-map id of each output
    return {**values, "mean": list(cfg.mean), "std": list(cfg.std), "action_ids": ids,
            "published": not overrides, "overrides": overrides}


def _label_map(cfg: PretrainedCfg, config: AvaEvalConfig, ids: set[int]) -> tuple[str, dict[int, str]]:
    det = cfg.detection
    assert det is not None
    if config.label_map is not None:
        _input(config.label_map, "--label-map")
        shown, labels = os.fspath(config.label_map), read_ava_label_map(config.label_map)
    elif det.label_map in SHIPPED_LABEL_MAPS:
        name = SHIPPED_LABEL_MAPS[det.label_map]
        shown = f"slowfast_zoo/labels/{name}"
        labels = read_pbtxt(resources.files("slowfast_zoo").joinpath(f"labels/{name}").read_text("utf-8"))
    else:
        raise UsageError(f"no label map is shipped for {cfg.name} ({det.label_map}): give --label-map FILE")
    classes = {i: n for i, n in labels.items() if i in ids}
    if not classes:
        raise UsageError(f"--label-map {shown}: none of its classes is an action of {cfg.name}")
    return shown, classes


def check_ava_config(config: AvaEvalConfig) -> _Plan:
    """The checks that need neither the dataset nor the weights; what they resolved.

    Raises:
        UsageError, InputFileError, UnknownModelError, AnnotationError: naming the option.
    """
    cfg = get_pretrained_cfg(config.model)
    det = cfg.detection
    if det is None:
        raise UsageError(f"--model {config.model} is a video classifier: AVA evaluation needs a detection "
                         f"weight (slowfast-zoo list --pretrained '*ava*')")
    if det.label_map == "multisports":
        raise UsageError(f"{cfg.name}: MultiSports is scored by MMAction2's MultiSportsMetric, which "
                         f"slowfast-zoo eval does not implement (AVA weights only)")
    resolve_url(cfg.url)  # a bad SLOWFAST_ZOO_MIRROR
    check_run_options(config.weights, config.save_every, config.resume, config.out, config.limit)
    if config.proposals is None:
        raise UsageError(f"--proposals FILE is needed for a detection weight (its published protocol: "
                         f"{det.proposals})")
    _input(config.proposals, "--proposals")
    _input(config.exclusions, "--exclusions")
    evaluator = config.evaluator or det.evaluator
    if evaluator not in EVALUATORS:
        raise UsageError(f"--evaluator must be one of {EVALUATORS}, got {evaluator!r}")
    if config.data_format not in AVA_DATA_FORMATS:
        raise UsageError(f"--data-format must be one of {AVA_DATA_FORMATS}, got {config.data_format!r}")
    protocol = _protocol(cfg, config)
    shown, classes = _label_map(cfg, config, set(protocol["action_ids"]))
    return _Plan(cfg, protocol, evaluator, shown, classes)


def _dataset(config: AvaEvalConfig, plan: _Plan) -> AvaDataset:
    p = plan.protocol
    ids = tuple(p["action_ids"])
    custom = None if ids == tuple(range(1, len(ids) + 1)) else ids  # AVADataset's custom_classes
    kwargs: dict[str, Any] = dict(
        exclude_file=config.exclusions, start_index=p["start_index"], fps=int(p["fps"]),
        timestamp_start=p["timestamp_start"], timestamp_end=p["timestamp_end"], clip_len=p["clip_len"],
        frame_interval=p["frame_interval"], short_side=p["resize_short_side"],
        proposal_score_threshold=p["proposal_score_threshold"], max_proposals=p["max_proposals"],
        custom_classes=custom)
    root = config.data_root if config.data_root is not None else "."
    assert config.proposals is not None  # checked
    if config.data_format == "video":
        return AvaVideoDataset(config.ann_file, root, config.proposals, **kwargs)
    return AvaDataset(config.ann_file, root, config.proposals,
                      filename_tmpl=config.filename_tmpl or plan.cfg.test.filename_tmpl, **kwargs)


def _frame_map(config: AvaEvalConfig, plan: _Plan, records: list[KeyframeRecord],
               left_out: set[str]) -> dict[str, Any]:
    """Write the results CSV (``config.out``, or a scratch file) and score it: the mAP of the
    evaluated keyframes (the ground truth of dataset keyframes ``left_out`` is dropped)."""
    ids, threshold = plan.protocol["action_ids"], plan.protocol["action_score_threshold"]
    with temporary_directory() as tmp:
        csv = Path(config.out) if config.out else tmp / "detections.csv"
        write_ava_detections_csv(detection_rows(records, ids, threshold), csv)
        if not any(r.ok for r in records):
            return {}
        label_map = tmp / "label_map.txt"  # the evaluated classes, as MMAction2's custom_classes
        label_map.write_text("".join(f"{i}: {n}\n" for i, n in sorted(plan.classes.items())), encoding="utf-8")
        gt = groundtruth_without(config.ann_file, left_out, tmp / "gt.csv") if left_out else config.ann_file
        result = ava_frame_map(gt, csv, label_map, exclusions=config.exclusions, evaluator=plan.evaluator)
    return {"mAP": result["mAP"], "per_class_ap": dict(result["per_class_ap"])}


def _counts(records: list[KeyframeRecord], selected: int) -> dict[str, int]:
    ok = sum(1 for r in records if r.ok)
    return {"selected": selected, "evaluated": ok, "skipped": len(records) - ok}


def _pct(x: float | None) -> str:
    return "-" if x is None or x != x else f"{100 * x:.2f}"


@dataclass(frozen=True)
class AvaEvalReport:
    """What :func:`run_ava_evaluation` did.

    Attributes:
        config: the job's options.
        pretrained_cfg: the weight's record (published ``mean_ap``, ``detection`` protocol).
        header: the run's description at the top of the state file (model, protocol, dataset,
            evaluation, dtype, action ids, class names).
        records: one :class:`~slowfast_zoo.evaluation.ava_results.KeyframeRecord` per selected
            keyframe, in dataset order (other ranks of a ``torchrun`` job: their share).
        metrics: ``{"mAP", "per_class_ap": {action id: AP}}`` (fractions, NaN where the evaluator
            gives none); empty on other ranks or when no keyframe was evaluated.
        counts: ``{"selected", "evaluated", "skipped"}`` keyframes.
        is_main: False on ranks other than 0 of a ``torchrun`` job.
    """

    config: AvaEvalConfig
    pretrained_cfg: PretrainedCfg
    header: dict[str, Any]
    records: list[KeyframeRecord]
    metrics: dict[str, Any]
    counts: dict[str, int]
    is_main: bool = True

    @property
    def failures(self) -> list[KeyframeRecord]:
        """The skipped keyframes (their ``reason`` says why)."""
        return [r for r in self.records if not r.ok]

    @property
    def nothing_evaluated(self) -> bool:
        """True when keyframes were selected but none could be read (the command then exits 1)."""
        return self.counts["evaluated"] == 0 and self.counts["selected"] > 0

    @property
    def caveats(self) -> list[str]:
        """Why the number is not comparable to the published one (empty when it is)."""
        c, cfg, det, config = self.counts, self.pretrained_cfg, self.pretrained_cfg.detection, self.config
        assert det is not None
        caveats = []
        overrides = self.header["protocol"]["overrides"]
        if overrides:
            caveats.append("protocol overridden " + ", ".join(f"{k}={v}" for k, v in overrides.items()))
        evaluation = self.header["evaluation"]
        if evaluation["evaluator"] != det.evaluator:
            caveats.append(f"--evaluator {evaluation['evaluator']}; the published number is {det.evaluator}'s")
        if config.label_map is not None:
            caveats.append(f"--label-map {os.fspath(config.label_map)}")
        if config.exclusions is None:
            caveats.append("no --exclusions")
        total = self.header["dataset"]["num_keyframes"]
        if config.limit is not None and c["selected"] < total:
            caveats.append(f"--limit {config.limit}: {c['selected']} of {total} keyframes")
        if c["skipped"]:
            caveats.append(f"{c['skipped']} unreadable keyframes left out")
        if config.weights:
            caveats.append(f"weights from {os.fspath(config.weights)}, published numbers are for {cfg.file_name}")
        return caveats

    def summary(self) -> str:
        """The skipped keyframes, the mAP and the table row next to the published one (text)."""
        cfg, c = self.pretrained_cfg, self.counts
        lines = [f"skipped: {r.img_key}: {r.reason}" for r in self.failures]
        lines.append(f"evaluated {c['evaluated']} of {c['selected']} keyframes, skipped {c['skipped']}")
        ev = self.header["evaluation"]
        ours = self.metrics.get("mAP")
        if self.metrics:
            scored = sum(1 for v in self.metrics["per_class_ap"].values() if v == v)
            lines.append(f"mAP {ours:.4f} (frame-mAP@0.5, {ev['evaluator']} evaluator, {scored} of "
                         f"{len(ev['class_ids'])} classes scored)")
        else:
            lines.append("no metrics (no keyframe evaluated)")
        diff = "-" if ours is None or ours != ours or cfg.mean_ap is None else f"{100 * ours - cfg.mean_ap:+.2f}"
        published = "-" if cfg.mean_ap is None else f"{cfg.mean_ap:.2f}"
        lines += ["| weight | mAP (%) | published mAP (%) | diff mAP |", "|---|---|---|---|",
                  f"| {cfg.name} | {_pct(ours)} | {published} | {diff} |"]
        if self.caveats:
            lines.append("not comparable to the published row: " + "; ".join(self.caveats))
        if self.config.out:
            lines.append(f"detections written to {os.fspath(self.config.out)} "
                         f"(every score: {state_path(self.config.out)})")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-friendly dict (``slowfast-zoo eval --json``): mAP, per-class APs by
        action id and name, the published number, counts, skipped keyframes and caveats."""
        names = dict(zip(self.header["action_ids"], self.header["class_names"]))
        per_class = self.metrics.get("per_class_ap", {})
        return {"model": self.pretrained_cfg.name, "task": "detection",
                "evaluator": self.header["evaluation"]["evaluator"], "mAP": self.metrics.get("mAP"),
                "published_mAP": self.pretrained_cfg.mean_ap,
                "per_class_ap": [{"id": int(i), "name": names.get(int(i), ""), "ap": ap}
                                 for i, ap in per_class.items()],
                "counts": self.counts,
                "failures": [{"img_key": r.img_key, "reason": r.reason} for r in self.failures],
                "caveats": self.caveats, "out": None if self.config.out is None else os.fspath(self.config.out)}


def run_ava_evaluation(config: AvaEvalConfig, *, notify: Callable[[int, str], None] | None = None) -> AvaEvalReport:
    """Evaluate a detection weight on AVA as ``slowfast-zoo eval`` does; rank 0 writes ``config.out``.

    Everything checkable (names, files, protocol overrides, the annotation, exclusion and proposal
    files, an earlier state with ``resume``) is checked before weights are loaded or downloaded.
    While the keyframes run, SIGTERM is handled like Ctrl-C: the finished keyframes are saved to the
    state file (see ``notify``) and the ``KeyboardInterrupt`` is raised again.

    Args:
        config: the job's options.
        notify: called with ``(logging level, sentence)`` for what a person should read (a slow
            ``amp`` setting; where an interrupted run's keyframes were saved). Default: this
            module's logger.

    Returns:
        :class:`AvaEvalReport`; ``report.summary()`` is the text to print (on rank 0).

    Raises:
        UsageError, InputFileError, AnnotationError, UnknownModelError: a bad option or input file.
        ResultFileError: ``resume=True`` with a state from another run.
        CheckpointError, DownloadError: weights that cannot be loaded or fetched.
    """
    say = notify if notify is not None else log.log
    plan = check_ava_config(config)
    cfg = plan.cfg
    dataset = _dataset(config, plan)
    keys = [kf.img_key for kf in dataset.keyframes]
    selection = list(range(len(keys) if config.limit is None else min(config.limit, len(keys))))

    info, device, dtype, workers = job_device(config.device, config.amp, config.workers, say)
    header: dict[str, Any] = {
        "model": {"name": cfg.name, "weights": os.fspath(config.weights) if config.weights else cfg.url,
                  "sha256_prefix": None if config.weights else cfg.sha256_prefix,
                  "published": {"mAP": cfg.mean_ap}},
        "protocol": plan.protocol,
        "dataset": {"ann_file": os.fspath(config.ann_file), "proposals": os.fspath(config.proposals or ""),
                    "exclusions": None if config.exclusions is None else os.fspath(config.exclusions),
                    "data_root": None if config.data_root is None else os.fspath(config.data_root),
                    "data_format": config.data_format, "num_keyframes": len(keys), "limit": config.limit},
        "evaluation": {"evaluator": plan.evaluator, "label_map": plan.label_map, "class_ids": sorted(plan.classes)},
        "dtype": str(dtype or torch.float32).replace("torch.", ""),
        "action_ids": plan.protocol["action_ids"], "class_names": list(cfg.class_names)}
    state = state_path(config.out) if config.out else None
    done: dict[str, KeyframeRecord] = {}
    if config.resume and state is not None:
        position = {k: i for i, k in enumerate(keys)}
        done = {k: dataclasses.replace(r, index=position.get(k, r.index))
                for k, r in load_keyframe_records(state, header, num_classes=cfg.num_classes).items()}

    model = create_model(config.model, pretrained=True,
                         checkpoint_path=None if config.weights is None else os.fspath(config.weights),
                         progress=info.is_main and config.progress)
    if not isinstance(model, SlowFastDetector):
        raise UsageError(f"--weights {config.weights}: not a detector's weights")
    fast = prepare_model(model, device=device)
    assert isinstance(fast, SlowFastDetector)
    writer = (KeyframeWriter(state, header, records=done, every_s=config.save_every, rank=info.rank,
                             world_size=info.world_size) if state is not None else None)
    if writer is not None and not config.resume:
        writer.discard_stale()
    mine = shard([i for i in selection if keys[i] not in done], info.rank, info.world_size)
    try:
        with saved_on_interrupt(writer, say, "keyframes"):
            new = detect_keyframes(fast, dataset, mine, dtype=dtype, workers=workers,
                                   progress=config.progress and info.is_main,
                                   on_result=writer.add if writer else None)
            records = gather_records(new, done, [keys[i] for i in selection], lambda r: r.img_key, info,
                                     "keyframes")
    finally:
        if info.distributed:
            destroy_distributed()
    if records is None:  # not rank 0: its share, no metrics
        return AvaEvalReport(config, cfg, header, new, {}, _counts(new, len(selection)), is_main=False)
    counts = _counts(records, len(selection))
    metrics = _frame_map(config, plan, records, set(keys) - {r.img_key for r in records if r.ok})
    if writer is not None:
        writer.finish(records, metrics, counts, [r.img_key for r in records])
    return AvaEvalReport(config, cfg, header, records, metrics, counts)
