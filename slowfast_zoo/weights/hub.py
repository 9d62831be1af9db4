"""Share models as Hugging Face Hub repositories (or plain directories) of safetensors + config.

A saved model is a directory with three files::

    config.json          architecture, base weight tag, num_classes, class names, test protocol,
                         mean/std, fusion kernel, library version
    model.safetensors    the state dict (our keys, unfused), metadata: architecture, fusion_kernel
    README.md            a model card

:func:`save_pretrained` writes it (atomically: a temporary sibling directory renamed into place),
:func:`push_to_hub` uploads it with ``huggingface_hub.HfApi``, and
``create_model("hf-hub:ORG/REPO[@revision]")`` / ``create_model("local-dir:PATH")`` load it.
Hub files go through ``huggingface_hub.hf_hub_download``: cached in the Hub cache, ``@revision``
pinning (a branch, tag or commit), ``HF_HUB_OFFLINE=1`` and ``HF_ENDPOINT`` honoured (read at
call time, so they may be set after import).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import torch

from slowfast_zoo._io import atomic_dir, temporary_directory
from slowfast_zoo._version import __version__
from slowfast_zoo.errors import CheckpointError, UsageError
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.registry import ARCHS, PRETRAINED, get_arch_spec
from slowfast_zoo.registry.records import KINETICS_MEAN, KINETICS_STD, TestProtocol
from slowfast_zoo.weights.apply import load_safetensors_into
from slowfast_zoo.weights.safetensors import weights_metadata, write_safetensors
from slowfast_zoo.weights.schema import validate_config

__all__ = ["save_pretrained", "push_to_hub", "load_prefixed", "is_prefixed", "hub_download", "read_config",
           "split_repo",
           "CONFIG_NAME", "WEIGHTS_NAME", "HF_HUB_PREFIX", "LOCAL_DIR_PREFIX"]

log = logging.getLogger(__name__)

HF_HUB_PREFIX = "hf-hub:"
LOCAL_DIR_PREFIX = "local-dir:"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
FORMAT_VERSION = 1


def is_prefixed(name: object) -> bool:
    """Whether ``name`` names a saved model (``hf-hub:`` / ``local-dir:``) rather than a registry entry."""
    return isinstance(name, str) and name.startswith((HF_HUB_PREFIX, LOCAL_DIR_PREFIX))


# --------------------------------------------------------------------------- saving
def _config_of(model: torch.nn.Module, class_names: tuple[str, ...]) -> dict[str, Any]:
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
        "test": dataclasses.asdict(test if test is not None else TestProtocol()),
        "mean": list(cfg.mean if cfg is not None else KINETICS_MEAN),
        "std": list(cfg.std if cfg is not None else KINETICS_STD),
        "input": {"layout": "NCTHW", "channels": "RGB", "dtype": "float32",
                  "normalization": "(x - mean) / std on the 0-255 scale",
                  "output": "logits (apply softmax; average probabilities over views)"},
    }


def _card(config: dict[str, Any], cfg) -> str:
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


def save_pretrained(model: torch.nn.Module, directory: str | os.PathLike, *,
                    class_names: list[str] | tuple[str, ...] | None = None) -> Path:
    """Write ``config.json`` + ``model.safetensors`` + ``README.md`` into ``directory``.

    The directory is built next to its final place and renamed into it, so a crash never
    leaves half a model; an existing directory is replaced only if it holds nothing but these
    three files (else ``FileExistsError``).

    Args:
        model: a :class:`~slowfast_zoo.SlowFast` (not fused: BatchNorm must still be there).
        directory: target directory.
        class_names: names of the classes (default: ``model.class_names``, then the weight's).

    Returns:
        The directory.

    Example:
        >>> sz.save_pretrained(model, "my-slowfast")  # doctest: +SKIP
        >>> model2 = sz.create_model("local-dir:my-slowfast")  # doctest: +SKIP
    """
    if getattr(model, "is_fused", False):
        raise ValueError("cannot save a fused model (BatchNorm folded for inference): save the "
                         "model before slowfast_zoo.inference.prepare_model / model.fuse()")
    names = tuple(class_names) if class_names is not None else model.class_names
    if len(names) != model.num_classes:
        raise ValueError(f"{len(names)} class names for a {model.num_classes}-class model")
    directory = Path(directory)
    if directory.exists():
        extra = {p.name for p in directory.iterdir()} - {CONFIG_NAME, WEIGHTS_NAME, CARD_NAME}
        if not directory.is_dir() or extra:
            raise FileExistsError(f"{directory} exists and holds other files ({sorted(extra)[:5]}); "
                                  f"not overwriting it")
    config = _config_of(model, names)
    meta = weights_metadata(model, base_weight=config["base_weight"], class_names=names)
    with atomic_dir(directory, replace=True) as tmp:
        write_safetensors(tmp / WEIGHTS_NAME, model.state_dict(), meta)
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (tmp / CARD_NAME).write_text(_card(config, model.pretrained_cfg), encoding="utf-8")
    log.info("Saved %s (%d classes) to %s", config["architecture"], config["num_classes"], directory)
    return directory


def push_to_hub(model: torch.nn.Module, repo_id: str, *, revision: str | None = None,
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

    api = HfApi(endpoint=_endpoint(), token=token)
    if create_repo:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    with temporary_directory("slowfast_zoo-push-") as tmp:
        folder = save_pretrained(model, Path(tmp) / "model", class_names=class_names)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), revision=revision,
                                 commit_message=commit_message, repo_type="model")
    return str(getattr(info, "commit_url", info))


# --------------------------------------------------------------------------- loading
def _endpoint() -> str | None:
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or None


def _offline() -> bool:
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE") \
        or bool(getattr(constants, "HF_HUB_OFFLINE", False))


def _cache_dir() -> str | None:
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None  # huggingface_hub's default


# The Hub's own rules for names: ORG/REPO of letters, digits, "-", "_", "." (no "..", no leading
# or trailing "-"/"."), at most 96 characters each.
_REPO_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")
_COMMIT = re.compile(r"[0-9a-f]{40}")
# A branch or tag name (git check-ref-format, restricted): no "..", "//", leading/trailing "/",
# backslash, NUL, control characters, spaces or "~^:?*[@{".
_REF = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")


def check_repo_id(repo_id: str) -> str:
    """``repo_id`` if it is a valid ``ORG/REPO`` Hub name, else :class:`UsageError`."""
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(_REPO_PART.fullmatch(p) and ".." not in p for p in parts):
        raise UsageError(f"invalid Hub repository id {repo_id!r}: expected ORG/REPO of letters, digits, "
                         f"'-', '_' and '.' (no '..'), at most 96 characters each")
    return repo_id


def check_revision(revision: str) -> str:
    """``revision`` if it is a branch/tag name or a 40-hex commit, else :class:`UsageError`.

    Checked before any network call: huggingface_hub writes ``refs/<revision>`` into its cache,
    so a revision like ``../../x`` would write outside it.
    """
    if _COMMIT.fullmatch(revision):
        return revision
    segments = revision.split("/")
    if (len(revision) > 255 or not _REF.fullmatch(revision)
            or any(seg in (".", "..") or seg.startswith(".") or seg.endswith(".lock") for seg in segments)
            or revision.endswith(".")):
        raise UsageError(f"invalid Hub revision {revision!r}: expected a branch or tag name (letters, digits, "
                         f"'-', '_', '.', '/'-separated, no '..' segment, no leading '/', no backslash) "
                         f"or a 40-hex commit")
    return revision


def split_repo(spec: str) -> tuple[str, str | None]:
    """``"org/repo@rev"`` -> ``("org/repo", "rev")``; no ``@``: revision ``None`` (main).

    Both parts are validated (:func:`check_repo_id`, :func:`check_revision`).

    Raises:
        UsageError: a malformed name or revision (nothing is fetched).
    """
    if not isinstance(spec, str) or "\x00" in spec:
        raise UsageError(f"expected hf-hub:ORG/REPO or hf-hub:ORG/REPO@REVISION, got {spec!r}")
    repo_id, sep, revision = spec.partition("@")
    if not repo_id or (sep and not revision):
        raise UsageError(f"expected hf-hub:ORG/REPO or hf-hub:ORG/REPO@REVISION, got {spec!r}")
    check_repo_id(repo_id)
    return repo_id, check_revision(revision) if revision else None


def hub_download(repo_id: str, filename: str, revision: str | None = None) -> Path:
    """One file of a Hub model repo through the Hub cache (``hf_hub_download``)."""
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(repo_id, filename, revision=revision, endpoint=_endpoint(),
                           cache_dir=_cache_dir(), local_files_only=_offline(),
                           library_name="slowfast_zoo")
    return Path(path)


def read_config(path: Path, source: str) -> dict[str, Any]:
    """A saved model's ``config.json``, checked to be one of ours (``source`` names it in errors)."""
    try:
        if path.stat().st_size > 16 << 20:  # a config is a few KB (class names included)
            raise ValueError(f"{path.stat().st_size} bytes, too big for a config")
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{source}: cannot read {CONFIG_NAME} ({type(e).__name__}: "
                              f"{' '.join(str(e).split())[:300]})") from e
    missing = [k for k in ("architecture", "num_classes") if k not in config] \
        if isinstance(config, dict) else ["architecture", "num_classes"]
    if missing:
        raise CheckpointError(f"{source}: {CONFIG_NAME} is not a slowfast_zoo config (missing {missing})")
    return validate_config(config, f"{source} ({CONFIG_NAME})")


def _build(config: dict[str, Any], num_classes: int | None, source: str) -> tuple[SlowFast, int]:
    """The model (random weights) and its ``pretrained_cfg`` for a saved config."""
    arch = config["architecture"]
    if arch not in ARCHS:
        raise CheckpointError(f"{source}: unknown architecture {arch!r} (this slowfast_zoo knows "
                              f"{sorted(ARCHS)}); a newer version may be needed")
    base = f"{arch}.{config.get('tag') or ARCHS[arch].default_tag}"
    if base not in PRETRAINED:
        base = f"{arch}.{ARCHS[arch].default_tag}"
    spec = get_arch_spec(base)
    kernel = int(config.get("fusion_kernel", spec.fusion_kernel))
    if kernel != spec.fusion_kernel:
        spec = spec.replace(fusion_kernel=kernel)
    cfg = PRETRAINED[base]
    changes: dict[str, Any] = {}
    if "test" in config:
        known = {f.name for f in dataclasses.fields(TestProtocol)}
        test = TestProtocol(**{k: v for k, v in config["test"].items() if k in known})
        if test != cfg.test:
            changes["test"] = test
    for key in ("mean", "std"):
        if key in config and tuple(float(v) for v in config[key]) != tuple(getattr(cfg, key)):
            changes[key] = tuple(float(v) for v in config[key])
    if changes:
        cfg = dataclasses.replace(cfg, **changes)
    saved_classes = int(config["num_classes"])
    model = SlowFast(spec, num_classes=saved_classes if num_classes is None else num_classes,
                     pretrained_cfg=cfg)
    return model, saved_classes


def _load_dir(config_path: Path, weights_path: Path, source: str, num_classes: int | None) -> SlowFast:
    config = read_config(config_path, source)
    model, saved_classes = _build(config, num_classes, source)
    keep = load_safetensors_into(model, weights_path, published_classes=saved_classes, source=source)
    names = config.get("class_names")  # files saved before 0.2 carry the names only here
    if keep and names and len(names) == model.num_classes:
        model.class_names = names
    model.hub_source = source
    return model


def load_prefixed(name: str, *, num_classes: int | None = None) -> SlowFast:
    """Build and fill the model a ``hf-hub:ORG/REPO[@rev]`` or ``local-dir:PATH`` name points to.

    Called by :func:`slowfast_zoo.create_model` for prefixed names. ``model.pretrained_cfg`` is
    the base weight's registry record (with the saved test protocol / mean / std when they
    differ) and ``model.class_names`` the saved class names (when the classifier is kept).

    Raises:
        CheckpointError: missing/unreadable files or weights that do not fit.
    """
    if name.startswith(LOCAL_DIR_PREFIX):
        root = Path(os.path.expanduser(name[len(LOCAL_DIR_PREFIX):]))
        if not (root / CONFIG_NAME).is_file() or not (root / WEIGHTS_NAME).is_file():
            raise CheckpointError(f"{root}: not a saved slowfast_zoo model (expected {CONFIG_NAME} "
                                  f"and {WEIGHTS_NAME}; see slowfast_zoo.save_pretrained)")
        return _load_dir(root / CONFIG_NAME, root / WEIGHTS_NAME, str(root), num_classes)
    repo_id, revision = split_repo(name[len(HF_HUB_PREFIX):])
    source = f"hf-hub:{repo_id}" + (f"@{revision}" if revision else "")
    try:
        config_path = hub_download(repo_id, CONFIG_NAME, revision)
        weights_path = hub_download(repo_id, WEIGHTS_NAME, revision)
    except Exception as e:  # huggingface_hub's errors: offline + not cached, 404, network...
        raise CheckpointError(f"{source}: cannot get the model files ({type(e).__name__}: "
                              f"{' '.join(str(e).split())[:400]})") from e
    return _load_dir(config_path, weights_path, source, num_classes)
