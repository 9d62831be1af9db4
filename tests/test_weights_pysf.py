"""PyTorchVideo / PySlowFast weight files through the one loading path (issue 23, items 3 and 4).

Readers chosen by the file's bytes (torch zip, legacy torch, caffe2 pickle), the caffe2 reader's
restricted unpickler, bad input (hostile pickles that would run code, truncated files, wrong blob
shapes, a torch file without ``model_state``), the classifier's pathway order, same-named files of
different URLs, and the mirror of ``dl.fbaipublicfiles.com``. Files are written in their
published formats by ``tests/pysf_files.py``; most tests use the golden width-8 network (4 MB
files); the full-size loads are ``slow``.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import pysf_files as pf
import slowfast_zoo as sz
from hostile_pickles import op_global, op_text
from slowfast_zoo.errors import CheckpointError, HashMismatchError
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.weights import pickle_guard
from slowfast_zoo.weights.apply import apply_converted
from slowfast_zoo.weights.convert import convert_checkpoint
from slowfast_zoo.weights.download import get_cache_dir
from slowfast_zoo.weights.loader import load_weights
from slowfast_zoo.weights.readers import Checkpoint, read_metadata, read_torch_checkpoint
from slowfast_zoo.weights.readers_pysf import CAFFE2_GLOBALS, read_caffe2_checkpoint, sniff_format
from slowfast_zoo.weights.source import resolve_source
from slowfast_zoo.weights.trust import record_path
from slowfast_zoo.weights.convert_pysf import psf_key_to_ours, ptv_key_to_ours
from weightgen import generate_pysf_state_dict, load_pysf, pysf_input

W8 = pf.w8_spec()
#: The width-8 synthetic caffe2 file of the golden-data workshop (its ``c2_pickle_globals.json``):
#: our writer reproduces it byte for byte.
W8_PKL_SHA256 = "1180738439d0bc93dfd9ab6e1948b367065f6dc79d08f88e930cc4c41de9dab9"
W8_PKL_BYTES = 4_398_884


@pytest.fixture(scope="module")
def w8_blobs() -> list:
    shapes = {k: tuple(v.shape) for k, v in SlowFast(W8).state_dict().items()}
    return pf.synthetic_caffe2_blobs(shapes)


@pytest.fixture(scope="module")
def w8_state() -> dict[str, torch.Tensor]:
    """Width-8 weights under our keys (finite, positive variances)."""
    torch.manual_seed(0)
    model = SlowFast(W8)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_var"):
                buf.uniform_(0.5, 1.5)
            elif name.endswith("running_mean"):
                buf.normal_(0, 0.1)
    return {k: v.clone() for k, v in model.state_dict().items()}


def load_w8(location: str | Path, spec=W8, classes: int = 10, **kwargs) -> SlowFast:
    """The loading path (fetch, read, convert, check, apply, cache) into a test-only network."""
    source = resolve_source("x", checkpoint_path=str(location), **kwargs)
    return load_weights(source, lambda ckpt: (SlowFast(spec, num_classes=classes).eval(), classes), progress=False)


def assert_state(model: SlowFast, want: dict[str, torch.Tensor]) -> None:
    got = model.state_dict()
    assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)


# ------------------------------------------------------------------------------------- readers
def test_formats_are_told_by_their_bytes_never_their_extension(tmp_path: Path, w8_blobs: list) -> None:
    sd = {"head.projection.bias": torch.zeros(2)}
    files = {
        "zip.pkl": pf.write_torch_checkpoint(tmp_path / "zip.pkl", sd),
        "legacy.pyth": pf.write_torch_checkpoint(tmp_path / "legacy.pyth", sd, legacy=True),
        "caffe2.pth": pf.write_caffe2_pickle(tmp_path / "caffe2.pth", w8_blobs[:5]),
        "resave.pyth": tmp_path / "resave.pyth",
        "legacy4.pkl": tmp_path / "legacy4.pkl",
        "text.pkl": tmp_path / "text.pkl",
        "empty.pkl": tmp_path / "empty.pkl",
    }
    files["resave.pyth"].write_bytes(pickle.dumps({"blobs": {"pred_b": np.zeros(2, np.float32)}}, protocol=4))
    torch.save({"model_state": sd}, files["legacy4.pkl"], pickle_protocol=4, _use_new_zipfile_serialization=False)
    files["text.pkl"].write_text("MODEL:\n  ARCH: slowfast\n")
    files["empty.pkl"].write_bytes(b"")
    assert {name: sniff_format(path) for name, path in files.items()} == {
        "zip.pkl": "torch_zip", "legacy.pyth": "torch_legacy", "caffe2.pth": "pickle", "resave.pyth": "pickle",
        "legacy4.pkl": "torch_legacy", "text.pkl": "unknown", "empty.pkl": "unknown"}
    for name in ("zip.pkl", "legacy.pyth", "legacy4.pkl"):  # PySlowFast's {"epoch", "model_state", ...}
        assert list(read_torch_checkpoint(files[name])) == ["head.projection.bias"]


@pytest.mark.slow  # 2 s: one forward at 256 px
def test_caffe2_width8_file_reproduces_the_recorded_load(tmp_path: Path, w8_blobs: list) -> None:
    path = pf.write_caffe2_pickle(tmp_path / "SLOWFAST_8x8_R50.pkl", w8_blobs)
    data = path.read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == (W8_PKL_BYTES, W8_PKL_SHA256)
    # The globals PySlowFast-era caffe2 files reference (numpy 1 names): all allowed, nothing else.
    assert pickle_guard.scan_pickle(path).globals == {"numpy.core.multiarray._reconstruct", "numpy.ndarray",
                                                      "numpy.dtype"} < CAFFE2_GLOBALS
    blobs = read_caffe2_checkpoint(path)
    assert len(blobs) == 552 and not any(k.endswith("_momentum") or k in ("lr", "model_iter") for k in blobs)
    case = load_pysf("golden_c2_load_public")["cases"][0]
    assert case["arch"] == "psf_slowfast_r50w8_8x8" and case["n_blobs"] == len(w8_blobs)
    model = load_w8(path)
    x = pysf_input(case["input"])
    with torch.no_grad():
        logit_map = model.forward_head(model.forward_features(x), return_map=True)
    want = torch.tensor(case["proj_map"]).permute(0, 4, 1, 2, 3)
    torch.testing.assert_close(logit_map, want, atol=1e-4, rtol=1e-4)
    output = logit_map.softmax(1).mean((2, 3, 4))  # PySlowFast's per-view score
    torch.testing.assert_close(output, torch.tensor(case["output"]), atol=1e-5, rtol=0)
    assert output.argmax(1).tolist() == case["argmax_output"]


def test_python3_resaves_of_a_caffe2_file_load(tmp_path: Path) -> None:
    # numpy 2 pickles arrays through numpy._core, their bytes through _codecs.encode (protocol 2)
    # and a scalar blob through numpy._core.multiarray.scalar.
    blobs = {"pred_b": np.arange(3, dtype=np.float32), "pred_w": np.ones((3, 4), np.float64),
             "lr": np.float32(0.1), "model_iter": 7, "pred_w_momentum": np.zeros((3, 4), np.float32)}
    for protocol in (2, 4):
        path = tmp_path / f"resave{protocol}.pkl"
        path.write_bytes(pickle.dumps({"blobs": blobs}, protocol=protocol))
        assert pickle_guard.scan_pickle(path, allowed=CAFFE2_GLOBALS).globals <= CAFFE2_GLOBALS
        out = read_caffe2_checkpoint(path)
        assert sorted(out) == ["pred_b", "pred_w"] and out["pred_w"].dtype == torch.float64
        assert out["pred_b"].tolist() == [0.0, 1.0, 2.0]
    # Protocol 5 hands numpy's buffers to numpy._core.numeric._frombuffer: not a caffe2 layout.
    path.write_bytes(pickle.dumps({"blobs": blobs}, protocol=5))
    with pytest.raises(CheckpointError, match="_frombuffer' is not allowed"):
        read_caffe2_checkpoint(path)


_FORMATS = {  # file -> (its keys, the prefix of the re-hosts, legacy torch format)
    "ptv/SLOWFAST_8x8_R50.pyth": ("ptv", "", False),  # PyTorchVideo's zoo
    "rehost/SLOWFAST_8x8_R50.pyth": ("ptv", "model.", False),  # PySlowFast's pysf_model_zoo re-host
    "multigrid/SLOWFAST_8x8_R50_stepwise.pkl": ("psf", "", True),  # PySlowFast's multigrid zoo (torch)
    "run/checkpoint_epoch_00196.pyth": ("psf", "", False),  # a PySlowFast training run
    "kinetics400/SLOWFAST_8x8_R50.pkl": ("caffe2", "", False),  # PySlowFast's caffe2 zoo
}


@pytest.mark.parametrize("name", sorted(_FORMATS))
def test_every_format_of_one_network_loads_the_same_weights(name: str, tmp_path: Path, w8_state: dict) -> None:
    keys, prefix, legacy = _FORMATS[name]
    if keys == "caffe2":
        path = pf.write_caffe2_pickle(tmp_path / name, [(n, v, "str") for n, v in _as_blobs(w8_state).items()])
    else:
        names = pf.ptv_names() if keys == "ptv" else pf.psf_names()
        path = pf.write_torch_checkpoint(tmp_path / name, pf.renamed(w8_state, names, prefix), legacy=legacy)
    assert_state(load_w8(path), w8_state)


def _as_blobs(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Our weights under caffe2 blob names (no counters: caffe2 files have none)."""
    table = load_pysf("c2_blob_table_psf_slowfast_r50_8x8")["table"]
    return {c2: state[psf_key_to_ours(psf)].numpy() for c2, psf, *_ in table}


