"""slowfast_zoo's own weight files: one safetensors writer, one reader, one metadata schema.

Every ``.safetensors`` the library writes (the converted cache, ``save_pretrained``'s
``model.safetensors``, fine-tune checkpoints) goes through :func:`write_safetensors`, and every
one it reads through :func:`read_safetensors`. Metadata (all values are strings, as the format
requires):

==================  =========================================================================
``format``          ``"pt"``
``producer``        ``"slowfast_zoo <version>[ <what>]"``
``architecture``    architecture name, checked against the model on load
``fusion_kernel``   temporal kernel of the lateral convs, checked against the model on load
``lateral_norm``    ``"True"``/``"False"``: BatchNorm after the lateral convs, checked on load
``weights_sha256``  :func:`tensors_sha256` of the tensors, checked on load (damage detection)
``num_classes``     rows of the classifier (optional)
``class_names``     JSON list of the classifier's names (optional; restored on load)
``base_weight``     the registry weight a saved model derives from (optional)
``converter_*``,    for converted MMAction2 files: converter version, source URL, file name
``source_*``        and full sha256 of the ``.pth`` it came from
==================  =========================================================================
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from slowfast_zoo._io import atomic_write
from slowfast_zoo._version import __version__
from slowfast_zoo.errors import CheckpointError
from slowfast_zoo.weights.checkpoint import require_file, short_error
from slowfast_zoo.weights.schema import validate_metadata

__all__ = ["write_safetensors", "read_safetensors", "read_metadata", "weights_metadata",
           "encode_metadata", "tensors_sha256", "class_names_from_metadata"]

StateDict = dict[str, torch.Tensor]


def tensors_sha256(sd: Mapping[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and raw bytes of a state dict, in sorted key order.

    Stored in every file we write so that a damaged file is detected (and a cache entry rebuilt).

    Example:
        >>> len(tensors_sha256({"w": torch.zeros(2)}))
        64
    """
    h = hashlib.sha256()
    for key in sorted(sd):
        t = sd[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{list(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())  # reshape: 0-d tensors cannot be viewed
    return h.hexdigest()


def encode_metadata(values: Mapping[str, Any]) -> dict[str, str]:
    """Metadata values as the format requires them: strings kept, anything else as JSON.

    Example:
        >>> encode_metadata({"model": "m", "args": {"stride": 16}})
        {'model': 'm', 'args': '{"stride": 16}'}
    """
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def weights_metadata(model: torch.nn.Module, *, what: str = "",
                     class_names: Any = None, **extra: Any) -> dict[str, str]:
    """The metadata schema (see the module docstring) for a model's weights.

    Args:
        model: a :class:`~slowfast_zoo.SlowFast` (its ``spec`` names the architecture).
        what: appended to the producer (e.g. ``"finetune"``).
        class_names: the classifier's names, stored as JSON (``None``: not stored).
        extra: more entries; non-string values are stored as JSON.
    """
    meta = {"format": "pt", "producer": f"slowfast_zoo {__version__}" + (f" {what}" if what else ""),
            "architecture": model.spec.name, "fusion_kernel": str(model.spec.fusion_kernel),
            "lateral_norm": str(model.spec.lateral_norm)}
    if class_names is not None:
        meta["class_names"] = json.dumps(list(class_names))
    meta.update(encode_metadata(extra))
    return meta


def write_safetensors(path: str | os.PathLike, sd: Mapping[str, torch.Tensor],
                      metadata: Mapping[str, str]) -> Path:
    """Write ``sd`` (CPU, contiguous) with ``metadata`` + ``weights_sha256``, atomically (0644).

    Example:
        >>> write_safetensors("w.safetensors", model.state_dict(), weights_metadata(model))  # doctest: +SKIP
    """
    tensors = {k: v.detach().cpu().contiguous() for k, v in sd.items()}
    meta = {**metadata, "weights_sha256": tensors_sha256(tensors)}
    from safetensors.torch import save_file
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def read_safetensors(path: str | os.PathLike) -> tuple[StateDict, dict[str, str]]:
    """Read a slowfast_zoo ``.safetensors`` file: ``(tensors, metadata)``.

    Raises:
        CheckpointError: the file is missing, truncated, not a safetensors file, holds no
            tensors, or its tensors do not match their recorded ``weights_sha256``.

    Example:
        >>> sd, meta = read_safetensors("model.slowfast_zoo.safetensors")  # doctest: +SKIP
        >>> meta["architecture"]  # doctest: +SKIP
        'slowfast_r50_4x16x1'
    """
    path = Path(path)
    require_file(path)
    try:
        from safetensors import safe_open  # imported on use: `import slowfast_zoo` needs only torch, numpy, PyAV
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = dict(f.metadata() or {})
            sd = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # SafetensorError, OSError, ...
        raise CheckpointError(f"Cannot read {path}: expected a slowfast_zoo .safetensors file "
                              f"({type(e).__name__}: {short_error(e)}). The file may be truncated.") from e
    validate_metadata(meta, str(path))
    if not sd:
        raise CheckpointError(f"Cannot use {path}: the safetensors file holds no tensors.")
    if "weights_sha256" in meta and meta["weights_sha256"] != tensors_sha256(sd):
        raise CheckpointError(f"Cannot use {path}: the file is damaged (tensor bytes do not match "
                              f"their recorded sha256)")
    return sd, meta


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Metadata of a slowfast_zoo ``.safetensors`` file, with ``class_names`` decoded.

    Example:
        >>> read_metadata("run/latest.safetensors")["class_names"]  # doctest: +SKIP
        ['left', 'right', 'up', 'down']
    """
    path = Path(path)
    require_file(path)
    try:
        from safetensors import safe_open  # imported on use: `import slowfast_zoo` needs only torch, numpy, PyAV
        with safe_open(str(path), framework="pt") as f:
            meta: dict[str, Any] = dict(f.metadata() or {})
    except Exception as e:
        raise CheckpointError(f"Cannot read {path}: expected a slowfast_zoo .safetensors file "
                              f"({type(e).__name__}: {short_error(e)}).") from e
    names = class_names_from_metadata(meta)
    if names is not None:
        meta["class_names"] = list(names)
    return meta


def class_names_from_metadata(meta: Mapping[str, str]) -> tuple[str, ...] | None:
    """The ``class_names`` entry decoded, or ``None`` when absent."""
    if "class_names" not in meta:
        return None
    return tuple(str(n) for n in json.loads(meta["class_names"]))
