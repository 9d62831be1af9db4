"""Tests of slowfast_zoo.weights.saved and weights.hub: save_pretrained / push_to_hub /
create_model("local-dir:" | "hf-hub:"), all on 127.0.0.1.

The ``hf-hub:`` tests run the real ``huggingface_hub.hf_hub_download`` against a small server
that answers like the Hub's resolve API: ``HEAD``/``GET /{repo_id}/resolve/{revision}/{file}``
with the headers huggingface_hub 1.x/2.x requires (``X-Repo-Commit``, ``ETag``,
``Content-Length``; see ``huggingface_hub.file_download.get_hf_file_metadata``).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import threading
import urllib.parse
from pathlib import Path

import pytest
import torch

import slowfast_zoo as sz
from slowfast_zoo.errors import CheckpointError
from weightgen import LN, SS, Files
from test_weights_loader import assert_golden
from weightgen import MODEL_NAMES

ARCH = "slowfast_r50_4x16x1"
CLASSES = ("archery", "bowling", "cooking egg")


class FakeHub:
    """Serves ``repos[repo_id][revision] = (commit_sha, directory)`` like huggingface.co/resolve."""

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, tuple[str, Path]]] = {}
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self, body: bool) -> None:
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                hub.requests.append((self.command, path))
                parts = path.strip("/").split("/")
                # org / repo / resolve / revision / filename
                if len(parts) < 5 or parts[2] != "resolve":
                    self.send_error(404)
                    return
                repo_id, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
                entry = hub.repos.get(repo_id, {}).get(revision)
                if entry is None:
                    for commit, folder in hub.repos.get(repo_id, {}).values():
                        if commit == revision:
                            entry = (commit, folder)
                if entry is None or not (entry[1] / filename).is_file():
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound" if entry else "RepoNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = (entry[1] / filename).read_bytes()
                self.send_response(200)
                self.send_header("X-Repo-Commit", entry[0])
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_HEAD(self) -> None:  # noqa: N802
                self._serve(False)

            def do_GET(self) -> None:  # noqa: N802
                self._serve(True)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def add(self, repo_id: str, folder: Path, revision: str = "main", commit: str | None = None) -> str:
        commit = commit or hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()
        self.repos.setdefault(repo_id, {})[revision] = (commit, folder)
        return commit

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    hub = FakeHub()
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf_cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield hub
    hub.close()


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory: pytest.TempPathFactory):
    """A 3-class "fine-tuned" model (random weights, non-trivial BN stats) saved once."""
    torch.manual_seed(0)
    model = sz.create_model(ARCH, num_classes=len(CLASSES))
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.1)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 1.5)
    model.class_names = CLASSES
    folder = sz.save_pretrained(model, tmp_path_factory.mktemp("saved") / "my-model")
    return model.eval(), folder


def _logits(model: torch.nn.Module) -> torch.Tensor:
    x = torch.randn(1, 3, 32, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        return model.eval()(x)


def _assert_same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]), k
    assert torch.equal(_logits(a), _logits(b))


@pytest.mark.slow
def test_save_pretrained_files(finetuned) -> None:
    _, folder = finetuned
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["architecture"] == ARCH and config["num_classes"] == 3
    assert config["class_names"] == list(CLASSES)
    assert config["fusion_kernel"] == 5 and config["library_version"] == sz.__version__
    assert config["test"]["num_clips"] == 10 and len(config["mean"]) == 3 and len(config["std"]) == 3
    assert config["tag"] == sz.get_pretrained_cfg(ARCH).tag
    assert not list(folder.parent.glob(".*partial"))  # atomic: no leftovers
    card = (folder / "README.md").read_text()
    assert "hf-hub:" in card and ARCH in card


@pytest.mark.slow
def test_save_pretrained_removes_the_leftovers_of_a_killed_save(finetuned, tmp_path: Path) -> None:
    import subprocess
    import sys

    model, _ = finetuned
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # its pid now names no running process
    leftover = tmp_path / f".again.{proc.pid}-k1.partial"
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"\0" * 4096)
    mine = tmp_path / f".again.{os.getpid()}-live.partial"  # a save in progress is left alone
    mine.mkdir()
    sz.save_pretrained(model, tmp_path / "again")
    assert not leftover.exists() and mine.exists()


@pytest.mark.slow
def test_local_dir_round_trip_bit_exact(finetuned) -> None:
    model, folder = finetuned
    loaded = sz.create_model(f"local-dir:{folder}")
    _assert_same(model, loaded)
    assert loaded.class_names == CLASSES
    assert loaded.pretrained_cfg.name == sz.get_pretrained_cfg(ARCH).name  # the base record
    from slowfast_zoo.inference.predict import class_names_of

    assert class_names_of(loaded) == CLASSES


@pytest.mark.slow
def test_local_dir_new_head_and_errors(finetuned, tmp_path: Path) -> None:
    model, folder = finetuned
    fresh = sz.create_model(f"local-dir:{folder}", num_classes=7)
    assert fresh.num_classes == 7
    assert torch.equal(fresh.state_dict()["slow.stem.conv.weight"], model.state_dict()["slow.stem.conv.weight"])
    with pytest.raises(CheckpointError, match="not a saved slowfast_zoo model"):
        sz.create_model(f"local-dir:{tmp_path}")
    with pytest.raises(ValueError, match="checkpoint_path"):
        sz.create_model(f"local-dir:{folder}", checkpoint_path="x.pth")
    with pytest.raises(FileExistsError):
        (tmp_path / "other.txt").write_text("x")
        sz.save_pretrained(model, tmp_path)
    assert sz.create_model(ARCH).pretrained_cfg.name == sz.get_pretrained_cfg(ARCH).name  # registry unchanged


@pytest.mark.slow
def test_hf_hub_download_cache_and_offline(finetuned, fake_hub: FakeHub, monkeypatch) -> None:
    model, folder = finetuned
    commit = fake_hub.add("someone/slowfast-demo", folder)
    loaded = sz.create_model("hf-hub:someone/slowfast-demo")
    _assert_same(model, loaded)
    assert loaded.class_names == CLASSES
    assert ("GET", "/someone/slowfast-demo/resolve/main/model.safetensors") in fake_hub.requests
    cache = Path(os.environ["HF_HUB_CACHE"])
    assert list(cache.glob("models--someone--slowfast-demo/snapshots/*/model.safetensors"))

    # Revision pinning by commit hash.
    pinned = sz.create_model(f"hf-hub:someone/slowfast-demo@{commit}")
    _assert_same(model, pinned)

    # Server gone: served from the cache (with and without HF_HUB_OFFLINE).
    fake_hub.close()
    _assert_same(model, sz.create_model("hf-hub:someone/slowfast-demo"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _assert_same(model, sz.create_model("hf-hub:someone/slowfast-demo"))
    with pytest.raises(CheckpointError, match="hf-hub:someone/never-downloaded"):
        sz.create_model("hf-hub:someone/never-downloaded")


def test_push_to_hub_uses_hfapi(finetuned, monkeypatch) -> None:
    import huggingface_hub

    calls = {}

    class FakeApi:
        def __init__(self, endpoint=None, token=None):
            calls["init"] = (endpoint, token)

        def create_repo(self, repo_id, **kw):
            calls["create"] = repo_id

        def upload_folder(self, *, repo_id, folder_path, **kw):
            calls["files"] = sorted(p.name for p in Path(folder_path).iterdir())
            return type("Info", (), {"commit_url": f"https://hub/{repo_id}/commit/1"})()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    url = sz.push_to_hub(finetuned[0], "me/demo", token="t")
    assert url.endswith("me/demo/commit/1") and calls["create"] == "me/demo"
    assert calls["files"] == ["README.md", "config.json", "model.safetensors"]


# ------------------------------------------------------------------------- the lateral-norm and sthv1 architectures

@pytest.mark.slow
@pytest.mark.parametrize("arch", [LN, SS])
def test_save_pretrained_local_dir_round_trip(files: Files, arch: str, tmp_path: Path) -> None:
    kind = "ln_0x" if arch == LN else "sthv1_0x"
    model = sz.create_model(MODEL_NAMES[arch], pretrained=True, checkpoint_path=files.file(kind))
    sz.save_pretrained(model, tmp_path / "saved")
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["lateral_norm"] == (arch == LN) and config["test"]["sampling_rule"] == "0.x"
    again = sz.create_model(f"local-dir:{tmp_path / 'saved'}")
    assert again.spec == model.spec and again.pretrained_cfg == model.pretrained_cfg
    assert_golden(again, arch)


@pytest.mark.slow
@pytest.mark.parametrize("arch", [LN, SS])
def test_hf_hub_round_trip(files: Files, arch: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kind = "ln_0x" if arch == LN else "sthv1_0x"
    model = sz.create_model(MODEL_NAMES[arch], pretrained=True, checkpoint_path=files.file(kind))
    hub = FakeHub()
    try:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf_cache"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        hub.add("someone/extra", sz.save_pretrained(model, tmp_path / "saved"))
        again = sz.create_model("hf-hub:someone/extra")
    finally:
        hub.close()
    assert again.spec == model.spec and again.pretrained_cfg.name == model.pretrained_cfg.name
    assert again.pretrained_cfg.test == model.pretrained_cfg.test
    assert_golden(again, arch)
