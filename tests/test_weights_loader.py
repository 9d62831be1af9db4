"""Tests of slowfast_zoo.weights.loader, the one loading path: golden parity through real files
and URLs, the cache, error paths, the classifier.

Every checkpoint here is a real MMAction2-style file (``{"meta", "state_dict"[, "optimizer"]}``
saved by ``torch.save``, named ``<stem>_<date>-<sha8>.pth``) holding the reference README's
generated weights, so the golden outputs recorded by running MMAction2 itself apply.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

import slowfast_zoo as sz
from slowfast_zoo._progress import ProgressBar
from slowfast_zoo.errors import CheckpointError, DownloadError, HashMismatchError
from slowfast_zoo.weights import (
    CONVERTER_VERSION,
    converted_cache_path,
    get_cache_dir,
    mmaction2_key_to_ours,
    resolve_url,
    sha256_file,
)
from slowfast_zoo.weights import download as download_mod
from slowfast_zoo.weights import loader as load_mod
from slowfast_zoo.weights import readers as readers_mod
from slowfast_zoo.weights.apply import check_state_dict
from weightgen import (
    Checkpoints,
    ARCHS,
    golden_input,
    load_golden,
    weights_sha256,
    write_mmaction2_checkpoint,
)

MODEL = {a: f"slowfast_{a}" for a in ARCHS}  # bare names: default tags, whose kernels match the manifests


# --------------------------------------------------------------------------- fixtures



@pytest.fixture(scope="module")
def bare_r50() -> sz.SlowFast:
    """For failures that happen before any weight is copied."""
    return sz.create_model("slowfast_r50_4x16x1")


@pytest.fixture
def r50_file(ckpts: Checkpoints) -> Path:
    return ckpts.file("r50_4x16x1")


# --------------------------------------------------------------------------- helpers
def assert_golden(model: sz.SlowFast, arch: str) -> None:
    golden = load_golden(arch)
    x = golden_input(golden)
    model.eval()
    with torch.no_grad():
        slow, fast = model.forward_features(x)
        logits = model.forward_head((slow, fast))
        pre = model.forward_head((slow, fast), pre_logits=True)
    exp_logits = torch.tensor(golden["logits"])
    torch.testing.assert_close(logits, exp_logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logits.mean(0), torch.tensor(golden["video_score"]), atol=1e-4, rtol=1e-4)
    prob = logits.softmax(dim=1).mean(0)
    torch.testing.assert_close(prob, torch.tensor(golden["video_prob"]), atol=1e-6, rtol=0)
    torch.testing.assert_close(pre, torch.tensor(golden["pre_logits"]), atol=1e-4, rtol=0)
    bo = golden["backbone_outputs"]
    assert list(slow.shape) == bo["slow_shape"] and list(fast.shape) == bo["fast_shape"]
    np.testing.assert_allclose(slow.double().sum().item(), bo["slow_sum"], rtol=1e-4)
    np.testing.assert_allclose(fast.double().sum().item(), bo["fast_sum"], rtol=1e-4)
    assert logits.argmax(1).tolist() == golden["argmax_per_view"]
    assert int(prob.argmax()) == golden["argmax_prob"]
    assert int(logits.mean(0).argmax()) == golden["argmax_score"]


def assert_weights_equal(model: torch.nn.Module, mm_sd: dict[str, torch.Tensor], *,
                         skip_fc: bool = False) -> None:
    ours = model.state_dict()
    expected = {mmaction2_key_to_ours(k): v for k, v in mm_sd.items()}
    assert set(expected) == set(ours)
    for k, v in expected.items():
        if skip_fc and k.startswith("fc."):
            continue
        assert torch.equal(ours[k], v), k


def cache_listing() -> list[str]:
    d = get_cache_dir()
    return sorted(os.listdir(d)) if d.exists() else []


def copy_with_name(src: Path, dst_dir: Path, name: str) -> Path:
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst = dst_dir / name
    shutil.copyfile(src, dst)
    return dst


def flip_bytes(path: Path, offset_fraction: float = 0.5, n: int = 16) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(int(size * offset_fraction))
        data = f.read(n)
        f.seek(int(size * offset_fraction))
        f.write(bytes(b ^ 0xFF for b in data))


def rename_to_true_hash(path: Path, stem: str) -> Path:
    """Give a (damaged) file its own true sha256 prefix, so only the content check can fail."""
    return path.rename(path.with_name(f"{stem}-{sha256_file(path)[:8]}.pth"))


# --------------------------------------------------------------------------- golden parity
@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
def test_generator_matches_golden_weights(ckpts: Checkpoints, arch: str) -> None:
    assert weights_sha256(ckpts.state_dict(arch)) == load_golden(arch)["weights_sha256"]


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
def test_golden_parity_local_file(ckpts: Checkpoints, arch: str) -> None:
    model = sz.create_model(MODEL[arch], pretrained=True, checkpoint_path=ckpts.file(arch))
    assert_weights_equal(model, ckpts.state_dict(arch))
    assert_golden(model, arch)
    assert cache_listing() == []  # a user's local file is not copied into the cache


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
def test_golden_parity_url_then_warm_cache(ckpts: Checkpoints, http_server, arch: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = ckpts.file(arch)
    url = http_server.url(path)
    model = sz.create_model(MODEL[arch], pretrained=True, checkpoint_path=url)
    assert http_server.requests == [f"/ckpt/{path.name}"]
    converted = converted_cache_path(get_cache_dir() / path.name)
    assert cache_listing() == sorted([path.name, converted.name])  # no temp files left
    assert (get_cache_dir() / path.name).stat().st_size == path.stat().st_size
    with safe_open(str(converted), framework="pt") as f:
        meta = f.metadata()
    assert meta["source_url"] == url
    assert meta["source_sha256"] == ckpts.sha256(arch)  # hashed while streaming
    assert meta["converter_version"] == CONVERTER_VERSION
    assert meta["architecture"] == MODEL[arch]
    assert meta["fusion_kernel"] == str(model.spec.fusion_kernel)
    assert_golden(model, arch)

    # Warm path: no HTTP request and no pickle at all.
    http_server.clear()
    def no_pickle(*a, **k):
        raise AssertionError("torch.load called on the warm path")
    monkeypatch.setattr(torch, "load", no_pickle)
    again = sz.create_model(MODEL[arch], pretrained=True, checkpoint_path=url)
    assert http_server.requests == []
    a, b = model.state_dict(), again.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_file_placed_in_cache_by_hand_is_used_offline(r50_file: Path, closed_port: int) -> None:
    """The cache is consulted before the network: nothing listens on the URL's port."""
    copy_with_name(r50_file, get_cache_dir(), r50_file.name)
    url = f"http://127.0.0.1:{closed_port}/somewhere/{r50_file.name}"
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    assert_golden(model, "r50_4x16x1")
    assert converted_cache_path(get_cache_dir() / r50_file.name).exists()


