"""Tests of slowfast_zoo.weights.source: hostile Hub ids, revisions and URLs, and bad download
settings, refused before any request is made."""

from __future__ import annotations

from pathlib import Path

import pytest

import slowfast_zoo as sz
from slowfast_zoo.cli import main
from slowfast_zoo.errors import CheckpointError, UsageError
from slowfast_zoo.weights import loader as sources
from video_factory import make_video


@pytest.fixture
def no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any weight load or download fails the test: mistakes must be answered before."""
    def refuse(*args, **kwargs):
        raise AssertionError("weights were loaded before the mistake was reported")
    monkeypatch.setattr(sources, "load_pretrained", refuse)
    monkeypatch.setattr("slowfast_zoo.factory.load_weights", refuse)


def test_hf_hub_revision_traversal_is_refused_before_any_request(loopback_server, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", loopback_server.base_url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    loopback_server.clear()
    for name in ("hf-hub:org/repo@../../../../escape/NAME", "hf-hub:org/repo@v1/../../../escape",
                 "hf-hub:org/repo@/abs", "hf-hub:org/repo@a\\b", "hf-hub:org/repo@x\x00y",
                 "hf-hub:../repo", "hf-hub:org/re..po", "hf-hub:a/b/c"):
        with pytest.raises(UsageError) as e:
            sz.create_model(name)
        msg = str(e.value)
        if "@" in name and "\x00" not in name:
            assert "revision" in msg, msg
        else:
            assert "repository id" in msg or "expected hf-hub" in msg, msg
    assert loopback_server.requests == []
    assert not (tmp_path / "escape").exists() and not any(tmp_path.rglob("escape"))


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x\x00y-12345678.pth",
                                 "http://127.0.0.1:9/" + "a" * 5000 + "-12345678.pth"])
def test_hostile_urls_are_typed_errors(url: str) -> None:
    with pytest.raises(CheckpointError):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)


def test_bad_mirror_and_download_timeout_settings(tmp_path: Path, capsys, no_loading,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    video = make_video(tmp_path / "v.mp4", 10, 48, 40, fps=25)
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", "host:8080")
    assert main(["predict", str(video)]) == 2
    assert "SLOWFAST_ZOO_MIRROR" in capsys.readouterr().err
    monkeypatch.delenv("SLOWFAST_ZOO_MIRROR")
    monkeypatch.setenv("SLOWFAST_ZOO_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(UsageError, match="SLOWFAST_ZOO_DOWNLOAD_TIMEOUT"):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True)
    monkeypatch.delenv("SLOWFAST_ZOO_DOWNLOAD_TIMEOUT")
    with pytest.raises(UsageError, match="download_timeout"):
        sz.create_model("slowfast_r50_4x16x1", pretrained=True, download_timeout=-1)
