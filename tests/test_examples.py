"""Tests of examples/ (extract_features.py, finetune.py): mistakes in one line, only public names
imported, outputs only inside --out, counts of what was written, SIGTERM then --resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import slowfast_zoo as sz
from video_factory import make_video
from weightgen import generate_state_dict, write_mmaction2_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mmaction2_checkpoint(generate_state_dict("r50_4x16x1"), tmp_path_factory.mktemp("ck"), "gen")


@pytest.mark.slow
def test_examples_answer_mistakes_in_one_line(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.mp4", 10, 48, 40, fps=25)
    for argv, needle in (([str(tmp_path / "nothing"), "--out", str(tmp_path / "o")], "no such folder"),
                         ([str(video), "--out", str(tmp_path / "o")], "is a video")):
        proc = subprocess.run([sys.executable, str(ROOT / "examples" / "extract_features.py"), *argv],
                              capture_output=True, text=True, env=_env(), timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().startswith("extract_features: error:") and needle in proc.stderr
        assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "finetune.py"), "--train-list",
                           str(tmp_path / "missing.txt"), "--out-dir", str(tmp_path / "run")],
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 2 and "finetune: error:" in proc.stderr and "Traceback" not in proc.stderr


def test_examples_import_only_public_names() -> None:
    """examples/ show the public API: names a package exports (``__all__``), no private module,
    no ``slowfast_zoo.cli``."""
    import ast
    import importlib

    for path in sorted((ROOT / "examples").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                mods = [(a.name, []) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods = [(node.module, [a.name for a in node.names])]
            else:
                continue
            for module, names in mods:
                if module.split(".")[0] != "slowfast_zoo":
                    continue
                assert module.count(".") <= 1 and not module.startswith("slowfast_zoo.cli"), (path.name, module)
                assert not any(part.startswith("_") for part in module.split(".")), (path.name, module)
                exported = set(importlib.import_module(module).__all__)
                assert set(names) <= exported, (path.name, module, set(names) - exported)


# ------------------------------------------------------------------------- examples/extract_features.py
@pytest.mark.slow
def test_extract_features_example_writes_only_inside_out(tmp_path: Path) -> None:
    videos = tmp_path / "data" / "videos"
    (videos / "sub").mkdir(parents=True)
    make_video(videos / "sub" / "ok.mp4", 20, 48, 40, fps=25)
    make_video(tmp_path / "data" / "outside.mp4", 20, 48, 40, fps=25)
    (videos / "broken.mp4").write_bytes((videos / "sub" / "ok.mp4").read_bytes()[:300])
    listing = videos / "list.txt"
    listing.write_text(f"sub/ok.mp4 0\n../outside.mp4 0\n{tmp_path / 'data' / 'outside.mp4'} 0\nbroken.mp4 0\n")
    ckpt = write_mmaction2_checkpoint(generate_state_dict("r50_4x16x1"), tmp_path / "ckpt", "gen")
    out = tmp_path / "feats"
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "extract_features.py"), str(listing),
                           "--out", str(out), "--checkpoint", str(ckpt), "--clip-len", "8", "--num-clips", "1",
                           "--crop-size", "32", "--resize-short-side", "32", "--workers", "0",
                           "--device", "cpu"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr  # something was skipped
    assert "refused" in proc.stderr and "../outside.mp4" in proc.stderr
    assert "skipped" in proc.stderr and "broken.mp4" in proc.stderr
    written = sorted(str(p) for p in tmp_path.rglob("*") if str(p) not in before)
    assert all(w.startswith(str(out)) or w.startswith(str(tmp_path / "ckpt")) for w in written), written
    assert (out / "sub" / "ok.mp4.safetensors").is_file()
    assert not (tmp_path / "data" / "outside.mp4.safetensors").exists()


@pytest.mark.slow
def test_extract_features_counts_videos_and_says_what_it_wrote(tmp_path: Path) -> None:
    from weightgen import generate_state_dict, write_mmaction2_checkpoint

    videos = tmp_path / "videos"
    (videos / "a").mkdir(parents=True)
    make_video(videos / "a" / "x.mp4", 70, 64, 48, fps=30)
    make_video(videos / "y.mp4", 70, 64, 48, fps=30)
    ckpt = write_mmaction2_checkpoint(generate_state_dict("r50_4x16x1"), tmp_path / "w", "slowfast_r50")
    cmd = [sys.executable, str(ROOT / "examples" / "extract_features.py"), str(videos), "--out", str(tmp_path / "feats"),
           "--weights", str(ckpt), "--stride", "32", "--crop-size", "64", "--resize-short-side", "64",
           "--workers", "0"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "wrote 2 feature files to" in run.stdout and "(0 skipped, 0 already there)" in run.stdout
    assert (tmp_path / "feats" / "a" / "x.mp4.safetensors").is_file()
    again = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=600)
    assert "wrote 0 feature files" in again.stdout and "2 already there" in again.stdout


def _small_videos(tmp_path: Path, count: int) -> Path:
    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(count):
        make_video(videos / f"v{i:02d}.mp4", 40, 64, 48, fps=25)
    return videos


def _wait_for(predicate, proc: subprocess.Popen, limit_s: float = 300) -> None:
    end = time.monotonic() + limit_s
    while time.monotonic() < end and proc.poll() is None and not predicate():
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"


@pytest.mark.slow
def test_sigterm_mid_features_keeps_finished_files_and_resume_completes(tmp_path: Path, ckpt: Path) -> None:
    videos = _small_videos(tmp_path, 12)
    out = tmp_path / "feats"
    cmd = [sys.executable, str(ROOT / "examples" / "extract_features.py"), str(videos), "--out", str(out),
           "--weights", str(ckpt), "--clip-len", "32", "--num-clips", "2", "--crop-size", "64",
           "--resize-short-side", "64", "--workers", "0", "--device", "cpu"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: out.is_dir() and len(list(out.glob("*.safetensors"))) >= 2, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
    done = sorted(out.glob("*.safetensors"))
    assert 2 <= len(done) < 12
    assert not list(out.glob(".*partial"))  # nothing half-written
    for path in done:
        sz.weights.readers.read_safetensors(path)  # every finished file is whole
    resumed = subprocess.run(cmd + ["--resume"], env=_env(), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert len(list(out.glob("*.safetensors"))) == 12
