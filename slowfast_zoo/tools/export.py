"""Export a SlowFast to ONNX or TorchScript, and check the exported file against PyTorch.

Input contract of every exported file (the model's ``forward``):

- ``video``: float32 (float16 with ``fp16=True``) ``[N, 3, T, H, W]``: RGB clips of
  ``T = clip_len`` (32) frames taken every ``frame_interval`` (2) frames, normalized as
  ``(x - mean) / std`` on the 0-255 scale (``model.pretrained_cfg.mean`` / ``.std``), NCTHW.
  ``T``, ``H`` and ``W`` are fixed at export time (default ``H = W = test.crop_size``, 256);
  ``N`` is 1, or any batch size with ``dynamic_batch=True``.
- ``logits``: ``[N, num_classes]`` raw scores (apply softmax; average probabilities over the
  views of the test protocol yourself).

The *unfused* eager model is exported (``.eval()``, BatchNorm kept as its own op, so the file's
weights are exactly the checkpoint's; ONNX Runtime folds BatchNorm itself when it optimizes).

ONNX: ``torch.onnx.export(..., dynamo=True)`` (torch >= 2.5's default exporter, which needs the
``onnxscript`` package), opset 18, one self-contained file. The legacy TorchScript-based exporter
(``exporter="torchscript"``, opset 17) also works and is faster to run, but is deprecated in torch.
Each exporter honours only some opsets (:func:`onnx_opsets`): the dynamo exporter implements
opset 18 and newer (up to the installed ``onnx``'s newest) and silently writes 18 for anything
older; the legacy one cannot write SlowFast's strided slices below opset 10 (measured with
torch 2.14, onnx 1.23). Another opset is refused before any work (:func:`check_onnx_opset`), and
the written file's opset is checked against the asked one before the file is kept.
Measured parity on CPU (onnxruntime 1.32, torch 2.14, float32): max |logit difference| 2.5e-6
on logits of magnitude ~4 (generated test weights, 32 and 64 px inputs); :data:`ONNX_ATOL` (1e-4 absolute) is what the checks accept.

TorchScript: ``torch.jit.trace`` (torch marks TorchScript as deprecated in favour of
``torch.export``; the tracer's ``TracerWarning`` about the input checks is expected and harmless:
those checks are constant for the fixed ``T, H, W``). Same ops as eager; measured bit-identical,
checked within :data:`TORCHSCRIPT_ATOL`.
"""

from __future__ import annotations

import copy
import logging
import os
import warnings
from typing import Any
from pathlib import Path

import torch

from slowfast_zoo._io import atomic_write
from slowfast_zoo.errors import UsageError
from slowfast_zoo.models.slowfast import SlowFast

__all__ = ["export_onnx", "export_torchscript", "export_model", "example_input", "check_onnx",
           "check_torchscript", "onnx_opsets", "check_onnx_opset", "onnx_file_opset", "ONNX_OPSET",
           "ONNX_ATOL", "TORCHSCRIPT_ATOL", "FORMATS", "EXPORTERS"]

log = logging.getLogger(__name__)

ONNX_OPSET = 18
LEGACY_ONNX_OPSET = 17
ONNX_ATOL = 1e-4
TORCHSCRIPT_ATOL = 1e-5
FORMATS = ("onnx", "torchscript")
EXPORTERS = ("dynamo", "torchscript")
# The oldest opset each exporter writes as asked for a SlowFast: the dynamo exporter's own ops
# are opset 18 (torch's TORCHLIB_OPSET; older asks get 18 back, silently), the legacy one needs
# Slice with steps (opset 10) for the Fast->Slow strided lateral input.
_OPSET_MIN = {"dynamo": 18, "torchscript": 10}
_EXPORT_PACKAGES = {"dynamo": ("onnx", "onnxscript"), "torchscript": ("onnx",)}


