"""Trust on first use: the full sha256 of a URL's first verified download binds every later load.

A record is a small JSON file, ``<torch hub dir>/slowfast_zoo.trust/<sha256 of the URL>.json``
(``{"url", "sha256", "recorded"}``), written by :func:`record_sha256` once the first download of
the URL has been verified (and said once, as a warning), read by :func:`recorded_sha256` before
every later load or re-download of it (:mod:`.download`): a file that changed on the server, or
a cached copy that changed on disk, is refused. ``create_model(..., sha256=)`` pins a file
without a record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import torch

from slowfast_zoo._io import atomic_write_text
from slowfast_zoo.errors import DownloadError

__all__ = ["record_path", "recorded_sha256", "record_sha256"]

log = logging.getLogger(__name__)


def record_path(url: str) -> Path:
    """Where the record of a URL lives: keyed by the whole URL (host and path), never its file name.

    Example:
        >>> record_path("https://h/a/model.pth") != record_path("https://h/b/model.pth")
        True
    """
    return Path(torch.hub.get_dir()) / "slowfast_zoo.trust" / (hashlib.sha256(url.encode("utf-8")).hexdigest() + ".json")


def recorded_sha256(url: str) -> str | None:
    """The sha256 recorded for ``url`` on its first verified download, or ``None``.

    Raises:
        DownloadError: a record that is damaged or not one of ours (naming it).
    """
    path = record_path(url)
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