# ---------------------------------------------------------------------------------- bad input
def _caffe2_with(value: bytes) -> bytes:
    """A protocol-2 ``{"blobs": {"pred_b": <value>}}`` whose value is raw opcodes."""
    return b"\x80\x02}" + op_text("blobs") + b"}" + op_text("pred_b") + value + b"ss."


def _hostile(kind: str, marker: Path) -> bytes:
    touch = f"open({str(marker)!r}, 'w').close()"
    return _caffe2_with({
        "os.system": op_global("os", "system") + op_text(f"touch {marker}") + b"\x85R",
        "posix.system": op_global("posix", "system") + op_text(f"touch {marker}") + b"\x85R",
        "builtins.eval": op_global("builtins", "eval") + op_text(touch) + b"\x85R",
        "__builtin__.eval": op_global("__builtin__", "eval") + op_text(touch) + b"\x85R",
    }[kind])


@pytest.mark.parametrize("kind", ["os.system", "posix.system", "builtins.eval", "__builtin__.eval"])
def test_a_pkl_that_would_run_code_is_refused_and_runs_nothing(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "SLOWFAST_8x8_R50.pkl"
    proof = tmp_path / "ran_under_plain_pickle"
    path.write_bytes(_hostile(kind, proof))
    # The payload is live: a plain unpickle (in a child process) runs it.
    subprocess.run([sys.executable, "-c", "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))", str(path)],
                   check=False, capture_output=True, timeout=60)
    assert proof.exists()
    marker = tmp_path / "ran_under_slowfast_zoo"
    path.write_bytes(_hostile(kind, marker))
    built = []
    real_init = SlowFast.__init__
    monkeypatch.setattr(SlowFast, "__init__", lambda self, *a, **k: built.append(1) or real_init(self, *a, **k))
    with pytest.raises(CheckpointError) as e:
        sz.create_model("pysf_slowfast_r50_8x8", pretrained=True, checkpoint_path=path)
    message = str(e.value)
    assert "refused before unpickling" in message and str(path) in message
    assert f"'{kind.replace('__builtin__', 'builtins')}' is not allowed" in message
    assert not marker.exists() and built == []  # nothing ran, nothing was constructed


def test_torch_globals_in_a_caffe2_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "c2.pkl"
    path.write_bytes(_caffe2_with(op_global("torch._utils", "_rebuild_tensor_v2") + b")R"))
    with pytest.raises(CheckpointError, match="torch._utils._rebuild_tensor_v2' is not allowed") as e:
        read_caffe2_checkpoint(path)
    assert str(path) in str(e.value)
    # A tensor pickled by plain pickle rebuilds its storage with torch.load of raw bytes.
    path.write_bytes(pickle.dumps({"blobs": {"pred_b": torch.zeros(2)}}, protocol=2))
    with pytest.raises(CheckpointError, match="is not allowed"):
        read_caffe2_checkpoint(path)


def test_truncated_caffe2_pickle_is_one_error_naming_the_file(tmp_path: Path, w8_blobs: list) -> None:
    data = pf.caffe2_pickle_bytes(w8_blobs)
    for cut in (len(data) // 2, len(data) - 1, 40):
        path = tmp_path / f"cut{cut}.pkl"
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError) as e:
            load_w8(path)
        assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_wrong_blob_shape_is_named_as_the_file_names_it(tmp_path: Path, w8_blobs: list) -> None:
    blobs = [(n, v[:3] if n == "res3_0_branch2a_w" else v, k) for n, v, k in w8_blobs]
    path = pf.write_caffe2_pickle(tmp_path / "bad.pkl", blobs)
    with pytest.raises(CheckpointError) as e:
        load_w8(path)
    assert "1 mismatched shapes:\n    res3_0_branch2a_w: file [3, " in str(e.value) and str(path) in str(e.value)
    blobs = [(n, "not an array" if n == "pred_w" else v, k) for n, v, k in w8_blobs]
    path = pf.write_caffe2_pickle(tmp_path / "str.pkl", blobs)
    with pytest.raises(CheckpointError, match="blob 'pred_w' is a str, not a numeric array"):
        load_w8(path)
    path.write_bytes(pickle.dumps({"model": {}}, protocol=2))
    with pytest.raises(CheckpointError, match=r"expected a caffe2 checkpoint .*found a dict with keys \['model'\]"):
        load_w8(path)


def test_torch_file_without_model_state_is_one_error_naming_the_file(tmp_path: Path) -> None:
    path = pf.write_torch_checkpoint(tmp_path / "SLOWFAST_8x8_R50.pyth", {}, key=None)
    with pytest.raises(CheckpointError) as e:
        sz.create_model("pysf_slowfast_r50_8x8", pretrained=True, checkpoint_path=path)
    message = str(e.value)
    assert str(path) in message and "neither 'state_dict' nor 'model_state'" in message
    assert "'epoch', 'optimizer_state', 'cfg'" in message


# ------------------------------------------------------------------------ the classifier's order
def test_the_other_pathway_order_is_refused_when_the_classifier_is_kept(w8_state: dict) -> None:
    mm = pf.w8_spec("slowfast_r50_8x8x1_ln")  # MMAction2: fast-then-slow columns, the same shapes
    psf_file = convert_checkpoint(Checkpoint(pf.renamed(w8_state, pf.psf_names()), "pyslowfast", "SLOWFAST_8x8_R50.pkl"))
    with pytest.raises(CheckpointError) as e:
        apply_converted(SlowFast(mm).eval(), psf_file, published_classes=10)
    message = str(e.value)
    assert "is a PySlowFast file" in message and "slow pathway's features first" in message
    assert "pass another num_classes" in message
    # Only the backbone: the order of a replaced classifier does not matter.
    fresh = SlowFast(mm, num_classes=3).eval()
    assert apply_converted(fresh, psf_file, published_classes=10) is False
    assert torch.equal(fresh.state_dict()["laterals.0.weight"], w8_state["laterals.0.weight"])
    # And the other way round: an MMAction2 file into a PySlowFast network.
    mm_file = convert_checkpoint(Checkpoint(dict(w8_state), "slowfast_zoo", "mm.safetensors",
                                            metadata={"feature_order": "fast_slow"}))
    with pytest.raises(CheckpointError, match="is a slowfast_zoo file: its classifier's columns take the fast"):
        apply_converted(SlowFast(W8).eval(), mm_file, published_classes=10)


def test_converted_cache_keeps_the_files_order(tmp_path: Path, w8_state: dict, http_server) -> None:
    path = pf.write_torch_checkpoint(http_server.root / "ptv_order" / "SLOWFAST_8x8_R50.pyth",
                                     pf.renamed(w8_state, pf.ptv_names()))
    url = http_server.url(path)
    load_w8(url)
    cached = sorted(p.name for p in get_cache_dir().iterdir())
    assert len(cached) == 2 and cached[1].endswith("SLOWFAST_8x8_R50.pyth.slowfast_zoo.safetensors")
    meta = read_metadata(get_cache_dir() / cached[1])
    assert (meta["feature_order"], meta["source_family"]) == ("slow_fast", "pytorchvideo")
    with pytest.raises(CheckpointError, match="its classifier's columns take the slow"):
        load_w8(url, spec=pf.w8_spec("slowfast_r50_8x8x1_ln"))  # from the cache: no pickle read


# --------------------------------------------------------------------- URLs, cache, trust, mirror
def test_same_named_files_of_two_urls_have_their_own_cache_entries_and_records(
        http_server, w8_state: dict, tmp_path: Path) -> None:
    other = {k: v + 1 if v.is_floating_point() and "running_var" not in k else v for k, v in w8_state.items()}
    ptv = pf.ptv_names()
    kinetics = pf.write_torch_checkpoint(http_server.root / "kinetics" / "SLOWFAST_8x8_R50.pyth", pf.renamed(w8_state, ptv))
    ssv2 = pf.write_torch_checkpoint(http_server.root / "ssv2" / "SLOWFAST_8x8_R50.pyth", pf.renamed(other, ptv))
    urls = [http_server.url(kinetics), http_server.url(ssv2)]
    assert_state(load_w8(urls[0]), w8_state)
    assert_state(load_w8(urls[1]), other)
    entries = sorted(p.name for p in get_cache_dir().iterdir() if p.name.endswith(".pyth"))
    assert len(entries) == 2 and all(e.endswith("-SLOWFAST_8x8_R50.pyth") for e in entries)
    locks = sorted(p.name for p in (get_cache_dir().parent / "slowfast_zoo.locks").iterdir())
    assert locks == sorted(e + ".lock" for e in entries)
    records = [record_path(u) for u in urls]
    assert records[0] != records[1] and all(r.is_file() for r in records)
    assert [json.loads(r.read_text())["sha256"] for r in records] == [
        hashlib.sha256(p.read_bytes()).hexdigest() for p in (kinetics, ssv2)]


def test_a_changed_remote_file_and_a_wrong_pin_are_refused(http_server, w8_state: dict) -> None:
    ptv = pf.ptv_names()
    path = pf.write_torch_checkpoint(http_server.root / "changed" / "SLOWFAST_8x8_R50.pyth", pf.renamed(w8_state, ptv))
    url = http_server.url(path)
    first = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(HashMismatchError, match="pinned by sha256="):
        load_w8(url, sha256="0" * 64)  # nothing recorded from a refused download
    assert not record_path(url).exists()
    load_w8(url, sha256=first)
    for p in get_cache_dir().iterdir():  # an empty cache: the next load downloads again
        p.unlink()
    pf.write_torch_checkpoint(path, pf.renamed({k: v * 2 for k, v in w8_state.items()}, ptv))
    with pytest.raises(HashMismatchError, match="recorded on its first download"):
        load_w8(url)


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_the_mirror_serves_dl_fbaipublicfiles_com(scheme: str, http_server, w8_state: dict,
                                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = "https://dl.fbaipublicfiles.com/pyslowfast/model_zoo/kinetics400/SLOWFAST_8x8_R50.pkl"
    c2 = [(name, value, "str") for name, value in _as_blobs(w8_state).items()]
    root = http_server.root if scheme == "http" else tmp_path / "airgap"
    pf.write_caffe2_pickle(root / "pyslowfast/model_zoo/kinetics400/SLOWFAST_8x8_R50.pkl", c2)
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", http_server.base_url if scheme == "http" else root.as_uri())
    want = {k: v for k, v in w8_state.items() if not k.endswith("num_batches_tracked")}
    got = load_w8(url).state_dict()
    assert all(torch.equal(got[k], v) for k, v in want.items())
    if scheme == "http":
        assert http_server.requests == ["/pyslowfast/model_zoo/kinetics400/SLOWFAST_8x8_R50.pkl"]
    assert record_path(url).is_file()  # the record is the published URL's, not the mirror's


# ------------------------------------------------------------------------ full size, real records
def _tag(url_end: str) -> str:
    """The registered weight whose URL ends so (tag names are the registry's)."""
    names = [n for n in sz.list_models("pysf_*", pretrained=True) if sz.get_pretrained_cfg(n).url.endswith(url_end)]
    assert len(names) == 1, (url_end, names)
    return names[0]


@pytest.mark.slow
def test_registered_caffe2_weight_over_the_mirror_with_trust_on_first_use(
        http_server, monkeypatch: pytest.MonkeyPatch) -> None:
    name = _tag("kinetics400/SLOWFAST_8x8_R50.pkl")
    cfg = sz.get_pretrained_cfg(name)
    case = load_pysf("golden_c2_load_public")["cases"][1]
    model = SlowFast(sz.registry.ARCHS[cfg.architecture])
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    path = pf.write_caffe2_pickle(http_server.root / cfg.url.split("dl.fbaipublicfiles.com/")[1],
                                  pf.synthetic_caffe2_blobs(shapes))
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", http_server.base_url)
    try:
        loaded = sz.create_model(name, pretrained=True).eval()
        assert record_path(cfg.url).is_file()
        x = pysf_input(case["input"])
        with torch.no_grad():
            logit_map = loaded.forward_head(loaded.forward_features(x), return_map=True)
        torch.testing.assert_close(logit_map, torch.tensor(case["proj_map"]).permute(0, 4, 1, 2, 3),
                                   atol=1e-4, rtol=1e-4)
        # The same file into MMAction2's network of the same shapes: refused, with the fitting names.
        with pytest.raises(CheckpointError) as e:
            sz.create_model("slowfast_r50_8x8x1_ln", pretrained=True, checkpoint_path=cfg.url)
        assert "pysf_slowfast_r50_8x8 (tags" in str(e.value) and "slow-fast order" in str(e.value)
        # A changed file on the (mirror of the) server: refused against the recorded sha256.
        for p in get_cache_dir().iterdir():
            p.unlink()
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 1  # one bit of one weight
        path.write_bytes(bytes(data))
        with pytest.raises(HashMismatchError):
            sz.create_model(name, pretrained=True)
    finally:
        path.unlink()


def test_the_registrys_digest_holds_its_own_url_only(http_server, w8_state: dict) -> None:
    from slowfast_zoo.weights.source import WeightSource, cache_name

    ptv = pf.ptv_names()
    main = pf.write_torch_checkpoint(http_server.root / "reg" / "SLOWFAST_8x8_R50.pyth", pf.renamed(w8_state, ptv))
    rehost = pf.write_torch_checkpoint(http_server.root / "reg_rehost" / "SLOWFAST_8x8_R50.pyth",
                                       pf.renamed(w8_state, ptv, "model."))
    urls = (http_server.url(main), http_server.url(rehost))

    def load(published: str, alternatives: tuple[str, ...] = ()) -> SlowFast:
        source = WeightSource("url", urls[0], alternatives=alternatives,
                              cache_names=tuple(cache_name(u) for u in (urls[0], *alternatives)),
                              published_sha256=published)
        return load_weights(source, lambda ckpt: (SlowFast(W8).eval(), 10), progress=False)

    with pytest.raises(HashMismatchError, match="recorded in the registry for this weight"):
        load("0" * 64)
    assert_state(load(hashlib.sha256(main.read_bytes()).hexdigest()), w8_state)
    # The re-host (other bytes: prefixed keys) is not held to the main file's digest.
    main.rename(main.with_suffix(".gone"))
    for p in get_cache_dir().iterdir():
        p.unlink()
    assert_state(load(hashlib.sha256(main.with_suffix(".gone").read_bytes()).hexdigest(), urls[1:]), w8_state)


def _fake_state(spec) -> dict[str, torch.Tensor]:
    """The keys :func:`file_shape` reads, with tiny tensors of the spec's temporal kernels."""
    from slowfast_zoo.models.layers import STAGE_BLOCKS
    from slowfast_zoo.weights.identify import temporal_blocks

    sd = {"laterals.0.weight": torch.empty(1, 1, spec.fusion_kernel, 1, 1), "fc.weight": torch.empty(spec.num_classes, 1)}
    if spec.lateral_norm:
        sd["laterals.0.bn.weight"] = torch.empty(1)
    for p, (pathway, depth) in enumerate((("slow", spec.slow_depth), ("fast", spec.fast_depth))):
        for i, n in enumerate(STAGE_BLOCKS[depth]):
            for j in range(n):
                k = 3 if j < temporal_blocks(spec)[p][i] else 1
                sd[f"{pathway}.stages.{i}.{j}.conv_a.conv.weight"] = torch.empty(1, 1, k, 1, 1)
    return sd


def test_fitting_weights_tell_temporal_blocks_and_the_pathway_order_apart() -> None:
    from slowfast_zoo.registry import ARCHS, get_arch_spec
    from slowfast_zoo.weights.identify import file_shape, fitting_weights, fitting_weights_hint

    # (The 16x8 R50 has the 8x8's weights: clip length and head pool change no shape.)
    same = {"pysf_slowfast_r50_8x8": {"pysf_slowfast_r50_8x8", "pysf_slowfast_r50_16x8"}}
    for arch in ("pysf_slowfast_r101_8x8", "pysf_slowfast_16x8_r101_50_50", "pysf_slowfast_r50_8x8",
                 "slowfast_r50_8x8x1_ln"):
        spec = ARCHS[arch]
        fits = fitting_weights(file_shape(_fake_state(spec), spec.feature_order))
        assert {n.partition(".")[0] for n in fits} == same.get(arch, {arch}), (arch, fits)
        assert set(sz.list_models(f"{arch}.*", pretrained=True)) <= set(fits)
    # Without the order (an unknown family) the shapes fit both frameworks' 8x8 networks.
    shape = file_shape(_fake_state(ARCHS["pysf_slowfast_r50_8x8"]))
    assert {n.partition(".")[0] for n in fitting_weights(shape)} == {
        "pysf_slowfast_r50_8x8", "pysf_slowfast_r50_16x8", "slowfast_r50_8x8x1_ln"}
    hint = fitting_weights_hint(_fake_state(get_arch_spec("pysf_slowfast_16x8_r101_50_50")), feature_order="slow_fast")
    assert "temporal kernels in 6 of 23 res4 blocks" in hint and "it fits pysf_slowfast_16x8_r101_50_50 (tags" in hint


def test_saved_models_keep_their_head(tmp_path: Path) -> None:
    from slowfast_zoo.errors import ConfigError
    from slowfast_zoo.factory import _saved_spec
    from slowfast_zoo.weights.schema import validate_config, validate_metadata

    base = {"architecture": "pysf_slowfast_r50_8x8", "num_classes": 400}
    assert _saved_spec({**base, "tag": "k400_ptv"})[0].head_pool == ((8, 7, 7), (32, 7, 7))
    # A config written before the head was recorded: its base weight's head (multigrid: global).
    assert _saved_spec({**base, "tag": "k400_multigrid"})[0].head_pool == ()
    assert _saved_spec({**base, "tag": "k400_ptv", "head_pool": []})[0].head_pool == ()
    assert _saved_spec({**base, "tag": "k400_multigrid", "head_pool": [[8, 7, 7], [32, 7, 7]]})[0].head_pool == \
        ((8, 7, 7), (32, 7, 7))
    with pytest.raises(ConfigError, match="head_pool"):
        validate_config({**base, "head_pool": [[8, 7, 7]]}, "cfg")
    with pytest.raises(ConfigError, match="feature_order"):
        validate_config({**base, "feature_order": "slow_then_fast"}, "cfg")
    with pytest.raises(ConfigError, match="head_pool"):
        validate_metadata({"head_pool": "[[0, 7, 7], [32, 7, 7]]"}, "w.safetensors")
    with pytest.raises(ConfigError, match="feature_order"):
        validate_metadata({"feature_order": "x"}, "w.safetensors")


@pytest.mark.slow
def test_a_saved_multigrid_model_reloads_with_its_global_pool_head(tmp_path: Path) -> None:
    model = sz.create_model("pysf_slowfast_r50_8x8.k400_multigrid", num_classes=3)
    assert model.spec.head_pool == ()
    sz.save_pretrained(model, tmp_path / "saved", class_names=["a", "b", "c"])
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert (config["head_pool"], config["feature_order"]) == ([], "slow_fast")
    meta = read_metadata(tmp_path / "saved" / "model.safetensors")
    assert (meta["head_pool"], meta["feature_order"]) == ("[]", "slow_fast")
    again = sz.create_model(f"local-dir:{tmp_path / 'saved'}")
    assert again.spec.head_pool == () and again.spec.feature_order == "slow_fast"
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), model.state_dict().values()))


