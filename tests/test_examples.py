"""Tests of examples/ (extract_features.py, finetune.py): mistakes in one line, only public names
imported, outputs only inside --out, counts of what was written, SIGTERM then --resume."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

import slowfast_zoo as sz
from procs import child_env, wait_for
from video_factory import make_video
from weightgen import generate_state_dict, write_mmaction2_checkpoint

ROOT = Path(__file__).resolve().parents[1]




@pytest.mark.slow
def test_examples_answer_mistakes_in_one_line(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("v.mp4\n")
    # extract_features.py is `slowfast-zoo features`: the command's own one-line errors.
    for argv, needle in (([str(tmp_path / "nothing"), "--out", str(tmp_path / "o")], "no such video or folder"),
                         ([str(listing), "--out", str(tmp_path / "o")], "goes with --list")):
        proc = subprocess.run([sys.executable, str(ROOT / "examples" / "extract_features.py"), *argv],
                              capture_output=True, text=True, env=child_env(), timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().startswith("slowfast-zoo: error:") and needle in proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    # The thin finetune example: the library refuses a missing class-folder root before any model.
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "finetune.py"), str(tmp_path / "missing"),
                           str(tmp_path / "run")], capture_output=True, text=True, env=child_env(), timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[-1].startswith("finetune: error:") and "no such folder" in lines[-1], proc.stderr


def test_examples_import_only_public_names() -> None:
    """examples/ show the public API: names a package exports (``__all__``), no private module;
    of ``slowfast_zoo.cli`` only ``main`` (the command itself, for an example that is the command)."""
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
                assert module.count(".") <= 1, (path.name, module)
                if module.startswith("slowfast_zoo.cli"):
                    assert module == "slowfast_zoo.cli" and names == ["main"], (path.name, module, names)
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
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "extract_features.py"), "--list", str(listing),
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
    # A killed earlier run's half-written file (its pid no longer runs) is removed by the next run.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = tmp_path / "feats" / "a" / f".x.mp4.safetensors.{dead.pid}-k9.partial"
    leftover.write_bytes(b"half")
    again = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=600)
    assert "wrote 0 feature files" in again.stdout and "2 already there" in again.stdout
    assert not leftover.exists()


def _small_videos(tmp_path: Path, count: int) -> Path:
    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(count):
        make_video(videos / f"v{i:02d}.mp4", 40, 64, 48, fps=25)
    return videos



@pytest.mark.slow
def test_sigterm_mid_features_keeps_finished_files_and_resume_completes(tmp_path: Path, ckpt: Path) -> None:
    videos = _small_videos(tmp_path, 12)
    out = tmp_path / "feats"
    cmd = [sys.executable, str(ROOT / "examples" / "extract_features.py"), str(videos), "--out", str(out),
           "--weights", str(ckpt), "--clip-len", "32", "--num-clips", "2", "--crop-size", "64",
           "--resize-short-side", "64", "--workers", "0", "--device", "cpu"]
    proc = subprocess.Popen(cmd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: out.is_dir() and len(list(out.glob("*.safetensors"))) >= 2, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
    done = sorted(out.glob("*.safetensors"))
    assert 2 <= len(done) < 12
    assert not list(out.glob(".*partial"))  # nothing half-written
    for path in done:
        sz.weights.readers.read_safetensors(path)  # every finished file is whole
    resumed = subprocess.run(cmd + ["--resume"], env=child_env(), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert len(list(out.glob("*.safetensors"))) == 12


# ------------------------------------------------------------------------- every option checked first (issue 22)
def _example(name: str):
    """An example script as a module (its main() runs in this process: no interpreter start)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def examples(monkeypatch: pytest.MonkeyPatch):
    """The three examples, none able to build a model, load weights or start the job."""
    def refuse(*args, **kwargs):
        raise AssertionError("work was started before the mistake was reported")
    mods = {name: _example(name) for name in ("eval_k400", "extract_features", "finetune")}
    monkeypatch.setattr(sz, "create_model", refuse)
    monkeypatch.setattr("slowfast_zoo.factory.create_model", refuse)  # the feature job's
    monkeypatch.setattr(mods["eval_k400"], "run_evaluation", refuse)
    monkeypatch.setattr(mods["finetune"], "finetune", refuse)
    return mods


