"""A tiny, dependency-free progress bar written to stderr (downloads, evaluation, windows).

It draws only when asked *and* the stream is a terminal: in logs, CI and notebooks
that capture stderr a carriage-return bar is noise, so it stays silent there.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar"]

_WIDTH = 30
_MIN_INTERVAL_S = 0.1  # redraw at most 10 times a second: cheap even for 1 MiB chunks


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover - loop always returns


class ProgressBar:
    """Counter (bytes by default) with an optional one-line bar on a terminal.

    Args:
        total: expected count, or ``None`` when unknown (e.g. no length from the server).
        desc: short label shown before the bar (e.g. the file name).
        enabled: the caller's wish (``progress=True``); the bar still draws only on a TTY.
        stream: where to draw; defaults to ``sys.stderr`` (looked up at construction time).
        unit: ``"B"`` counts bytes (human-readable sizes); any other word counts items,
            e.g. ``"videos"``, and the bar also shows the time left.

    Example:
        >>> bar = ProgressBar(total=10, desc="demo", enabled=False)
        >>> bar.update(4); bar.update(6); bar.close()
        >>> bar.n
        10
    """

    def __init__(self, total: int | None, desc: str = "", enabled: bool = True,
                 stream: TextIO | None = None, unit: str = "B") -> None:
        self.unit = unit
        self.total = total if total and total > 0 else None
        # The label is often a file name from a URL or a list: no control character of it may
        # reach the terminal (an escape sequence could rewrite the screen).
        self.desc = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in desc)
        self.n = 0
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.active = bool(enabled and callable(isatty) and isatty())
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._drawn: int | None = None  # the count last drawn (None: nothing drawn yet)
        self._closed = False

    def update(self, nbytes: int) -> None:
        """Count ``nbytes`` more bytes and redraw if enough time has passed."""
        self.n += nbytes
        if self.active:
            now = time.monotonic()
            if now - self._last_draw >= _MIN_INTERVAL_S:
                self._last_draw = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.n / max(now - self._start, 1e-6)
        if self.unit == "B":
            done, total, speed = _human(self.n), _human(self.total or 0), f"{_human(rate)}/s"
        else:
            done, total = str(self.n), f"{self.total} {self.unit}"
            left = (self.total - self.n) / rate if rate > 0 and self.total else 0.0
            speed = f"{rate:.2f} {self.unit}/s, {left / 60:.0f} min left "
        if self.total:
            filled = int(min(self.n / self.total, 1.0) * _WIDTH)
            bar = "#" * filled + "-" * (_WIDTH - filled)
            text = f"\r{self.desc} [{bar}] {min(self.n / self.total, 1.0) * 100:5.1f}% {done}/{total} {speed}"
        else:
            text = f"\r{self.desc} {done} {speed}"
        self.stream.write(text)
        self.stream.flush()
        self._drawn = self.n

    def clear_line(self) -> None:
        """Erase the bar so that a result line can be printed in its place."""
        if self.active:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = None

    def close(self) -> None:
        """Draw the final state and end the line (only if anything was drawn)."""
        if self._closed:
            return
        self._closed = True
        if self.active:
            if self._drawn != self.n:  # the final state, unless it is already on screen
                self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