def test_a_published_file_with_another_class_count_than_its_record_is_named(
        http_server, w8_state: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # pytorchvideo#67: the Charades .pyth may carry 400 classes where its record says 157.
    import dataclasses

    from slowfast_zoo.weights import apply as apply_mod

    state = {k: v[:5] if k.startswith("fc.") else v for k, v in w8_state.items()}  # a 5-class head
    path = pf.write_torch_checkpoint(http_server.root / "charades" / "SLOWFAST_8x8_R50.pyth",
                                     pf.renamed(state, pf.ptv_names()))
    url = http_server.url(path)
    record = dataclasses.replace(sz.get_pretrained_cfg("pysf_slowfast_r50_8x8.charades_ptv"), url=url, num_classes=10)
    monkeypatch.setattr(apply_mod, "PRETRAINED", {record.name: record})
    with pytest.raises(CheckpointError) as e:
        load_w8(url)
    assert "has a 5-class classifier, but the registry records 10 classes for it" in str(e.value)
    assert record.name in str(e.value)
    assert load_w8(url, classes=5).num_classes == 5  # the file's own classifier, as the message says


# ------------------------------------------------------------- every registered weight, full size
#: (key family, architecture, classes) -> the manifest whose key names and shapes the file has.
_MANIFESTS = {
    ("pytorchvideo", "pysf_slowfast_r50_4x16", 400): "manifest_ptv_slowfast_r50_4x16",
    ("pytorchvideo", "pysf_slowfast_r50_8x8", 400): "manifest_ptv_slowfast_r50_8x8",
    ("pytorchvideo", "pysf_slowfast_r50_8x8", 174): "manifest_ptv_slowfast_r50_8x8_ssv2",
    ("pytorchvideo", "pysf_slowfast_r50_8x8", 157): "manifest_ptv_slowfast_r50_8x8_charades",
    ("pytorchvideo", "pysf_slowfast_r101_8x8", 400): "manifest_ptv_slowfast_r101_8x8",
    ("pytorchvideo", "pysf_slowfast_16x8_r101_50_50", 400): "manifest_ptv_slowfast_16x8_r101_50_50",
    ("pyslowfast", "pysf_slowfast_r50_8x8", 400): "manifest_psf_slowfast_r50_8x8",
    ("pyslowfast", "pysf_slowfast_r50_16x8", 174): "manifest_psf_slowfast_r50_16x8_ssv2",
    ("pyslowfast", "pysf_slowfast_r50_16x8", 157): "manifest_psf_slowfast_r50_16x8_charades",
}


def _source_key(name: str) -> tuple[str, str, int]:
    cfg = sz.get_pretrained_cfg(name)
    return cfg.key_family, cfg.architecture, cfg.num_classes


#: Every registered PyTorchVideo / PySlowFast weight, those sharing a generated file side by side
#: (the one-entry cache below then builds each file's weights once).
_ALL_PYSF = sorted(sz.list_models("pysf_*", pretrained=True), key=lambda n: (_source_key(n), n))

_GENERATED: dict[tuple[str, str, int], tuple[object, dict[str, torch.Tensor]]] = {}


def _published_weights(name: str) -> tuple[object, dict[str, torch.Tensor]]:
    """``(what the file holds, the same weights under our keys)`` for ``name``'s published file:
    a state dict under the framework's key names (torch files) or caffe2 blobs. Rules v1-ptv /
    v1-psf (tests/data/pysf/README.md); one entry kept: full-size weights are 140 to 250 MB."""
    key = _source_key(name)
    if key not in _GENERATED:
        _GENERATED.clear()
        family, arch, _classes = key
        if family == "caffe2":  # the c2 table's names with the network's own shapes
            shapes = {k: tuple(v.shape) for k, v in SlowFast(sz.registry.ARCHS[arch]).state_dict().items()}
            blobs = pf.synthetic_caffe2_blobs(shapes)
            psf_of = {c2: psf for c2, psf, *_ in load_pysf("c2_blob_table_psf_slowfast_r50_8x8")["table"]}
            ours = {psf_key_to_ours(psf_of[n]): torch.from_numpy(v) for n, v, kind in blobs
                    if kind == "str"}
            _GENERATED[key] = (blobs, ours)
        else:
            manifest = load_pysf(_MANIFESTS[key])["state_dict"]
            rule, to_ours = ("v1-ptv", ptv_key_to_ours) if family == "pytorchvideo" else ("v1-psf", psf_key_to_ours)
            theirs = dict(generate_pysf_state_dict(manifest, rule))
            _GENERATED[key] = (theirs, {to_ours(k): v for k, v in theirs.items()})
    return _GENERATED[key]


def _write_published(name: str, url: str, root: Path, prefix: str = "") -> Path:
    """``name``'s file in its published format at ``url``'s path under ``root``."""
    cfg = sz.get_pretrained_cfg(name)
    content, _ = _published_weights(name)
    path = root / url.split("dl.fbaipublicfiles.com/", 1)[1]
    if cfg.key_family == "caffe2":
        return pf.write_caffe2_pickle(path, content)  # type: ignore[arg-type]
    state = {prefix + k: v for k, v in content.items()}  # type: ignore[attr-defined]
    # The multigrid zoo's .pkl torch files predate torch 1.6: the legacy format.
    return pf.write_torch_checkpoint(path, state, legacy=url.endswith(".pkl"))


def _assert_loaded(model: SlowFast, ours: dict[str, torch.Tensor]) -> None:
    got = model.state_dict()
    weights = {k for k in got if not k.endswith("num_batches_tracked")}
    assert weights <= set(ours), sorted(weights - set(ours))[:5]
    assert all(torch.equal(got[k], ours[k]) for k in weights)


def _empty_cache() -> None:
    for p in get_cache_dir().iterdir():  # full-size downloads: do not keep them in pytest's basetemp
        if p.is_file():
            p.unlink()


@pytest.mark.slow
@pytest.mark.parametrize("name", _ALL_PYSF)
def test_every_registered_weight_loads_over_the_mirror_with_its_trust_record(
        name: str, http_server, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = sz.get_pretrained_cfg(name)
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", http_server.base_url)
    _, ours = _published_weights(name)
    written = [_write_published(name, cfg.url, http_server.root)]
    try:
        _assert_loaded(sz.create_model(name, pretrained=True), ours)
        assert http_server.requests == ["/" + written[0].relative_to(http_server.root).as_posix()]
        record = record_path(cfg.url)
        assert record.is_file()  # trust on first use: the published URL's sha256
        assert json.loads(record.read_text())["sha256"] == hashlib.sha256(written[0].read_bytes()).hexdigest()
        with pytest.raises(HashMismatchError):
            sz.create_model(name, pretrained=True, sha256="0" * 64)
        for alt in cfg.alternative_urls:  # PySlowFast's re-hosts: PyTorchVideo's keys under "model."
            written[0].unlink()
            _empty_cache()
            written.append(_write_published(name, alt, http_server.root, prefix="model."))
            _assert_loaded(sz.create_model(name, pretrained=True), ours)
            assert record_path(alt).is_file()
    finally:
        for path in written:
            path.unlink(missing_ok=True)
        _empty_cache()
