"""The opcode-level pre-scan of :mod:`.pickle_guard`: a model of the unpickler, never an unpickle.

:class:`Scanner` walks one pickle with ``pickletools.genops`` (through :class:`_Stream`, which
refuses a long argument from its length field, before reading it) and keeps, for each object the
unpickler would build, only its kind, how many objects it expands to through shared memo
references, its nesting depth, and the value of short strings, ints and global names. That is
enough to know which global each call and each state applies to, and to refuse every bomb of
:mod:`.pickle_guard`'s docstring before a single object exists. Pure Python, no torch, no numpy.
"""

from __future__ import annotations

import pickletools
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any

from slowfast_zoo.errors import CheckpointError

__all__ = ["Limits", "TORCH_LIMITS", "PLAIN_PICKLE_LIMITS", "STAND_IN_NAMES", "NUMPY_GLOBALS",
           "TORCH_GLOBALS", "Scan", "Scanner", "StorageCheck", "scan_one"]


@dataclass(frozen=True)
class Limits:
    """Caps of the pre-scan (per format: see :data:`TORCH_LIMITS`, :data:`PLAIN_PICKLE_LIMITS`).

    Attributes:
        max_pickle_bytes: the largest pickle (a torch archive's ``data.pkl``, a whole ``.pkl``).
        max_string_bytes: the largest single string or bytes argument.
        max_ops: the most opcodes one pickle may have.
        max_globals: the most distinct globals one pickle may name.
        max_name_len: the longest ``module.name`` of a global.
        max_nodes: the most objects a container may expand to through shared memo references.
        max_depth: the deepest containers may nest.
    """

    max_pickle_bytes: int
    max_string_bytes: int
    max_ops: int = 1_000_000
    max_globals: int = 64
    max_name_len: int = 200
    max_nodes: int = 1 << 21
    max_depth: int = 100


#: A torch file's pickle is small next to its storages, except for a 1.x training checkpoint's
#: ``message_hub``: each ``HistoryBuffer`` keeps up to a million float64 values inline (8 MB,
#: 16 MB once utf-8 encoded), and there are a few dozen of them.
TORCH_LIMITS = Limits(max_pickle_bytes=256 << 20, max_string_bytes=64 << 20)
#: A caffe2 ``.pkl`` is a single pickle with every blob inline (276 MB for an r50, whose
#: largest blob is 9 MB).
PLAIN_PICKLE_LIMITS = Limits(max_pickle_bytes=1 << 30, max_string_bytes=128 << 20)

#: The non-weight classes MMAction2 1.x (mmengine) training checkpoints pickle, stood in for.
#: ``builtins.getattr`` is how ``HistoryBuffer`` pickles its statistics methods.
STAND_IN_NAMES = frozenset({
    "mmengine.logging.history_buffer.HistoryBuffer", "mmengine.logging.message_hub.MessageHub",
    "mmengine.config.config.ConfigDict", "mmcv.utils.config.ConfigDict", "builtins.getattr"})
#: numpy's plain-data reconstructors (numpy 1 and 2 spellings) and what they need: built by
#: checking wrappers, never by the real functions called directly.
NUMPY_GLOBALS = frozenset({
    "numpy.dtype", "numpy.ndarray", "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct", "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar", "_codecs.encode", "builtins.bytes"})
_STORAGE_BYTES = {"Float": 4, "Double": 8, "Half": 2, "BFloat16": 2, "Long": 8, "Int": 4,
                  "Short": 2, "Char": 1, "Byte": 1, "Bool": 1, "ComplexFloat": 8, "ComplexDouble": 16}
STORAGE_BYTES = {f"torch.{k}Storage": v for k, v in _STORAGE_BYTES.items()}
TENSOR_REBUILDS = frozenset({"torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
                              "torch._utils._rebuild_parameter"})
