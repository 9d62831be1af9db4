"""Guards for every pickle slowfast_zoo reads: a pre-scan that refuses bombs, then a restricted load.

Every pickle reader of the library (MMAction2 0.x/1.x ``.pth`` files, torch zip or legacy, and
the plain ``.pkl`` readers: caffe2 checkpoints, proposal files) goes through this module:

1. **Pre-scan** (:func:`scan_torch_file`, :func:`scan_pickle`), before any object is built. The
   container first: a torch zip archive may hold only torch's own records (``data.pkl``,
   ``data/<key>``, ``version``, ``byteorder``, ...; so never a TorchScript archive), each stored
   uncompressed (torch writes them so; a compressed record inflates without bound), with
   ``data.pkl`` and the central directory under their caps; the central directory must end
   right at the end records (else Python's ``zipfile`` and torch's reader see different
   archives), local headers must agree with it, and torch's own reader must list the same
   records at the same offsets, its ``data.pkl`` bytes being the ones scanned; a legacy (pre-1.6) file is scanned
   pickle by pickle, and a tar file (torch's pre-0.4 format) is refused. Then the pickle, by
   :mod:`.pickle_scan`'s model of the unpickler: globals outside the allowlist (refused by name),
   over-long or too many names, oversized strings (refused from their length field), too many
   opcodes, sparse memo indices, containers that expand through shared memo references to over
   ``max_nodes`` objects or nest over ``max_depth`` deep, calls of anything but a global, state
   set on anything but numpy data, an ``OrderedDict`` (``_metadata`` only) or a stand-in, numpy
   dtypes other than plain numeric ones (void, object, subarray, fields, flags), ints over 128
   bits, ``set``/``Counter``/... of anything but one container, strings passed to anything but
   numpy's wrappers, stand-ins and ``torch.device``, tensors whose size, stride and offset are
   not tuples of ints inside their storage, bytes built from memo references beyond
   the pickle's own size, and torch storages missing, larger than their record or, all together,
   than the file. The scan costs about 1.2 microseconds per opcode: 25 ms for an r50
   checkpoint (20k opcodes), 0.15 s for a 276 MB caffe2 pickle (25k: an array is one opcode).
   Loading in a resource-limited child process instead would cost more (importing torch alone
   takes 2.5 s and 640 MB).
2. **Restricted load** (:func:`load_torch_file`, :func:`load_plain_pickle`): a
   :class:`pickle.Unpickler` whose ``find_class`` resolves only the allowlist, handed to the
   public ``torch.load(..., pickle_module=...)`` so that torch still reads the archive and its
   storages. Every callable it returns is a fresh per-load wrapper (numpy's reconstructors
   check their arguments again), and each non-weight class of a 1.x training checkpoint
   (:data:`STAND_IN_NAMES`, a fixed list; any other is refused by name) is an inert stand-in
   that accepts and drops whatever the pickle gives it.

Why not ``torch.load(weights_only=True)`` with ``torch.serialization.safe_globals``: that list
is process-wide. Entering it exposes our entries to every other thread's loads, leaving it
removes entries the caller had added, and torch's unpickler rebuilds it per opcode (16,000 names
took minutes). Here nothing global is changed, so loads are thread-safe and the caller's
``add_safe_globals`` entries stay as they were. The price: torch refuses a ``pickle_module``
with ``weights_only=True``, so the load runs with ``weights_only=False`` and its safety rests on
this module (the allowlist, the scan's refusal of what torch's weights-only unpickler also
refuses, such as state set on a function or opcodes that bypass ``find_class``, and the wrappers)
rather than on torch's weights-only unpickler. Where the environment forces weights-only loads
(``TORCH_FORCE_WEIGHTS_ONLY_LOAD``), torch's own weights-only unpickler runs after the pre-scan,
and files that need numpy or stand-ins are refused by it.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import struct
import tarfile
import types
import zipfile
from collections.abc import Callable
from typing import IO, Any

from slowfast_zoo.errors import CheckpointError
from slowfast_zoo.weights.pickle_scan import (
    MODULE_ALIASES, NUMPY_GLOBALS, PLAIN_DTYPE, PLAIN_PICKLE_LIMITS, PLAIN_TYPES, STAND_IN_NAMES,
    TORCH_GLOBALS, TORCH_LIMITS, Limits, Scan, StorageCheck, scan_one)

__all__ = ["Limits", "TORCH_LIMITS", "PLAIN_PICKLE_LIMITS", "STAND_IN_NAMES", "NUMPY_GLOBALS",
           "TORCH_GLOBALS", "Scan", "scan_torch_file", "scan_pickle", "load_torch_file",
           "load_plain_pickle"]

_TORCH_RECORDS = frozenset({"data.pkl", "version", ".format_version", ".storage_alignment",
                            "byteorder", ".data/version", ".data/serialization_id"})
_MAX_ZIP_DIRECTORY = 64 << 20  # ~1M records: a checkpoint has one per tensor


def _zip_directory(f: IO[bytes], size: int) -> tuple[int, int]:
    """The central directory's ``(offset, size)`` from the end record (zip64 too), required to
    end exactly where the end records begin.

    Python's ``zipfile`` takes a gap before the end records for data prepended to the archive
    and shifts every offset by it; torch's reader (miniz) reads at the declared offsets. With no
    gap both read the same directory, so the archive scanned is the archive loaded.
    """
    f.seek(max(0, size - (1 << 16) - 22))
    tail = f.read()
    base = size - len(tail)
    at = tail.rfind(b"PK\x05\x06", 0, max(0, len(tail) - 18))  # the last end record, as both do
    if at < 0:
        raise CheckpointError("no zip end record")
    eocd = base + at
    cd_size, cd_offset, comment = struct.unpack("<IIH", tail[at + 12:at + 22])
    if eocd + 22 + comment != size:
        raise CheckpointError("bytes after the zip end record's comment")
    end = eocd
    if at >= 20 and eocd >= 20 + 56 and tail[at - 20:at - 16] == b"PK\x06\x07":  # zip64
        locator = tail[at - 20:at]
        end = eocd - 20 - 56
        f.seek(end)
        record = f.read(56)
        if (struct.unpack("<Q", locator[8:16])[0] != end or record[:4] != b"PK\x06\x06"
                or struct.unpack("<Q", record[4:12])[0] != 44):
            raise CheckpointError("a zip64 end record not right before its locator")
        cd_size, cd_offset = struct.unpack("<QQ", record[40:56])
    if cd_offset + cd_size != end:
        raise CheckpointError(f"a zip central directory ending at {cd_offset + cd_size}, not at "
                              f"the end record ({end}): readers would disagree on the archive")
    return cd_offset, cd_size


def _torch_reader(f: IO[bytes]) -> Any:
    """torch's own zip reader over ``f``, or None where this torch has none.

    House rule: only public torch APIs. torch has no public way to list an archive's records as
    ``torch.load`` reads them, so the private ``torch._C.PyTorchFileReader`` is used here only
    as a security cross-check (guarded by ``hasattr``): the records and bytes that torch will
    read must be those that ``zipfile`` scanned."""
    import torch

    reader = getattr(torch._C, "PyTorchFileReader", None)
    if reader is None:
        return None
    f.seek(0)
    return reader(f)


def _scan_archive(f: IO[bytes], size: int, limits: Limits) -> set[str]:
    cd_offset, cd_size = _zip_directory(f, size)
    if cd_size > _MAX_ZIP_DIRECTORY:
        raise CheckpointError(f"a zip directory over {_MAX_ZIP_DIRECTORY} bytes")
    f.seek(0)
    with zipfile.ZipFile(f) as z:
        if getattr(z, "start_dir", cd_offset) != cd_offset:
            raise CheckpointError("a zip central directory not at its declared offset")
        infos = z.infolist()
        if not infos or len({i.filename for i in infos}) != len(infos):
            raise CheckpointError("an empty archive or a record named twice")
        root = infos[0].filename.split("/")[0]
        records: dict[str, int] = {}
        offsets: dict[str, int] = {}
        for info in infos:
            name = info.filename[len(root) + 1:] if info.filename.startswith(root + "/") else None
            if name is None or not (name in _TORCH_RECORDS or re.fullmatch(r"data/\w{1,64}", name)):
                raise CheckpointError(f"record {info.filename[:80]!r} (not one torch.save writes)")
            if (info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 1
                    or info.compress_size != info.file_size):
                raise CheckpointError(f"record {info.filename[:80]!r} is compressed or encrypted "
                                      f"(torch stores records uncompressed)")
            f.seek(info.header_offset)  # the local header must agree with the directory
            local = f.read(30)
            name_len, extra_len = struct.unpack("<HH", local[26:30]) if len(local) == 30 else (0, 0)
            if (local[:4] != b"PK\x03\x04" or struct.unpack("<H", local[8:10])[0] != zipfile.ZIP_STORED
                    or f.read(name_len) != info.orig_filename.encode("utf-8" if info.flag_bits & 0x800
                                                                     else "cp437")):
                raise CheckpointError(f"record {info.filename[:80]!r}: its local header disagrees "
                                      f"with the central directory")
            records[name] = info.file_size
            offsets[name] = info.header_offset + 30 + name_len + extra_len
        pkl = records.get("data.pkl")
        if pkl is None or pkl > limits.max_pickle_bytes:
            raise CheckpointError(f"data.pkl {'missing' if pkl is None else f'of {pkl} bytes'} "
                                  f"(cap {limits.max_pickle_bytes})")
        reader = _torch_reader(f)
        if reader is None:
            data = z.read(f"{root}/data.pkl")
        else:
            seen = set(reader.get_all_records())
            if seen != set(records):
                odd = sorted(seen ^ set(records))[0]
                raise CheckpointError(f"record {odd[:80]!r}: torch and zipfile see different "
                                      f"archives")
            for name in records:
                if (reader.get_record_size(name) != records[name]
                        or reader.get_record_offset(name) != offsets[name]):
                    raise CheckpointError(f"record {name[:80]!r}: torch and zipfile read it at "
                                          f"different places")
            data = reader.get_record("data.pkl")  # the bytes torch.load will unpickle
            if len(data) != pkl:
                raise CheckpointError("data.pkl: torch and zipfile read different sizes")
    return scan_one(io.BytesIO(data), TORCH_GLOBALS, limits, len(data), StorageCheck(records, size))


def _scan_legacy(f: IO[bytes], size: int, limits: Limits) -> set[str]:
    """torch's pre-1.6 format: magic number, protocol, system info, the object (with storages
    as persistent ids), the storage keys, then each storage's bytes: scanned pickle by pickle."""
    f.seek(0)
    try:
        with tarfile.open(fileobj=f, mode="r:"):  # torch would read it as its pre-0.4 tar format
            raise CheckpointError("a tar archive (torch's pre-0.4 format)")
    except tarfile.TarError:
        pass
    f.seek(0)
    found, storages = set(), StorageCheck(None, size)
    for i in range(5):
        found |= scan_one(f, TORCH_GLOBALS if i == 3 else frozenset(), limits, size,
                          storages if i == 3 else None)
    declared, rest = size - storages.left, size - f.tell()
    if declared > rest:  # torch allocates each storage at its declared size, then reads it
        raise CheckpointError(f"storages of {declared} bytes, but {rest} bytes follow the pickles")
    return found


