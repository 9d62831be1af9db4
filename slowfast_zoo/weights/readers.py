"""Loading step 3: reading a checkpoint, by its bytes, never by its extension.

:func:`read_checkpoint` returns a :class:`Checkpoint`: the tensors under the file's own key
names, the key family they use (which converter of :mod:`.convert` applies), the file's metadata
and, for a saved model, its ``config.json``. One reader per format:

* our ``.safetensors`` (:func:`read_safetensors`): 8-byte header length, then a JSON header;
  metadata checked by :mod:`.schema`, tensors against their recorded ``weights_sha256``;
* torch files, zip or legacy (:func:`read_torch_checkpoint`), pre-scanned and loaded by
  :mod:`.pickle_guard`: a restricted unpickler that builds tensors, containers and numpy plain
  data only;
* caffe2 pickles, the PySlowFast zoo's ``.pkl`` files
  (:func:`~.readers_pysf.read_caffe2_checkpoint`): a restricted unpickler that builds numpy
  arrays only.

Which reader applies is told by the file's first bytes (:func:`~.readers_pysf.sniff_format`),
never by its extension. Torch files of three frameworks are read:

* PyTorchVideo ``.pyth`` and PySlowFast ``.pyth`` / torch ``.pkl`` files (PySlowFast's
  ``save_checkpoint``, Apache-2.0): ``{"epoch", "model_state": {...}, "optimizer_state", "cfg":
  <config text>[, "scaler_state"]}``; only ``model_state`` is used (never the ``cfg`` string).

* MMAction2 0.x (mmcv): ``{"meta": {...}, "state_dict": {...}[, "optimizer"]}``; ``meta`` may
  hold numpy scalars, whose plain-data reconstructors are allowed (through checking wrappers).
* MMAction2 1.x (mmengine): ``{"meta": {"cfg": <config text>, "seed", "experiment_name", "time",
  "mmengine_version", "epoch", "iter", "dataset_meta"}, "state_dict": {...}, ...}``. Published
  files have ``message_hub``, ``optimizer`` and ``param_schedulers`` removed; a user's own
  training checkpoint keeps them, and they pickle mmengine objects (``HistoryBuffer`` ...).
  Each class of a fixed list (:data:`.pickle_guard.STAND_IN_NAMES`) is replaced, for this one
  load, by an inert stand-in that runs no code and keeps nothing; the real class is never
  imported or constructed, and any other class is refused by name. Nothing process-wide
  (torch's safe-globals list) is changed, so loads in several threads are safe.
"""

from __future__ import annotations

import json
import logging
import os
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch

from slowfast_zoo._digest import require_file, short_error, tensors_sha256
from slowfast_zoo.errors import CheckpointError, UntrustedCacheError
from slowfast_zoo.weights.convert_pysf import key_family
from slowfast_zoo.weights.pickle_guard import load_torch_file
from slowfast_zoo.weights.readers_pysf import read_caffe2_checkpoint, sniff_format
from slowfast_zoo.weights.schema import validate_config, validate_metadata
from slowfast_zoo.weights.trust import check_cache_entry

if TYPE_CHECKING:  # the fetch step's result type; importing it at run time would make a cycle
    from slowfast_zoo.weights.download import LocalFiles

__all__ = ["Checkpoint", "read_checkpoint", "read_torch_checkpoint", "read_mmaction2_checkpoint", "read_safetensors",
           "read_metadata", "read_config", "class_names_from_metadata", "CONVERTER_VERSION"]

#: Bumped whenever the key mapping of :mod:`.convert` changes, so that stale converted caches
#: (whose metadata records the version that wrote them) are rebuilt. 2: the metadata records the
#: classifier's ``feature_order`` and the source's key family (PySlowFast / PyTorchVideo files).
CONVERTER_VERSION = "2"

log = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]


def _unreadable(path: Path, expected: str, e: BaseException) -> CheckpointError:
    return CheckpointError(f"Cannot read {path}: {expected}, but torch.load failed "
                           f"({type(e).__name__}: {short_error(e)}). The file may be truncated "
                           f"or not a checkpoint.")


def _load_restricted(path: Path, expected: str) -> tuple[object, tuple[str, ...]]:
    """The pre-scanned, restricted load of :mod:`.pickle_guard`: ``(object, stood-in names)``."""
    try:
        obj, scan = load_torch_file(path, expected=expected)
    except CheckpointError:
        raise
    except Exception as e:  # torch raises RuntimeError, EOFError, UnpicklingError, ... here
        raise _unreadable(path, expected, e) from e
    return obj, scan.stand_ins


