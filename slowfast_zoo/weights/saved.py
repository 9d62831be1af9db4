"""The saved-model format: a directory of ``config.json`` + ``model.safetensors`` + ``README.md``.

::

    config.json          architecture, base weight tag, num_classes, class names, test protocol,
                         mean/std, fusion kernel, head pooling, classifier column order,
                         library version
    model.safetensors    the state dict (our keys, unfused), metadata: architecture, fusion_kernel,
                         lateral_norm, feature_order, head_pool
    README.md            a model card

:func:`save_pretrained` writes it (atomically: a temporary sibling directory renamed into
place); :func:`push_to_hub` uploads it with ``huggingface_hub.HfApi``;
``create_model("local-dir:PATH")`` and ``create_model("hf-hub:ORG/REPO[@revision]")`` load it
through the one loading path (:mod:`.loader`; ``config.json`` is read by :mod:`.readers`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

from slowfast_zoo._io import atomic_dir, remove_leftovers, temporary_directory
from slowfast_zoo._version import __version__
from slowfast_zoo.errors import OutputPathError, UsageError
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.registry.records import KINETICS_MEAN, KINETICS_STD, PretrainedCfg, TestProtocol
from slowfast_zoo.weights.hub import endpoint
from slowfast_zoo.weights.source import CONFIG_NAME, WEIGHTS_NAME
from slowfast_zoo.weights.writer import weights_metadata, write_safetensors

__all__ = ["save_pretrained", "push_to_hub", "CONFIG_NAME", "WEIGHTS_NAME", "CARD_NAME", "FORMAT_VERSION"]

log = logging.getLogger(__name__)

CARD_NAME = "README.md"
FORMAT_VERSION = 1


def _config_of(model: SlowFast, class_names: tuple[str, ...]) -> dict[str, Any]:
    spec = model.spec
    cfg = model.pretrained_cfg
    test = cfg.test if cfg is not None else None
    return {
        "library": "slowfast_zoo",
        "library_version": __version__,
        "format_version": FORMAT_VERSION,
        "architecture": spec.name,
        "tag": cfg.tag if cfg is not None else spec.default_tag,
        "base_weight": cfg.name if cfg is not None else f"{spec.name}.{spec.default_tag}",
        "num_classes": int(model.num_classes),
        "class_names": list(class_names),
        "fusion_kernel": int(spec.fusion_kernel),
        "lateral_norm": bool(spec.lateral_norm),
        # The head as trained: PySlowFast's multigrid short-cycle weights average globally where
        # their architecture pools the training crop ([] = global average).
        "head_pool": [list(k) for k in spec.head_pool],
        "feature_order": spec.feature_order,
        "test": dataclasses.asdict(test if test is not None else TestProtocol()),
        "mean": list(cfg.mean if cfg is not None else KINETICS_MEAN),
        "std": list(cfg.std if cfg is not None else KINETICS_STD),
        "input": {"layout": "NCTHW", "channels": "RGB", "dtype": "float32",
                  "normalization": "(x - mean) / std on the 0-255 scale",
                  "output": "logits (apply softmax; average probabilities over views)"},
    }


def _card(config: dict[str, Any], cfg: PretrainedCfg | None) -> str:
    t = config["test"]
    lines = [
        "---", "library_name: slowfast_zoo", "license: apache-2.0",
        "tags:", "- video-classification", "- slowfast", "- action-recognition", "---", "",
        f"# {config['architecture']} ({config['base_weight']})", "",
        "A SlowFast video classifier saved with "
        f"[slowfast_zoo](https://github.com/) {config['library_version']}.", "",
        "```python", "import slowfast_zoo as sz",
        'model = sz.create_model("hf-hub:<this repo>").eval()',
        'print(sz.predict(model, "video.mp4", topk=5))', "```", "",
        f"- classes: {config['num_classes']}",
        f"- fusion kernel: {config['fusion_kernel']}",
        f"- input: float32 `[N, 3, {t['clip_len']}, H, W]` RGB clips, frames every "
        f"{t['frame_interval']}, normalized with mean {config['mean']} / std {config['std']} (0-255 scale)",
        f"- test protocol: {t['num_clips']} clips x {t['num_crops']} crops, short side "
        f"{t['resize_short_side']}, crop {t['crop_size']}, softmax averaged",
    ]
    if cfg is not None and config["num_classes"] == cfg.num_classes and \
            list(cfg.class_names) == config["class_names"]:
        lines.append(f"- base weight accuracy (MMAction2 {cfg.mmaction2}, {cfg.dataset} val, "
                     f"{cfg.test.num_views} views): top-1 {cfg.top1}, top-5 {cfg.top5}. "
                     f"Fine-tuned weights may differ.")
    if cfg is not None and cfg.citation:
        lines += ["", "## Citation", "", "```bibtex", cfg.citation, "```"]
    return "\n".join(lines) + "\n"


def save_pretrained(model: SlowFast, directory: str | os.PathLike, *,
                    class_names: list[str] | tuple[str, ...] | None = None) -> Path:
    """Write ``config.json`` + ``model.safetensors`` + ``README.md`` into ``directory``.

    The directory is built next to its final place and renamed into it, so a crash never
    leaves half a model; an existing directory is replaced only if it holds nothing but these
    three files (else :class:`~slowfast_zoo.errors.OutputPathError`, a ``FileExistsError``).

    Args:
        model: a :class:`~slowfast_zoo.SlowFast` (not fused: BatchNorm must still be there;
            the inference helpers never fuse the caller's model).
        directory: target directory.
        class_names: names of the classes (default: ``model.class_names``, then the weight's).

    Returns:
        The directory.

    Example:
        >>> sz.save_pretrained(model, "my-slowfast")  # doctest: +SKIP
        >>> model2 = sz.create_model("local-dir:my-slowfast")  # doctest: +SKIP
    """
    if getattr(model, "is_fused", False):
        raise UsageError("cannot save a fused model (BatchNorm folded for inference): save the "
                         "model before slowfast_zoo.inference.prepare_model / model.fuse()")
    names = tuple(class_names) if class_names is not None else model.class_names
    if len(names) != model.num_classes:
        raise UsageError(f"{len(names)} class names for a {model.num_classes}-class model")
    directory = Path(directory)
    remove_leftovers(directory.parent, [directory.name])  # of a save killed before its rename
    if directory.exists():
        extra = {p.name for p in directory.iterdir()} - {CONFIG_NAME, WEIGHTS_NAME, CARD_NAME}
        if not directory.is_dir() or extra:
            raise OutputPathError(f"{directory} exists and holds other files ({sorted(extra)[:5]}); "
                                  f"not overwriting it")
    config = _config_of(model, names)
    meta = weights_metadata(model, base_weight=config["base_weight"], class_names=names)
    with atomic_dir(directory, replace=True) as tmp:
        write_safetensors(tmp / WEIGHTS_NAME, model.state_dict(), meta)
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (tmp / CARD_NAME).write_text(_card(config, model.pretrained_cfg), encoding="utf-8")
    log.info("Saved %s (%d classes) to %s", config["architecture"], config["num_classes"], directory)
    return directory


def push_to_hub(model: SlowFast, repo_id: str, *, revision: str | None = None,
                private: bool | None = None, token: str | bool | None = None,
                commit_message: str = "Upload slowfast_zoo model", create_repo: bool = True,
                class_names: list[str] | tuple[str, ...] | None = None) -> str:
    """Save the model (see :func:`save_pretrained`) and upload it to the Hub repo ``repo_id``.

    Returns:
        The URL of the commit (``huggingface_hub``'s ``CommitInfo.commit_url``).

    Example:
        >>> sz.push_to_hub(model, "me/slowfast-r50-ucf101", private=True)  # doctest: +SKIP
    """
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint(), token=token)
    if create_repo:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    with temporary_directory("slowfast_zoo-push-") as tmp:
        folder = save_pretrained(model, Path(tmp) / "model", class_names=class_names)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), revision=revision,
                                 commit_message=commit_message, repo_type="model")
    return str(getattr(info, "commit_url", info))