def _open(path: str | os.PathLike[str], expected: str) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as e:
        raise CheckpointError(f"Cannot read {path}: {type(e).__name__}: {e}; {expected}.") from e


def _scan_torch(f: IO[bytes], path: object, limits: Limits, expected: str) -> Scan:
    try:
        size = os.fstat(f.fileno()).st_size
        zipped = f.read(4) == b"PK\x03\x04"  # what torch.load itself tests
        return Scan(frozenset(_scan_archive(f, size, limits) if zipped
                              else _scan_legacy(f, size, limits)))
    except CheckpointError as e:  # the scan's reason: this adds the file
        raise CheckpointError(f"Cannot read {path}: refused before unpickling: {e}; {expected}.") from e
    except (OSError, zipfile.BadZipFile, EOFError, RuntimeError, ValueError, struct.error) as e:
        raise CheckpointError(f"Cannot read {path}: {type(e).__name__}: {e}; {expected}.") from e


def scan_torch_file(path: str | os.PathLike[str], *, limits: Limits = TORCH_LIMITS,
                    expected: str = "expected a torch.save checkpoint") -> Scan:
    """Pre-scan a ``torch.save`` file (zip archive or legacy format) without unpickling it.

    Raises:
        CheckpointError: naming the file and what was refused (a compressed record, an
            oversized pickle, a global outside :data:`TORCH_GLOBALS`, ...).

    Example:
        >>> import torch
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     torch.save({"state_dict": {"w": torch.zeros(2)}}, d / "x.pth")
        ...     sorted(scan_torch_file(d / "x.pth").globals)
        ['collections.OrderedDict', 'torch.FloatStorage', 'torch._utils._rebuild_tensor_v2']
    """
    with _open(path, expected) as f:
        return _scan_torch(f, path, limits, expected)


