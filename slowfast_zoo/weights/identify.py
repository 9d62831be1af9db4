"""Which registered weights a state dict fits, read from its own keys and shapes.

A checkpoint file decides what network it needs: the slow/fast depths (blocks in stage 3), the
temporal kernel of the lateral convs (MMAction2's ``fusion_kernel``, 5 or 7), whether they
carry a BatchNorm (``lateral_norm``), which bottlenecks have a temporal kernel (PySlowFast's
``NUM_BLOCK_TEMP_KERNEL``: ``ArchSpec.inflated_blocks``) and, from its key family rather than its
shapes, the classifier's pathway order (``feature_order``). When a file does not fit the model it is loaded into,
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
from slowfast_zoo.registry.records import ArchSpec

__all__ = ["FileShape", "file_shape", "fitting_weights", "fitting_weights_hint", "temporal_blocks"]

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
    #: ``(slow, fast)``: per stage, how many bottlenecks have a temporal kernel (``None``: unknown).
    temporal: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    #: the classifier's pathway order, from the file's key family (``None``: unknown).
    feature_order: str | None = None
    #: the file holds an action detector's RoI head (``Converted.is_detector``): only detectors fit it.
    detector: bool = False
    #: the file has MMAction2's ACRN shared head (``shared_head.*``).
    acrn: bool = False

    def describe(self) -> str:
        """E.g. ``"slow/fast depth 50/50, lateral kernel 7 with BatchNorm, 400 classes"``.

        Example:
            >>> FileShape(101, 50, 5, lateral_norm=True, num_classes=400).describe()
            'slow/fast depth 101/50, lateral kernel 5 with BatchNorm (lateral_norm), 400 classes'
            >>> FileShape(101, 101, 5, True, 400, ((0, 0, 6, 3), (3, 4, 6, 3)), "slow_fast").describe()
            'slow/fast depth 101/101, lateral kernel 5 with BatchNorm (lateral_norm), temporal kernels in 6 of 23 res4 blocks, 400 classes in slow-fast order (PySlowFast / PyTorchVideo)'
        """
        depth = f"slow/fast depth {self.slow_depth or '?'}/{self.fast_depth or '?'}"
        kernel = f"lateral kernel {self.fusion_kernel or '?'}"
        norm = " with BatchNorm (lateral_norm)" if self.lateral_norm else " without BatchNorm"
        partial = ""
        blocks = STAGE_BLOCKS.get(self.fast_depth or 0)
        if self.temporal is not None and blocks is not None:
            partial = "".join(f", temporal kernels in {n} of {total} res{i + 2} blocks"
                              for i, (n, total) in enumerate(zip(self.temporal[1], blocks)) if 0 < n < total)
        classes = f", {self.num_classes} classes" if self.num_classes is not None else ", no classifier"
        order = {"slow_fast": " in slow-fast order (PySlowFast / PyTorchVideo)",
                 "fast_slow": " in fast-slow order (MMAction2)"}.get(self.feature_order or "", "")
        return f"{depth}, {kernel}{norm}{partial}{classes}{order if self.num_classes is not None else ''}"


def _depth(sd: Mapping[str, torch.Tensor], pathway: str) -> int | None:
    pattern = re.compile(rf"{pathway}\.stages\.2\.(\d+)\.")
    blocks = {m[1] for k in sd if (m := pattern.match(k))}
    return _DEPTH_OF_STAGE3.get(len(blocks))


def temporal_blocks(spec: ArchSpec) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(slow, fast)``: per stage, how many of a spec's bottlenecks have a temporal kernel.

    Example:
        >>> from slowfast_zoo.registry import ARCHS
        >>> temporal_blocks(ARCHS["pysf_slowfast_16x8_r101_50_50"])
        ((0, 0, 6, 3), (3, 4, 6, 3))
        >>> temporal_blocks(ARCHS["slowfast_r50_4x16x1"])
        ((0, 0, 6, 3), (3, 4, 6, 3))
    """
    def counts(depth: int, inflate: tuple[bool, ...]) -> tuple[int, ...]:
        return tuple(0 if not inflate[i] else min(n, spec.inflated_blocks[i]) if spec.inflated_blocks else n
                     for i, n in enumerate(STAGE_BLOCKS[depth]))
    return counts(spec.slow_depth, spec.slow_inflate), counts(spec.fast_depth, spec.fast_inflate)


