# Building blocks of the fine-tuning recipe.
#
# The recipe (SGD momentum 0.9, weight decay 1e-4, clip-by-norm 40, linear warmup from 0.1x,
# cosine decay, linear lr scaling 0.1 per 64 videos, frozen stages / norm_eval) is MMAction2's
# SlowFast Kinetics-400 training schedule (OpenMMLab, Apache-2.0,
# https://github.com/open-mmlab/mmaction2, v0.13.0, SPEC.md section 4.7). An independent
# re-implementation; no MMAction2 code is copied.
"""Fine-tuning helpers: freezing, the lr schedule, checkpoints, list-file checks.

Example:
    >>> import torch, slowfast_zoo as sz
    >>> from slowfast_zoo.training_utils import configure_finetune, WarmupCosine
    >>> model = sz.create_model("slowfast_r50_4x16x1", num_classes=4)
    >>> params = configure_finetune(model, linear_probe=True)
    >>> [n for n, p in model.named_parameters() if p.requires_grad]
    ['fc.weight', 'fc.bias']
    >>> round(WarmupCosine(total_iters=100, warmup_iters=10)(0), 6)
    0.1
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import resource
import sys
import tempfile
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from slowfast_zoo.data.datasets import AnnotationError, VideoDataset
from slowfast_zoo.errors import VideoDecodeError

__all__ = ["configure_finetune", "WarmupCosine", "scaled_lr", "atomic_write", "save_weights",
           "read_weights_metadata", "save_training_state", "load_training_state", "rng_state",
           "set_rng_state", "peak_memory_mb", "reset_peak_memory", "ListFileError", "check_list_file"]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- freezing
def _frozen_modules(model: nn.Module, freeze_stages: int) -> list[nn.Module]:
    """MMAction2's ``frozen_stages`` for both pathways: stems, then stages 1..k with the lateral
    conv feeding each (``conv1_lateral`` for stage 1, ``layer{i-1}_lateral`` for stage i)."""
    if freeze_stages < 0:
        return []
    mods: list[nn.Module] = [model.slow.stem, model.fast.stem]
    for i in range(min(freeze_stages, 4)):
        mods += [model.slow.stages[i], model.fast.stages[i], model.laterals[i]]
    return mods


def configure_finetune(model: nn.Module, *, freeze_stages: int = -1, norm_eval: bool = False,
                       linear_probe: bool = False) -> list[nn.Parameter]:
    """Choose what a fine-tuning run trains, in place; returns the trainable parameters.

    ``model.train()`` afterwards keeps the choice: frozen modules (and, with ``norm_eval``,
    every BatchNorm) stay in eval mode, so their running statistics are not updated, as in
    MMAction2's ``ResNet3d.train``.

    Args:
        model: a :class:`~slowfast_zoo.SlowFast` (not fused).
        freeze_stages: -1 trains everything; 0 freezes both stems; k in 1..4 also freezes
            stages 1..k of both pathways and the lateral convs feeding them.
        norm_eval: keep every BatchNorm in eval mode (frozen statistics; affine still trained
            unless frozen).
        linear_probe: train only the classifier (``fc``); the whole backbone is frozen and
            kept in eval mode.

    Example:
        >>> params = configure_finetune(model, freeze_stages=2, norm_eval=True)  # doctest: +SKIP
    """
    if not -1 <= freeze_stages <= 4:
        raise ValueError(f"freeze_stages must be in -1..4, got {freeze_stages}")
    if getattr(model, "is_fused", False):
        raise ValueError("cannot fine-tune a fused model: build it again with create_model()")
    for p in model.parameters():
        p.requires_grad_(True)
    if linear_probe:
        frozen = [m for name, m in model.named_children() if name not in ("fc", "head_dropout")]
    else:
        frozen = _frozen_modules(model, freeze_stages)
    for m in frozen:
        for p in m.parameters():
            p.requires_grad_(False)
    cls_train = type(model).train

    def train(self: nn.Module, mode: bool = True) -> nn.Module:
        cls_train(self, mode)
        if mode:
            # Why: frozen layers must keep the pretrained BatchNorm statistics (MMAction2 does
            # the same by overriding train()); a bound override makes DDP/evaluate honour it.
            for m in frozen:
                m.eval()
            if norm_eval:
                for m in self.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()
        return self

    model.train = types.MethodType(train, model)  # type: ignore[method-assign]
    model.train(model.training)
    params = [p for p in model.parameters() if p.requires_grad]
    log.info("fine-tuning %d of %d parameters (freeze_stages=%d, norm_eval=%s, linear_probe=%s)",
             sum(p.numel() for p in params), sum(p.numel() for p in model.parameters()),
             freeze_stages, norm_eval, linear_probe)
    return params


# --------------------------------------------------------------------------- schedule
class WarmupCosine:
    """lr multiplier at optimizer step ``i``: linear warmup from ``warmup_ratio`` then cosine to 0.

    ``f(i) = c(i) * (1 - (1 - i / W) * (1 - warmup_ratio))`` for ``i < W``, else ``c(i)``, with
    ``c(i) = 0.5 * (1 + cos(pi * i / total_iters))``: mmcv's CosineAnnealing with linear
    warmup, evaluated per iteration instead of per epoch. A plain object with numeric
    attributes, so ``LambdaLR.state_dict()`` stays ``weights_only``-loadable.

    Example:
        >>> f = WarmupCosine(total_iters=10, warmup_iters=0)
        >>> f(0), round(f(5), 3), f(10)
        (1.0, 0.5, 0.0)
    """

    def __init__(self, total_iters: int, warmup_iters: int, warmup_ratio: float = 0.1) -> None:
        if total_iters < 1:
            raise ValueError(f"total_iters must be >= 1, got {total_iters}")
        self.total_iters = int(total_iters)
        self.warmup_iters = int(warmup_iters)
        self.warmup_ratio = float(warmup_ratio)

    def __call__(self, i: int) -> float:
        i = min(int(i), self.total_iters)
        factor = 0.5 * (1.0 + math.cos(math.pi * i / self.total_iters))
        if i < self.warmup_iters:
            factor *= 1.0 - (1.0 - i / self.warmup_iters) * (1.0 - self.warmup_ratio)
        return factor


def scaled_lr(total_batch: int, base_lr: float = 0.1, base_batch: int = 64) -> float:
    """The linear scaling rule of the recipe: 0.1 for 64 videos per optimizer step.

    Example:
        >>> scaled_lr(16)
        0.025
    """
    return base_lr * total_batch / base_batch


# --------------------------------------------------------------------------- files
def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers never see a partial file.

    Example:
        >>> atomic_write("x.pt", lambda p: torch.save({}, p))  # doctest: +SKIP
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def save_weights(model: nn.Module, path: str | os.PathLike, *, class_names: list[str] | None = None,
                 extra: Mapping[str, Any] | None = None) -> Path:
    """Write the model's weights as a slowfast_zoo ``.safetensors`` (atomically).

    The metadata names the architecture and fusion kernel (checked by the loader), the class
    count and names (JSON), so the file loads with
    ``create_model(arch, pretrained=True, num_classes=K, checkpoint_path=path)``. Avoid file
    names ending in ``-<hex>.safetensors``: the loader reads that as a sha256 prefix.

    Example:
        >>> save_weights(model, "run/latest.safetensors", class_names=["a", "b"])  # doctest: +SKIP
    """
    from safetensors.torch import save_file

    import slowfast_zoo
    from slowfast_zoo.weights.load import tensors_sha256

    model = getattr(model, "module", model)  # DDP
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"format": "pt", "producer": f"slowfast_zoo {slowfast_zoo.__version__} finetune",
            "architecture": model.spec.name, "fusion_kernel": str(model.spec.fusion_kernel),
            "num_classes": str(model.num_classes), "weights_sha256": tensors_sha256(tensors)}
    if class_names is not None:
        meta["class_names"] = json.dumps(list(class_names))
    meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in (extra or {}).items()})
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def read_weights_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Metadata of a file from :func:`save_weights`, with ``class_names`` decoded.

    Example:
        >>> read_weights_metadata("run/latest.safetensors")["class_names"]  # doctest: +SKIP
        ['left', 'right', 'up', 'down']
    """
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
    if "class_names" in meta:
        meta["class_names"] = json.loads(meta["class_names"])
    return meta


