"""Loading step 4: a checkpoint's key names -> ours, one converter per source family.

=================  ======================================================================
family             converter
=================  ======================================================================
``mmaction2``      :func:`mmaction2_key_to_ours`: MMAction2 (Apache-2.0) stores SlowFast
                   weights under ``backbone.{slow,fast}_path.*`` and ``cls_head.fc_cls.*``
                   (docs/SPEC.md section 2.9); one explicit rule per layer kind
``pytorchvideo``   :func:`~.convert_pysf.ptv_key_to_ours`: PyTorchVideo's ``blocks.*`` (also
                   ``model.blocks.*``, PySlowFast's re-hosts)
``pyslowfast``     :func:`~.convert_pysf.psf_key_to_ours`: PySlowFast's ``sK.pathwayP_resI.*``
``caffe2``         :func:`~.convert_pysf.caffe2_blob_to_ours`: caffe2 blob names, renamed as
                   PySlowFast's loader does (optimizer blobs skipped as there)
``slowfast_zoo``   our own files: the names are already ours
=================  ======================================================================

A torch file's family is read from its keys (:func:`~.convert_pysf.key_family`): the same
reader serves MMAction2, PyTorchVideo and PySlowFast files. Converting only renames (and gives
caffe2 BatchNorms the ``num_batches_tracked`` = 0 their files lack). A key no rule knows is kept
under ``<unmapped>NAME`` so that the one check of :mod:`.apply` reports it with everything else
wrong, in the file's own names: unlike MMAction2's and PySlowFast's non-strict loaders, nothing is
silently left at its random initialisation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from slowfast_zoo.errors import CheckpointError
from slowfast_zoo.weights.convert_pysf import (
    caffe2_blob_is_skipped,
    caffe2_blob_to_ours,
    key_family,
    psf_key_to_ours,
    ptv_key_to_ours,
)
from slowfast_zoo.weights.readers import Checkpoint

__all__ = ["Converted", "convert_checkpoint", "mmaction2_key_to_ours", "UNMAPPED", "KEY_CONVERTERS"]

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
    # Detectors (FastRCNN): BBoxHeadAVA's classifier (background row 0 kept: SlowFastDetector)
    # and the ACRN shared head.
    (re.compile(r"roi_head\.bbox_head\.fc_cls\.(weight|bias)"), lambda m: f"fc.{m[1]}"),
    (re.compile(r"roi_head\.shared_head\.(conv[12])\.(conv|bn)\.(\w+)"),
     lambda m: f"shared_head.{m[1]}.{m[2]}.{m[3]}"),
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
        key_family: whose names the file used (``"mmaction2"``, ``"pytorchvideo"``,
            ``"pyslowfast"``, ``"caffe2"`` or ``"slowfast_zoo"``).

    Example:
        >>> ckpt = Checkpoint({"backbone.slow_path.conv1_lateral.conv.weight": torch.zeros(1)},
        ...                   "mmaction2", "x.pth")
        >>> convert_checkpoint(ckpt).source_keys
        {'laterals.0.weight': 'backbone.slow_path.conv1_lateral.conv.weight'}
    """

    state_dict: dict[str, torch.Tensor]
    source_keys: dict[str, str]
    checkpoint: Checkpoint
    key_family: str = "mmaction2"

    @property
    def is_detector(self) -> bool:
        """The file holds an action detector's RoI head (MMAction2's ``roi_head.*``, PyTorchVideo's
        ``detection_head.*``).

        Example:
            >>> ckpt = Checkpoint({"roi_head.bbox_head.fc_cls.bias": torch.zeros(81)}, "mmaction2", "x.pth")
            >>> convert_checkpoint(ckpt).is_detector
            True
        """
        return any(("roi_head." in k or "detection_head." in k) for k in self.source_keys.values())

    @property
    def feature_order(self) -> str | None:
        """The classifier's column order the file was trained with (``ArchSpec.feature_order``):
        ``"fast_slow"`` for MMAction2 files, ``"slow_fast"`` for PyTorchVideo, PySlowFast and
        caffe2 ones, ``None`` for our own files (their architecture says it). Shapes cannot tell
        the two apart (MMAction2's ``slowfast_r50_8x8x1_ln`` and ``pysf_slowfast_r50_8x8`` have
        the same ones), so a loader must compare it with the model's. Our own files say it in
        their metadata (``None`` when they do not: they were written before it was recorded).

        Example:
            >>> ckpt = Checkpoint({"head.projection.bias": torch.zeros(3)}, "mmaction2", "x.pyth")
            >>> convert_checkpoint(ckpt).feature_order
            'slow_fast'
        """
        if self.key_family == "slowfast_zoo":
            # Our files record it (the converted cache: the order of the file it came from).
            return self.checkpoint.metadata.get("feature_order")
        if self.key_family == "mmaction2":
            # MMAction2's RoI extractor joins the pathways slow first, its recognition head fast first.
            return "slow_fast" if self.is_detector else "fast_slow"
        return "slow_fast"