#: What the torch reader accepts, for its messages.
TORCH_EXPECTED = ("expected a torch.save checkpoint (MMAction2 .pth, PyTorchVideo / PySlowFast .pyth or "
                  ".pkl) whose 'state_dict' or 'model_state' maps names to tensors")
#: Where the frameworks keep the weights in a torch checkpoint: MMAction2's ``state_dict``,
#: PySlowFast's and PyTorchVideo's ``model_state``.
_STATE_KEYS = ("state_dict", "model_state")


def read_torch_checkpoint(path: str | os.PathLike) -> StateDict:
    """Read a torch checkpoint's state dict safely (:mod:`.pickle_guard`), zip or legacy format.

    Takes ``ckpt["state_dict"]`` (MMAction2 0.x / 1.x) or ``ckpt["model_state"]`` (PySlowFast,
    PyTorchVideo), else the dict itself when it maps names to tensors; everything else
    (``meta``, ``optimizer``, ``message_hub``, ``optimizer_state``, PySlowFast's ``cfg`` text,
    ...) is ignored (MMAction2 1.x's mmengine objects are stood in for, never built: see the
    module docstring). A DDP ``module.`` prefix is stripped.

    Raises:
        CheckpointError: the file is missing, truncated, not a torch checkpoint, is refused by
            the pre-scan of :mod:`.pickle_guard` (a pickle bomb, a global outside its
            allowlist), has neither ``state_dict`` nor ``model_state`` (naming the keys it has),
            or holds no tensors (the underlying error is chained).

    Example:
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     torch.save({"epoch": 3, "model_state": {"head.projection.bias": torch.zeros(2)},
        ...                 "optimizer_state": {}, "cfg": "TRAIN: ..."}, d / "SLOWFAST_8x8_R50.pyth")
        ...     list(read_torch_checkpoint(d / "SLOWFAST_8x8_R50.pyth"))
        ['head.projection.bias']
    """
    path = Path(path)
    require_file(path)
    expected = TORCH_EXPECTED
    obj, stood_in = _load_restricted(path, expected)
    if stood_in:
        log.info("Read the weights of %s; %d non-weight pickled classes were stood in for, not "
                 "built: %s", path, len(stood_in), ", ".join(stood_in))
    sd = obj
    if isinstance(obj, Mapping):
        key = next((k for k in _STATE_KEYS if k in obj), None)
        if key is not None:
            sd = obj[key]
        elif obj and not all(isinstance(v, torch.Tensor) for v in obj.values()):
            # A training checkpoint without its weights (e.g. PySlowFast's {"epoch",
            # "optimizer_state", "cfg"} with "model_state" removed): say what is there.
            keys = ", ".join(reprlib.repr(k) for k in list(obj)[:8])
            raise CheckpointError(f"Cannot use {path}: {expected}; it has neither 'state_dict' nor "
                                  f"'model_state' (its keys: {keys}{', ...' if len(obj) > 8 else ''}).")
    if not isinstance(sd, Mapping) or not sd:
        raise CheckpointError(f"Cannot use {path}: {expected}; found {type(sd).__name__}"
                              f"{' (empty)' if isinstance(sd, Mapping) else ''}.")
    out: StateDict = {}
    for key, value in sd.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(f"Cannot use {path}: {expected}; entry {reprlib.repr(key)} is a "
                                  f"{type(value).__name__}.")
        out[key[len("module."):] if key.startswith("module.") else key] = value
    return out


#: The earlier name of :func:`read_torch_checkpoint` (it reads every framework's torch files).
read_mmaction2_checkpoint = read_torch_checkpoint


