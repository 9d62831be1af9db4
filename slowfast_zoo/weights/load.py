"""Fill a :class:`~slowfast_zoo.SlowFast` with weights: pick the source, verify, convert, cache.

Sources, in order (see :func:`load_pretrained`):

1. ``checkpoint_path``: a local MMAction2 ``.pth``, a slowfast_zoo ``.safetensors``, or an
   ``http(s)://`` URL of either (downloaded and verified exactly like the published files).
2. The local cache (``torch.hub.get_dir()/checkpoints``).
3. The published URL (``SLOWFAST_ZOO_MIRROR`` applied).

Cache layout, for a published file ``<stem>-<sha8>.pth``::

    $TORCH_HOME/hub/checkpoints/
        <stem>-<sha8>.pth                        # the download, byte-identical to the published file
        <stem>-<sha8>.slowfast_zoo.safetensors   # our keys, written after the first conversion

The ``.safetensors`` file is what every later load reads: no pickle on the warm path. Its
metadata (source URL, full source sha256, converter version, architecture, fusion kernel and a
sha256 of the tensor bytes) is checked on every load; a stale or damaged file is rebuilt from
the ``.pth``, which is itself re-verified against its name (a damaged cached ``.pth`` is deleted
and downloaded once more).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pickle
import tempfile
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

import slowfast_zoo
from slowfast_zoo.errors import CheckpointError, HashMismatchError
from slowfast_zoo.registry.specs import PretrainedCfg
from slowfast_zoo.weights.convert import (
    CONVERTER_VERSION,
    check_state_dict,
    convert_mmaction2_state_dict,
    mmaction2_key_to_ours,
)
from slowfast_zoo.weights.download import (
    download_verified,
    get_cache_dir,
    hash_prefix_from_name,
    required_hash_prefix,
    url_file_name,
    verify_file_hash,
)

__all__ = ["CONVERTED_SUFFIX", "load_pretrained", "read_mmaction2_checkpoint", "read_safetensors",
           "converted_cache_path", "tensors_sha256"]

log = logging.getLogger(__name__)

#: Suffix of converted files in the cache (replaces ``.pth``). Deliberately not
#: ``-<hex>.safetensors``: the hex in the stem is the hash of the ``.pth``, not of this file.
CONVERTED_SUFFIX = ".slowfast_zoo.safetensors"

StateDict = dict[str, torch.Tensor]


# --------------------------------------------------------------------------- readers
def _short(e: BaseException, limit: int = 600) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def _require_file(path: Path) -> None:
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise CheckpointError(f"Checkpoint file {path} {what}: expected an MMAction2 .pth or a "
                              f"slowfast_zoo .safetensors file.")


def _unreadable(path: Path, expected: str, e: BaseException) -> CheckpointError:
    return CheckpointError(f"Cannot read {path}: {expected}, but torch.load(weights_only=True) "
                           f"failed ({type(e).__name__}: {_short(e)}). The file may be truncated "
                           f"or not a checkpoint.")


def _numpy_safe_globals() -> list:
    """numpy's scalar/array/dtype reconstructors, for ``meta`` entries such as a numpy seed.

    Training code may leave numpy scalars in ``meta``; torch's weights-only unpickler refuses
    them by default although they build plain data. Only these names are added, under both the
    numpy 1 (``numpy.core``) and numpy 2 (``numpy._core``) spellings; everything else in the file
    is still built by the restricted unpickler.
    """
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    allowed: list = [np.dtype, np.ndarray]
    for fn in ("scalar", "_reconstruct"):
        obj = getattr(core.multiarray, fn)
        allowed += [(obj, f"numpy.core.multiarray.{fn}"), (obj, f"numpy._core.multiarray.{fn}")]
    dtypes = getattr(np, "dtypes", None)  # numpy >= 1.25 pickles dtypes as numpy.dtypes.<X>DType
    if dtypes is not None:
        allowed += [getattr(dtypes, n) for n in dir(dtypes)
                    if n.endswith("DType") and n not in ("ObjectDType", "VoidDType")]
    return allowed


def read_mmaction2_checkpoint(path: str | os.PathLike) -> StateDict:
    """Read an MMAction2 checkpoint's state dict safely (``torch.load(weights_only=True)``).

    Takes ``ckpt["state_dict"]`` if present, else the dict itself; ``meta`` and ``optimizer``
    are ignored, a DDP ``module.`` prefix is stripped.

    Raises:
        CheckpointError: the file is missing, truncated, not a torch checkpoint, needs unsafe
            pickle globals, or holds no tensors (the underlying error is chained).

    Example:
        >>> sd = read_mmaction2_checkpoint("slowfast_r50_..._20200728-145f1097.pth")  # doctest: +SKIP
        >>> next(iter(sd))  # doctest: +SKIP
        'backbone.slow_path.conv1.conv.weight'
    """
    path = Path(path)
    _require_file(path)
    expected = ("expected an MMAction2 checkpoint (a torch.save file of a dict whose 'state_dict' "
                "maps names to tensors)")
    try:
        # weights_only: a checkpoint is data; never execute pickled code from a downloaded file.
        obj = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as e:
        if "numpy" not in str(e):
            raise _unreadable(path, expected, e) from e
        try:
            with torch.serialization.safe_globals(_numpy_safe_globals()):
                obj = torch.load(path, weights_only=True, map_location="cpu")
        except Exception:
            raise _unreadable(path, expected, e) from e
    except Exception as e:  # torch raises RuntimeError, EOFError, ... here
        raise _unreadable(path, expected, e) from e
    sd = obj.get("state_dict", obj) if isinstance(obj, Mapping) else obj
    if not isinstance(sd, Mapping) or not sd:
        raise CheckpointError(f"Cannot use {path}: {expected}; found {type(sd).__name__}"
                              f"{' (empty)' if isinstance(sd, Mapping) else ''}.")
    out: StateDict = {}
    for key, value in sd.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(f"Cannot use {path}: {expected}; entry {key!r} is a "
                                  f"{type(value).__name__}.")
        out[key[len("module."):] if key.startswith("module.") else key] = value
    return out


def read_safetensors(path: str | os.PathLike) -> tuple[StateDict, dict[str, str]]:
    """Read a slowfast_zoo ``.safetensors`` file: ``(tensors, metadata)``.

    Raises:
        CheckpointError: the file is missing, truncated or not a safetensors file.

    Example:
        >>> sd, meta = read_safetensors("model.slowfast_zoo.safetensors")  # doctest: +SKIP
        >>> meta["architecture"]  # doctest: +SKIP
        'slowfast_r50_4x16x1'
    """
    path = Path(path)
    _require_file(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = dict(f.metadata() or {})
            sd = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # SafetensorError, OSError, ...
        raise CheckpointError(f"Cannot read {path}: expected a slowfast_zoo .safetensors file "
                              f"({type(e).__name__}: {_short(e)}). The file may be truncated.") from e
    if not sd:
        raise CheckpointError(f"Cannot use {path}: the safetensors file holds no tensors.")
    return sd, meta


def tensors_sha256(sd: Mapping[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and raw bytes of a state dict, in sorted key order.

    Stored in converted files so that a damaged cache entry is detected and rebuilt.

    Example:
        >>> len(tensors_sha256({"w": torch.zeros(2)}))
        64
    """
    h = hashlib.sha256()
    for key in sorted(sd):
        t = sd[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{list(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())  # reshape: 0-d tensors cannot be viewed
    return h.hexdigest()


# --------------------------------------------------------------------------- helpers
def _arch_problems(meta: Mapping[str, str], model: torch.nn.Module) -> list[str]:
    spec = model.spec
    problems = []
    if "architecture" in meta and meta["architecture"] != spec.name:
        problems.append(f"architecture {meta['architecture']} (model: {spec.name})")
    if "fusion_kernel" in meta and meta["fusion_kernel"] != str(spec.fusion_kernel):
        problems.append(f"fusion kernel {meta['fusion_kernel']} (model: {spec.fusion_kernel})")
    return problems


def _ignore_classifier(sd: Mapping[str, torch.Tensor], model: torch.nn.Module,
                       cfg: PretrainedCfg, source: str) -> bool:
    """Whether to keep the model's fresh classifier instead of the file's (our keys)."""
    weight = sd.get("fc.weight")
    if weight is None:
        # No classifier in the file: fine only if the user asked for another head anyway.
        return model.num_classes != cfg.num_classes
    if weight.shape[0] == model.num_classes:
        return False
    if model.num_classes == cfg.num_classes:
        # The file is e.g. a 10-class fine-tune but the model was built for the published
        # 400: silently giving a random head would be a nasty surprise.
        raise CheckpointError(
            f"Checkpoint {source} has a {weight.shape[0]}-class classifier, the model "
            f"{model.num_classes} classes. Pass num_classes={weight.shape[0]} to use the file's "
            f"classifier, or another num_classes to load the backbone with a fresh classifier.")
    return True


def _classes(sd: Mapping[str, torch.Tensor]) -> int | None:
    """Rows of the classifier in a state dict with our keys (``None``: no classifier)."""
    return int(sd["fc.weight"].shape[0]) if "fc.weight" in sd else None


def _convert(raw: Mapping[str, torch.Tensor], model: torch.nn.Module, cfg: PretrainedCfg,
             source: str) -> tuple[StateDict, StateDict, bool]:
    """MMAction2 state dict -> ``(weights for the model, the file's classifier, ignore_classifier)``.

    The file's classifier is returned apart (our keys) because it is dropped from the weights
    when the model keeps a fresh one, yet belongs in the converted cache.
    """
    classifier = {ours: v for k, v in raw.items()
                  if (ours := mmaction2_key_to_ours(k)) is not None and ours.startswith("fc.")}
    ignore = _ignore_classifier(classifier, model, cfg, source)
    converted = convert_mmaction2_state_dict(raw, model, source=source, ignore_classifier=ignore)
    return converted, classifier, ignore


def _apply(model: torch.nn.Module, sd: Mapping[str, torch.Tensor], *, ignore_classifier: bool,
           source: str, file_classes: int | None) -> None:
    fc_keys = {k for k in model.state_dict() if k.startswith("fc.")}
    if not ignore_classifier:
        try:
            model.load_state_dict(sd, strict=True)
        except RuntimeError as e:  # should not happen after check_state_dict; keep one error type
            raise CheckpointError(f"Checkpoint {source} does not fit the model: {e}") from e
        return
    result = model.load_state_dict({k: v for k, v in sd.items() if not k.startswith("fc.")},
                                   strict=False)
    if set(result.missing_keys) != fc_keys or result.unexpected_keys:
        raise CheckpointError(f"Checkpoint {source}: unexpected partial load (missing "
                              f"{result.missing_keys}, unexpected {result.unexpected_keys}).")
    log.info("Loaded all weights of %s except the classifier: the checkpoint has %s classes, the "
             "model %d; the classifier is freshly initialised (normal std 0.01, bias 0).",
             source, file_classes if file_classes is not None else "no", model.num_classes)


def converted_cache_path(pth_path: str | os.PathLike) -> Path:
    """Where the converted ``.safetensors`` of a cached ``.pth`` lives (same directory).

    Example:
        >>> converted_cache_path("/c/x_20200728-145f1097.pth").name
        'x_20200728-145f1097.slowfast_zoo.safetensors'
    """
    p = Path(pth_path)
    return p.with_name((p.name[:-4] if p.name.endswith(".pth") else p.name) + CONVERTED_SUFFIX)


def _read_converted(path: Path, model: torch.nn.Module, prefix: str) -> StateDict | None:
    """The cached converted weights, or ``None`` when absent, stale or damaged (then rebuilt)."""
    if not path.exists():
        return None
    try:
        sd, meta = read_safetensors(path)
    except CheckpointError as e:
        log.warning("Rebuilding damaged converted cache file: %s", e)
        return None
    problems = _arch_problems(meta, model)
    if meta.get("converter_version") != CONVERTER_VERSION:
        problems.append(f"converter version {meta.get('converter_version')} "
                        f"(current: {CONVERTER_VERSION})")
    if not meta.get("source_sha256", "").startswith(prefix):
        problems.append(f"source sha256 {meta.get('source_sha256')} (expected prefix {prefix})")
    if not problems and meta.get("weights_sha256") != tensors_sha256(sd):
        problems.append("tensor bytes do not match their recorded sha256 (damaged file)")
    if problems:
        log.warning("Rebuilding converted cache file %s: %s", path, "; ".join(problems))
        return None
    return sd


def _write_converted(path: Path, sd: Mapping[str, torch.Tensor], meta: dict[str, str]) -> None:
    """Write atomically (temp file + rename); a read-only cache only costs a warning."""
    tensors = {k: v.detach().contiguous() for k, v in sd.items()}
    meta = {**meta, "weights_sha256": tensors_sha256(tensors)}
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        os.close(fd)
        save_file(tensors, tmp_name, metadata=meta)
        os.replace(tmp_name, path)
    except Exception as e:
        log.warning("Could not write the converted cache file %s (%s: %s); the weights are loaded "
                    "but will be converted again next time.", path, type(e).__name__, e)
    finally:
        if tmp_name is not None:  # only still there if something failed (also on Ctrl-C)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)


# --------------------------------------------------------------------------- sources
def _ensure_cached(url: str, dest: Path, prefix: str, progress: bool) -> str:
    """Full sha256 of a verified ``dest``, downloading it if absent or damaged."""
    if dest.is_file():
        try:
            return verify_file_hash(dest, prefix, source=url)
        except HashMismatchError as e:
            log.warning("%s Deleting it and downloading it again.", e)
            dest.unlink(missing_ok=True)
    return download_verified(url, dest, expected_prefix=prefix, progress=progress)


def _load_via_cache(model: torch.nn.Module, cfg: PretrainedCfg, url: str, *,
                    expected_prefix: str | None, progress: bool) -> None:
    file_name = url_file_name(url)
    prefix = expected_prefix or required_hash_prefix(url)  # refused before any request
    dest = get_cache_dir() / file_name
    if file_name.endswith(".safetensors"):  # one of ours: verified, then loaded as a local file
        _ensure_cached(url, dest, prefix, progress)
        _load_ours(model, cfg, dest, source=url)
        return
    converted_path = converted_cache_path(dest)
    sd = _read_converted(converted_path, model, prefix)
    source = f"{dest} (from {url})"
    if sd is not None:
        ignore = _ignore_classifier(sd, model, cfg, source)
        try:
            check_state_dict(sd, model, source=str(converted_path), ignore_classifier=ignore)
        except CheckpointError as e:
            log.warning("Rebuilding converted cache file: %s", e)
            sd = None
        else:
            log.debug("Loading converted weights from %s", converted_path)
            _apply(model, sd, ignore_classifier=ignore, source=str(converted_path),
                   file_classes=_classes(sd))
            return
    full_sha = _ensure_cached(url, dest, prefix, progress)
    converted, classifier, ignore = _convert(read_mmaction2_checkpoint(dest), model, cfg, source)
    # The cache keeps the file's classifier even when this model replaces it, so the same
    # converted file serves every num_classes.
    _write_converted(converted_path, {**converted, **classifier}, {
        "format": "pt", "producer": f"slowfast_zoo {slowfast_zoo.__version__}",
        "converter_version": CONVERTER_VERSION, "source_url": url, "source_file": file_name,
        "source_sha256": full_sha, "architecture": model.spec.name,
        "fusion_kernel": str(model.spec.fusion_kernel),
    })
    _apply(model, converted, ignore_classifier=ignore, source=source,
           file_classes=_classes(classifier))


def _load_ours(model: torch.nn.Module, cfg: PretrainedCfg, path: Path, *, source: str) -> None:
    sd, meta = read_safetensors(path)
    problems = _arch_problems(meta, model)
    if problems:
        raise CheckpointError(f"Checkpoint {source} was converted for another network: "
                              f"{'; '.join(problems)}.")
    ignore = _ignore_classifier(sd, model, cfg, source)
    check_state_dict(sd, model, source=source, ignore_classifier=ignore)
    _apply(model, sd, ignore_classifier=ignore, source=source,
           file_classes=_classes(sd))
    # A fine-tuned file carries its own label names (training_utils.save_weights); they only
    # describe the classifier they were saved with.
    names = json.loads(meta["class_names"]) if "class_names" in meta else None
    if not ignore and names and len(names) == getattr(model, "num_classes", -1):
        model.class_names = tuple(str(n) for n in names)


def _load_local(model: torch.nn.Module, cfg: PretrainedCfg, path: Path) -> None:
    _require_file(path)
    prefix = hash_prefix_from_name(path.name)
    if prefix:  # named like a published file: hold it to the same standard
        verify_file_hash(path, prefix)
    if path.suffix == ".safetensors":
        _load_ours(model, cfg, path, source=str(path))
        return
    converted, classifier, ignore = _convert(read_mmaction2_checkpoint(path), model, cfg, str(path))
    _apply(model, converted, ignore_classifier=ignore, source=str(path),
           file_classes=_classes(classifier))


def _is_url(s: str) -> bool:
    return urllib.parse.urlsplit(s).scheme in ("http", "https")


def load_pretrained(model: torch.nn.Module, cfg: PretrainedCfg, *,
                    checkpoint_path: str | os.PathLike | None = None, progress: bool = True) -> None:
    """Load published (or given) weights into ``model`` in place.

    Args:
        model: a :class:`~slowfast_zoo.SlowFast` built for ``cfg`` (its ``spec`` decides the
            expected keys and shapes; its ``num_classes`` whether the classifier is kept).
        cfg: the weight record; its ``url`` and ``sha256_prefix`` are used when
            ``checkpoint_path`` is ``None``.
        checkpoint_path: a local MMAction2 ``.pth`` / slowfast_zoo ``.safetensors`` file, or an
            http(s) URL of one whose file name ends in ``-<sha256 prefix>.pth``.
        progress: draw a download progress bar on stderr when it is a terminal.

    Raises:
        CheckpointError: unreadable file, or weights of another architecture (listing the
            missing, unexpected and mismatched keys).
        HashMismatchError: a file whose sha256 does not start with the prefix in its name.
        DownloadError: the file could not be fetched (names the URL and the cache path).

    Example:
        >>> import slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1")
        >>> load_pretrained(model, model.pretrained_cfg)  # doctest: +SKIP
    """
    if checkpoint_path is None:
        if cfg.hf_hub_id:  # a Hub mirror of this weight is tried first (see slowfast_zoo.hub)
            from slowfast_zoo.hub import try_registry_hub_weights

            if try_registry_hub_weights(model, cfg, progress=progress):
                return
        _load_via_cache(model, cfg, cfg.url, expected_prefix=cfg.sha256_prefix, progress=progress)
        return
    location = os.fspath(checkpoint_path)
    if isinstance(location, str) and _is_url(location):
        _load_via_cache(model, cfg, location, expected_prefix=None, progress=progress)
    else:
        _load_local(model, cfg, Path(location))
