"""Tests of slowfast_zoo.weights.download: failed transfers leave nothing, deadlines, the download
lock, leftovers of killed downloads, mirrors and alternative URLs."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.server
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import slowfast_zoo as sz
from slowfast_zoo.errors import DownloadError, UntrustedCacheError
from slowfast_zoo.registry import get_arch_spec
from slowfast_zoo.weights import get_cache_dir, hash_prefix_from_name, resolve_url
from slowfast_zoo.weights import download as download_mod
from slowfast_zoo.weights import loader as sources
from procs import child_env
from weightgen import LN, Files
from test_weights_loader import assert_golden, cache_listing

ROOT = Path(__file__).resolve().parents[1]





# ------------------------------------------------------------------------- failed transfers
@pytest.fixture
def raw_server() -> Iterator[tuple[int, list[bytes]]]:
    """A one-shot TCP server; the test puts the raw reply in the list (empty: never answer)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    reply: list[bytes] = []
    done = threading.Event()

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = srv.accept()
            with conn:
                conn.recv(65536)
                if reply:
                    conn.sendall(reply[0])
                else:
                    done.wait(5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield srv.getsockname()[1], reply
    done.set()
    srv.close()
    thread.join(5)


def test_short_transfer_is_a_download_error(raw_server) -> None:
    port, reply = raw_server
    reply.append(b"HTTP/1.0 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 10)
    url = f"http://127.0.0.1:{port}/m_20200101-0123abcd.pth"
    with pytest.raises(DownloadError, match="after 10 (of 100000 )?bytes") as e:
        download_mod.download_file(url, get_cache_dir() / "m_20200101-0123abcd.pth")
    assert url in str(e.value)
    assert cache_listing() == []


def test_stalled_server_times_out(raw_server) -> None:
    port, _ = raw_server
    url = f"http://127.0.0.1:{port}/m_20200101-0123abcd.pth"
    with pytest.raises(DownloadError, match="timed out") as e:
        download_mod.download_file(url, get_cache_dir() / "m.pth", timeout=0.5)
    assert url in str(e.value)
    assert cache_listing() == []


class _Drip(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(1000):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
def test_drip_feeding_server_hits_the_deadline(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/slow_20200101-12345678.pth"
        t = time.monotonic()
        with pytest.raises(DownloadError) as e:
            sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url, download_timeout=1.5)
        assert time.monotonic() - t < 10
    finally:
        server.shutdown()
        server.server_close()
    msg = str(e.value)
    assert "did not finish within 1.5 s" in msg
    got = int(msg.split(" of 1000 bytes")[0].rsplit("(", 1)[1])
    assert 1 <= got < 1000  # the bytes that did arrive are counted
    cache = download_mod.get_cache_dir()
    assert not (list(cache.iterdir()) if cache.exists() else [])  # no partial file left


# ------------------------------------------------------------------------- the cache and its lock
@pytest.mark.slow
def test_leftovers_of_a_killed_download_are_removed(loopback_server, ckpt: Path, tmp_path: Path) -> None:
    served = loopback_server.root / "ops" / ckpt.name
    served.parent.mkdir(exist_ok=True)
    if not served.exists():
        served.symlink_to(ckpt)
    cache = download_mod.get_cache_dir()
    cache.mkdir(parents=True)
    stale = [cache / f".{ckpt.name}.abc123{download_mod.PARTIAL_SUFFIX}",
             cache / f".{ckpt.name[:-4]}.slowfast_zoo.safetensors.x9{download_mod.PARTIAL_SUFFIX}"]
    other = cache / ".someone_elses_file.partial"
    for p in stale + [other]:
        p.write_bytes(b"half")
    sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=loopback_server.url(served))
    assert not any(p.exists() for p in stale) and other.exists()


@pytest.mark.slow
def test_two_processes_download_the_same_url_once(loopback_server, ckpt: Path, tmp_path: Path) -> None:
    served = loopback_server.root / "ops2" / ckpt.name
    served.parent.mkdir(exist_ok=True)
    if not served.exists():
        served.symlink_to(ckpt)
    loopback_server.clear()
    env = {**child_env(), "TORCH_HOME": str(tmp_path / "shared_home")}
    code = ("import slowfast_zoo as sz; "
            f"sz.create_model('slowfast_r50_4x16x1', pretrained=True, checkpoint_path={loopback_server.url(served)!r}); "
            "print('ok')")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert loopback_server.requests.count(f"/ops2/{ckpt.name}") == 1
    cache = tmp_path / "shared_home" / "hub" / "checkpoints"
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [ckpt.name, ckpt.name[:-4] + ".slowfast_zoo.safetensors"])


# ------------------------------------------------------------------------- mirrors and alternative URLs
def test_mirror_env_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://download.openmmlab.com/mmaction/x-0123abcd.pth"
    assert resolve_url(url) == url
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", "file:///srv/mirror/")
    assert resolve_url(url) == "file:///srv/mirror/mmaction/x-0123abcd.pth"
    assert resolve_url("https://example.org/x-0123abcd.pth") == "https://example.org/x-0123abcd.pth"
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", "ftp://nope")
    with pytest.raises(ValueError, match="SLOWFAST_ZOO_MIRROR"):
        resolve_url(url)
    assert hash_prefix_from_name("a_20200728-145f1097.pth") == "145f1097"
    assert hash_prefix_from_name("a_20200728-145f1097.slowfast_zoo.safetensors") is None
    assert hash_prefix_from_name("model.pth") is None


def test_file_mirror_for_air_gapped_machines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = b"not a checkpoint, just bytes to copy"
    name = f"x_20200101-{hashlib.sha256(payload).hexdigest()[:8]}.pth"
    (tmp_path / "mirror" / "mmaction").mkdir(parents=True)
    (tmp_path / "mirror" / "mmaction" / name).write_bytes(payload)
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", (tmp_path / "mirror").as_uri())
    dest = download_mod.download_file(f"https://download.openmmlab.com/mmaction/{name}",
                                      get_cache_dir() / name)
    assert dest.read_bytes() == payload and cache_listing() == [name]


@pytest.mark.slow
def test_alternative_url_is_tried_when_the_first_is_missing(files: Files, http_server, caplog) -> None:
    path = files.file("ln_0x")
    sha = path.stem.rsplit("-", 1)[1]
    cfg = dataclasses.replace(
        sz.get_pretrained_cfg("slowfast_r50_8x8x1_ln.k400_mm1_steplr"), sha256_prefix=sha,
        url=f"{http_server.base_url}/extra/0x/moved_20220901-{sha}.pth",
        alternative_urls=(http_server.url(path),))
    model = sz.SlowFast(get_arch_spec(cfg.name), pretrained_cfg=cfg)
    with caplog.at_level(logging.WARNING):
        sources.load_pretrained(model, cfg, progress=False)
    assert http_server.requests == [f"/extra/0x/moved_20220901-{sha}.pth", f"/extra/0x/{path.name}"]
    assert any("alternative URL" in r.getMessage() for r in caplog.records)
    assert_golden(model, LN)
    # Warm cache: the file that worked is found first, without asking the missing URL again.
    http_server.clear()
    again = sz.SlowFast(get_arch_spec(cfg.name), pretrained_cfg=cfg)
    sources.load_pretrained(again, cfg, progress=False)
    assert http_server.requests == []
    assert_golden(again, LN)


# ------------------------------------------------------------------------- transfer policy
def _no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a connection was attempted")
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_plain_http_to_another_host_is_refused_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    from slowfast_zoo.errors import UsageError

    _no_connections(monkeypatch)
    url = "http://example.org/weights/x_20200101-0123abcd.pth"
    with pytest.raises(UsageError, match="plain http") as e:
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    assert url in str(e.value)
    with pytest.raises(UsageError, match="only https"):
        download_mod.download_file("ftp://example.org/x_20200101-0123abcd.pth", get_cache_dir() / "x.pth")
    assert cache_listing() == []


def test_a_plain_http_mirror_needs_the_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from slowfast_zoo.errors import UsageError
    from slowfast_zoo.weights.transport import ALLOW_HTTP_ENV, check_transport

    _no_connections(monkeypatch)
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", "http://mirror.example")
    url = "https://download.openmmlab.com/mmaction/x_20200101-0123abcd.pth"
    with pytest.raises(UsageError, match=ALLOW_HTTP_ENV):
        download_mod.download_file(url, get_cache_dir() / "x_20200101-0123abcd.pth")
    monkeypatch.setenv(ALLOW_HTTP_ENV, "1")
    check_transport("http://mirror.example/mmaction/x_20200101-0123abcd.pth", from_mirror=True)  # allowed now
    with pytest.raises(UsageError):  # the opt-in is for the user's mirror, not any http URL
        check_transport("http://elsewhere.example/x_20200101-0123abcd.pth")


class _Redirecting(http.server.BaseHTTPRequestHandler):
    payload = b"redirected bytes"
    other_port = 0

    def do_GET(self) -> None:  # noqa: N802
        name = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/same/"):
            self.send_response(302)
            self.send_header("Location", f"/file/{name}")
            self.end_headers()
        elif self.path.startswith("/cross/"):
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.other_port}/file/{name}")
            self.end_headers()
        else:
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.payload)))
            self.end_headers()
            self.wfile.write(self.payload)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_redirects_stay_on_the_origin_or_on_https() -> None:
    name = f"r_20200101-{hashlib.sha256(_Redirecting.payload).hexdigest()[:8]}.pth"
    with _serve(_Redirecting) as port, _serve(_Redirecting) as other:
        _Redirecting.other_port = other
        dest = download_mod.download_file(f"http://127.0.0.1:{port}/same/{name}", get_cache_dir() / name,
                                          progress=False)
        assert dest.read_bytes() == _Redirecting.payload  # same origin: followed
        dest.unlink()
        with pytest.raises(DownloadError, match="refusing the redirect"):
            download_mod.download_file(f"http://127.0.0.1:{port}/cross/{name}", get_cache_dir() / name,
                                       progress=False)
    assert cache_listing() == []


