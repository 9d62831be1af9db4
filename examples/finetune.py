#!/usr/bin/env python
"""Fine-tune a SlowFast on your own ``path label`` lists (MMAction2's recipe, docs/SPEC.md 4.7).

One machine::

    python examples/finetune.py --arch slowfast_r50_4x16x1 --train-list train.txt \
        --val-list val.txt --data-root videos/ --out-dir runs/mine --epochs 30 --batch-size 8

Many GPUs (DDP, one process per GPU; gloo on CPU)::

    torchrun --nproc_per_node 8 examples/finetune.py ... same flags ...

Continue a stopped run: add ``--resume``. Use the result::

    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, num_classes=K,
                            checkpoint_path="runs/mine/latest.safetensors")
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import zipfile
from pathlib import Path

from slowfast_zoo.data import read_label_map
from slowfast_zoo.errors import CheckpointError, InputFileError, SlowFastZooError, UsageError
from slowfast_zoo.inference import resolve_device
from slowfast_zoo.registry import get_arch_spec
from slowfast_zoo.tools import (
    OneLineArgumentParser,
    check_at_least,
    check_input_file,
    check_model_source,
    check_output_dir,
    exit_code,
    json_text,
    print_error,
    printable,
    setup_logging,
    terminate_as_interrupt,
)
from slowfast_zoo.training import STATE_FILE, FinetuneConfig, finetune


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = OneLineArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", default="slowfast_r50_4x16x1", help="model name (weights to start from)")
    p.add_argument("--train-list", required=True, help="'path label' lines")
    p.add_argument("--val-list", help="'path label' lines for validation")
    p.add_argument("--data-root", help="folder the list paths are relative to")
    p.add_argument("--classes", help="file with one class name per line (fixes the class count)")
    p.add_argument("--num-classes", type=int, help="class count (default: largest train label + 1)")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--weights", "--checkpoint", dest="weights",
                   help="start from this .pth/.safetensors instead of the published weights "
                        "(--checkpoint is an alias)")
    p.add_argument("--from-scratch", action="store_true", help="random initialisation")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=8, help="videos per process per micro-step")
    p.add_argument("--accum-steps", type=int, default=1, help="gradient accumulation steps")
    p.add_argument("--lr", type=float, help="default: 0.1 * total batch / 64")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--warmup-epochs", type=float, help="default: 34/256 of the epochs")
    p.add_argument("--freeze-stages", type=int, default=-1, help="-1: none, 0: stems, k: stems + stages 1..k")
    p.add_argument("--norm-eval", action="store_true", help="keep BatchNorm statistics frozen")
    p.add_argument("--linear-probe", action="store_true", help="train only the classifier")
    p.add_argument("--clip-len", type=int, default=32)
    p.add_argument("--frame-interval", type=int, default=2)
    p.add_argument("--resize-short-side", type=int, default=256)
    p.add_argument("--crop-size", type=int, default=224)
    p.add_argument("--val-crop-size", type=int, help="default: --crop-size")
    p.add_argument("--min-area", type=float, default=0.08, help="RandomResizedCrop smallest area fraction")
    p.add_argument("--no-flip", action="store_true", help="no horizontal flip (direction-sensitive classes)")
    p.add_argument("--amp", choices=["none", "bf16", "fp16"], default="none")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels_last_3d training (default: on for CPU, off on GPU)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--val-every", type=int, default=5, help="validate every N epochs (and after the last)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deterministic", action="store_true")
    p.add_argument("--resume", nargs="?", const=True, default=False,
                   help="continue from OUT_DIR/training_state.pt (or the given state file)")
    p.add_argument("--stop-after", type=int, help="end this job after epoch N (schedule still spans --epochs)")
    p.add_argument("--device", help="default: cuda:LOCAL_RANK when available, else cpu")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it only draws on a terminal)")
    p.add_argument("-v", "--verbose", action="store_true", help="tracebacks with errors")
    return p.parse_args(argv)


def _finite(value: float | None, option: str, low: float, high: float = math.inf, *, open_low: bool = False) -> None:
    """``value`` (when given) is a finite number in ``[low, high]`` (``(low, high]`` with ``open_low``)."""
    if value is None:
        return
    if not (math.isfinite(value) and (value > low if open_low else value >= low) and value <= high):
        bound = f"> {low:g}" if open_low else f">= {low:g}"
        raise UsageError(f"{option} must be a finite number {bound}" + (f" and <= {high:g}" if high < math.inf else "")
                         + f", got {value:g}")


def _check_state(path: Path) -> None:
    """A file ``torch.save`` wrote (a zip archive with a pickle), checked without unpickling it;
    whether it is this run's state (architecture, classes) finetune() checks when it resumes."""
    try:
        with zipfile.ZipFile(path) as archive:
            ok = any(name.endswith("/data.pkl") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError) as e:
        raise CheckpointError(f"--resume {printable(path)}: not a training state of this script ({e})") from e
    if not ok:
        raise CheckpointError(f"--resume {printable(path)}: not a training state of this script "
                              f"(a zip archive without a torch pickle)")


