"""``create_model``: build a SlowFast by name and, if asked, fill it with published weights."""

from __future__ import annotations

import logging
import os

from slowfast_zoo.errors import UsageError
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.registry import get_arch_spec, get_pretrained_cfg
from slowfast_zoo.weights.download import download_deadline
from slowfast_zoo.weights.hub import is_prefixed, load_prefixed
from slowfast_zoo.weights.schema import MAX_CLASSES
from slowfast_zoo.weights.sources import load_pretrained

__all__ = ["create_model"]

log = logging.getLogger(__name__)


def create_model(name: str, pretrained: bool = False, *, num_classes: int | None = None,
                 checkpoint_path: str | os.PathLike | None = None,
                 progress: bool = True, download_timeout: float | None = None) -> SlowFast:
    """Build a SlowFast network, optionally with MMAction2's published Kinetics-400 weights.

    Args:
        name: ``"arch"`` or ``"arch.tag"`` (see :func:`list_models`); a bare architecture
            name means its default weight tag. ``"hf-hub:ORG/REPO[@revision]"`` or
            ``"local-dir:PATH"`` load a model saved by :func:`slowfast_zoo.save_pretrained`
            (weights always loaded, ``pretrained`` is not needed).
        pretrained: load weights: from ``checkpoint_path`` if given, else the local cache,
            else the published URL (verified against the sha256 prefix in its file name).
        num_classes: classifier size; when it differs from 400 with ``pretrained=True``,
            everything but the classifier is loaded and a fresh classifier is initialised.
        checkpoint_path: a local MMAction2 ``.pth`` or slowfast_zoo ``.safetensors`` file, or an
            http(s) URL of one.
        progress: show a progress bar while downloading (only on a terminal).
        download_timeout: the longest a download may take, in seconds (default
            ``$SLOWFAST_ZOO_DOWNLOAD_TIMEOUT`` or 3600); a stalled connection ends after 60 s.

    Returns:
        The model in training mode (call ``.eval()`` for inference), with ``pretrained_cfg``.

    Example:
        >>> import slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1", pretrained=True).eval()  # doctest: +SKIP
    """
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                    or not 0 <= num_classes <= MAX_CLASSES):
        raise UsageError(f"num_classes must be an int in [0, {MAX_CLASSES}], got {num_classes!r}")
    if is_prefixed(name):
        # A saved model (slowfast_zoo.save_pretrained): bypasses the registry, always loads
        # its own weights. See slowfast_zoo.weights.hub.
        if checkpoint_path is not None:
            raise UsageError("checkpoint_path cannot be combined with an hf-hub:/local-dir: name")
        return load_prefixed(name, num_classes=num_classes)
    download_deadline(download_timeout)  # a bad value fails before anything is built
    spec = get_arch_spec(name)
    cfg = get_pretrained_cfg(name)
    model = SlowFast(spec, num_classes=num_classes, pretrained_cfg=cfg)
    if checkpoint_path is not None and not pretrained:
        raise UsageError("checkpoint_path is only used with pretrained=True")
    if pretrained:
        load_pretrained(model, cfg, checkpoint_path=checkpoint_path, progress=progress,
                        download_timeout=download_timeout)
    return model
