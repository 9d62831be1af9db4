"""Tests of slowfast_zoo._io: path_inside keeps per-input outputs inside the folder a user named.

(The atomic write helpers are checked with the house rules, in test_house.py; leftovers and JSON here.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slowfast_zoo._io import atomic_dir, atomic_write_text, json_finite, path_inside, remove_leftovers
from slowfast_zoo.errors import UsageError


def test_path_inside_refuses_escapes(tmp_path: Path) -> None:
    assert path_inside(tmp_path, "a/b.mp4.safetensors") == tmp_path / "a" / "b.mp4.safetensors"
    for bad in ("../x.mp4", "a/../../x.mp4", "/etc/x.mp4", "a\\..\\x.mp4", "x\x00.mp4"):
        with pytest.raises(UsageError):
            path_inside(tmp_path, bad)
    (tmp_path / "link").symlink_to(tmp_path.parent)
    with pytest.raises(UsageError, match="outside"):
        path_inside(tmp_path, "link/x.safetensors")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_leftovers_of_dead_writers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    dead, live = _dead_pid(), os.getppid()
    gone = [tmp_path / f".results.json.{dead}-a1b2.partial", tmp_path / f".model.{dead}-zz.partial",
            tmp_path / f".model.old.{dead}-q_9.partial"]
    gone[0].write_text("half")
    for d in gone[1:]:
        d.mkdir()
        (d / "model.safetensors").write_bytes(b"half")
    kept = [tmp_path / f".results.json.{live}-c3.partial",  # a concurrent writer's
            tmp_path / ".results.json.oldstyle.partial",    # old form, less than an hour old
            tmp_path / f".other.json.{dead}-d4.partial",    # another name
            tmp_path / "results.json"]
    for p in kept:
        p.write_text("x")
    removed = remove_leftovers(tmp_path, ["results.json", "model"])
    assert sorted(removed) == sorted(gone) and not any(p.exists() for p in gone)
    assert all(p.exists() for p in kept)
    old = kept[1]
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert remove_leftovers(tmp_path, ["results.json"]) == [old]
    assert remove_leftovers(tmp_path) == [kept[2]]  # names=None: every dead writer's


def test_leftovers_in_subfolders_and_symlinks_are_not_followed(tmp_path: Path) -> None:
    dead = _dead_pid()
    (tmp_path / "a" / "b").mkdir(parents=True)
    deep = tmp_path / "a" / "b" / f".v.mp4.safetensors.{dead}-x.partial"
    deep.write_bytes(b"half")
    outside = tmp_path.parent / f"outside-{dead}"
    outside.mkdir(exist_ok=True)
    (outside / "keep").write_text("keep")
    link = tmp_path / f".linked.{dead}-y.partial"
    link.symlink_to(outside, target_is_directory=True)
    assert remove_leftovers(tmp_path) == [link]  # only the link itself, not its target's files
    assert (outside / "keep").exists() and deep.exists()
    assert remove_leftovers(tmp_path, recursive=True) == [deep]


def test_temporary_names_carry_the_writer_pid(tmp_path: Path) -> None:
    seen: list[str] = []
    with atomic_dir(tmp_path / "m") as tmp:
        seen.append(tmp.name)
    assert seen[0].startswith(f".m.{os.getpid()}-") and seen[0].endswith(".partial")
    atomic_write_text(tmp_path / "r.json", "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "r.json"]


def test_json_finite_never_writes_nan() -> None:
    obj = {"loss": float("nan"), "acc": [1.0, float("inf"), -float("inf")], "n": 3, "s": "nan"}
    text = json.dumps(json_finite(obj), allow_nan=False)
    assert json.loads(text) == {"loss": None, "acc": [1.0, None, None], "n": 3, "s": "nan"}
