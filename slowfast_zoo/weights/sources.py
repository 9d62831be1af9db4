"""Fill a :class:`~slowfast_zoo.SlowFast` with weights: resolve the source, verify, convert, cache, load.

Sources, in order (see :func:`load_pretrained`):

1. ``checkpoint_path``: a local MMAction2 ``.pth``, a slowfast_zoo ``.safetensors``, or an
   ``http(s)://`` URL of either (downloaded and verified exactly like the published files).
2. The weight's Hugging Face Hub mirror (``PretrainedCfg.hf_hub_id``), when it has one.
3. The local cache (``torch.hub.get_dir()/checkpoints``).
4. The published URL (``SLOWFAST_ZOO_MIRROR`` applied), then the record's ``alternative_urls``
   in order when a download fails.

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
import logging
import os
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

import torch

from slowfast_zoo.errors import CheckpointError, DownloadError, HashMismatchError
from slowfast_zoo.registry.records import PretrainedCfg
from slowfast_zoo.weights.apply import (
    apply_state_dict,
    arch_problems,
    classifier_rows,
    keep_file_classifier,
    load_safetensors_into,
)
from slowfast_zoo.weights.checkpoint import read_mmaction2_checkpoint, require_file
from slowfast_zoo.weights.convert import (
    CONVERTER_VERSION,
    convert_mmaction2_state_dict,
    mmaction2_key_to_ours,
)
from slowfast_zoo.weights.download import (
    cache_lock,
    download_deadline,
    download_verified,
    get_cache_dir,
    hash_prefix_from_name,
    required_hash_prefix,
    url_file_name,
    verify_file_hash,
)
from slowfast_zoo.weights.hub import CONFIG_NAME, WEIGHTS_NAME, hub_download, read_config, split_repo
from slowfast_zoo.weights.safetensors import read_safetensors, weights_metadata, write_safetensors

__all__ = ["CONVERTED_SUFFIX", "load_pretrained", "converted_cache_path"]

log = logging.getLogger(__name__)

#: Suffix of converted files in the cache (replaces ``.pth``). Deliberately not
#: ``-<hex>.safetensors``: the hex in the stem is the hash of the ``.pth``, not of this file.
CONVERTED_SUFFIX = ".slowfast_zoo.safetensors"

StateDict = dict[str, torch.Tensor]


def _convert(raw: Mapping[str, torch.Tensor], model: torch.nn.Module, cfg: PretrainedCfg,
             source: str) -> tuple[StateDict, StateDict, bool]:
    """MMAction2 state dict -> ``(weights for the model, the file's classifier, keep_classifier)``.

    The file's classifier is returned apart (our keys) because it is dropped from the weights
    when the model keeps a fresh one, yet belongs in the converted cache.
    """
    classifier = {ours: v for k, v in raw.items()
                  if (ours := mmaction2_key_to_ours(k)) is not None and ours.startswith("fc.")}
    # The backbone first: a file of another network is reported as such (with the names it
    # fits), not as a classifier-size problem.
    backbone = convert_mmaction2_state_dict(raw, model, source=source, ignore_classifier=True)
    keep = keep_file_classifier(classifier_rows(classifier), model, cfg.num_classes, source)
    if not keep:
        return backbone, classifier, keep
    return convert_mmaction2_state_dict(raw, model, source=source), classifier, keep


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
    problems = arch_problems(meta, model)
    if meta.get("converter_version") != CONVERTER_VERSION:
        problems.append(f"converter version {meta.get('converter_version')} "
                        f"(current: {CONVERTER_VERSION})")
    if not meta.get("source_sha256", "").startswith(prefix):
        problems.append(f"source sha256 {meta.get('source_sha256')} (expected prefix {prefix})")
    if problems:
        log.warning("Rebuilding converted cache file %s: %s", path, "; ".join(problems))
        return None
    return sd


def _write_converted(path: Path, sd: Mapping[str, torch.Tensor], meta: dict[str, str]) -> None:
    """A read-only cache only costs a warning: the weights are loaded all the same."""
    try:
        write_safetensors(path, sd, meta)
    except Exception as e:
        log.warning("Could not write the converted cache file %s (%s: %s); the weights are loaded "
                    "but will be converted again next time.", path, type(e).__name__, e)


def _ensure_cached(url: str, dest: Path, prefix: str, progress: bool, deadline: float) -> str:
    """Full sha256 of a verified ``dest``, downloading it if absent or damaged."""
    if dest.is_file():
        try:
            return verify_file_hash(dest, prefix, source=url)
        except HashMismatchError as e:
            log.warning("%s Deleting it and downloading it again.", e)
            dest.unlink(missing_ok=True)
    return download_verified(url, dest, expected_prefix=prefix, progress=progress, deadline=deadline)


def _load_via_cache(model: torch.nn.Module, cfg: PretrainedCfg, url: str, *,
                    expected_prefix: str | None, progress: bool, deadline: float) -> None:
    file_name = url_file_name(url)
    prefix = expected_prefix or required_hash_prefix(url)  # refused before any request
    dest = get_cache_dir() / file_name
    # One process per cache entry: others wait, then find the file (and its conversion) done.
    with cache_lock(dest, wait_s=deadline):
        _load_entry(model, cfg, url, dest, prefix, progress=progress, deadline=deadline)


def _load_entry(model: torch.nn.Module, cfg: PretrainedCfg, url: str, dest: Path, prefix: str, *,
                progress: bool, deadline: float) -> None:
    file_name = dest.name
    if file_name.endswith(".safetensors"):  # one of ours: verified, then loaded as a local file
        _ensure_cached(url, dest, prefix, progress, deadline)
        load_safetensors_into(model, dest, published_classes=cfg.num_classes, source=url)
        return
    converted_path = converted_cache_path(dest)
    sd = _read_converted(converted_path, model, prefix)
    source = f"{dest} (from {url})"
    if sd is not None:
        keep = keep_file_classifier(classifier_rows(sd), model, cfg.num_classes, source)
        try:
            apply_state_dict(model, sd, keep_classifier=keep, source=str(converted_path))
        except CheckpointError as e:
            log.warning("Rebuilding converted cache file: %s", e)
        else:
            log.debug("Loaded converted weights from %s", converted_path)
            return
    full_sha = _ensure_cached(url, dest, prefix, progress, deadline)
    converted, classifier, keep = _convert(read_mmaction2_checkpoint(dest), model, cfg, source)
    # The cache keeps the file's classifier even when this model replaces it, so the same
    # converted file serves every num_classes.
    _write_converted(converted_path, {**converted, **classifier}, weights_metadata(
        model, converter_version=CONVERTER_VERSION, source_url=url, source_file=file_name,
        source_sha256=full_sha))
    apply_state_dict(model, converted, keep_classifier=keep, source=source,
                     file_classes=classifier_rows(classifier))


def _published_urls(cfg: PretrainedCfg) -> list[str]:
    """The record's URL then its ``alternative_urls``, those already in the cache first (so a
    warm cache never waits on a URL that failed before)."""
    urls = [cfg.url, *cfg.alternative_urls]
    def cached(url: str) -> bool:
        dest = get_cache_dir() / url_file_name(url)
        return dest.is_file() or converted_cache_path(dest).is_file()
    return sorted(urls, key=lambda u: not cached(u))


def _load_published(model: torch.nn.Module, cfg: PretrainedCfg, *, progress: bool, deadline: float) -> None:
    urls = _published_urls(cfg)
    for i, url in enumerate(urls):
        try:
            _load_via_cache(model, cfg, url, expected_prefix=cfg.sha256_prefix, progress=progress,
                            deadline=deadline)
            return
        except DownloadError as e:
            if i + 1 == len(urls):
                raise
            # MMAction2's own pages name some files with two dates: try the other name.
            log.warning("%s Trying the alternative URL %s", e, urls[i + 1])


def _load_local(model: torch.nn.Module, cfg: PretrainedCfg, path: Path) -> None:
    require_file(path)
    prefix = hash_prefix_from_name(path.name)
    if prefix:  # named like a published file: hold it to the same standard
        verify_file_hash(path, prefix)
    if path.suffix == ".safetensors":
        load_safetensors_into(model, path, published_classes=cfg.num_classes, source=str(path))
        return
    converted, classifier, keep = _convert(read_mmaction2_checkpoint(path), model, cfg, str(path))
    apply_state_dict(model, converted, keep_classifier=keep, source=str(path),
                     file_classes=classifier_rows(classifier))


def _try_hub_mirror(model: torch.nn.Module, cfg: PretrainedCfg, *, progress: bool = True) -> bool:
    """Load a registry record's weights from its ``hf_hub_id`` mirror; False if that fails.

    The Hub repo must be a :func:`~slowfast_zoo.save_pretrained` directory of the *same* weight
    (``config.json`` ``base_weight == cfg.name``); any problem (offline and not cached, 404,
    damaged file, other weight) is logged and the caller falls back to the original URL.
    """
    try:
        repo_id, revision = split_repo(cfg.hf_hub_id or "")
        config = read_config(hub_download(repo_id, CONFIG_NAME, revision), cfg.hf_hub_id or "")
        if config.get("base_weight") != cfg.name:
            raise CheckpointError(f"it holds {config.get('base_weight')!r}, not {cfg.name!r}")
        weights = hub_download(repo_id, WEIGHTS_NAME, revision)
        load_safetensors_into(model, weights, published_classes=cfg.num_classes,
                              source=f"hf-hub:{cfg.hf_hub_id}")
    except Exception as e:
        log.warning("Could not load %s from the Hub mirror %s (%s: %s); using %s instead.",
                    cfg.name, cfg.hf_hub_id, type(e).__name__, " ".join(str(e).split())[:300], cfg.url)
        with contextlib.suppress(Exception):  # a partial load must not survive
            model.init_weights()
        return False
    log.info("Loaded %s from the Hub mirror %s", cfg.name, cfg.hf_hub_id)
    return True


def _is_url(s: str) -> bool:
    return urllib.parse.urlsplit(s).scheme in ("http", "https")


def load_pretrained(model: torch.nn.Module, cfg: PretrainedCfg, *,
                    checkpoint_path: str | os.PathLike | None = None, progress: bool = True,
                    download_timeout: float | None = None) -> None:
    """Load published (or given) weights into ``model`` in place.

    Args:
        model: a :class:`~slowfast_zoo.SlowFast` built for ``cfg`` (its ``spec`` decides the
            expected keys and shapes; its ``num_classes`` whether the classifier is kept).
        cfg: the weight record; its ``url`` and ``sha256_prefix`` are used when
            ``checkpoint_path`` is ``None``.
        checkpoint_path: a local MMAction2 ``.pth`` / slowfast_zoo ``.safetensors`` file, or an
            http(s) URL of one whose file name ends in ``-<sha256 prefix>.pth``.
        progress: draw a download progress bar on stderr when it is a terminal.
        download_timeout: the longest a download may take, in seconds (default
            ``$SLOWFAST_ZOO_DOWNLOAD_TIMEOUT`` or 3600; stalls end after 60 s regardless).

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
    deadline = download_deadline(download_timeout)
    if checkpoint_path is None:
        if cfg.hf_hub_id and _try_hub_mirror(model, cfg, progress=progress):
            return
        _load_published(model, cfg, progress=progress, deadline=deadline)
        return
    location = os.fspath(checkpoint_path)
    if isinstance(location, str) and _is_url(location):
        _load_via_cache(model, cfg, location, expected_prefix=None, progress=progress, deadline=deadline)
    else:
        _load_local(model, cfg, Path(location))
