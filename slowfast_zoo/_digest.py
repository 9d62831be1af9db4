"""Facts about weight files that every loading step needs: hashes, existence, one-line errors.

Kept outside :mod:`slowfast_zoo.weights` so that each step of the loading pipeline (resolve,
fetch, read, convert, apply, store) uses them without calling back into another step.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, cast

import torch

from slowfast_zoo._io import file_problem
from slowfast_zoo.errors import CheckpointError, HashMismatchError

if TYPE_CHECKING:
    from typing_extensions import Buffer  # collections.abc.Buffer from Python 3.12 on

__all__ = ["sha256_file", "verify_file_hash", "tensors_sha256", "short_error", "require_file"]

_CHUNK = 1 << 20  # 1 MiB reads: few syscalls, small memory


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Full hex sha256 of a file, read in chunks.

    Example:
        >>> len(sha256_file(__file__))
        64
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file_hash(path: str | os.PathLike[str], expected_prefix: str, *, source: str | None = None,
                     expected_sha256: str | None = None, why: str = "expected") -> str:
    """Check ``sha256(path)`` against the prefix in its name and, when given, a full sha256 (a
    ``sha256=`` pin or a trust-on-first-use record, described by ``why``); return the full hash.

    Raises:
        HashMismatchError: naming the file (and ``source``), what was expected and the actual hash.

    Example:
        >>> verify_file_hash(__file__, "", expected_sha256="0" * 64, why="pinned by sha256=")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.HashMismatchError: sha256 of ... is ..., not the 000... pinned by sha256=
    """
    actual = sha256_file(path)
    origin = f" (from {source})" if source else ""
    if not actual.startswith(expected_prefix):
        raise HashMismatchError(
            f"sha256 of {path}{origin} is {actual}, but its name says it must start with "
            f"{expected_prefix}: the file is corrupted, truncated or not the published one.")
    if expected_sha256 is not None and actual != expected_sha256:
        raise HashMismatchError(f"sha256 of {path}{origin} is {actual}, not the {expected_sha256} {why}")
    return actual


def tensors_sha256(sd: Mapping[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and raw bytes of a state dict, in sorted key order.

    Stored in every file we write so that a damaged file is detected (and a cache entry rebuilt).

    Example:
        >>> len(tensors_sha256({"w": torch.zeros(2)}))
        64
    """
    h = hashlib.sha256()
    for key in sorted(sd):
        t = sd[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{list(t.shape)}|".encode())
        # reshape: 0-d tensors cannot be viewed. numpy arrays are buffers (numpy's stubs only
        # say so for Python >= 3.12): hashed in place, no copy.
        h.update(cast("Buffer", t.reshape(-1).view(torch.uint8).numpy()))
    return h.hexdigest()


def short_error(e: BaseException, limit: int = 600) -> str:
    """An exception message on one line, at most ``limit`` characters.

    Example:
        >>> short_error(ValueError("a\\n  b"))
        'a b'
    """
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def require_file(path: Path) -> None:
    """Raise :class:`CheckpointError` unless ``path`` is an existing file (saying what it is).

    Example:
        >>> require_file(Path("/nonexistent/x.pth"))
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.CheckpointError: Checkpoint file /nonexistent/x.pth: does not exist; expected an MMAction2 .pth or a slowfast_zoo .safetensors file.
    """
    st, problem = file_problem(path)
    if st is None:
        shown = repr(str(path)) if "\x00" in str(path) else str(path)
        what = "does not exist" if problem == "no such file" else problem
        raise CheckpointError(f"Checkpoint file {shown}: {what}; expected an MMAction2 .pth or a "
                              f"slowfast_zoo .safetensors file.")
