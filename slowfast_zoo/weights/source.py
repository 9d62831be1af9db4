"""Step 1 of loading: which bytes a model name (or a ``checkpoint_path``) points to.

:func:`resolve_source` is pure: it looks at strings only (no file system, no network) and
returns a :class:`WeightSource`, so every mistake in a name, URL, Hub id or revision is refused
before anything is downloaded or built. The other steps (see :mod:`slowfast_zoo.weights.loader`)
fetch the source's files, read them, convert their keys and apply them to a model.

============  ===========================================================================
kind          where the bytes come from
============  ===========================================================================
``url``       a published weight (its record's URL, then its ``alternative_urls``) or an
              ``http(s)://`` ``checkpoint_path``; verified against a sha256 prefix in its file
              name, the registry's full sha256, ``sha256=`` or the digest recorded on its first
              download; cached under a name keyed by the whole URL when the name has no hash
``file``      a local ``checkpoint_path`` (any format :mod:`.readers` reads)
``hf-hub``    ``hf-hub:ORG/REPO[@revision]``: a :func:`~slowfast_zoo.save_pretrained` repo
``local-dir`` ``local-dir:PATH``: a :func:`~slowfast_zoo.save_pretrained` directory
============  ===========================================================================

Example:
    >>> resolve_source("hf-hub:me/my-slowfast@v1")
    WeightSource(kind='hf-hub', location='me/my-slowfast', revision='v1', sha256_prefix=None, alternatives=(), cache_names=(), deadline=3600.0, sha256=None, max_bytes=None, published_sha256=None)
    >>> resolve_source("x", checkpoint_path="https://h/m_20200728-145f1097.pth").sha256_prefix
    '145f1097'
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
from dataclasses import dataclass
from typing import Literal

from slowfast_zoo.errors import CheckpointError, UsageError
from slowfast_zoo.registry.records import PretrainedCfg

__all__ = ["WeightSource", "resolve_source", "is_prefixed", "split_repo", "check_repo_id",
           "check_revision", "hash_prefix_from_name", "url_file_name", "HF_HUB_PREFIX",
           "LOCAL_DIR_PREFIX", "CONFIG_NAME", "WEIGHTS_NAME", "download_deadline", "TIMEOUT_ENV", "cache_name", "check_sha256"]

HF_HUB_PREFIX = "hf-hub:"
LOCAL_DIR_PREFIX = "local-dir:"
#: The files of a saved model (:mod:`.saved`), in a directory or a Hub repo.
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

SourceKind = Literal["url", "file", "hf-hub", "local-dir"]

#: Environment variable: the longest a whole download may take, in seconds.
TIMEOUT_ENV = "SLOWFAST_ZOO_DOWNLOAD_TIMEOUT"
_DEFAULT_DEADLINE_S = 3600.0

# The hex run right before the final extension, as MMAction2's publish_model.py writes it.
# Anchored at the end so that our converted "<stem>-145f1097.slowfast_zoo.safetensors" (whose
# hash is not 145f1097...) is not mistaken for a hash-named file.
_HASH_RE = re.compile(r"-([0-9a-f]{8,64})\.(?:pth|pt|safetensors)$")


@dataclass(frozen=True)
class WeightSource:
    """What to read: the result of :func:`resolve_source`.

    Attributes:
        kind: ``"url"``, ``"file"``, ``"hf-hub"`` or ``"local-dir"``.
        location: the URL, local path, Hub repo id or directory.
        revision: the Hub revision (``hf-hub`` only; ``None`` is the main branch).
        sha256_prefix: the hex prefix the file's sha256 must start with (``None``: not checked,
            only for local files without one in their name and saved models).
        alternatives: more URLs of the same file, tried in order when a download fails.
        cache_names: the cache file name of ``location`` then of each alternative (``url``).
        deadline: the longest a download may take, in seconds.
        sha256: the full sha256 the file is pinned to (``sha256=``).
        max_bytes: the largest file a download of a published weight may be
            (:func:`published_max_bytes`); ``None``: the transport's bound (2 GiB).
        published_sha256: the full sha256 the registry records for ``location`` (not for its
            alternatives: PySlowFast's ``model.``-prefixed re-hosts of PyTorchVideo's files are
            other bytes); ``None``: not known yet (trust on first use holds the file).

    Example:
        >>> str(WeightSource("hf-hub", "me/my-slowfast", revision="v1"))
        'hf-hub:me/my-slowfast@v1'
        >>> str(WeightSource("file", "ft.pth"))
        'ft.pth'
    """

    kind: SourceKind
    location: str
    revision: str | None = None
    sha256_prefix: str | None = None
    alternatives: tuple[str, ...] = ()
    cache_names: tuple[str, ...] = ()
    deadline: float = _DEFAULT_DEADLINE_S
    sha256: str | None = None
    max_bytes: int | None = None
    published_sha256: str | None = None

    def __str__(self) -> str:
        if self.kind == "hf-hub":
            return HF_HUB_PREFIX + self.location + (f"@{self.revision}" if self.revision else "")
        return self.location


def is_prefixed(name: object) -> bool:
    """Whether ``name`` names a saved model (``hf-hub:`` / ``local-dir:``) rather than a registry entry.

    Example:
        >>> is_prefixed("local-dir:runs/best"), is_prefixed("slowfast_r50_4x16x1")
        (True, False)
    """
    return isinstance(name, str) and name.startswith((HF_HUB_PREFIX, LOCAL_DIR_PREFIX))


def url_file_name(url: str) -> str:
    """The (unquoted) last path component of a URL.

    Raises:
        CheckpointError: no usable file name (empty, ``..``, separators, NUL, over 200 bytes).

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


