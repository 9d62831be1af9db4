"""Tests of slowfast_zoo.tools.cards: MODEL_CARDS.md is generated from the registry and committed up
to date."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from slowfast_zoo.errors import UsageError
from slowfast_zoo.tools.cards import main, render, render_card, reproduce_command
from slowfast_zoo.registry import PRETRAINED, get_arch_spec

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
    t = cfg.test
    if cfg.task == "detection":  # AVA / MultiSports: mAP, the detection protocol, no reproduce command yet
        d = cfg.detection
        for needle in (f"### {name}", cfg.url, f"{cfg.mean_ap:.2f} %", f"{cfg.num_params:,}", f"{cfg.gflops:.3f}",
                       cfg.license, cfg.source_config, cfg.dataset, f"`{d.proposals}`", f"| Evaluator | {d.evaluator} |",
                       f"{d.clip_len} ", f"one in {d.frame_interval}", f"short side resized to {d.resize_short_side}",
                       "no crop", f"{t.score_activation} per box", cfg.notes, "@inproceedings{feichtenhofer2019slowfast"):
            assert needle in card, needle
        assert (f"`{cfg.sha256_prefix}`" if cfg.sha256_prefix else "trust on first use") in card
        with pytest.raises(UsageError, match="does not run"):
            reproduce_command(cfg)
        return
    if t.family != "mmaction2":  # PyTorchVideo / PySlowFast: their own protocol, no hash in the URL
        published = f"{cfg.mean_ap:.2f} %" if cfg.mean_ap is not None else f"{cfg.top1:.2f} / {cfg.top5:.2f} %"
        for needle in (f"### {name}", cfg.url, *cfg.alternative_urls, published, f"{cfg.num_params:,}",
                       f"{cfg.gflops:.3f}", cfg.license, f"configs/{cfg.source_config}.yaml", cfg.dataset,
                       f"{t.num_views} view", f"3x{t.clip_len}x{t.crop_size}x{t.crop_size}",
                       f"{t.score_activation} at every head position", f"combined by {t.view_combination}",
                       "trust on first use", "@inproceedings{feichtenhofer2019slowfast"):
            assert needle in card, needle
        assert ("global average pooling" in card) == cfg.global_pool_head
        if cfg.notes:
            assert cfg.notes in card
        with pytest.raises(UsageError, match="does not run"):
            reproduce_command(cfg)
        return
    crop = "ThreeCrop(256)" if t.num_crops == 3 else "CenterCrop(256)"
    memory = "not published" if cfg.gpu_memory_mb is None else f"{cfg.gpu_memory_mb} MB"
    for needle in (f"### {name}", cfg.url, *cfg.alternative_urls, cfg.sha256_prefix,
                   f"{cfg.top1:.2f} / {cfg.top5:.2f}", f"{cfg.num_params:,}", f"{cfg.gflops:.3f}", memory,
                   cfg.license, f"num_clips={t.num_clips}", f"clip_len={t.clip_len}", crop,
                   f"({t.sampling_rule} rule)", "average_clips='prob'", cfg.source_config,
                   f"MMAction2 {cfg.mmaction2}", cfg.dataset, reproduce_command(cfg),
                   "@inproceedings{feichtenhofer2019slowfast"):
        assert needle in card, needle
    if get_arch_spec(name).lateral_norm:
        assert "lateral_norm" in card
    if cfg.notes:
        assert cfg.notes in card
    fmt = "video" if cfg.train_data == "videos" else "rawframes"
    assert f"--data-format {fmt}" in reproduce_command(cfg)
    assert reproduce_command(cfg, gpus=8, cli=True).startswith("torchrun --nproc_per_node 8 -m slowfast_zoo eval")


def test_cards_group_weights_by_generation():
    text = render()
    zero, later, one, ptv, psf = (text.index(f"\n## {t}\n") for t in (
        "MMAction2 0.x: the Kinetics-400 table", "MMAction2 0.x: later README rows", "MMAction2 1.x",
        "PyTorchVideo zoo", "PySlowFast zoo"))
    assert zero < later < one < ptv < psf
    for name, cfg in PRETRAINED.items():
        at = text.index(f"### {name}\n")
        start, end = {"ptv": (ptv, psf), "psf": (psf, len(text))}.get(
            cfg.test.family, (one, ptv) if cfg.mmaction2 == "1.x" else (zero, one))
        assert start < at < end, name
        assert f"| [{name}](#" in text  # in the summary table


def test_readme_tables_cover_every_weight_by_generation():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    models = readme[readme.index("## Models"):readme.index("## The model contract")]
    one, pysf = models.index("**MMAction2 1.x**"), models.index("**PyTorchVideo and PySlowFast**")

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    for name, cfg in PRETRAINED.items():
        row = f"| `{name}`"
        assert row in models, name
        at = models.index(row)
        assert (at > pysf) == (cfg.test.family != "mmaction2"), name
        assert (one < at < pysf) == (cfg.mmaction2 == "1.x"), name
        line = models[at:].splitlines()[0]
        if cfg.task == "detection":  # the detectors' tables: mAP and evaluator
            assert f"| {cfg.mean_ap:.2f} | {cfg.detection.evaluator} |" in line, name
            continue
        assert f"{num(cfg.top1)} | {num(cfg.top5)}" in line, name
        if cfg.test.family != "mmaction2":
            assert f"| {num(cfg.mean_ap)} |" in line and cfg.url.split("dl.fbaipublicfiles.com/")[1] in line, name