# --------------------------------------------------------------------------- cache maintenance
@pytest.mark.slow
def test_corrupted_cached_pth_is_deleted_and_downloaded_again(r50_file: Path, http_server,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    cached = copy_with_name(r50_file, get_cache_dir(), r50_file.name)
    flip_bytes(cached)
    with caplog.at_level(logging.WARNING, logger="slowfast_zoo"):
        model = sz.create_model("slowfast_r50_4x16x1", pretrained=True,
                                checkpoint_path=http_server.url(r50_file))
    assert http_server.requests == [f"/ckpt/{r50_file.name}"]  # exactly one re-download
    assert sha256_file(cached) == sha256_file(r50_file)
    assert any("downloading it again" in r.getMessage() for r in caplog.records)
    assert_golden(model, "r50_4x16x1")


@pytest.mark.slow
def test_damaged_or_stale_converted_cache_is_rebuilt_without_download(
        ckpts: Checkpoints, r50_file: Path, http_server, monkeypatch: pytest.MonkeyPatch) -> None:
    url = http_server.url(r50_file)
    sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    converted = converted_cache_path(get_cache_dir() / r50_file.name)
    http_server.clear()

    flip_bytes(converted, offset_fraction=0.7)  # inside the tensor data: only the digest sees it
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    assert_weights_equal(model, ckpts.state_dict("r50_4x16x1"))

    converted.write_bytes(converted.read_bytes()[:1000])  # truncated safetensors
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    assert_weights_equal(model, ckpts.state_dict("r50_4x16x1"))

    monkeypatch.setattr(readers_mod, "CONVERTER_VERSION", "999")  # converter changed since
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    with safe_open(str(converted), framework="pt") as f:
        assert f.metadata()["converter_version"] == "999"
    assert http_server.requests == []
    assert cache_listing() == sorted([r50_file.name, converted.name])


@pytest.mark.slow
def test_our_safetensors_as_checkpoint_path(ckpts: Checkpoints, r50_file: Path, http_server,
                                            tmp_path: Path) -> None:
    sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=http_server.url(r50_file))
    ours = shutil.copy(converted_cache_path(get_cache_dir() / r50_file.name), tmp_path / "mine.safetensors")
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=ours)
    assert_weights_equal(model, ckpts.state_dict("r50_4x16x1"))
    # Same tensor shapes as r50_4x16x1, but another network: the metadata catches it.
    with pytest.raises(CheckpointError, match="converted for another network"):
        sz.create_model("slowfast_r50_8x8x1.k400_256p", pretrained=True, checkpoint_path=ours)
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":")
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True,
                        checkpoint_path=tmp_path / "bad.safetensors")


