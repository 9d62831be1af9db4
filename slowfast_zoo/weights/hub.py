"""The Hugging Face Hub client: files of a saved model's repo through the Hub cache.

Hub files go through ``huggingface_hub.hf_hub_download``: cached in the Hub cache, ``@revision``
pinning (a branch, tag or commit), ``HF_HUB_OFFLINE=1`` and ``HF_ENDPOINT`` honoured (read at
call time, so they may be set after import). Hub ids and revisions are validated before any
request by :func:`slowfast_zoo.weights.source.split_repo`; the repositories hold the saved-model
format of :mod:`.saved` (which also uploads them: :func:`~slowfast_zoo.push_to_hub`).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["hub_download", "endpoint"]


def endpoint() -> str | None:
    """``$HF_ENDPOINT`` without a trailing slash, or ``None`` (huggingface_hub's default)."""
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


def hub_download(repo_id: str, filename: str, revision: str | None = None) -> Path:
    """One file of a Hub model repo through the Hub cache (``hf_hub_download``)."""
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(repo_id, filename, revision=revision, endpoint=endpoint(),
                           cache_dir=_cache_dir(), local_files_only=_offline(),
                           library_name="slowfast_zoo")
    return Path(path)
