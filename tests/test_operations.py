"""Operations (issue 14): signals keep finished work, downloads have deadlines and a lock, and the
command line answers mistakes in one line before loading any weight."""

from __future__ import annotations

import http.server
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

import slowfast_zoo as sz
from slowfast_zoo.cli import main
from slowfast_zoo.errors import DownloadError, UsageError
from slowfast_zoo.weights import download as download_mod
from slowfast_zoo.weights import loader as sources
from video_factory import make_video
from weightgen import generate_state_dict, write_mmaction2_checkpoint

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--num-clips", "1", "--num-crops", "1", "--clip-len", "8", "--short-side", "32", "--crop-size", "32"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mmaction2_checkpoint(generate_state_dict("r50_4x16x1"), tmp_path_factory.mktemp("ck"), "gen")


@pytest.fixture
def no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any weight load or download fails the test: mistakes must be answered before."""
    def refuse(*args, **kwargs):
        raise AssertionError("weights were loaded before the mistake was reported")
    monkeypatch.setattr(sources, "load_pretrained", refuse)
    monkeypatch.setattr("slowfast_zoo.factory.load_weights", refuse)


# ------------------------------------------------------------------------- the command line
def _bad_invocations(tmp: Path) -> list[tuple[list[str], str]]:
    video = make_video(tmp / "v.mp4", 10, 48, 40, fps=25)
    bad_ann = tmp / "bad.txt"
    bad_ann.write_text("v.mp4 3\nv.mp4 notalabel\n")
    ann = tmp / "good.txt"
    ann.write_text("v.mp4 3\n")
    return [
        (["predict", "/nonexistent/video.mp4"], "/nonexistent/video.mp4"),
        (["predict", str(video), "--topk", "0"], "--topk"),
        (["predict", str(video), "--window", "0"], "--window"),
        (["predict", str(video), "--window", "2", "--stride", "-1"], "--stride"),
        (["predict", str(video), "--stride", "1"], "--stride needs --window"),
        (["predict", str(video), "--views-per-batch", "0"], "--views-per-batch"),
        (["predict", str(video), "--device", "bogus"], "bogus"),
        (["predict", str(video), "--views", "7"], "--views"),
        (["predict", str(video), "--weights", str(tmp / "missing.pth")], "--weights"),
        (["predict", str(video), "--model", "slowfast_r50"], "Did you mean"),
        (["export", "slowfast_r50_4x16x1", "--format", "onnx", "-o", str(tmp / "m.onnx"), "--size", "16"], "--size"),
        (["export", "slowfast_r50_4x16x1", "--format", "onnx", "-o", str(tmp / "no" / "m.onnx")], "does not exist"),
        (["eval", "--ann-file", str(tmp / "missing.txt"), *SMALL], "missing.txt"),
        (["eval", "--ann-file", str(bad_ann), "--data-root", str(tmp), *SMALL], f"{bad_ann}:2"),
        (["eval", "--ann-file", str(ann), "--data-root", str(tmp), "--resume", *SMALL], "--resume needs --out"),
        (["eval", "--ann-file", str(ann), "--clip-len", "2", "--short-side", "32", "--crop-size", "32"],
         "--clip-len"),
        (["eval", "--ann-file", str(ann), "--views-per-batch", "0", *SMALL], "--views-per-batch"),
        (["eval", "--ann-file", str(ann), "--device", "bogus", *SMALL], "bogus"),
    ]


def test_mistakes_are_one_line_exit_2_before_any_weight(tmp_path: Path, capsys, no_loading) -> None:
    for argv, needle in _bad_invocations(tmp_path):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("slowfast-zoo: error: "), (argv, err)
        assert needle in lines[0], (argv, err)
        assert "Traceback" not in err and "download" not in err.lower(), (argv, err)


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


def test_cli_names_its_own_option_for_the_weights(tmp_path: Path, capsys, closed_port: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    video = make_video(tmp_path / "v.mp4", 10, 48, 40, fps=25)
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", f"http://127.0.0.1:{closed_port}")
    assert main(["predict", str(video)]) == 2
    err = capsys.readouterr().err
    assert "--weights" in err and "checkpoint_path=" not in err
    with pytest.raises(DownloadError, match="checkpoint_path="):  # Python callers see theirs
        sz.create_model("slowfast_r50_4x16x1", pretrained=True)


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


def test_eval_exits_1_when_no_video_was_evaluated(tmp_path: Path, ckpt: Path, capsys) -> None:
    (tmp_path / "broken.mp4").write_bytes(b"not a video" * 100)
    ann = tmp_path / "val.txt"
    ann.write_text("broken.mp4 0\n")
    assert main(["eval", "--weights", str(ckpt), "--ann-file", str(ann), "--data-root", str(tmp_path),
                 *SMALL, "--no-progress"]) == 1
    assert "no video could be evaluated" in capsys.readouterr().err


def test_low_precision_on_a_cpu_without_it_warns(tmp_path: Path, capsys, no_loading,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("slowfast_zoo.inference.device.native_low_precision", lambda name: False)
    video = make_video(tmp_path / "v.mp4", 10, 48, 40, fps=25)
    with pytest.raises(AssertionError, match="weights were loaded"):
        main(["predict", str(video), "--dtype", "bf16", "--device", "cpu"])
    assert "warning: --dtype bf16" in capsys.readouterr().err


def test_views_progress_bar_draws_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    model = sz.inference.prepare_model(sz.create_model("slowfast_r50_4x16x1"), device="cpu")
    sz.inference.run_views(model, torch.zeros(4, 3, 8, 32, 32), views_per_batch=2, progress=True)
    assert "views" in tty.getvalue()
    quiet = Tty()
    monkeypatch.setattr(sys, "stderr", quiet)
    sz.inference.run_views(model, torch.zeros(2, 3, 8, 32, 32))
    assert quiet.getvalue() == ""  # quiet by default in library calls


# ------------------------------------------------------------------------- signals
def _small_videos(tmp_path: Path, count: int) -> Path:
    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(count):
        make_video(videos / f"v{i:02d}.mp4", 40, 64, 48, fps=25)
    return videos


def test_sigterm_mid_eval_then_resume_gives_the_uninterrupted_result(tmp_path: Path, ckpt: Path) -> None:
    videos = _small_videos(tmp_path, 16)
    ann = tmp_path / "val.txt"
    ann.write_text("".join(f"v{i:02d}.mp4 {i % 4}\n" for i in range(16)))
    base = [sys.executable, "-m", "slowfast_zoo", "eval", "--weights", str(ckpt), "--ann-file", str(ann),
            "--data-root", str(videos), "--num-clips", "2", "--num-crops", "1", "--clip-len", "32",
            "--short-side", "64", "--crop-size", "64", "--no-progress", "--device", "cpu"]
    full = tmp_path / "full.json"
    assert subprocess.run(base + ["--out", str(full)], env=_env(), capture_output=True, timeout=600).returncode == 0

    part = tmp_path / "part.json"
    proc = subprocess.Popen(base + ["--out", str(part), "--save-every", "0.05"], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            done = len(json.loads(part.read_text()).get("results", []))
        except (OSError, ValueError):
            done = 0
        if done >= 2 or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    saved = json.loads(part.read_text())
    assert 2 <= len(saved["results"]) < 16 and saved.get("complete") is not True
    resumed = subprocess.run(base + ["--out", str(part), "--resume"], env=_env(), capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    a, b = json.loads(full.read_text()), json.loads(part.read_text())
    assert a["results"] == b["results"] and a["metrics"] == b["metrics"]


# ------------------------------------------------------------------------- downloads
class _Drip(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(1000):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


def test_drip_feeding_server_hits_the_deadline(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/slow_20200101-12345678.pth"
        t = time.monotonic()
        with pytest.raises(DownloadError) as e:
            sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url, download_timeout=1.5)
        assert time.monotonic() - t < 10
    finally:
        server.shutdown()
        server.server_close()
    msg = str(e.value)
    assert "did not finish within 1.5 s" in msg
    got = int(msg.split(" of 1000 bytes")[0].rsplit("(", 1)[1])
    assert 1 <= got < 1000  # the bytes that did arrive are counted
    cache = download_mod.get_cache_dir()
    assert not (list(cache.iterdir()) if cache.exists() else [])  # no partial file left


def test_leftovers_of_a_killed_download_are_removed(loopback_server, ckpt: Path, tmp_path: Path) -> None:
    served = loopback_server.root / "ops" / ckpt.name
    served.parent.mkdir(exist_ok=True)
    if not served.exists():
        served.symlink_to(ckpt)
    cache = download_mod.get_cache_dir()
    cache.mkdir(parents=True)
    stale = [cache / f".{ckpt.name}.abc123{download_mod.PARTIAL_SUFFIX}",
             cache / f".{ckpt.name[:-4]}.slowfast_zoo.safetensors.x9{download_mod.PARTIAL_SUFFIX}"]
    other = cache / ".someone_elses_file.partial"
    for p in stale + [other]:
        p.write_bytes(b"half")
    sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=loopback_server.url(served))
    assert not any(p.exists() for p in stale) and other.exists()


def test_two_processes_download_the_same_url_once(loopback_server, ckpt: Path, tmp_path: Path) -> None:
    served = loopback_server.root / "ops2" / ckpt.name
    served.parent.mkdir(exist_ok=True)
    if not served.exists():
        served.symlink_to(ckpt)
    loopback_server.clear()
    env = {**_env(), "TORCH_HOME": str(tmp_path / "shared_home")}
    code = ("import slowfast_zoo as sz; "
            f"sz.create_model('slowfast_r50_4x16x1', pretrained=True, checkpoint_path={loopback_server.url(served)!r}); "
            "print('ok')")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert loopback_server.requests.count(f"/ops2/{ckpt.name}") == 1
    cache = tmp_path / "shared_home" / "hub" / "checkpoints"
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [ckpt.name, ckpt.name[:-4] + ".slowfast_zoo.safetensors"])


def _wait_for(predicate, proc: subprocess.Popen, limit_s: float = 300) -> None:
    end = time.monotonic() + limit_s
    while time.monotonic() < end and proc.poll() is None and not predicate():
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"


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


def test_sigterm_mid_finetune_then_resume_finishes(tmp_path: Path, ckpt: Path) -> None:
    for i in range(4):
        make_video(tmp_path / f"v{i}.mp4", 20, 40, 40, fps=25)
    (tmp_path / "train.txt").write_text("".join(f"v{i}.mp4 {i % 2}\n" for i in range(4)))
    run = tmp_path / "run"
    cmd = [sys.executable, str(ROOT / "examples" / "finetune.py"), "--train-list", str(tmp_path / "train.txt"),
           "--data-root", str(tmp_path), "--out-dir", str(run), "--weights", str(ckpt), "--epochs", "40",
           "--batch-size", "2", "--clip-len", "8", "--resize-short-side", "32", "--crop-size", "32",
           "--freeze-stages", "3", "--workers", "0", "--no-progress", "--device", "cpu"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: (run / "training_state.pt").is_file(), proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
    lines = (run / "log.jsonl").read_text().splitlines()
    assert 1 <= len(lines) < 40
    resumed = subprocess.run(cmd + ["--resume", "--stop-after", str(len(lines) + 1)], env=_env(),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert len((run / "log.jsonl").read_text().splitlines()) == len(lines) + 1
