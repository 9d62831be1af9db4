"""Verified downloads into the torch hub cache, with an optional mirror.

Rules (the same as ``torch.hub.load_state_dict_from_url`` with ``check_hash=True``, plus
stricter cleanup):

* Files go to ``torch.hub.get_dir()/checkpoints/<file name>``, so ``TORCH_HOME`` is honoured
  and a file already fetched by torch.hub or MMAction2 tooling is reused.
* The bytes are streamed into a temporary file in the *same* directory while their sha256 is
  computed; only a file whose hash starts with the hex prefix in its name (``...-<sha8>.pth``,
  MMAction2's ``publish_model.py`` convention) is renamed to its final name. On a mismatch, an
  error or Ctrl-C the temporary file is removed: nothing half-written ever stays in the cache.
* Trust on first use: the full sha256 of a URL's first verified download is recorded in
  ``slowfast_zoo.trust/<sha256 of the URL>.json`` (beside the ``checkpoints`` folder; said once,
  as a warning); every later load and re-download of that URL must match it. A URL without a
  hash prefix in its file name is verified this way alone, and cached as
  ``<16 hex of the URL's sha256>-<name>`` so that same-named files of different URLs never
  share an entry. ``create_model(..., sha256=)`` pins a file to a full sha256 instead.
* ``SLOWFAST_ZOO_MIRROR`` (e.g. ``https://mirror.local/weights`` or ``file:///srv/weights``)
  replaces the scheme and host of every URL on a known weight host (:data:`MIRRORED_ROOTS`:
  ``https://download.openmmlab.com`` for MMAction2, ``https://dl.fbaipublicfiles.com`` for
  PyTorchVideo and PySlowFast), keeping the path: the mirror is one folder tree holding each
  file under its published path (``mmaction/recognition/...``, ``pytorchvideo/model_zoo/...``,
  ``pyslowfast/model_zoo/...``; the hosts' paths do not collide), so ``wget -x -nH`` of the
  published URLs builds it, and a loopback test server can serve it. URLs of other hosts and
  ``checkpoint_path`` URLs elsewhere are fetched as they are. A plain-``http://`` mirror also
  needs ``SLOWFAST_ZOO_MIRROR_ALLOW_HTTP=1``. Files come out of the mirror under the checks of
  the original URL: its sha256 prefix, its trust-on-first-use record (keyed by the original
  URL, not the mirror's) or ``sha256=``.
* Transfers (:mod:`.transport`): https only (plain http to loopback addresses, or to a mirror
  the user opts in), no redirect out of https or to another host over http, at most 2 GiB, and
  a deadline over connection, headers and body: each socket operation may stall at most
  ``timeout`` seconds (60), and the whole download takes at most ``deadline`` seconds (default
  3600; ``create_model(download_timeout=)`` or ``SLOWFAST_ZOO_DOWNLOAD_TIMEOUT``): a server that
  drips one byte every few seconds ends in a :class:`DownloadError` saying how many bytes
  arrived. A full disk is a :class:`DownloadError` naming the folder.
* One process per cache entry: :func:`cache_lock` holds ``slowfast_zoo.locks/<file>.lock`` (next to
  the ``checkpoints`` folder; ``flock``) while a file
  is checked, downloaded and converted, so concurrent loaders and torchrun ranks download once
  and share the result, and leftovers of a killed download or conversion (this library's
  ``.<name>.*.partial`` files, which no live process can then hold) are removed. Lock files are
  opened without following symbolic links (a planted link is refused, never written through);
  a cache that cannot be written at all (read-only) is used without locks when it holds
  everything a load needs, and a download into it is a one-line :class:`DownloadError`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from dataclasses import dataclass

import torch

from slowfast_zoo._digest import require_file, verify_file_hash
from slowfast_zoo._io import PARTIAL_SUFFIX, atomic_write
from slowfast_zoo.errors import (CheckpointError, DownloadError, HashMismatchError, UntrustedCacheError,
                                 UsageError)
from slowfast_zoo.weights.hub import hub_download
from slowfast_zoo.weights.transport import MAX_DOWNLOAD_BYTES, check_transport, stream_url
from slowfast_zoo.weights.trust import check_cache_entry, record_sha256, recorded_sha256
from slowfast_zoo.weights.source import (
    _DEFAULT_DEADLINE_S,
    CONFIG_NAME,
    TIMEOUT_ENV,
    WEIGHTS_NAME,
    WeightSource,
    download_deadline,
    hash_prefix_from_name,
)

__all__ = [
    "MIRROR_ENV", "OPENMMLAB_ROOT", "FBAIPUBLICFILES_ROOT", "MIRRORED_ROOTS", "get_cache_dir", "resolve_url", "download_file",
    "download_verified", "TIMEOUT_ENV", "download_deadline", "cache_lock", "LocalFiles", "fetch",
    "CONVERTED_SUFFIX", "converted_cache_path",
]

log = logging.getLogger(__name__)

#: Environment variable holding a replacement for the roots of :data:`MIRRORED_ROOTS`.
MIRROR_ENV = "SLOWFAST_ZOO_MIRROR"
#: The host of every published MMAction2 checkpoint.
OPENMMLAB_ROOT = "https://download.openmmlab.com"
#: The host of PyTorchVideo's and PySlowFast's model zoos.
FBAIPUBLICFILES_ROOT = "https://dl.fbaipublicfiles.com"
#: The weight hosts a mirror stands in for (their URL paths do not collide).
MIRRORED_ROOTS = (OPENMMLAB_ROOT, FBAIPUBLICFILES_ROOT)

_CHUNK = 1 << 20  # 1 MiB reads: few syscalls, small memory
_DEFAULT_TIMEOUT_S = 60.0  # per socket operation, not for the whole transfer
_MIRROR_SCHEMES = ("http", "https", "file")


@contextlib.contextmanager
def cache_lock(dest: Path, *, wait_s: float = _DEFAULT_DEADLINE_S) -> Iterator[None]:
    """Hold ``<dest>.lock`` for one cache entry (see the module docstring); wait for another
    process that holds it at most ``wait_s`` seconds. Without ``fcntl`` (Windows) no lock is
    taken and leftovers are left alone.

    Example:
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     dest = d / "checkpoints" / "m-0123abcd.pth"
        ...     with cache_lock(dest, wait_s=1):
        ...         sorted(p.name for p in (d / "slowfast_zoo.locks").iterdir())
        ['m-0123abcd.pth.lock']
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    # Beside the cache, not in it: the checkpoints folder holds only checkpoints.
    lock_path = dest.parent.parent / "slowfast_zoo.locks" / (dest.name + ".lock")
    fd = _open_lock(lock_path)
    if fd is None:  # a read-only cache: nothing will be written, so nothing needs a lock
        yield
        return
    with os.fdopen(fd, "a+") as handle:
        end = time.monotonic() + wait_s
        logged = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > end:
                    raise DownloadError(f"{dest}: another process has been downloading or converting it "
                                        f"for more than {wait_s:g} s ({lock_path} is locked)") from None
                if not logged:
                    log.info("Waiting for another process to finish %s", dest)
                    logged = True
                time.sleep(0.2)
        try:
            _remove_leftovers(dest)
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _open_lock(lock_path: Path) -> int | None:
    """The lock file's descriptor, opened without following a symbolic link (a link planted in a
    shared cache must not make us create or truncate another file); ``None`` when the cache
    cannot be written at all (a read-only cache: a container image, an NFS model store)."""
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        if lock_path.parent.is_symlink():
            raise DownloadError(f"{lock_path.parent} is a symbolic link: refusing to keep lock files "
                                f"there (remove it)")
        check_cache_entry(lock_path.parent)  # a folder another user can write is not ours to lock in
        return os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
    except (DownloadError, UntrustedCacheError):
        raise
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise DownloadError(f"{lock_path} is a symbolic link: refusing to use it as a lock file "
                                f"(remove it)") from e
        if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            log.debug("No lock for %s: %s", lock_path, e)
            return None
        raise DownloadError(f"Cannot open the lock file {lock_path}: {e.strerror or e}") from e


