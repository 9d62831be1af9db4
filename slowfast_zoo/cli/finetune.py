# ``slowfast-zoo finetune``: MMAction2's SlowFast training recipe (OpenMMLab, Apache-2.0; docs/SPEC.md
# section 4.7) on your classes. The job is the library's :func:`slowfast_zoo.training.finetune`
# (slowfast_zoo/training/finetune.py); this module parses, checks and prints.
"""``slowfast-zoo finetune``: fine-tune a SlowFast on class folders or ``path label`` lists.

Examples::

    slowfast-zoo finetune --data-root clips/ --val-fraction 0.1 --out-dir runs/mine --epochs 30
    slowfast-zoo finetune --train-list train.txt --val-list val.txt --data-root videos/ \\
        --classes classes.txt --out-dir runs/mine
    torchrun --nproc_per_node 8 -m slowfast_zoo finetune ...    # DDP, one process per GPU
    slowfast-zoo finetune ... --resume                          # continue a stopped run
    slowfast-zoo predict clip.mp4 --weights runs/mine/best.safetensors --num-classes K

Class folders: ``clips/<class>/<video>`` (classes in sorted folder order). Each epoch prints
``epoch N  loss X  val top1 Y`` (``--json``: its ``log.jsonl`` object) and writes, in
``--out-dir``, ``log.jsonl``, ``latest.safetensors``, ``epoch_NNN.safetensors``, ``best.safetensors``
(the highest validation top-1 so far) and ``training_state.pt`` (what ``--resume`` reads). SIGTERM
(torchrun, SLURM) stops it like Ctrl-C: finished epochs are kept, exit status 143.
"""

from __future__ import annotations

import argparse
import math
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slowfast_zoo._signals import exit_code
from slowfast_zoo.errors import CheckpointError, InputFileError, UsageError
from slowfast_zoo.tools.checks import check_at_least, check_input_file, check_model_source, check_output_dir
from slowfast_zoo.tools.printing import json_text, printable

if TYPE_CHECKING:  # the library is imported when the command runs: `slowfast-zoo --help` stays fast
    from slowfast_zoo.training.finetune import FinetuneConfig

__all__ = ["register"]

_AMP = ("none", "bf16", "fp16")


def _finite(value: float | None, option: str, low: float, high: float = math.inf, *, open_low: bool = False,
            open_high: bool = False) -> None:
    """``value`` (when given) is a finite number in ``[low, high]`` (open ends as told)."""
    if value is None:
        return
    ok = (math.isfinite(value) and (value > low if open_low else value >= low)
          and (value < high if open_high else value <= high))
    if not ok:
        bound = f"> {low:g}" if open_low else f">= {low:g}"
        if high < math.inf:
            bound += f" and {'<' if open_high else '<='} {high:g}"
        raise UsageError(f"{option} must be a finite number {bound}, got {value:g}")


def _check_state(path: Path) -> None:
    """A file ``torch.save`` wrote (a zip archive with a pickle), checked without unpickling it;
    whether it is this run's state (architecture, classes) the job checks when it resumes."""
    try:
        with zipfile.ZipFile(path) as archive:
            ok = any(name.endswith("/data.pkl") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError) as e:
        raise CheckpointError(f"--resume {printable(path)}: not a training state of slowfast-zoo finetune ({e})") from e
    if not ok:
        raise CheckpointError(f"--resume {printable(path)}: not a training state of slowfast-zoo finetune "
                              f"(a zip archive without a torch pickle)")


def _check_folder(path: str, option: str) -> None:
    if not Path(path).is_dir():
        raise InputFileError(f"{option} {printable(path)}: no such folder")