#: Family -> its key converter (our key for a file key, ``None``: no rule knows it).
KEY_CONVERTERS: Mapping[str, Callable[[str], str | None]] = {
    "mmaction2": mmaction2_key_to_ours,
    "pytorchvideo": ptv_key_to_ours,
    "pyslowfast": psf_key_to_ours,
    "caffe2": caffe2_blob_to_ours,
}


def _rename(sd: Mapping[str, torch.Tensor], source: str,
            family: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    to_ours = KEY_CONVERTERS[family]
    out: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    for key, value in sd.items():
        if family == "caffe2" and caffe2_blob_is_skipped(key):
            continue  # optimizer state (momentum, lr, model_iter): PySlowFast skips it silently
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"Checkpoint {source}: entry {key!r} is a {type(value).__name__}, "
                                  "not a tensor")
        ours = to_ours(key) or f"{UNMAPPED}{key}"
        if ours in out:
            raise CheckpointError(f"Checkpoint {source}: entries {origin[ours]!r} and {key!r} are both "
                                  f"the weight {ours!r}")
        out[ours] = value
        origin[ours] = key
    if family == "caffe2":
        # Caffe2 files have no num_batches_tracked; PySlowFast's loader leaves the initial 0.
        for key in [k for k in out if k.endswith(".running_mean")]:
            count = key[: -len("running_mean")] + "num_batches_tracked"
            out.setdefault(count, torch.tensor(0, dtype=torch.int64))
    return out, origin


def convert_checkpoint(ckpt: Checkpoint) -> Converted:
    """Rename a checkpoint's tensors to our keys with its family's converter (once per load).

    The key family is told by the keys (:func:`~.convert_pysf.key_family`), whatever format
    they were read from; when no key belongs to a known family, the reader's label decides and
    the check reports every key.

    Example:
        >>> from slowfast_zoo.weights.readers import Checkpoint
        >>> ckpt = Checkpoint({"cls_head.fc_cls.bias": torch.zeros(3)}, "mmaction2", "x.pth")
        >>> list(convert_checkpoint(ckpt).state_dict)
        ['fc.bias']
        >>> ptv = Checkpoint({"model.blocks.6.proj.bias": torch.zeros(3)}, "mmaction2", "x.pyth")
        >>> converted = convert_checkpoint(ptv)
        >>> converted.key_family, converted.source_keys
        ('pytorchvideo', {'fc.bias': 'model.blocks.6.proj.bias'})
    """
    if ckpt.family == "slowfast_zoo":
        return Converted(dict(ckpt.tensors), {}, ckpt, "slowfast_zoo")
    family = key_family(ckpt.tensors) or ckpt.family
    sd, origin = _rename(ckpt.tensors, ckpt.source, family)
    return Converted(sd, origin, ckpt, family)
