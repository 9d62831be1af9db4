"""MMAction2 checkpoint keys -> slowfast_zoo keys: one explicit, strict mapping.

MMAction2 (Apache-2.0) stores SlowFast weights under ``backbone.{slow,fast}_path.*`` and
``cls_head.fc_cls.*`` (docs/SPEC.md section 2.9). Every source tensor must map to exactly one of
our parameters/buffers with the same shape, and every one of ours must be filled: unlike
MMAction2's non-strict loader, nothing is silently left at its random initialisation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from slowfast_zoo.errors import CheckpointError
from slowfast_zoo.weights.identify import fitting_weights_hint

__all__ = ["CONVERTER_VERSION", "mmaction2_key_to_ours", "convert_mmaction2_state_dict",
           "check_state_dict"]

#: Bumped whenever the mapping changes, so stale converted caches are rebuilt.
CONVERTER_VERSION = "1"

_PATHWAY = {"slow_path": "slow", "fast_path": "fast"}
_CONV = {"1": "conv_a", "2": "conv_b", "3": "conv_c"}

_RULES: tuple[tuple[re.Pattern[str], object], ...] = (
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
            return target(m)  # type: ignore[operator]
    return None


def check_state_dict(state_dict: Mapping[str, torch.Tensor], model: torch.nn.Module, *,
                     source: str, ignore_classifier: bool = False,
                     source_keys: Mapping[str, str] | None = None) -> None:
    """Raise :class:`CheckpointError` unless ``state_dict`` fills ``model`` exactly.

    Args:
        state_dict: tensors under our key names.
        model: the model to fill.
        source: file or URL named in the error message.
        ignore_classifier: the classifier (``fc.*``) is being replaced (``num_classes`` differs).
        source_keys: our key -> original MMAction2 key, to report errors in the file's own names.
    """
    expected = model.state_dict()
    names = source_keys or {}
    def skip(k: str) -> bool:
        return ignore_classifier and k.startswith("fc.")
    missing = [k for k in expected if k not in state_dict and not skip(k)]
    unexpected = [names.get(k, k) for k in state_dict if k not in expected and not skip(k)]
    mismatched = [
        f"{names.get(k, k)}: file {list(v.shape)} vs model {list(expected[k].shape)}"
        for k, v in state_dict.items()
        if k in expected and not skip(k) and tuple(v.shape) != tuple(expected[k].shape)
    ]
    if not (missing or unexpected or mismatched):
        return
    lines = [f"Checkpoint {source} does not match the architecture {getattr(model, 'spec', None) and model.spec.name}:"]
    if any(k.startswith(("laterals.", "slow.", "fast.")) for k in missing) or \
            any("lateral" in k or "backbone." in k for k in unexpected + mismatched):
        # The backbone differs (not only the classifier): name the architectures the file fits.
        lines.append("  " + fitting_weights_hint(
            {k: v for k, v in state_dict.items() if not k.startswith("<unmapped>")}))
    for title, items in (("missing", missing), ("unexpected", unexpected), ("mismatched shapes", mismatched)):
        if items:
            shown = "\n    ".join(items[:20]) + (f"\n    ... and {len(items) - 20} more" if len(items) > 20 else "")
            lines.append(f"  {len(items)} {title}:\n    {shown}")
    raise CheckpointError("\n".join(lines))


def convert_mmaction2_state_dict(state_dict: Mapping[str, torch.Tensor], model: torch.nn.Module, *,
                                 source: str, ignore_classifier: bool = False) -> dict[str, torch.Tensor]:
    """Rename an MMAction2 SlowFast state dict to our keys and check it fills ``model``.

    Raises:
        CheckpointError: listing missing, unexpected and shape-mismatched keys.
    """
    out: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    unexpected: list[str] = []
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"Checkpoint {source}: entry {key!r} is a {type(value).__name__}, "
                                  "not a tensor")
        ours = mmaction2_key_to_ours(key)
        if ours is None:
            unexpected.append(key)
            continue
        out[ours] = value
        origin[ours] = key
    if unexpected:
        # Report unknown source keys together with everything else that is wrong.
        for k in unexpected:
            out[f"<unmapped>{k}"] = state_dict[k]
            origin[f"<unmapped>{k}"] = k
    check_state_dict(out, model, source=source, ignore_classifier=ignore_classifier, source_keys=origin)
    if ignore_classifier:
        out = {k: v for k, v in out.items() if not k.startswith("fc.")}
    return out
