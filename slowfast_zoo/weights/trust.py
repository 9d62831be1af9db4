"""Trust on first use: the full sha256 of a URL's first verified download binds every later load.

A record is a small JSON file, ``<torch hub dir>/slowfast_zoo.trust/<sha256 of the URL>.json``
(``{"url", "sha256", "recorded"}``), written by :func:`record_sha256` once the first download of
the URL has been verified (and said once, as a warning), read by :func:`recorded_sha256` before
every later load or re-download of it (:mod:`.download`): a file that changed on the server, or
a cached copy that changed on disk, is refused. ``create_model(..., sha256=)`` pins a file
without a record.

A record, a cached weight file, its converted copy and the lock folder are only as trustworthy
as whoever could write them: :func:`check_cache_entry` refuses one that belongs to another user
(root excepted: a container image's cache) or that others can write (a world-writable folder
with the sticky bit, like ``/tmp``, excepted for the folder), unless
``SLOWFAST_ZOO_TRUST_SHARED_CACHE=1`` says that the other users of the cache are trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import time
from pathlib import Path

import torch

from slowfast_zoo._io import atomic_write_text
from slowfast_zoo.errors import DownloadError, UntrustedCacheError

__all__ = ["record_path", "recorded_sha256", "record_sha256", "check_cache_entry", "SHARED_CACHE_ENV"]

#: Set to 1 to use cache entries that other users own or can write (a team's shared cache).
SHARED_CACHE_ENV = "SLOWFAST_ZOO_TRUST_SHARED_CACHE"

log = logging.getLogger(__name__)


def record_path(url: str) -> Path:
    """Where the record of a URL lives: keyed by the whole URL (host and path), never its file name.

    Example:
        >>> record_path("https://h/a/model.pth") != record_path("https://h/b/model.pth")
        True
    """
    return Path(torch.hub.get_dir()) / "slowfast_zoo.trust" / (hashlib.sha256(url.encode("utf-8")).hexdigest() + ".json")


def _foreign(path: Path) -> str | None:
    """Why another user could have written ``path``, or ``None``."""
    st = os.stat(path)
    if st.st_uid not in (os.geteuid(), 0):
        return f"it belongs to user id {st.st_uid}"
    sticky_dir = stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX
    if st.st_mode & stat.S_IWOTH and not sticky_dir:
        return "every user can write it"
    # Group-writable is ours when the group is our own (umask 002 with a per-user group).
    if st.st_mode & stat.S_IWGRP and st.st_gid != os.getegid() and not sticky_dir:
        return f"group id {st.st_gid} can write it"
    return None


def check_cache_entry(path: str | os.PathLike[str]) -> None:
    """Refuse a cache file (or folder) that another user could have written, and its folder.

    Raises:
        UntrustedCacheError: naming the path and who else could have written it, unless
            ``SLOWFAST_ZOO_TRUST_SHARED_CACHE=1``.

    Example:
        >>> import os
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     os.chmod(d, 0o777)
        ...     try:
        ...         check_cache_entry(d)
        ...     except UntrustedCacheError as e:
        ...         print(str(e).split(": ")[1].split(",")[0])
        every user can write it
    """
    if os.name != "posix" or os.environ.get(SHARED_CACHE_ENV, "").strip() == "1":
        return
    path = Path(path)
    for p in (path, path.parent) if not path.is_dir() else (path,):
        try:
            why = _foreign(p)
        except FileNotFoundError:
            continue
        except OSError as e:
            raise UntrustedCacheError(f"Cannot check who owns the cache entry {p} ({e.strerror or e})") from e
        if why is not None:
            raise UntrustedCacheError(
                f"Not trusting the cache entry {p}: {why}, so another user could have planted it. "
                f"Remove it, or set {SHARED_CACHE_ENV}=1 if every user of this cache is trusted.")


def recorded_sha256(url: str) -> str | None:
    """The sha256 recorded for ``url`` on its first verified download, or ``None``.

    Raises:
        DownloadError: a record that is damaged or not one of ours (naming it).
    """
    path = record_path(url)
    if path.exists():
        check_cache_entry(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        value = record["sha256"] if isinstance(record, dict) and record.get("url") == url else None
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as e:
        raise DownloadError(f"The trust record {path} of {url} cannot be read ({type(e).__name__}: {e}); "
                            f"delete it to record the file's sha256 again on the next download") from e
    if not (isinstance(value, str) and len(value) == 64):
        raise DownloadError(f"The trust record {path} is not one of ours (for {url}); delete it to "
                            f"record the file's sha256 again on the next download")
    return value


def record_sha256(url: str, full: str) -> None:
    """Trust on first use: the first verified download's sha256 binds every later load of ``url``."""
    path = record_path(url)
    try:
        atomic_write_text(path, json.dumps({"url": url, "sha256": full,
                                            "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")
    except OSError as e:  # a read-only cache: verified now, not recorded
        log.warning("Could not record the sha256 of %s in %s (%s); pass sha256=%s to pin it.", url, path, e, full)
        return
    log.warning("First download of %s: its sha256 is %s. Recorded in %s; later loads and downloads "
                "of this URL must match it (pass sha256=... to pin a file yourself).", url, full, path)
