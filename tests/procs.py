"""Helpers for tests that run the library in a child process (examples, torchrun, SIGTERM)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child_env() -> dict[str, str]:
    """This environment with the repository first on ``PYTHONPATH`` (the child imports this checkout)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def wait_for(predicate, proc: subprocess.Popen, limit_s: float = 300) -> None:
    """Poll ``predicate`` until it holds; the child must still run then (to be interrupted)."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end and proc.poll() is None and not predicate():
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
