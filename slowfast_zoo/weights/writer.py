"""Writing slowfast_zoo's own weight files: the one safetensors writer and its metadata schema.

Every ``.safetensors`` the library writes (the converted cache, ``save_pretrained``'s
``model.safetensors``, fine-tune checkpoints) goes through :func:`write_safetensors`; every one
it reads goes through :func:`slowfast_zoo.weights.readers.read_safetensors`, which checks the
same schema. Metadata (all values are strings, as the format requires):

==================  =========================================================================
``format``          ``"pt"``
``producer``        ``"slowfast_zoo <version>[ <what>]"``
``architecture``    architecture name, checked against the model on load
``fusion_kernel``   temporal kernel of the lateral convs, checked against the model on load
``lateral_norm``    ``"True"``/``"False"``: BatchNorm after the lateral convs, checked on load
``feature_order``   ``"fast_slow"`` (MMAction2) or ``"slow_fast"`` (PySlowFast, PyTorchVideo): the
                    classifier's column order, checked on load (shapes cannot tell it)
``head_pool``       JSON ``[[t, h, w], [t, h, w]]``: the head's slow / fast pooling kernels
                    (``[]``: global average, e.g. PySlowFast's multigrid short-cycle weights)
``weights_sha256``  :func:`tensors_sha256` of the tensors, checked on load (damage detection)
``num_classes``     rows of the classifier (optional)
``class_names``     JSON list of the classifier's names (optional; restored on load)
``base_weight``     the registry weight a saved model derives from (optional)
``converter_*``,    for converted published files: converter version, source URL, file name,
``source_*``        full sha256 and key family (``source_family``) of the file it came from
==================  =========================================================================
"""

from __future__ import annotations

import json
import logging
import os
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from slowfast_zoo._digest import tensors_sha256
from slowfast_zoo._io import atomic_write
from slowfast_zoo._version import __version__
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.weights import readers

__all__ = ["write_safetensors", "weights_metadata", "encode_metadata", "write_converted_cache"]

log = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]


def encode_metadata(values: Mapping[str, Any]) -> dict[str, str]:
    """Metadata values as the format requires them: strings kept, anything else as JSON.

    Example:
        >>> encode_metadata({"model": "m", "args": {"stride": 16}})
        {'model': 'm', 'args': '{"stride": 16}'}
    """
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def weights_metadata(model: SlowFast, *, what: str = "",
                     class_names: Any = None, **extra: Any) -> dict[str, str]:
    """The metadata schema (see the module docstring) for a model's weights.

    Args:
        model: a :class:`~slowfast_zoo.SlowFast` (its ``spec`` names the architecture).
        what: appended to the producer (e.g. ``"finetune"``).
        class_names: the classifier's names, stored as JSON (``None``: not stored).
        extra: more entries; non-string values are stored as JSON.

    Example:
        >>> import slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_8x8x1_ln", num_classes=2)
        >>> meta = weights_metadata(model, what="finetune", class_names=["a", "b"], epoch=3)
        >>> meta["architecture"], meta["fusion_kernel"], meta["lateral_norm"], meta["class_names"], meta["epoch"]
        ('slowfast_r50_8x8x1_ln', '7', 'True', '["a", "b"]', '3')
        >>> meta["feature_order"], meta["head_pool"]
        ('fast_slow', '[]')
    """
    spec = model.spec
    meta = {"format": "pt", "producer": f"slowfast_zoo {__version__}" + (f" {what}" if what else ""),
            "architecture": spec.name, "fusion_kernel": str(spec.fusion_kernel),
            "lateral_norm": str(spec.lateral_norm), "feature_order": spec.feature_order,
            "head_pool": json.dumps([list(k) for k in spec.head_pool])}
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


def write_converted_cache(model: SlowFast, sd: Mapping[str, torch.Tensor], ckpt: readers.Checkpoint, *,
                          source_family: str | None = None, feature_order: str | None = None) -> None:
    """Loading step 6: keep a published file's conversion beside it (``ckpt.cache_to``), so that
    later loads read safetensors instead of unpickling the ``.pth``.

    The cache keeps the file's classifier even when this model replaced it, so the same
    converted file serves every ``num_classes``; its ``feature_order`` is therefore the file's
    (``feature_order``, the converter's reading of the file's key family ``source_family``),
    not this model's. A read-only cache only costs a warning: the weights are loaded all the same.
    """
    if ckpt.cache_to is None:
        return
    meta = weights_metadata(model, converter_version=readers.CONVERTER_VERSION, source_url=ckpt.url or "",
                            source_file=urllib.parse.unquote(urllib.parse.urlsplit(ckpt.url or "").path.rsplit("/", 1)[-1]),
                            source_sha256=ckpt.sha256 or "", source_family=source_family or ckpt.family)
    if feature_order is not None:
        meta["feature_order"] = feature_order
    try:
        write_safetensors(ckpt.cache_to, sd, meta)
    except Exception as e:
        log.warning("Could not write the converted cache file %s (%s: %s); the weights are loaded "
                    "but will be converted again next time.", ckpt.cache_to, type(e).__name__, e)
