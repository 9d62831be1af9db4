"""Helpers shared by the evaluation job tests (classification and AVA): one torch thread, PNG
rawframes, and the records a running job has saved so far.

Import from any test (``tests/`` is on ``sys.path``)::

    from eval_files import one_thread, saved_results, write_png  # one_thread: an autouse fixture

Importing ``one_thread`` into a test module makes it apply to every test of that module.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.io import write_png as _torchvision_write_png

__all__ = ["one_thread", "write_png", "saved_results"]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Small tensors: intra-op threads only add overhead (a lot on a loaded CI machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB uint8 ``[H, W, 3]`` image as a PNG, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # torchvision 0.29 deprecates its image codecs
        warnings.simplefilter("ignore", DeprecationWarning)
        _torchvision_write_png(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).contiguous(), str(path))


def saved_results(path: Path) -> int:
    """How many ``results`` a job's JSON file (result or AVA state file) holds now; 0 while it is
    missing or being replaced."""
    try:
        return len(json.loads(path.read_text()).get("results", []))
    except (OSError, ValueError, AttributeError):
        return 0
