"""Loading step 3 for the PySlowFast zoo's files: the caffe2 ``.pkl`` reader and the byte signatures.

:func:`~slowfast_zoo.weights.readers.read_checkpoint` is the one dispatcher; it asks
:func:`sniff_format` what a file is, from its first bytes only (never its extension: the
PySlowFast zoo's ``.pkl`` files are caffe2 pickles *or* torch files, SlowFast#69, #85, #132):

==================  ==========================================================================
format              first bytes
==================  ==========================================================================
``safetensors``     a little-endian u64 header length (at most 100 MiB), then ``{``
``torch_zip``       ``PK\\x03\\x04`` (``torch.save`` since torch 1.6: a zip archive)
``torch_legacy``    a pickle whose first object is torch's magic number
                    ``0x1950a86a20f9469cfc6c`` (``torch.save(..., _use_new_zipfile_serialization=
                    False)``, and every file written before torch 1.6)
``pickle``          any other pickle (``\\x80`` + protocol 2 to 5, or a protocol 0/1 dict): a
                    caffe2 checkpoint, ``{"blobs": {name: ndarray}}``
``unknown``         anything else (the torch reader then names what failed)
==================  ==========================================================================

A caffe2 checkpoint (the Detectron-era video code's ``save_model_params``: Python 2 ``cPickle``,
protocol 2) is read as PySlowFast reads it (``pickle.load(f, encoding="latin1")`` in
``slowfast/utils/checkpoint.py``, Apache-2.0), but through :mod:`.pickle_guard`: pre-scanned,
then unpickled by a restricted unpickler that resolves only :data:`CAFFE2_GLOBALS`, the numpy
globals such files reference (numpy 1 spells the module ``numpy.core``, numpy 2 ``numpy._core``;
``_codecs.encode`` is how a Python 3 re-save pickles an array's bytes). Anything else (``os.system``,
``builtins.eval``, ``torch._utils`` rebuilds) is refused by name before a single object exists.
The optimizer's blobs (``*_momentum``, ``lr``, ``model_iter``) are dropped as PySlowFast's loader
drops them; every other blob must be a numeric array.
"""

from __future__ import annotations

import io
import os
import pickletools
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from slowfast_zoo._digest import require_file
from slowfast_zoo.errors import CheckpointError
from slowfast_zoo.weights.convert_pysf import caffe2_blob_is_skipped
from slowfast_zoo.weights.pickle_guard import load_plain_pickle

__all__ = ["FileFormat", "sniff_format", "read_caffe2_checkpoint", "CAFFE2_GLOBALS", "TORCH_MAGIC"]

FileFormat = Literal["safetensors", "torch_zip", "torch_legacy", "pickle", "unknown"]

#: The first object of a legacy ``torch.save`` file (``torch.serialization.MAGIC_NUMBER``).
TORCH_MAGIC = 0x1950A86A20F9469CFC6C
#: Every global a caffe2 ``.pkl`` may name: numpy's array, dtype and scalar reconstructors in
#: their numpy 1 and numpy 2 spellings, and ``_codecs.encode`` (built by :mod:`.pickle_guard`'s
#: checking wrappers, never the real functions).
CAFFE2_GLOBALS = frozenset({
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
    "numpy.ndarray", "numpy.dtype", "_codecs.encode"})

_SAFETENSORS_MAX_HEADER = 100 << 20
_HEAD = 64  # bytes read to tell a format: the magic number's pickle is 15 (+9 with a FRAME)
_EXPECTED = ("expected a caffe2 checkpoint (a pickle of {'blobs': {name: numpy array}}, as the "
             "PySlowFast zoo's caffe2 .pkl files)")


def _starts_with_torch_magic(head: bytes) -> bool:
    """Whether the first pickle of ``head`` is exactly torch's magic number (any protocol)."""
    values = []
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(head)):
            if op.name == "STOP":
                break
            if op.name not in ("PROTO", "FRAME"):
                values.append((op.name, arg))
    except Exception:  # a cut-off head: genops raises ValueError and friends; not the magic
        return False
    return len(values) == 1 and values[0][1] == TORCH_MAGIC and values[0][0] in ("LONG1", "LONG", "INT")