def _remove_leftovers(dest: Path) -> None:
    """Temporary files of this entry left by a killed process (we hold the entry's lock)."""
    stems = (dest.name, dest.name[:-4] if dest.name.endswith(".pth") else dest.name)
    for path in dest.parent.glob(f".*{PARTIAL_SUFFIX}"):
        if path.is_file() and any(path.name.startswith(f".{stem}.") for stem in stems):
            with contextlib.suppress(OSError):
                path.unlink()
                log.info("Removed %s, left by an interrupted download or conversion", path)


def get_cache_dir() -> Path:
    """The directory downloads are cached in: ``torch.hub.get_dir()/checkpoints``.

    Example:
        >>> get_cache_dir().name
        'checkpoints'
    """
    return Path(torch.hub.get_dir()) / "checkpoints"


def resolve_url(url: str) -> str:
    """Apply ``SLOWFAST_ZOO_MIRROR`` to a URL: the scheme and host of a known weight host
    (:data:`MIRRORED_ROOTS`) become the mirror's, the path stays (unchanged when unset or
    another host).

    Raises:
        UsageError: the mirror is not an ``http://``, ``https://`` or ``file://`` URL.

    Example:
        >>> import os
        >>> os.environ["SLOWFAST_ZOO_MIRROR"] = "http://127.0.0.1:8000/"
        >>> resolve_url("https://download.openmmlab.com/mmaction/a-0123abcd.pth")
        'http://127.0.0.1:8000/mmaction/a-0123abcd.pth'
        >>> resolve_url("https://dl.fbaipublicfiles.com/pyslowfast/model_zoo/kinetics400/SLOWFAST_8x8_R50.pkl")
        'http://127.0.0.1:8000/pyslowfast/model_zoo/kinetics400/SLOWFAST_8x8_R50.pkl'
        >>> resolve_url("https://example.org/x.pyth")
        'https://example.org/x.pyth'
        >>> del os.environ["SLOWFAST_ZOO_MIRROR"]
    """
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    root = next((r for r in MIRRORED_ROOTS if url == r or url.startswith(r + "/")), None)
    if not mirror or root is None:
        return url
    if urllib.parse.urlsplit(mirror).scheme not in _MIRROR_SCHEMES:
        raise UsageError(f"{MIRROR_ENV}={mirror!r} must be an http://, https:// or file:// URL "
                         f"that replaces {' and '.join(MIRRORED_ROOTS)}")
    return mirror.rstrip("/") + url[len(root):]