#: Types returned as they are: C types, on which a pickle cannot set attributes, and torch's
#: storage types (torch's own unpickler resolves those before ours; the scan refuses state on them).
PLAIN_TYPES = frozenset({"collections.OrderedDict", "builtins.set", "builtins.frozenset",
                         "torch.Size", "torch.device", *STORAGE_BYTES})
#: Everything a torch checkpoint may name.
TORCH_GLOBALS = frozenset(PLAIN_TYPES | TENSOR_REBUILDS | NUMPY_GLOBALS | STAND_IN_NAMES
                          | {"collections.Counter"})

MODULE_ALIASES = {"__builtin__": "builtins", "copy_reg": "copyreg"}  # protocol-2 spellings
PLAIN_DTYPE = re.compile(r"[<>|=]?(b1|[iu][1248]|f[248]|c8|c16)\Z")


@dataclass(frozen=True)
class Scan:
    """What a pre-scan found: every global named, and which of them are stood in for."""

    globals: frozenset[str]

    @property
    def stand_ins(self) -> tuple[str, ...]:
        """The globals that load as inert stand-ins (sorted)."""
        return tuple(sorted(self.globals & STAND_IN_NAMES))


class _V:
    """The scan's model of one unpickled object: its kind, expanded size and nesting depth;
    short strings, ints and globals keep their value, short tuples their items."""

    __slots__ = ("kind", "val", "n", "size", "depth", "items", "keys")

    def __init__(self, kind: str, val: Any = None, n: int = 0, size: int = 1, depth: int = 0,
                 items: list[_V] | None = None, keys: list[_V] | None = None) -> None:
        self.kind, self.val, self.n, self.size, self.depth, self.items = kind, val, n, size, depth, items
        self.keys = keys  # a dict's keys while it has at most 16 (else None)


_NONE, _CONST = _V("none"), _V("const")
_STRINGS = frozenset({"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE",
                      "SHORT_BINUNICODE", "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
                      "BYTEARRAY8"})
_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"})
_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_INTS = frozenset({"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"})
_EMPTY = {"EMPTY_LIST": "list", "EMPTY_DICT": "dict", "EMPTY_SET": "set", "EMPTY_TUPLE": "tuple"}
_FROM_MARK = {"TUPLE": "tuple", "LIST": "list", "DICT": "dict", "FROZENSET": "frozenset"}
_BUILD_TARGETS = ("numpy.dtype", "collections.OrderedDict", "_reconstruct")
#: Callees that iterate over (and hash) their argument: one container argument or none, never a
#: string (``set("a" * 64M)`` is 64M one-character strings; ``Counter`` of it, 64M hashes).
_CONTAINER_CALLEES = frozenset({"builtins.set", "builtins.frozenset", "collections.Counter",
                                "collections.OrderedDict", "torch.Size"})
_CONTAINERS = frozenset({"list", "tuple", "dict", "set", "frozenset"})
#: Callees that may take a string: numpy's wrappers check their text; a stand-in drops
#: whatever it is given (``builtins.getattr`` is a stand-in); ``torch.device("cuda", 0)``.
_TEXT_CALLEES = NUMPY_GLOBALS | STAND_IN_NAMES | {"torch.device"}
#: Ints over 128 bits: nothing torch or numpy pickles needs one (torch's legacy magic number is
#: 77 bits), and a huge one costs quadratic time to multiply, hash or print.
MAX_INT_BITS = 128


class _Stream:
    """A file view for ``pickletools.genops`` that refuses a long argument from its length
    field, before reading it (``genops`` would read whatever length the pickle states)."""

    def __init__(self, f: IO[bytes], limits: Limits) -> None:
        self.f, self.max_string, self.tell = f, limits.max_string_bytes, f.tell

    def read(self, n: int) -> bytes:
        if n > self.max_string:
            raise CheckpointError(f"a {n}-byte string (cap {self.max_string})")
        return self.f.read(n)

    def readline(self) -> bytes:
        line = self.f.readline(4096)
        if not line.endswith(b"\n"):
            raise CheckpointError("a text argument over 4096 bytes or cut short")
        return line