def test_bare_state_dict_with_module_prefix(ckpts: Checkpoints, tmp_path: Path) -> None:
    path = tmp_path / "ddp_bare_state_dict.pth"  # no hash in the name: not hash-checked
    torch.save({f"module.{k}": v for k, v in ckpts.state_dict("r50_4x16x1").items()}, path)
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=path)
    assert_weights_equal(model, ckpts.state_dict("r50_4x16x1"))


# --------------------------------------------------------------------------- bad files
def test_corrupted_bytes_hash_mismatch(r50_file: Path, tmp_path: Path) -> None:
    bad = copy_with_name(r50_file, tmp_path, r50_file.name)
    flip_bytes(bad)
    with pytest.raises(HashMismatchError) as e:
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=bad)
    msg = str(e.value)
    assert str(bad) in msg and r50_file.name[-12:-4] in msg and sha256_file(bad) in msg
    assert bad.exists()  # a user's own file is never deleted


def test_truncated_file(r50_file: Path, tmp_path: Path) -> None:
    data = r50_file.read_bytes()
    (tmp_path / "t.pth").write_bytes(data[: len(data) // 3])
    with pytest.raises(HashMismatchError):  # under its original name: caught by the hash
        sz.create_model("slowfast_r50_4x16x1", pretrained=True,
                        checkpoint_path=(tmp_path / "t.pth").rename(tmp_path / r50_file.name))
    # Under its own true hash only the reader can notice.
    truncated = rename_to_true_hash(tmp_path / r50_file.name, "truncated_20200728")
    with pytest.raises(CheckpointError, match="truncated") as e:
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=truncated)
    assert str(truncated) in str(e.value) and not isinstance(e.value, HashMismatchError)
    assert e.value.__cause__ is not None


def test_wrong_hash_in_name(r50_file: Path, tmp_path: Path) -> None:
    bad = copy_with_name(r50_file, tmp_path, "slowfast_r50_20200728-deadbeef.pth")
    with pytest.raises(HashMismatchError, match="deadbeef"):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=bad)


