"""Hostile pickles for tests and benchmarks/hostile_sweep.py (issue 22, item 2): one small file
per bomb kind, written by hand opcode by opcode (nothing here is ever unpickled by this module).

Not a test module: ``test_weights_pickle_guard.py`` checks each is refused, the sweep runs each in
its own process.
"""

from __future__ import annotations

import pickle
import struct
import zipfile
import zlib
from pathlib import Path


def op_text(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw  # BINUNICODE


def op_global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"  # GLOBAL


def state_dict_pickle(value: bytes) -> bytes:
    """A protocol-2 pickle of ``{"state_dict": <value>}``."""
    return b"\x80\x02}" + op_text("state_dict") + value + b"s."


def torch_archive(path: Path, data_pkl: bytes, extra: dict[str, bytes] | None = None,
                  compress: frozenset[str] = frozenset()) -> Path:
    """A zip in torch.save's layout (records under ``<stem>/``) with our own ``data.pkl``."""
    records = {"data.pkl": data_pkl, ".format_version": b"1", ".storage_alignment": b"64",
               "byteorder": b"little", "version": b"3\n", **(extra or {})}
    with zipfile.ZipFile(path, "w") as z:
        for name, payload in records.items():
            method = zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED
            z.writestr(zipfile.ZipInfo(f"{path.stem}/{name}"), payload, compress_type=method)
    return path


def op_long(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8b" + struct.pack("<I", len(raw)) + raw  # LONG4


def op_storage(key: str, numel: int, legacy_tail: bytes = b"") -> bytes:
    """A BINPERSID of ("storage", torch.FloatStorage, key, "cpu", numel[, legacy_tail])."""
    return (b"(" + op_text("storage") + op_global("torch", "FloatStorage") + op_text(key) + op_text("cpu")
            + b"J" + struct.pack("<i", numel) + legacy_tail + b"tQ")


def rebuilt_tensor(storage: bytes, offset: bytes, size: bytes, stride: bytes) -> bytes:
    """_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())."""
    return (op_global("torch._utils", "_rebuild_tensor_v2") + b"(" + storage + offset + size + stride
            + b"\x89" + op_global("collections", "OrderedDict") + b")RtR")


def legacy_file(path: Path, obj_pickle: bytes, keys: list[str], storage_bytes: bytes) -> Path:
    """torch's pre-1.6 layout: magic, protocol, sys info, the object, the keys, the storages."""
    with open(path, "wb") as f:
        for head in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001}):
            pickle.dump(head, f, protocol=2)
        f.write(obj_pickle)
        pickle.dump(keys, f, protocol=2)
        f.write(storage_bytes)
    return path


def _local(name: str, data: bytes) -> bytes:
    raw = name.encode()
    return struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0x21, zlib.crc32(data), len(data),
                       len(data), len(raw), 0) + raw + data


def _central(name: str, data: bytes, offset: int, comment: bytes = b"") -> bytes:
    raw = name.encode()
    return struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0, 0x21, zlib.crc32(data),
                       len(data), len(data), len(raw), 0, len(comment), 0, 0, 0, offset) + raw + comment


def two_faced_zip(path: Path, hidden: dict[str, bytes], shown: dict[str, bytes]) -> Path:
    """A zip whose declared central directory (read by torch's miniz) lists ``hidden`` while
    Python's zipfile, taking the gap before the end record for prepended data, reads a second
    directory listing ``shown`` (the review's PoC: a TorchScript archive behind a plain one)."""
    body, hid, sho = b"", [], []
    for records, out in ((hidden, hid), (shown, sho)):
        for name, data in records.items():
            out.append((name, data, len(body)))
            body += _local(name, data)
        body += bytes(4096)
    width = max(sum(len(_central(n, d, 0)) for n, d, _ in entries) for entries in (hid, sho))

    def directory(entries: list[tuple[str, bytes, int]], shift: int) -> bytes:
        parts = [_central(n, d, o - shift) for n, d, o in entries]
        n, d, o = entries[-1]
        parts[-1] = _central(n, d, o - shift, b" " * (width - sum(map(len, parts))))
        return b"".join(parts)

    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(hid), len(hid), width, len(body), 0)
    path.write_bytes(body + directory(hid, 0) + directory(sho, width) + eocd)
    return path