# --------------------------------------------------------------------------- our safetensors
def read_safetensors(path: str | os.PathLike[str]) -> tuple[StateDict, dict[str, str]]:
    """Read a slowfast_zoo ``.safetensors`` file: ``(tensors, metadata)``.

    Raises:
        CheckpointError: the file is missing, truncated, not a safetensors file, holds no
            tensors, or its tensors do not match their recorded ``weights_sha256``.
        ConfigError: a metadata field of the wrong type or out of range.

    Example:
        >>> sd, meta = read_safetensors("model.slowfast_zoo.safetensors")  # doctest: +SKIP
        >>> meta["architecture"]  # doctest: +SKIP
        'slowfast_r50_4x16x1'
    """
    path = Path(path)
    require_file(path)
    try:
        from safetensors import safe_open  # imported on use: `import slowfast_zoo` stays light
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = dict(f.metadata() or {})
            sd = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # SafetensorError, OSError, ...
        raise CheckpointError(f"Cannot read {path}: expected a slowfast_zoo .safetensors file "
                              f"({type(e).__name__}: {short_error(e)}). The file may be truncated.") from e
    validate_metadata(meta, str(path))
    if not sd:
        raise CheckpointError(f"Cannot use {path}: the safetensors file holds no tensors.")
    if "weights_sha256" in meta and meta["weights_sha256"] != tensors_sha256(sd):
        raise CheckpointError(f"Cannot use {path}: the file is damaged (tensor bytes do not match "
                              f"their recorded sha256)")
    return sd, meta


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Metadata of a slowfast_zoo ``.safetensors`` file, with ``class_names`` decoded.

    Example:
        >>> read_metadata("run/latest.safetensors")["class_names"]  # doctest: +SKIP
        ['left', 'right', 'up', 'down']
    """
    path = Path(path)
    require_file(path)
    try:
        from safetensors import safe_open
        with safe_open(str(path), framework="pt") as f:
            meta: dict[str, Any] = dict(f.metadata() or {})
    except Exception as e:
        raise CheckpointError(f"Cannot read {path}: expected a slowfast_zoo .safetensors file "
                              f"({type(e).__name__}: {short_error(e)}).") from e
    names = class_names_from_metadata(meta)
    if names is not None:
        meta["class_names"] = list(names)
    return meta


def class_names_from_metadata(meta: Mapping[str, str]) -> tuple[str, ...] | None:
    """The ``class_names`` entry decoded, or ``None`` when absent.

    Example:
        >>> class_names_from_metadata({"class_names": '["a", "b"]'})
        ('a', 'b')
    """
    if "class_names" not in meta:
        return None
    return tuple(str(n) for n in json.loads(meta["class_names"]))


def read_config(path: Path, source: str) -> dict[str, Any]:
    """A saved model's ``config.json``, checked to be one of ours (``source`` names it in errors).

    Raises:
        CheckpointError: unreadable, too big, or not a slowfast_zoo config.
        ConfigError: a field of the wrong type or out of range.

    Example:
        >>> import json
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     path = d / "config.json"
        ...     _ = path.write_text(json.dumps({"architecture": "slowfast_r50_4x16x1", "num_classes": 3}))
        ...     read_config(path, f"local-dir:{d}")["num_classes"]
        3
    """
    try:
        if path.stat().st_size > 16 << 20:  # a config is a few KB (class names included)
            raise CheckpointError(f"{path.stat().st_size} bytes, too big for a config")
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError, CheckpointError) as e:
        raise CheckpointError(f"{source}: cannot read config.json ({type(e).__name__}: "
                              f"{short_error(e, 300)})") from e
    missing = [k for k in ("architecture", "num_classes") if k not in config] \
        if isinstance(config, dict) else ["architecture", "num_classes"]
    if missing:
        raise CheckpointError(f"{source}: config.json is not a slowfast_zoo config (missing {missing})")
    return validate_config(config, f"{source} (config.json)")


# --------------------------------------------------------------------------- by bytes
#: Whose key names a file's tensors use (:data:`~.convert_pysf.FAMILIES`, or ours).
KeyFamily = Literal["mmaction2", "pytorchvideo", "pyslowfast", "caffe2", "slowfast_zoo"]


@dataclass
class Checkpoint:
    """What a weight file holds, as read (loading step 3).

    Attributes:
        tensors: the tensors under the file's own key names.
        family: whose key names they are (``"mmaction2"``, ``"pytorchvideo"``,
            ``"pyslowfast"``, ``"caffe2"`` or ``"slowfast_zoo"``): picks the converter of
            :mod:`.convert` (a torch file's family is told by its keys).
        source: the file (and URL) for messages.
        metadata: our safetensors metadata (empty for torch files).
        config: a saved model's ``config.json`` (``None`` otherwise).
        from_cache: read from the converted cache, whose ``architecture`` entry only records
            which model first converted the published file.
        cache_to: where the converted tensors are to be stored (the ``.pth`` was read because
            its converted cache was absent, stale or damaged); ``None``: nothing to store.
        sha256: full sha256 of the source file, when it was verified.
        url: the URL the file came from (``None`` for local files and saved models).

    Example:
        >>> ckpt = Checkpoint({"fc.bias": torch.zeros(2)}, "slowfast_zoo", "ft.safetensors",
        ...                   metadata={"class_names": '["left", "right"]'})
        >>> ckpt.family, ckpt.class_names
        ('slowfast_zoo', ('left', 'right'))
    """

    tensors: StateDict
    family: KeyFamily
    source: str
    metadata: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    from_cache: bool = False
    cache_to: Path | None = None
    sha256: str | None = None
    url: str | None = None

    @property
    def class_names(self) -> tuple[str, ...] | None:
        """The class names stored with the weights (metadata first, then ``config.json``).

        Example:
            >>> Checkpoint({}, "slowfast_zoo", "saved", config={"class_names": ["a", "b"]}).class_names
            ('a', 'b')
            >>> Checkpoint({}, "mmaction2", "x.pth").class_names is None
            True
        """
        names = class_names_from_metadata(self.metadata)
        if names is None and self.config and self.config.get("class_names"):
            names = tuple(self.config["class_names"])
        return names


def _current_conversion(path: Path, sha256: str | None) -> tuple[StateDict, dict[str, str]] | None:
    """The converted cache, or ``None`` when absent, stale, damaged or made from other bytes."""
    if not path.exists():
        return None
    try:
        # Its metadata names the source's sha256, which anyone can compute: only a file that
        # no other user could have written is believed (a planted one is rebuilt over).
        check_cache_entry(path)
    except UntrustedCacheError as e:
        log.warning("Rebuilding the converted cache file: %s", e)
        return None
    try:
        sd, meta = read_safetensors(path)
    except CheckpointError as e:
        log.warning("Rebuilding damaged converted cache file: %s", e)
        return None
    problems = []
    if meta.get("converter_version") != CONVERTER_VERSION:
        problems.append(f"converter version {meta.get('converter_version')} (current: {CONVERTER_VERSION})")
    if sha256 is None or meta.get("source_sha256") != sha256:
        problems.append(f"source sha256 {meta.get('source_sha256')} (the cached file's: {sha256})")
    if problems:
        log.warning("Rebuilding converted cache file %s: %s", path, "; ".join(problems))
        return None
    return sd, meta


def read_checkpoint(files: LocalFiles) -> Checkpoint:
    """Loading step 3: read what :func:`~slowfast_zoo.weights.download.fetch` put on disk.

    A published file's converted cache is read instead of the ``.pth`` when it was made from
    these very bytes (its ``source_sha256`` is the verified file's) by the current converter:
    no pickle on the warm path. The format is recognised by the file's first bytes
    (:func:`~.readers_pysf.sniff_format`): safetensors, a torch file (zip or legacy: MMAction2,
    PyTorchVideo, PySlowFast) or a caffe2 pickle, whatever the file's extension.

    Raises:
        CheckpointError: unreadable, truncated, refused by :mod:`.pickle_guard` or not a
            checkpoint (naming the file).
        ConfigError: a saved model's ``config.json`` or metadata field out of range.

    Example:
        >>> from slowfast_zoo.weights.download import LocalFiles
        >>> read_checkpoint(LocalFiles(Path("ft.safetensors"), "ft.safetensors")).family  # doctest: +SKIP
        'slowfast_zoo'
    """
    config = read_config(files.config, files.source) if files.config is not None else None
    cached = _current_conversion(files.converted, files.sha256) if files.converted is not None else None
    if cached is not None:
        log.debug("Loaded converted weights from %s", files.converted)
        return Checkpoint(cached[0], "slowfast_zoo", str(files.converted), cached[1], config,
                          from_cache=True, sha256=files.sha256, url=files.url)
    fmt = sniff_format(files.weights)
    if fmt == "safetensors":
        sd, meta = read_safetensors(files.weights)
        return Checkpoint(sd, "slowfast_zoo", files.source, meta, config, sha256=files.sha256, url=files.url)
    family: KeyFamily
    if fmt == "pickle":  # not a torch file: a caffe2 checkpoint is the one plain pickle we read
        sd = read_caffe2_checkpoint(files.weights)
        family = "caffe2"
    else:  # torch zip or legacy; unknown bytes too, so that torch's own error is chained
        sd = read_torch_checkpoint(files.weights)
        family = _TORCH_FAMILIES.get(key_family(sd) or "", "mmaction2")
    return Checkpoint(sd, family, files.source, config=config, cache_to=files.converted,
                      sha256=files.sha256, url=files.url)


_TORCH_FAMILIES: dict[str, KeyFamily] = {"mmaction2": "mmaction2", "pytorchvideo": "pytorchvideo",
                                         "pyslowfast": "pyslowfast", "caffe2": "caffe2"}