def _download_error(url: str, dest: Path, reason: str) -> DownloadError:
    mirror = os.environ.get(MIRROR_ENV) or "unset"
    check = ("it is verified by the sha256 prefix in its name" if hash_prefix_from_name(dest.name)
             else "it is verified by the sha256 recorded on its first download, if any, or sha256=")
    return DownloadError(
        f"Could not download {url}: {reason}.\n"
        f"The file is expected in the cache at {dest}. Without network access: download it "
        f"elsewhere and place it there by hand (that file name; {check}), or pass "
        f"checkpoint_path=<local file>, or set {MIRROR_ENV} to a mirror of "
        f"{' and '.join(MIRRORED_ROOTS)} (the same paths; {MIRROR_ENV} is currently {mirror}).")


def download_file(url: str, dest: str | os.PathLike, *, expected_prefix: str | None = None,
                  progress: bool = True, timeout: float = _DEFAULT_TIMEOUT_S,
                  deadline: float | None = None) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying the sha256 prefix before the rename.

    ``SLOWFAST_ZOO_MIRROR`` is applied to ``url`` first.

    Args:
        url: ``http(s)://`` (or ``file://``) URL.
        dest: final path; its directory is created if needed.
        expected_prefix: hex prefix the sha256 must start with; by default the one in the
            URL's file name. A URL without one is refused (see module docstring).
        progress: draw a progress bar on stderr when it is a terminal.
        timeout: socket timeout in seconds (the longest stall).
        deadline: the longest the whole download may take, in seconds (default:
            :func:`download_deadline`).

    Returns:
        ``dest`` as a :class:`~pathlib.Path`.

    Raises:
        DownloadError: no network, HTTP error, refused connection, short transfer.
        HashMismatchError: the bytes do not match the prefix (nothing is left on disk).
        CheckpointError: the URL's file name carries no sha256 prefix.

    Example:
        >>> download_file("https://download.openmmlab.com/mmaction/recognition/slowfast/"
        ...               "slowfast_r50_256p_4x16x1_256e_kinetics400_rgb/"
        ...               "slowfast_r50_256p_4x16x1_256e_kinetics400_rgb_20200728-145f1097.pth",
        ...               get_cache_dir() / "slowfast_r50_256p_4x16x1_256e_kinetics400_rgb_20200728-145f1097.pth")  # doctest: +SKIP
    """
    prefix = expected_prefix or hash_prefix_from_name(Path(urllib.parse.urlsplit(url).path).name)
    if not prefix:
        raise CheckpointError(f"Refusing to download {url}: its file name carries no sha256 prefix "
                              f"and no expected_prefix was given, so the download cannot be verified.")
    download_verified(url, Path(dest), expected_prefix=prefix, progress=progress,
                      timeout=timeout, deadline=download_deadline(deadline))
    return Path(dest)


def download_verified(url: str, dest: Path, *, expected_prefix: str,
                      progress: bool = True, timeout: float = _DEFAULT_TIMEOUT_S,
                      deadline: float = _DEFAULT_DEADLINE_S, max_bytes: int = MAX_DOWNLOAD_BYTES,
                      expected_sha256: str | None = None, expected_why: str = "expected") -> str:
    """Like :func:`download_file`, but return the full sha256 hex of the downloaded file.

    Example:
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:  # a file:// URL: no network needed
        ...     src = d / "abc-ba7816bf.pth"
        ...     _ = src.write_bytes(b"abc")
        ...     download_verified(src.as_uri(), d / "cache" / src.name, expected_prefix="ba7816bf",
        ...                       progress=False)[:16]
        'ba7816bf8f01cfea'
    """
    resolved = resolve_url(url)
    check_transport(resolved, from_mirror=resolved != url)
    url = resolved
    log.info("Downloading %s to %s", url, dest)
    sha = hashlib.sha256()

    def fail(reason: str) -> DownloadError:
        return _download_error(url, dest, reason)

    def fetch(tmp: str) -> None:
        # The temporary file is in dest's directory (os.replace is then an atomic rename) and is
        # removed on any error, Ctrl-C included: a partial file never looks like a checkpoint.
        with open(tmp, "wb") as out:
            stream_url(url, out, sha.update, name=dest.name, fail=fail, progress=progress,
                       timeout=timeout, deadline=deadline, max_bytes=max_bytes)
        actual = sha.hexdigest()
        if not actual.startswith(expected_prefix):
            raise HashMismatchError(
                f"Downloaded {url}, but its sha256 is {actual}, not starting with the expected "
                f"prefix {expected_prefix}. The file was discarded (nothing was written to "
                f"{dest.parent}). If {MIRROR_ENV} is set, check that the mirror serves the "
                f"published file.")
        if expected_sha256 is not None and actual != expected_sha256:
            raise HashMismatchError(
                f"Downloaded {url}, but its sha256 is {actual}, not the {expected_sha256} {expected_why}: "
                f"the file on the server changed or is not the one you meant. It was discarded "
                f"(nothing was written to {dest.parent}).")

    try:
        atomic_write(dest, fetch)
    except (DownloadError, HashMismatchError):
        raise
    except OSError as e:  # a full disk, a read-only or vanished cache folder: the file, not a traceback
        raise DownloadError(f"Could not write the download of {url} to {dest.parent}: "
                            f"{e.strerror or e} (errno {e.errno}). A download needs a writable cache with free "
                            f"space: free some, or point TORCH_HOME at another folder.") from e
    return sha.hexdigest()


# --------------------------------------------------------------------------- fetch (loading step 2)
#: Suffix of converted files in the cache (replaces ``.pth``). Deliberately not
#: ``-<hex>.safetensors``: the hex in the stem is the hash of the ``.pth``, not of this file.
CONVERTED_SUFFIX = ".slowfast_zoo.safetensors"


def converted_cache_path(pth_path: str | os.PathLike[str]) -> Path:
    """Where the converted ``.safetensors`` of a cached ``.pth`` lives (same directory).

    Example:
        >>> converted_cache_path("/c/x_20200728-145f1097.pth").name
        'x_20200728-145f1097.slowfast_zoo.safetensors'
    """
    p = Path(pth_path)
    return p.with_name((p.name[:-4] if p.name.endswith(".pth") else p.name) + CONVERTED_SUFFIX)


@dataclass(frozen=True)
class LocalFiles:
    """What :func:`fetch` hands to the reader: local files, verified where a hash is known.

    Attributes:
        weights: the weight file (``.pth`` or ``.safetensors``).
        source: how to name it in messages (the path, and the URL it came from).
        sha256: full sha256 of ``weights`` when it was verified (``None``: not checked).
        converted: the cache path of its converted ``.safetensors`` (published/URL ``.pth``
            files only): read instead of the ``.pth`` when it was made from these very bytes,
            written after a conversion otherwise.
        config: a saved model's ``config.json`` (``hf-hub`` / ``local-dir`` only).
        url: the URL the file came from (``url`` sources only).

    Example:
        >>> LocalFiles(Path("ft.pth"), "ft.pth").converted is None
        True
    """

    weights: Path
    source: str
    sha256: str | None = None
    converted: Path | None = None
    config: Path | None = None
    url: str | None = None


def _ensure_cached(url: str, dest: Path, prefix: str, progress: bool, deadline: float,
                   pin: str | None = None, max_bytes: int | None = None,
                   pin_why: str = "pinned by sha256=") -> str:
    """Full sha256 of a verified ``dest``, downloading it if absent or damaged.

    Verified against the prefix in the file name, ``pin`` (``sha256=``, or the registry's
    digest: ``pin_why`` says which) when given, and the trust-on-first-use record of ``url``
    (written after the first verified download).
    """
    expected = pin or recorded_sha256(url)
    why = pin_why if pin else "recorded on its first download"
    if dest.is_file():
        check_cache_entry(dest)
        try:
            return verify_file_hash(dest, prefix, source=url, expected_sha256=expected, why=why)
        except HashMismatchError as e:
            log.warning("%s Deleting it and downloading it again.", e)
            dest.unlink(missing_ok=True)
    full = download_verified(url, dest, expected_prefix=prefix, progress=progress, deadline=deadline,
                             expected_sha256=expected, expected_why=why,
                             max_bytes=MAX_DOWNLOAD_BYTES if max_bytes is None else max_bytes)
    if recorded_sha256(url) is None:
        record_sha256(url, full)
    return full


def _cached_first(source: WeightSource) -> list[tuple[str, Path]]:
    """The source's URLs with their cache paths, those already in the cache first (so a warm
    cache never waits on a URL that failed before)."""
    cache = get_cache_dir()
    pairs = [(u, cache / n) for u, n in zip((source.location, *source.alternatives), source.cache_names)]
    return sorted(pairs, key=lambda p: not (p[1].is_file() or converted_cache_path(p[1]).is_file()))


@contextlib.contextmanager
def _fetch_url(source: WeightSource, progress: bool, deadline: float) -> Iterator[LocalFiles]:
    pairs = _cached_first(source)
    prefix = source.sha256_prefix or ""
    for i, (url, dest) in enumerate(pairs):
        # One process per cache entry, held while the file is read and converted: others wait,
        # then find the file and its conversion done.
        with cache_lock(dest, wait_s=deadline):
            # sha256= pins whatever URL serves the file; the registry's digest is its URL's own.
            pin, why = source.sha256, "pinned by sha256="
            if pin is None and url == source.location and source.published_sha256 is not None:
                pin, why = source.published_sha256, "recorded in the registry for this weight"
            try:
                full = _ensure_cached(url, dest, prefix, progress, deadline, pin, source.max_bytes, why)
            except DownloadError as e:
                if i + 1 == len(pairs):
                    raise
                # MMAction2's own pages name some files with two dates: try the other name.
                log.warning("%s Trying the alternative URL %s", e, pairs[i + 1][0])
                continue
            yield LocalFiles(dest, f"{dest} (from {url})", sha256=full, url=url,
                             converted=None if dest.suffix == ".safetensors" else converted_cache_path(dest))
            return


@contextlib.contextmanager
def fetch(source: WeightSource, *, progress: bool = True) -> Iterator[LocalFiles]:
    """Loading step 2: the source's files on the local disk, verified (a context manager).

    A URL is served from the cache when its file is there and hashes right, else downloaded
    (alternative URLs in turn); the cache entry stays locked while the caller reads and
    converts it. A local file named like a published one (``...-<sha8>.pth``) is held to the
    same hash check. Saved models come from their directory or the Hub cache.

    Raises:
        CheckpointError: a missing local file or saved-model directory, Hub files not available.
        HashMismatchError: a local hash-named file whose bytes do not match its name.
        DownloadError: no URL of the source could be fetched.

    Example:
        >>> from slowfast_zoo.weights.source import resolve_source
        >>> with fetch(resolve_source("x", checkpoint_path="ft.pth")) as files:  # doctest: +SKIP
        ...     files.weights
        PosixPath('ft.pth')
    """
    if source.kind == "url":
        with _fetch_url(source, progress, source.deadline) as files:
            yield files
        return
    # The saved-model and local-file cases are written out here, not in helpers: step 2 is one
    # stay in this module (the loading path enters each step's module once).
    pin_why = "pinned by sha256="
    if source.kind == "local-dir":
        root = Path(source.location)
        if not (root / CONFIG_NAME).is_file() or not (root / WEIGHTS_NAME).is_file():
            raise CheckpointError(f"{root}: not a saved slowfast_zoo model (expected {CONFIG_NAME} "
                                  f"and {WEIGHTS_NAME}; see slowfast_zoo.save_pretrained)")
        files = LocalFiles(root / WEIGHTS_NAME, str(root), config=root / CONFIG_NAME)
    elif source.kind == "hf-hub":
        try:
            config = hub_download(source.location, CONFIG_NAME, source.revision)
            weights = hub_download(source.location, WEIGHTS_NAME, source.revision)
        except Exception as e:  # huggingface_hub's errors: offline + not cached, 404, network...
            raise CheckpointError(f"{source}: cannot get the model files ({type(e).__name__}: "
                                  f"{' '.join(str(e).split())[:400]})") from e
        files = LocalFiles(weights, str(source), config=config)
    else:
        path = Path(source.location)
        require_file(path)
        full = None
        if source.sha256_prefix or source.sha256:  # a hash-named local file meets the download's standard
            full = verify_file_hash(path, source.sha256_prefix or "", expected_sha256=source.sha256, why=pin_why)
        files = LocalFiles(path, str(path), sha256=full)
    if source.kind != "file" and source.sha256 is not None:
        verify_file_hash(files.weights, "", source=str(source), expected_sha256=source.sha256, why=pin_why)
    yield files