def scan_pickle(path: str | os.PathLike[str], *, allowed: frozenset[str] = NUMPY_GLOBALS,
                limits: Limits = PLAIN_PICKLE_LIMITS, expected: str = "expected a pickle") -> Scan:
    """Pre-scan a plain pickle file (a caffe2 ``.pkl``, a proposal file) without unpickling it.

    Raises:
        CheckpointError: naming the file and what was refused.

    Example:
        >>> import pickle
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     _ = (d / "a.pkl").write_bytes(pickle.dumps({"blobs": {"x": 1}}))
        ...     scan_pickle(d / "a.pkl").globals
        frozenset()
    """
    with _open(path, expected) as f:
        return _scan_plain(f, path, allowed, limits, expected)


def _scan_plain(f: IO[bytes], path: object, allowed: frozenset[str], limits: Limits,
                expected: str) -> Scan:
    try:
        size = os.fstat(f.fileno()).st_size
        if size > limits.max_pickle_bytes:
            raise CheckpointError(f"{size} bytes (cap {limits.max_pickle_bytes})")
        return Scan(frozenset(scan_one(f, allowed, limits, size)))
    except CheckpointError as e:  # the scan's reason: this adds the file
        raise CheckpointError(f"Cannot read {path}: refused before unpickling: {e}; {expected}.") from e
    except OSError as e:
        raise CheckpointError(f"Cannot read {path}: {type(e).__name__}: {e}; {expected}.") from e