class _NotAllowed:
    """An object whose unpickling would run a shell command (``os.system``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _zip_not_torch(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "not a torch file")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("kind", ["random", "text", "zip", "unsafe_pickle", "plain_pickle",
                                  "no_tensors", "empty"])
def test_not_a_checkpoint(kind: str, tmp_path: Path, bare_r50: sz.SlowFast) -> None:
    path = tmp_path / f"{kind}.pth"
    if kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "text":
        path.write_text("model = dict(type='Recognizer3D')\n")
    elif kind == "zip":
        _zip_not_torch(path)
    elif kind == "unsafe_pickle":
        torch.save({"meta": _NotAllowed(tmp_path / "pwned"), "state_dict": _NotAllowed(tmp_path / "pwned2")},
                   path)
    elif kind == "plain_pickle":
        path.write_bytes(pickle.dumps({"state_dict": {"a": 1}}))
    elif kind == "no_tensors":
        torch.save({"meta": {}, "state_dict": {"backbone.x": 1}}, path)
    else:
        path.write_bytes(b"")
    with pytest.raises(CheckpointError) as e:  # the loader, without rebuilding the model each time
        load_mod.load_pretrained(bare_r50, bare_r50.pretrained_cfg, checkpoint_path=path)
    assert str(path) in str(e.value)
    if kind in ("random", "text", "zip", "unsafe_pickle"):
        assert "expected a torch.save checkpoint (MMAction2 .pth, PyTorchVideo" in str(e.value)
        assert e.value.__cause__ is not None  # the underlying error is chained
    if kind == "plain_pickle":  # a pickle that is no torch file: read as a caffe2 checkpoint
        assert "expected a caffe2 checkpoint" in str(e.value) and "'state_dict'" in str(e.value)
    if kind == "unsafe_pickle":
        # Even with stand-ins for the file's globals nothing ran (torch blocks os/posix outright).
        assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=tmp_path / "nope.pth")


# --------------------------------------------------------------------------- wrong architecture
@pytest.mark.slow
def test_checkpoint_of_another_architecture(r50_file: Path) -> None:
    with pytest.raises(CheckpointError, match="missing") as e:
        sz.create_model("slowfast_r101_r50_4x16x1", pretrained=True, checkpoint_path=r50_file)
    assert str(r50_file) in str(e.value) and "slow.stages.2" in str(e.value)


@pytest.mark.slow
def test_kernel5_laterals(ckpts: Checkpoints) -> None:
    path = ckpts.file("r50_8x8x1", fusion_kernel=5)
    with pytest.raises(CheckpointError, match="kernel 5") as e:
        sz.create_model("slowfast_r50_8x8x1.k400_320p", pretrained=True, checkpoint_path=path)
    assert "_lateral" in str(e.value) and "mismatched" in str(e.value)
    assert "it fits slowfast_r50_4x16x1 (tags" in str(e.value)
    assert "slowfast_r50_8x8x1 (tags k400_256p)" in str(e.value)  # the tag of that very file
    # The tag registered for that file builds kernel-5 laterals and takes it as is.
    model = sz.create_model("slowfast_r50_8x8x1.k400_256p", pretrained=True, checkpoint_path=path)
    assert model.laterals[0].weight.shape[2] == 5
    assert_weights_equal(model, ckpts.state_dict("r50_8x8x1", fusion_kernel=5))


# --------------------------------------------------------------------------- network
def test_no_network_names_url_and_cache_path(closed_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", f"http://127.0.0.1:{closed_port}")
    cfg = sz.get_pretrained_cfg("slowfast_r101_8x8x1")
    with pytest.raises(DownloadError) as e:
        sz.create_model("slowfast_r101_8x8x1", pretrained=True)
    msg = str(e.value)
    assert resolve_url(cfg.url) in msg and f"127.0.0.1:{closed_port}/mmaction/" in msg
    assert str(get_cache_dir() / cfg.file_name) in msg
    assert "by hand" in msg and "SLOWFAST_ZOO_MIRROR" in msg
    assert cache_listing() == []


def test_mirror_reaches_loopback_server_and_hash_mismatch_leaves_nothing(
        r50_file: Path, http_server, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = sz.get_pretrained_cfg("slowfast_r50_4x16x1.k400_256p")
    published_path = cfg.url.removeprefix("https://download.openmmlab.com")
    served = http_server.root / published_path.lstrip("/")
    served.parent.mkdir(parents=True, exist_ok=True)
    served.unlink(missing_ok=True)
    served.symlink_to(r50_file)  # our generated file under the published name
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", http_server.base_url + "/")
    with pytest.raises(HashMismatchError) as e:
        sz.create_model("slowfast_r50_4x16x1.k400_256p", pretrained=True)
    assert http_server.requests == [published_path]
    msg = str(e.value)
    assert http_server.base_url + published_path in msg
    assert cfg.sha256_prefix in msg and sha256_file(r50_file) in msg
    assert cache_listing() == []  # no temp file, no half-written checkpoint


@pytest.mark.slow
def test_a_url_without_hash_is_trusted_on_first_use(r50_file: Path, http_server,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """No sha256 prefix in the name: the first verified download's sha256 is recorded (said
    once), every later load must match it, and a changed remote file is refused."""
    import json

    from slowfast_zoo.errors import HashMismatchError

    plain = copy_with_name(r50_file, http_server.root / "plain", "model.pth")
    url = http_server.url(plain)
    with caplog.at_level(logging.WARNING, logger="slowfast_zoo"):
        model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    assert_golden(model, "r50_4x16x1")
    assert sum("First download" in r.getMessage() for r in caplog.records) == 1
    records = list((get_cache_dir().parent / "slowfast_zoo.trust").glob("*.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["url"] == url and record["sha256"] == sha256_file(r50_file)
    caplog.clear()
    http_server.clear()
    with caplog.at_level(logging.WARNING, logger="slowfast_zoo"):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    assert http_server.requests == [] and not any("First download" in r.getMessage() for r in caplog.records)

    # The file on the server changes and the cache is lost: the new bytes are refused.
    shutil.rmtree(get_cache_dir())
    flip_bytes(plain)
    with pytest.raises(HashMismatchError, match="recorded on its first download"):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    assert cache_listing() == []
    shutil.rmtree(plain.parent)


@pytest.mark.slow
def test_sha256_pins_any_source(r50_file: Path, http_server, tmp_path: Path) -> None:
    from slowfast_zoo.errors import HashMismatchError, UsageError

    good, bad = sha256_file(r50_file), "0" * 64
    with pytest.raises(UsageError, match="64 hex digits"):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=r50_file, sha256="abc")
    with pytest.raises(HashMismatchError, match="pinned by sha256="):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=r50_file, sha256=bad)
    assert_golden(sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=r50_file,
                                  sha256=good.upper()), "r50_4x16x1")
    url = http_server.url(r50_file)
    with pytest.raises(HashMismatchError, match="pinned by sha256="):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url, sha256=bad)
    assert cache_listing() == []  # refused before the rename: nothing in the cache
    sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url, sha256=good)
    with pytest.raises(HashMismatchError, match="pinned by sha256="):  # the cached file, pinned otherwise
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url, sha256=bad)


@pytest.mark.slow
def test_same_named_files_of_two_urls_are_cached_apart(r50_file: Path, http_server) -> None:
    a = copy_with_name(r50_file, http_server.root / "kinetics", "SLOWFAST_4x16_R50.pth")
    b = copy_with_name(r50_file, http_server.root / "other", "SLOWFAST_4x16_R50.pth")
    for path in (a, b):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=http_server.url(path))
    pth = [n for n in cache_listing() if n.endswith(".pth")]
    assert len(pth) == 2 and all(n.endswith("-SLOWFAST_4x16_R50.pth") for n in pth)
    assert len(list((get_cache_dir().parent / "slowfast_zoo.trust").glob("*.json"))) == 2
    shutil.rmtree(a.parent)
    shutil.rmtree(b.parent)


def test_http_404(http_server) -> None:
    url = f"{http_server.base_url}/missing/model_20200101-0123abcd.pth"
    with pytest.raises(DownloadError, match="HTTP 404") as e:
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    assert url in str(e.value)
    assert cache_listing() == []


def test_interrupted_download_leaves_nothing(r50_file: Path, http_server,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    def interrupt(self, n):  # Ctrl-C after the first chunk
        calls.append(n)
        raise KeyboardInterrupt
    monkeypatch.setattr(ProgressBar, "update", interrupt)
    with pytest.raises(KeyboardInterrupt):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=http_server.url(r50_file))
    assert calls and cache_listing() == []


# --------------------------------------------------------------------------- classifier
@pytest.mark.slow
def test_num_classes_10_keeps_backbone_fresh_classifier(ckpts: Checkpoints, r50_file: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    torch.manual_seed(0)
    with caplog.at_level(logging.INFO, logger="slowfast_zoo"):
        model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, num_classes=10,
                                checkpoint_path=r50_file)
    lines = [r for r in caplog.records if "classifier" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert "400" in lines[0].getMessage() and "10" in lines[0].getMessage()
    assert_weights_equal(model, {k: v for k, v in ckpts.state_dict("r50_4x16x1").items()
                                 if "fc_cls" not in k} | {
        "cls_head.fc_cls.weight": model.fc.weight, "cls_head.fc_cls.bias": model.fc.bias})
    assert model.fc.weight.shape == (10, 2304) and torch.count_nonzero(model.fc.bias) == 0
    assert 0.008 < model.fc.weight.std().item() < 0.012
    x = golden_input(load_golden("r50_4x16x1"))
    with torch.no_grad():
        assert model.eval()(x).shape == (2, 10)
        pre = model.forward_head(model.forward_features(x), pre_logits=True)
    assert pre.shape == (2, 2304)
    torch.testing.assert_close(pre, torch.tensor(load_golden("r50_4x16x1")["pre_logits"]),
                               atol=1e-4, rtol=0)


@pytest.mark.slow
def test_cached_conversion_serves_every_num_classes(ckpts: Checkpoints, r50_file: Path,
                                                    http_server) -> None:
    url = http_server.url(r50_file)
    small = sz.create_model("slowfast_r50_4x16x1", pretrained=True, num_classes=10, checkpoint_path=url)
    assert small.fc.out_features == 10
    full = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)  # warm
    assert len(http_server.requests) == 1
    assert_weights_equal(full, ckpts.state_dict("r50_4x16x1"))
    headless = sz.create_model("slowfast_r50_4x16x1", pretrained=True, num_classes=0, checkpoint_path=url)
    with torch.no_grad():
        assert headless.eval()(torch.zeros(1, 3, 32, 32, 32)).shape == (1, 2304)


@pytest.mark.slow
def test_fine_tuned_file_with_other_class_count(ckpts: Checkpoints, tmp_path: Path) -> None:
    sd = dict(ckpts.state_dict("r50_4x16x1"))
    sd["cls_head.fc_cls.weight"] = torch.randn(10, 2304)
    sd["cls_head.fc_cls.bias"] = torch.randn(10)
    path = write_mmaction2_checkpoint(sd, tmp_path, "finetuned")
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, num_classes=10, checkpoint_path=path)
    assert torch.equal(model.fc.weight, sd["cls_head.fc_cls.weight"])  # the file's own classifier
    with pytest.raises(CheckpointError, match="num_classes=10"):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=path)


# --------------------------------------------------------------------------- quiet off a terminal
def test_download_is_quiet_when_stderr_is_not_a_tty(r50_file: Path, http_server,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    download_mod.download_file(http_server.url(r50_file), get_cache_dir() / r50_file.name)
    assert capfd.readouterr().err == ""
    assert cache_listing() == [r50_file.name]


# --------------------------------------------------------------------------- one loading path
@pytest.mark.slow
def test_cold_load_reads_converts_and_checks_once(ckpts: Checkpoints, r50_file: Path, http_server,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold `create_model(..., pretrained=True)` from a URL: one download, one read of the
    `.pth`, one conversion (each key renamed once), one check; the warm load reads the cache."""
    from slowfast_zoo.weights import apply as apply_mod
    from slowfast_zoo.weights import convert as convert_mod

    counts = {"read": 0, "convert": 0, "rename": 0, "check": 0}

    def counted(module: object, name: str, key: str) -> None:
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            counts[key] += 1
            return real(*args, **kwargs)
        monkeypatch.setattr(module, name, wrapper)

    counted(readers_mod, "read_torch_checkpoint", "read")
    counted(load_mod, "convert_checkpoint", "convert")
    # The converter is looked up per family in KEY_CONVERTERS: count its MMAction2 entry.
    real_rename = convert_mod.KEY_CONVERTERS["mmaction2"]

    def rename(key: str) -> str | None:
        counts["rename"] += 1
        return real_rename(key)
    monkeypatch.setitem(convert_mod.KEY_CONVERTERS, "mmaction2", rename)
    counted(apply_mod, "check_state_dict", "check")
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=http_server.url(r50_file))
    n_keys = len(ckpts.state_dict("r50_4x16x1"))
    assert counts == {"read": 1, "convert": 1, "rename": n_keys, "check": 1}
    assert http_server.requests == [f"/ckpt/{r50_file.name}"]
    assert_weights_equal(model, ckpts.state_dict("r50_4x16x1"))

    counts.update(read=0, convert=0, rename=0, check=0)
    sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=http_server.url(r50_file))
    assert counts == {"read": 0, "convert": 1, "rename": 0, "check": 1}  # our keys: nothing to rename


