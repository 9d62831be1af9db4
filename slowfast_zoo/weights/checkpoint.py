"""Reading MMAction2 ``.pth`` checkpoints without unpickling code: ``torch.load(weights_only=True)``."""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch

from slowfast_zoo.errors import CheckpointError

__all__ = ["read_mmaction2_checkpoint", "require_file", "short_error"]

StateDict = dict[str, torch.Tensor]


def short_error(e: BaseException, limit: int = 600) -> str:
    """An exception message on one line, at most ``limit`` characters."""
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def require_file(path: Path) -> None:
    """Raise :class:`CheckpointError` unless ``path`` is an existing file."""
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise CheckpointError(f"Checkpoint file {path} {what}: expected an MMAction2 .pth or a "
                              f"slowfast_zoo .safetensors file.")


def _unreadable(path: Path, expected: str, e: BaseException) -> CheckpointError:
    return CheckpointError(f"Cannot read {path}: {expected}, but torch.load(weights_only=True) "
                           f"failed ({type(e).__name__}: {short_error(e)}). The file may be truncated "
                           f"or not a checkpoint.")


def _numpy_safe_globals() -> list:
    """numpy's scalar/array/dtype reconstructors, for ``meta`` entries such as a numpy seed.

    Training code may leave numpy scalars in ``meta``; torch's weights-only unpickler refuses
    them by default although they build plain data. Only these names are added, under both the
    numpy 1 (``numpy.core``) and numpy 2 (``numpy._core``) spellings; everything else in the file
    is still built by the restricted unpickler.
    """
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    allowed: list = [np.dtype, np.ndarray]
    for fn in ("scalar", "_reconstruct"):
        obj = getattr(core.multiarray, fn)
        allowed += [(obj, f"numpy.core.multiarray.{fn}"), (obj, f"numpy._core.multiarray.{fn}")]
    dtypes = getattr(np, "dtypes", None)  # numpy >= 1.25 pickles dtypes as numpy.dtypes.<X>DType
    if dtypes is not None:
        allowed += [getattr(dtypes, n) for n in dir(dtypes)
                    if n.endswith("DType") and n not in ("ObjectDType", "VoidDType")]
    return allowed


def read_mmaction2_checkpoint(path: str | os.PathLike) -> StateDict:
    """Read an MMAction2 checkpoint's state dict safely (``torch.load(weights_only=True)``).

    Takes ``ckpt["state_dict"]`` if present, else the dict itself; ``meta`` and ``optimizer``
    are ignored, a DDP ``module.`` prefix is stripped.

    Raises:
        CheckpointError: the file is missing, truncated, not a torch checkpoint, needs unsafe
            pickle globals, or holds no tensors (the underlying error is chained).

    Example:
        >>> sd = read_mmaction2_checkpoint("slowfast_r50_..._20200728-145f1097.pth")  # doctest: +SKIP
        >>> next(iter(sd))  # doctest: +SKIP
        'backbone.slow_path.conv1.conv.weight'
    """
    path = Path(path)
    require_file(path)
    expected = ("expected an MMAction2 checkpoint (a torch.save file of a dict whose 'state_dict' "
                "maps names to tensors)")
    try:
        # weights_only: a checkpoint is data; never execute pickled code from a downloaded file.
        obj = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as e:
        if "numpy" not in str(e):
            raise _unreadable(path, expected, e) from e
        try:
            with torch.serialization.safe_globals(_numpy_safe_globals()):
                obj = torch.load(path, weights_only=True, map_location="cpu")
        except Exception:
            raise _unreadable(path, expected, e) from e
    except Exception as e:  # torch raises RuntimeError, EOFError, ... here
        raise _unreadable(path, expected, e) from e
    sd = obj.get("state_dict", obj) if isinstance(obj, Mapping) else obj
    if not isinstance(sd, Mapping) or not sd:
        raise CheckpointError(f"Cannot use {path}: {expected}; found {type(sd).__name__}"
                              f"{' (empty)' if isinstance(sd, Mapping) else ''}.")
    out: StateDict = {}
    for key, value in sd.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(f"Cannot use {path}: {expected}; entry {key!r} is a "
                                  f"{type(value).__name__}.")
        out[key[len("module."):] if key.startswith("module.") else key] = value
    return out
