"""README.md's Python blocks run as pasted (issue 16), offline.

Each ```python block of README.md runs in a fresh namespace, in a temporary folder that holds a
generated ``video.mp4``. ``create_model(..., pretrained=True)`` of a registered name cannot
download here, so it gets a generated checkpoint written in MMAction2's format (the real
conversion path) through ``checkpoint_path``; everything else is the library as users call it.
A block preceded by ``<!-- readme-test: skip (why) -->`` needs what a test cannot have (a Hub
account); there are at most two.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import slowfast_zoo as sz
from video_factory import make_video
from weightgen import detection_state_dict, generate_state_dict, write_mmaction2_checkpoint, write_mmengine_checkpoint

README = Path(__file__).resolve().parents[1] / "README.md"
_SKIP = re.compile(r"<!--\s*readme-test:\s*skip\b")


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """``(line number, code, skipped)`` of every ```python block."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start = i + 1
            end = next(j for j in range(start, len(lines)) if lines[j].strip() == "```")
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            blocks.append((start + 1, "\n".join(lines[start:end]) + "\n", bool(_SKIP.search(before))))
            i = end
        i += 1
    return blocks


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_readme_has_runnable_blocks() -> None:
    assert len(BLOCKS) >= 5 and sum(skipped for *_, skipped in BLOCKS) <= 2


@pytest.fixture(scope="module")
def r50_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mmaction2_checkpoint(generate_state_dict("r50_4x16x1"), tmp_path_factory.mktemp("w"),
                                      "slowfast_r50_readme")


@pytest.fixture(scope="module")
def ava_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mmengine_checkpoint(detection_state_dict("mm_r50_4x16x1"), tmp_path_factory.mktemp("w"),
                                     "slowfast_r50_ava_readme")


@pytest.mark.slow
@pytest.mark.parametrize("line,code", [(n, c) for n, c, skipped in BLOCKS if not skipped],
                         ids=[f"README.md:{n}" for n, _, skipped in BLOCKS if not skipped])
def test_readme_block_runs(line: int, code: str, r50_checkpoint: Path, ava_checkpoint: Path, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    make_video(tmp_path / "video.mp4", 70, 64, 48, fps=30)
    monkeypatch.chdir(tmp_path)
    real = sz.create_model

    def offline_create_model(name, pretrained=False, **kwargs):
        if pretrained and kwargs.get("checkpoint_path") is None and ":" not in name:
            files = {"slowfast_r50_4x16x1": r50_checkpoint, "slowfast_r50_4x16x1_ava": ava_checkpoint}
            assert name.split(".")[0] in files, f"README.md:{line}: no generated file for {name}"
            kwargs["checkpoint_path"] = files[name.split(".")[0]]
        return real(name, pretrained=pretrained, **kwargs)

    monkeypatch.setattr(sz, "create_model", offline_create_model)
    exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__readme__"})
    capsys.readouterr()


def test_contract_block_shapes_are_what_it_says(r50_checkpoint: Path) -> None:
    import torch

    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, num_classes=10,
                            checkpoint_path=r50_checkpoint).eval()
    with torch.inference_mode():
        slow, fast = model.forward_features(torch.randn(2, 3, 32, 64, 64))
        emb = model.forward_head((slow, fast), pre_logits=True)
    assert (tuple(slow.shape), tuple(fast.shape), tuple(emb.shape)) == ((2, 2048, 4, 2, 2), (2, 256, 32, 2, 2), (2, 2304))
    text = README.read_text(encoding="utf-8")
    assert "[2, 2048, 4, 2, 2] (T / tau), [2, 256, 32, 2, 2] (T)" in text
