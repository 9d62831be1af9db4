"""Tests of slowfast_zoo.weights.pickle_guard (issue 22, item 2): pickle bombs refused before
unpickling, in under 5 s and 1 GB each; real 0.x / 1.x / legacy / caffe2 files still load; the
caller's torch safe-globals list is never touched."""

from __future__ import annotations

import io
import json
import pickle
import struct
import subprocess
import sys
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

import weightgen
from hostile_pickles import hostile_files, nested_tuples, op_dtype, op_global, op_text, state_dict_pickle
from slowfast_zoo.errors import CheckpointError
from slowfast_zoo.weights import pickle_guard as pg
from slowfast_zoo.weights.readers import read_mmaction2_checkpoint

DATA = Path(__file__).parent / "data"
#: Written by mmengine 0.10.7's own Runner (2 epochs of a Linear+BatchNorm1d model, SGD,
#: LinearLR + MultiStepLR, CheckpointHook(save_best)): message_hub with HistoryBuffers
#: (pickled with ``builtins.getattr``), numpy scalars and arrays, a ``collections.Counter``.
REAL_MMENGINE = DATA / "mmengine_0.10.7_epoch_2.pth"


def _load(path: Path) -> object:
    return pg.load_plain_pickle(path) if path.suffix == ".pkl" else read_mmaction2_checkpoint(path)


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return hostile_files(tmp_path_factory.mktemp("bombs"))


@pytest.mark.parametrize("kind, says", [
    ("bytearray", "builtins.bytearray' is not allowed"), ("bytes_from_int", "bytes built from"),
    ("void_dtype", "numpy dtype 'V4300000000'"), ("object_dtype", "numpy dtype 'O'"),
    ("compressed_record", "data/0' is compressed"), ("oversized_data_pkl", "data.pkl of 3221225472"),
    ("memo_dag", "expand to over"), ("long_global_name", "text argument over 4096"),
    ("many_globals", "mmengine.m0.C0' is not allowed"),
    ("unknown_mmengine_global", "'mmengine.runner.runner.Runner' is not allowed"),
    ("sparse_memo", "memo slot 4294967280"), ("zero_stride_view", "1073741824 elements"),
    ("torchscript", "constants.pkl"), ("state_on_a_global", "state set on torch._utils"),
    ("legacy_huge_storage", "storage 'k' of 17179869184 bytes"),
    ("plain_void_dtype", "numpy dtype 'V4000000000'"),
    ("zip_directory_gap", "not at the end record"), ("huge_long", "an int of 4001 bits"),
    ("plain_huge_int_key", "an int of 4001 bits"), ("set_of_a_string", "builtins.set of str"),
    ("counter_of_a_string", "collections.Counter of str"),
    ("legacy_long_key", "persistent id that is not a torch storage"),
    ("legacy_view_metadata", "persistent id that is not a torch storage"),
    ("size_as_a_list", "size or stride is not a tuple"), ("view_past_storage", "past the end of its storage"),
    ("dtype_flags", "numpy dtype state other than"), ("ordered_dict_state", "OrderedDict state other than")])
def test_each_bomb_is_refused_before_unpickling(bombs: dict[str, Path], kind: str, says: str) -> None:
    with pytest.raises(CheckpointError, match="refused before unpickling") as e:
        _load(bombs[kind])
    message = str(e.value)
    assert says in message and str(bombs[kind]) in message and "\n" not in message
    assert len(message) < 400


