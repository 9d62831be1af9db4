"""Key converters of the PySlowFast zoo's three key families (loading step 4, see :mod:`.convert`).

The key layouts are those of PyTorchVideo and PySlowFast (both Apache-2.0); the caffe2 renaming
reproduces PySlowFast's loader.

===============  ==================================================================================
family           names, e.g. (the slow pathway's first bottleneck of res3, its first BatchNorm)
===============  ==================================================================================
``pytorchvideo`` PyTorchVideo's ``create_slowfast`` (``.pyth`` files, torch.hub):
                 ``blocks.2.multipathway_blocks.0.res_blocks.0.branch2.norm_a.weight``; the
                 re-hosts in PySlowFast's ``pysf_model_zoo`` prefix every key with ``model.``
``pyslowfast``   PySlowFast's own ``SlowFast`` (``.pyth`` and torch ``.pkl`` files):
                 ``s3.pathway0_res0.branch2.a_bn.weight``
``caffe2``       blobs of the caffe2 ``.pkl`` files (Detectron-era video nets):
                 ``res3_0_branch2a_bn_s``; the fast pathway's names start with ``t_``
===============  ==================================================================================

All three land on our keys (``slow.stages.1.0.conv_a.bn.weight``). PySlowFast stage ``sK`` is
PyTorchVideo's ``blocks.{K-1}`` and our ``stages.{K-2}``; its lateral ``sK_fuse`` (after stage K)
is PyTorchVideo's ``blocks.{K-1}.multipathway_fusion`` and our ``laterals.{K-1}``.

Caffe2 blob names are first renamed to PySlowFast keys as PySlowFast's loader does
(``slowfast/utils/c2_model_loading.py``: a layer rule, then a parameter-suffix rule), then
converted as PySlowFast keys. Its quirks are kept: the lateral after stage K is the blob
``t_res{K}_{i}_branch2c_bn_subsample_*`` for *any* block index ``i`` (the writers used the last
block of the stage), and blobs that rename to nothing and contain ``momentum``, ``lr`` or
``model_iter`` (the optimizer's state) are skipped, every other one is reported. Caffe2 files hold
no ``num_batches_tracked``: each converted BatchNorm gets 0, the value PySlowFast's loader
leaves. The non-local, squeeze-excitation and X3D-head rules of PySlowFast's table are left out:
no SlowFast ResNet blob uses them, and a blob they would rename is reported either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

__all__ = ["ptv_key_to_ours", "psf_key_to_ours", "caffe2_blob_to_psf", "caffe2_blob_to_ours",
           "caffe2_blob_is_skipped", "strip_wrapper_prefix", "key_family", "FAMILIES"]

#: The families :func:`key_family` tells apart (``mmaction2``: :mod:`.convert`).
FAMILIES = ("mmaction2", "pytorchvideo", "pyslowfast", "caffe2")

_PATHWAY = ("slow", "fast")
_BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _block(stage: int, pathway: str, index: str) -> str:
    """Our prefix of bottleneck ``index`` of residual stage ``stage`` (0..3)."""
    return f"{_PATHWAY[int(pathway)]}.stages.{stage}.{index}"


# PyTorchVideo: blocks.0 = stems + first fusion, blocks.1..4 = res2..res5 (+ fusion after each but
# the last, an Identity), blocks.5 = the pooling (no weights), blocks.6 = the head.
_PTV_RULES: tuple[Rule, ...] = (
    (re.compile(r"blocks\.0\.multipathway_blocks\.([01])\.conv\.weight"),
     lambda m: f"{_PATHWAY[int(m[1])]}.stem.conv.weight"),
    (re.compile(rf"blocks\.0\.multipathway_blocks\.([01])\.norm\.{_BN}"),
     lambda m: f"{_PATHWAY[int(m[1])]}.stem.bn.{m[2]}"),
    (re.compile(r"blocks\.([0-3])\.multipathway_fusion\.conv_fast_to_slow\.weight"),
     lambda m: f"laterals.{m[1]}.weight"),
    (re.compile(rf"blocks\.([0-3])\.multipathway_fusion\.norm\.{_BN}"),
     lambda m: f"laterals.{m[1]}.bn.{m[2]}"),
    (re.compile(r"blocks\.([1-4])\.multipathway_blocks\.([01])\.res_blocks\.(\d+)\.branch1_conv\.weight"),
     lambda m: f"{_block(int(m[1]) - 1, m[2], m[3])}.shortcut.conv.weight"),
    (re.compile(rf"blocks\.([1-4])\.multipathway_blocks\.([01])\.res_blocks\.(\d+)\.branch1_norm\.{_BN}"),
     lambda m: f"{_block(int(m[1]) - 1, m[2], m[3])}.shortcut.bn.{m[4]}"),
    (re.compile(r"blocks\.([1-4])\.multipathway_blocks\.([01])\.res_blocks\.(\d+)\.branch2\.conv_([abc])\.weight"),
     lambda m: f"{_block(int(m[1]) - 1, m[2], m[3])}.conv_{m[4]}.conv.weight"),
    (re.compile(rf"blocks\.([1-4])\.multipathway_blocks\.([01])\.res_blocks\.(\d+)\.branch2\.norm_([abc])\.{_BN}"),
     lambda m: f"{_block(int(m[1]) - 1, m[2], m[3])}.conv_{m[4]}.bn.{m[5]}"),
    (re.compile(r"blocks\.6\.proj\.(weight|bias)"), lambda m: f"fc.{m[1]}"),
    # create_slowfast_with_roi_head (the AVA detector): its ResNetRoIHead's projection.
    (re.compile(r"detection_head\.proj\.(weight|bias)"), lambda m: f"fc.{m[1]}"),
)

# PySlowFast: s1 = stems, s2..s5 = res2..res5 (pathway0 slow, pathway1 fast), sK_fuse after s1..s4.
_PSF_RULES: tuple[Rule, ...] = (
    (re.compile(r"s1\.pathway([01])_stem\.conv\.weight"), lambda m: f"{_PATHWAY[int(m[1])]}.stem.conv.weight"),
    (re.compile(rf"s1\.pathway([01])_stem\.bn\.{_BN}"), lambda m: f"{_PATHWAY[int(m[1])]}.stem.bn.{m[2]}"),
    (re.compile(r"s([1-4])_fuse\.conv_f2s\.weight"), lambda m: f"laterals.{int(m[1]) - 1}.weight"),
    (re.compile(rf"s([1-4])_fuse\.bn\.{_BN}"), lambda m: f"laterals.{int(m[1]) - 1}.bn.{m[2]}"),
    (re.compile(r"s([2-5])\.pathway([01])_res(\d+)\.branch1\.weight"),
     lambda m: f"{_block(int(m[1]) - 2, m[2], m[3])}.shortcut.conv.weight"),
    (re.compile(rf"s([2-5])\.pathway([01])_res(\d+)\.branch1_bn\.{_BN}"),
     lambda m: f"{_block(int(m[1]) - 2, m[2], m[3])}.shortcut.bn.{m[4]}"),
    (re.compile(r"s([2-5])\.pathway([01])_res(\d+)\.branch2\.([abc])\.weight"),
     lambda m: f"{_block(int(m[1]) - 2, m[2], m[3])}.conv_{m[4]}.conv.weight"),
    (re.compile(rf"s([2-5])\.pathway([01])_res(\d+)\.branch2\.([abc])_bn\.{_BN}"),
     lambda m: f"{_block(int(m[1]) - 2, m[2], m[3])}.conv_{m[4]}.bn.{m[5]}"),
    (re.compile(r"head\.projection\.(weight|bias)"), lambda m: f"fc.{m[1]}"),
)


def _apply(rules: tuple[Rule, ...], key: str) -> str | None:
    for pattern, target in rules:
        m = pattern.fullmatch(key)
        if m:
            return target(m)
    return None


def strip_wrapper_prefix(key: str) -> str:
    """``key`` without a ``module.`` (DDP) and/or ``model.`` (PySlowFast's ``PTVSlowFast``) prefix.

    Example:
        >>> strip_wrapper_prefix("model.blocks.6.proj.bias"), strip_wrapper_prefix("s1_fuse.bn.bias")
        ('blocks.6.proj.bias', 's1_fuse.bn.bias')
    """
    for prefix in ("module.", "model."):
        if key.startswith(prefix):
            key = key[len(prefix):]
    return key


def ptv_key_to_ours(key: str) -> str | None:
    """Our key for a PyTorchVideo ``create_slowfast`` key (``model.``-prefixed too), else ``None``.

    Example:
        >>> ptv_key_to_ours("blocks.2.multipathway_blocks.0.res_blocks.0.branch2.norm_a.weight")
        'slow.stages.1.0.conv_a.bn.weight'
        >>> ptv_key_to_ours("model.blocks.3.multipathway_fusion.conv_fast_to_slow.weight")
        'laterals.3.weight'
    """
    return _apply(_PTV_RULES, strip_wrapper_prefix(key))


def psf_key_to_ours(key: str) -> str | None:
    """Our key for a PySlowFast ``SlowFast`` key, else ``None``.

    Example:
        >>> psf_key_to_ours("s3.pathway0_res0.branch2.a_bn.weight")
        'slow.stages.1.0.conv_a.bn.weight'
        >>> psf_key_to_ours("s2_fuse.conv_f2s.weight"), psf_key_to_ours("head.projection.bias")
        ('laterals.1.weight', 'fc.bias')
    """
    return _apply(_PSF_RULES, strip_wrapper_prefix(key))


# Caffe2 -> PySlowFast, step 1: the layer (the first rule that matches; "t_" = the fast pathway).
_C2_LAYER_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), t) for p, t in (
    (r"t_pool1_subsample_bn_(?P<rest>.+)", "s1_fuse.bn.{rest}"),
    (r"t_pool1_subsample_(?P<rest>.+)", "s1_fuse.conv_f2s.{rest}"),
    # The lateral after stage K hangs off a block's branch2c BN; any block index is accepted.
    (r"t_res(?P<k>\d+)_\d+_branch2c_bn_subsample_bn_(?P<rest>.+)", "s{k}_fuse.bn.{rest}"),
    (r"t_res(?P<k>\d+)_\d+_branch2c_bn_subsample_(?P<rest>.+)", "s{k}_fuse.conv_f2s.{rest}"),
    (r"(?P<t>t_)?res(?P<k>\d+)_(?P<i>\d+)_branch(?P<b>\d+)(?P<x>[a-z])_(?P<rest>.+)",
     "s{k}.pathway{p}_res{i}.branch{b}.{x}_{rest}"),
    (r"(?P<t>t_)?res_conv1_bn_(?P<rest>.+)", "s1.pathway{p}_stem.bn.{rest}"),
    (r"(?P<t>t_)?conv1_(?P<rest>.+)", "s1.pathway{p}_stem.conv.{rest}"),
    (r"(?P<t>t_)?res(?P<k>\d+)_(?P<i>\d+)_branch(?P<b>\d+)_(?P<rest>.+)",
     "s{k}.pathway{p}_res{i}.branch{b}_{rest}"),
    (r"(?P<t>t_)?res_conv1_(?P<rest>.+)", "s1.pathway{p}_stem.conv.{rest}"),
    (r"pred_(?P<rest>.+)", "head.projection.{rest}"),
))
# Step 2: the parameter. BatchNorm blobs end in _s (scale), _b, _rm (running mean), _riv (running
# variance); conv / fc blobs in _w and _b.
_C2_BN_SUFFIX = re.compile(r"(?P<head>.*)bn[._](?P<p>s|b|rm|riv)")
_C2_SUFFIX = re.compile(r"(?P<head>.*)[._](?P<p>w|b)")
_C2_BN_PARAM = {"s": "weight", "b": "bias", "rm": "running_mean", "riv": "running_var"}
_C2_PARAM = {"w": "weight", "b": "bias"}
#: Substrings of the optimizer-state blobs PySlowFast's loader skips without a word.
_C2_SKIPPED = ("momentum", "lr", "model_iter")


def caffe2_blob_to_psf(name: str) -> str:
    """The PySlowFast key PySlowFast's caffe2 loader gives a blob name (unknown names come back
    partly renamed or unchanged, as there).

    Example:
        >>> caffe2_blob_to_psf("t_res2_1_branch2c_w"), caffe2_blob_to_psf("res_conv1_bn_riv")
        ('s2.pathway1_res1.branch2.c.weight', 's1.pathway0_stem.bn.running_var')
        >>> caffe2_blob_to_psf("t_res4_5_branch2c_bn_subsample_bn_rm"), caffe2_blob_to_psf("pred_w")
        ('s4_fuse.bn.running_mean', 'head.projection.weight')
        >>> caffe2_blob_to_psf("conv1_w_momentum")
        's1.pathway0_stem.conv.w_momentum'
    """
    for pattern, template in _C2_LAYER_RULES:
        m = pattern.fullmatch(name)
        if m:
            groups = m.groupdict()
            name = template.format(p=1 if groups.get("t") else 0,
                                   **{k: v for k, v in groups.items() if k != "t"})
            break
    m = _C2_BN_SUFFIX.fullmatch(name)
    if m:
        return f"{m['head']}bn.{_C2_BN_PARAM[m['p']]}"
    m = _C2_SUFFIX.fullmatch(name)
    if m:
        return f"{m['head']}.{_C2_PARAM[m['p']]}"
    return name


def caffe2_blob_to_ours(name: str) -> str | None:
    """Our key for a caffe2 blob name, else ``None``.

    Example:
        >>> caffe2_blob_to_ours("res3_0_branch2a_bn_s"), caffe2_blob_to_ours("t_pool1_subsample_w")
        ('slow.stages.1.0.conv_a.bn.weight', 'laterals.0.weight')
        >>> caffe2_blob_to_ours("lr") is None
        True
    """
    return psf_key_to_ours(caffe2_blob_to_psf(name))


def caffe2_blob_is_skipped(name: str) -> bool:
    """Whether PySlowFast's loader drops this blob silently: it renames to no weight and is
    optimizer state (its name contains ``momentum``, ``lr`` or ``model_iter``).

    Example:
        >>> [caffe2_blob_is_skipped(n) for n in ("lr", "model_iter", "pred_w_momentum", "pred_w", "junk")]
        [True, True, True, False, False]
    """
    return caffe2_blob_to_ours(name) is None and any(s in name for s in _C2_SKIPPED)


_FAMILY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("mmaction2", re.compile(r"(backbone|cls_head)\.")),
    ("pytorchvideo", re.compile(r"blocks\.\d+\.")),
    ("pyslowfast", re.compile(r"s\d(\.pathway\d_|_fuse\.)|head\.projection\.")),
    ("caffe2", re.compile(r"(t_)?(res\d+_\d+_branch|res_conv1_|conv1_|pool1_subsample)|pred_[wb]$")),
)


def key_family(keys: Iterable[str]) -> str | None:
    """Whose names a state dict's keys are: the family most of them match, ``None`` if none does.

    Example:
        >>> key_family(["model.blocks.6.proj.weight", "model.blocks.6.proj.bias"])
        'pytorchvideo'
        >>> key_family(["res_conv1_bn_s", "t_conv1_w", "lr", "model_iter"])
        'caffe2'
        >>> key_family(["s1.pathway0_stem.conv.weight"]), key_family(["x"])
        ('pyslowfast', None)
    """
    counts = dict.fromkeys((f for f, _ in _FAMILY_PATTERNS), 0)
    for key in keys:
        key = strip_wrapper_prefix(key)
        for family, pattern in _FAMILY_PATTERNS:
            if pattern.match(key):
                counts[family] += 1
                break
    best = max(counts, key=lambda f: counts[f])
    return best if counts[best] else None
