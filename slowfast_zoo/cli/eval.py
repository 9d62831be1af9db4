# ``slowfast-zoo eval``: check a published number on your Kinetics-400. The options follow
# MMAction2 0.x's ``tools/test.py`` (OpenMMLab, Apache-2.0); the job itself is the library's
# :func:`slowfast_zoo.evaluation.run_evaluation` (slowfast_zoo/evaluation/job.py).
"""``slowfast-zoo eval``: accuracy of a weight on its dataset (Kinetics-400, Something-Something V1, AVA).

Examples::

    slowfast-zoo eval --model slowfast_r50_4x16x1.k400_320p \\
        --ann-file data/kinetics400/kinetics400_val_list_rawframes.txt \\
        --data-root data/kinetics400/rawframes_val --data-format rawframes --out r50.json
    torchrun --nproc_per_node 8 -m slowfast_zoo eval ...          # same numbers, 8 GPUs

``--out`` is rewritten atomically every ``--save-every`` seconds; run the same command with
``--resume`` after an interruption to continue without redoing finished videos.

Charades weights (e.g. ``pysf_slowfast_r50_16x8.charades``) are multi-label: they read PySlowFast's
frame lists (``--ann-file val.csv --data-root Charades_v1_rgb``) and report mAP as PySlowFast's
``get_map`` computes it instead of top-1/top-5.

AVA detection weights (``slowfast-zoo list --pretrained '*ava*'``) run the whole AVA test: every
keyframe of the annotation CSV (minus ``--exclusions``) with the ``--proposals`` person boxes, on
MMAction2's rawframes (``<root>/<video_id>/img_00001.jpg``, 30 fps, frame 1 = second 900) or, with
``--data-format video``, on the 15-minute cuts ``<root>/<video_id>.mp4``; ``--out`` is the results
CSV in AVA's format (``<out>.state.json`` keeps every score, for ``--resume``), scored by the
weight's own evaluator::

    slowfast-zoo eval --model slowfast_r50_8x8x1_ava.ava22 --ann-file ava_val_v2.2.csv \\
        --data-root data/ava/rawframes --proposals ava_dense_proposals_val.FAIR.recall_93.9.pkl \\
        --exclusions ava_val_excluded_timestamps_v2.2.csv --out ava22.csv
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from slowfast_zoo._signals import exit_code
from slowfast_zoo.tools.checks import check_eval_config
from slowfast_zoo.tools.printing import eval_summary, json_text, one_line, print_error

if TYPE_CHECKING:  # the library is imported when the command runs: `slowfast-zoo --help` stays fast
    from slowfast_zoo.data import TestTransform
    from slowfast_zoo.evaluation.ava_job import AvaEvalReport
    from slowfast_zoo.evaluation.job import EvalConfig, EvalReport
    from slowfast_zoo.registry import PretrainedCfg

__all__ = ["register", "add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``slowfast-zoo eval``: the fields of :class:`~slowfast_zoo.evaluation.EvalConfig`."""
    p.add_argument("--model", default="slowfast_r50_4x16x1",
                   help="weight NAME[.TAG] whose protocol and published numbers are used "
                        "(default: %(default)s = its default tag)")
    p.add_argument("--weights", "--checkpoint", dest="weights", metavar="PATH", default=None,
                   help="local MMAction2 .pth / slowfast_zoo .safetensors file or URL "
                        "(default: the published file, downloaded and sha256-verified)")
    p.add_argument("--ann-file", required=True,
                   help="annotation list: 'video_id num_frames label' (Kinetics-400 val list) or "
                        "'path label' for videos; 'frame_dir total_frames label' for rawframes. "
                        "Charades (multi-label, scored by mAP): PySlowFast's frame list (header "
                        "'original_vido_id video_id frame_id path labels', one line per frame) or "
                        "'path l1,l2,...' (comma-separated class ids). AVA detection weights: the "
                        "AVA annotation CSV (video_id,timestamp,x1,y1,x2,y2,action_id,person_id)")
    p.add_argument("--data-root", default=None,
                   help="folder the annotation paths are relative to (AVA: the rawframes root "
                        "<root>/<video_id>/img_00001.jpg, or the folder of <video_id>.mp4 15-minute cuts)")
    p.add_argument("--data-format", choices=("video", "rawframes"), default=None,
                   help="video files (PyAV) or rawframe folders img_00001.jpg... (default: video; "
                        "rawframes for AVA detection weights)")
    p.add_argument("--filename-tmpl", default=None,
                   help="rawframe file names (default: the weight's own, img_{:05d}.jpg; "
                        "{:05}.jpg for Something-Something V1)")
    p.add_argument("--start-index", type=int, default=None,
                   help="first frame number (default: 1 for rawframes, 0 for videos, as MMAction2; AVA: "
                        "the weight's, 0 for MMAction2 0.x files, 1 for 1.x)")
    p.add_argument("--label-map", default=None, metavar="FILE",
                   help="class names, one per line (default: the weight's names; Kinetics-400's "
                        "are shipped, Something-Something V1 has class_0 ... class_173). AVA: the "
                        "classes evaluated, AVA's pbtxt or 'ID: name' lines (default: the shipped list "
                        "of the weight, the 60 actions of the official evaluation)")
    d = p.add_argument_group("action detection (AVA weights only)")
    d.add_argument("--proposals", default=None, metavar="FILE",
                   help="person boxes per keyframe: MMAction2's proposal .pkl, PySlowFast's predicted-boxes "
                        "CSV or video_id,timestamp,x1,y1,x2,y2[,score] lines (normalized); required")
    d.add_argument("--exclusions", default=None, metavar="FILE",
                   help="AVA's excluded keyframes (video_id,timestamp lines)")
    d.add_argument("--evaluator", choices=("official", "mmaction2"), default=None,
                   help="frame-mAP@0.5 as ActivityNet's official script or MMAction2's ava_eval computes "
                        "it (default: the one of the weight's published number)")
    g = p.add_argument_group("test protocol (default: the weight's published one, e.g. 10 clips x 3 "
                             "crops placed by its MMAction2 generation's rule; "
                             "any override makes the numbers incomparable to the table and is "
                             "recorded in the output's 'protocol')")
    g.add_argument("--num-clips", type=int, default=None, help="clips per video (published: 10)")
    g.add_argument("--num-crops", type=int, choices=(1, 3), default=None,
                   help="3: ThreeCrop, 1: CenterCrop (published: 3)")
    g.add_argument("--clip-len", type=int, default=None,
                   help="frames per clip (published: 32; the model needs >= its tau, 8 or 4; AVA too)")
    g.add_argument("--frame-interval", type=int, default=None, help="frame step in a clip (published: 2)")
    g.add_argument("--short-side", type=int, default=None,
                   help="resize short side (published: 256; AVA too)")
    g.add_argument("--crop-size", type=int, default=None, help="crop size (published: 256, >= 32)")
    g.add_argument("--average-clips", choices=("prob", "score"), default=None,
                   help="softmax then mean ('prob', published) or mean logits")
    r = p.add_argument_group("run")
    r.add_argument("--out", default=None, metavar="RESULT.json",
                   help="per-video scores, metrics, failures, model and protocol (JSON, written "
                        "atomically and every --save-every seconds during the run). AVA: the results "
                        "CSV, with every score in OUT.state.json (the file --resume continues)")
    r.add_argument("--resume", action="store_true",
                   help="continue from an existing (partial) --out without redoing finished videos")
    r.add_argument("--save-every", type=float, default=60.0, metavar="SECONDS",
                   help="seconds between rewrites of --out during the run (default: %(default)s)")
    r.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N videos")
    r.add_argument("--workers", type=int, default=None,
                   help="decoding worker processes per rank (default: 4 on GPU, 1 on CPU)")
    r.add_argument("--device", default=None,
                   help="cpu, cuda, cuda:1 ... (default: cuda if available; cuda:LOCAL_RANK under torchrun)")
    r.add_argument("--amp", action="store_true", help="autocast: float16 on GPU, bfloat16 on CPU")
    r.add_argument("--views-per-batch", type=int, default=None,
                   help="views per forward pass (memory bound; default: 1 on CPU, 10 on GPU)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar (shown only on a terminal)")
    r.add_argument("--json", action="store_true",
                   help="print the report as JSON (AVA: with every class's AP) instead of the table")


