# Fine-tuning loop.
#
# The schedule and optimiser are MMAction2's SlowFast Kinetics-400 training recipe
# (OpenMMLab, Apache-2.0, https://github.com/open-mmlab/mmaction2, v0.13.0; docs/SPEC.md section
# 4.7), adapted to custom datasets: lr from the linear scaling rule, warmup + cosine per
# iteration. An independent re-implementation; no MMAction2 code is copied.
"""``finetune(FinetuneConfig(...))``: fine-tune a SlowFast on ``path label`` lists or class folders.

The data (:mod:`.lists`): ``path label`` lists (``train_list``, ``val_list``, relative to
``data_root``), or class folders (no ``train_list``: ``data_root/<class>/<video>``, classes in
sorted folder order, validation on ``val_root`` of the same layout or on ``val_fraction`` of each
class, drawn with ``seed``). ``slowfast-zoo finetune`` is the command line of this function.

One process or many (``torchrun``: DDP, NCCL on GPUs, gloo on CPU). Each epoch writes, in
``out_dir``:

* ``log.jsonl``: one JSON object per epoch (``epoch``, ``iters``, ``lr``, ``loss``,
  ``time_s``, ``peak_memory_mb`` + ``memory_kind``, and after validation ``val`` =
  ``{top1_acc, top5_acc (K >= 5), mean_class_accuracy}``);
* ``epoch_NNN.safetensors`` and ``latest.safetensors``: weights + metadata (architecture,
  class names), loadable with ``create_model(arch, pretrained=True, num_classes=K,
  checkpoint_path=...)`` and ``slowfast-zoo predict --weights``; ``best.safetensors``: the
  weights of the epoch with the highest validation top-1 so far (the first of equals; written
  only by runs that validate);
* ``training_state.pt``: model, optimizer, scheduler, grad scaler, epoch and every rank's RNG
  states, loadable with ``torch.load(weights_only=True)``; ``resume=True`` continues from it.

Example:
    >>> from slowfast_zoo.training.finetune import FinetuneConfig, finetune
    >>> cfg = FinetuneConfig(arch="slowfast_r50_4x16x1", train_list="train.txt",
    ...                      val_list="val.txt", data_root="videos/", out_dir="run", epochs=30)
    >>> folders = FinetuneConfig(arch="slowfast_r50_4x16x1", train_list=None, data_root="clips/",
    ...                          val_fraction=0.1, out_dir="run2")
    >>> summary = finetune(cfg)   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader, DistributedSampler

from slowfast_zoo._io import atomic_write_text, json_finite, remove_leftovers
from slowfast_zoo._progress import ProgressBar
from slowfast_zoo.data.datasets import VideoDataset, collate_skip_failures
from slowfast_zoo.data.presets import ViewTransform, test_transform
from slowfast_zoo.data.train_presets import TrainTransform, train_transform
from slowfast_zoo.evaluation.distributed import DistInfo, init_distributed
from slowfast_zoo.evaluation.runner import evaluate
from slowfast_zoo.errors import CheckpointError, InputFileError, UsageError
from slowfast_zoo.factory import create_model
from slowfast_zoo.registry import get_pretrained_cfg
from slowfast_zoo.registry.records import PretrainedCfg, TestProtocol, TrainProtocol
from slowfast_zoo.inference.device import parse_dtype, peak_memory_bytes, reset_peak_memory, resolve_device
from slowfast_zoo.inference.engine import prepare_model
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.training.checkpoints import (
    load_training_state,
    rng_state,
    save_training_state,
    save_weights,
    set_rng_state,
)
from slowfast_zoo.training.freezing import configure_finetune
from slowfast_zoo.training.lists import TrainingData, training_data
from slowfast_zoo.training.schedule import WarmupCosine, scaled_lr

__all__ = ["FinetuneConfig", "finetune", "STATE_FILE", "LOG_FILE", "LATEST_WEIGHTS", "BEST_WEIGHTS"]

log = logging.getLogger(__name__)

STATE_FILE = "training_state.pt"
LOG_FILE = "log.jsonl"
LATEST_WEIGHTS = "latest.safetensors"
BEST_WEIGHTS = "best.safetensors"
_AMP = ("none", "bf16", "fp16")
# The recipe's input sizes, from the one source of protocol constants.
_RECIPE = TrainProtocol()
_VAL = TestProtocol()
_SHORT_SIDE: int = _RECIPE.resize_short_side or _VAL.resize_short_side


@dataclass
class FinetuneConfig:
    """Everything a fine-tuning run needs (``slowfast-zoo finetune`` maps its options onto this).

    Data: ``train_list``/``val_list`` are ``path label`` lines (paths relative to
    ``data_root``); ``class_names`` (optional) fixes K and is stored in the weights;
    otherwise ``num_classes`` or the largest train label + 1. Without ``train_list``,
    ``data_root`` holds class folders (``data_root/<class>/<video>``: K = the number of folders,
    their sorted names the class names; ``num_classes``, when given, must agree), validated on
    ``val_root`` (the same layout) or on ``val_fraction`` of each class's videos (drawn with
    ``seed``; none of either: no validation). A video that cannot be read is left
    out of its batch, logged once (file, reason) and listed in the result's ``"skipped"``; a batch
    in which every video fails is skipped (under torchrun that rank then does one step less, so
    keep a batch size above 1 there).

    Input size (defaults: the recipe's 32 frames every 2nd frame, short side 256, crop 224):
    ``clip_len``, ``frame_interval``, ``resize_short_side``, ``crop_size`` (train) and
    ``val_crop_size``; ``area_range`` of RandomResizedCrop; ``flip`` = random horizontal flip.

    ``stop_after``: end this job after that epoch (the schedule still spans ``epochs``), for
    runs split over time-limited jobs; continue with ``resume=True``.

    Optimisation: ``lr=None`` means ``0.1 * batch_size * world_size * accum_steps / 64``;
    ``warmup_epochs=None`` means ``34/256`` of the run, like the recipe's 34 of 256 epochs.

    ``progress``: a progress bar over each epoch's batches (stderr, terminal only, rank 0).

    ``channels_last``: train in the channels_last_3d memory format, where the convs run as 2-D
    convs (``models.layers.Conv3d``). ``None`` = on for CPU (faster per step there, measured with
    benchmarks/bench_train_step.py: benchmarks/RESULTS.md), off on GPUs (not measured there).
    """

    arch: str
    train_list: str | None
    out_dir: str
    val_list: str | None = None
    data_root: str | None = None
    val_root: str | None = None
    val_fraction: float | None = None
    class_names: list[str] | None = None
    num_classes: int | None = None
    pretrained: bool = True
    checkpoint_path: str | None = None
    epochs: int = 30
    batch_size: int = 8
    accum_steps: int = 1
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 1e-4
    clip_grad: float = 40.0
    warmup_epochs: float | None = None
    warmup_ratio: float = 0.1
    freeze_stages: int = -1
    norm_eval: bool = False
    linear_probe: bool = False
    clip_len: int = _RECIPE.clip_len
    frame_interval: int = _RECIPE.frame_interval
    resize_short_side: int = _SHORT_SIDE
    crop_size: int = _RECIPE.crop_size
    val_crop_size: int = _VAL.val_crop_size
    area_range: tuple[float, float] = _RECIPE.area_range
    flip: bool = True
    amp: str = "none"
    channels_last: bool | None = None
    num_workers: int = 2
    val_every: int = 5
    seed: int = 0
    deterministic: bool = False
    resume: bool | str = False
    stop_after: int | None = None
    device: str | None = None
    progress: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        # CUBLAS needs this before the first cuBLAS call for deterministic matmuls.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def _protocol(cfg: FinetuneConfig, pcfg: PretrainedCfg, num_classes: int) -> PretrainedCfg:
    """The weight's record with the run's train input sizes: train_transform then builds from it."""
    # A flip label map names the weight's own classes (Something-Something V1): it only applies
    # when the run keeps them.
    swap = pcfg.train.flip_label_map if num_classes == pcfg.num_classes else ()
    low, high = cfg.area_range
    train = dataclasses.replace(pcfg.train, crop_size=cfg.crop_size, area_range=(low, high),
                                flip_label_map=swap, clip_len=cfg.clip_len,
                                frame_interval=cfg.frame_interval, resize_short_side=cfg.resize_short_side)
    return dataclasses.replace(pcfg, train=train)


def _train_transform(cfg: FinetuneConfig, pcfg: PretrainedCfg, num_classes: int,
                     seed: int) -> TrainTransform:
    return train_transform(_protocol(cfg, pcfg, num_classes), flip=cfg.flip, rng=seed)


def _val_transform(cfg: FinetuneConfig, pcfg: PretrainedCfg, num_classes: int) -> ViewTransform:
    # MMAction2's validation pipeline: one clip, centre crop.
    return test_transform(pcfg, views="val", clip_len=cfg.clip_len, frame_interval=cfg.frame_interval,
                          resize_short_side=cfg.resize_short_side, crop_size=cfg.val_crop_size)


def _data(cfg: FinetuneConfig, out: Path) -> TrainingData:
    """The run's classes and videos, every video checked to exist, before any model is built."""
    if cfg.train_list is None and cfg.data_root is not None:
        for root in (cfg.data_root, cfg.val_root):
            if root is not None and out.resolve().is_relative_to(Path(root).resolve()):
                raise UsageError(f"out_dir {out} is inside the class folders of {root}: its files would "
                                 f"be read as a class; write it elsewhere")
    return training_data(train_list=cfg.train_list, val_list=cfg.val_list, data_root=cfg.data_root,
                         val_root=cfg.val_root, val_fraction=cfg.val_fraction, class_names=cfg.class_names,
                         num_classes=cfg.num_classes, seed=cfg.seed)


def _best(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The epoch with the highest finite validation top-1 (the first of equals), or None."""
    best: dict[str, Any] | None = None
    for line in history:
        top1 = (line.get("val") or {}).get("top1_acc")
        if isinstance(top1, (int, float)) and math.isfinite(top1) and (best is None or top1 > best["top1_acc"]):
            best = {"epoch": line["epoch"], "top1_acc": top1}
    return best


def _all_reduce_mean(values: list[float], device: torch.device, distributed: bool) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if distributed:
        dist.all_reduce(t)
        t /= dist.get_world_size()
    return t.tolist()


def _validate(model: SlowFast, val_ds: VideoDataset, device: torch.device,
              dtype: torch.dtype | None) -> dict[str, float]:
    model.eval()
    # prepare=False: fusing would make the training model inference-only.
    result = evaluate(model, val_ds, device=device, dtype=dtype, progress=False, prepare=False)
    model.train()
    return dict(result.metrics)


def finetune(cfg: FinetuneConfig, *, on_epoch: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run (or resume) a fine-tuning job.

    Args:
        cfg: the run.
        on_epoch: called (in the main process only) with each finished epoch's ``log.jsonl``
            line, after that epoch's files are written.

    Returns:
        ``{"history": [...log lines, resumed ones included...], "out_dir", "num_classes",
        "class_names", "skipped": [{"path", "reason"}...], "best": {"epoch", "top1_acc",
        "path"} or None (no validation), "latest": path or None (no epoch done), "rank"}``.

    Raises:
        ListFileError: bad data (a missing video, a label out of range, fewer classes than
            declared, a class folder without videos), before any model is built.
        UsageError: inconsistent options (a ``ValueError``).
        InputFileError: ``resume`` names a training state that does not exist.
        CheckpointError: a resume state of another run (architecture, class count or names).

    Example:
        >>> finetune(FinetuneConfig("slowfast_r50_4x16x1", "train.txt", "run"))  # doctest: +SKIP
    """
    if cfg.amp not in _AMP:
        raise UsageError(f"amp must be one of {list(_AMP)}, got {cfg.amp!r}")
    if cfg.batch_size < 1 or cfg.accum_steps < 1 or cfg.epochs < 1 or cfg.val_every < 1:
        raise UsageError("batch_size, accum_steps, epochs and val_every must be >= 1")
    out = Path(cfg.out_dir)
    data = _data(cfg, out)
    k = data.num_classes
    if cfg.device:
        resolve_device(cfg.device)  # a device this machine lacks: one typed line, before any work
    info = init_distributed(cfg.device)
    device = torch.device(cfg.device) if cfg.device else torch.device(
        f"cuda:{info.local_rank}" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", info.local_rank)
    _seed_everything(cfg.seed + info.rank, cfg.deterministic)
    class_names = data.class_names

    model = create_model(cfg.arch, pretrained=cfg.pretrained, num_classes=k,
                         checkpoint_path=cfg.checkpoint_path if cfg.pretrained else None, progress=False)
    params = configure_finetune(model, freeze_stages=cfg.freeze_stages, norm_eval=cfg.norm_eval,
                                linear_probe=cfg.linear_probe)
    channels_last = cfg.channels_last if cfg.channels_last is not None else device.type == "cpu"
    # The fast path's one decision point; for training it works in place (the optimizer holds
    # these very Parameters) and never folds BatchNorm.
    model = prepare_model(model, device=device, fuse=False, channels_last=channels_last, training=True)
    pcfg = get_pretrained_cfg(cfg.arch)
    # A video that cannot be read is left out of its batch and reported, not the end of the run.
    train_ds = data.train.dataset(_train_transform(cfg, pcfg, k, cfg.seed), on_error="skip")
    val_ds = data.val.dataset(_val_transform(cfg, pcfg, k), on_error="skip") if data.val is not None else None
    sampler: DistributedSampler[Any] = DistributedSampler(train_ds, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                 seed=cfg.seed, drop_last=False)
    # drop_last: a final batch of 1 cannot train BatchNorm at the 1x1 maps of small inputs.
    loader = DataLoader(train_ds, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers,
                        drop_last=True, pin_memory=device.type == "cuda",
                        persistent_workers=False, collate_fn=collate_skip_failures)
    skipped: dict[str, str] = {}
    steps_per_epoch = len(loader) // cfg.accum_steps
    if steps_per_epoch < 1:
        raise UsageError(f"{data.train.where}: {len(train_ds)} videos give no full optimizer step per epoch "
                         f"(batch {cfg.batch_size} x {info.world_size} processes x {cfg.accum_steps} "
                         f"accumulation steps); lower --batch-size or --accum-steps")
    total_batch = cfg.batch_size * info.world_size * cfg.accum_steps
    lr = cfg.lr if cfg.lr is not None else scaled_lr(total_batch)
    total = steps_per_epoch * cfg.epochs
    warm_epochs = cfg.warmup_epochs if cfg.warmup_epochs is not None else cfg.epochs * 34 / 256
    optimizer = torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    scheduler = LambdaLR(
        optimizer, WarmupCosine(total, round(warm_epochs * steps_per_epoch), cfg.warmup_ratio))
    amp_dtype = parse_dtype("fp32" if cfg.amp == "none" else cfg.amp)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16 and device.type == "cuda")
    ddp: DistributedDataParallel | None = None
    if info.distributed:
        ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    forward: nn.Module = model if ddp is None else ddp

    start_epoch = 0
    history: list[dict[str, Any]] = []
    if info.is_main:  # temporary files of a killed earlier run into this folder
        remove_leftovers(out)
    if cfg.resume:
        state_path = out / STATE_FILE if cfg.resume is True else Path(cfg.resume)
        start_epoch, history = _resume(state_path, cfg, model, optimizer, scheduler, scaler, info, class_names)
    log.info("rank %d/%d: %d train videos, %d steps/epoch, total batch %d, lr %.4g, epochs %d..%d",
             info.rank, info.world_size, len(train_ds), steps_per_epoch, total_batch, lr,
             start_epoch + 1, cfg.epochs)

    last = cfg.epochs if cfg.stop_after is None else min(cfg.epochs, cfg.stop_after)
    for epoch in range(start_epoch, last):
        sampler.set_epoch(epoch)
        # A fresh, epoch- and rank-specific crop/flip seed: reproducible on resume, different
        # per epoch (TrainTransform mixes in the DataLoader worker id).
        train_ds.transform = _train_transform(cfg, pcfg, k, cfg.seed * 100003 + epoch * 1009 + info.rank)
        reset_peak_memory(device)
        t0 = time.monotonic()
        loss_sum, seen = 0.0, 0
        optimizer.zero_grad(set_to_none=True)
        bar = ProgressBar(steps_per_epoch * cfg.accum_steps, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                          enabled=cfg.progress and info.is_main, unit="batches")
        for it, (views, labels, _idx, failures) in enumerate(loader):
            if it >= steps_per_epoch * cfg.accum_steps:
                break
            bar.update(1)
            for f in failures:
                if f.path not in skipped:
                    log.warning("skipped %s: %s", f.path, f.reason)
                skipped[f.path] = f.reason
            if views is None or (len(views) < 2 <= cfg.batch_size):
                # Every video of this batch failed, or one is left: BatchNorm cannot train on a
                # batch of one at the 1x1 maps of small inputs (see FinetuneConfig).
                continue
            x = views.flatten(0, 1).to(device, non_blocking=True)  # [B, 1, 3, T, H, W] -> [B, ...]
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last_3d)
            y = labels.to(device)
            last_micro = (it + 1) % cfg.accum_steps == 0
            # Accumulating: only the last micro-step of an optimizer step all-reduces gradients.
            sync = ddp.no_sync() if ddp is not None and not last_micro else contextlib.nullcontext()
            with sync:
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    loss = F.cross_entropy(forward(x), y)
                scaler.scale(loss / cfg.accum_steps).backward()
            loss_sum += float(loss.detach()) * len(y)
            seen += len(y)
            if last_micro:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
        bar.close()
        loss_mean, = _all_reduce_mean([loss_sum / max(seen, 1)], device, info.distributed)
        mem_bytes, mem_kind = peak_memory_bytes(device)
        mem = (mem_bytes or 0) / 2**20
        mem, = _all_reduce_mean([mem], device, info.distributed)  # mean over ranks
        line: dict[str, Any] = {"epoch": epoch + 1, "iters": (epoch + 1) * steps_per_epoch,
                                "lr": optimizer.param_groups[0]["lr"], "loss": loss_mean,
                                "time_s": round(time.monotonic() - t0, 3),
                                "peak_memory_mb": round(mem, 1), "memory_kind": mem_kind}
        if val_ds is not None and ((epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs):
            line["val"] = _validate(model, val_ds, device, amp_dtype)
        best_before = _best(history)
        history.append(line)
        _checkpoint(cfg, out, epoch, model, optimizer, scheduler, scaler, info, class_names, history,
                    best=_best(history) != best_before)
        if info.is_main:
            log.info("epoch %d: %s", epoch + 1, json.dumps(line))
            if on_epoch is not None:
                on_epoch(line)
    best = _best(history)
    return {"history": history, "out_dir": str(out), "num_classes": k, "class_names": class_names,
            "skipped": [{"path": p, "reason": r} for p, r in skipped.items()],
            "best": None if best is None else {**best, "path": str(out / BEST_WEIGHTS)},
            "latest": str(out / LATEST_WEIGHTS) if history else None, "rank": info.rank}


def _checkpoint(cfg: FinetuneConfig, out: Path, epoch: int, model: SlowFast, optimizer: torch.optim.Optimizer,
                scheduler: LambdaLR, scaler: torch.amp.GradScaler, info: DistInfo, class_names: list[str],
                history: list[dict[str, Any]], *, best: bool) -> None:
    rng = rng_state()
    rngs: list[dict[str, Any] | None] = [rng]
    if info.distributed:
        rngs = [None] * info.world_size
        dist.all_gather_object(rngs, rng, group=info.group)
    if info.is_main:
        meta = {"epoch": epoch + 1, "source_arch": cfg.arch}
        save_weights(model, out / f"epoch_{epoch + 1:03d}.safetensors", class_names=class_names, extra=meta)
        save_weights(model, out / LATEST_WEIGHTS, class_names=class_names, extra=meta)
        if best:  # a new highest validation top-1
            top1 = history[-1]["val"]["top1_acc"]
            save_weights(model, out / BEST_WEIGHTS, class_names=class_names, extra={**meta, "val_top1_acc": top1})
        # Rewritten whole and atomically (never appended through a planted symlink, never half
        # a line after a kill): the history is the checkpoint's, so the log always matches it.
        atomic_write_text(out / LOG_FILE, "".join(json.dumps(h, allow_nan=False, default=str) + "\n"
                                                  for h in json_finite(history)))
        # The training state last: it is what --resume reads, so it commits the epoch.
        save_training_state({
            "format": "slowfast_zoo.finetune/1", "arch": cfg.arch, "num_classes": len(class_names),
            "class_names": class_names, "epoch": epoch + 1, "world_size": info.world_size,
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(), "rng": rngs, "history": history,
            "config": json.dumps(dataclasses.asdict(cfg), default=str),
        }, out / STATE_FILE)
    if info.distributed:
        dist.barrier(group=info.group)  # every rank sees the finished files before going on


def _resume(path: Path, cfg: FinetuneConfig, model: SlowFast, optimizer: torch.optim.Optimizer,
            scheduler: LambdaLR, scaler: torch.amp.GradScaler, info: DistInfo,
            class_names: list[str]) -> tuple[int, list[dict[str, Any]]]:
    if not path.is_file():
        raise InputFileError(f"cannot resume: {path} does not exist")
    state = load_training_state(path)
    k = len(class_names)
    if state.get("arch") != cfg.arch or state.get("num_classes") != k:
        raise CheckpointError(f"cannot resume from {path}: it is a {state.get('arch')} run with "
                              f"{state.get('num_classes')} classes, this one {cfg.arch} with {k}")
    if state.get("class_names") not in (None, class_names):
        raise CheckpointError(f"cannot resume from {path}: its classes are {state['class_names'][:20]}, "
                              f"this run's {class_names[:20]} (a renamed class folder or another --classes)")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule = dict(scheduler.lr_lambdas[0].__dict__)
    scheduler.load_state_dict(state["scheduler"])
    if scheduler.lr_lambdas[0].__dict__ != schedule:
        # The saved lambda describes the old run length; the schedule follows this run's options
        # (e.g. more --epochs) from the saved step on.
        log.warning("schedule changed on resume: %s -> %s", scheduler.lr_lambdas[0].__dict__, schedule)
        scheduler.lr_lambdas[0].__dict__.update(schedule)
    scaler.load_state_dict(state["scaler"])
    rngs = state["rng"]
    if len(rngs) == info.world_size:
        set_rng_state(rngs[info.rank])
    else:
        log.warning("resuming with %d processes instead of %d: random states are not restored",
                    info.world_size, len(rngs))
    log.info("resumed from %s after epoch %d", path, state["epoch"])
    return int(state["epoch"]), list(state["history"])