@pytest.mark.slow
def test_fine_tune_head_still_checked_once(r50_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from slowfast_zoo.weights import apply as apply_mod

    calls = []
    real = apply_mod.check_state_dict
    monkeypatch.setattr(apply_mod, "check_state_dict", lambda *a, **k: calls.append(k) or real(*a, **k))
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=r50_file, num_classes=7)
    assert model.fc.out_features == 7 and len(calls) == 1 and calls[0]["ignore_classifier"] is True


# --------------------------------------------------------------------------- hostile values
def _hostile(sd: dict[str, torch.Tensor], kind: str) -> tuple[dict[str, torch.Tensor], str, str]:
    """``sd`` with one bad tensor: ``(state dict, the tensor's key, what the error says)``."""
    sd = dict(sd)
    key, said = {
        "int8": ("backbone.slow_path.conv1.conv.weight", "torch.int8, expected floating-point"),
        "bool": ("backbone.fast_path.layer1.0.conv2.conv.weight", "torch.bool, expected floating-point"),
        "nan_conv": ("backbone.slow_path.layer2.1.conv1.conv.weight", "NaN or infinite"),
        "inf_bn_bias": ("backbone.fast_path.conv1.bn.bias", "NaN or infinite"),
        "negative_running_var": ("backbone.slow_path.layer3.0.conv1.bn.running_var", "negative"),
    }[kind]
    t = sd[key].clone()
    if kind == "int8":
        t = (t * 100).to(torch.int8)
    elif kind == "bool":
        t = t > 0
    elif kind == "nan_conv":
        t.view(-1)[t.numel() // 2] = float("nan")
    elif kind == "inf_bn_bias":
        t[3] = float("inf")
    else:
        t[1] = -0.5
    sd[key] = t
    return sd, key, said


HOSTILE = ["int8", "bool", "nan_conv", "inf_bn_bias", "negative_running_var"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_weight_values_are_refused_naming_the_tensor(ckpts: Checkpoints, kind: str, tmp_path: Path,
                                                             bare_r50: sz.SlowFast) -> None:
    """Real MMAction2 files (their true hash in the name) with one int8/bool/NaN/inf/negative-
    variance tensor: refused by the one check, named as the file names it, nothing loaded."""
    sd, key, said = _hostile(ckpts.state_dict("r50_4x16x1"), kind)
    path = write_mmaction2_checkpoint(sd, tmp_path, f"hostile_{kind}")
    before = bare_r50.slow.stem.conv.weight.clone()
    with pytest.raises(CheckpointError, match=re.escape(f"tensor '{key}'")) as e:
        load_mod.load_pretrained(bare_r50, bare_r50.pretrained_cfg, checkpoint_path=path)
    assert str(path) in str(e.value) and said in str(e.value)
    assert torch.equal(bare_r50.slow.stem.conv.weight, before)  # checked before anything is copied


@pytest.mark.slow
def test_hostile_values_in_our_safetensors_and_float16_files(ckpts: Checkpoints, tmp_path: Path,
                                                             bare_r50: sz.SlowFast) -> None:
    from slowfast_zoo.weights.writer import weights_metadata, write_safetensors

    sd = dict(bare_r50.state_dict())
    sd["fast.stages.1.0.conv_b.conv.weight"] = torch.ones_like(sd["fast.stages.1.0.conv_b.conv.weight"],
                                                               dtype=torch.int8)
    path = write_safetensors(tmp_path / "int8.safetensors", sd, weights_metadata(bare_r50))
    with pytest.raises(CheckpointError, match=re.escape(
            "tensor 'fast.stages.1.0.conv_b.conv.weight' is torch.int8, expected floating-point")) as e:
        load_mod.load_pretrained(bare_r50, bare_r50.pretrained_cfg, checkpoint_path=path)
    assert str(path) in str(e.value)

    # Any float precision is fine: loading casts (num_batches_tracked stays an integer).
    half = {k: v.half() if v.is_floating_point() else v for k, v in ckpts.state_dict("r50_4x16x1").items()}
    path = write_mmaction2_checkpoint(half, tmp_path, "float16")
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=path)
    assert_weights_equal(model, {k: v.float() if v.is_floating_point() else v for k, v in half.items()})
    assert model.slow.stem.conv.weight.dtype == torch.float32


@pytest.mark.parametrize("case", ["int8", "bool", "nan", "inf", "negative_running_var",
                                  "float_num_batches_tracked", "several"])
def test_check_state_dict_values(bare_r50: sz.SlowFast, case: str) -> None:
    """The value half of the one check, directly on a model's own state dict."""
    sd = dict(bare_r50.state_dict())
    w, b = "slow.stem.conv.weight", "fast.stem.bn.bias"
    var, nbt = "slow.stages.0.0.conv_a.bn.running_var", "fast.stem.bn.num_batches_tracked"
    bad = {"int8": {w: sd[w].to(torch.int8)}, "bool": {w: sd[w] > 0},
           "nan": {w: torch.full_like(sd[w], float("nan"))}, "inf": {b: torch.full_like(sd[b], -float("inf"))},
           "negative_running_var": {var: -torch.ones_like(sd[var])},
           "float_num_batches_tracked": {nbt: sd[nbt].float()},
           "several": {w: sd[w].to(torch.int8), b: sd[b] / 0, var: -sd[var]}}[case]
    sd.update(bad)
    names = {k: f"file.{k}" for k in sd}  # reported in the file's own key names
    with pytest.raises(CheckpointError) as e:
        check_state_dict(sd, bare_r50, source="hostile.pth", source_keys=names)
    msg = str(e.value)
    assert msg.startswith("Checkpoint hostile.pth: tensor 'file.")
    assert all(f"'file.{k}'" in msg for k in bad)
    said = {"int8": "is torch.int8, expected floating-point weights",
            "bool": "is torch.bool, expected floating-point weights", "nan": "holds NaN or infinite values",
            "inf": "holds NaN or infinite values", "negative_running_var": "running variance has negative values",
            "float_num_batches_tracked": "is torch.float32, expected an integer count",
            "several": "2 more bad tensors"}[case]
    assert said in msg


def test_check_state_dict_values_skips_a_replaced_classifier(bare_r50: sz.SlowFast) -> None:
    sd = dict(bare_r50.state_dict())
    sd["fc.weight"] = torch.full_like(sd["fc.weight"], float("nan"))
    check_state_dict(sd, bare_r50, source="x.pth", ignore_classifier=True)  # never loaded: fine
    with pytest.raises(CheckpointError, match="'fc.weight' holds NaN"):
        check_state_dict(sd, bare_r50, source="x.pth")
    half = {k: v.half() if v.is_floating_point() else v for k, v in bare_r50.state_dict().items()}
    check_state_dict(half, bare_r50, source="half.pth")