def _config(args: argparse.Namespace) -> EvalConfig:
    """The :class:`~slowfast_zoo.evaluation.EvalConfig` of parsed :func:`add_arguments` options."""
    from slowfast_zoo.evaluation.job import EvalConfig

    return EvalConfig(
        ann_file=args.ann_file, model=args.model, weights=args.weights, data_root=args.data_root,
        data_format=args.data_format, filename_tmpl=args.filename_tmpl, start_index=args.start_index,
        label_map=args.label_map, num_clips=args.num_clips, num_crops=args.num_crops,
        clip_len=args.clip_len, frame_interval=args.frame_interval, short_side=args.short_side,
        crop_size=args.crop_size, average_clips=args.average_clips, out=args.out, resume=args.resume,
        save_every=args.save_every, limit=args.limit, workers=args.workers, device=args.device,
        amp=args.amp, views_per_batch=args.views_per_batch, progress=not (args.no_progress or args.json),
        proposals=args.proposals, exclusions=args.exclusions, evaluator=args.evaluator)


def _protocol(cfg: PretrainedCfg, args: argparse.Namespace) -> tuple[dict[str, Any], TestTransform]:
    """:func:`~slowfast_zoo.evaluation.resolve_protocol` of parsed protocol options."""
    from slowfast_zoo.evaluation.job import EvalConfig, resolve_protocol

    fields = ("clip_len", "frame_interval", "num_clips", "num_crops", "short_side", "crop_size",
              "average_clips", "start_index", "data_format")
    return resolve_protocol(cfg, EvalConfig("", **{f: getattr(args, f) for f in fields}))