def _check_data(a: argparse.Namespace) -> None:
    """The data options: one layout, its files and folders there, class counts that agree."""
    if a.train_list is None:  # class folders
        if a.data_root is None:
            raise UsageError("give --data-root DIR (one sub-folder of videos per class) or --train-list FILE "
                             "('path label' lines)")
        for option, given in (("--val-list", a.val_list), ("--classes", a.classes)):
            if given is not None:
                raise UsageError(f"{option} is for --train-list; class folders name their classes and validate "
                                 f"on --val-root or --val-fraction")
        if a.val_root is not None and a.val_fraction is not None:
            raise UsageError("--val-root and --val-fraction exclude each other")
        _finite(a.val_fraction, "--val-fraction", 0.0, 1.0, open_low=True, open_high=True)
        _check_folder(a.data_root, "--data-root")
        if a.val_root is not None:
            _check_folder(a.val_root, "--val-root")
        out = Path(a.out_dir).resolve()
        for option, root in (("--data-root", a.data_root), ("--val-root", a.val_root)):
            if root is not None and out.is_relative_to(Path(root).resolve()):
                raise UsageError(f"--out-dir {printable(a.out_dir)} is inside {option} {printable(root)}: "
                                 f"its files would be read as a class; write it elsewhere")
        from slowfast_zoo.training.lists import class_folder_names

        found = len(class_folder_names(a.data_root))
        if a.num_classes is not None and a.num_classes != found:
            raise UsageError(f"--num-classes {a.num_classes} but --data-root {printable(a.data_root)} has "
                             f"{found} class folders")
        return
    for option, given in (("--val-root", a.val_root), ("--val-fraction", a.val_fraction)):
        if given is not None:
            raise UsageError(f"{option} is for class folders (--data-root without --train-list)")
    check_input_file(a.train_list, "--train-list")
    if a.val_list is not None:
        check_input_file(a.val_list, "--val-list")
    if a.data_root is not None:
        _check_folder(a.data_root, "--data-root")
    if a.classes is not None:
        from slowfast_zoo.data.labels import read_label_map

        check_input_file(a.classes, "--classes")
        names = read_label_map(a.classes)
        if a.num_classes is not None and a.num_classes != len(names):
            raise UsageError(f"--num-classes {a.num_classes} but --classes {printable(a.classes)} has "
                             f"{len(names)} names")


def _check(a: argparse.Namespace) -> None:
    """Every option, before the data is read, the model built or a weight downloaded."""
    from slowfast_zoo.inference.device import resolve_device
    from slowfast_zoo.registry import get_arch_spec
    from slowfast_zoo.training import STATE_FILE

    check_output_dir(a.out_dir, "--out-dir")
    for option, value, least in (("--epochs", a.epochs, 1), ("--batch-size", a.batch_size, 1),
                                 ("--accum-steps", a.accum_steps, 1), ("--val-every", a.val_every, 1),
                                 ("--workers", a.workers, 0), ("--stop-after", a.stop_after, 1),
                                 ("--num-classes", a.num_classes, 1), ("--seed", a.seed, 0),
                                 ("--freeze-stages", a.freeze_stages, -1), ("--frame-interval", a.frame_interval, 1),
                                 ("--crop-size", a.crop_size, 32), ("--val-crop-size", a.val_crop_size, 32)):
        check_at_least(value, option, least)
    if a.freeze_stages > 4 or a.seed >= 2**32:  # the stages there are; numpy's seeds
        raise UsageError("--freeze-stages must be in -1..4 and --seed below 2**32")
    if max(a.crop_size, a.val_crop_size or 0) > a.resize_short_side:
        raise UsageError(f"--crop-size / --val-crop-size must not exceed --resize-short-side {a.resize_short_side}")
    _finite(a.lr, "--lr", 0.0, open_low=True)
    _finite(a.weight_decay, "--weight-decay", 0.0)
    _finite(a.warmup_epochs, "--warmup-epochs", 0.0)
    _finite(a.min_area, "--min-area", 0.0, 1.0, open_low=True)
    if a.from_scratch and a.weights:
        raise UsageError("--weights and --from-scratch exclude each other")
    if a.from_scratch:
        get_arch_spec(a.arch)  # an unknown name, with close matches
    else:
        check_model_source(a.arch, a.weights)
    check_at_least(a.clip_len, "--clip-len", get_arch_spec(a.arch).tau)
    resolve_device(a.device)
    _check_data(a)
    if a.resume:
        state = Path(a.out_dir) / STATE_FILE if a.resume is True else Path(a.resume)
        check_input_file(state, "--resume")
        _check_state(state)


