"""Which registered weights a state dict fits, read from its own keys and shapes.

A checkpoint file decides what network it needs: the slow/fast depths (blocks in stage 3), the
temporal kernel of the lateral convs (MMAction2's ``fusion_kernel``, 5 or 7) and whether they
carry a BatchNorm (``lateral_norm``). When a file does not fit the model it is loaded into,
:func:`fitting_weights_hint` names the architectures/tags it does fit (docs/SPEC.md section 10,
items 10-11: infer the lateral kernel from the weights, load strictly and explain mismatches).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from slowfast_zoo.models.layers import STAGE_BLOCKS
from slowfast_zoo.registry import PRETRAINED, get_arch_spec

__all__ = ["FileShape", "file_shape", "fitting_weights", "fitting_weights_hint"]

_DEPTH_OF_STAGE3 = {blocks[2]: depth for depth, blocks in STAGE_BLOCKS.items()}


@dataclass(frozen=True)
class FileShape:
    """What a state dict (our keys) says about its network; ``None`` where it cannot tell.

    Example:
        >>> FileShape(50, 50, 7, lateral_norm=False, num_classes=None).describe()
        'slow/fast depth 50/50, lateral kernel 7 without BatchNorm, no classifier'
    """

    slow_depth: int | None
    fast_depth: int | None
    fusion_kernel: int | None
    lateral_norm: bool
    num_classes: int | None

    def describe(self) -> str:
        """E.g. ``"slow/fast depth 50/50, lateral kernel 7 with BatchNorm, 400 classes"``.

        Example:
            >>> FileShape(101, 50, 5, lateral_norm=True, num_classes=400).describe()
            'slow/fast depth 101/50, lateral kernel 5 with BatchNorm (lateral_norm), 400 classes'
        """
        depth = f"slow/fast depth {self.slow_depth or '?'}/{self.fast_depth or '?'}"
        kernel = f"lateral kernel {self.fusion_kernel or '?'}"
        norm = " with BatchNorm (lateral_norm)" if self.lateral_norm else " without BatchNorm"
        classes = f", {self.num_classes} classes" if self.num_classes is not None else ", no classifier"
        return f"{depth}, {kernel}{norm}{classes}"


def _depth(sd: Mapping[str, torch.Tensor], pathway: str) -> int | None:
    pattern = re.compile(rf"{pathway}\.stages\.2\.(\d+)\.")
    blocks = {m[1] for k in sd if (m := pattern.match(k))}
    return _DEPTH_OF_STAGE3.get(len(blocks))


def file_shape(sd: Mapping[str, torch.Tensor]) -> FileShape:
    """Read :class:`FileShape` from a state dict with our key names.

    Example:
        >>> import slowfast_zoo as sz
        >>> file_shape(sz.create_model("slowfast_r101_r50_4x16x1", num_classes=10).state_dict())
        FileShape(slow_depth=101, fast_depth=50, fusion_kernel=5, lateral_norm=False, num_classes=10)
        >>> file_shape({})
        FileShape(slow_depth=None, fast_depth=None, fusion_kernel=None, lateral_norm=False, num_classes=None)
    """
    lateral = sd.get("laterals.0.weight")
    kernel = int(lateral.shape[2]) if isinstance(lateral, torch.Tensor) and lateral.dim() == 5 else None
    fc = sd.get("fc.weight")
    return FileShape(
        slow_depth=_depth(sd, "slow"), fast_depth=_depth(sd, "fast"), fusion_kernel=kernel,
        lateral_norm=any(k.startswith("laterals.") and ".bn." in k for k in sd),
        num_classes=int(fc.shape[0]) if isinstance(fc, torch.Tensor) and fc.dim() == 2 else None,
    )


def fitting_weights(shape: FileShape) -> list[str]:
    """Registered ``arch.tag`` names whose network has this file's depths, kernel and lateral norm.

    Shapes cannot tell the temporal strides apart: a kernel-5 r50 file fits both
    ``slowfast_r50_4x16x1.*`` and ``slowfast_r50_8x8x1.k400_256p`` (whose file has kernel 5).

    Example:
        >>> fitting_weights(FileShape(152, 50, 5, lateral_norm=False, num_classes=400))
        ['slowfast_r152_r50_4x16x1.k400_256p']
        >>> "slowfast_r50_8x8x1.k400_256p" in fitting_weights(FileShape(50, 50, 5, False, 400))
        True
    """
    out = []
    for name in PRETRAINED:
        spec = get_arch_spec(name)
        if ((spec.slow_depth, spec.fast_depth, spec.fusion_kernel, spec.lateral_norm)
                == (shape.slow_depth, shape.fast_depth, shape.fusion_kernel, shape.lateral_norm)):
            out.append(name)
    return out


def fitting_weights_hint(sd: Mapping[str, torch.Tensor]) -> str:
    """One sentence on what the file is and which registered architecture/tags fit it.

    Example:
        >>> fitting_weights_hint({})
        'The file has slow/fast depth ?/?, lateral kernel ? without BatchNorm, no classifier: no registered architecture has that network.'
    """
    shape = file_shape(sd)
    names = fitting_weights(shape)
    if not names:
        return f"The file has {shape.describe()}: no registered architecture has that network."
    by_arch: dict[str, list[str]] = {}
    for name in names:
        arch, _, tag = name.partition(".")
        by_arch.setdefault(arch, []).append(tag)
    fits = "; ".join(f"{arch} (tags {', '.join(tags)})" for arch, tags in by_arch.items())
    return (f"The file has {shape.describe()}: it fits {fits}. Build the model with one of those "
            f"names, e.g. create_model({names[0]!r}, pretrained=True, checkpoint_path=...).")
