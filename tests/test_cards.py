"""MODEL_CARDS.md is generated from the registry and committed up to date."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from slowfast_zoo.tools.cards import main, render, render_card, reproduce_command
from slowfast_zoo.registry import PRETRAINED

ROOT = Path(__file__).resolve().parents[1]
CARDS = ROOT / "MODEL_CARDS.md"


def test_committed_file_equals_generator_output():
    assert CARDS.read_text(encoding="utf-8") == render(), \
        "MODEL_CARDS.md is stale: run `python -m slowfast_zoo.tools.cards` in the repository root"


def test_check_flag(tmp_path, capsys):
    assert main(["--check", "--output", str(CARDS)]) == 0
    stale = tmp_path / "MODEL_CARDS.md"
    stale.write_text(render().replace("74.75", "74.76"))
    assert main(["--check", "--output", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["--check", "--output", str(tmp_path / "missing.md")]) == 1
    assert main(["--output", str(stale)]) == 0 and stale.read_text() == render()
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(stale.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600


def test_module_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "slowfast_zoo.tools.cards", "--check", "--output", str(CARDS)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("name", list(PRETRAINED))
def test_card_carries_the_registry_record(name):
    cfg = PRETRAINED[name]
    card = render_card(cfg)
    for needle in (f"## {name}", cfg.url, cfg.sha256_prefix, f"{cfg.top1:.2f} / {cfg.top5:.2f}",
                   f"{cfg.num_params:,}", f"{cfg.gflops:.3f}", f"{cfg.gpu_memory_mb} MB", cfg.license,
                   "num_clips=10", "ThreeCrop(256)", "average_clips='prob'", cfg.source_config,
                   reproduce_command(cfg), "@inproceedings{feichtenhofer2019slowfast"):
        assert needle in card, needle
    if cfg.notes:
        assert cfg.notes in card
    fmt = "video" if cfg.train_data == "videos" else "rawframes"
    assert f"--data-format {fmt}" in reproduce_command(cfg)
    assert reproduce_command(cfg, gpus=8, cli=True).startswith("torchrun --nproc_per_node 8 -m slowfast_zoo eval")