def _config(a: argparse.Namespace) -> FinetuneConfig:
    """The :class:`~slowfast_zoo.training.FinetuneConfig` of the parsed options."""
    from slowfast_zoo.data.labels import read_label_map
    from slowfast_zoo.training import FinetuneConfig

    names = list(read_label_map(a.classes)) if a.classes else None
    return FinetuneConfig(
        arch=a.arch, train_list=a.train_list, val_list=a.val_list, data_root=a.data_root, val_root=a.val_root,
        val_fraction=a.val_fraction, class_names=names, num_classes=a.num_classes, out_dir=a.out_dir,
        pretrained=not a.from_scratch, checkpoint_path=a.weights, epochs=a.epochs, batch_size=a.batch_size,
        accum_steps=a.accum_steps, lr=a.lr, weight_decay=a.weight_decay, warmup_epochs=a.warmup_epochs,
        freeze_stages=a.freeze_stages, norm_eval=a.norm_eval, linear_probe=a.linear_probe, clip_len=a.clip_len,
        frame_interval=a.frame_interval, resize_short_side=a.resize_short_side, crop_size=a.crop_size,
        val_crop_size=a.val_crop_size or a.crop_size, area_range=(a.min_area, 1.0), flip=not a.no_flip,
        amp=a.amp, channels_last=a.channels_last, num_workers=a.workers, val_every=a.val_every, seed=a.seed,
        deterministic=a.deterministic, resume=a.resume, stop_after=a.stop_after, device=a.device,
        progress=not (a.no_progress or a.json))


def _epoch_line(line: dict[str, Any]) -> str:
    """The text line of an epoch's log record.

    Example:
        >>> _epoch_line({"epoch": 3, "loss": 0.6931, "val": {"top1_acc": 0.75}})
        'epoch 3  loss 0.6931  val top1 0.7500'
        >>> _epoch_line({"epoch": 4, "loss": float("nan")})
        'epoch 4  loss nan'
    """
    text = f"epoch {line['epoch']}  loss {line['loss']:.4f}"
    top1 = (line.get("val") or {}).get("top1_acc")
    return text if top1 is None else f"{text}  val top1 {top1:.4f}"


