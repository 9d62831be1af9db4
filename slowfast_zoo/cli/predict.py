"""``slowfast-zoo predict VIDEO``: top-k labels of a video (Kinetics-400 or the weight's dataset);
``--out annotated.mp4`` also writes the video with them drawn on every frame."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from slowfast_zoo.data.decode import VideoReader
from slowfast_zoo.data.labels import read_label_map
from slowfast_zoo.data.video_writer import check_video_output
from slowfast_zoo.errors import UsageError, VideoDecodeError
from slowfast_zoo.factory import create_model
from slowfast_zoo.inference.device import DTYPES, parse_dtype, resolve_device, slow_low_precision_warning
from slowfast_zoo.inference.engine import Prediction
from slowfast_zoo.inference.predict import predict, sample_video_path
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.registry import PretrainedCfg, get_pretrained_cfg
from slowfast_zoo.tools.checks import check_at_least, check_model_source, check_output_file, check_seconds
from slowfast_zoo.tools.printing import json_text, printable
from slowfast_zoo.weights.source import is_prefixed

if TYPE_CHECKING:  # the window mode is imported when used
    from slowfast_zoo.inference.windows import WindowPrediction

__all__ = ["register"]


def _record(model: SlowFast) -> PretrainedCfg:
    """The weight record every model from ``create_model`` carries (test protocol, names, url)."""
    if model.pretrained_cfg is None:
        raise UsageError("the model carries no pretrained_cfg (its test protocol and class names)")
    return model.pretrained_cfg


def _check_views(views: int | None, cfg: PretrainedCfg) -> None:
    if views is not None and views not in (1, cfg.test.num_views):
        raise UsageError(f"--views must be {cfg.test.num_views} ({cfg.name}'s test protocol) or 1 "
                         f"(a quick look), got {views}")


def _validate(args: argparse.Namespace) -> None:
    """Every option, before the video is opened or any weight is loaded or downloaded."""
    check_at_least(args.topk, "--topk", 1)
    check_seconds(args.window, "--window")
    if args.stride is not None and args.window is None:
        raise UsageError("--stride needs --window")
    check_seconds(args.stride, "--stride")
    check_at_least(args.views_per_batch, "--views-per-batch", 1)
    check_at_least(args.num_classes, "--num-classes", 1)
    if args.num_classes is not None and not args.weights:
        raise UsageError("--num-classes is for a fine-tuned --weights file")
    if args.out is not None:
        # A folder, a link, an unknown extension, the input itself: refused before any work.
        check_output_file(args.out, "--out")
        check_video_output(args.out, args.video or sample_video_path(), option="--out")
    resolve_device(args.device)  # "bogus", "cuda" without a GPU -> UsageError
    check_model_source(args.model, args.weights)
    slow = slow_low_precision_warning(args.device, parse_dtype(args.dtype))
    if slow:
        print(f"slowfast-zoo: warning: --dtype {args.dtype}: {slow}", file=sys.stderr)


def _check_windows(args: argparse.Namespace, reader: VideoReader, shown: str) -> None:
    """The windows fit the video (finite, at least a frame, not too many), before any weight."""
    from slowfast_zoo.inference.windows import window_ranges

    fps = reader.fps
    if not (fps > 0 and math.isfinite(fps)):
        raise VideoDecodeError(f"{shown}: unknown frame rate, cannot place {args.window:g}-second windows")
    try:
        window_ranges(reader.num_frames / fps, args.window, args.stride or args.window, fps=fps)
    except (UsageError, VideoDecodeError) as exc:  # the same error, naming the video and options
        text = str(exc).replace("window=", "--window ").replace("stride=", "--stride ")
        raise type(exc)(f"{shown}: {text}") from exc


def _cmd_predict(args: argparse.Namespace) -> int:
    _validate(args)
    video = args.video or str(sample_video_path())
    shown = printable(video)
    # A missing or unreadable video fails now, not after a download; the same open reader is
    # then predicted on (one open and probe per video).
    reader = VideoReader(video)
    if args.window is not None:
        _check_windows(args, reader, shown)
    cfg = None if is_prefixed(args.model) else get_pretrained_cfg(args.model)
    num_classes = args.num_classes
    names = None
    if args.label_map is not None:
        # A fine-tuned --weights file has its own classes: the label map then gives their count.
        expected = num_classes if args.weights else (cfg.num_classes if cfg is not None else None)
        names = read_label_map(args.label_map, expected)
        if args.weights and num_classes is None:
            num_classes = len(names)
    if cfg is not None:
        _check_views(args.views, cfg)
    model = create_model(args.model, pretrained=True, checkpoint_path=args.weights,
                         progress=not args.json, num_classes=num_classes)
    record = _record(model)
    _check_views(args.views, record)
    if names is not None:
        read_label_map(args.label_map, model.num_classes)  # a saved model's class count
        model.class_names = names
    if args.window is not None:
        return _predict_windows(args, model, video, reader)
    preds = predict(model, reader, topk=args.topk, views=args.views, device=args.device,
                    views_per_batch=args.views_per_batch, dtype=parse_dtype(args.dtype),
                    progress=not (args.no_progress or args.json))
    if args.json:
        print(json_text({"video": video, "model": record.name,
                         "weights": (args.weights or getattr(model, "hub_source", None) or record.url),
                         "views": args.views or record.test.num_views,
                         "topk": [{"index": p.index, "label": p.label, "probability": p.probability}
                                  for p in preds]}, indent=2))
    else:
        # Class names come from the weights (a saved model's config.json): printed escaped.
        print(f"{shown}  ({printable(record.name)})")
        for p in preds:
            print(f"  {p.probability:7.2%}  {printable(p.label)}")
    if args.out is not None:
        _write_out(args, reader, preds, progress=not (args.no_progress or args.json))
    return 0


def _write_out(args: argparse.Namespace, reader: VideoReader,
               results: Sequence[Prediction] | Sequence[WindowPrediction], *, progress: bool) -> None:
    """``--out``: the video with its results drawn on every frame; what was written, on stderr."""
    from slowfast_zoo.inference.annotate import write_annotated_video

    sys.stdout.flush()  # the results first, then the writer's progress and its line
    done = write_annotated_video(reader, args.out, results, progress=progress)
    height, width = done.size
    audio = "; audio not copied" if done.audio_dropped else ""
    print(f"slowfast-zoo: wrote {printable(os.fspath(done.path))}: {done.num_frames} frames, {width}x{height} "
          f"at {float(done.fps):.4g} fps ({done.codec} {done.pix_fmt}{audio})", file=sys.stderr)


def _predict_windows(args: argparse.Namespace, model: SlowFast, video: str, reader: VideoReader) -> int:
    """One line (or JSON line) per window, printed as soon as the window is done."""
    from slowfast_zoo.inference.windows import predict_windows

    if not args.json:
        print(f"{printable(video)}  ({printable(_record(model).name)}, windows of {args.window:g} s every "
              f"{(args.stride or args.window):g} s)", flush=True)
    kept: list[WindowPrediction] = []  # for --out: a few numbers per window (at most MAX_WINDOWS)
    for w in predict_windows(model, reader, window=args.window, stride=args.stride, topk=args.topk,
                             views=args.views, device=args.device,
                             views_per_batch=args.views_per_batch, dtype=parse_dtype(args.dtype),
                             progress=not args.no_progress):
        if args.out is not None:
            kept.append(w)
        if args.json:
            print(json_text({"video": video, **w.to_dict()}), flush=True)
        else:
            best = "  ".join(f"{p.probability:6.1%} {printable(p.label)}" for p in w.topk)
            print(f"  {w.start:8.2f}-{w.end:8.2f}s  {best}", flush=True)
    if args.out is not None:
        _write_out(args, reader, kept, progress=not args.no_progress)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``predict`` subcommand."""
    p = sub.add_parser("predict", help="top-k labels of a video (the shipped sample if none given)")
    p.add_argument("video", nargs="?", help="video file (default: the sample shipped with the package)")
    p.add_argument("--model", default="slowfast_r50_4x16x1",
                   help="weight NAME[.TAG], hf-hub:USER/REPO or local-dir:PATH (default: "
                        "slowfast_r50_4x16x1 = its default tag k400_320p; see 'slowfast-zoo list --pretrained')")
    p.add_argument("--weights", "--checkpoint", dest="weights",
                   help="local MMAction2 .pth / .safetensors file or URL (default: the published "
                        "weights, downloaded and verified; --checkpoint is an alias)")
    p.add_argument("--topk", type=int, default=5, help="classes printed, best first (default: 5)")
    p.add_argument("--views", type=int, default=None,
                   help="the weight's test protocol (default; 30 views for Kinetics-400, 1 for "
                        "Something-Something V1) or 1: one centre clip, quick look")
    p.add_argument("--label-map", default=None, metavar="FILE",
                   help="class names to show, one per line in class order (default: the weight's; "
                        "Something-Something V1 has only class_0 ... class_173). With a fine-tuned "
                        "--weights file, its number of names is the file's class count")
    p.add_argument("--num-classes", type=int, default=None, metavar="N",
                   help="class count of a fine-tuned --weights file (default: the weight's, or the "
                        "--label-map's number of names)")
    p.add_argument("--views-per-batch", type=int, default=None,
                   help="views per forward pass: memory, not results (default: 1 on CPU, 10 on GPU)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--dtype", choices=tuple(DTYPES), default="fp32",
                   help="compute dtype: bf16/fp16 autocast is for GPUs (emulated, slow, on most CPUs; "
                        "default: fp32)")
    p.add_argument("--json", action="store_true",
                   help="print JSON (with --window: one JSON object per line, per window)")
    p.add_argument("--window", type=float, default=None, metavar="SECONDS",
                   help="long videos: one prediction per window of this many seconds, streamed")
    p.add_argument("--stride", type=float, default=None, metavar="SECONDS",
                   help="seconds between window starts (default: --window, no overlap)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="also write the video with the top-k labels drawn on every frame (with --window: "
                        "each frame its window's): .mp4, .m4v, .mov, .mkv or .avi; same frames, frame "
                        "rate and size as the input, H.264, no audio; replaced if it exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (views, windows, download; it only draws on a terminal)")
    p.set_defaults(func=_cmd_predict)
