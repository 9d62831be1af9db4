"""``slowfast-zoo features``: clip embeddings of videos, one file (or .npy + .json pair) per video.

Examples::

    slowfast-zoo features videos/ --out feats/ --stride 32            # feats/a/x.mp4.safetensors
    slowfast-zoo features --list train.txt --out feats/ --format npy  # feats/x.mp4.npy + .json
    torchrun --nproc_per_node 8 -m slowfast_zoo features videos/ --out feats/ --resume

Each video gets embeddings float32 [num_clips, 2304] (the classifier's input: MMAction2's
weights put the fast pathway's 256 channels first, then the slow pathway's 2048; PySlowFast's
and PyTorchVideo's the slow ones first), the clips' start and end times in seconds and their
frame indices. Names mirror the videos' paths under their folder (or the list's folder);
nothing is written outside --out. Files are written atomically: after Ctrl-C or SIGTERM the
same command with --resume goes on. Unreadable videos are reported and skipped (exit 1).
Under torchrun each process takes every N-th video on its own GPU.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from slowfast_zoo._signals import exit_code
from slowfast_zoo.errors import UsageError
from slowfast_zoo.inference.device import resolve_device
from slowfast_zoo.registry import get_arch_spec, get_pretrained_cfg
from slowfast_zoo.tools.checks import check_at_least, check_input_file, check_model_source, check_output_dir
from slowfast_zoo.tools.printing import json_text, one_line, printable
from slowfast_zoo.weights.source import is_prefixed

if TYPE_CHECKING:  # the job (torch, PyAV) is imported when the command runs
    from slowfast_zoo.inference.feature_job import FeatureJob

__all__ = ["register"]


def _validate(args: argparse.Namespace) -> None:
    """Every option, before any video is opened or any weight is loaded or downloaded (the
    videos themselves are listed and checked by the job, also before any weight)."""
    if args.videos and args.list_file is not None:
        raise UsageError("give video files or folders, or --list FILE, not both")
    if not args.videos and args.list_file is None:
        raise UsageError("no videos: give video files or folders, or --list FILE")
    if args.list_file is not None:
        check_input_file(args.list_file, "--list")
    check_output_dir(args.out, "--out")
    check_model_source(args.model, args.weights)
    resolve_device(args.device)
    for option, value, least in (("--workers", args.workers, 0), ("--num-classes", args.num_classes, 1),
                                 ("--clip-len", args.clip_len, 1), ("--frame-interval", args.frame_interval, 1),
                                 ("--num-clips", args.num_clips, 1), ("--stride", args.stride, 1),
                                 ("--crop-size", args.crop_size, 32),
                                 ("--resize-short-side", args.resize_short_side, 32)):
        check_at_least(value, option, least)
    if args.num_classes is not None and not args.weights:
        raise UsageError("--num-classes is for a fine-tuned --weights file")
    if is_prefixed(args.model):
        return  # a saved model's architecture and protocol are known once it is loaded
    spec = get_arch_spec(args.model)
    if spec.task == "detection":
        raise UsageError(f"--model {printable(args.model)} is an action detector; features need a video "
                         f"classifier's weights (slowfast-zoo list --pretrained)")
    check_at_least(args.clip_len, "--clip-len", spec.tau)
    test = get_pretrained_cfg(args.model).test
    crop = args.crop_size or test.crop_size
    short = args.resize_short_side or test.resize_short_side
    if crop > short:
        raise UsageError(f"--crop-size {crop} is larger than --resize-short-side {short}")


def _job(args: argparse.Namespace) -> FeatureJob:
    from slowfast_zoo.inference.feature_job import FeatureJob

    return FeatureJob(out=args.out, videos=tuple(args.videos), list_file=args.list_file, model=args.model,
                      weights=args.weights, num_classes=args.num_classes, clip_len=args.clip_len,
                      frame_interval=args.frame_interval, num_clips=args.num_clips, stride=args.stride,
                      crop=args.crop, crop_size=args.crop_size, resize_short_side=args.resize_short_side,
                      format=args.format, resume=args.resume, workers=args.workers, device=args.device,
                      progress=not (args.no_progress or args.json))


def _cmd_features(args: argparse.Namespace) -> int:
    from slowfast_zoo.inference.feature_job import extract_folder

    _validate(args)
    interrupted: list[str] = []

    def notify(level: int, message: str) -> None:
        # Paths and reasons come from the data: one escaped line each.
        if level < logging.WARNING:
            interrupted.append(message)
        print(f"slowfast-zoo: {one_line(message)}", file=sys.stderr)

    try:
        report = extract_folder(_job(args), notify=notify)
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM
        if not interrupted:
            raise  # before any video: the command line says "interrupted"
        return exit_code(e)
    if not report.printed_here:
        return 0  # torchrun: rank 0 prints the whole job's summary and exit status
    if args.json:
        print(json_text(report.to_json(), indent=2))
    else:
        print(printable(report.summary()))
    return 1 if report.skipped else 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``features`` subcommand."""
    p = sub.add_parser("features", help="clip embeddings of videos, one file per video (torchrun-ready)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("videos", nargs="*", metavar="VIDEO",
                   help="video files, or folders searched recursively for videos")
    p.add_argument("--list", dest="list_file", metavar="FILE", default=None,
                   help="instead of VIDEO: a text file, one video per line (first column, relative to "
                        "the list's folder; a label after it is ignored)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder: <video's relative path>.safetensors (or .npy + .json) per video")
    p.add_argument("--format", choices=("safetensors", "npy"), default="safetensors",
                   help="safetensors: one file with embeddings, timestamps and frame indices; npy: "
                        "embeddings in <name>.npy, timestamps, frame indices, fps, weight and channel "
                        "layout in <name>.json (default: safetensors)")
    p.add_argument("--model", default="slowfast_r50_4x16x1",
                   help="weight NAME[.TAG], hf-hub:USER/REPO or local-dir:PATH (default: %(default)s = "
                        "its default tag; a video classifier, not an AVA detector)")
    p.add_argument("--weights", "--checkpoint", dest="weights", metavar="PATH", default=None,
                   help="local MMAction2 .pth / .safetensors file or URL (default: the published weights, "
                        "downloaded and verified; --checkpoint is an alias)")
    p.add_argument("--num-classes", type=int, default=None, metavar="N",
                   help="class count of a fine-tuned --weights file (default: the weight's)")
    g = p.add_argument_group("clips (default: the weight's test protocol, e.g. 10 clips of 32 frames every "
                             "2nd frame, short side 256, one 256 centre crop)")
    g.add_argument("--stride", type=int, default=None, metavar="FRAMES",
                   help="dense clips, one every FRAMES frames over the whole video (default: --num-clips "
                        "evenly spread clips)")
    g.add_argument("--num-clips", type=int, default=None, metavar="N",
                   help="evenly spread clips per video (without --stride)")
    g.add_argument("--clip-len", type=int, default=None, metavar="FRAMES", help="frames per clip (>= the model's tau)")
    g.add_argument("--frame-interval", type=int, default=None, metavar="FRAMES", help="frame step in a clip")
    g.add_argument("--crop", choices=("center", "three"), default="center",
                   help="one centre crop, or the three crops' embeddings averaged (default: center)")
    g.add_argument("--crop-size", type=int, default=None, metavar="PIXELS", help="crop side in pixels (>= 32)")
    g.add_argument("--resize-short-side", "--short-side", dest="resize_short_side", type=int, default=None,
                   metavar="PIXELS",
                   help="short side before cropping, in pixels (>= 32)")
    r = p.add_argument_group("run")
    r.add_argument("--resume", action="store_true",
                   help="skip videos whose output is complete in --format (finished files are whole)")
    r.add_argument("--workers", type=int, default=2, metavar="N",
                   help="processes opening the next videos while the model runs (default: 2)")
    r.add_argument("--device", default=None,
                   help="cpu, cuda, cuda:1 ... (default: cuda if available; cuda:LOCAL_RANK under torchrun)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar (shown only on a terminal)")
    r.add_argument("--json", action="store_true",
                   help="print what was written, already there and skipped (with reasons) as JSON")
    p.set_defaults(func=_cmd_features)