def _cmd_finetune(a: argparse.Namespace) -> int:
    _check(a)
    from slowfast_zoo.training.finetune import finetune

    shown: list[int] = []

    def show(line: dict[str, Any]) -> None:
        shown.append(line["epoch"])
        print(json_text(line) if a.json else _epoch_line(line), flush=True)

    try:
        summary = finetune(_config(a), on_epoch=show)
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: the finished epochs' files are whole
        print(f"slowfast-zoo: interrupted; finished epochs are saved in {printable(a.out_dir)}, continue with "
              f"--resume", file=sys.stderr)
        return exit_code(err)
    if summary["rank"] != 0:
        return 0
    last = summary["history"][-1]["epoch"] if summary["history"] else 0
    if not shown:
        print(f"slowfast-zoo: nothing to train: {last} of {a.epochs} epochs done in {printable(a.out_dir)}"
              + (f" (--stop-after {a.stop_after})" if a.stop_after is not None else ""), file=sys.stderr)
        return 0
    latest, best = printable(summary["latest"]), summary["best"]
    if best is None:
        what = f"{latest} (epoch {last}; no validation, so no best.safetensors)"
    else:
        what = (f"{printable(best['path'])} (epoch {best['epoch']}, val top1 {best['top1_acc']:.4f}) and "
                f"{latest} (epoch {last})")
    print(f"slowfast-zoo: wrote {what}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``finetune`` subcommand."""
    p = sub.add_parser("finetune", help="fine-tune a SlowFast on class folders or 'path label' lists",
                       description="Fine-tune a SlowFast on class folders (DIR/<class>/<video>) or 'path label' "
                                   "lists with MMAction2's recipe; per epoch: loss and validation top-1, the "
                                   "latest and best weights, log.jsonl.")
    d = p.add_argument_group("data (class folders: --data-root alone; lists: --train-list)")
    d.add_argument("--data-root", metavar="DIR",
                   help="class folders DIR/<class>/<video> (classes in sorted folder order; videos by "
                        "extension, sub-folders included), or with --train-list the folder its paths are "
                        "relative to")
    d.add_argument("--val-root", metavar="DIR", help="class folders: validation videos in the same layout")
    d.add_argument("--val-fraction", type=float, metavar="F",
                   help="class folders: validate on this fraction of each class's videos (at least 1 of a "
                        "class with 2+), drawn with --seed; none of --val-root/--val-fraction: no validation")
    d.add_argument("--train-list", metavar="FILE", help="'path label' lines instead of class folders")
    d.add_argument("--val-list", metavar="FILE", help="with --train-list: 'path label' lines for validation")
    d.add_argument("--classes", metavar="FILE",
                   help="with --train-list: one class name per line (fixes the class count)")
    d.add_argument("--num-classes", type=int, metavar="K",
                   help="class count (default: from the data: the class folders, --classes, or the largest "
                        "training label + 1)")
    m = p.add_argument_group("model")
    m.add_argument("--arch", "--model", dest="arch", default="slowfast_r50_4x16x1",
                   help="weight NAME[.TAG] to start from, its classifier replaced (default: %(default)s)")
    m.add_argument("--weights", "--checkpoint", dest="weights", metavar="PATH",
                   help="start from this .pth/.safetensors instead of the published weights")
    m.add_argument("--from-scratch", action="store_true", help="random initialisation, no weights")
    m.add_argument("--freeze-stages", type=int, default=-1,
                   help="-1: train all (default), 0: freeze the stems, k: stems + stages 1..k")
    m.add_argument("--norm-eval", action="store_true", help="keep BatchNorm statistics frozen")
    m.add_argument("--linear-probe", action="store_true", help="train only the classifier")
    o = p.add_argument_group("optimisation (MMAction2's recipe: SGD, warmup then cosine per iteration)")
    o.add_argument("--epochs", type=int, default=30, help="(default: %(default)s)")
    o.add_argument("--batch-size", type=int, default=8, help="videos per process per step (default: %(default)s)")
    o.add_argument("--accum-steps", type=int, default=1, help="gradient accumulation steps (default: %(default)s)")
    o.add_argument("--lr", type=float, help="learning rate (default: 0.1 x total batch / 64)")
    o.add_argument("--weight-decay", type=float, default=1e-4, help="(default: %(default)s)")
    o.add_argument("--warmup-epochs", type=float, help="(default: 34/256 of --epochs)")
    o.add_argument("--amp", choices=_AMP, default="none",
                   help="autocast dtype, for GPUs (fp16 with a gradient scaler; default: none)")
    o.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    o.add_argument("--deterministic", action="store_true", help="deterministic algorithms (slower)")
    i = p.add_argument_group("input size (default: the recipe's 32 frames every 2nd, short side 256, crop 224)")
    i.add_argument("--clip-len", type=int, default=32, help="frames per clip (default: %(default)s)")
    i.add_argument("--frame-interval", type=int, default=2, help="frame step in a clip (default: %(default)s)")
    i.add_argument("--resize-short-side", type=int, default=256, help="(default: %(default)s)")
    i.add_argument("--crop-size", type=int, default=224, help="training crop (default: %(default)s)")
    i.add_argument("--val-crop-size", type=int, help="validation centre crop (default: --crop-size)")
    i.add_argument("--min-area", type=float, default=0.08,
                   help="RandomResizedCrop's smallest area fraction (default: %(default)s)")
    i.add_argument("--no-flip", action="store_true", help="no horizontal flip (classes where direction matters)")
    r = p.add_argument_group("run")
    r.add_argument("--out-dir", required=True, metavar="DIR", help="weights, log.jsonl and the training state")
    r.add_argument("--resume", nargs="?", const=True, default=False, metavar="STATE",
                   help="continue from OUT_DIR/training_state.pt (or the given state file)")
    r.add_argument("--stop-after", type=int, metavar="N",
                   help="end this job after epoch N (the schedule still spans --epochs)")
    r.add_argument("--val-every", type=int, default=5,
                   help="validate every N epochs, and after the last (default: %(default)s)")
    r.add_argument("--workers", type=int, default=2, help="decoding worker processes (default: %(default)s)")
    r.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda:LOCAL_RANK when available, else cpu)")
    r.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels_last_3d training (default: on for CPU, off on GPU)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar (it only draws on a terminal)")
    r.add_argument("--json", action="store_true", help="print each epoch's log.jsonl object, one per line")
    p.set_defaults(func=_cmd_finetune)
