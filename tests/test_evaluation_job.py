"""Tests of slowfast_zoo.evaluation.job (run_evaluation, behind `slowfast-zoo eval`): the weight's
own protocol and rawframe template, and SIGTERM mid-run then --resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import slowfast_zoo as sz
from slowfast_zoo.cli import main as cli_main
from slowfast_zoo.errors import UsageError
from eval_files import saved_results
from procs import child_env, wait_for
from weightgen import Files
from video_factory import make_video

ROOT = Path(__file__).resolve().parents[1]





def test_eval_protocol_follows_the_weights_rule() -> None:
    import argparse

    from slowfast_zoo.cli.eval import _protocol

    args = argparse.Namespace(clip_len=None, frame_interval=None, num_clips=None, num_crops=None,
                              short_side=None, crop_size=None, average_clips=None, start_index=None,
                              data_format="video")
    for name, rule in (("slowfast_r101_8x8x1.k400_mm1", "1.x"), ("slowfast_r101_8x8x1", "0.x")):
        protocol, tf = _protocol(sz.get_pretrained_cfg(name), args)
        assert protocol["sampling_rule"] == tf.sampling_rule == rule and protocol["published"]


def _rawframes(folder: Path, n: int, tmpl: str, hw: tuple[int, int] = (48, 64)) -> Path:
    from torchvision.io import encode_jpeg

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, n + 1):
        img = torch.from_numpy(rng.integers(0, 256, (3, *hw), dtype=np.uint8))
        (folder / tmpl.format(i)).write_bytes(encode_jpeg(img).numpy().tobytes())
    return folder


@pytest.mark.slow
def test_eval_uses_the_weights_own_rawframe_template(files: Files, tmp_path: Path, capsys) -> None:
    for i in (1, 2):
        _rawframes(tmp_path / "frames" / f"c{i}", 20, "{:05}.jpg")
    ann = tmp_path / "val.txt"
    ann.write_text("c1 20 5\nc2 20 7\n")
    out = tmp_path / "res.json"
    assert cli_main(["eval", "--model", "slowfast_r50_16x8x1", "--weights", str(files.file("sthv1_0x")),
                     "--ann-file", str(ann), "--data-root", str(tmp_path / "frames"),
                     "--data-format", "rawframes", "--short-side", "64", "--crop-size", "64",
                     "--out", str(out), "--no-progress"]) == 0
    result = json.loads(out.read_text())
    assert result["counts"]["evaluated"] == 2 and result["counts"]["skipped"] == 0
    assert result["protocol"]["num_views"] == 1 and result["protocol"]["clip_len"] == 64
    assert result["protocol"]["sampling_rule"] == "0.x"
    assert len(result["class_names"]) == 174
    from slowfast_zoo.data.labels import read_label_map

    with pytest.raises(UsageError):
        read_label_map(ann, 174)


def _small_videos(tmp_path: Path, count: int) -> Path:
    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(count):
        make_video(videos / f"v{i:02d}.mp4", 40, 64, 48, fps=25)
    return videos


@pytest.mark.slow
def test_sigterm_mid_eval_then_resume_gives_the_uninterrupted_result(tmp_path: Path, ckpt: Path) -> None:
    videos = _small_videos(tmp_path, 16)
    ann = tmp_path / "val.txt"
    ann.write_text("".join(f"v{i:02d}.mp4 {i % 4}\n" for i in range(16)))
    base = [sys.executable, "-m", "slowfast_zoo", "eval", "--weights", str(ckpt), "--ann-file", str(ann),
            "--data-root", str(videos), "--num-clips", "2", "--num-crops", "1", "--clip-len", "32",
            "--short-side", "64", "--crop-size", "64", "--no-progress", "--device", "cpu"]
    full = tmp_path / "full.json"
    assert subprocess.run(base + ["--out", str(full)], env=child_env(), capture_output=True, timeout=600).returncode == 0

    part = tmp_path / "part.json"
    proc = subprocess.Popen(base + ["--out", str(part), "--save-every", "0.05"], env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: saved_results(part) >= 2, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    saved = json.loads(part.read_text())
    assert 2 <= len(saved["results"]) < 16 and saved.get("complete") is not True
    resumed = subprocess.run(base + ["--out", str(part), "--resume"], env=child_env(), capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    a, b = json.loads(full.read_text()), json.loads(part.read_text())
    assert a["results"] == b["results"] and a["metrics"] == b["metrics"]