def op_dtype(code: str) -> bytes:
    return op_global("numpy", "dtype") + op_text(code) + b"\x89\x88\x87R"  # dtype(code, False, True)


def nested_tuples(depth: int) -> bytes:
    """((t, t), (t, t)) ... via memo: a 0.6 KB DAG of 2**depth leaves, used as a dict key."""
    out = b")q\x00"
    for i in range(depth):
        out += b"h" + bytes([i]) + b"\x86q" + bytes([i + 1])  # (t_i on the stack, t_i)
    return b"}" + out + b"K\x01s"  # {dag: 1}


def zero_stride_tensor() -> bytes:
    pid = b"(" + op_text("storage") + op_global("torch", "FloatStorage") + op_text("0") + op_text("cpu") + b"K\x01tQ"
    size = b"J" + struct.pack("<i", 1 << 30) + b"\x85"
    return (op_global("torch._utils", "_rebuild_tensor_v2") + b"(" + pid + b"K\x00" + size + b"K\x00\x85"
            + b"\x89" + op_global("collections", "OrderedDict") + b")RtR")


def patch_central_sizes(path: Path, member: str, size: int) -> Path:
    """Make the central directory claim ``member`` is ``size`` bytes (the data stays small)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack("<H", data[at + 28:at + 30])[0]
        if data[at + 46:at + 46 + name_len].decode().endswith(member):
            data[at + 20:at + 28] = struct.pack("<II", size, size)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))
    return path


def hostile_files(d: Path) -> dict[str, Path]:
    """One file per bomb kind of issue 22 (and a few more), each under 2 MB."""
    d.mkdir(parents=True, exist_ok=True)
    many = b"".join(op_global(f"mmengine.m{i}", f"C{i}") + b"0" for i in range(16_000))  # 0: POP
    files = {
        "bytearray": torch_archive(d / "bytearray.pth", state_dict_pickle(
            op_global("__builtin__", "bytearray") + b"\x8a\x05" + (2_600_000_000).to_bytes(5, "little")
            + b"\x85R")),
        "bytes_from_int": torch_archive(d / "bytes_from_int.pth", state_dict_pickle(
            op_global("__builtin__", "bytes") + b"\x8a\x05" + (4 << 30).to_bytes(5, "little") + b"\x85R")),
        "void_dtype": torch_archive(d / "void_dtype.pth", state_dict_pickle(
            op_global("numpy.core.multiarray", "scalar") + op_dtype("V4300000000") + b"N\x86R")),
        "object_dtype": torch_archive(d / "object_dtype.pth", state_dict_pickle(
            op_global("numpy.core.multiarray", "scalar") + op_dtype("O") + b"N\x86R")),
        "compressed_record": torch_archive(d / "compressed_record.pth", state_dict_pickle(b"N"),
                                           {"data/0": bytes(1 << 26)}, compress=frozenset({"data/0"})),
        "oversized_data_pkl": patch_central_sizes(
            torch_archive(d / "oversized_data_pkl.pth", state_dict_pickle(b"N")), "data.pkl", 3 << 30),
        "memo_dag": torch_archive(d / "memo_dag.pth", state_dict_pickle(nested_tuples(120))),
        "long_global_name": torch_archive(d / "long_global_name.pth", state_dict_pickle(
            op_global("mmengine." + "m" * (1 << 20), "C") + b")R")),
        "many_globals": torch_archive(d / "many_globals.pth", state_dict_pickle(many + b"N")),
        "unknown_mmengine_global": torch_archive(d / "unknown_mmengine_global.pth", state_dict_pickle(
            op_global("mmengine.runner.runner", "Runner") + b")R")),
        "sparse_memo": torch_archive(d / "sparse_memo.pth", state_dict_pickle(b"Nr\xf0\xff\xff\xff")),
        "zero_stride_view": torch_archive(d / "zero_stride_view.pth", state_dict_pickle(zero_stride_tensor()),
                                          {"data/0": bytes(4)}),
        "torchscript": torch_archive(d / "torchscript.pth", state_dict_pickle(b"N"),
                                     {"constants.pkl": b"\x80\x02N.", "code/__torch__.py": b""}),
        "state_on_a_global": torch_archive(d / "state_on_a_global.pth", state_dict_pickle(
            op_global("torch._utils", "_rebuild_tensor_v2") + b"N}" + op_text("__defaults__") + b")s\x86b")),
    }
    legacy = d / "legacy_huge_storage.pth"  # pre-1.6 layout; one storage claims 16 GiB
    with open(legacy, "wb") as f:
        for head in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001}):
            pickle.dump(head, f, protocol=2)
        f.write(b"\x80\x02(" + op_text("storage") + op_global("torch", "FloatStorage") + op_text("k") + op_text("cpu")
                + b"\x8a\x05" + (1 << 32).to_bytes(5, "little") + b"NtQ.")
        pickle.dump(["k"], f, protocol=2)
        f.write(struct.pack("<q", 1 << 32) + bytes(64))
    files["legacy_huge_storage"] = legacy
    plain = d / "plain_void_dtype.pkl"  # a caffe2-style pickle whose dtype is a 4 GB void
    plain.write_bytes(b"\x80\x02}" + op_text("blobs") + op_global("numpy.core.multiarray", "scalar")
                      + op_dtype("V4000000000") + b"N\x86Rs.")
    files["plain_void_dtype"] = plain
    files.update(review_files(d))
    return files


def review_files(d: Path) -> dict[str, Path]:
    """The second review's holes, one small file each."""
    base = {"data.pkl": state_dict_pickle(b"N"), ".format_version": b"1", "byteorder": b"little",
            "version": b"3\n"}
    shown = {f"archive/{k}": v for k, v in base.items()}
    hidden = {**shown, "archive/constants.pkl": b"\x80\x02N.", "archive/code/__torch__/m.py": b""}
    tensor = op_storage("0", 4)
    files = {
        "zip_directory_gap": two_faced_zip(d / "zip_directory_gap.pth", hidden, shown),
        "huge_long": torch_archive(d / "huge_long.pth", state_dict_pickle(op_long(1 << 4000))),
        "plain_huge_int_key": d / "plain_huge_int_key.pkl",
        "set_of_a_string": torch_archive(d / "set_of_a_string.pth", state_dict_pickle(
            op_global("__builtin__", "set") + op_text("a" * 1000) + b"\x85R")),
        "counter_of_a_string": torch_archive(d / "counter_of_a_string.pth", state_dict_pickle(
            op_global("collections", "Counter") + op_text("a" * 1000) + b"\x85R")),
        "legacy_long_key": legacy_file(d / "legacy_long_key.pth", b"\x80\x02" + op_storage("k" * 300, 1, b"N")
                                       + b".", ["k" * 300], struct.pack("<q", 1) + bytes(4)),
        "legacy_view_metadata": legacy_file(d / "legacy_view_metadata.pth", b"\x80\x02" + op_storage(
            "k", 1, op_text("v") + b"K\x00K\x01\x87") + b".", ["k"], struct.pack("<q", 1) + bytes(4)),
        "size_as_a_list": torch_archive(d / "size_as_a_list.pth", state_dict_pickle(rebuilt_tensor(
            tensor, b"K\x00", b"(J" + struct.pack("<i", 1 << 30) + b"l", b"K\x00\x85")), {"data/0": bytes(16)}),
        "view_past_storage": torch_archive(d / "view_past_storage.pth", state_dict_pickle(rebuilt_tensor(
            tensor, b"K\x03", b"K\x02\x85", b"K\x01\x85")), {"data/0": bytes(16)}),
        "dtype_flags": d / "dtype_flags.pkl",
        "ordered_dict_state": torch_archive(d / "ordered_dict_state.pth", state_dict_pickle(
            op_global("collections", "OrderedDict") + b")R}" + op_text("__class__") + b"Nsb")),
    }
    files["plain_huge_int_key"].write_bytes(b"\x80\x02}" + op_long(1 << 4000) + b"K\x01s.")
    # numpy.dtype("f8") with flags 0x10 (NPY_ITEM_IS_POINTER ...): only (3, "<", N, N, N, -1, -1, 0)
    files["dtype_flags"].write_bytes(b"\x80\x02" + op_dtype("f8") + b"(K\x03" + op_text("<")
                                     + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x10tb.")
    return files
