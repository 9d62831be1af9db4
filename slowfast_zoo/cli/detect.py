"""``slowfast-zoo detect VIDEO``: who does what, where: person boxes and their actions per keyframe."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from slowfast_zoo.data.decode import VideoReader
from slowfast_zoo.data.video_writer import check_video_output
from slowfast_zoo.errors import UsageError
from slowfast_zoo.factory import create_model
from slowfast_zoo.inference.detect import (DEFAULT_PERSON_SCORE, KeyframeActions, boxes_from_file,
                                          detect, detection_protocol)
from slowfast_zoo.inference.device import resolve_device
from slowfast_zoo.inference.predict import sample_video_path
from slowfast_zoo.models.detector import SlowFastDetector
from slowfast_zoo.registry import get_arch_spec
from slowfast_zoo.tools.checks import (check_at_least, check_input_file, check_model_source,
                                       check_output_file)
from slowfast_zoo.tools.printing import json_text, printable
from slowfast_zoo.weights.source import is_prefixed

if TYPE_CHECKING:
    from slowfast_zoo.evaluation.ava_results import ResultRow

__all__ = ["register", "detections_to_rows", "detections_to_json"]

DEFAULT_MODEL = "slowfast_r50_4x16x1_ava"


def _check_fraction(value: float, option: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"{option} must be in [0, 1], got {value:g}")


def _validate(args: argparse.Namespace) -> None:
    """Every option, before the video is opened or any weight is loaded or downloaded."""
    if args.video is None:
        args.video = str(sample_video_path())
    check_at_least(args.topk, "--topk", 1)
    _check_fraction(args.score_threshold, "--score-threshold")
    _check_fraction(args.person_threshold, "--person-threshold")
    resolve_device(args.device)
    check_model_source(args.model, args.weights)
    if not is_prefixed(args.model) and get_arch_spec(args.model).task != "detection":
        raise UsageError(f"--model {printable(args.model)} is a video classifier; detect needs an action "
                         f"detector (slowfast-zoo list --pretrained '*ava*')")
    if args.boxes is not None:
        check_input_file(args.boxes, "--boxes")
    elif args.detector == "none":
        pass  # the whole frame is the one box (AVA's rule for a keyframe without proposals)
    outputs = [(p, o) for p, o in ((args.csv, "--csv"), (args.out, "--out")) if p is not None]
    for path, option in outputs:
        check_output_file(path, option)
    if len(outputs) == 2 and os.path.abspath(args.csv) == os.path.abspath(args.out):
        raise UsageError("--csv and --out name the same file")
    stem = Path(args.video).stem
    if args.csv is not None and (not stem or any(c in stem for c in ',"\r\n')):
        raise UsageError(f"--csv: the video's name {printable(stem)} is its video_id in AVA's CSV, which cannot "
                         f"hold commas, quotes or line breaks; rename the video (or copy it)")
    if args.out is not None:  # its extension, a symbolic link, the input video: not after the work
        check_video_output(args.out, args.video if os.path.isfile(args.video) else None, option="--out")
    # An output is replaced at the end: it must not be one of the files read.
    inputs = [(p, o) for p, o in ((args.video, "the input video"), (args.boxes, "--boxes"), (args.weights, "--weights"))
              if p is not None and os.path.isfile(p)]
    for path, option in outputs:
        for source, what in inputs:
            if os.path.isfile(path) and os.path.samefile(path, source):
                raise UsageError(f"{option} {printable(path)}: is {what}; write the results to another file")


def detections_to_rows(video_id: str, results: list[KeyframeActions], frame_hw: tuple[int, int],
                       threshold: float, action_ids: Sequence[int]) -> list[ResultRow]:
    """AVA result rows ``(video_id, time, x1, y1, x2, y2, action_id, score)``, boxes normalized.

    The rows the AVA evaluation writes (:func:`~slowfast_zoo.evaluation.ava_results.keyframe_rows`,
    MMAction2's ``bbox2result``): per keyframe, class by class, every box whose score is above
    ``threshold`` (``>``, its ``action_thr``); the evaluators rank them. ``action_ids[j]`` is the
    label-map id of score column ``j``.

    Example:
        >>> from slowfast_zoo.inference.detect import PersonActions
        >>> k = KeyframeActions(1.0, 30, (PersonActions((0.0, 0.0, 160.0, 120.0), None, (), (0.5, 0.002)),))
        >>> detections_to_rows("v", [k], (240, 320), 0.002, [1, 2])
        [('v', 1, 0.0, 0.0, 0.5, 0.5, 1, 0.5)]
    """
    from slowfast_zoo.evaluation.ava_results import keyframe_rows

    h, w = frame_hw
    rows: list[ResultRow] = []
    for k in results:
        if not k.persons:
            continue
        boxes = np.array([p.box for p in k.persons], dtype=np.float64) / np.array([w, h, w, h])
        scores = np.array([p.scores for p in k.persons], dtype=np.float32)
        # AVA's files hold whole-second timestamps (every keyframe of the command is one).
        time = int(k.time) if float(k.time).is_integer() else k.time
        rows += keyframe_rows(video_id, time, boxes, scores, action_ids, threshold)
    return rows


def detections_to_json(video: str, model: str, results: list[KeyframeActions]) -> dict[str, Any]:
    """The JSON document of ``--json``."""
    return {"video": video, "model": model, "keyframes": [
        {"time": k.time, "frame_index": k.frame_index, "persons": [
            {"box": list(p.box), "box_score": p.box_score,
             "actions": [{"id": a.id, "name": a.name, "score": a.score} for a in p.actions]}
            for p in k.persons]}
        for k in results]}


def _cmd_detect(args: argparse.Namespace) -> int:
    _validate(args)
    video = args.video
    shown = printable(video)
    reader = VideoReader(video)  # a missing or unreadable video fails now, before any download
    boxes = None
    if args.boxes is not None:
        boxes = boxes_from_file(args.boxes, Path(video).stem, reader.size)
    model = create_model(args.model, pretrained=True, checkpoint_path=args.weights, progress=not args.json)
    assert isinstance(model, SlowFastDetector)  # checked by _validate
    detector: str | None = args.detector if args.boxes is None else "none"
    results = detect(model, reader, boxes=boxes, detector=detector, score_threshold=args.score_threshold,
                     topk=args.topk, person_score_threshold=args.person_threshold, device=args.device,
                     progress=not (args.no_progress or args.json))
    record = model.pretrained_cfg
    name = record.name if record is not None else args.model
    if args.csv is not None:
        from slowfast_zoo.evaluation.ava import write_ava_detections_csv
        protocol = detection_protocol(model)
        ids = [protocol.action_id(j) for j in range(model.num_classes)]
        write_ava_detections_csv(detections_to_rows(Path(video).stem, results, reader.size,
                                                    protocol.action_score_threshold, ids), args.csv)
    if args.out is not None:
        from slowfast_zoo.inference.annotate import write_detections_video
        write_detections_video(reader, results, args.out, progress=not args.no_progress)
    if args.json:
        print(json_text(detections_to_json(video, name, results), indent=2))
        return 0
    print(f"{shown}  ({printable(name)})")
    for k in results:
        print(f"  {k.time:8.2f}s  {len(k.persons)} person(s)")
        for p in k.persons:
            box = ", ".join(f"{v:.0f}" for v in p.box)
            best = "  ".join(f"{a.score:5.1%} {printable(a.name)}" for a in p.actions) or "-"
            print(f"    [{box}]  {best}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``detect`` subcommand."""
    p = sub.add_parser("detect", help="person boxes and their actions at each keyframe (AVA detectors)")
    p.add_argument("video", nargs="?", help="video file (default: the sample shipped with the package)")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"detector NAME[.TAG] (default: {DEFAULT_MODEL}; see "
                        f"'slowfast-zoo list --pretrained \"*ava*\"')")
    p.add_argument("--weights", "--checkpoint", dest="weights",
                   help="local detector file or URL (default: the published weights, downloaded and verified)")
    p.add_argument("--boxes", metavar="FILE", default=None,
                   help="person boxes per keyframe instead of a detector: a box CSV "
                        "(video_id,timestamp,x1,y1,x2,y2[,score], normalized) or an MMAction2 proposal .pkl")
    p.add_argument("--detector", choices=("torchvision", "none"), default="torchvision",
                   help="person detector without --boxes: torchvision's COCO Faster R-CNN (its weights "
                        "downloaded and hash-checked by torchvision), or none: the whole frame (default: torchvision)")
    p.add_argument("--score-threshold", type=float, default=0.3, metavar="S",
                   help="actions shown from this score (default: 0.3)")
    p.add_argument("--person-threshold", type=float, default=DEFAULT_PERSON_SCORE, metavar="S",
                   help=f"person boxes kept from this detector score (default: {DEFAULT_PERSON_SCORE})")
    p.add_argument("--topk", type=int, default=5, help="actions shown per person, best first (default: 5)")
    p.add_argument("--csv", metavar="OUT.csv", default=None,
                   help="write AVA's result format: video_id,timestamp,x1,y1,x2,y2,action_id,score "
                        "(normalized boxes, every action above the weight's result threshold)")
    p.add_argument("--out", metavar="ANNOTATED.mp4", default=None,
                   help="write the video with each person's box and top actions drawn")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_detect)
