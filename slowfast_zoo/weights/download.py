"""Verified downloads into the torch hub cache, with an optional mirror.

Rules (the same as ``torch.hub.load_state_dict_from_url`` with ``check_hash=True``, plus
stricter cleanup):

* Files go to ``torch.hub.get_dir()/checkpoints/<file name>``, so ``TORCH_HOME`` is honoured
  and a file already fetched by torch.hub or MMAction2 tooling is reused.
* The bytes are streamed into a temporary file in the *same* directory while their sha256 is
  computed; only a file whose hash starts with the hex prefix in its name (``...-<sha8>.pth``,
  MMAction2's ``publish_model.py`` convention) is renamed to its final name. On a mismatch, an
  error or Ctrl-C the temporary file is removed: nothing half-written ever stays in the cache.
* A URL whose file name carries no hash prefix is refused: without it there is nothing to
  verify the bytes against, and an unverified file would be trusted forever once cached.
  Download such a file yourself and pass its local path instead.
* ``SLOWFAST_ZOO_MIRROR`` (e.g. ``http://mirror.local/openmmlab`` or ``file:///srv/openmmlab``)
  replaces the ``https://download.openmmlab.com`` prefix of every URL.
* Deadlines: each socket operation may stall at most ``timeout`` seconds (60), and the whole
  download takes at most ``deadline`` seconds (default 3600; ``create_model(download_timeout=)``
  or ``SLOWFAST_ZOO_DOWNLOAD_TIMEOUT``): a server that drips one byte every few seconds ends
  in a :class:`DownloadError` saying how many bytes arrived.
* One process per cache entry: :func:`cache_lock` holds ``slowfast_zoo.locks/<file>.lock`` (next to
  the ``checkpoints`` folder; ``flock``) while a file
  is checked, downloaded and converted, so concurrent loaders and torchrun ranks download once
  and share the result, and leftovers of a killed download or conversion (this library's
  ``.<name>.*.partial`` files, which no live process can then hold) are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import torch

from slowfast_zoo.errors import CheckpointError, DownloadError, HashMismatchError, UsageError
from slowfast_zoo._io import PARTIAL_SUFFIX, atomic_write
from slowfast_zoo._progress import ProgressBar

__all__ = [
    "MIRROR_ENV", "OPENMMLAB_ROOT", "get_cache_dir", "resolve_url", "url_file_name",
    "hash_prefix_from_name", "sha256_file", "verify_file_hash", "download_file",
    "download_verified", "required_hash_prefix", "TIMEOUT_ENV", "download_deadline", "cache_lock",
]

log = logging.getLogger(__name__)

#: Environment variable holding a replacement for :data:`OPENMMLAB_ROOT`.
MIRROR_ENV = "SLOWFAST_ZOO_MIRROR"
#: The host of every published MMAction2 checkpoint.
OPENMMLAB_ROOT = "https://download.openmmlab.com"

_CHUNK = 1 << 20  # 1 MiB reads: few syscalls, small memory
_DEFAULT_TIMEOUT_S = 60.0  # per socket operation, not for the whole transfer
#: Environment variable: the longest a whole download may take, in seconds.
TIMEOUT_ENV = "SLOWFAST_ZOO_DOWNLOAD_TIMEOUT"
_DEFAULT_DEADLINE_S = 3600.0
# The hex run right before the final extension, as publish_model.py writes it. Anchored at
# the end so that e.g. our converted "<stem>-145f1097.slowfast_zoo.safetensors" (whose
# hash is not 145f1097...) is not mistaken for a hash-named file.
_HASH_RE = re.compile(r"-([0-9a-f]{8,64})\.(?:pth|pt|safetensors)$")
_MIRROR_SCHEMES = ("http", "https", "file")


def download_deadline(download_timeout: float | None = None) -> float:
    """Seconds a whole download may take: ``download_timeout``, else ``$SLOWFAST_ZOO_DOWNLOAD_TIMEOUT``,
    else 3600.

    Raises:
        UsageError: a value that is not a positive number of seconds.
    """
    source, value = "download_timeout", download_timeout
    if value is None:
        source, value = TIMEOUT_ENV, os.environ.get(TIMEOUT_ENV) or None
    if value is None:
        return _DEFAULT_DEADLINE_S
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise UsageError(f"{source} must be a positive number of seconds, got {value!r}")
    return seconds


@contextlib.contextmanager
def cache_lock(dest: Path, *, wait_s: float = _DEFAULT_DEADLINE_S) -> Iterator[None]:
    """Hold ``<dest>.lock`` for one cache entry (see the module docstring); wait for another
    process that holds it at most ``wait_s`` seconds. Without ``fcntl`` (Windows) no lock is
    taken and leftovers are left alone."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    # Beside the cache, not in it: the checkpoints folder holds only checkpoints.
    locks = dest.parent.parent / "slowfast_zoo.locks"
    locks.mkdir(parents=True, exist_ok=True)
    lock_path = locks / (dest.name + ".lock")
    with open(lock_path, "a+") as handle:
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
    """Apply ``SLOWFAST_ZOO_MIRROR`` to a URL (unchanged when unset or not an OpenMMLab URL).

    Raises:
        UsageError: the mirror is not an ``http://``, ``https://`` or ``file://`` URL.

    Example:
        >>> import os
        >>> os.environ["SLOWFAST_ZOO_MIRROR"] = "http://127.0.0.1:8000/"
        >>> resolve_url("https://download.openmmlab.com/mmaction/a-0123abcd.pth")
        'http://127.0.0.1:8000/mmaction/a-0123abcd.pth'
        >>> del os.environ["SLOWFAST_ZOO_MIRROR"]
    """
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if not mirror or not (url == OPENMMLAB_ROOT or url.startswith(OPENMMLAB_ROOT + "/")):
        return url
    if urllib.parse.urlsplit(mirror).scheme not in _MIRROR_SCHEMES:
        raise UsageError(f"{MIRROR_ENV}={mirror!r} must be an http://, https:// or file:// URL "
                         f"that replaces {OPENMMLAB_ROOT}")
    return mirror.rstrip("/") + url[len(OPENMMLAB_ROOT):]


