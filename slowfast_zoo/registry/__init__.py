"""Name lookup: architectures, ``arch.tag`` weights, wildcards and close matches.

The data lives in :mod:`.archs` and :mod:`.pretrained` (MMAction2's weights in
:mod:`.pretrained_mmaction2`, PyTorchVideo's and PySlowFast's in :mod:`.pretrained_pysf`); this
module only answers questions about it. Nothing is registered by import side effects.
"""

from __future__ import annotations

import difflib
import fnmatch

from slowfast_zoo.errors import UnknownModelError, WrongTypeError
from slowfast_zoo.registry.archs import ARCHS
from slowfast_zoo.registry.pretrained import KINETICS400_CLASSES, PRETRAINED
from slowfast_zoo.registry.records import ArchSpec, PretrainedCfg, TestProtocol, TrainProtocol

__all__ = [
    "ARCHS", "PRETRAINED", "KINETICS400_CLASSES", "ArchSpec", "PretrainedCfg", "TestProtocol",
    "TrainProtocol", "list_models", "get_pretrained_cfg", "get_arch_spec", "split_model_name",
]


def _unknown(name: str, kind: str = "model") -> UnknownModelError:
    candidates = list(ARCHS) + list(PRETRAINED)
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return UnknownModelError(
        f"Unknown {kind} name {name!r}.{hint} See slowfast_zoo.list_models() "
        f"(or `slowfast-zoo list`) for the {len(ARCHS)} architectures and "
        f"list_models(pretrained=True) for the {len(PRETRAINED)} weights."
    )


def split_model_name(name: str) -> tuple[str, str]:
    """Split ``"arch.tag"`` (or a bare ``"arch"``) into ``(arch, tag)``.

    A bare architecture name resolves to its default tag.

    Raises:
        UnknownModelError: the architecture or the tag is not registered.

    Example:
        >>> split_model_name("slowfast_r50_8x8x1")
        ('slowfast_r50_8x8x1', 'k400_320p')
    """
    if not isinstance(name, str):
        raise WrongTypeError(f"model name must be a str, got {type(name).__name__}")
    arch, _, tag = name.partition(".")
    if arch not in ARCHS:
        raise _unknown(name)
    tag = tag or ARCHS[arch].default_tag
    if f"{arch}.{tag}" not in PRETRAINED:
        raise _unknown(name, kind="weight tag")
    return arch, tag


def get_arch_spec(name: str) -> ArchSpec:
    """The :class:`ArchSpec` of an architecture (``"arch"`` or ``"arch.tag"``).

    The tag matters (:meth:`ArchSpec.for_weight`): ``slowfast_r50_8x8x1.k400_256p`` has fusion
    kernel 5, because its published file was trained that way (docs/SPEC.md section 1); the
    multigrid short-cycle weights have a global-pool head; a weight's classifier has its own
    class count.

    Example:
        >>> get_arch_spec("slowfast_r50_8x8x1").fusion_kernel
        7
        >>> get_arch_spec("slowfast_r50_8x8x1.k400_256p").fusion_kernel
        5
        >>> spec = get_arch_spec("slowfast_r101_r50_4x16x1")
        >>> spec.slow_depth, spec.fast_depth, spec.tau, spec.alpha
        (101, 50, 8, 8)
        >>> get_arch_spec("pysf_slowfast_r50_16x8.ssv2_multigrid").head_pool
        ()
        >>> get_arch_spec("pysf_slowfast_r50_16x8.charades").num_classes
        157
    """
    arch, tag = split_model_name(name)
    return ARCHS[arch].for_weight(PRETRAINED[f"{arch}.{tag}"])


def get_pretrained_cfg(name: str) -> PretrainedCfg:
    """The immutable record of a published weight.

    Args:
        name: ``"arch.tag"``, or a bare architecture name for its default weight.

    Raises:
        UnknownModelError: with the closest registered names.

    Example:
        >>> import slowfast_zoo as sz
        >>> sz.get_pretrained_cfg("slowfast_r50_4x16x1.k400_256p").sha256_prefix
        '145f1097'
        >>> sz.get_pretrained_cfg("pysf_slowfast_r50_8x8").url
        'https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/SLOWFAST_8x8_R50.pyth'
    """
    arch, tag = split_model_name(name)
    return PRETRAINED[f"{arch}.{tag}"]


def list_models(pattern: str = "*", pretrained: bool = False) -> list[str]:
    """Registered names matching a shell-style wildcard, sorted.

    Args:
        pattern: ``fnmatch`` pattern, e.g. ``"*r50*"``.
        pretrained: list every ``arch.tag`` weight instead of the architectures.

    Example:
        >>> list_models("*r101*")  # doctest: +NORMALIZE_WHITESPACE
        ['pysf_slowfast_16x8_r101_50_50', 'pysf_slowfast_r101_8x8', 'slowfast_r101_8x8x1',
         'slowfast_r101_r50_4x16x1']
        >>> list_models("slowfast_r50_4x16x1*", pretrained=True)[0]
        'slowfast_r50_4x16x1.k400_256p'
        >>> [n.partition(".")[2] for n in list_models("pysf_slowfast_r50_16x8*", pretrained=True)]
        ['charades', 'charades_multigrid', 'ssv2', 'ssv2_multigrid']
    """
    names = PRETRAINED if pretrained else ARCHS
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))
