"""Shared fixtures: an isolated torch hub cache per test, a loopback HTTP file server, and
generated checkpoint files (per test module: each is removed when its module is done)."""

from __future__ import annotations

import functools
import shutil
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from weightgen import Checkpoints, Files, generate_state_dict, write_mmaction2_checkpoint

_PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


@pytest.fixture(autouse=True)
def isolated_torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty ``TORCH_HOME`` and no mirror / proxy settings.

    No test can read or fill the user's real ``~/.cache/torch``, and loopback requests are
    never routed through a proxy.
    """
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv("SLOWFAST_ZOO_MIRROR", raising=False)
    for var in _PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    return home


class LoopbackServer:
    """A ``http.server`` on 127.0.0.1 serving ``root`` from a thread, logging request paths."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def send_head(self):  # type: ignore[no-untyped-def]
                with server._lock:
                    server.requests.append(self.path)
                return super().send_head()

            def log_message(self, format: str, *args: object) -> None:  # keep test output clean
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                # A client that aborts mid-transfer (tests do) is expected: no traceback on stderr.
                pass

        handler = functools.partial(Handler, directory=str(root))
        self.httpd = Server(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: Path | str) -> str:
        """URL of a file under ``root`` (absolute path or path relative to ``root``)."""
        rel = Path(path).relative_to(self.root) if Path(path).is_absolute() else Path(path)
        return f"{self.base_url}/{rel.as_posix()}"

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def loopback_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackServer]:
    """One server for the session; use :func:`http_server` in tests (it clears the log)."""
    server = LoopbackServer(tmp_path_factory.mktemp("www"))
    yield server
    server.close()


@pytest.fixture
def http_server(loopback_server: LoopbackServer) -> LoopbackServer:
    """The loopback server with an empty request log."""
    loopback_server.clear()
    return loopback_server


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MMAction2 0.x checkpoint of slowfast_r50_4x16x1 with the reference weights."""
    return write_mmaction2_checkpoint(generate_state_dict("r50_4x16x1"), tmp_path_factory.mktemp("ck"), "gen")


@pytest.fixture(scope="module")
def files(loopback_server: LoopbackServer) -> Iterator[Files]:
    """Lateral-norm, sthv1 and r50 8x8 checkpoints of several formats, built on first use."""
    root = loopback_server.root / "extra"  # served: the same files are reachable by URL
    root.mkdir()
    yield Files(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def ckpts(loopback_server: LoopbackServer) -> Iterator[Checkpoints]:
    """Checkpoints of every MMAction2 architecture, built on first use."""
    # Written under the server's root so the very same files are reachable by URL.
    root = loopback_server.root / "ckpt"
    root.mkdir()
    yield Checkpoints(root)
    shutil.rmtree(root, ignore_errors=True)  # ~1.5 GB: do not leave it in pytest's basetemp