class Scanner:
    """The model of the unpickler described in the module docstring, over one pickle.

    Args:
        allowed: the globals the pickle may name (``module.name``).
        limits: the caps.
        budget: the pickle's size in bytes: calls (``_codecs.encode``, numpy data) may build
            twice that (plus 1 MiB) in all, so that memo references cannot multiply it.
        on_storage: checks each persistent id (``None``: a persistent id is refused).
    """

    def __init__(self, allowed: frozenset[str], limits: Limits, budget: int,
                 on_storage: Callable[[_V], None] | None = None) -> None:
        self.allowed, self.limits, self.on_storage = allowed, limits, on_storage
        self.budget = 2 * budget + (1 << 20)
        self.stack: list[_V] = []
        self.marks: list[int] = []
        self.memo: dict[int, _V] = {}
        self.globals: set[str] = set()
        self.work = 0  # objects hashed (dict keys, set items) or passed to calls, expanded

    def _pop(self) -> _V:
        if not self.stack or (self.marks and len(self.stack) <= self.marks[-1]):
            raise CheckpointError("stack underflow")
        return self.stack.pop()

    def _pop_n(self, n: int) -> list[_V]:
        return [self._pop() for _ in range(n)][::-1]

    def _pop_mark(self) -> list[_V]:
        if not self.marks:
            raise CheckpointError("no MARK")
        k = self.marks.pop()
        items, self.stack[k:] = self.stack[k:], []
        return items

    def _grow(self, c: _V, items: list[_V], hashed: Iterable[_V] = ()) -> _V:
        c.size += sum(i.size for i in items)
        c.depth = max([c.depth] + [i.depth + 1 for i in items])
        self.work += sum(k.size for k in hashed)
        if c.size > self.limits.max_nodes or self.work > self.limits.max_nodes:
            raise CheckpointError(f"memo references that expand to over {self.limits.max_nodes} objects")
        if c.depth > self.limits.max_depth:
            raise CheckpointError(f"containers nested over {self.limits.max_depth} deep")
        return c

    def _spend(self, v: _V | None) -> None:
        self.budget -= v.n if v is not None else 0
        if self.budget < 0:
            raise CheckpointError("calls that build more bytes than the pickle holds")

    def _global(self, module: Any, name: Any) -> _V:
        if not (isinstance(module, str) and isinstance(name, str)):
            raise CheckpointError("a global named by something other than a short string")
        full = f"{MODULE_ALIASES.get(module, module)}.{name}"
        if len(full) > self.limits.max_name_len:
            raise CheckpointError(f"a global name of {len(full)} characters")
        self.globals.add(full)
        if len(self.globals) > self.limits.max_globals:
            raise CheckpointError(f"over {self.limits.max_globals} distinct globals")
        if full not in self.allowed:
            raise CheckpointError(f"global {full!r} is not allowed")
        return _V("global", full)

    def _call(self, f: _V, args: _V) -> _V:
        if f.kind != "global" or args.kind != "tuple":
            raise CheckpointError("a call of something other than an allowed global")
        self._grow(_V("tuple"), [], [args])  # what the callee may hash or walk
        a, out = args.items or [], _V("obj", f.val)
        if args.items is None:
            raise CheckpointError(f"a call of {f.val} with over 16 arguments")
        if f.val in _CONTAINER_CALLEES and (len(a) > 1 or (a and a[0].kind not in _CONTAINERS)):
            raise CheckpointError(f"{f.val} of {a[0].kind if len(a) == 1 else f'{len(a)} arguments'} "
                                  f"(only of one list, tuple, dict or set)")
        if f.val not in _TEXT_CALLEES and any(x.kind == "str" for x in a):
            raise CheckpointError(f"{f.val} called with a string argument")
        if f.val == "torch.device" and not (a and all(x.kind == "str" and x.val is not None
                                                      and len(x.val) <= 64 or x.kind == "int"
                                                      for x in a)):
            raise CheckpointError("torch.device of anything but a short name and an index")
        if f.val == "numpy.dtype":
            code = a[0].val if a else None
            code = code.decode("latin-1") if isinstance(code, bytes) else code
            if not isinstance(code, str) or not PLAIN_DTYPE.match(code):
                raise CheckpointError(f"numpy dtype {str(code)[:40]!r} (only plain numeric dtypes)")
        elif f.val == "builtins.bytes" and a:  # bytes(n) allocates n bytes; numpy pickles b"" as bytes()
            raise CheckpointError("bytes built from arguments")
        elif f.val == "_codecs.encode" or f.val.endswith(".scalar"):
            data = a[-1] if f.val.endswith(".scalar") else a[0] if a else None
            self._spend(data)
            out.n = data.n if data is not None else 0
        elif f.val in ("torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2"):
            self._check_tensor(a)
        elif f.val == "torch._utils._rebuild_parameter" and not (a and a[0].kind == "obj"
                                                                 and a[0].val in TENSOR_REBUILDS):
            raise CheckpointError("a parameter of something other than a rebuilt tensor")
        return out

    @staticmethod
    def _check_tensor(a: list[_V]) -> None:
        """(storage, offset, size, stride, ...): a view inside its storage, of ints only."""
        def ints(v: _V | None) -> list[int] | None:
            if v is None or v.kind != "tuple" or v.items is None:
                return None
            out = [x.val for x in v.items if x.kind == "int" and type(x.val) is int and x.val >= 0]
            return out if len(out) == len(v.items) else None

        if len(a) < 4 or a[0].kind != "storage" or type(a[0].val) is not int:
            raise CheckpointError("a tensor rebuilt from something other than a storage")
        offset, size, stride = ints(_V("tuple", items=[a[1]])), ints(a[2]), ints(a[3])
        if offset is None or size is None or stride is None or len(size) != len(stride):
            raise CheckpointError("a tensor whose offset, size or stride is not a tuple of "
                                  "non-negative ints (of the same length, at most 16)")
        numel, elements = 1, a[0].val
        for d in size:
            numel *= d
        if numel > elements:  # e.g. a zero-stride view that any later op would materialise
            raise CheckpointError(f"a tensor of {numel} elements over a storage of {elements}")
        if numel and offset[0] + sum((d - 1) * s for d, s in zip(size, stride)) >= elements:
            raise CheckpointError(f"a tensor view past the end of its storage of {elements}")

    def _build(self, state: _V, target: _V) -> None:
        if target.kind != "obj" or not (target.val in STAND_IN_NAMES
                                        or target.val.endswith(_BUILD_TARGETS)):
            raise CheckpointError(f"state set on {target.val or target.kind}")
        s = state.items or []
        # numpy accepts a subarray, fields or flags for any dtype here: a float64 with a
        # 1e9-element subarray (or numpy's shared built-in dtype, were it not a copy) must not
        # come of it. Plain numeric dtypes pickle exactly (3, endian, None, None, None, -1, -1, 0).
        if target.val == "numpy.dtype" and not (
                len(s) == 8 and [x.val if x.kind == "int" else None for x in s[:1] + s[5:]] == [3, -1, -1, 0]
                and s[1].kind == "str" and s[1].val in ("<", ">", "|", "=")
                and all(x.kind == "none" for x in s[2:5])):
            raise CheckpointError("a numpy dtype state other than a plain numeric one's")
        if target.val == "collections.OrderedDict" and not (
                state.kind == "none" or (state.kind == "dict" and state.keys is not None
                                         and all(k.kind == "str" and k.val == "_metadata"
                                                 for k in state.keys))):
            raise CheckpointError("an OrderedDict state other than {'_metadata': ...}")
        if target.val.endswith("_reconstruct") and len(s) in (4, 5):
            self._spend(s[-1])

    def run(self, f: IO[bytes]) -> set[str]:
        """Scan the pickle at ``f``'s position, up to its STOP: the globals it names."""
        start, limits = f.tell(), self.limits
        try:  # each read is at most max_string_bytes: the size cap is checked at every opcode
            stream: Any = _Stream(f, limits)
            for ops, (op, arg, pos) in enumerate(pickletools.genops(stream), 1):
                if ops > limits.max_ops or (pos or 0) - start > limits.max_pickle_bytes:
                    raise CheckpointError(f"over {limits.max_ops} opcodes" if ops > limits.max_ops
                                          else f"a pickle over {limits.max_pickle_bytes} bytes")
                self.step(op.name, arg)
        except CheckpointError as e:
            raise CheckpointError(f"{e} (byte {f.tell() - start})") from e
        except (ValueError, UnicodeDecodeError, struct.error) as e:
            raise CheckpointError(f"not a pickle ({str(e)[:100]})") from e
        return self.globals

    def step(self, name: str, arg: Any) -> None:
        """One opcode's effect on the model (refusing what the module docstring lists)."""
        push, pop = self.stack.append, self._pop
        if name in _PUTS:  # the commonest opcodes first
            index = len(self.memo) if name == "MEMOIZE" else arg
            # Picklers number slots densely; C pickle grows (and zeroes) its memo up to the index.
            if not self.stack or index > len(self.memo):
                raise CheckpointError(f"memo slot {index} (only {len(self.memo)} set)")
            self.memo[index] = self.stack[-1]
        elif name in _GETS:
            if arg not in self.memo:
                raise CheckpointError(f"memo slot {arg} read before it is set")
            push(self.memo[arg])
        elif name in _STRINGS:
            push(_V("str", arg if len(arg) <= 256 else None, len(arg)))
        elif name in _INTS:
            if type(arg) is int and arg.bit_length() > MAX_INT_BITS:
                raise CheckpointError(f"an int of {arg.bit_length()} bits (cap {MAX_INT_BITS})")
            push(_V("int", arg) if type(arg) is int else _CONST)
        elif name in ("NONE", "NEWTRUE", "NEWFALSE", "FLOAT", "BINFLOAT"):
            push(_NONE if name == "NONE" else _CONST)
        elif name in _EMPTY:
            push(_V(_EMPTY[name], items=[] if name == "EMPTY_TUPLE" else None,
                    keys=[] if name == "EMPTY_DICT" else None))
        elif name in _FROM_MARK or name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            items = self._pop_mark() if name in _FROM_MARK else self._pop_n(int(name[-1]))
            kind = _FROM_MARK.get(name, "tuple")
            keys = items[::2] if kind == "dict" else items if kind == "frozenset" else ()
            push(self._grow(_V(kind, items=items if kind == "tuple" and len(items) <= 16 else None,
                               keys=list(keys) if kind == "dict" and len(keys) <= 16 else None),
                           items, keys))
        elif name == "MARK":
            self.marks.append(len(self.stack))
        elif name == "POP":  # pops the MARK itself when nothing is above it, as pickle does
            pop() if not (self.marks and len(self.stack) == self.marks[-1]) else self._pop_mark()
        elif name == "POP_MARK":
            self._pop_mark()
        elif name == "DUP":
            v = pop()
            push(v), push(v)
        elif name in ("APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS"):
            items = self._pop_mark() if name.endswith("S") else self._pop_n(2 if name == "SETITEM" else 1)
            target = self.stack[-1] if self.stack else _NONE
            kind = {"APPEND": "list", "ADDITEMS": "set"}.get(name.rstrip("S"), "dict")
            if target.kind != kind and not (kind == "dict" and target.kind == "obj" and target.val
                                             in ("collections.OrderedDict", "collections.Counter")):
                # SETITEM on a tensor or an array would call its __setitem__.
                raise CheckpointError(f"{name} on a {target.val or target.kind}")
            self._grow(target, items, items[::2] if kind == "dict" else items if kind == "set" else ())
            if target.keys is not None:
                target.keys = target.keys + items[::2] if len(target.keys) + len(items) // 2 <= 16 else None
        elif name == "GLOBAL":
            push(self._global(*arg.partition(" ")[::2]))
        elif name == "STACK_GLOBAL":
            attr, module = pop(), pop()
            push(self._global(module.val, attr.val))
        elif name == "REDUCE":
            args = pop()
            push(self._call(pop(), args))
        elif name == "NEWOBJ":
            args, cls = pop(), pop()
            if cls.kind != "global" or cls.val not in STAND_IN_NAMES:
                raise CheckpointError(f"an object of {cls.val or cls.kind} created without a call")
            push(_V("obj", cls.val, size=1 + args.size))
        elif name == "BUILD":
            state = pop()
            self._build(state, self.stack[-1] if self.stack else _NONE)
        elif name == "BINPERSID":
            pid = pop()
            if self.on_storage is None:
                raise CheckpointError("a persistent id in a plain pickle")
            self.on_storage(pid)
            push(_V("storage", pid.items[4].val if pid.items and len(pid.items) >= 5 else 0))
        elif name == "FRAME" and arg > self.limits.max_pickle_bytes:
            raise CheckpointError(f"a frame of {arg} bytes")
        elif name not in ("PROTO", "FRAME", "STOP"):
            # INST, OBJ, EXT*, PERSID, NEWOBJ_EX, NEXT_BUFFER, READONLY_BUFFER: neither torch
            # nor numpy writes them, and each is a way around find_class or the stack model.
            raise CheckpointError(f"opcode {name}")


