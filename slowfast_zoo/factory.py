"""``create_model``: the one builder for every way of naming a model.

A registry name (``arch`` / ``arch.tag``) takes its architecture and record from the registry;
a saved model (``hf-hub:`` / ``local-dir:``) from its ``config.json``, read by the one loading
path (:mod:`slowfast_zoo.weights.loader`) before the model is built. Either way the model is
made by :func:`_build` and, when weights are asked for, filled by
:func:`~slowfast_zoo.weights.loader.load_weights`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from slowfast_zoo.errors import UsageError
from slowfast_zoo.models.detector import SlowFastDetector
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.registry import ARCHS, PRETRAINED, get_arch_spec, get_pretrained_cfg
from slowfast_zoo.registry.records import ArchSpec, PretrainedCfg, TestProtocol
from slowfast_zoo.weights.loader import load_weights
from slowfast_zoo.weights.readers import Checkpoint
from slowfast_zoo.weights.schema import MAX_CLASSES, head_pool_value
from slowfast_zoo.weights.source import HF_HUB_PREFIX, LOCAL_DIR_PREFIX, resolve_source

__all__ = ["create_model"]


def _build(spec: ArchSpec, cfg: PretrainedCfg, num_classes: int | None) -> SlowFast:
    if spec.roi is not None:
        return SlowFastDetector(spec, num_classes=num_classes, pretrained_cfg=cfg)
    return SlowFast(spec, num_classes=num_classes, pretrained_cfg=cfg)


def _saved_spec(config: dict[str, Any]) -> tuple[ArchSpec, PretrainedCfg]:
    """The architecture and record of a saved model: its base weight's, with the saved fusion
    kernel, head pooling, test protocol, mean and std where they differ (``config`` is
    validated; a config written before the head was recorded keeps its base weight's head)."""
    arch = config["architecture"]
    base = f"{arch}.{config.get('tag') or ARCHS[arch].default_tag}"
    if base not in PRETRAINED:
        base = f"{arch}.{ARCHS[arch].default_tag}"
    cfg = PRETRAINED[base]
    spec = get_arch_spec(base).for_weight(cfg)
    kernel = int(config.get("fusion_kernel", spec.fusion_kernel))
    if kernel != spec.fusion_kernel:
        spec = spec.replace(fusion_kernel=kernel)
    if "head_pool" in config:
        head_pool = head_pool_value("config.json", "head_pool", config["head_pool"])
        if head_pool != spec.head_pool:
            spec = spec.replace(head_pool=head_pool)
    changes: dict[str, Any] = {}
    if "test" in config:
        known = {f.name for f in dataclasses.fields(TestProtocol)}
        test = TestProtocol(**{k: v for k, v in config["test"].items() if k in known})
        if test != cfg.test:
            changes["test"] = test
    for key in ("mean", "std"):
        if key in config and tuple(float(v) for v in config[key]) != tuple(getattr(cfg, key)):
            changes[key] = tuple(float(v) for v in config[key])
    return spec, dataclasses.replace(cfg, **changes) if changes else cfg


def create_model(name: str, pretrained: bool = False, *, num_classes: int | None = None,
                 checkpoint_path: str | os.PathLike[str] | None = None,
                 progress: bool = True, download_timeout: float | None = None,
                 sha256: str | None = None) -> SlowFast:
    """Build a SlowFast network, optionally with its published weights.

    Args:
        name: ``"arch"`` or ``"arch.tag"`` (see :func:`list_models`); a bare architecture
            name means its default weight tag. ``"hf-hub:ORG/REPO[@revision]"`` or
            ``"local-dir:PATH"`` load a model saved by :func:`slowfast_zoo.save_pretrained`
            (weights always loaded, ``pretrained`` is not needed).
        pretrained: load weights: from ``checkpoint_path`` if given, else the local cache,
            else the published URL (verified against the sha256 prefix in its file name).
        num_classes: classifier size; when it differs from the weight's with ``pretrained=True``,
            everything but the classifier is loaded and a fresh classifier is initialised.
        checkpoint_path: a local weight file or an http(s) URL of one: an MMAction2 ``.pth``,
            a PyTorchVideo / PySlowFast ``.pyth``, a PySlowFast caffe2 or torch ``.pkl`` (told
            apart by their bytes, never their extension) or a slowfast_zoo ``.safetensors``.
            The file's classifier is kept when it has the model's class count (pass e.g.
            ``num_classes=174`` for a Something-Something V2 file).
        progress: show a progress bar while downloading (only on a terminal).
        download_timeout: the longest a download may take, in seconds (default
            ``$SLOWFAST_ZOO_DOWNLOAD_TIMEOUT`` or 3600); a stalled connection ends after 60 s.
        sha256: the full sha256 (64 hex digits) the weight file must have: pins a published
            weight, a ``checkpoint_path`` file or URL, or a saved model's ``model.safetensors``.
            Without it a URL is held to the sha256 prefix in its file name (if any) and to the
            sha256 recorded on its first download (trust on first use).

    Returns:
        The model in training mode (call ``.eval()`` for inference), with ``pretrained_cfg``.

    Raises:
        UnknownModelError: a name that is not registered (with the closest names).
        UsageError: a bad ``num_classes``, ``checkpoint_path`` without ``pretrained``, a
            malformed Hub id or revision.
        CheckpointError, HashMismatchError, DownloadError: see
            :func:`~slowfast_zoo.weights.loader.load_weights`.

    Example:
        >>> import slowfast_zoo as sz
        >>> sz.create_model("slowfast_r50_4x16x1", num_classes=10).fc.out_features
        10
        >>> model = sz.create_model("slowfast_r50_4x16x1", pretrained=True).eval()  # doctest: +SKIP
    """
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                    or not 0 <= num_classes <= MAX_CLASSES):
        raise UsageError(f"num_classes must be an int in [0, {MAX_CLASSES}], got {num_classes!r}")
    saved = isinstance(name, str) and name.startswith((HF_HUB_PREFIX, LOCAL_DIR_PREFIX))
    if checkpoint_path is not None and not pretrained and not saved:
        raise UsageError("checkpoint_path is only used with pretrained=True")
    cfg = None if saved else get_pretrained_cfg(name)
    # The weight's own network: its lateral kernel, and the global-pool head of PySlowFast's
    # multigrid short-cycle weights (ArchSpec.for_weight).
    spec = None if cfg is None else get_arch_spec(name).for_weight(cfg)
    if spec is not None and cfg is not None and not pretrained:
        return _build(spec, cfg, num_classes)
    source = resolve_source(name, checkpoint_path, cfg, download_timeout=download_timeout, sha256=sha256)

    def build(ckpt: Checkpoint) -> tuple[SlowFast, int]:
        if spec is not None and cfg is not None:
            return _build(spec, cfg, num_classes), cfg.num_classes
        assert ckpt.config is not None  # a saved model: fetch() always gives its config.json
        saved_spec, saved_cfg = _saved_spec(ckpt.config)
        saved_classes = int(ckpt.config["num_classes"])
        model = _build(saved_spec, saved_cfg, saved_classes if num_classes is None else num_classes)
        model.hub_source = str(source)
        return model, saved_classes

    return load_weights(source, build, progress=progress)