def test_a_redirect_from_https_to_http_is_refused() -> None:
    import urllib.request

    from slowfast_zoo.weights.transport import _Redirects

    req = urllib.request.Request("https://download.example/m_20200101-0123abcd.pth")
    with pytest.raises(DownloadError, match="may not leave https"):
        _Redirects().redirect_request(req, None, 302, "Found", {}, "http://download.example/m.pth")
    follow = _Redirects().redirect_request(req, None, 302, "Found", {}, "https://cdn.example/m.pth")
    assert follow is not None and follow.full_url == "https://cdn.example/m.pth"


def test_oversized_downloads_are_refused(raw_server) -> None:
    port, reply = raw_server
    reply.append(b"HTTP/1.0 200 OK\r\nContent-Length: 99999999999\r\n\r\n" + b"x" * 10)
    url = f"http://127.0.0.1:{port}/big_20200101-0123abcd.pth"
    with pytest.raises(DownloadError, match="announces 99999999999 bytes"):
        download_mod.download_file(url, get_cache_dir() / "big_20200101-0123abcd.pth")
    assert cache_listing() == []


def test_a_body_growing_past_the_limit_is_cut(tmp_path: Path) -> None:
    class Endless(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.end_headers()  # no Content-Length: the body only ends when the server says so
            with contextlib.suppress(OSError):
                for _ in range(10_000):
                    self.wfile.write(b"x" * 65536)

        def log_message(self, *args: object) -> None:
            pass

    with _serve(Endless) as port:
        with pytest.raises(DownloadError, match="more than 1000000 bytes"):
            download_mod.download_verified(f"http://127.0.0.1:{port}/e_20200101-0123abcd.pth",
                                           get_cache_dir() / "e_20200101-0123abcd.pth",
                                           expected_prefix="0123abcd", progress=False, max_bytes=1_000_000)
    assert cache_listing() == []


@pytest.mark.slow
def test_the_deadline_covers_dripped_headers() -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    stop = threading.Event()

    def drip() -> None:
        with contextlib.suppress(OSError):
            conn, _ = srv.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.0 200 OK\r\nX-Slow: ")
                while not stop.is_set():  # one header byte at a time, never a blank line
                    conn.sendall(b"a")
                    time.sleep(0.1)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{srv.getsockname()[1]}/h_20200101-0123abcd.pth"
    t = time.monotonic()
    try:
        with pytest.raises(DownloadError, match="did not finish within 1.5 s"):
            download_mod.download_file(url, get_cache_dir() / "h_20200101-0123abcd.pth", deadline=1.5)
        assert time.monotonic() - t < 6
    finally:
        stop.set()
        srv.close()
        thread.join(5)
    assert cache_listing() == []


def test_a_full_disk_is_a_download_error(http_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = b"some bytes"
    name = f"f_20200101-{hashlib.sha256(payload).hexdigest()[:8]}.pth"
    (http_server.root / name).write_bytes(payload)
    monkeypatch.setattr(download_mod, "atomic_write", lambda dest, write: write("/dev/full"))
    with pytest.raises(DownloadError, match="No space left on device") as e:
        download_mod.download_file(http_server.url(http_server.root / name), get_cache_dir() / name)
    assert str(get_cache_dir()) in str(e.value)


# ------------------------------------------------------------------------- shared and read-only caches
def _read_only(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Every write below ``root`` fails as on a read-only file system (root ignores modes)."""
    import errno

    real_open, real_mkdir = os.open, Path.mkdir

    def ro_open(path, flags, *args, **kwargs):
        if str(path).startswith(str(root)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    def ro_mkdir(self, *args, **kwargs):
        if str(self).startswith(str(root)) and not self.is_dir():
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(os, "open", ro_open)
    monkeypatch.setattr(Path, "mkdir", ro_mkdir)


@pytest.mark.slow
def test_a_complete_read_only_cache_works_and_a_cold_one_is_one_typed_error(
        loopback_server, ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served = shutil.copy(ckpt, loopback_server.root / ckpt.name)
    url = loopback_server.url(served)
    sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)  # fills the cache
    shutil.rmtree(get_cache_dir().parent / "slowfast_zoo.locks")  # a store shipped without them
    hub = get_cache_dir().parent
    with monkeypatch.context() as m:
        _read_only(m, hub)
        model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    assert_golden(model, "r50_4x16x1")
    assert not (hub / "slowfast_zoo.locks").exists()
    shutil.rmtree(get_cache_dir())
    with monkeypatch.context() as m:
        _read_only(m, hub)
        with pytest.raises(DownloadError, match="Read-only file system") as e:
            sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    assert "\n" not in str(e.value) and str(get_cache_dir()) in str(e.value)
    os.unlink(served)


@pytest.mark.slow
def test_a_lock_file_planted_as_a_symlink_is_not_followed(loopback_server, ckpt: Path, tmp_path: Path) -> None:
    served = shutil.copy(ckpt, loopback_server.root / ckpt.name)
    url = loopback_server.url(served)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    locks = get_cache_dir().parent / "slowfast_zoo.locks"
    locks.mkdir(parents=True)
    (locks / f"{ckpt.name}.lock").symlink_to(victim)
    with pytest.raises(DownloadError, match="symbolic link"):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    assert victim.read_text() == "keep me"
    os.unlink(served)


# ------------------------------------------------------------------------- entries other users could write
def _small_published(loopback_server, name: str = "tiny") -> tuple[str, str]:
    """A small served file named like a published one: ``(url, sha256)``."""
    body = os.urandom(4096)
    sha = hashlib.sha256(body).hexdigest()
    served = loopback_server.root / "foreign" / f"{name}_20200101-{sha[:8]}.pth"
    served.parent.mkdir(exist_ok=True)
    served.write_bytes(body)
    return loopback_server.url(served), sha


def _fetch(url: str, **kwargs: object) -> Path:
    from slowfast_zoo.weights.source import resolve_source

    with download_mod.fetch(resolve_source("x", checkpoint_path=url, **kwargs), progress=False) as f:  # type: ignore[arg-type]
        return f.weights


def test_a_cached_file_of_another_user_is_refused_without_the_opt_in(
        loopback_server, monkeypatch: pytest.MonkeyPatch) -> None:
    url, sha = _small_published(loopback_server, "other_user")
    cached = _fetch(url)
    os.chown(cached, 12345, -1)  # the tests run as root: any owner can be given
    with pytest.raises(UntrustedCacheError, match="belongs to user id 12345") as e:
        _fetch(url)
    assert str(cached) in str(e.value) and "\n" not in str(e.value)
    monkeypatch.setenv("SLOWFAST_ZOO_TRUST_SHARED_CACHE", "1")
    assert _fetch(url) == cached  # opted in: still verified by its hash, then used


def test_a_cache_folder_everyone_can_write_is_refused(loopback_server) -> None:
    url, _ = _small_published(loopback_server, "world_writable")
    cached = _fetch(url)
    os.chmod(cached.parent, 0o777)
    with pytest.raises(UntrustedCacheError, match="every user can write it"):
        _fetch(url)
    os.chmod(cached.parent, 0o755)
    os.chmod(cached, 0o666)
    with pytest.raises(UntrustedCacheError, match="every user can write it"):
        _fetch(url)
    os.chmod(cached, 0o644)
    assert _fetch(url) == cached


def test_a_lock_folder_others_can_write_is_refused_unless_sticky(loopback_server) -> None:
    url, _ = _small_published(loopback_server, "locks")
    _fetch(url)
    locks = get_cache_dir().parent / "slowfast_zoo.locks"
    os.chmod(locks, 0o777)
    with pytest.raises(UntrustedCacheError, match="slowfast_zoo.locks"):
        _fetch(url)
    os.chmod(locks, 0o1777)  # like /tmp: others cannot replace our lock files
    _fetch(url)


def test_a_trust_record_of_another_user_is_refused(loopback_server) -> None:
    from slowfast_zoo.weights.trust import record_path

    body = os.urandom(2048)
    served = loopback_server.root / "foreign" / "hashless.pth"
    served.parent.mkdir(exist_ok=True)
    served.write_bytes(body)
    url = loopback_server.url(served)
    _fetch(url)  # first download: recorded
    record = record_path(url)
    assert record.is_file()
    os.chown(record, 12345, -1)
    with pytest.raises(UntrustedCacheError, match="trust"):
        _fetch(url)


def test_a_published_weight_larger_than_its_architecture_allows_is_cut(loopback_server) -> None:
    from slowfast_zoo.weights.source import published_max_bytes, resolve_source

    body = os.urandom(300_000)
    sha = hashlib.sha256(body).hexdigest()
    served = loopback_server.root / "foreign" / f"big_20200101-{sha[:8]}.pth"
    served.parent.mkdir(exist_ok=True)
    served.write_bytes(body)
    tiny = dataclasses.replace(sz.get_pretrained_cfg("slowfast_r50_4x16x1"), url=loopback_server.url(served),
                               sha256_prefix=sha[:8], num_params=1000, alternative_urls=())
    source = resolve_source(tiny.name, cfg=tiny)
    assert source.max_bytes == published_max_bytes(1000) < (64 << 20) + 12_001
    # The bound is the architecture's: monkeypatching it small shows the download is cut there.
    source = dataclasses.replace(source, max_bytes=100_000)
    with pytest.raises(DownloadError, match="100000 bytes"):
        with download_mod.fetch(source, progress=False):
            pass
    assert not any(get_cache_dir().glob("big_*"))


@pytest.mark.slow
def test_a_converted_cache_file_another_user_wrote_is_not_believed(
        loopback_server, ckpt: Path, caplog: pytest.LogCaptureFixture) -> None:
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open

    served = shutil.copy(ckpt, loopback_server.root / ckpt.name)
    url = loopback_server.url(served)
    sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    converted = download_mod.converted_cache_path(get_cache_dir() / ckpt.name)
    # The attack: same metadata (the .pth's public sha256), a poisoned classifier.
    with safe_open(str(converted), framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(converted)
    head = [k for k in tensors if k.endswith("weight") and tensors[k].ndim == 2][-1]
    tensors[head] = torch.zeros_like(tensors[head])
    save_file(tensors, converted, metadata=meta)
    os.chown(converted, 12345, -1)
    with caplog.at_level(logging.WARNING):
        model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    assert any("Not trusting" in r.getMessage() for r in caplog.records)
    assert_golden(model, "r50_4x16x1")
    assert os.stat(converted).st_uid == os.geteuid()  # rebuilt from the verified .pth
    os.unlink(served)
