"""Tests of slowfast_zoo.weights.readers: mmengine checkpoints read without building their objects,
legacy (pre-zip, numpy 1) files, and local checkpoint paths that cannot be read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import slowfast_zoo as sz
import weightgen
from slowfast_zoo.errors import CheckpointError
from weightgen import LN, Files
from test_weights_loader import assert_golden, assert_weights_equal, rename_to_true_hash
from weightgen import Checkpoints




@pytest.fixture(autouse=True)
def no_constructions() -> Iterator[None]:
    weightgen.CONSTRUCTED.clear()
    yield
    weightgen.CONSTRUCTED.clear()


@pytest.mark.slow
def test_mmengine_objects_never_importable(files: Files) -> None:
    """Without mmengine installed (the usual case) the same file loads all the same."""
    model = sz.create_model("slowfast_r50_8x8x1_ln", pretrained=True,
                            checkpoint_path=files.file("ln_mmengine_training"))
    assert_golden(model, LN)


@pytest.mark.slow
def test_legacy_format_with_numpy_meta(ckpts: Checkpoints, tmp_path: Path) -> None:
    """2020-era files may be torch's pre-1.6 (non-zip) format, and meta may hold numpy scalars
    pickled by numpy 1 (``numpy.core.multiarray.scalar``): both must load, still weights-only."""
    path = tmp_path / "legacy.pth"
    meta = {"epoch": 256, "seed": np.int64(0), "best_score": np.float64(0.7475), "arr": np.arange(3)}
    torch.save({"meta": meta, "state_dict": ckpts.state_dict("r50_4x16x1")}, path,
               _use_new_zipfile_serialization=False)
    # Protocol-2 GLOBAL opcodes are newline-terminated: respell numpy 2's module as numpy 1's.
    data = path.read_bytes()
    assert b"cnumpy._core.multiarray\n" in data
    path.write_bytes(data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))
    path = rename_to_true_hash(path, "legacy_20200728")
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=path)
    assert_weights_equal(model, ckpts.state_dict("r50_4x16x1"))


@pytest.mark.parametrize("name", ["x\x00.pth", "a" * 5000 + ".pth"])
def test_hostile_checkpoint_paths_are_typed_errors(tmp_path: Path, name: str) -> None:
    with pytest.raises(CheckpointError):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=str(tmp_path / name))


def test_checkpoint_symlink_loop_is_reported_as_such(tmp_path: Path) -> None:
    (tmp_path / "a.pth").symlink_to(tmp_path / "b.pth")
    (tmp_path / "b.pth").symlink_to(tmp_path / "a.pth")
    with pytest.raises(CheckpointError, match="symbolic link loop"):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=tmp_path / "a.pth")
