"""Atomic file and directory writes: the one place where slowfast_zoo creates temporary files.

Every writer of the library (converted cache, downloads, exports, features, fine-tune
checkpoints, ``save_pretrained``, eval results, model cards) goes through :func:`atomic_write`
or :func:`atomic_dir`: the content is written next to its final place under a hidden
``.<name>.<random>.partial`` name and renamed into place, so readers see the old file or the
new one, never half of one, and a temporary file never outlives an exception (Ctrl-C included).

``tempfile.mkstemp`` / ``mkdtemp`` create 0600 files and 0700 directories; the results here get
the ordinary modes instead (0644 / 0755 under the default umask 022), so they are usable in a
shared ``TORCH_HOME`` or a team folder.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from slowfast_zoo.errors import OutputPathError, UsageError

__all__ = ["atomic_write", "atomic_write_text", "atomic_dir", "temporary_directory", "PARTIAL_SUFFIX",
           "default_mode", "path_inside", "file_problem", "remove_leftovers", "json_finite"]

#: Suffix of every temporary file or directory (with a leading-dot name), so leftovers of a
#: killed process are recognisable as ours.
PARTIAL_SUFFIX = ".partial"

# `.<name>.[old.]<pid>-<random>.partial`: the writer's process id lets a later run tell the
# leftovers of a killed process from a write in progress.
_LEFTOVER = re.compile(r"^\.(?P<name>.+?)\.(?:old\.)?(?P<pid>\d+)-[A-Za-z0-9_]+" + re.escape(PARTIAL_SUFFIX) + "$")
# Leftovers written before the pid was part of the name, removed once they are this old.
_OLD_FORMAT_AGE_S = 3600.0


def _tmp_prefix(name: str) -> str:
    return f".{name}.{os.getpid()}-"


def file_problem(path: str | os.PathLike) -> tuple[os.stat_result | None, str | None]:
    """``(stat, None)`` for an existing regular file, else ``(None, what is wrong)``.

    The one wording of every input-file problem: "no such file", "symbolic link loop",
    "broken symbolic link (to X)", "file name too long", "invalid path (...)" (a NUL),
    "is a directory", "not a regular file", "cannot access the file (...)".
    """
    try:
        st = os.stat(path)
    except ValueError as exc:  # an embedded NUL
        return None, f"invalid path ({exc})"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "symbolic link loop"
        if exc.errno == errno.ENAMETOOLONG:
            return None, "file name too long"
        if os.path.islink(path):
            return None, f"broken symbolic link (to {os.readlink(os.fspath(path))})"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None, "no such file"
        return None, f"cannot access the file ({exc.strerror or exc})"
    if stat.S_ISDIR(st.st_mode):
        return None, "is a directory"
    if not stat.S_ISREG(st.st_mode):
        return None, "not a regular file"
    return st, None


def path_inside(root: str | os.PathLike, relative: str | os.PathLike) -> Path:
    """``root / relative``, refusing any ``relative`` that would leave ``root``.

    Per-input outputs (one file per input video) mirror the input's relative subfolders under
    the output folder; an absolute path, a ``..`` segment, a NUL or a symlinked folder leading
    outside ``root`` is refused, so nothing is ever written outside the folder the user named.

    Raises:
        UsageError: naming ``relative`` and why it is refused.

    Example:
        >>> path_inside("feats", "class_a/v1.mp4.safetensors").as_posix()
        'feats/class_a/v1.mp4.safetensors'
    """
    rel = os.fspath(relative)
    if "\x00" in rel:
        raise UsageError(f"{rel!r}: a NUL character in a path")
    pure = Path(rel)
    if pure.is_absolute() or rel.startswith(("/", "\\")):
        raise UsageError(f"{rel}: an absolute path cannot be mirrored under the output folder {root}")
    if any(part == ".." for part in pure.parts) or "\\" in rel:
        raise UsageError(f"{rel}: a '..' (or backslash) path would leave the output folder {root}")
    out = Path(root) / pure
    # A symlinked subfolder of root could still point outside it.
    real_root = os.path.realpath(root)
    real_parent = os.path.realpath(out.parent)
    if os.path.commonpath([real_root, real_parent]) != real_root:
        raise UsageError(f"{rel}: resolves to {real_parent}, outside the output folder {root}")
    return out


def default_mode(directory: bool = False) -> int:
    """0666 (files) or 0777 (directories) less the process umask: what ``open`` would give."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)``, then rename the temporary file onto ``path``.

    The parent directory is created if needed; the final file has the ordinary mode
    (0644 under umask 022); on any exception the temporary file is removed.

    Args:
        path: the final file.
        write: writes the content to the path it is given (e.g. ``lambda p: torch.save(x, p)``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> p = atomic_write(os.path.join(d, "a.txt"), lambda tmp: open(tmp, "w").write("hi"))
        >>> p.read_text(), oct(p.stat().st_mode & 0o777)  # doctest: +SKIP
        ('hi', '0o644')
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path.name), suffix=PARTIAL_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically and fsync it before the rename.

    Example:
        >>> atomic_write_text("results.json", "{}")  # doctest: +SKIP
    """
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    return atomic_write(path, write)


def json_finite(obj: Any) -> Any:
    """``obj`` with every NaN / Infinity float replaced by ``None``, for ``json.dumps(allow_nan=False)``.

    Python's ``json`` writes bare ``NaN``, which is not JSON (other readers refuse the whole
    file); the library's JSON outputs (results, logs, ``--json``) write ``null`` instead.

    Example:
        >>> json_finite({"loss": float("nan"), "top1": [0.5, float("inf")]})
        {'loss': None, 'top1': [0.5, None]}
    """
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (list, tuple)):
        return [json_finite(x) for x in obj]
    if isinstance(obj, dict):
        return {k: json_finite(v) for k, v in obj.items()}
    return obj


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, replace: bool = False) -> Iterator[Path]:
    """Build a directory in a temporary sibling and rename it onto ``path`` on success.

    Yields the temporary directory to fill. Files written into it should be created with
    ordinary modes (``open``/``write_text`` do); the directory itself gets 0755 under umask 022.
    On an exception the temporary directory is removed and ``path`` is untouched.

    Args:
        path: the final directory.
        replace: replace an existing ``path`` (it is moved aside, then deleted once the new one
            is in place); otherwise an existing ``path`` raises
            :class:`~slowfast_zoo.errors.OutputPathError` (a ``FileExistsError``).

    Example:
        >>> with atomic_dir("my-model") as tmp:  # doctest: +SKIP
        ...     (tmp / "config.json").write_text("{}")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(path.name), suffix=PARTIAL_SUFFIX, dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, default_mode(directory=True))
        if path.exists():
            if not replace:
                raise OutputPathError(f"{path} exists")
            old = Path(tempfile.mkdtemp(prefix=_tmp_prefix(f"{path.name}.old"), suffix=PARTIAL_SUFFIX,
                                        dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # someone else's live process (or a platform without kill 0)
        return True
    return True


def remove_leftovers(folder: str | os.PathLike, names: Sequence[str] | None = None, *,
                     recursive: bool = False) -> list[Path]:
    """Remove the temporary files and folders a killed earlier run left in ``folder``.

    Only this module's ``.<name>.<pid>-<random>.partial`` entries are touched, and only those whose
    writing process no longer runs (a concurrent writer's are kept); entries of the older
    ``.<name>.<random>.partial`` form are removed once an hour old. Each command calls this on its
    own output before it starts, so a ``kill -9`` costs no disk space for good.

    Args:
        folder: the command's output folder (a missing folder has nothing to clean).
        names: only leftovers of these final names (e.g. ``["results.json"]``); ``None``: all.
        recursive: also clean the subfolders (per-input outputs mirror their inputs' folders).

    Returns:
        The removed paths.

    Example:
        >>> with temporary_directory() as d:
        ...     _ = (d / ".results.json.999999999-abc.partial").write_text("half")
        ...     [p.name for p in remove_leftovers(d, ["results.json"])]
        ['.results.json.999999999-abc.partial']
    """
    root = Path(folder)
    folders = [d for d, _, _ in os.walk(root)] if recursive else [str(root)]
    removed: list[Path] = []
    for dirpath in folders:
        try:
            entries = list(os.scandir(dirpath))
        except OSError:
            continue
        for entry in entries:
            if not (entry.name.startswith(".") and entry.name.endswith(PARTIAL_SUFFIX)):
                continue
            m = _LEFTOVER.match(entry.name)
            if m is not None:
                if names is not None and m["name"] not in names and m["name"] not in [f"{n}.old" for n in names]:
                    continue
                if _process_alive(int(m["pid"])):
                    continue
            else:
                if names is not None and not any(entry.name.startswith(f".{n}.") for n in names):
                    continue
                with contextlib.suppress(OSError):
                    if time.time() - entry.stat(follow_symlinks=False).st_mtime < _OLD_FORMAT_AGE_S:
                        continue
            path = Path(entry.path)
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
    return removed


@contextlib.contextmanager
def temporary_directory(prefix: str = "slowfast_zoo-") -> Iterator[Path]:
    """A scratch directory in the system's temporary folder, removed on exit (e.g. for an upload)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)