def save_training_state(state: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save`` atomically; ``state`` must hold only tensors, dicts, lists, tuples,
    numbers, strings, bools and None so it loads with ``weights_only=True``."""
    return atomic_write(path, lambda tmp: torch.save(dict(state), tmp))


def load_training_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read a training state written by :func:`save_training_state` (``weights_only=True``)."""
    return torch.load(path, map_location="cpu", weights_only=True)


# --------------------------------------------------------------------------- RNG
def rng_state() -> dict[str, Any]:
    """Python, numpy, torch (and CUDA) generator states as weights_only-safe data."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    py = random.getstate()
    state: dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


# --------------------------------------------------------------------------- memory
def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> tuple[float, str]:
    """``(MiB, kind)``: CUDA ``max_memory_allocated`` since the last reset, or the process's
    peak RSS (since start: the OS cannot reset it) on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (2**20 if sys.platform == "darwin" else 2**10), "cpu_peak_rss"


# --------------------------------------------------------------------------- list files
class ListFileError(AnnotationError):
    """A training/validation list that cannot be used (the message names ``file:line``)."""


def check_list_file(ann_file: str | os.PathLike, data_root: str | os.PathLike | None,
                    num_classes: int | None = None, *, require_all_classes: bool = False) -> int:
    """Check a ``path label`` list before training; returns the number of classes it implies.

    Raises:
        ListFileError: an empty list; a video that does not exist; a label outside
            ``[0, num_classes)``; with ``require_all_classes``, fewer distinct labels than
            ``num_classes`` (a class that can never be learned).
        AnnotationError: a malformed line.

    Example:
        >>> check_list_file("train.txt", "videos/", num_classes=4)  # doctest: +SKIP
        4
    """
    class _NoTransform:
        def sample(self, *a: Any) -> None:  # the dataset only parses here
            raise NotImplementedError

    ds = VideoDataset(ann_file, data_root, _NoTransform())
    if not ds.records:
        raise ListFileError(f"{ann_file}: the list has no videos")
    for i, rec in enumerate(ds.records):
        where = f"{ann_file}:{rec.line}"
        try:
            ds.resolve(i)
        except VideoDecodeError:
            raise ListFileError(f"{where}: video {ds._full(rec.path)} does not exist") from None
        if rec.label < 0 or (num_classes is not None and rec.label >= num_classes):
            raise ListFileError(f"{where}: label {rec.label} is out of range [0, {num_classes}) "
                                f"(num_classes={num_classes})")
    labels = {r.label for r in ds.records}
    if num_classes is not None and require_all_classes and len(labels) < num_classes:
        missing = sorted(set(range(num_classes)) - labels)
        raise ListFileError(f"{ann_file}: {num_classes} classes declared but only {len(labels)} occur; "
                            f"no video of class(es) {missing[:20]}")
    return num_classes if num_classes is not None else max(labels) + 1
