"""PyTorchVideo / PySlowFast weight files in their published formats, written for tests (issue 23).

Not a test module. Formats (read from the frameworks' own code, Apache-2.0):

* torch files: PySlowFast's ``checkpoint.save_checkpoint`` writes ``torch.save({"epoch",
  "model_state", "optimizer_state", "cfg": cfg.dump()})``; PyTorchVideo's hub builders read
  ``checkpoint["model_state"]`` of the ``.pyth`` files, and PySlowFast's ``pysf_model_zoo``
  re-hosts prefix every key with ``model.`` (its ``PTVSlowFast`` wrapper). The multigrid zoo's
  ``.pkl`` files are such torch files (2020: written before torch 1.6, so in the legacy format).
* caffe2 pickles, in the layout of the golden-data workshop's ``c2_pickle.py`` (modelled on the
  public caffe2 video writer ``save_model_params``: Python 2 ``cPickle``, protocol 2): ``{"blobs":
  {...}}`` with ``model_iter`` (int), ``lr`` (float32 ``(1,)``), ``<blob>_momentum`` beside every
  trainable blob, then the parameter blobs; Python 2 ``str`` names as ``SHORT_BINSTRING`` /
  ``BINSTRING``, ``unicode`` ones (``model_iter``, ``lr``, ``*_momentum``) as ``BINUNICODE``; arrays
  through numpy 1.x's reduce (``numpy.core.multiarray._reconstruct`` + ``BUILD``). Our own writer,
  written from that description; nothing here reads ``../shared``.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import torch

import weightgen
from slowfast_zoo.registry import ARCHS
from slowfast_zoo.registry.records import ArchSpec
from slowfast_zoo.weights.convert_pysf import psf_key_to_ours, ptv_key_to_ours

def w8_spec(arch: str = "pysf_slowfast_r50_8x8") -> ArchSpec:
    """The golden caffe2 load's width-8 network (the r50 8x8 config with RESNET.WIDTH_PER_GROUP 8
    and 10 classes), as a test-only spec of ``arch``: small files, the same key names."""
    return ARCHS[arch].replace(name=f"{arch} width-8 (test only)", slow_base_channels=8, num_classes=10)


#: Our key -> the frameworks' key, from the r50 8x8 manifests (every SlowFast R50 has these names).
_PSF_MANIFEST, _PTV_MANIFEST = "manifest_psf_slowfast_r50_8x8", "manifest_ptv_slowfast_r50_8x8"
#: PySlowFast's ``cfg.dump()`` stands in as YAML text (never read by the library).
CFG_TEXT = "TRAIN:\n  ENABLE: true\n  DATASET: kinetics\nMODEL:\n  ARCH: slowfast\n  NUM_CLASSES: 400\n"


def psf_names() -> dict[str, str]:
    """Our key -> PySlowFast key, for every key of a SlowFast R50."""
    return {psf_key_to_ours(k): k for k, _ in weightgen.load_pysf(_PSF_MANIFEST)["state_dict"]}


def ptv_names() -> dict[str, str]:
    """Our key -> PyTorchVideo key, for every key of a SlowFast R50."""
    return {ptv_key_to_ours(k): k for k, _ in weightgen.load_pysf(_PTV_MANIFEST)["state_dict"]}


def renamed(sd: Mapping[str, torch.Tensor], names: Mapping[str, str], prefix: str = "") -> dict[str, torch.Tensor]:
    """Our state dict under the frameworks' names (``prefix``: ``model.`` for the re-hosts)."""
    return {prefix + names[k]: v for k, v in sd.items()}


def write_torch_checkpoint(path: Path, state: Mapping[str, torch.Tensor], *, legacy: bool = False,
                           key: str | None = "model_state") -> Path:
    """``torch.save`` as PySlowFast's ``save_checkpoint`` (``key=None``: the fields without the
    weights, a broken file)."""
    ckpt: dict[str, object] = {"epoch": 196, "optimizer_state": {
        "state": {}, "param_groups": [{"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "params": [0, 1]}]},
        "cfg": CFG_TEXT}
    if key is not None:
        ckpt[key] = dict(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy)
    return path


# --------------------------------------------------------------------------------- caffe2 pickles
class _Global:
    """A global reference pickled as a GLOBAL opcode (never called)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: object) -> None:  # pickle's save_reduce only checks callable()
        raise TypeError(f"placeholder for {self.module}.{self.name}")


_RECONSTRUCT = _Global("numpy.core.multiarray", "_reconstruct")
_NDARRAY = _Global("numpy", "ndarray")
_DTYPE = _Global("numpy", "dtype")


class _Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]  # the pure-Python pickler: overridable
    """Python 2 cPickle's protocol-2 output: ``bytes`` are Python 2 ``str``, numpy 1.x reduces."""

    dispatch = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def save_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        self.write((pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)) + obj)
        self.memoize(obj)

    def save_global_ref(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + obj.module.encode() + b"\n" + obj.name.encode() + b"\n")
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[_Global] = save_global_ref

    def reducer_override(self, obj: object) -> object:
        if isinstance(obj, np.ndarray):
            a = np.ascontiguousarray(obj)
            return (_RECONSTRUCT, (_NDARRAY, (0,), b"b"), (1, tuple(int(s) for s in a.shape), a.dtype, False, a.tobytes()))
        if isinstance(obj, np.dtype):
            return (_DTYPE, (obj.str[1:].encode(), 0, 1), (3, b"<", None, None, None, -1, -1, 0))
        return NotImplemented


def caffe2_pickle_bytes(blobs: Iterable[tuple[str, object, str]]) -> bytes:
    """``{"blobs": {...}}`` as the caffe2 writers pickled it; ``blobs``: ``(name, value, kind)``
    with kind ``"str"`` (a Python 2 ``str`` name) or ``"unicode"``."""
    inner = {(name.encode("latin-1") if kind == "str" else name): value for name, value, kind in blobs}
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump({b"blobs": inner})
    return buf.getvalue()


def write_caffe2_pickle(path: Path, blobs: Iterable[tuple[str, object, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(caffe2_pickle_bytes(blobs))
    return path


def synthetic_caffe2_blobs(shapes: Mapping[str, tuple[int, ...]]) -> list[tuple[str, object, str]]:
    """The synthetic file's blobs for a network whose state dict (our keys) has ``shapes``:
    ``model_iter`` 123456, ``lr`` ``[1e-4]``, a ``<blob>_momentum`` (``rng(crc32(name)).standard_normal
    * 1e-3``) beside each trainable blob, then every parameter blob by rule v1-psf of its
    PySlowFast key, in the c2 table's order (PySlowFast's state-dict order)."""
    table = weightgen.load_pysf("c2_blob_table_psf_slowfast_r50_8x8")["table"]
    out: list[tuple[str, object, str]] = [("model_iter", 123456, "unicode"),
                                          ("lr", np.array([1e-4], dtype=np.float32), "unicode")]
    rows = [(c2, psf, list(shapes[psf_key_to_ours(psf)]), trainable, kind) for c2, psf, _, trainable, kind in table]
    for c2, _psf, shape, trainable, _kind in rows:
        if trainable:
            name = c2 + "_momentum"
            rng = np.random.default_rng(zlib.crc32(name.encode("utf-8")))
            out.append((name, (rng.standard_normal(shape) * 1e-3).astype(np.float32), "unicode"))
    for c2, psf, shape, _trainable, kind in rows:
        out.append((c2, weightgen.draw_v1(psf, shape, kind).numpy(), "str"))
    return out


def numel(shapes: Mapping[str, tuple[int, ...]]) -> int:
    return sum(math.prod(s) for s in shapes.values())
