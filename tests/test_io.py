"""Tests of slowfast_zoo._io: path_inside keeps per-input outputs inside the folder a user named.

(The atomic write helpers are checked with the house rules, in test_house.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from slowfast_zoo._io import path_inside
from slowfast_zoo.errors import UsageError


def test_path_inside_refuses_escapes(tmp_path: Path) -> None:
    assert path_inside(tmp_path, "a/b.mp4.safetensors") == tmp_path / "a" / "b.mp4.safetensors"
    for bad in ("../x.mp4", "a/../../x.mp4", "/etc/x.mp4", "a\\..\\x.mp4", "x\x00.mp4"):
        with pytest.raises(UsageError):
            path_inside(tmp_path, bad)
    (tmp_path / "link").symlink_to(tmp_path.parent)
    with pytest.raises(UsageError, match="outside"):
        path_inside(tmp_path, "link/x.safetensors")
