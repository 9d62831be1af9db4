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
the run finishes the others and exits with 1 if anything was skipped.
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
from slowfast_zoo.tools import ProgressBar, exit_code, path_inside, terminate_as_interrupt

log = logging.getLogger("extract_features")


def list_videos(source: Path) -> tuple[Path, list[str]]:
    """``(root, relative paths)`` of a folder's videos (recursive) or of a list file's lines."""
    if source.is_dir():
        return source, sorted(str(p.relative_to(source)) for p in source.rglob("*")
                              if p.suffix.lower() in VIDEO_EXTENSIONS)
    lines = [ln.split()[0] for ln in source.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return source.parent, lines


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
    try:
        with terminate_as_interrupt():  # SIGTERM like Ctrl-C: finished files are already written
            return _main(argv)
    except SlowFastZooError as err:
        print(f"extract_features: error: {str(err).replace('checkpoint_path=', '--weights ')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        print("extract_features: interrupted; finished files are kept, continue with --resume", file=sys.stderr)
        return exit_code(err)


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    if not a.source.exists():
        raise UsageError(f"{a.source}: no such folder or list file")
    if a.source.is_file() and a.source.suffix.lower() in VIDEO_EXTENSIONS:
        raise UsageError(f"{a.source} is a video: give the folder that holds the videos, or a list file")
    if a.out.exists() and not a.out.is_dir():
        raise UsageError(f"--out {a.out} exists and is not a folder")
    if a.weights and "://" not in a.weights and not os.path.isfile(a.weights):
        raise InputFileError(f"--weights {a.weights}: no such file")
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    root, rels = list_videos(a.source)
    rels = rels[rank::world]
    target, failed = {}, []
    for r in rels:
        try:
            target[r] = path_inside(a.out, r + ".safetensors")
        except SlowFastZooError as e:
            log.error("refused: %s", e)
            failed.append(r)
    todo = [r for r in target if not (a.resume and target[r].is_file())]
    log.info("rank %d/%d: %d videos, %d to do", rank, world, len(rels), len(todo))
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
    print(f"wrote {written} feature files to {a.out} ({len(failed)} skipped, "
          f"{len(target) - len(todo)} already there)")
    if failed:
        log.error("%d of %d videos skipped (listed above)", len(failed), len(rels))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