def sniff_format(path: str | os.PathLike[str]) -> FileFormat:
    """What a weight file is, from its first bytes (see the module docstring).

    Example:
        >>> import pickle, torch
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     torch.save({"w": torch.zeros(1)}, d / "a.pkl")
        ...     torch.save({"w": torch.zeros(1)}, d / "b.pth", _use_new_zipfile_serialization=False)
        ...     _ = (d / "c.pyth").write_bytes(pickle.dumps({"blobs": {}}, protocol=2))
        ...     _ = (d / "d.pth").write_text("hello")
        ...     [sniff_format(d / n) for n in ("a.pkl", "b.pth", "c.pyth", "d.pth")]
        ['torch_zip', 'torch_legacy', 'pickle', 'unknown']
    """
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD)
    except OSError:
        return "unknown"  # the reader then says why it cannot open it
    if head[:4] == b"PK\x03\x04":  # what torch.load itself tests
        return "torch_zip"
    if (len(head) >= 9 and 0 < int.from_bytes(head[:8], "little") <= _SAFETENSORS_MAX_HEADER
            and head[8:9] == b"{"):
        return "safetensors"
    if _starts_with_torch_magic(head):
        return "torch_legacy"
    if (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")) \
            or head[:1] == b"}" or head[:2] == b"(d":
        return "pickle"
    return "unknown"


def _as_name(key: object) -> str | None:
    """A blob name: a Python 2 ``str`` arrives as ``str`` (read as latin-1), a re-saved bytes key
    as ``bytes``."""
    if isinstance(key, bytes):
        return key.decode("latin-1")
    return key if isinstance(key, str) else None


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A CPU tensor of a numeric blob, sharing its memory when it can (native byte order,
    contiguous, writable), else a copy (as PySlowFast's ``torch.tensor(blob)``)."""
    native = array.dtype.newbyteorder("=")
    if array.dtype != native or not array.flags.c_contiguous or not array.flags.writeable:
        array = np.array(array, dtype=native, order="C", copy=True)
    return torch.from_numpy(array)


def read_caffe2_checkpoint(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The parameter blobs of a caffe2 ``.pkl`` (optimizer blobs dropped), as CPU tensors.

    Raises:
        CheckpointError: naming the file: refused by :mod:`.pickle_guard` (a global outside
            :data:`CAFFE2_GLOBALS`, a bomb), truncated, not ``{"blobs": {...}}``, or a parameter
            blob that is not a numeric array.

    Example:
        >>> import numpy as np, pickle
        >>> from slowfast_zoo._io import temporary_directory
        >>> blobs = {"pred_b": np.zeros(3, np.float32), "pred_b_momentum": np.zeros(3, np.float32),
        ...          "lr": np.array([0.1], np.float32), "model_iter": 7}
        >>> with temporary_directory() as d:
        ...     _ = (d / "m.pkl").write_bytes(pickle.dumps({"blobs": blobs}, protocol=2))
        ...     {k: v.shape for k, v in read_caffe2_checkpoint(d / "m.pkl").items()}
        {'pred_b': torch.Size([3])}
    """
    path = Path(path)
    require_file(path)
    obj = load_plain_pickle(path, allowed=CAFFE2_GLOBALS, encoding="latin1", expected=_EXPECTED)
    blobs = None
    if isinstance(obj, Mapping):
        blobs = next((v for k, v in obj.items() if _as_name(k) == "blobs"), None)
    if not isinstance(blobs, Mapping) or not blobs:
        found = (f"a dict with keys {sorted(str(k)[:40] for k in obj)[:8]}" if isinstance(obj, Mapping)
                 else f"a {type(obj).__name__}")
        raise CheckpointError(f"Cannot use {path}: {_EXPECTED}; found {found}"
                              f"{' (its blobs are empty)' if isinstance(blobs, Mapping) else ''}.")
    out: dict[str, torch.Tensor] = {}
    for key, value in blobs.items():
        name = _as_name(key)
        if name is None:
            raise CheckpointError(f"Cannot use {path}: {_EXPECTED}; a blob is named by a {type(key).__name__}.")
        if caffe2_blob_is_skipped(name):
            continue  # optimizer state: PySlowFast's loader skips it without a word
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
            kind = f"numpy {value.dtype} array" if isinstance(value, np.ndarray) else type(value).__name__
            raise CheckpointError(f"Cannot use {path}: {_EXPECTED}; blob {name[:120]!r} is a {kind}, "
                                  f"not a numeric array.")
        out[name] = _tensor(value)
    return out
