"""Hostile pickles for tests and benchmarks/hostile_sweep.py (issue 22, item 2): one small file
per bomb kind, written by hand opcode by opcode (nothing here is ever unpickled by this module).

Not a test module: ``test_weights_pickle_guard.py`` checks each is refused, the sweep runs each in
its own process.
"""

from __future__ import annotations

import pickle
import struct
import zipfile
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
    return files