_CHILD = """
import json, sys, time
from pathlib import Path
from slowfast_zoo.errors import CheckpointError
from slowfast_zoo.weights.pickle_guard import load_plain_pickle
from slowfast_zoo.weights.readers import read_mmaction2_checkpoint
out = {}
for path in map(Path, sys.argv[1:]):
    t = time.perf_counter()
    try:
        (load_plain_pickle if path.suffix == ".pkl" else read_mmaction2_checkpoint)(path)
        error = None
    except CheckpointError as e:
        error = "CheckpointError"
    except BaseException as e:
        error = type(e).__name__
    # VmHWM: this process's peak RSS (ru_maxrss would carry the forking parent's over exec).
    hwm = [l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM")]
    out[path.stem] = [error, time.perf_counter() - t, int(hwm[0].split()[1]) * 1024]
print(json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak RSS read from /proc")
def test_bombs_end_fast_and_small_in_a_child_process(bombs: dict[str, Path]) -> None:
    """The issue's bar: each kind ends in under 5 s with a typed error and under 1 GB RSS
    (one child loads them all in turn; its peak RSS is read after each)."""
    run = subprocess.run([sys.executable, "-c", _CHILD, *map(str, bombs.values())],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(run.stdout)
    assert set(results) == {p.stem for p in bombs.values()}
    for kind, (error, seconds, rss) in results.items():
        assert error == "CheckpointError", (kind, error)
        assert seconds < 5, (kind, seconds)
        assert rss < 1 << 30, (kind, rss)


def test_the_bombs_are_real(bombs: dict[str, Path]) -> None:
    """Controls: small versions of some payloads unpickle with plain pickle, so the refusals
    above are of well-formed files that a plain load would act on."""
    (key, value), = pickle.loads(state_dict_pickle(nested_tuples(8)))["state_dict"].items()
    assert value == 1 and key[0] is key[1] and key[0][0] is key[0][1]  # 2**8 leaves, 8 tuples
    data = state_dict_pickle(op_global("__builtin__", "bytearray") + b"K\x05\x85R")
    assert pickle.loads(data) == {"state_dict": bytearray(5)}
    void = state_dict_pickle(op_global("numpy._core.multiarray", "scalar") + op_dtype("V4") + op_text("abcd") + b"\x86R")
    assert pickle.loads(void, encoding="latin1")["state_dict"].dtype == np.dtype("V4")
    legacy = bombs["legacy_huge_storage"].read_bytes()
    assert legacy.startswith(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2))


@pytest.mark.parametrize("payload, limits, says", [
    (b"(" * 150 + b"]" + b"l" * 150, pg.PLAIN_PICKLE_LIMITS, "nested over 100 deep"),
    (b"(" + b"K\x01" * 200 + b"l", pg.Limits(1 << 20, 1 << 20, max_ops=100), "over 100 opcodes"),
    (b"]q\x00h\x00a" * 1 + b"h\x00a" * 40, pg.PLAIN_PICKLE_LIMITS, "expand to over"),  # L.append(L)...
    (b"X" + struct.pack("<I", 1 << 30), pg.PLAIN_PICKLE_LIMITS, "1073741824-byte string"),
    (b"N0" * 10 + b"N", pg.Limits(8, 1 << 20), r"24 bytes \(cap 8\)"),
])
def test_caps_of_the_scan(tmp_path: Path, payload: bytes, limits: pg.Limits, says: str) -> None:
    path = tmp_path / "p.pkl"
    path.write_bytes(b"\x80\x02" + payload + b".")
    with pytest.raises(CheckpointError, match=says):
        pg.scan_pickle(path, limits=limits)



def test_the_two_faced_zip_hides_a_torchscript_archive_from_zipfile(bombs: dict[str, Path]) -> None:
    """Control of ``zip_directory_gap``: zipfile reads a plain checkpoint, torch's own reader the
    TorchScript records (torch.load would route the file to torch.jit.load)."""
    import zipfile

    path = bombs["zip_directory_gap"]
    assert "archive/constants.pkl" not in zipfile.ZipFile(path).namelist()
    if hasattr(torch._C, "PyTorchFileReader"):
        with open(path, "rb") as f:
            assert "constants.pkl" in torch._C.PyTorchFileReader(f).get_all_records()


def test_torch_cross_check_refuses_what_zipfile_alone_misses(bombs: dict[str, Path],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the end-record check, torch's own reader still sees other records than zipfile."""
    import zipfile

    if not hasattr(torch._C, "PyTorchFileReader"):
        pytest.skip("this torch has no zip reader to cross-check with")
    path = bombs["zip_directory_gap"]
    start = zipfile.ZipFile(path).start_dir
    monkeypatch.setattr(pg, "_zip_directory", lambda f, size: (start, 0))
    with pytest.raises(CheckpointError, match="torch and zipfile see different archives"):
        pg.load_torch_file(path)


def test_an_archive_comment_is_read_past(tmp_path: Path) -> None:
    """The end record is found behind a comment (as zipfile and torch find it)."""
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf)
    data = bytearray(buf.getvalue())
    eocd = data.rfind(b"PK\x05\x06")
    comment = b"a comment with PK in it"
    data[eocd + 20:eocd + 22] = struct.pack("<H", len(comment))
    (tmp_path / "c.pth").write_bytes(bytes(data) + comment)
    obj, _ = pg.load_torch_file(tmp_path / "c.pth")
    assert obj["w"].tolist() == [1.0, 1.0]
    (tmp_path / "d.pth").write_bytes(bytes(data) + comment + b"x")  # bytes past the comment
    with pytest.raises(CheckpointError, match="after the zip end record"):
        pg.scan_torch_file(tmp_path / "d.pth")


