"""Tests of slowfast_zoo.cli, the slowfast-zoo command line: list / info, help texts and global
options, mistakes answered in one line before any weight is loaded, label maps, fine-tuned files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import slowfast_zoo as sz
from slowfast_zoo.cli import build_parser, main
from slowfast_zoo.cli import main as cli_main
from slowfast_zoo.errors import DownloadError
from slowfast_zoo.training.checkpoints import save_weights
from slowfast_zoo.weights import loader as sources
from test_weights_checkpoints import Files
from video_factory import make_video
from weightgen import generate_state_dict, write_mmaction2_checkpoint

SMALL = ["--num-clips", "1", "--num-crops", "1", "--clip-len", "8", "--short-side", "32", "--crop-size", "32"]


def test_list(capsys):
    assert main(["list"]) == 0
    assert capsys.readouterr().out.split() == sz.list_models()
    assert main(["list", "*r50*", "--pretrained"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [l.split()[0] for l in lines] == sz.list_models("*r50*", pretrained=True)
    assert "74.75" in next(l for l in lines if l.startswith("slowfast_r50_4x16x1.k400_256p"))


def test_info(capsys):
    assert main(["info", "slowfast_r50_8x8x1.k400_256p"]) == 0
    out = capsys.readouterr().out
    assert "863812c2" in out and "kernel 5" in out and "75.61 / 92.34" in out
    assert main(["info", "slowfast_r101_8x8x1", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["name"] == "slowfast_r101_8x8x1.k400_256p" and "class_names" not in record


def test_unknown_name_is_a_clear_error(capsys):
    assert main(["info", "slowfast_r50_4x16"]) == 2
    err = capsys.readouterr().err
    assert "Unknown model name 'slowfast_r50_4x16'" in err and "slowfast_r50_4x16x1" in err


@pytest.mark.slow
def test_console_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "slowfast_zoo", "list"], capture_output=True,
                         text=True, check=True).stdout
    assert "slowfast_r152_r50_4x16x1" in out


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("slowfast-zoo: error: ")
    return err


def test_typed_library_errors_are_one_line_with_exit_2(tmp_path, capsys, monkeypatch):
    # A missing annotation file (InputFileError) and a malformed line (AnnotationError): both
    # raised while the dataset is built, before any weight is loaded.
    missing = tmp_path / "missing.txt"
    assert main(["eval", "--ann-file", str(missing)]) == 2
    assert str(missing) in _one_line_error(capsys)
    bad = tmp_path / "val.txt"
    bad.write_text("a.mp4 0\nb.mp4 not-a-label\n")
    assert main(["eval", "--ann-file", str(bad), "--data-root", str(tmp_path)]) == 2
    assert f"{bad}:2:" in _one_line_error(capsys)
    # A mirror that is not a URL (UsageError), raised before any request is made.
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", "127.0.0.1:9")
    assert main(["predict", "--views", "1"]) == 2
    assert "SLOWFAST_ZOO_MIRROR" in _one_line_error(capsys)


def test_info_shows_dataset_and_input_size(capsys) -> None:
    assert cli_main(["info", "slowfast_r50_16x8x1"]) == 0
    out = capsys.readouterr().out
    assert "Something-Something V1" in out and "3 x 64 x 256 x 256" in out and "{:05}.jpg" in out
    assert cli_main(["info", "slowfast_r50_8x8x1.k400_mm1"]) == 0
    out = capsys.readouterr().out
    assert "Kinetics-400" in out and "3 x 32 x 256 x 256" in out and "1.x SampleFrames" in out


def test_list_shows_generations(capsys) -> None:
    assert cli_main(["list", "*mm1*", "--pretrained"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and all("MMAction2 1.x" in line for line in lines)


def test_verbose_accepted_before_and_after_the_subcommand() -> None:
    p = build_parser()
    assert p.parse_args(["-v", "list"]).verbose is True
    assert p.parse_args(["list", "-v"]).verbose is True
    assert p.parse_args(["list"]).verbose is False


def test_help_texts_state_defaults_and_units(capsys: pytest.CaptureFixture) -> None:
    for cmd in (["predict", "--help"], ["eval", "--help"], ["benchmark", "--help"]):
        with pytest.raises(SystemExit):
            cli_main(cmd)
        text = capsys.readouterr().out
        assert "seed" not in text.lower()
        assert "default" in text
    with pytest.raises(SystemExit):
        cli_main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "classes printed, best first (default: 5)" in text and "1 on CPU, 10 on GPU" in text
    with pytest.raises(SystemExit):
        cli_main(["benchmark", "--help"])
    assert "MMAction2's model-only benchmark method" in " ".join(capsys.readouterr().out.split())


# ------------------------------------------------------------------------- mistakes: one line, exit 2
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


def test_cli_names_its_own_option_for_the_weights(tmp_path: Path, capsys, closed_port: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    video = make_video(tmp_path / "v.mp4", 10, 48, 40, fps=25)
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", f"http://127.0.0.1:{closed_port}")
    assert main(["predict", str(video)]) == 2
    err = capsys.readouterr().err
    assert "--weights" in err and "checkpoint_path=" not in err
    with pytest.raises(DownloadError, match="checkpoint_path="):  # Python callers see theirs
        sz.create_model("slowfast_r50_4x16x1", pretrained=True)


@pytest.mark.slow
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


# ------------------------------------------------------------------------- label maps and fine-tuned files
@pytest.fixture(scope="module")
def files(loopback_server) -> Iterator[Files]:
    root = loopback_server.root / "extra"  # served: the same files are reachable by URL
    root.mkdir()
    yield Files(root)
    shutil.rmtree(root, ignore_errors=True)


def test_predict_label_map_is_checked_before_any_download(tmp_path: Path, capsys, closed_port,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", f"http://127.0.0.1:{closed_port}/")
    bad = tmp_path / "labels.txt"
    bad.write_text("a\nb\n")
    video = make_video(tmp_path / "v.mp4", 10, 40, 32, fps=25)
    assert cli_main(["predict", str(video), "--model", "slowfast_r50_16x8x1",
                     "--label-map", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "2 class names" in err and "174 classes" in err
    assert "Traceback" not in err and "download" not in err.lower()
    assert cli_main(["predict", str(video), "--model", "slowfast_r50_16x8x1", "--label-map",
                     str(tmp_path / "none")]) == 2
    assert "cannot read the label map" in capsys.readouterr().err


@pytest.mark.slow
def test_predict_sthv1_with_label_map(files: Files, tmp_path: Path, capsys) -> None:
    video = make_video(tmp_path / "v.mp4", 30, 40, 56, fps=25)
    names = tmp_path / "sthv1_labels.txt"
    names.write_text("".join(f"something {i}\n" for i in range(174)))
    assert cli_main(["predict", str(video), "--model", "slowfast_r50_16x8x1", "--weights",
                     str(files.file("sthv1_0x")), "--label-map", str(names), "--topk", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "slowfast_r50_16x8x1.sthv1" and out["views"] == 1
    assert len(out["topk"]) == 3 and all(p["label"] == f"something {p['index']}" for p in out["topk"])


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("ft")
    model = sz.create_model("slowfast_r50_4x16x1", num_classes=3)
    weights = save_weights(model, root / "latest.safetensors", class_names=["jump", "run", "sit"])
    labels = root / "classes.txt"
    labels.write_text("Jump\nRun\nSit\n")
    video = make_video(root / "clip.mp4", 40, 64, 48, fps=25)
    return weights, labels, video


@pytest.mark.slow
def test_predict_with_a_fine_tuned_file(fine_tuned, capsys: pytest.CaptureFixture) -> None:
    weights, labels, video = fine_tuned
    assert cli_main(["predict", str(video), "--weights", str(weights), "--num-classes", "3", "--views", "1",
                     "--topk", "3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert sorted(line.split()[-1] for line in out.splitlines()[1:]) == ["jump", "run", "sit"]
    # The label map alone gives the class count of a fine-tuned file, and its names are shown.
    assert cli_main(["predict", str(video), "--weights", str(weights), "--label-map", str(labels),
                     "--views", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert sorted(line.split()[-1] for line in out.splitlines()[1:]) == ["Jump", "Run", "Sit"]
    # Mistakes: one line, exit 2, before anything is loaded.
    assert cli_main(["predict", str(video), "--num-classes", "3"]) == 2
    assert "--num-classes is for a fine-tuned --weights file" in capsys.readouterr().err
    assert cli_main(["predict", str(video), "--weights", str(weights), "--num-classes", "4",
                     "--label-map", str(labels)]) == 2
    assert "3 class names" in capsys.readouterr().err