def _temporal_in_file(sd: Mapping[str, torch.Tensor]) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    out = []
    for pathway in ("slow", "fast"):
        per_stage = [0, 0, 0, 0]
        for key, t in sd.items():
            m = re.fullmatch(rf"{pathway}\.stages\.([0-3])\.\d+\.conv_a\.conv\.weight", key)
            if m and isinstance(t, torch.Tensor) and t.dim() == 5 and t.shape[2] > 1:
                per_stage[int(m[1])] += 1
        out.append(tuple(per_stage))
    return (out[0], out[1]) if any(map(any, out)) else None


def file_shape(sd: Mapping[str, torch.Tensor], feature_order: str | None = None, *,
               detector: bool = False) -> FileShape:
    """Read :class:`FileShape` from a state dict with our key names (and the classifier order
    its key family implies, which shapes cannot tell).

    Example:
        >>> import slowfast_zoo as sz
        >>> shape = file_shape(sz.create_model("slowfast_r101_r50_4x16x1", num_classes=10).state_dict())
        >>> shape.slow_depth, shape.fast_depth, shape.fusion_kernel, shape.lateral_norm, shape.num_classes
        (101, 50, 5, False, 10)
        >>> file_shape({})
        FileShape(slow_depth=None, fast_depth=None, fusion_kernel=None, lateral_norm=False, num_classes=None, temporal=None, feature_order=None, detector=False, acrn=False)
    """
    lateral = sd.get("laterals.0.weight")
    kernel = int(lateral.shape[2]) if isinstance(lateral, torch.Tensor) and lateral.dim() == 5 else None
    fc = sd.get("fc.weight")
    return FileShape(
        slow_depth=_depth(sd, "slow"), fast_depth=_depth(sd, "fast"), fusion_kernel=kernel,
        lateral_norm=any(k.startswith("laterals.") and ".bn." in k for k in sd),
        num_classes=int(fc.shape[0]) if isinstance(fc, torch.Tensor) and fc.dim() == 2 else None,
        temporal=_temporal_in_file(sd), feature_order=feature_order, detector=detector,
        acrn=any(k.startswith("shared_head.") for k in sd),
    )


def fitting_weights(shape: FileShape) -> list[str]:
    """Registered ``arch.tag`` names whose network has this file's depths, kernel, lateral norm
    and, where known, temporal blocks and classifier order.

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
                != (shape.slow_depth, shape.fast_depth, shape.fusion_kernel, shape.lateral_norm)):
            continue
        if shape.temporal is not None and temporal_blocks(spec) != shape.temporal:
            continue
        if shape.feature_order is not None and spec.feature_order != shape.feature_order:
            continue
        if (spec.roi is not None) != shape.detector:  # the backbones have the same shapes
            continue
        if spec.roi is not None and (spec.roi.shared_head == "acrn") != shape.acrn:
            continue
        out.append(name)
    return out


def fitting_weights_hint(sd: Mapping[str, torch.Tensor], *, feature_order: str | None = None,
                         detector: bool = False) -> str:
    """One sentence on what the file is and which registered architecture/tags fit it
    (``feature_order``: the classifier order of the file's key family, when known; ``detector``:
    the file holds an action detector's RoI head).

    Example:
        >>> fitting_weights_hint({})
        'The file has slow/fast depth ?/?, lateral kernel ? without BatchNorm, no classifier: no registered architecture has that network.'
    """
    shape = file_shape(sd, feature_order, detector=detector)
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