def test_legitimate_calls_with_strings_and_containers_still_load(tmp_path: Path) -> None:
    meta = {"dev": torch.device("cuda", 0), "s": {1, 2}, "f": frozenset({"a"}), "size": torch.Size([2, 3]),
            "big": 1 << 100, "neg": -(1 << 100), "od": OrderedDict(a=1)}
    for new_format in (True, False):
        torch.save({"meta": meta, "state_dict": _tiny_state_dict()}, tmp_path / "m.pth",
                   _use_new_zipfile_serialization=new_format)
        obj, _ = pg.load_torch_file(tmp_path / "m.pth")
        assert obj["meta"] == meta


def test_each_pickle_of_a_legacy_file_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "legacy.pth"
    path.write_bytes(b"\x80\x02" + b"N0" * 10 + b"N.")
    with pytest.raises(CheckpointError, match="a pickle over 8 bytes"):
        pg.scan_torch_file(path, limits=pg.Limits(8, 1 << 20))


def test_a_tar_file_is_refused(tmp_path: Path) -> None:
    """torch reads a tar as its pre-0.4 format (extracting members to a temporary folder)."""
    import tarfile

    member = tmp_path / "pickle"
    member.write_bytes(pickle.dumps({"state_dict": {}}, protocol=2))
    with tarfile.open(tmp_path / "old.pth", "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(member, arcname="pickle")
    with pytest.raises(CheckpointError, match="tar archive"):
        pg.scan_torch_file(tmp_path / "old.pth")


# ----------------------------------------------------------------------------- real files load
def _tiny_state_dict() -> OrderedDict[str, torch.Tensor]:
    return OrderedDict([("backbone.conv.weight", torch.randn(4, 3, 1, 1, 1)),
                        ("backbone.bn.num_batches_tracked", torch.tensor(3)),
                        ("cls_head.fc_cls.bias", torch.arange(5.0)[1:4])])  # a view: offset storage


def test_real_mmengine_training_checkpoint_loads_with_stand_ins(caplog: pytest.LogCaptureFixture) -> None:
    obj, scan = pg.load_torch_file(REAL_MMENGINE)
    assert scan.stand_ins == ("builtins.getattr", "mmengine.logging.history_buffer.HistoryBuffer")
    assert {"numpy._core.multiarray.scalar", "collections.Counter", "_codecs.encode"} <= scan.globals
    assert list(obj["state_dict"]) == ["fc.weight", "fc.bias", "bn.weight", "bn.bias",
                                       "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    hub = obj["message_hub"]
    assert repr(hub["log_scalars"]["train/loss"]) == \
        "<stand-in for mmengine.logging.history_buffer.HistoryBuffer>"
    assert isinstance(hub["runtime_info"]["eta"], np.float64)
    assert obj["param_schedulers"][1]["milestones"] == {1: 1}
    assert len(read_mmaction2_checkpoint(REAL_MMENGINE)) == 7


@pytest.mark.parametrize("kind", ["0x", "0x_optimizer", "1x", "1x_training", "legacy"])
def test_generated_checkpoints_load_unchanged(tmp_path: Path, kind: str) -> None:
    sd = _tiny_state_dict()
    weightgen.CONSTRUCTED.clear()
    if kind.startswith("0x"):
        path = weightgen.write_mmaction2_checkpoint(sd, tmp_path, "a", with_optimizer=kind != "0x")
    elif kind.startswith("1x"):
        path = weightgen.write_mmengine_checkpoint(sd, tmp_path, "a", training_state=kind != "1x")
    else:
        path = tmp_path / "legacy.pth"
        meta = {"seed": np.int64(0), "best": np.float64(0.75), "arr": np.arange(3), "e": np.zeros(0)}
        torch.save({"meta": meta, "state_dict": sd}, path, _use_new_zipfile_serialization=False)
    out = read_mmaction2_checkpoint(path)
    assert list(out) == list(sd) and all(torch.equal(out[k], sd[k]) for k in sd)
    assert weightgen.CONSTRUCTED == []


def test_numpy_meta_of_every_plain_dtype_loads(tmp_path: Path) -> None:
    meta = {str(t): t(1) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                                   np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                                   np.float64, np.complex64, np.complex128)}
    meta |= {"fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)), "empty": np.zeros((0, 3)),
             "scalar_array": np.array(7, dtype=">i4"), "bytes": b"", "more": b"\x00\xff"}
    torch.save({"meta": meta, "state_dict": _tiny_state_dict()}, tmp_path / "m.pth")
    obj, _ = pg.load_torch_file(tmp_path / "m.pth")
    for key, value in meta.items():
        assert type(obj["meta"][key]) is type(value) and np.array_equal(obj["meta"][key], value), key
    assert obj["meta"]["fortran"].flags.f_contiguous


def test_the_callers_safe_globals_are_never_touched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's allowlist is process-wide: entries the caller added stay, none of ours appear
    (the list is never written), and loads in several threads at once all succeed."""
    path = weightgen.write_mmengine_checkpoint(_tiny_state_dict(), tmp_path, "a", training_state=True)
    before = torch.serialization.get_safe_globals()
    torch.serialization.add_safe_globals([np.dtype, (np.ndarray, "numpy.ndarray")])
    try:
        mine = torch.serialization.get_safe_globals()
        errors: list[BaseException] = []

        def load() -> None:
            try:
                for _ in range(5):
                    read_mmaction2_checkpoint(path)
            except BaseException as e:  # collected: the assertion below names it
                errors.append(e)

        def written(*args: object) -> None:
            raise AssertionError("torch's process-wide safe-globals list was written")

        threads = [threading.Thread(target=load) for _ in range(4)]
        with monkeypatch.context() as m:
            for name in ("add_safe_globals", "clear_safe_globals", "safe_globals"):
                m.setattr(torch.serialization, name, written)
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert errors == []
        assert set(torch.serialization.get_safe_globals()) == set(mine)
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(before)


def test_forced_weights_only_environment_still_scans(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     bombs: dict[str, Path]) -> None:
    monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "1")
    path = weightgen.write_mmaction2_checkpoint(_tiny_state_dict(), tmp_path, "a")
    assert len(read_mmaction2_checkpoint(path)) == 3
    with pytest.raises(CheckpointError, match="refused before unpickling"):
        read_mmaction2_checkpoint(bombs["bytearray"])


# ----------------------------------------------------------------------------- caffe2 pickles
class _G:
    """A global reference written as a GLOBAL opcode (c2_pickle.py's placeholder)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: object) -> None:  # pickle's save_reduce only checks callable()
        raise TypeError(f"placeholder for {self.module}.{self.name}")


_RECONSTRUCT, _NDARRAY, _DTYPE = (_G("numpy.core.multiarray", "_reconstruct"),
                                  _G("numpy", "ndarray"), _G("numpy", "dtype"))


class _Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes what Python 2 + numpy 1 wrote for a caffe2 checkpoint (after the golden data's
    ``c2_pickle.py``): bytes as Python 2 ``str``, numpy 1 globals, protocol 2."""

    dispatch = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def save_py2_str(self, obj: bytes) -> None:
        head = pickle.SHORT_BINSTRING + bytes([len(obj)]) if len(obj) < 256 \
            else pickle.BINSTRING + struct.pack("<i", len(obj))
        self.write(head + obj)
        self.memoize(obj)

    def save_global_ref(self, obj: _G) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[_G] = save_global_ref

    def reducer_override(self, obj: object) -> object:
        if isinstance(obj, np.ndarray):
            a = np.ascontiguousarray(obj)
            return (_RECONSTRUCT, (_NDARRAY, (0,), b"b"), (1, a.shape, a.dtype, False, a.tobytes()))
        if isinstance(obj, np.dtype):
            return (_DTYPE, (obj.str[1:].encode(), 0, 1), (3, b"<", None, None, None, -1, -1, 0))
        return NotImplemented


def write_caffe2_pickle(path: Path, blobs: dict[str, object]) -> Path:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump({b"blobs": {k.encode(): v for k, v in blobs.items()}})
    path.write_bytes(buf.getvalue())
    return path


def test_caffe2_pickle_loads_through_the_plain_reader(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    blobs = {"conv1_w": rng.standard_normal((8, 3, 1, 7, 7)).astype(np.float32),
             "pred_b": np.arange(400, dtype=np.float32), "lr": np.array([1e-4], dtype=np.float32),
             "model_iter": 123456}
    path = write_caffe2_pickle(tmp_path / "c2.pkl", blobs)
    assert pg.scan_pickle(path).globals == {"numpy.core.multiarray._reconstruct", "numpy.ndarray",
                                            "numpy.dtype"}
    loaded = pg.load_plain_pickle(path)["blobs"]
    assert set(loaded) == set(blobs) and loaded["model_iter"] == 123456
    for name in ("conv1_w", "pred_b", "lr"):
        assert loaded[name].dtype == np.float32 and np.array_equal(loaded[name], blobs[name])


def test_plain_pickle_refuses_torch_and_persistent_ids(tmp_path: Path) -> None:
    path = tmp_path / "t.pkl"
    path.write_bytes(pickle.dumps({"x": OrderedDict()}, protocol=2))
    with pytest.raises(CheckpointError, match="collections.OrderedDict' is not allowed"):
        pg.load_plain_pickle(path)
    path.write_bytes(b"\x80\x02NQ.")
    with pytest.raises(CheckpointError, match="persistent id"):
        pg.scan_pickle(path)
    path.write_bytes(b"\x80\x02N")  # no STOP
    with pytest.raises(CheckpointError, match="not a pickle"):
        pg.scan_pickle(path)