class _StandIn:
    """An inert placeholder for a pickled non-weight object: whatever the pickle asks of it
    (construction with arguments, state) is accepted and dropped; nothing of it runs."""

    stands_for = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> _StandIn:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<stand-in for {self.stands_for}>"


def _numpy_guards(label: str) -> dict[str, Any]:
    """Wrappers of numpy's reconstructors that accept only what numpy itself pickles for plain
    numeric data (the scan checked the literal arguments; these check the objects)."""
    import numpy as np

    multiarray = (getattr(np, "_core", None) or np.core).multiarray
    token = type("ndarray", (), {})  # stands for numpy.ndarray: only _reconstruct accepts it

    def refuse(what: str) -> CheckpointError:
        return CheckpointError(f"Cannot read {label}: refused while unpickling: {what}.")

    def dtype(code: Any, align: Any = False, copy: Any = True) -> Any:
        text = code.decode("latin-1") if isinstance(code, bytes) else code
        if not isinstance(text, str) or not PLAIN_DTYPE.match(text):
            raise refuse(f"numpy dtype {str(text)[:40]!r} (only plain numeric dtypes)")
        return np.dtype(text, bool(align), True)  # a copy: BUILD then sets this one's state only

    def reconstruct(subtype: Any, shape: Any, typecode: Any) -> Any:
        if subtype is not token or shape != (0,) or typecode not in (b"b", "b"):
            raise refuse("a numpy array reconstructed otherwise than numpy pickles one")
        return multiarray._reconstruct(np.ndarray, (0,), b"b")

    def scalar(dt: Any, data: Any = None) -> Any:
        if not (isinstance(dt, np.dtype) and dt.kind in "biufc" and dt.subdtype is None
                and dt.names is None and isinstance(data, (bytes, str)) and len(data) <= 16):
            raise refuse("a numpy scalar that is not plain numeric data")
        return multiarray.scalar(dt, data)

    def encode(text: Any, encoding: Any = "utf-8") -> bytes:
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
            raise refuse("_codecs.encode of anything but latin-1 text")
        return text.encode("latin-1")

    def empty_bytes(*args: Any) -> bytes:  # protocol 2 pickles b"" as bytes()
        if args:
            raise refuse("bytes built from arguments")
        return b""

    out: dict[str, Any] = {"numpy.dtype": dtype, "numpy.ndarray": token, "_codecs.encode": encode,
                           "builtins.bytes": empty_bytes}
    for core in ("numpy.core", "numpy._core"):
        out |= {f"{core}.multiarray._reconstruct": reconstruct, f"{core}.multiarray.scalar": scalar}
    return out