def _mistakes(tmp: Path) -> list[tuple[str, list[str], str]]:
    make_video(tmp / "v.mp4", 10, 48, 40, fps=25)
    videos = tmp / "videos"
    videos.mkdir()
    make_video(videos / "a.mp4", 10, 48, 40, fps=25)
    (tmp / "empty").mkdir()
    ann = tmp / "val.txt"
    ann.write_text("v.mp4 3\n")
    afile = tmp / "afile.txt"
    afile.write_text("not a result file, not a training state")
    (tmp / "binary.txt").write_bytes(b"\xff\xfe\x00")
    ev = ["--ann-file", str(ann), "--data-root", str(tmp), "--num-clips", "1", "--num-crops", "1",
          "--clip-len", "8", "--short-side", "32", "--crop-size", "32"]
    fe = [str(videos), "--out", str(tmp / "feats")]
    return [
        ("eval_k400", ev + ["--out", str(tmp / "empty")], "--out"),
        ("eval_k400", ev + ["--workers", "-1"], "--workers"),
        ("eval_k400", ev + ["--device", "cuda:99"], "cuda:99"),
        ("eval_k400", ev + ["--data-format", "rawframes", "--filename-tmpl", "{x}"], "--filename-tmpl"),
        ("eval_k400", ev + ["--out", str(afile), "--resume"], "cannot resume"),
        ("extract_features", [str(videos), "--out", str(afile)], "not a folder"),
        ("extract_features", fe + ["--workers", "-1"], "--workers"),
        ("extract_features", fe + ["--device", "cuda:99"], "cuda:99"),
        ("extract_features", fe + ["--clip-len", "2"], "--clip-len"),
        ("extract_features", fe + ["--stride", "0"], "--stride"),
        ("extract_features", fe + ["--crop-size", "300"], "--crop-size"),
        ("extract_features", fe + ["--weights", str(videos)], "is a folder"),
        ("extract_features", ["--list", str(tmp / "binary.txt"), "--out", str(tmp / "feats")], "not UTF-8"),
        ("extract_features", [str(tmp / "binary.txt"), "--out", str(tmp / "feats")], "goes with --list"),
        ("extract_features", fe + ["--model", "slowfast_r50_4x16x1_ava"], "action detector"),
        ("extract_features", [str(tmp / "empty"), "--out", str(tmp / "feats")], "no video found"),
    ]  # finetune's options are checked by slowfast-zoo finetune (tests/test_cli.py); its example is thin


def test_examples_check_every_option_before_any_work(tmp_path: Path, capsys, examples) -> None:
    for name, argv, needle in _mistakes(tmp_path):
        assert examples[name].main(argv) == 2, (name, argv)
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        prog = "slowfast-zoo" if name == "extract_features" else name  # that example is the command
        assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), (name, argv, err)
        assert needle in lines[0] and "Traceback" not in err, (name, argv, err)


def test_examples_argparse_errors_are_one_line(capsys, examples) -> None:
    for name in examples:
        with pytest.raises(SystemExit) as exit:
            examples[name].main(["--bogus"])
        assert exit.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "error: " in err and "usage:" not in err, (name, err)


def test_eval_example_exits_1_when_nothing_is_selected(tmp_path: Path, capsys, examples) -> None:
    ann = tmp_path / "val.txt"
    ann.write_text("\n")
    assert examples["eval_k400"].main(["--ann-file", str(ann)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "eval_k400: error: nothing evaluated" in err


def test_finetune_example_is_a_thin_call_that_prints_json_per_epoch(tmp_path: Path, capsys, monkeypatch,
                                                                     examples) -> None:
    import json

    seen = []

    def fake_finetune(cfg, *, on_epoch):
        seen.append(cfg)
        on_epoch({"epoch": 1, "loss": float("nan")})
        on_epoch({"epoch": 2, "loss": 0.5, "val": {"top1_acc": 1.0}})
        return {"best": {"epoch": 2, "top1_acc": 1.0, "path": str(tmp_path / "run" / "best.safetensors")}}

    monkeypatch.setattr(examples["finetune"], "finetune", fake_finetune)
    assert examples["finetune"].main([str(tmp_path / "clips"), str(tmp_path / "run"), "--resume",
                                      "--epochs", "2"]) == 0
    cfg = seen[0]
    assert cfg.resume is True and cfg.train_list is None and cfg.data_root == str(tmp_path / "clips")
    assert cfg.val_fraction == 0.1 and cfg.epochs == 2 and cfg.pretrained
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert [json.loads(x) for x in lines] == [{"epoch": 1, "loss": None},
                                              {"epoch": 2, "loss": 0.5, "val": {"top1_acc": 1.0}}]
    assert "NaN" not in out.out and "best.safetensors (epoch 2)" in out.err
