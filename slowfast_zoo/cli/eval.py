# ``slowfast-zoo eval`` / examples/eval_k400.py: check a published number on your Kinetics-400.
#
# The options follow MMAction2 0.x's ``tools/test.py CONFIG CKPT --eval top_k_accuracy
# mean_class_accuracy --out result.json --average-clips prob`` (OpenMMLab, Apache-2.0,
# https://github.com/open-mmlab/mmaction2, v0.13.0), with the config replaced by the weight's
# registered test protocol (docs/SPEC.md 4.1 and 7).
"""``slowfast-zoo eval``: accuracy of a weight on its dataset (Kinetics-400, Something-Something V1).

Examples::

    slowfast-zoo eval --model slowfast_r50_4x16x1.k400_320p \\
        --ann-file data/kinetics400/kinetics400_val_list_rawframes.txt \\
        --data-root data/kinetics400/rawframes_val --data-format rawframes --out r50.json
    torchrun --nproc_per_node 8 -m slowfast_zoo eval ...          # same numbers, 8 GPUs

``--out`` is rewritten atomically every ``--save-every`` seconds; run the same command with
``--resume`` after an interruption to continue without redoing finished videos.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

from slowfast_zoo.errors import UsageError

__all__ = ["register", "add_arguments", "run"]

log = logging.getLogger(__name__)

# Overrides of the published protocol (for quick looks and small tests); recorded in the output.
_OVERRIDES = (("clip_len", "clip_len"), ("frame_interval", "frame_interval"), ("num_clips", "num_clips"),
              ("num_crops", "num_crops"), ("short_side", "resize_short_side"), ("crop_size", "crop_size"))


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The evaluation options (shared by ``slowfast-zoo eval`` and examples/eval_k400.py)."""
    p.add_argument("--model", default="slowfast_r50_4x16x1",
                   help="weight NAME[.TAG] whose protocol and published numbers are used "
                        "(default: %(default)s = its default tag)")
    p.add_argument("--weights", "--checkpoint", dest="weights", metavar="PATH", default=None,
                   help="local MMAction2 .pth / slowfast_zoo .safetensors file or URL "
                        "(default: the published file, downloaded and sha256-verified)")
    p.add_argument("--ann-file", required=True,
                   help="annotation list: 'video_id num_frames label' (Kinetics-400 val list) or "
                        "'path label' for videos; 'frame_dir total_frames label' for rawframes")
    p.add_argument("--data-root", default=None, help="folder the annotation paths are relative to")
    p.add_argument("--data-format", choices=("video", "rawframes"), default="video",
                   help="video files (PyAV) or rawframe folders img_00001.jpg... (default: %(default)s)")
    p.add_argument("--filename-tmpl", default=None,
                   help="rawframe file names (default: the weight's own, img_{:05d}.jpg; "
                        "{:05}.jpg for Something-Something V1)")
    p.add_argument("--start-index", type=int, default=None,
                   help="first frame number (default: 1 for rawframes, 0 for videos, as MMAction2)")
    p.add_argument("--label-map", default=None, metavar="FILE",
                   help="class names, one per line (default: the weight's names; Kinetics-400's "
                        "are shipped, Something-Something V1 has class_0 ... class_173)")
    g = p.add_argument_group("test protocol (default: the weight's published one, e.g. 10 clips x 3 "
                             "crops placed by its MMAction2 generation's rule; "
                             "any override makes the numbers incomparable to the table and is "
                             "recorded in the output's 'protocol')")
    g.add_argument("--num-clips", type=int, default=None, help="clips per video (published: 10)")
    g.add_argument("--num-crops", type=int, choices=(1, 3), default=None,
                   help="3: ThreeCrop, 1: CenterCrop (published: 3)")
    g.add_argument("--clip-len", type=int, default=None,
                   help="frames per clip (published: 32; the model needs >= its tau, 8 or 4)")
    g.add_argument("--frame-interval", type=int, default=None, help="frame step in a clip (published: 2)")
    g.add_argument("--short-side", type=int, default=None, help="resize short side (published: 256)")
    g.add_argument("--crop-size", type=int, default=None, help="crop size (published: 256, >= 32)")
    g.add_argument("--average-clips", choices=("prob", "score"), default=None,
                   help="softmax then mean ('prob', published) or mean logits")
    r = p.add_argument_group("run")
    r.add_argument("--out", default=None, metavar="RESULT.json",
                   help="per-video scores, metrics, failures, model and protocol (JSON, written "
                        "atomically and every --save-every seconds during the run)")
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