def _nothing_selected(config: EvalConfig, selected: int) -> str | None:
    """Why a run would evaluate nothing (``None``: it selects videos)."""
    if selected:
        return None
    if config.limit == 0:
        return "nothing evaluated: --limit 0 selects no video"
    return f"nothing evaluated: {os.fspath(config.ann_file)} lists no video"


def _report_json(report: EvalReport | AvaEvalReport) -> dict[str, Any]:
    """What ``--json`` prints: the report's numbers, the published ones and the caveats."""
    from slowfast_zoo.evaluation.ava_job import AvaEvalReport

    if isinstance(report, AvaEvalReport):
        return report.to_json()
    r, cfg = report.result, report.pretrained_cfg
    return {"model": cfg.name, "task": "recognition", "metrics": r.metrics, "published": cfg.published_metrics,
            "counts": r.counts, "failures": [{"video": f.path, "reason": f.reason} for f in r.failures],
            "caveats": report.caveats, "out": None if report.config.out is None else os.fspath(report.config.out)}


def run(args: argparse.Namespace) -> int:
    """Run an evaluation from parsed :func:`add_arguments` options; rank 0 prints the report.

    Every option is checked before any weight is loaded (:func:`~slowfast_zoo.tools.check_eval_config`).

    Returns the exit status: 0; 1 when nothing was evaluated (an empty list, ``--limit 0``, or
    no selected video could be read); ``128 + signal`` after Ctrl-C or SIGTERM (the finished
    videos are saved in ``--out``).
    """
    from slowfast_zoo.evaluation.ava_job import AvaEvalReport
    from slowfast_zoo.evaluation.job import run_evaluation

    config = _config(args)
    selected = check_eval_config(config)
    nothing = _nothing_selected(config, selected) if selected is not None else None
    if nothing:  # before any weight is downloaded for nothing
        print_error("slowfast-zoo", nothing)
        return 1
    interrupted: list[str] = []

    def notify(level: int, message: str) -> None:
        if level >= logging.WARNING:
            print(f"slowfast-zoo: warning: {one_line(message)}", file=sys.stderr)
        else:
            interrupted.append(message)
            print(one_line(message), file=sys.stderr)

    try:
        report = run_evaluation(config, notify=notify)
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (slowfast_zoo._signals)
        if not interrupted:
            raise  # before the videos: nothing saved, the command line says "interrupted"
        return exit_code(e)
    if not report.is_main:
        return 0
    if args.json:
        print(json_text(_report_json(report), indent=2))
    else:
        print(eval_summary(report))  # skipped videos' paths and reasons come from the data: escaped
    counts = report.counts if isinstance(report, AvaEvalReport) else report.result.counts
    nothing = _nothing_selected(config, counts["selected"])
    if nothing or report.nothing_evaluated:
        print_error("slowfast-zoo", nothing or "nothing evaluated: no video could be evaluated "
                                               "(see the skipped videos above)")
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``eval`` subcommand."""
    p = sub.add_parser("eval", help="accuracy of a weight on your copy of its dataset (torchrun-ready)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=run)
