"""Reading MMAction2 ``.pth`` checkpoints without unpickling code: ``torch.load(weights_only=True)``.

Both generations' files are read:

* MMAction2 0.x (mmcv): ``{"meta": {...}, "state_dict": {...}[, "optimizer"]}``; ``meta`` may
  hold numpy scalars, whose plain-data reconstructors are allowed.
* MMAction2 1.x (mmengine): ``{"meta": {"cfg": <config text>, "seed", "experiment_name", "time",
  "mmengine_version", "epoch", "iter", "dataset_meta"}, "state_dict": {...}, ...}``. Published
  files have ``message_hub``, ``optimizer`` and ``param_schedulers`` removed; a user's own
  training checkpoint keeps them, and they pickle mmengine objects (``HistoryBuffer`` ...).
  Each such class is replaced, for this one load, by an inert stand-in class allowed through
  ``torch.serialization.safe_globals``: the restricted unpickler builds the stand-in, which
  runs no code and keeps nothing, and the real class is never imported or constructed. Which
  globals a file needs comes from ``torch.serialization.get_unsafe_globals_in_checkpoint``.
  There is no custom Unpickler and never a full unpickle.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from slowfast_zoo._io import file_problem
from slowfast_zoo.errors import CheckpointError

__all__ = ["read_mmaction2_checkpoint", "require_file", "short_error"]

log = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]


def short_error(e: BaseException, limit: int = 600) -> str:
    """An exception message on one line, at most ``limit`` characters."""
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def require_file(path: Path) -> None:
    """Raise :class:`CheckpointError` unless ``path`` is an existing file (saying what it is)."""
    st, problem = file_problem(path)
    if st is None:
        shown = repr(str(path)) if "\x00" in str(path) else str(path)
        what = "does not exist" if problem == "no such file" else problem
        raise CheckpointError(f"Checkpoint file {shown}: {what}; expected an MMAction2 .pth or a "
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


class _StandIn:
    """An inert placeholder for a pickled non-weight object (see the module docstring).

    Whatever the pickle asks of it (construction with arguments, state, items) is accepted
    and dropped, so nothing of the original object survives or runs.
    """

    stands_for = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> "_StandIn":
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<stand-in for {self.stands_for}>"


def _stand_ins(names: list[str]) -> list[tuple[type, str]]:
    """One fresh stand-in class per pickled global name, as ``safe_globals`` entries."""
    return [(type(f"StandIn[{name}]", (_StandIn,), {"stands_for": name}), name) for name in names]


def _load_restricted(path: Path, expected: str) -> tuple[object, list[str]]:
    """``torch.load(weights_only=True)`` of ``path``, then with numpy's data reconstructors and
    stand-ins for the non-weight globals it names. Returns ``(object, stood-in names)``."""
    try:
        # weights_only: a checkpoint is data; never execute pickled code from a downloaded file.
        return torch.load(path, weights_only=True, map_location="cpu"), []
    except pickle.UnpicklingError as e:
        first: BaseException = e
    except Exception as e:  # torch raises RuntimeError, EOFError, ... here
        raise _unreadable(path, expected, e) from e
    numpy_globals = _numpy_safe_globals()
    try:
        with torch.serialization.safe_globals(numpy_globals):
            names = sorted(set(torch.serialization.get_unsafe_globals_in_checkpoint(path)))
    except Exception:  # e.g. a pre-1.6 (non-zip) file: only the numpy globals can be added
        names = []
    try:
        with torch.serialization.safe_globals(numpy_globals + _stand_ins(names)):
            return torch.load(path, weights_only=True, map_location="cpu"), names
    except Exception as e:
        raise _unreadable(path, expected, e if names else first) from e


def read_mmaction2_checkpoint(path: str | os.PathLike) -> StateDict:
    """Read an MMAction2 (0.x or 1.x) checkpoint's state dict safely (``torch.load(weights_only=True)``).

    Takes ``ckpt["state_dict"]`` if present, else the dict itself; ``meta``, ``optimizer``,
    ``message_hub`` and ``param_schedulers`` are ignored (their mmengine objects are stood in
    for, never built: see the module docstring), a DDP ``module.`` prefix is stripped.

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
    obj, stood_in = _load_restricted(path, expected)
    if stood_in:
        log.info("Read the weights of %s; %d non-weight pickled classes were stood in for, not "
                 "built: %s", path, len(stood_in), ", ".join(stood_in))
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
