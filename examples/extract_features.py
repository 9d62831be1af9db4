#!/usr/bin/env python
"""Write SlowFast clip embeddings for a folder (or list) of videos: one ``.safetensors`` each.

    python examples/extract_features.py videos/ --out feats/ --model slowfast_r50_4x16x1 --stride 32

Each ``feats/<relative path>.safetensors`` holds ``embeddings`` float32 ``[num_clips, 2304]``
(channels 0-255: fast pathway, 256-2303: slow pathway), ``timestamps`` float64
``[num_clips, 2]`` (clip start/end in seconds) and ``frame_indices`` int64
``[num_clips, clip_len]``; metadata: model, fps, source path. Files are written atomically;
``--resume`` skips videos whose file exists. Under ``torchrun --nproc_per_node N`` the videos
are split over the N processes (``videos[rank::N]``).

Outputs stay inside ``--out``: a list line with an absolute path or a ``..`` segment is refused
(reported, nothing written). A video that cannot be read is reported (file, reason) and skipped;
the run finishes the others and exits with 1 if anything was skipped. Every option is checked
before the model is built; a mistake is one line, exit 2 (``-v``: with the traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

import slowfast_zoo as sz
from slowfast_zoo.data import VIDEO_EXTENSIONS, VideoReader
from slowfast_zoo.errors import InputFileError, SlowFastZooError, UsageError, VideoDecodeError
from slowfast_zoo.inference import resolve_device
from slowfast_zoo.registry import get_arch_spec, get_pretrained_cfg
from slowfast_zoo.tools import (
    OneLineArgumentParser,
    ProgressBar,
    check_at_least,
    check_model_source,
    check_output_dir,
    exit_code,
    path_inside,
    print_error,
    printable,
    remove_leftovers,
    setup_logging,
    terminate_as_interrupt,
)

log = logging.getLogger("extract_features")


def list_videos(source: Path) -> tuple[Path, list[str]]:
    """``(root, relative paths)`` of a folder's videos (recursive) or of a list file's lines."""
    if source.is_dir():
        return source, sorted(str(p.relative_to(source)) for p in source.rglob("*")
                              if p.suffix.lower() in VIDEO_EXTENSIONS)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as e:
        raise InputFileError(f"{printable(source)}: cannot read the list ({e.strerror or e})") from e
    except UnicodeDecodeError as e:
        raise UsageError(f"{printable(source)}: the list is not UTF-8 text ({e.reason} at byte {e.start})") from e
    return source.parent, [ln.split()[0] for ln in text.splitlines() if ln.strip()]


class _Readers(Dataset):
    """Opens each video in a worker (counting frames there), so decoding overlaps the model."""

    def __init__(self, root: Path, rels: list[str]) -> None:
        self.root, self.rels = root, rels

    def __len__(self) -> int:
        return len(self.rels)

    def __getitem__(self, i: int) -> tuple[str, VideoReader | str]:
        try:
            reader = VideoReader(self.root / self.rels[i])
            reader.num_frames  # noqa: B018 - decode the count in the worker
        except VideoDecodeError as e:  # reported by the main process, which goes on
            return self.rels[i], str(e)
        return self.rels[i], reader


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    setup_logging(logging.INFO)
    try:
        with terminate_as_interrupt():  # SIGTERM like Ctrl-C: finished files are already written
            return _main(a)
    except (SlowFastZooError, OSError) as err:
        return print_error("extract_features", err, verbose=a.verbose,
                           words={"checkpoint_path=": "--weights "})
    except KeyboardInterrupt as err:
        print("extract_features: interrupted; finished files are kept, continue with --resume", file=sys.stderr)
        return exit_code(err)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = OneLineArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", type=Path, help="folder of videos, or a list file (first column: path)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--model", default="slowfast_r50_4x16x1")
    p.add_argument("--weights", "--checkpoint", dest="weights",
                   help="weights file instead of the published ones (--checkpoint is an alias)")
    p.add_argument("--num-classes", type=int, help="class count of --weights (fine-tuned files)")
    p.add_argument("--clip-len", type=int)
    p.add_argument("--frame-interval", type=int)
    p.add_argument("--num-clips", type=int)
    p.add_argument("--stride", type=int, help="dense clips every N frames (default: evenly spread clips)")
    p.add_argument("--crop", choices=["center", "three"], default="center")
    p.add_argument("--crop-size", type=int)
    p.add_argument("--resize-short-side", type=int)
    p.add_argument("--resume", action="store_true", help="skip videos whose output exists")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device")
    p.add_argument("-v", "--verbose", action="store_true", help="tracebacks with errors")
    return p.parse_args(argv)


def check(a: argparse.Namespace) -> None:
    """Every option, before the model is built or a weight downloaded."""
    if not a.source.exists():
        raise UsageError(f"{printable(a.source)}: no such folder or list file")
    if a.source.is_file() and a.source.suffix.lower() in VIDEO_EXTENSIONS:
        raise UsageError(f"{printable(a.source)} is a video: give the folder that holds the videos, or a list file")
    check_output_dir(a.out, "--out")
    check_model_source(a.model, a.weights)
    resolve_device(a.device)
    for option, value, least in (("--workers", a.workers, 0), ("--num-classes", a.num_classes, 1),
                                 ("--clip-len", a.clip_len, 1), ("--frame-interval", a.frame_interval, 1),
                                 ("--num-clips", a.num_clips, 1), ("--stride", a.stride, 1),
                                 ("--crop-size", a.crop_size, 32), ("--resize-short-side", a.resize_short_side, 32)):
        check_at_least(value, option, least)
    if a.model.startswith(("hf-hub:", "local-dir:")):
        return  # a saved model's protocol is known once it is loaded
    test = get_pretrained_cfg(a.model).test
    check_at_least(a.clip_len, "--clip-len", get_arch_spec(a.model).tau)
    crop = a.crop_size or test.crop_size
    short = a.resize_short_side or test.resize_short_side
    if crop > short:
        raise UsageError(f"--crop-size {crop} is larger than --resize-short-side {short}")


def _main(a: argparse.Namespace) -> int:
    check(a)
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    root, rels = list_videos(a.source)
    if not rels:
        raise UsageError(f"{printable(a.source)}: no video found (extensions {' '.join(sorted(VIDEO_EXTENSIONS))})")
    rels = rels[rank::world]
    if rank == 0:  # temporary files of a killed earlier run (only those of dead processes)
        remove_leftovers(a.out, recursive=True)
    target, failed = {}, []
    for r in rels:
        try:
            target[r] = path_inside(a.out, r + ".safetensors")
        except SlowFastZooError as e:
            log.error("refused: %s", e)
            failed.append(r)
    todo = [r for r in target if not (a.resume and target[r].is_file())]
    log.info("rank %d/%d: %d videos, %d to do", rank, world, len(rels), len(todo))
    written = _extract(a, root, todo, target, failed, rank) if todo else 0
    print(f"wrote {written} feature files to {printable(a.out)} ({len(failed)} skipped, "
          f"{len(target) - len(todo)} already there)")
    if failed:
        log.error("%d of %d videos skipped (listed above)", len(failed), len(rels))
        return 1
    return 0


def _extract(a: argparse.Namespace, root: Path, todo: list[str], target: dict[str, Path],
             failed: list[str], rank: int) -> int:
    """Features of the ``todo`` videos into their ``target`` files; returns how many were written."""
    model = sz.create_model(a.model, pretrained=True, checkpoint_path=a.weights, num_classes=a.num_classes)
    device = a.device or (f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu")
    model = sz.inference.prepare_model(model, device=device)  # eval mode, BatchNorm folded
    loader = DataLoader(_Readers(root, todo), batch_size=None, num_workers=a.workers)
    bar = ProgressBar(total=len(todo), desc="features", enabled=rank == 0, unit="videos")
    written = 0
    for rel, reader in loader:
        if isinstance(reader, str):
            log.error("skipped: %s", reader)
            failed.append(rel)
            bar.update(1)
            continue
        try:
            f = sz.extract_features(model, reader, clip_len=a.clip_len, frame_interval=a.frame_interval,
                                    num_clips=a.num_clips, stride=a.stride, crop=a.crop,
                                    crop_size=a.crop_size, resize_short_side=a.resize_short_side,
                                    prepare=False)
        except VideoDecodeError as e:
            log.error("skipped: %s", e)
            failed.append(rel)
            bar.update(1)
            continue
        target[rel].parent.mkdir(parents=True, exist_ok=True)
        f.save(target[rel], model=a.model, source=rel, crop=a.crop,
               args={k: v for k, v in vars(a).items()
                     if k in ("clip_len", "frame_interval", "num_clips", "stride", "crop_size")})
        written += 1
        bar.update(1)
    bar.close()
    return written


if __name__ == "__main__":
    sys.exit(main())