def cache_name(url: str) -> str:
    """The cache file name of a URL: its own name when that carries a sha256 prefix (MMAction2's
    ``...-<sha8>.pth``: the name already stands for the content), else the name behind 16 hex
    digits of the whole URL's sha256, so that same-named files of different URLs never share an
    entry.

    Example:
        >>> cache_name("https://h/x_20200728-145f1097.pth")
        'x_20200728-145f1097.pth'
        >>> cache_name("https://h/kinetics/SLOWFAST_8x8_R50.pyth") != cache_name("https://h/ssv2/SLOWFAST_8x8_R50.pyth")
        True
    """
    name = url_file_name(url)
    if hash_prefix_from_name(name):
        return name
    return f"{hashlib.sha256(url.encode('utf-8')).hexdigest()[:16]}-{name}"


def check_sha256(value: object) -> str:
    """A full sha256 given by the user (64 hex digits; upper case accepted), lower-cased.

    Example:
        >>> check_sha256("AB" * 32) == "ab" * 32
        True
    """
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise UsageError(f"sha256 must be the 64 hex digits of a full sha256, got {value!r}")
    return value.lower()


# The Hub's own rules for names: ORG/REPO of letters, digits, "-", "_", "." (no "..", no leading
# or trailing "-"/"."), at most 96 characters each.
_REPO_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")
_COMMIT = re.compile(r"[0-9a-f]{40}")
# A branch or tag name (git check-ref-format, restricted): no "..", "//", leading/trailing "/",
# backslash, NUL, control characters, spaces or "~^:?*[@{".
_REF = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")


def check_repo_id(repo_id: str) -> str:
    """``repo_id`` if it is a valid ``ORG/REPO`` Hub name, else :class:`UsageError`.

    Example:
        >>> check_repo_id("me/slowfast")
        'me/slowfast'
    """
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(_REPO_PART.fullmatch(p) and ".." not in p for p in parts):
        raise UsageError(f"invalid Hub repository id {repo_id!r}: expected ORG/REPO of letters, digits, "
                         f"'-', '_' and '.' (no '..'), at most 96 characters each")
    return repo_id


def check_revision(revision: str) -> str:
    """``revision`` if it is a branch/tag name or a 40-hex commit, else :class:`UsageError`.

    Checked before any network call: huggingface_hub writes ``refs/<revision>`` into its cache,
    so a revision like ``../../x`` would write outside it.

    Example:
        >>> check_revision("v1.0")
        'v1.0'
    """
    if _COMMIT.fullmatch(revision):
        return revision
    segments = revision.split("/")
    if (len(revision) > 255 or not _REF.fullmatch(revision)
            or any(seg in (".", "..") or seg.startswith(".") or seg.endswith(".lock") for seg in segments)
            or revision.endswith(".")):
        raise UsageError(f"invalid Hub revision {revision!r}: expected a branch or tag name (letters, digits, "
                         f"'-', '_', '.', '/'-separated, no '..' segment, no leading '/', no backslash) "
                         f"or a 40-hex commit")
    return revision


def split_repo(spec: str) -> tuple[str, str | None]:
    """``"org/repo@rev"`` -> ``("org/repo", "rev")``; no ``@``: revision ``None`` (main).

    Both parts are validated (:func:`check_repo_id`, :func:`check_revision`).

    Raises:
        UsageError: a malformed name or revision (nothing is fetched).

    Example:
        >>> split_repo("me/slowfast@main")
        ('me/slowfast', 'main')
    """
    if not isinstance(spec, str) or "\x00" in spec:
        raise UsageError(f"expected hf-hub:ORG/REPO or hf-hub:ORG/REPO@REVISION, got {spec!r}")
    repo_id, sep, revision = spec.partition("@")
    if not repo_id or (sep and not revision):
        raise UsageError(f"expected hf-hub:ORG/REPO or hf-hub:ORG/REPO@REVISION, got {spec!r}")
    check_repo_id(repo_id)
    return repo_id, check_revision(revision) if revision else None


