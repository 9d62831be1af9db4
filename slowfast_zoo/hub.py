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

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from slowfast_zoo.errors import CheckpointError

__all__ = ["save_pretrained", "push_to_hub", "load_prefixed", "is_prefixed", "hub_download",
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
    import slowfast_zoo

    spec = model.spec
    cfg = model.pretrained_cfg
    test = cfg.test if cfg is not None else None
    from slowfast_zoo.registry.specs import KINETICS_MEAN, KINETICS_STD, TestProtocol

    return {
        "library": "slowfast_zoo",
        "library_version": slowfast_zoo.__version__,
        "format_version": FORMAT_VERSION,
        "architecture": spec.name,
        "tag": cfg.tag if cfg is not None else spec.default_tag,
        "base_weight": cfg.name if cfg is not None else f"{spec.name}.{spec.default_tag}",
        "num_classes": int(model.num_classes),
        "class_names": list(class_names),
        "fusion_kernel": int(spec.fusion_kernel),
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
        lines.append(f"- base weight accuracy (MMAction2, Kinetics-400 val, 30 views): "
                     f"top-1 {cfg.top1}, top-5 {cfg.top5}. Fine-tuned weights may differ.")
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
    from safetensors.torch import save_file

    from slowfast_zoo.predict import class_names_of
    from slowfast_zoo.weights.load import tensors_sha256

    if getattr(model, "is_fused", False):
        raise ValueError("cannot save a fused model (BatchNorm folded for inference): save the "
                         "model before slowfast_zoo.inference.prepare_model / model.fuse()")
    names = tuple(class_names) if class_names is not None else class_names_of(model)
    if len(names) != model.num_classes:
        raise ValueError(f"{len(names)} class names for a {model.num_classes}-class model")
    directory = Path(directory)
    if directory.exists():
        extra = {p.name for p in directory.iterdir()} - {CONFIG_NAME, WEIGHTS_NAME, CARD_NAME}
        if not directory.is_dir() or extra:
            raise FileExistsError(f"{directory} exists and holds other files ({sorted(extra)[:5]}); "
                                  f"not overwriting it")
    config = _config_of(model, names)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"format": "pt", "producer": f"slowfast_zoo {config['library_version']}",
            "architecture": config["architecture"], "fusion_kernel": str(config["fusion_kernel"]),
            "base_weight": config["base_weight"], "weights_sha256": tensors_sha256(tensors)}
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".partial", dir=directory.parent))
    try:
        save_file(tensors, str(tmp / WEIGHTS_NAME), metadata=meta)
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (tmp / CARD_NAME).write_text(_card(config, model.pretrained_cfg), encoding="utf-8")
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
            os.replace(directory, old)
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
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
    with tempfile.TemporaryDirectory(prefix="slowfast_zoo-push-") as tmp:
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


def split_repo(spec: str) -> tuple[str, str | None]:
    """``"org/repo@rev"`` -> ``("org/repo", "rev")``; no ``@``: revision ``None`` (main)."""
    repo_id, sep, revision = spec.partition("@")
    if not repo_id or repo_id.count("/") > 1 or (sep and not revision):
        raise ValueError(f"expected hf-hub:ORG/REPO or hf-hub:ORG/REPO@REVISION, got {spec!r}")
    return repo_id, revision or None


def hub_download(repo_id: str, filename: str, revision: str | None = None) -> Path:
    """One file of a Hub model repo through the Hub cache (``hf_hub_download``)."""
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(repo_id, filename, revision=revision, endpoint=_endpoint(),
                           cache_dir=_cache_dir(), local_files_only=_offline(),
                           library_name="slowfast_zoo")
    return Path(path)


def _read_config(path: Path, source: str) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{source}: cannot read {CONFIG_NAME} ({type(e).__name__}: {e})") from e
    missing = [k for k in ("architecture", "num_classes") if k not in config]
    if missing or not isinstance(config, dict):
        raise CheckpointError(f"{source}: {CONFIG_NAME} is not a slowfast_zoo config (missing {missing})")
    return config


def _build(config: dict[str, Any], num_classes: int | None, source: str):
    """The model (random weights) and its ``pretrained_cfg`` for a saved config."""
    from slowfast_zoo.models import SlowFast
    from slowfast_zoo.registry import ARCHS, PRETRAINED, get_arch_spec
    from slowfast_zoo.registry.specs import TestProtocol

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


def _load_dir(config_path: Path, weights_path: Path, source: str, num_classes: int | None):
    from slowfast_zoo.weights.load import read_safetensors, tensors_sha256

    config = _read_config(config_path, source)
    model, saved_classes = _build(config, num_classes, source)
    sd, meta = read_safetensors(weights_path)
    if meta.get("architecture", model.spec.name) != model.spec.name:
        raise CheckpointError(f"{source}: {WEIGHTS_NAME} is for {meta['architecture']}, "
                              f"{CONFIG_NAME} says {model.spec.name}")
    if "weights_sha256" in meta and meta["weights_sha256"] != tensors_sha256(sd):
        raise CheckpointError(f"{source}: {WEIGHTS_NAME} is damaged (tensor bytes do not match "
                              f"their recorded sha256)")
    keep_head = model.num_classes == saved_classes
    if not keep_head:
        sd = {k: v for k, v in sd.items() if not k.startswith("fc.")}
    try:
        result = model.load_state_dict(sd, strict=keep_head)
    except RuntimeError as e:
        raise CheckpointError(f"{source}: weights do not fit {model.spec.name}: {e}") from e
    if not keep_head:
        if result.unexpected_keys or any(not k.startswith("fc.") for k in result.missing_keys):
            raise CheckpointError(f"{source}: weights do not fit {model.spec.name} (missing "
                                  f"{result.missing_keys}, unexpected {result.unexpected_keys})")
        log.info("Loaded %s except its %d-class classifier; fresh %d-class classifier.",
                 source, saved_classes, model.num_classes)
    else:
        names = config.get("class_names")
        if names and len(names) == model.num_classes:
            model.class_names = tuple(names)
    model.hub_source = source
    return model


def load_prefixed(name: str, *, num_classes: int | None = None):
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


def try_registry_hub_weights(model: torch.nn.Module, cfg, *, progress: bool = True) -> bool:
    """Load a registry record's weights from its ``hf_hub_id`` mirror; False if that fails.

    The Hub repo must be a :func:`save_pretrained` directory of the *same* weight
    (``config.json`` ``base_weight == cfg.name``); any problem (offline and not cached, 404,
    damaged file, other weight) is logged and the caller falls back to the original URL.
    """
    from slowfast_zoo.weights.load import _load_ours

    if not cfg.hf_hub_id:
        return False
    try:
        repo_id, revision = split_repo(cfg.hf_hub_id)
        config = _read_config(hub_download(repo_id, CONFIG_NAME, revision), cfg.hf_hub_id)
        if config.get("base_weight") != cfg.name:
            raise CheckpointError(f"it holds {config.get('base_weight')!r}, not {cfg.name!r}")
        weights = hub_download(repo_id, WEIGHTS_NAME, revision)
        _load_ours(model, cfg, weights, source=f"hf-hub:{cfg.hf_hub_id}")
    except Exception as e:
        log.warning("Could not load %s from the Hub mirror %s (%s: %s); using %s instead.",
                    cfg.name, cfg.hf_hub_id, type(e).__name__, " ".join(str(e).split())[:300], cfg.url)
        with contextlib.suppress(Exception):  # a partial load must not survive
            model.init_weights()
        return False
    log.info("Loaded %s from the Hub mirror %s", cfg.name, cfg.hf_hub_id)
    return True
