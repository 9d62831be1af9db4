# The recipe (SGD momentum 0.9, weight decay 1e-4, clip-by-norm 40, linear warmup from 0.1x,
# cosine decay, linear lr scaling 0.1 per 64 videos, frozen stages / norm_eval) is MMAction2's
# SlowFast Kinetics-400 training schedule (OpenMMLab, Apache-2.0,
# https://github.com/open-mmlab/mmaction2, v0.13.0; docs/SPEC.md sections 1, 2.8 and 4.7). An
# independent re-implementation; no MMAction2 code is copied.
"""The learning-rate schedule of the fine-tuning recipe: warmup + cosine, linear lr scaling.

Example:
    >>> round(WarmupCosine(total_iters=100, warmup_iters=10)(0), 6)
    0.1
"""

from __future__ import annotations

import math

from slowfast_zoo.errors import UsageError

__all__ = ["WarmupCosine", "scaled_lr"]


class WarmupCosine:
    """lr multiplier at optimizer step ``i``: linear warmup from ``warmup_ratio`` then cosine to 0.

    ``f(i) = c(i) * (1 - (1 - i / W) * (1 - warmup_ratio))`` for ``i < W``, else ``c(i)``, with
    ``c(i) = 0.5 * (1 + cos(pi * i / total_iters))``: mmcv's CosineAnnealing with linear
    warmup, evaluated per iteration instead of per epoch. A plain object with numeric
    attributes, so ``LambdaLR.state_dict()`` stays ``weights_only``-loadable.

    Example:
        >>> f = WarmupCosine(total_iters=10, warmup_iters=0)
        >>> f(0), round(f(5), 3), f(10)
        (1.0, 0.5, 0.0)
    """

    def __init__(self, total_iters: int, warmup_iters: int, warmup_ratio: float = 0.1) -> None:
        if total_iters < 1:
            raise UsageError(f"total_iters must be >= 1, got {total_iters}")
        self.total_iters = int(total_iters)
        self.warmup_iters = int(warmup_iters)
        self.warmup_ratio = float(warmup_ratio)

    def __call__(self, i: int) -> float:
        i = min(int(i), self.total_iters)
        factor = 0.5 * (1.0 + math.cos(math.pi * i / self.total_iters))
        if i < self.warmup_iters:
            factor *= 1.0 - (1.0 - i / self.warmup_iters) * (1.0 - self.warmup_ratio)
        return factor


def scaled_lr(total_batch: int, base_lr: float = 0.1, base_batch: int = 64) -> float:
    """The linear scaling rule of the recipe: 0.1 for 64 videos per optimizer step.

    Example:
        >>> scaled_lr(16)
        0.025
    """
    return base_lr * total_batch / base_batch