def onnx_opsets(exporter: str = "dynamo") -> range:
    """The ONNX opsets ``export_onnx(..., exporter=exporter)`` writes as asked, on this install.

    Example:
        >>> onnx_opsets("torchscript")[0], onnx_opsets("dynamo")[0]
        (10, 18)
    """
    if exporter not in EXPORTERS:
        raise UsageError(f"exporter must be one of {EXPORTERS}, got {exporter!r}")
    if exporter == "dynamo":
        try:
            import onnx
        except ImportError:  # no ONNX export at all: check_onnx_opset says what to install
            return range(ONNX_OPSET, ONNX_OPSET + 1)
        newest = int(onnx.defs.onnx_opset_version())
    else:
        try:  # the legacy exporter's table of symbolic functions ends there (20 in torch 2.5)
            from torch.onnx import _constants

            newest = int(getattr(_constants, "ONNX_MAX_OPSET", 20))
        except ImportError:
            newest = 20
    return range(_OPSET_MIN[exporter], newest + 1)


def check_onnx_opset(exporter: str = "dynamo", opset: int | None = None) -> int:
    """The opset ``export_onnx`` will write: ``opset`` (or the exporter's default) if the exporter
    honours it and its packages are installed; checked before any model is built.

    Raises:
        UsageError: an unknown exporter, an opset it cannot write, or ``onnx``/``onnxscript``
            missing (the message says what to install).

    Example:
        >>> check_onnx_opset("dynamo", 7)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.UsageError: opset 7: the dynamo exporter writes opsets 18 to ...
    """
    import importlib.util

    opsets = onnx_opsets(exporter)
    want = opset if opset is not None else (ONNX_OPSET if exporter == "dynamo" else LEGACY_ONNX_OPSET)
    if want not in opsets:
        other = [e for e in EXPORTERS if e != exporter and want in onnx_opsets(e)]
        hint = f" (the {other[0]} exporter writes {want})" if other else ""
        raise UsageError(f"opset {want}: the {exporter} exporter writes opsets {opsets[0]} to "
                         f"{opsets[-1]}{hint}")
    missing = [m for m in _EXPORT_PACKAGES[exporter] if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"ONNX export ({exporter} exporter) needs {' and '.join(missing)}: "
                         f"pip install 'slowfast-zoo[export]'")
    return want


