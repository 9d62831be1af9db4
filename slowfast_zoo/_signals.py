"""SIGTERM handled like Ctrl-C, so that finished work is flushed before the process exits.

torchrun, SLURM and Kubernetes stop a job with SIGTERM, whose default action kills the process
on the spot. Inside :func:`terminate_as_interrupt` it raises :class:`Terminated` (a
``KeyboardInterrupt``) instead, so the ``except KeyboardInterrupt`` paths that save partial
results (eval's result file, the last finished feature file, the fine-tune epoch checkpoint)
run for both signals; :func:`exit_code` gives the conventional ``128 + signal`` status.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["Terminated", "terminate_as_interrupt", "exit_code"]


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""

    signum = int(signal.SIGTERM)


def _raise(signum: int, frame: object) -> None:
    raise Terminated()


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_code(exc: BaseException) -> int:
    """``128 + signal``: 143 for SIGTERM, 130 for SIGINT (Ctrl-C)."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))