def _protocol(cfg, args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """The protocol dict of the output and the TestTransform that implements it."""
    from slowfast_zoo.data import TestTransform

    pub = cfg.test
    values = {"clip_len": pub.clip_len, "frame_interval": pub.frame_interval, "num_clips": pub.num_clips,
              "resize_short_side": pub.resize_short_side, "crop_size": pub.crop_size,
              "num_crops": pub.num_crops}
    overrides = {}
    for opt, key in _OVERRIDES:
        v = getattr(args, opt)
        if v is not None and v != values[key]:
            overrides[key] = v
            values[key] = v
    if values["clip_len"] < 1 or values["frame_interval"] < 1 or values["num_clips"] < 1:
        raise UsageError("--clip-len, --frame-interval and --num-clips must be >= 1")
    if values["crop_size"] > values["resize_short_side"]:
        raise UsageError("--crop-size must not exceed --short-side")
    # Fail before loading weights and decoding, not on the first forward pass.
    from slowfast_zoo.registry import get_arch_spec

    tau = get_arch_spec(cfg.name).tau
    if values["clip_len"] < tau or values["crop_size"] < 32:
        raise UsageError(f"{cfg.architecture} needs --clip-len >= {tau} (tau) and --crop-size >= 32, "
                         f"got {values['clip_len']} and {values['crop_size']}")
    average = args.average_clips or pub.average_clips
    if average != pub.average_clips:
        overrides["average_clips"] = average
    start = args.start_index if args.start_index is not None else (1 if args.data_format == "rawframes" else 0)
    tf = TestTransform(mean=cfg.mean, std=cfg.std, sampling_rule=pub.sampling_rule, **values)
    protocol = {**values, "num_views": values["num_clips"] * values["num_crops"], "average_clips": average,
                "sampling_rule": pub.sampling_rule,
                "start_index": start, "mean": list(cfg.mean), "std": list(cfg.std),
                "published": not overrides, "overrides": overrides}
    return protocol, tf


def _class_names(args: argparse.Namespace, cfg) -> tuple[list[str], str | None]:
    from slowfast_zoo.data.labels import read_label_map

    if args.label_map is None:
        return list(cfg.class_names), None
    return list(read_label_map(args.label_map, cfg.num_classes)), args.label_map


def _dataset(args: argparse.Namespace, cfg, tf, start_index: int):
    from slowfast_zoo.data import RawframeDataset, VideoDataset

    if args.data_format == "rawframes":
        return RawframeDataset(args.ann_file, args.data_root, tf,
                               filename_tmpl=args.filename_tmpl or cfg.test.filename_tmpl,
                               start_index=start_index, on_error="skip")
    if start_index != 0:
        raise UsageError("--start-index other than 0 is only meaningful with --data-format rawframes")
    return VideoDataset(args.ann_file, args.data_root, tf, on_error="skip")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def _frac(x: float) -> str:
    # Accuracies are fractions (0-1) in every key/value output and file, as MMAction2 reports
    # them; only the comparison table is in percent, like the published tables.
    return f"{x:.4f}"


def _report(result, cfg, header: dict[str, Any], args: argparse.Namespace) -> None:
    """Print the metrics, the skipped videos and the table row next to the published one."""
    for f in result.failures:
        print(f"skipped: {f.path}: {f.reason}")
    c = result.counts
    print(f"evaluated {c['evaluated']} of {c['selected']} videos, skipped {c['skipped']}")
    m = result.metrics
    print("  ".join(f"{k} {_frac(v)}" for k, v in m.items()) or "no metrics (no video evaluated)")
    top1, top5 = m.get("top1_acc"), m.get("top5_acc")

    def diff(ours: float | None, pub: float) -> str:
        return "-" if ours is None else f"{100 * ours - pub:+.2f}"

    print("| weight | top-1 (%) | top-5 (%) | published top-1 (%) | published top-5 (%) | diff top-1 | diff top-5 |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {cfg.name} | {_pct(top1)} | {_pct(top5)} | {cfg.top1:.2f} | {cfg.top5:.2f} "
          f"| {diff(top1, cfg.top1)} | {diff(top5, cfg.top5)} |")
    caveats = []
    if header["protocol"]["overrides"]:
        caveats.append("protocol overridden " + ", ".join(f"{k}={v}" for k, v in
                                                          header["protocol"]["overrides"].items()))
    if args.limit is not None and c["selected"] < header["dataset"]["num_videos"]:
        caveats.append(f"--limit {args.limit}: {c['selected']} of {header['dataset']['num_videos']} videos")
    if c["skipped"]:
        caveats.append(f"{c['skipped']} unreadable videos left out")
    if args.weights:
        caveats.append(f"weights from {args.weights}, published numbers are for {cfg.file_name}")
    if caveats:
        print("not comparable to the published row: " + "; ".join(caveats))


def run(args: argparse.Namespace) -> int:
    """Run an evaluation from parsed :func:`add_arguments` options (rank 0 prints and writes)."""
    import torch

    from slowfast_zoo._signals import exit_code, terminate_as_interrupt
    from slowfast_zoo.evaluation.distributed import destroy_distributed, init_distributed
    from slowfast_zoo.evaluation.runner import evaluate
    from slowfast_zoo.evaluation.results import ResultWriter, load_records
    from slowfast_zoo.factory import create_model
    from slowfast_zoo.inference.device import resolve_device, slow_low_precision_warning
    from slowfast_zoo.registry import get_pretrained_cfg
    from slowfast_zoo.weights.download import resolve_url

    cfg = get_pretrained_cfg(args.model)
    # Everything checkable is checked before weights are loaded or downloaded.
    resolve_url(cfg.url)  # a bad SLOWFAST_ZOO_MIRROR
    if args.weights and "://" not in str(args.weights) and not os.path.isfile(args.weights):
        raise UsageError(f"--weights {args.weights}: no such file")
    if args.save_every is not None and not args.save_every >= 0:  # 0: after every video
        raise UsageError(f"--save-every must be a number of seconds >= 0, got {args.save_every:g}")
    if args.views_per_batch is not None and args.views_per_batch < 1:
        raise UsageError(f"--views-per-batch must be >= 1, got {args.views_per_batch}")
    protocol, tf = _protocol(cfg, args)
    names, label_map = _class_names(args, cfg)
    dataset = _dataset(args, cfg, tf, protocol["start_index"])
    bad = sorted({y for y in dataset.labels if not 0 <= y < len(names)})
    if bad:
        raise UsageError(f"labels {bad[:5]} of {args.ann_file} are outside [0, {len(names)})")
    if args.resume and not args.out:
        raise UsageError("--resume needs --out")
    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit must be >= 0")

    info = init_distributed(args.device)
    device = resolve_device(args.device)
    if info.distributed and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", info.local_rank)  # one GPU per rank
    dtype = (torch.float16 if device.type == "cuda" else torch.bfloat16) if args.amp else None
    slow = slow_low_precision_warning(device, dtype)
    if slow and info.is_main:
        print(f"slowfast-zoo: warning: --amp: {slow}", file=sys.stderr)
    # CPU: one worker decodes the next video while the model runs (measured 1.08x the throughput
    # of none on 2 cores, benchmarks/RESULTS.md "Evaluate over short videos").
    workers = args.workers if args.workers is not None else (4 if device.type == "cuda" else 1)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick its fastest kernels
    selection = range(len(dataset) if args.limit is None else min(args.limit, len(dataset)))

    header = {
        "model": {"name": cfg.name, "weights": os.fspath(args.weights) if args.weights else cfg.url,
                  "sha256_prefix": None if args.weights else cfg.sha256_prefix,
                  "published": {"top1": cfg.top1, "top5": cfg.top5}},
        "protocol": protocol,
        "dataset": {"ann_file": os.fspath(args.ann_file), "data_root": args.data_root,
                    "data_format": args.data_format, "num_videos": len(dataset), "limit": args.limit},
        "dtype": str(dtype or torch.float32).replace("torch.", ""),
        "label_map": label_map,
        "class_names": names,
    }
    done = load_records(args.out, header) if args.resume else {}
    if args.out and not args.resume and info.is_main and Path(args.out).exists():
        log.warning("overwriting %s (use --resume to continue it instead)", args.out)

    model = create_model(args.model, pretrained=True, checkpoint_path=args.weights,
                         progress=info.is_main and not args.no_progress)
    writer = (ResultWriter(args.out, header, records=done, every_s=args.save_every, rank=info.rank,
                           world_size=info.world_size) if args.out else None)
    if writer is not None and not args.resume:
        writer.discard_stale()
    try:
        with terminate_as_interrupt():  # SIGTERM saves finished videos like Ctrl-C does
            result = evaluate(model, dataset, average=protocol["average_clips"],
                              views_per_batch=args.views_per_batch, device=device, dtype=dtype,
                              progress=not args.no_progress, num_workers=workers, indices=selection,
                              resume_from=done, on_result=writer.add if writer else None)
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (slowfast_zoo._signals)
        if writer is not None:
            writer.flush()  # keep every finished video for --resume
            print(f"interrupted: finished videos saved in {writer.path}; rerun with --resume",
                  file=sys.stderr)
        return exit_code(e)
    except BaseException:
        if writer is not None:  # e.g. out of memory: still keep what is finished
            with contextlib.suppress(Exception):
                writer.flush()
        raise
    finally:
        if info.distributed:
            destroy_distributed()
    if not result.is_main:
        return 0
    if writer is not None:
        writer.finish(result.records, result.metrics, result.counts, selection)
    _report(result, cfg, header, args)
    if args.out:
        print(f"results written to {args.out}")
    if result.counts.get("evaluated", 0) == 0 and result.counts.get("selected", 0) > 0:
        print("slowfast-zoo: error: no video could be evaluated (see the skipped videos above)",
              file=sys.stderr)
        return 1
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    return run(args)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``eval`` subcommand."""
    p = sub.add_parser("eval", help="accuracy of a weight on your copy of its dataset (torchrun-ready)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=_cmd_eval)