def _wrapped(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:  # a fresh function: a pickle cannot reach `fn`'s attributes
        return fn(*args, **kwargs)
    return call


def _unpickler(label: str, allowed: frozenset[str]) -> type[pickle.Unpickler]:
    """A restricted :class:`pickle.Unpickler` for one load: globals outside ``allowed`` are
    refused by name; stand-ins and numpy wrappers are made fresh for this load."""
    stand_ins: dict[str, type] = {}
    guards: dict[str, Any] = {}

    class Restricted(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            full = f"{MODULE_ALIASES.get(module, module)}.{name}"
            if full not in allowed:
                raise CheckpointError(f"Cannot read {label}: refused while unpickling: global "
                                      f"{full[:120]!r} is not allowed.")
            if full in STAND_IN_NAMES:
                return stand_ins.setdefault(full, type(f"StandIn[{full}]", (_StandIn,),
                                                       {"stands_for": full}))
            if full in NUMPY_GLOBALS:
                return (guards or guards.update(_numpy_guards(label)) or guards)[full]
            found = super().find_class(module, name)
            return found if full in PLAIN_TYPES else _wrapped(found)

    return Restricted


def _forced_weights_only() -> bool:
    return os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "0").lower() in ("1", "y", "yes", "true")


def load_torch_file(path: str | os.PathLike[str], *, limits: Limits = TORCH_LIMITS,
                    expected: str = "expected a torch.save checkpoint") -> tuple[Any, Scan]:
    """Pre-scan, then load a ``torch.save`` file on the CPU: ``(object, scan)``.

    Tensors, containers, numpy plain data and :data:`STAND_IN_NAMES` stand-ins are built;
    anything else is refused. No process-wide setting (torch's safe-globals list) is touched.

    Raises:
        CheckpointError: refused by the scan or by the restricted unpickler. Other errors of
            ``torch.load`` (a truncated file, ...) propagate for the caller to word.

    Example:
        >>> import torch
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     torch.save({"w": torch.ones(2)}, d / "x.pth")
        ...     obj, scan = load_torch_file(d / "x.pth")
        >>> obj["w"].tolist(), scan.stand_ins
        ([1.0, 1.0], ())
    """
    import torch

    with _open(path, expected) as f:  # one open file: the bytes scanned are the bytes loaded
        scan = _scan_torch(f, path, limits, expected)
        f.seek(0)
        if _forced_weights_only():  # torch refuses a pickle_module then, and is stricter
            return torch.load(f, map_location="cpu", weights_only=True), scan
        cls = _unpickler(str(path), TORCH_GLOBALS)
        module = types.SimpleNamespace(__name__="slowfast_zoo_restricted_pickle", Unpickler=cls,
                                       load=lambda g, **kw: cls(g, **kw).load())
        return torch.load(f, map_location="cpu", weights_only=False, pickle_module=module), scan


def load_plain_pickle(path: str | os.PathLike[str], *, allowed: frozenset[str] = NUMPY_GLOBALS,
                      limits: Limits = PLAIN_PICKLE_LIMITS, encoding: str = "latin1",
                      expected: str = "expected a pickle") -> Any:
    """Pre-scan, then unpickle a plain pickle file with only the ``allowed`` globals.

    ``encoding="latin1"`` reads Python 2 pickles (caffe2 checkpoints) as PySlowFast does.

    Raises:
        CheckpointError: refused, truncated or not a pickle (naming the file).

    Example:
        >>> import numpy as np, pickle
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     _ = (d / "a.pkl").write_bytes(pickle.dumps({"w": np.arange(3.0)}, protocol=2))
        ...     load_plain_pickle(d / "a.pkl")["w"].tolist()
        [0.0, 1.0, 2.0]
    """
    with _open(path, expected) as f:  # one open file: the bytes scanned are the bytes loaded
        _scan_plain(f, path, allowed, limits, expected)
        f.seek(0)
        try:
            return _unpickler(str(path), allowed)(f, encoding=encoding).load()
        except CheckpointError:
            raise
        except Exception as e:  # UnpicklingError, EOFError, TypeError from a reconstructor, ...
            raise CheckpointError(f"Cannot read {path}: {type(e).__name__}: {str(e)[:200]}; "
                                  f"{expected}.") from e
