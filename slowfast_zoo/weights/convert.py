"""Loading step 4: a checkpoint's key names -> ours, one converter per source family.

=================  ======================================================================
family             converter
=================  ======================================================================
``mmaction2``      :func:`mmaction2_key_to_ours`: MMAction2 (Apache-2.0) stores SlowFast
                   weights under ``backbone.{slow,fast}_path.*`` and ``cls_head.fc_cls.*``
                   (docs/SPEC.md section 2.9); one explicit rule per layer kind
``slowfast_zoo``   our own files: the names are already ours
=================  ======================================================================

Converting only renames. A key no rule knows is kept under ``<unmapped>NAME`` so that the one
check of :mod:`.apply` reports it with everything else wrong, in the file's own names: unlike
MMAction2's non-strict loader, nothing is silently left at its random initialisation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from slowfast_zoo.errors import CheckpointError
from slowfast_zoo.weights.readers import Checkpoint

__all__ = ["Converted", "convert_checkpoint", "mmaction2_key_to_ours", "UNMAPPED"]

#: Prefix of the keys no rule maps (reported by the check, never loaded).
UNMAPPED = "<unmapped>"

_PATHWAY = {"slow_path": "slow", "fast_path": "fast"}
_CONV = {"1": "conv_a", "2": "conv_b", "3": "conv_c"}

#: One rule: a full-match pattern of MMAction2 key names and the key it becomes.
Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

_RULES: tuple[Rule, ...] = (
    (re.compile(r"backbone\.(slow_path|fast_path)\.conv1\.(conv|bn)\.(\w+)"),
     lambda m: f"{_PATHWAY[m[1]]}.stem.{m[2]}.{m[3]}"),
    (re.compile(r"backbone\.(slow_path|fast_path)\.layer([1-4])\.(\d+)\.conv([123])\.(conv|bn)\.(\w+)"),
     lambda m: f"{_PATHWAY[m[1]]}.stages.{int(m[2]) - 1}.{m[3]}.{_CONV[m[4]]}.{m[5]}.{m[6]}"),
    (re.compile(r"backbone\.(slow_path|fast_path)\.layer([1-4])\.(\d+)\.downsample\.(conv|bn)\.(\w+)"),
     lambda m: f"{_PATHWAY[m[1]]}.stages.{int(m[2]) - 1}.{m[3]}.shortcut.{m[4]}.{m[5]}"),
    (re.compile(r"backbone\.slow_path\.conv1_lateral\.conv\.weight"), lambda m: "laterals.0.weight"),
    (re.compile(r"backbone\.slow_path\.layer([1-3])_lateral\.conv\.weight"),
     lambda m: f"laterals.{m[1]}.weight"),
    # lateral_norm=True files: the BatchNorm after each lateral conv.
    (re.compile(r"backbone\.slow_path\.conv1_lateral\.bn\.(\w+)"), lambda m: f"laterals.0.bn.{m[1]}"),
    (re.compile(r"backbone\.slow_path\.layer([1-3])_lateral\.bn\.(\w+)"),
     lambda m: f"laterals.{m[1]}.bn.{m[2]}"),
    (re.compile(r"cls_head\.fc_cls\.(weight|bias)"), lambda m: f"fc.{m[1]}"),
)


def mmaction2_key_to_ours(key: str) -> str | None:
    """Our state-dict key for an MMAction2 key, or ``None`` if it is not a SlowFast weight.

    Example:
        >>> mmaction2_key_to_ours("backbone.slow_path.layer3.0.conv1.bn.running_var")
        'slow.stages.2.0.conv_a.bn.running_var'
    """
    if key.startswith("module."):  # a DDP wrapper prefix, stripped by mmcv's loader too
        key = key[len("module."):]
    for pattern, target in _RULES:
        m = pattern.fullmatch(key)
        if m:
            return target(m)
    return None


@dataclass(frozen=True)
class Converted:
    """A state dict under our key names (loading step 4's result).

    Attributes:
        state_dict: tensors under our names (unknown keys under ``<unmapped>NAME``).
        source_keys: our name -> the file's own name, for messages.
        checkpoint: what was read (source, metadata, class names, cache target).

    Example:
        >>> ckpt = Checkpoint({"backbone.slow_path.conv1_lateral.conv.weight": torch.zeros(1)},
        ...                   "mmaction2", "x.pth")
        >>> convert_checkpoint(ckpt).source_keys
        {'laterals.0.weight': 'backbone.slow_path.conv1_lateral.conv.weight'}
    """

    state_dict: dict[str, torch.Tensor]
    source_keys: dict[str, str]
    checkpoint: Checkpoint


def _rename_mmaction2(sd: Mapping[str, torch.Tensor], source: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    out: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    for key, value in sd.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"Checkpoint {source}: entry {key!r} is a {type(value).__name__}, "
                                  "not a tensor")
        ours = mmaction2_key_to_ours(key) or f"{UNMAPPED}{key}"
        out[ours] = value
        origin[ours] = key
    return out, origin


def convert_checkpoint(ckpt: Checkpoint) -> Converted:
    """Rename a checkpoint's tensors to our keys with its family's converter (once per load).

    Example:
        >>> from slowfast_zoo.weights.readers import Checkpoint
        >>> ckpt = Checkpoint({"cls_head.fc_cls.bias": torch.zeros(3)}, "mmaction2", "x.pth")
        >>> list(convert_checkpoint(ckpt).state_dict)
        ['fc.bias']
    """
    if ckpt.family == "mmaction2":
        sd, origin = _rename_mmaction2(ckpt.tensors, ckpt.source)
        return Converted(sd, origin, ckpt)
    return Converted(dict(ckpt.tensors), {}, ckpt)