def url_file_name(url: str) -> str:
    """The (unquoted) last path component of a URL.

    Example:
        >>> url_file_name("http://h/x/model_20200728-145f1097.pth?raw=1")
        'model_20200728-145f1097.pth'
    """
    if "\x00" in url:
        raise CheckpointError(f"URL {url!r} contains a NUL character")
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise CheckpointError(f"Cannot derive a file name from URL {url[:300]!r}")
    if len(name.encode("utf-8")) > 200:  # the cache adds a suffix; file systems allow 255 bytes
        raise CheckpointError(f"URL {url[:120]!r}...: its file name is {len(name.encode('utf-8'))} bytes "
                              f"long, too long for the cache (at most 200)")
    return name


def hash_prefix_from_name(name: str) -> str | None:
    """The sha256 hex prefix carried by a file name, or ``None``.

    Example:
        >>> hash_prefix_from_name("slowfast_r50_256p_4x16x1_256e_kinetics400_rgb_20200728-145f1097.pth")
        '145f1097'
        >>> hash_prefix_from_name("my_finetune.pth") is None
        True
    """
    m = _HASH_RE.search(name)
    return m[1] if m else None


def required_hash_prefix(url: str) -> str:
    """The sha256 prefix in a URL's file name; refuse URLs without one.

    Raises:
        CheckpointError: the file name carries no ``-<hex>.pth`` / ``.safetensors`` prefix.

    Example:
        >>> required_hash_prefix("http://h/x_20200728-145f1097.pth")
        '145f1097'
    """
    prefix = hash_prefix_from_name(url_file_name(url))
    if not prefix:
        raise CheckpointError(
            f"Refusing to download {url}: its file name carries no sha256 prefix "
            f"('<name>-<8 hex digits>.pth', as MMAction2 publishes them), so the download "
            f"cannot be verified. Download it yourself and pass the local path as checkpoint_path, "
            f"or rename it on the server to include the first 8 hex digits of its sha256.")
    return prefix