def onnx_file_opset(path: str | os.PathLike) -> int | None:
    """The default-domain (``ai.onnx``) opset an ONNX file declares (``None``: none declared)."""
    import onnx

    proto = onnx.load(os.fspath(path), load_external_data=False)
    return next((int(o.version) for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)


def example_input(model: SlowFast, *, size: int | None = None, batch: int = 1,
                  dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.Tensor:
    """A random normalized input ``[batch, 3, clip_len, size, size]`` for the model's protocol."""
    cfg = model.pretrained_cfg
    clip_len = cfg.test.clip_len if cfg is not None else 32
    size = size or (cfg.test.crop_size if cfg is not None else 256)
    if size < 32:
        raise UsageError(f"size must be >= 32, got {size}")
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, clip_len, size, size, generator=g).to(dtype)


def _prepared(model: SlowFast, fp16: bool) -> SlowFast:
    if model.is_fused:
        raise UsageError("export the unfused model: this one has BatchNorm folded into its convs "
                         "(create it again with create_model())")
    model = model.eval()
    if fp16:
        model = copy.deepcopy(model).half()
    return model


def export_onnx(model: SlowFast, path: str | os.PathLike, *, size: int | None = None,
                dynamic_batch: bool = False, fp16: bool = False, opset: int | None = None,
                exporter: str = "dynamo") -> Path:
    """Export to an ONNX file (input ``video``, output ``logits``; see the module doc).

    Args:
        model: a :class:`~slowfast_zoo.SlowFast` (unfused; put in eval mode in place).
        path: output ``.onnx`` file (written atomically).
        size: input height = width (default: the weight's test crop, 256).
        dynamic_batch: make the batch dimension symbolic (``batch``).
        fp16: export in float16 (weights and input; onnxruntime's CPU provider runs it too).
        opset: ONNX opset (default 18 for ``"dynamo"``, 17 for ``"torchscript"``); one of
            :func:`onnx_opsets` of the exporter.
        exporter: ``"dynamo"`` (default, needs onnxscript) or ``"torchscript"`` (legacy).

    Raises:
        UsageError: an opset the exporter cannot write (before any work), or a file written
            with another opset (not kept).

    Example:
        >>> export_onnx(sz.create_model("slowfast_r50_4x16x1", pretrained=True), "sf.onnx")  # doctest: +SKIP
    """
    opset = check_onnx_opset(exporter, opset)
    model = _prepared(model, fp16)
    x = example_input(model, size=size, dtype=torch.float16 if fp16 else torch.float32)
    def write(tmp: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
            if exporter == "dynamo":
                shapes = {"x": {0: torch.export.Dim("batch", min=1, max=4096)}} if dynamic_batch else None
                torch.onnx.export(model, (x,), tmp, dynamo=True, opset_version=opset,
                                  input_names=["video"], output_names=["logits"],
                                  dynamic_shapes=shapes, external_data=False, verbose=False)
            else:
                axes = {"video": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else None
                torch.onnx.export(model, (x,), tmp, dynamo=False,
                                  opset_version=opset, input_names=["video"],
                                  output_names=["logits"], dynamic_axes=axes, do_constant_folding=True)
        # The exporters may fall back to another opset with only a log line: never keep a file
        # that is not what was asked for.
        written = onnx_file_opset(tmp)
        if written != opset:
            raise UsageError(f"opset {opset}: the {exporter} exporter wrote opset {written} "
                             f"instead; nothing was written")

    path = atomic_write(path, write)
    log.info("Exported ONNX (%s exporter) to %s", exporter, path)
    return path


def export_torchscript(model: SlowFast, path: str | os.PathLike, *, size: int | None = None,
                       dynamic_batch: bool = True, fp16: bool = False) -> Path:
    """Export with ``torch.jit.trace`` to a ``.pt`` file for ``torch.jit.load``.

    A traced SlowFast accepts any batch size (``dynamic_batch`` is accepted for symmetry with
    ONNX); ``T, H, W`` must be the traced ones.
    """
    model = _prepared(model, fp16)
    x = example_input(model, size=size, dtype=torch.float16 if fp16 else torch.float32)
    def write(tmp: str) -> None:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
            warnings.simplefilter("ignore", category=DeprecationWarning)
            traced = torch.jit.trace(model, (x,), check_trace=False)
            torch.jit.save(traced, tmp)

    path = atomic_write(path, write)
    log.info("Exported TorchScript to %s", path)
    return path


def export_model(model: SlowFast, path: str | os.PathLike, format: str, **kwargs: Any) -> Path:
    """``export_onnx`` or ``export_torchscript`` by name (``"onnx"`` / ``"torchscript"``)."""
    if format == "onnx":
        return export_onnx(model, path, **kwargs)
    if format == "torchscript":
        return export_torchscript(model, path, **kwargs)
    raise UsageError(f"format must be one of {FORMATS}, got {format!r}")


def _reference(model: SlowFast, x: torch.Tensor) -> torch.Tensor:
    model = model.eval()
    with torch.inference_mode():
        if x.dtype == torch.float16:
            return copy.deepcopy(model).float()(x.float())
        return model(x)


def check_onnx(path: str | os.PathLike, model: SlowFast, x: torch.Tensor) -> float:
    """Max |logit difference| between onnxruntime (CPU) on ``path`` and ``model`` on ``x``.

    Raises:
        ImportError: onnxruntime is not installed (``pip install "slowfast-zoo[export]"``).
    """
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ImportError("checking an ONNX export needs onnxruntime: "
                          "pip install 'slowfast-zoo[export]'") from e
    try:
        sess = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime's error classes are its own (Fail, InvalidGraph...)
        raise UsageError(f"{path}: onnxruntime {ort.__version__} cannot run this file "
                         f"({type(exc).__name__}: {exc}); a lower opset may do") from exc
    out = sess.run(["logits"], {"video": x.numpy()})[0]
    ref = _reference(model, x)
    return float((torch.from_numpy(out).float() - ref.float()).abs().max())


def check_torchscript(path: str | os.PathLike, model: SlowFast, x: torch.Tensor) -> float:
    """Max |logit difference| between ``torch.jit.load(path)`` and ``model`` on ``x``."""
    loaded = torch.jit.load(os.fspath(path), map_location="cpu")
    with torch.inference_mode():
        out = loaded(x)
    return float((out.float() - _reference(model, x).float()).abs().max())
