"""The HTTP(S) transfer of a download: which URLs may be fetched, redirects, size and time bounds.

Used by :func:`slowfast_zoo.weights.download.download_verified` for every weight download:

* **Schemes**: ``https://`` everywhere and ``file://`` (a local mirror). Plain ``http://`` only to
  a loopback address (``127.0.0.0/8``, ``::1``, ``localhost``: tests and local servers) or to the
  user's own ``SLOWFAST_ZOO_MIRROR`` when ``SLOWFAST_ZOO_MIRROR_ALLOW_HTTP=1`` opts in: an
  unauthenticated transfer is only as good as the hash check after it.
* **Redirects**: never from ``https`` to ``http``; to another origin only over ``https``.
* **Size**: at most ``max_bytes`` (default :data:`MAX_DOWNLOAD_BYTES`; the largest published
  SlowFast checkpoint is under 300 MB): a larger ``Content-Length`` is refused before the body,
  a body that grows past it is cut off.
* **Time**: ``deadline`` covers connecting, the response headers and the body. A watchdog shuts
  the connection's socket down when it passes, so a server that drips its headers one byte at a
  time cannot hold the download past it (per-operation socket timeouts alone would not).
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import os
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import IO, Any, BinaryIO

from slowfast_zoo._progress import ProgressBar
from slowfast_zoo.errors import DownloadError, UsageError

__all__ = ["MAX_DOWNLOAD_BYTES", "ALLOW_HTTP_ENV", "check_transport", "stream_url"]

#: The largest download accepted by default, in bytes.
MAX_DOWNLOAD_BYTES = 2 << 30
#: Environment variable: ``1`` lets a plain-``http://`` ``SLOWFAST_ZOO_MIRROR`` be used.
ALLOW_HTTP_ENV = "SLOWFAST_ZOO_MIRROR_ALLOW_HTTP"
_CHUNK = 1 << 20


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(url: str, *, from_mirror: bool = False) -> None:
    """Refuse a URL this library does not fetch (see the module docstring), before any request.

    Raises:
        UsageError: a plain-``http`` URL to a non-loopback host (without the mirror opt-in), or
            a scheme other than https / http / file.

    Example:
        >>> check_transport("https://download.openmmlab.com/x-0123abcd.pth")
        >>> check_transport("http://127.0.0.1:8000/x-0123abcd.pth")
        >>> check_transport("http://example.org/x-0123abcd.pth")
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.UsageError: refusing to download http://example.org/x-0123abcd.pth over plain http: use https (plain http is allowed only to a loopback address, or to your own SLOWFAST_ZOO_MIRROR with SLOWFAST_ZOO_MIRROR_ALLOW_HTTP=1)
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("https", "file"):
        return
    if parts.scheme != "http":
        raise UsageError(f"refusing to download {url}: only https:// (and file://) URLs are fetched")
    if _is_loopback(parts.hostname):
        return
    if from_mirror and os.environ.get(ALLOW_HTTP_ENV, "").strip() == "1":
        return
    raise UsageError(f"refusing to download {url} over plain http: use https (plain http is allowed "
                     f"only to a loopback address, or to your own SLOWFAST_ZOO_MIRROR with "
                     f"{ALLOW_HTTP_ENV}=1)")


class _Watchdog:
    """Shuts every socket of one download down when its deadline passes."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only when it keeps the transfer as safe as it was."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        old = urllib.parse.urlsplit(req.full_url)
        new = urllib.parse.urlsplit(urllib.parse.urljoin(req.full_url, newurl))
        same_origin = (old.scheme, old.hostname, old.port) == (new.scheme, new.hostname, new.port)
        if (old.scheme == "https" and new.scheme != "https") or (not same_origin and new.scheme != "https"):
            raise DownloadError(f"refusing the redirect from {req.full_url} to {newurl}: redirects "
                                f"may not leave https, and may reach another host only over https")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(watchdog: _Watchdog) -> urllib.request.OpenerDirector:
    class _HTTP(http.client.HTTPConnection):
        def connect(self) -> None:
            super().connect()
            watchdog.watch(self.sock)

    class _HTTPS(http.client.HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            watchdog.watch(self.sock)

    class _HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(_HTTP, req)

    class _HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(_HTTPS, req, context=ssl.create_default_context())

    return urllib.request.build_opener(_HTTPHandler, _HTTPSHandler, _Redirects)


def stream_url(url: str, out: BinaryIO, update: Callable[[bytes], None], *, name: str,
               fail: Callable[[str], DownloadError], progress: bool, timeout: float, deadline: float,
               max_bytes: int = MAX_DOWNLOAD_BYTES) -> int:
    """Write the body of ``url`` to ``out`` (and to ``update``, e.g. a hash); the byte count.

    Args:
        url: a URL :func:`check_transport` accepts.
        out: where the bytes go.
        update: called with every chunk (the running sha256).
        name: the progress bar's label.
        fail: makes the error for a reason (it names the URL and where the file was going).
        progress: draw a progress bar on stderr when it is a terminal.
        timeout: the longest a single socket operation may stall, in seconds.
        deadline: the longest the whole transfer (connection, headers, body) may take, in seconds.
        max_bytes: the largest body accepted.

    Raises:
        DownloadError: (made by ``fail``) HTTP errors, refused redirects, stalls, the deadline,
            a body over ``max_bytes``, a short transfer.
    """
    start = time.monotonic()
    watchdog = _Watchdog(deadline)
    received = 0
    total: int | None = None

    def late() -> DownloadError:
        got = f"{received} of {total}" if total is not None else str(received)
        return fail(f"the download did not finish within {deadline:g} s ({got} bytes received; raise "
                    f"it with download_timeout= or SLOWFAST_ZOO_DOWNLOAD_TIMEOUT)")

    request = urllib.request.Request(url, headers={"User-Agent": "slowfast_zoo"})
    try:
        try:
            response = _opener(watchdog).open(request, timeout=min(timeout, deadline))
        except DownloadError as e:  # a refused redirect
            raise fail(str(e)) from e
        except urllib.error.HTTPError as e:
            raise fail(f"HTTP {e.code} {e.reason}") from e
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            if watchdog.expired:
                raise late() from e
            reason = getattr(e, "reason", None) or e
            raise fail(f"{type(e).__name__}: {reason}") from e
        with response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and total > max_bytes:
                raise fail(f"the server announces {total} bytes, more than the {max_bytes} bytes a "
                           f"weight file may have")
            with ProgressBar(total, desc=name, enabled=progress) as bar:
                while True:
                    try:
                        # read1: return what one recv gives, so the deadline is checked between
                        # the drips of a slow server (read(n) would wait for n bytes).
                        chunk = response.read1(_CHUNK) if hasattr(response, "read1") else response.read(_CHUNK)
                    except (http.client.HTTPException, OSError) as e:
                        if watchdog.expired:
                            raise late() from e
                        got = f"{received} of {total}" if total is not None else str(received)
                        raise fail(f"transfer interrupted after {got} bytes ({type(e).__name__}: {e})") from e
                    if watchdog.expired or time.monotonic() - start > deadline:
                        raise late()
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > max_bytes:
                        raise fail(f"more than {max_bytes} bytes arrived, more than a weight file may have")
                    out.write(chunk)
                    update(chunk)
                    bar.update(len(chunk))
            if total is not None and received != total:
                raise fail(f"connection closed after {received} of {total} bytes")
    finally:
        watchdog.cancel()
    return received
