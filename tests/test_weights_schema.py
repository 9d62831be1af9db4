"""Tests of slowfast_zoo.weights.schema: hostile saved-model configs and safetensors metadata fail
with one error naming the field, before anything large is built (issue 13)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import slowfast_zoo as sz
from slowfast_zoo.errors import CheckpointError, ConfigError
from hostile_models import CASES, with_config_field

# The child's own peak RSS in kB: VmHWM starts afresh at exec (ru_maxrss would carry the
# forking pytest process's peak over).
_PEAK = "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))"


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = sz.create_model("slowfast_r50_4x16x1", num_classes=3)
    return sz.save_pretrained(model, tmp_path_factory.mktemp("saved") / "model")




@pytest.mark.parametrize("field,value", CASES, ids=[f"{f}={v!r}"[:40] for f, v in CASES])
def test_hostile_config_field_fails_naming_the_field(saved: Path, tmp_path: Path, field: str, value) -> None:
    folder = with_config_field(saved, tmp_path / "m", field, value)
    with pytest.raises(ConfigError) as e:
        sz.create_model(f"local-dir:{folder}")
    assert repr(field) in str(e.value) or f"'{field}." in str(e.value)


@pytest.mark.slow
@pytest.mark.parametrize("field,value", [("fusion_kernel", 10**5), ("num_classes", 10**12),
                                         ("test", {"num_clips": 10**9})])
def test_hostile_config_allocates_nothing_big(saved: Path, tmp_path: Path, field: str, value) -> None:
    """Measured in a child process: the error comes before any model is built (a kernel of
    100000 used to cost 4.6 GB before failing)."""
    folder = tmp_path / "m"
    shutil.copytree(saved, folder)
    config = json.loads((folder / "config.json").read_text())
    config[field] = value
    (folder / "config.json").write_text(json.dumps(config))
    code = ("import slowfast_zoo as sz\n"
            "from slowfast_zoo.errors import ConfigError\n"
            f"try:\n    sz.create_model('local-dir:{folder}')\nexcept ConfigError as e:\n    print('ConfigError', e)\n"
            f"{_PEAK}")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ConfigError" in out.stdout, out.stdout + out.stderr
    assert int(out.stdout.split()[-1]) < 1024 * 1024  # kB: well under 1 GB (torch itself included)


@pytest.mark.parametrize("text", ["5", "[]", "null", "[" * 100000 + "]" * 100000, "{not json", ""])
def test_config_that_is_not_an_object(saved: Path, tmp_path: Path, text: str) -> None:
    folder = tmp_path / "m"
    shutil.copytree(saved, folder)
    (folder / "config.json").write_text(text)
    with pytest.raises(CheckpointError):
        sz.create_model(f"local-dir:{folder}")


@pytest.mark.slow
def test_hostile_safetensors_metadata(saved: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    from slowfast_zoo.weights.readers import read_safetensors

    sd = load_file(str(saved / "model.safetensors"))
    for meta, field in (({"class_names": '"abc"'}, "class_names"), ({"fusion_kernel": "100000"}, "fusion_kernel"),
                        ({"num_classes": "3", "class_names": '["a"]'}, "class_names"),
                        ({"architecture": "x"}, "architecture"), ({"lateral_norm": "maybe"}, "lateral_norm")):
        path = tmp_path / "w.safetensors"
        save_file(sd, str(path), metadata={"format": "pt", **meta})
        with pytest.raises(ConfigError, match=repr(field)):
            read_safetensors(path)
