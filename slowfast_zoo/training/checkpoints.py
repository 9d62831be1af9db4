"""Fine-tuning checkpoints: weights as slowfast_zoo ``.safetensors``, training state as a
``weights_only``-loadable ``torch.save`` file, and the RNG states that make a resume exact.

Example:
    >>> save_weights(model, "run/latest.safetensors", class_names=["a", "b"])  # doctest: +SKIP
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from slowfast_zoo._digest import short_error
from slowfast_zoo._io import atomic_write
from slowfast_zoo.errors import CheckpointError
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.weights.pickle_guard import scan_torch_file
from slowfast_zoo.weights.readers import read_metadata
from slowfast_zoo.weights.writer import weights_metadata, write_safetensors

__all__ = ["save_weights", "read_weights_metadata", "save_training_state", "load_training_state",
           "rng_state", "set_rng_state"]


def save_weights(model: SlowFast, path: str | os.PathLike[str], *, class_names: list[str] | None = None,
                 extra: Mapping[str, Any] | None = None) -> Path:
    """Write the model's weights as a slowfast_zoo ``.safetensors`` (atomically, 0644).

    The metadata names the architecture and fusion kernel (checked by the loader), the class
    count and names (JSON), so the file loads with
    ``create_model(arch, pretrained=True, num_classes=K, checkpoint_path=path)``. Avoid file
    names ending in ``-<hex>.safetensors``: the loader reads that as a sha256 prefix.

    Example:
        >>> save_weights(model, "run/latest.safetensors", class_names=["a", "b"])  # doctest: +SKIP
    """
    net: SlowFast = getattr(model, "module", model)  # the model inside a DistributedDataParallel
    meta = weights_metadata(net, what="finetune", class_names=class_names,
                            **{"num_classes": str(net.num_classes), **dict(extra or {})})
    return write_safetensors(path, net.state_dict(), meta)


def read_weights_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Metadata of a file from :func:`save_weights`, with ``class_names`` decoded.

    Example:
        >>> read_weights_metadata("run/latest.safetensors")["class_names"]  # doctest: +SKIP
        ['left', 'right', 'up', 'down']
    """
    return read_metadata(path)


def save_training_state(state: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save`` atomically; ``state`` must hold only tensors, dicts, lists, tuples,
    numbers, strings, bools and None so it loads with ``weights_only=True``."""
    return atomic_write(path, lambda tmp: torch.save(dict(state), tmp))


def load_training_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read a training state written by :func:`save_training_state`.

    The file is pre-scanned like every pickle the library reads (a resume file may come from
    anywhere: bombs are refused before anything is built), then loaded ``weights_only=True``.

    Raises:
        CheckpointError: the file is not a training state of ours, or is damaged (naming it).
    """
    expected = "expected a fine-tuning training_state.pt"
    try:
        f = open(path, "rb")
    except OSError as e:
        raise CheckpointError(f"Cannot read {path}: {e.strerror or e}") from e
    try:
        with f:
            # torch.load reads the very file object whose file was scanned: a file swapped or
            # rewritten after the scan is refused.
            opened = os.fstat(f.fileno())
            scan_torch_file(path, expected=expected)
            scanned = os.stat(path)
            if ((scanned.st_dev, scanned.st_ino, scanned.st_size, scanned.st_mtime_ns)
                    != (opened.st_dev, opened.st_ino, opened.st_size, opened.st_mtime_ns)):
                raise CheckpointError(f"Cannot read {path}: it changed while it was being checked")
            state = torch.load(f, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise CheckpointError(f"Cannot read {path}: {expected} ({type(e).__name__}: {short_error(e)})") from e
    if not isinstance(state, dict) or not str(state.get("format", "")).startswith("slowfast_zoo.finetune/"):
        raise CheckpointError(f"Cannot resume from {path}: {expected} written by slowfast_zoo, found "
                              f"{type(state).__name__} without its format tag")
    return state


def rng_state() -> dict[str, Any]:
    """Python, numpy, torch (and CUDA) generator states as weights_only-safe data.

    Example:
        >>> state = rng_state()
        >>> first = torch.rand(2)
        >>> set_rng_state(state)
        >>> torch.equal(torch.rand(2), first)
        True
    """
    legacy = np.random.get_state(legacy=True)
    assert isinstance(legacy, tuple)  # legacy=True: (kind, keys, pos, has_gauss, cached)
    kind, keys, pos, has_gauss, cached = legacy
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