def sha256_file(path: str | os.PathLike) -> str:
    """Full hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file_hash(path: str | os.PathLike, expected_prefix: str, *, source: str | None = None) -> str:
    """Check that ``sha256(path)`` starts with ``expected_prefix``; return the full hash.

    Raises:
        HashMismatchError: naming the file (and ``source``), the expected prefix and the actual hash.

    Example:
        >>> verify_file_hash("model-0123abcd.pth", "0123abcd")  # doctest: +SKIP
        '0123abcd...'
    """
    actual = sha256_file(path)
    if not actual.startswith(expected_prefix):
        origin = f" (from {source})" if source else ""
        raise HashMismatchError(
            f"sha256 of {path}{origin} is {actual}, but its name says it must start with "
            f"{expected_prefix}: the file is corrupted, truncated or not the published one.")
    return actual


def _download_error(url: str, dest: Path, reason: str) -> DownloadError:
    mirror = os.environ.get(MIRROR_ENV) or "unset"
    return DownloadError(
        f"Could not download {url}: {reason}.\n"
        f"The file is expected in the cache at {dest}. Without network access: download it "
        f"elsewhere and place it there by hand (same file name; it is verified by the sha256 prefix "
        f"in its name), or pass checkpoint_path=<local file>, or set {MIRROR_ENV} to a mirror "
        f"of {OPENMMLAB_ROOT} ({MIRROR_ENV} is currently {mirror}).")


def _stream(url: str, dest: Path, out: BinaryIO, sha: Any, *, progress: bool,
            timeout: float, deadline: float) -> None:
    end = time.monotonic() + deadline
    request = urllib.request.Request(url, headers={"User-Agent": "slowfast_zoo"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        raise _download_error(url, dest, f"HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise _download_error(url, dest, f"{type(e).__name__}: {reason}") from e
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        with ProgressBar(total, desc=dest.name, enabled=progress) as bar:
            while True:
                try:
                    # read1: return what one recv gives, so the deadline is checked between
                    # the drips of a slow server (read(n) would wait for n bytes).
                    chunk = response.read1(_CHUNK) if hasattr(response, "read1") else response.read(_CHUNK)
                except (http.client.HTTPException, OSError) as e:
                    got = f"{bar.n} of {total}" if total is not None else str(bar.n)
                    raise _download_error(url, dest, f"transfer interrupted after {got} bytes "
                                                     f"({type(e).__name__}: {e})") from e
                if not chunk:
                    break
                out.write(chunk)
                sha.update(chunk)
                bar.update(len(chunk))
                if time.monotonic() > end:
                    got = f"{bar.n} of {total}" if total is not None else str(bar.n)
                    raise _download_error(url, dest, f"the download did not finish within {deadline:g} s "
                                                     f"({got} bytes received; raise it with "
                                                     f"download_timeout= or {TIMEOUT_ENV})")
        if total is not None and bar.n != total:
            raise _download_error(url, dest, f"connection closed after {bar.n} of {total} bytes")


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
    download_verified(url, Path(dest), expected_prefix=expected_prefix, progress=progress,
                      timeout=timeout, deadline=deadline)
    return Path(dest)


def download_verified(url: str, dest: Path, *, expected_prefix: str | None = None,
                      progress: bool = True, timeout: float = _DEFAULT_TIMEOUT_S,
                      deadline: float | None = None) -> str:
    """Like :func:`download_file`, but return the full sha256 hex of the downloaded file."""
    deadline = download_deadline(deadline)
    url = resolve_url(url)
    expected_prefix = expected_prefix or required_hash_prefix(url)
    log.info("Downloading %s to %s", url, dest)
    sha = hashlib.sha256()

    def fetch(tmp: str) -> None:
        # The temporary file is in dest's directory (os.replace is then an atomic rename) and is
        # removed on any error, Ctrl-C included: a partial file never looks like a checkpoint.
        with open(tmp, "wb") as out:
            _stream(url, dest, out, sha, progress=progress, timeout=timeout, deadline=deadline)
        actual = sha.hexdigest()
        if not actual.startswith(expected_prefix):
            raise HashMismatchError(
                f"Downloaded {url}, but its sha256 is {actual}, not starting with the expected "
                f"prefix {expected_prefix}. The file was discarded (nothing was written to "
                f"{dest.parent}). If {MIRROR_ENV} is set, check that the mirror serves the "
                f"published file.")

    atomic_write(dest, fetch)
    actual = sha.hexdigest()
    return actual