def scan_one(f: IO[bytes], allowed: frozenset[str], limits: Limits, budget: int,
             on_storage: Callable[[_V], None] | None = None) -> set[str]:
    """Scan one pickle from ``f``'s position (see :class:`Scanner`): the globals it names.

    Raises:
        CheckpointError: what was refused and at which byte (the caller adds the file's name).
    """
    return Scanner(allowed, limits, budget, on_storage).run(f)


class StorageCheck:
    """Checks each persistent id (a torch storage) against the records that hold them."""

    def __init__(self, records: dict[str, int] | None, total: int) -> None:
        self.records, self.left = records, total
        self.seen: set[str] = set()

    def __call__(self, pid: _V) -> None:
        it = pid.items or []
        # torch's zip format writes ("storage", type, key, location, numel); its legacy format
        # adds view_metadata, which torch.save has written as None since storages stopped being
        # views (torch.serialization: ``is_view = storage._cdata != storage._cdata``).
        legacy = self.records is None
        if not (len(it) == (6 if legacy else 5) and it[0].val in ("storage", b"storage")
                and it[1].kind == "global" and it[1].val in STORAGE_BYTES
                and it[2].kind == "str" and isinstance(it[2].val, str) and 0 < len(it[2].val) <= 64
                and it[4].kind == "int" and type(it[4].val) is int
                and (not legacy or it[5].kind == "none")):
            raise CheckpointError("a persistent id that is not a torch storage "
                                  "(a key of at most 64 characters)")
        key, nbytes = it[2].val, it[4].val * STORAGE_BYTES[it[1].val]
        size = self.records.get(f"data/{key}") if self.records is not None else self.left
        if size is None or nbytes > size or nbytes < 0:
            raise CheckpointError(f"storage {str(key)[:40]!r} of {nbytes} bytes: its record has {size}")
        if key not in self.seen:
            self.seen.add(key)
            self.left -= nbytes
            if self.left < 0:
                raise CheckpointError("storages larger, together, than the file")