def download_deadline(download_timeout: float | None = None) -> float:
    """Seconds a whole download may take: ``download_timeout``, else ``$SLOWFAST_ZOO_DOWNLOAD_TIMEOUT``,
    else 3600.

    Raises:
        UsageError: a value that is not a positive number of seconds.

    Example:
        >>> download_deadline(30)
        30.0
        >>> download_deadline(-1)
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.UsageError: download_timeout must be a positive number of seconds, got -1
    """
    source = "download_timeout"
    value: float | str | None = download_timeout
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


def _is_url(s: str) -> bool:
    return urllib.parse.urlsplit(s).scheme in ("http", "https")


def published_max_bytes(num_params: int) -> int:
    """The largest file a published weight of ``num_params`` parameters may be, in bytes.

    Three float32 copies of every parameter (the weights, an SGD momentum buffer a file may
    still carry, and as much again for buffers and pickle framing) plus 64 MiB: generous for any
    real file, yet a server cannot stream gigabytes into the cache in place of a 138 MB one.

    Example:
        >>> published_max_bytes(34_479_288) // 2**20
        458
    """
    return 3 * 4 * num_params + (64 << 20)


def resolve_source(name: str, checkpoint_path: str | os.PathLike[str] | None = None,
                   cfg: PretrainedCfg | None = None, *,
                   download_timeout: float | None = None, sha256: str | None = None) -> WeightSource:
    """Where the weights for ``name`` come from (pure: nothing is read or fetched).

    Args:
        name: a registry name (``arch`` / ``arch.tag``), ``hf-hub:ORG/REPO[@rev]`` or
            ``local-dir:PATH``.
        checkpoint_path: a local file or an ``http(s)://`` URL that replaces the published one.
        cfg: the registry record of ``name`` (its URL, hash prefix and alternative URLs);
            needed for a registry name without ``checkpoint_path``.
        download_timeout: the longest a download may take, in seconds (:func:`download_deadline`).
        sha256: pin the weight file to this full sha256 (any source kind).

    Raises:
        UsageError: a malformed Hub id/revision, ``checkpoint_path`` with a saved model, or a
            download timeout that is not a positive number of seconds.
        CheckpointError: a URL without a usable file name.

    Example:
        >>> resolve_source("local-dir:runs/best").kind
        'local-dir'
    """
    deadline = download_deadline(download_timeout)
    pin = check_sha256(sha256) if sha256 is not None else None
    if is_prefixed(name):
        if checkpoint_path is not None:
            raise UsageError("checkpoint_path cannot be combined with an hf-hub:/local-dir: name")
        if name.startswith(LOCAL_DIR_PREFIX):
            return WeightSource("local-dir", os.path.expanduser(name[len(LOCAL_DIR_PREFIX):]), deadline=deadline,
                                sha256=pin)
        repo_id, revision = split_repo(name[len(HF_HUB_PREFIX):])
        return WeightSource("hf-hub", repo_id, revision=revision, deadline=deadline, sha256=pin)
    if checkpoint_path is not None:
        location = os.fspath(checkpoint_path)
        if _is_url(location):
            # A URL without a sha256 prefix in its name is verified by the trust-on-first-use
            # record (and by ``sha256=`` when given): see slowfast_zoo.weights.download.
            return WeightSource("url", location, sha256_prefix=hash_prefix_from_name(url_file_name(location)),
                                cache_names=(cache_name(location),), deadline=deadline, sha256=pin)
        return WeightSource("file", location, sha256_prefix=hash_prefix_from_name(os.path.basename(location)),
                            deadline=deadline, sha256=pin)
    if cfg is None:
        raise UsageError(f"no weights to load for {name!r}: pass checkpoint_path or a registered weight")
    urls = (cfg.url, *cfg.alternative_urls)
    return WeightSource("url", cfg.url, sha256_prefix=cfg.sha256_prefix or hash_prefix_from_name(url_file_name(cfg.url)),
                        alternatives=tuple(cfg.alternative_urls),
                        cache_names=tuple(cache_name(u) for u in urls), deadline=deadline, sha256=pin,
                        max_bytes=published_max_bytes(cfg.num_params),
                        published_sha256=check_sha256(cfg.sha256) if cfg.sha256 else None)
