"""Name lookup: architectures, ``arch.tag`` weights, wildcards and close matches.

The data lives in :mod:`.archs` and :mod:`.pretrained`; this module only answers questions
about it. Nothing is registered by import side effects.
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

    The tag matters: ``slowfast_r50_8x8x1.k400_256p`` has fusion kernel 5, because its
    published file was trained that way (docs/SPEC.md section 1).

    Example:
        >>> get_arch_spec("slowfast_r50_8x8x1").fusion_kernel
        7
        >>> get_arch_spec("slowfast_r50_8x8x1.k400_256p").fusion_kernel
        5
        >>> spec = get_arch_spec("slowfast_r101_r50_4x16x1")
        >>> spec.slow_depth, spec.fast_depth, spec.tau, spec.alpha
        (101, 50, 8, 8)
    """
    arch, tag = split_model_name(name)
    cfg = PRETRAINED[f"{arch}.{tag}"]
    spec = ARCHS[arch]
    if cfg.fusion_kernel != spec.fusion_kernel:
        spec = spec.replace(fusion_kernel=cfg.fusion_kernel)
    return spec


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
    """
    arch, tag = split_model_name(name)
    return PRETRAINED[f"{arch}.{tag}"]


def list_models(pattern: str = "*", pretrained: bool = False) -> list[str]:
    """Registered names matching a shell-style wildcard, sorted.

    Args:
        pattern: ``fnmatch`` pattern, e.g. ``"*r50*"``.
        pretrained: list every ``arch.tag`` weight instead of the architectures.

    Example:
        >>> list_models("*r101*")
        ['slowfast_r101_8x8x1', 'slowfast_r101_r50_4x16x1']
        >>> list_models("slowfast_r50_4x16x1*", pretrained=True)[0]
        'slowfast_r50_4x16x1.k400_256p'
    """
    names = PRETRAINED if pretrained else ARCHS
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))
