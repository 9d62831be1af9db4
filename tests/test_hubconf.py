"""hubconf.py: torch.hub's entry points, one per architecture, loaded with ``source="local"``.

``torch.hub.list`` and ``torch.hub.help`` take only GitHub repositories: their download step is
replaced by the clone itself, the rest (importing hubconf.py, listing, docstrings) is torch's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import slowfast_zoo as sz
from slowfast_zoo.registry import ARCHS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clone_as_github(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(torch.hub, "_get_cache_or_reload", lambda *args, **kwargs: str(ROOT))
    return "owner/slowfast_zoo"


def test_hub_lists_every_architecture(clone_as_github: str) -> None:
    assert sorted(torch.hub.list(clone_as_github)) == sorted(ARCHS)


def test_hub_load_builds_the_model_and_help_shows_its_weights(clone_as_github: str) -> None:
    model = torch.hub.load(str(ROOT), "slowfast_r50_4x16x1", source="local", pretrained=False)
    assert isinstance(model, sz.SlowFast) and model.pretrained_cfg.name == "slowfast_r50_4x16x1.k400_320p"
    small = torch.hub.load(str(ROOT), "slowfast_r50_8x8x1_ava", source="local", pretrained=False, num_classes=5)
    assert isinstance(small, sz.SlowFastDetector) and small.num_classes == 5
    text = torch.hub.help(clone_as_github, "slowfast_r50_4x16x1")
    assert "video classifier" in text and "k400_256p" in text and "pretrained" in text
    assert "action detector" in torch.hub.help(clone_as_github, "ptv_slowfast_r50_detection")


@pytest.mark.slow
def test_hub_load_pretrained_goes_through_the_loading_path(ckpt: Path) -> None:
    """``pretrained=True`` with a file: the library's one loading path (here a generated MMAction2 file)."""
    model = torch.hub.load(str(ROOT), "slowfast_r50_4x16x1", source="local", pretrained=True,
                           checkpoint_path=str(ckpt), progress=False)
    direct = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=ckpt, progress=False)
    assert torch.equal(model.fc.weight, direct.fc.weight)
