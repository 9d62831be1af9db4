"""Hostile saved models for tests and benchmarks/hostile_sweep.py: a real ``save_pretrained``
folder copied with one ``config.json`` field set to a value that must be refused (issue 22).

Not a test module: ``test_weights_schema.py`` runs each case in-process, the sweep one process each.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: ``config.json`` field -> values that a real model cannot run (types, ranges, overflow,
#: underflow, views too large), each to be refused with a ConfigError naming the field.
BAD_CONFIGS: dict[str, list[Any]] = {
    "num_classes": ["abc", None, 10**12, -1, True],
    "architecture": [["slowfast_r50_4x16x1"], "resnet50", None],
    "fusion_kernel": [-1, 10**5, 4, "7"],
    "test": ["protocol", {"num_clips": 10**9}, {"clip_len": 0}, {"num_crops": 2},
             {"sampling_rule": "2.x"}, {"filename_tmpl": "../{}.jpg"},
             {"clip_len": 3}, {"clip_len": 1024, "crop_size": 4096}],
    "std": [[0, 0, 0], [1, 2], ["a", 1, 1], [1e-310, 1, 1], [1e-40, 1, 1]],
    "mean": [[float("nan"), 0, 0], [float("inf"), 0, 0], [10**400, 0, 0], [1e39, 0, 0]],
    "class_names": ["abc", ["a", "b"], [1, 2, 3]],
    "lateral_norm": ["yes"],
}
CASES: list[tuple[str, Any]] = [(field, value) for field, values in BAD_CONFIGS.items() for value in values]


def with_config_field(saved: Path, folder: Path, field: str, value: Any) -> Path:
    """A copy of the saved model ``saved`` at ``folder`` whose ``config.json`` has ``field = value``."""
    shutil.copytree(saved, folder)
    config = json.loads((folder / "config.json").read_text())
    if isinstance(value, dict) and isinstance(config.get(field), dict):
        value = {**config[field], **value}
    config[field] = value
    # json writes NaN / Infinity as the tokens Python's reader accepts: the hostile file has them.
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def hostile_saved_models(saved: Path, out: Path) -> Iterator[tuple[Path, str]]:
    """Every case of :data:`CASES` as a folder under ``out``: ``(folder, "field=value")``."""
    for i, (field, value) in enumerate(CASES):
        yield with_config_field(saved, out / f"config{i:02d}", field, value), f"{field}={value!r}"[:60]
