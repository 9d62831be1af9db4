"""What a fine-tuning run trains: MMAction2's ``frozen_stages`` / ``norm_eval``, or a linear probe.

The choice is model state (:meth:`SlowFast.freeze <slowfast_zoo.models.slowfast.SlowFast.freeze>`),
honoured by ``model.train()``; this module only applies it and reports the trainable parameters.

Example:
    >>> import slowfast_zoo as sz
    >>> model = sz.create_model("slowfast_r50_4x16x1", num_classes=4)
    >>> params = configure_finetune(model, linear_probe=True)
    >>> [n for n, p in model.named_parameters() if p.requires_grad]
    ['fc.weight', 'fc.bias']
"""

from __future__ import annotations

import logging

from torch import nn

from slowfast_zoo.errors import UsageError

from slowfast_zoo.models.slowfast import SlowFast

__all__ = ["configure_finetune"]

log = logging.getLogger(__name__)


def configure_finetune(model: SlowFast, *, freeze_stages: int = -1, norm_eval: bool = False,
                       linear_probe: bool = False) -> list[nn.Parameter]:
    """Choose what a fine-tuning run trains, in place; returns the trainable parameters.

    ``model.train()`` afterwards keeps the choice: frozen modules (and, with ``norm_eval``,
    every BatchNorm) stay in eval mode, so their running statistics are not updated, as in
    MMAction2's ``ResNet3d.train``.

    Args:
        model: a :class:`~slowfast_zoo.SlowFast` (not fused).
        freeze_stages: -1 trains everything; 0 freezes both stems; k in 1..4 also freezes
            stages 1..k of both pathways and the lateral convs feeding them.
        norm_eval: keep every BatchNorm in eval mode (frozen statistics; affine still trained
            unless frozen).
        linear_probe: train only the classifier (``fc``); the whole backbone is frozen and
            kept in eval mode.

    Example:
        >>> params = configure_finetune(model, freeze_stages=2, norm_eval=True)  # doctest: +SKIP
    """
    if not -1 <= freeze_stages <= 4:
        raise UsageError(f"freeze_stages must be in -1..4, got {freeze_stages}")
    model.freeze(freeze_stages, norm_eval=norm_eval, backbone=linear_probe)
    params = [p for p in model.parameters() if p.requires_grad]
    log.info("fine-tuning %d of %d parameters (freeze_stages=%d, norm_eval=%s, linear_probe=%s)",
             sum(p.numel() for p in params), sum(p.numel() for p in model.parameters()),
             freeze_stages, norm_eval, linear_probe)
    return params