def check(a: argparse.Namespace) -> None:
    """Every option, before the model is built or a weight downloaded."""
    check_output_dir(a.out_dir, "--out-dir")
    check_input_file(a.train_list, "--train-list")
    if a.val_list:
        check_input_file(a.val_list, "--val-list")
    if a.data_root and not Path(a.data_root).is_dir():
        raise InputFileError(f"--data-root {printable(a.data_root)}: no such folder")
    if a.from_scratch and a.weights:
        raise UsageError("--weights and --from-scratch exclude each other")
    if a.from_scratch:
        get_arch_spec(a.arch)  # an unknown name, with close matches
    else:
        check_model_source(a.arch, a.weights)
    resolve_device(a.device)
    tau = get_arch_spec(a.arch).tau
    for option, value, least in (("--epochs", a.epochs, 1), ("--batch-size", a.batch_size, 1),
                                 ("--accum-steps", a.accum_steps, 1), ("--val-every", a.val_every, 1),
                                 ("--workers", a.workers, 0), ("--stop-after", a.stop_after, 1),
                                 ("--num-classes", a.num_classes, 1), ("--seed", a.seed, 0),
                                 ("--freeze-stages", a.freeze_stages, -1), ("--clip-len", a.clip_len, tau),
                                 ("--frame-interval", a.frame_interval, 1), ("--crop-size", a.crop_size, 32),
                                 ("--val-crop-size", a.val_crop_size, 32)):
        check_at_least(value, option, least)
    if a.freeze_stages > 4 or a.seed >= 2**32:  # the stages there are; numpy's seeds
        raise UsageError("--freeze-stages must be in -1..4 and --seed below 2**32")
    if max(a.crop_size, a.val_crop_size or 0) > a.resize_short_side:
        raise UsageError(f"--crop-size / --val-crop-size must not exceed --resize-short-side {a.resize_short_side}")
    _finite(a.lr, "--lr", 0.0, open_low=True)
    _finite(a.weight_decay, "--weight-decay", 0.0)
    _finite(a.warmup_epochs, "--warmup-epochs", 0.0)
    _finite(a.min_area, "--min-area", 0.0, 1.0, open_low=True)
    if a.resume:
        state = Path(a.out_dir) / STATE_FILE if a.resume is True else Path(a.resume)
        check_input_file(state, "--resume")
        _check_state(state)


def config(a: argparse.Namespace) -> FinetuneConfig:
    names = list(read_label_map(a.classes)) if a.classes else None
    return FinetuneConfig(
        arch=a.arch, train_list=a.train_list, val_list=a.val_list, data_root=a.data_root,
        class_names=names, num_classes=a.num_classes, out_dir=a.out_dir, pretrained=not a.from_scratch,
        checkpoint_path=a.weights, epochs=a.epochs, batch_size=a.batch_size, accum_steps=a.accum_steps,
        lr=a.lr, weight_decay=a.weight_decay, warmup_epochs=a.warmup_epochs, freeze_stages=a.freeze_stages,
        norm_eval=a.norm_eval, linear_probe=a.linear_probe, clip_len=a.clip_len,
        frame_interval=a.frame_interval, resize_short_side=a.resize_short_side, crop_size=a.crop_size,
        val_crop_size=a.val_crop_size or a.crop_size, area_range=(a.min_area, 1.0), flip=not a.no_flip,
        amp=a.amp, channels_last=a.channels_last, num_workers=a.workers, val_every=a.val_every, seed=a.seed,
        deterministic=a.deterministic, resume=a.resume, stop_after=a.stop_after, device=a.device,
        progress=not a.no_progress)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    setup_logging(logging.INFO, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        check(a)
        with terminate_as_interrupt():  # SIGTERM like Ctrl-C: finished epochs are checkpointed
            summary = finetune(config(a))
    except (SlowFastZooError, OSError) as err:  # a bad list, option or file: one line
        return print_error("finetune", err, verbose=a.verbose, words={"checkpoint_path=": "--weights "})
    except KeyboardInterrupt as err:
        print("finetune: interrupted; finished epochs are saved, continue with --resume", file=sys.stderr)
        return exit_code(err)
    if summary["history"]:
        print(json_text(summary["history"][-1]))  # a NaN loss is written null, not bare NaN
    return 0


if __name__ == "__main__":
    sys.exit(main())
