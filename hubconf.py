"""torch.hub entry points: one per slowfast_zoo architecture.

    import torch
    model = torch.hub.load("<owner>/slowfast_zoo", "slowfast_r50_4x16x1", pretrained=True)
    model = torch.hub.load("/path/to/clone", "slowfast_r50_4x16x1_ava", source="local", pretrained=True)

Each entry is :func:`slowfast_zoo.create_model` for its architecture (the architecture's default
weight with ``pretrained=True``; ``tag=`` picks another, e.g. ``tag="k400_256p"``), so the weights
come through the library's one loading path: downloaded, sha256-verified, converted, cached.
``torch.hub.list`` lists them; ``torch.hub.help(repo, name)`` shows the architecture and weights.
"""

from __future__ import annotations

import typing as _typing  # underscored: torch.hub.list lists every public callable of this file

dependencies = ["torch", "torchvision", "numpy", "av", "safetensors", "huggingface_hub"]


def _entry(arch: str) -> _typing.Callable[..., _typing.Any]:
    """The hub entry of ``arch``: ``create_model`` with that architecture's name."""

    def entry(pretrained: bool = False, *, tag: str | None = None, num_classes: int | None = None,
              checkpoint_path: str | None = None, progress: bool = True) -> _typing.Any:
        from slowfast_zoo import create_model

        return create_model(f"{arch}.{tag}" if tag else arch, pretrained=pretrained, num_classes=num_classes,
                            checkpoint_path=checkpoint_path, progress=progress)

    from slowfast_zoo.registry import ARCHS, list_models

    spec = ARCHS[arch]
    tags = ", ".join(n.split(".", 1)[1] for n in list_models(f"{arch}.*", pretrained=True))
    kind = "action detector (AVA)" if spec.task == "detection" else "video classifier"
    entry.__name__ = entry.__qualname__ = arch
    entry.__doc__ = (
        f"SlowFast {kind} ``{arch}``: R{spec.slow_depth}/R{spec.fast_depth}, tau {spec.tau}, alpha "
        f"{spec.alpha}, {spec.num_frames}-frame input, {spec.num_classes} classes.\n\n"
        f"Args:\n"
        f"    pretrained: load the published weights of ``tag`` (default: {spec.default_tag}).\n"
        f"    tag: one of {tags}.\n"
        f"    num_classes: another classifier size (a fresh classifier; the rest is loaded).\n"
        f"    checkpoint_path: a local file or URL instead of the published weights.\n"
        f"    progress: a download progress bar on a terminal.\n\n"
        f"Returns the model of :func:`slowfast_zoo.create_model` (training mode; call ``.eval()``).\n")
    return entry


slowfast_r50_4x16x1 = _entry("slowfast_r50_4x16x1")
slowfast_r50_8x8x1 = _entry("slowfast_r50_8x8x1")
slowfast_r101_r50_4x16x1 = _entry("slowfast_r101_r50_4x16x1")
slowfast_r101_8x8x1 = _entry("slowfast_r101_8x8x1")
slowfast_r152_r50_4x16x1 = _entry("slowfast_r152_r50_4x16x1")
slowfast_r50_8x8x1_ln = _entry("slowfast_r50_8x8x1_ln")
slowfast_r50_16x8x1 = _entry("slowfast_r50_16x8x1")
pysf_slowfast_r50_4x16 = _entry("pysf_slowfast_r50_4x16")
pysf_slowfast_r50_8x8 = _entry("pysf_slowfast_r50_8x8")
pysf_slowfast_r101_8x8 = _entry("pysf_slowfast_r101_8x8")
pysf_slowfast_16x8_r101_50_50 = _entry("pysf_slowfast_16x8_r101_50_50")
pysf_slowfast_r50_16x8 = _entry("pysf_slowfast_r50_16x8")
slowfast_r50_4x16x1_ava = _entry("slowfast_r50_4x16x1_ava")
slowfast_r50_8x8x1_ava = _entry("slowfast_r50_8x8x1_ava")
slowfast_r50_8x8x1_ava_tmax = _entry("slowfast_r50_8x8x1_ava_tmax")
slowfast_r50_4x16x1_ava_context = _entry("slowfast_r50_4x16x1_ava_context")
slowfast_r50_8x8x1_ava_acrn = _entry("slowfast_r50_8x8x1_ava_acrn")
slowfast_r50_8x8x1_ava_acrn_tmax = _entry("slowfast_r50_8x8x1_ava_acrn_tmax")
slowfast_r50_4x16x1_multisports = _entry("slowfast_r50_4x16x1_multisports")
ptv_slowfast_r50_detection = _entry("ptv_slowfast_r50_detection")
