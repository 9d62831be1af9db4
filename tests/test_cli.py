"""Tests of slowfast_zoo.cli, the slowfast-zoo command line: list / info, help texts and global
options, mistakes answered in one line before any weight is loaded, label maps, fine-tuned files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import slowfast_zoo as sz
from slowfast_zoo.cli import build_parser, main
from slowfast_zoo.cli import main as cli_main
from slowfast_zoo.errors import DownloadError
from slowfast_zoo.training.checkpoints import save_weights
from slowfast_zoo.weights import loader as sources
from weightgen import Files
from video_factory import make_video

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
    assert cli_main(["list", "*k400_mm1*", "--pretrained"]) == 0
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


# ------------------------------------------------------------------------- issue 22: the command line
@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch, no_loading: None) -> None:
    """No weight loaded, no model built for export / benchmark: a mistake must be answered before."""
    def refuse(*args, **kwargs):
        raise AssertionError("work was started before the mistake was reported")
    monkeypatch.setattr("slowfast_zoo.factory.create_model", refuse)
    monkeypatch.setattr("slowfast_zoo.tools.benchmark.benchmark", refuse)
    monkeypatch.setattr("slowfast_zoo.tools.benchmark.matmul_peak_gflops", refuse)


def _result_file(path: Path, **changes) -> Path:
    record = {"index": 0, "video": "v.mp4", "label": 3, "scores": [0.0025] * 400}
    data = {"format": "slowfast_zoo.eval/1", "complete": False, "results": [record], **changes}
    path.write_text(json.dumps(data))
    return path


def _issue22_mistakes(tmp: Path) -> list[tuple[list[str], str]]:
    video = make_video(tmp / "v.mp4", 10, 48, 40, fps=25)
    ann = tmp / "good.txt"
    ann.write_text("v.mp4 3\n")
    folder = tmp / "folder"
    folder.mkdir()
    afile = tmp / "afile"
    afile.write_text("x")
    rec = {"index": 0, "video": "v.mp4", "label": 3}
    ev = ["eval", "--ann-file", str(ann), "--data-root", str(tmp), *SMALL]
    raw = ["eval", "--ann-file", str(ann), "--data-root", str(tmp), "--data-format", "rawframes", *SMALL]
    ex = ["export", "slowfast_r50_4x16x1", "--format", "torchscript"]
    return [
        # devices that do not exist, on this machine or any
        (["predict", str(video), "--device", "cuda:99"], "cuda:99"),
        (["predict", str(video), "--device", "meta"], "meta"),
        (ev + ["--device", "cuda:99"], "cuda:99"),
        (["benchmark", "--device", "cuda:99"], "cuda:99"),
        # seconds that are not finite, or shorter than a frame
        (["predict", str(video), "--window", "inf"], "--window"),
        (["predict", str(video), "--window", "nan"], "--window"),
        (["predict", str(video), "--window", "2", "--stride", "inf"], "--stride"),
        (["predict", str(video), "--window", "1e-300"], "--window"),
        # files: a folder where a file is expected, a saved model that is not there
        (["predict", str(video), "--weights", str(folder)], "is a folder"),
        (["predict", str(video), "--model", f"local-dir:{tmp / 'none'}"], "no such folder"),
        (["predict", str(video), "--model", f"local-dir:{folder}"], "config.json"),
        (ex + ["-o", str(folder)], "names a folder"),
        (ex + ["-o", ""], "-o: empty path"),
        (ex + ["-o", str(tmp / "m.pt"), "--opset", "17"], "--opset is for --format onnx"),
        (ex + ["-o", str(tmp / "m.pt"), "--weights", str(folder)], "is a folder"),
        (ev + ["--out", str(folder)], "--out"),
        (ev + ["--out", str(afile / "r.json")], "is not a folder"),
        (ev + ["--out", str(ann)], "would overwrite"),
        (ev + ["--data-root", str(tmp / "none")], "--data-root"),
        (ev + ["--weights", str(folder)], "is a folder"),
        # counts
        (ev + ["--workers", "-1"], "--workers"),
        (ev + ["--limit", "-1"], "--limit"),
        (raw + ["--start-index", "-1"], "--start-index"),
        (["benchmark", "--threads", "-1"], "--threads"),
        (["benchmark", "--matmul-size", "-1"], "--matmul-size"),
        (["benchmark", "--views-per-batch", "0"], "--views-per-batch"),
        (["benchmark", "--size", "5"], "--size"),
        (["benchmark", "--clip-len", "2"], "--clip-len"),
        (["benchmark", "--end-to-end", str(folder)], str(folder)),
        # file name templates that cannot name frame files
        *[(raw + ["--filename-tmpl", t], "--filename-tmpl")
          for t in ("img_{:q}.jpg", "{}{}", "{x}", "img.jpg", "{:>999999999}", "img_{0.real.x}.jpg", "{")],
        # result files that are not ours, or damaged
        (ev + ["--out", str(_result_file(tmp / "r1.json", format="other")), "--resume"], "cannot resume"),
        (ev + ["--out", str(afile), "--resume"], "cannot resume"),
        (ev + ["--out", str(_result_file(tmp / "r2.json", results=[{"index": 0, "video": "v.mp4"}])),
               "--resume"], "damaged"),
        (ev + ["--out", str(_result_file(tmp / "r3.json", results=[{**rec, "scores": "x"}])), "--resume"],
         "damaged"),
        (ev + ["--out", str(_result_file(tmp / "r4.json", results=[{**rec, "scores": [0.5, 0.5]}])),
               "--resume"], "2 scores"),
        (ev + ["--out", str(_result_file(tmp / "r5.json", results=[{**rec, "index": 7, "scores": [0.0] * 400}])),
               "--resume"], "index 7"),
        (ev + ["--out", str(_result_file(tmp / "r6.json", model={"name": "another"})), "--resume"],
         "its 'model' differs"),
    ]


def test_issue22_mistakes_are_one_line_exit_2_before_any_work(tmp_path: Path, capsys, no_work) -> None:
    for argv, needle in _issue22_mistakes(tmp_path):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("slowfast-zoo: error: "), (argv, err)
        assert needle in lines[0], (argv, err)
        assert "Traceback" not in err, (argv, err)


def test_eval_exits_1_when_nothing_is_selected_before_any_weight(tmp_path: Path, capsys, no_loading) -> None:
    for text in ("", "\n  \n"):
        ann = tmp_path / "val.txt"
        ann.write_text(text)
        assert main(["eval", "--ann-file", str(ann), *SMALL]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "nothing evaluated" in err and str(ann) in err, err
    ann.write_text("v.mp4 3\n")
    assert main(["eval", "--ann-file", str(ann), "--limit", "0", *SMALL]) == 1
    assert "--limit 0" in capsys.readouterr().err


def test_argparse_errors_are_one_line(capsys) -> None:
    for argv in (["eval"], ["predict", "--topk", "x"], ["nope"], [], ["list", "--bogus\x1b[2J"]):
        with pytest.raises(SystemExit) as exit:
            main(argv)
        assert exit.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ": error: " in err and "usage:" not in err, (argv, err)
        assert "\x1b" not in err


def test_error_messages_are_one_escaped_line_details_with_v(capsys, monkeypatch) -> None:
    from slowfast_zoo.errors import UsageError

    # A name given by a user (or a file) cannot forge a line, recolour or clear the terminal.
    assert main(["info", "x\x1b[31m\nslowfast-zoo: error: forged\r\x07"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "\r" not in err and "\x07" not in err
    assert err.startswith("slowfast-zoo: error: ")

    def boom(args):
        raise UsageError("first line\n  second: " + "x" * 5000) from KeyError("the cause")
    parser = build_parser()
    parser._subparsers._group_actions[0].choices["list"].set_defaults(func=boom)
    monkeypatch.setattr("slowfast_zoo.cli.build_parser", lambda: parser)
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "first line second: xxx" in err and "-v" in err and len(err) < 1100
    assert main(["list", "-v"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'the cause'" in err
    assert err.splitlines()[-1].endswith("x" * 100)  # the whole message, still one line


def test_os_errors_are_one_line(capsys, monkeypatch) -> None:
    def full(args):
        raise OSError(28, "No space left on device")
    parser = build_parser()
    parser._subparsers._group_actions[0].choices["list"].set_defaults(func=full)
    monkeypatch.setattr("slowfast_zoo.cli.build_parser", lambda: parser)
    assert main(["list"]) == 2
    assert capsys.readouterr().err == "slowfast-zoo: error: [Errno 28] No space left on device\n"


@pytest.fixture
def fake_predictions(monkeypatch: pytest.MonkeyPatch):
    """predict / predict_windows return class names a hostile saved model could carry, and NaN."""
    import types

    from slowfast_zoo.inference.engine import Prediction
    from slowfast_zoo.inference.windows import WindowPrediction
    from slowfast_zoo.registry import get_pretrained_cfg

    evil = "jump\x1b]0;owned\x07\x1b[2J\nslowfast-zoo: error: forged\u202e"
    preds = [Prediction(0, evil, float("nan")), Prediction(1, "run", float("inf"))]
    model = types.SimpleNamespace(pretrained_cfg=get_pretrained_cfg("slowfast_r50_4x16x1"), hub_source=None)
    monkeypatch.setattr("slowfast_zoo.cli.predict.create_model", lambda *a, **k: model)
    monkeypatch.setattr("slowfast_zoo.cli.predict.predict", lambda *a, **k: preds)
    monkeypatch.setattr("slowfast_zoo.inference.windows.predict_windows",
                        lambda *a, **k: iter([WindowPrediction(0, 1, 0.0, 0.4, 0, 10, preds)]))
    return evil


def _strict_json(text: str):
    def refuse(constant: str):
        raise AssertionError(f"bare {constant} in JSON output")
    return json.loads(text, parse_constant=refuse)


def test_predict_prints_class_names_escaped_and_json_without_nan(tmp_path: Path, capsys, fake_predictions) -> None:
    video = make_video(tmp_path / "v\x1b[1mbold.mp4", 10, 48, 40, fps=25)
    for extra in ([], ["--window", "0.4"]):
        assert main(["predict", str(video), "--views", "1", "--no-progress", *extra]) == 0
        out = capsys.readouterr().out
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
        assert not any(line.startswith("slowfast-zoo: error") for line in out.splitlines())
        assert "jump\\x1b]0;owned\\x07\\x1b[2J\\nslowfast-zoo: error: forged\\u202e" in out
        assert "v\\x1b[1mbold.mp4" in out
    assert main(["predict", str(video), "--views", "1", "--json"]) == 0
    report = _strict_json(capsys.readouterr().out)
    assert [p["probability"] for p in report["topk"]] == [None, None]
    assert report["topk"][0]["label"] == fake_predictions  # JSON escapes it, loads give it back
    assert main(["predict", str(video), "--views", "1", "--json", "--window", "0.4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [p["probability"] for p in _strict_json(lines[0])["topk"]] == [None, None]


def test_benchmark_json_has_no_bare_nan(capsys, monkeypatch) -> None:
    monkeypatch.setattr("slowfast_zoo.tools.benchmark.benchmark",
                        lambda cfg: {"video_per_s": float("nan"), "end_to_end": {"data_share_of_total": float("inf")}})
    assert main(["benchmark", "--json", "--device", "cpu"]) == 0
    assert _strict_json(capsys.readouterr().out) == {"video_per_s": None, "end_to_end": {"data_share_of_total": None}}


def test_printing_helpers() -> None:
    import logging

    from slowfast_zoo.tools import json_text, one_line, printable
    from slowfast_zoo.tools.printing import PrintableFormatter

    assert printable("a\tb\x00c\x7f\x9b\u2028\udcff\U000e0001") == "a\\tb\\x00c\\x7f\\x9b\\u2028\\udcff\\U000e0001"
    assert printable("Größe 日本 \\x1b") == "Größe 日本 \\x1b"  # letters, spaces and backslashes kept
    assert one_line("a\n\n  b\x1b") == "a b\\x1b"
    assert json_text([float("-inf"), 1.5]) == "[null, 1.5]"
    record = logging.LogRecord("n", logging.ERROR, "", 0, "skipped: %s", ("v\n\x1b[2J.mp4",), None)
    assert PrintableFormatter("%(message)s").format(record) == "skipped: v \\x1b[2J.mp4"


def test_filename_templates() -> None:
    from slowfast_zoo.errors import UsageError
    from slowfast_zoo.tools import check_filename_tmpl

    for good in ("img_{:05d}.jpg", "{:05}.jpg", "{}.png", "frame_{0:06d}.jpg", None):
        check_filename_tmpl(good)
    for bad in ("img_{:q}.jpg", "{}{}", "{x}", "img.jpg", "{:>999999999}", "{0.real.x}", "{", "}", "{:{}}"):
        with pytest.raises(UsageError, match="--filename-tmpl"):
            check_filename_tmpl(bad)


def test_eval_summary_escapes_paths_and_reasons_from_the_data() -> None:
    import numpy as np

    from slowfast_zoo.evaluation import EvalConfig, EvalReport, EvalResult, VideoRecord
    from slowfast_zoo.registry import get_pretrained_cfg
    from slowfast_zoo.tools import eval_summary

    hostile = VideoRecord(1, "v\nslowfast-zoo: error: forged\x1b[2J.mp4", 2, None, "bad\r\nframe \x07")
    good = VideoRecord(0, "ok.mp4", 1, np.eye(400, dtype=np.float32)[1])
    report = EvalReport(EvalConfig("val.txt"), get_pretrained_cfg("slowfast_r50_4x16x1"),
                        {"protocol": {"overrides": {}}, "dataset": {"num_videos": 2}},
                        EvalResult([good, hostile], {"top1_acc": 1.0}, num_selected=2))
    text = eval_summary(report)
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert not any(line.startswith("slowfast-zoo: error") for line in text.splitlines())
    assert "skipped: v slowfast-zoo: error: forged\\x1b[2J.mp4: bad frame \\x07" in text
    assert text.count("\n") == report.summary().count("\n") - 2  # the two forged line breaks


# ------------------------------------------------------------------------- predict --out: the annotated video
def _read_video(path: Path):
    """Every frame (RGB) and the frame rate, read back with PyAV."""
    import av
    import numpy as np

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, float(stream.guessed_rate)


def test_predict_out_mistakes_are_one_line_exit_2_before_any_weight(tmp_path: Path, capsys, no_loading) -> None:
    video = make_video(tmp_path / "v.mp4", 10, 48, 40, fps=25)
    (tmp_path / "folder.mp4").mkdir()
    target = tmp_path / "target.mp4"
    target.write_bytes(b"keep")
    (tmp_path / "link.mp4").symlink_to(target)
    (tmp_path / "afile").write_text("x")
    for out, needle in [("folder.mp4", "names a folder"), ("link.mp4", "symbolic link"),
                        ("out.gif", ".mp4, .m4v, .mov, .mkv or .avi"), ("afile/out.mp4", "is not a folder"),
                        ("v.mp4", "is the input video")]:
        assert main(["predict", str(video), "--views", "1", "--out", str(tmp_path / out)]) == 2, out
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("slowfast-zoo: error: --out "), (out, err)
        assert needle in lines[0] and "Traceback" not in err, (out, err)
    assert target.read_bytes() == b"keep" and (tmp_path / "link.mp4").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "folder.mp4", "link.mp4", "target.mp4", "v.mp4"]


def test_predict_out_writes_the_labelled_video_whole_and_per_window(tmp_path: Path, capsys,
                                                                    fake_predictions) -> None:
    import numpy as np

    from video_factory import reference_decode

    video = make_video(tmp_path / "v.mp4", 12, 160, 120, fps=25)
    ref = reference_decode(video).astype(np.int16)
    out = tmp_path / "sub" / "labelled.mp4"
    assert main(["predict", str(video), "--views", "1", "--no-progress", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "run" in captured.out  # the predictions are printed as without --out
    assert captured.err.splitlines() == [f"slowfast-zoo: wrote {out}: 12 frames, 160x120 at 25 fps (libx264 yuv420p)"]
    frames, fps = _read_video(out)
    assert frames.shape == (12, 120, 160, 3) and fps == 25
    diff = np.abs(frames.astype(np.int16) - ref)
    assert diff[:, 6:20, 6:60].mean() > 30 and diff[:, 70:, 80:].mean() < 12  # the text only
    # --window: each frame its window's labels; the one window (frames 0-9) leaves 10 and 11 as they are.
    windowed = tmp_path / "windows.mkv"
    assert main(["predict", str(video), "--views", "1", "--no-progress", "--window", "0.4", "--json",
                 "--out", str(windowed)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out.splitlines()[0])["index"] == 0  # stdout stays JSON lines
    assert captured.err.startswith("slowfast-zoo: wrote ") and len(captured.err.splitlines()) == 1
    frames, fps = _read_video(windowed)
    diff = np.abs(frames.astype(np.int16) - ref)
    assert len(frames) == 12 and fps == 25
    assert diff[:10, 6:20, 6:60].mean() > 30 and diff[10:, 6:20, 6:60].mean() < 12
    assert not any(p.name.endswith(".partial") for p in tmp_path.rglob("*"))


@pytest.mark.slow
@pytest.mark.parametrize("extra", [[], ["--window", "0.8"]], ids=["whole", "window"])
def test_predict_out_with_a_random_weight_model(fine_tuned, tmp_path: Path, capsys, extra: list[str]) -> None:
    weights, labels, video = fine_tuned  # 40 frames, 64x48, 25 fps
    out = tmp_path / "annotated.mp4"
    assert cli_main(["predict", str(video), "--weights", str(weights), "--label-map", str(labels), "--views", "1",
                     "--topk", "3", "--no-progress", *extra, "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().err
    frames, fps = _read_video(out)
    assert frames.shape == (40, 48, 64, 3) and fps == 25


# ------------------------------------------------------------------------- issue 24: detect
@pytest.fixture(scope="module")
def detector_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A random-weight AVA detector saved as our safetensors, a 1.5 s video, a box file."""
    import torch

    root = tmp_path_factory.mktemp("det")
    torch.manual_seed(0)
    weights = save_weights(sz.create_model("slowfast_r50_4x16x1_ava"), root / "det.safetensors")
    video = make_video(root / "people.mp4", 15, 64, 48, fps=10)
    boxes = root / "boxes.csv"
    boxes.write_text("people,1,0.25,0.25,0.75,1.0,0.97\npeople,1,0.0,0.0,0.5,0.5\n")
    return weights, video, boxes


@pytest.mark.slow
def test_detect_writes_csv_json_and_annotated_video(detector_files, tmp_path, capsys) -> None:
    import av
    import numpy as np

    weights, video, boxes = detector_files
    csv, out = tmp_path / "res.csv", tmp_path / "annotated.mp4"
    assert cli_main(["detect", str(video), "--weights", str(weights), "--boxes", str(boxes), "--csv", str(csv),
                     "--out", str(out), "--json", "--score-threshold", "0", "--topk", "2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "slowfast_r50_4x16x1_ava.ava21_mm1" or doc["model"].startswith("slowfast_r50_4x16x1_ava.")
    (key,) = doc["keyframes"]
    assert key["time"] == 1.0 and key["frame_index"] == 10
    assert [p["box"] for p in key["persons"]] == [[16.0, 12.0, 48.0, 48.0], [0.0, 0.0, 32.0, 24.0]]
    assert key["persons"][0]["box_score"] == pytest.approx(0.97) and key["persons"][1]["box_score"] == 1.0
    assert all(len(p["actions"]) == 2 for p in key["persons"])
    rows = [line.split(",") for line in csv.read_text().splitlines()]
    assert {r[0] for r in rows} == {"people"} and {int(r[1]) for r in rows} == {1}
    boxes_seen = {tuple(round(float(v), 4) for v in r[2:6]) for r in rows}
    assert boxes_seen == {(0.25, 0.25, 0.75, 1.0), (0.0, 0.0, 0.5, 0.5)}
    assert {int(r[6]) for r in rows} <= set(range(1, 81)) and all(float(r[7]) > 0.002 for r in rows)
    with av.open(str(video)) as src, av.open(str(out)) as dst:
        a = [f.to_ndarray(format="rgb24") for f in src.decode(video=0)]
        b = [f.to_ndarray(format="rgb24") for f in dst.decode(video=0)]
    assert len(a) == len(b) == 15 and b[0].shape == a[0].shape
    # Frame 10 (the keyframe) shows box 0's left edge at x=16 (rows 12..47); frame 0 (1 s away) nothing.
    edge = np.abs(b[10][14:46, 15:18].astype(int) - a[10][14:46, 15:18].astype(int)).mean()
    assert edge > 40, edge
    assert np.abs(b[0].astype(int) - a[0].astype(int)).mean() < 8


@pytest.mark.slow
def test_detect_with_a_person_detector(detector_files, monkeypatch, capsys) -> None:
    """Without --boxes the torchvision detector finds people (stood in for: no weights here)."""
    import torch

    weights, video, _ = detector_files
    calls = []

    def fake_detector(**kwargs):
        def find(frame):
            calls.append(tuple(frame.shape))
            return torch.tensor([[8.0, 4.0, 40.0, 44.0, 0.99]])
        return find

    monkeypatch.setattr("slowfast_zoo.inference.detect.torchvision_person_detector", fake_detector)
    assert cli_main(["detect", str(video), "--weights", str(weights), "--json", "--no-progress"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert calls == [(48, 64, 3)]
    assert [p["box"] for k in doc["keyframes"] for p in k["persons"]] == [[8.0, 4.0, 40.0, 44.0]]


def test_detect_mistakes_are_one_line_before_any_work(detector_files, tmp_path, capsys, no_work) -> None:
    weights, video, boxes = detector_files
    folder = tmp_path / "folder"
    folder.mkdir()
    cases = [
        (["detect", str(video), "--model", "slowfast_r50_4x16x1"], "video classifier"),
        (["detect", str(video), "--score-threshold", "1.5"], "--score-threshold"),
        (["detect", str(video), "--person-threshold", "-1"], "--person-threshold"),
        (["detect", str(video), "--topk", "0"], "--topk"),
        (["detect", str(video), "--boxes", str(tmp_path / "missing.csv")], "missing.csv"),
        (["detect", str(video), "--csv", str(folder)], "folder"),
        (["detect", str(video), "--csv", str(tmp_path / "a.mp4"), "--out", str(tmp_path / "a.mp4")], "same file"),
        (["detect", str(video), "--model", "slowfast_r50_4x16x1_avaa"], "slowfast_r50_4x16x1_ava"),
        (["detect", str(tmp_path / "nope.mp4"), "--weights", str(weights)], "nope.mp4"),
    ]
    for argv, words in cases:
        assert cli_main(argv) == 2, argv
        assert words in _one_line_error(capsys), argv


# ------------------------------------------------------------------------- finetune
FT_SMALL = ["--from-scratch", "--clip-len", "8", "--resize-short-side", "32", "--crop-size", "32", "--batch-size", "2",
            "--workers", "0", "--device", "cpu", "--no-progress", "--val-every", "1"]


def _class_folders(root: Path, classes: tuple[str, ...] = ("jump", "run"), per_class: int = 2) -> Path:
    """Tiny generated videos, ``root/<class>/v<i>.mp4``."""
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            make_video(root / name / f"v{i}.mp4", 20, 64, 48, fps=25)
    return root


def test_finetune_mistakes_are_one_line_before_any_work(tmp_path: Path, capsys, monkeypatch, no_loading) -> None:
    """Every mistake: one line, exit 2, before a model is built (the job's own data checks
    included: they run before its model too)."""
    import importlib

    job = importlib.import_module("slowfast_zoo.training.finetune")
    monkeypatch.setattr(job, "create_model", lambda *a, **k: pytest.fail("a model was built"))
    clips = _class_folders(tmp_path / "clips", per_class=1)
    (tmp_path / "empty_class" / "a").mkdir(parents=True)
    (tmp_path / "empty_class" / "b").mkdir()
    (tmp_path / "empty_class" / "a" / "x.mp4").write_bytes(b"")
    (tmp_path / "other" / "sit").mkdir(parents=True)
    ann = tmp_path / "train.txt"
    ann.write_text(f"{clips / 'jump' / 'v0.mp4'} 0\n")
    afile = tmp_path / "afile.txt"
    afile.write_text("not a training state")
    out = ["--out-dir", str(tmp_path / "run")]
    fo = ["finetune", "--data-root", str(clips), *out, "--from-scratch"]
    cases = [
        (["finetune", *out], "--data-root DIR"),
        (["finetune", "--data-root", str(tmp_path / "none"), *out], "no such folder"),
        (fo + ["--val-list", str(ann)], "--val-list is for --train-list"),
        (fo + ["--classes", str(ann)], "--classes is for --train-list"),
        (fo + ["--val-root", str(clips), "--val-fraction", "0.5"], "exclude each other"),
        (fo + ["--val-fraction", "1"], "--val-fraction"),
        (fo + ["--val-fraction", "nan"], "--val-fraction"),
        (fo + ["--val-root", str(tmp_path / "none")], "--val-root"),
        (fo + ["--num-classes", "3"], "has 2 class folders"),
        (["finetune", "--data-root", str(clips), "--out-dir", str(clips / "run")], "inside --data-root"),
        (["finetune", "--train-list", str(ann), *out, "--val-fraction", "0.5"], "is for class folders"),
        (["finetune", "--train-list", str(tmp_path / "missing.txt"), *out], "--train-list"),
        (["finetune", "--train-list", str(ann), *out, "--classes", str(afile), "--num-classes", "3"], "has 1 names"),
        (fo + ["--val-fraction", "0.5"], "leaves no validation video"),                  # the job's checks
        (["finetune", "--data-root", str(tmp_path / "empty_class"), *out, "--from-scratch"], "no videos"),
        (fo + ["--val-root", str(tmp_path / "other")], "no class of that name"),
        (["finetune", "--data-root", str(clips), "--out-dir", str(afile)], "--out-dir"),
        (fo + ["--workers", "-1"], "--workers"),
        (fo + ["--device", "cuda:99"], "cuda:99"),
        (fo + ["--batch-size", "0"], "--batch-size"),
        (fo + ["--lr", "nan"], "--lr"),
        (fo + ["--min-area", "0"], "--min-area"),
        (fo + ["--seed", "-1"], "--seed"),
        (fo + ["--freeze-stages", "5"], "--freeze-stages"),
        (fo + ["--clip-len", "2"], "--clip-len"),
        (fo + ["--weights", str(afile)], "exclude each other"),
        (fo + ["--resume", str(afile)], "not a training state"),
        (fo + ["--resume"], "no such file"),
        (fo + ["--arch", "slowfast_r50_4x16"], "slowfast_r50_4x16x1"),
        (["finetune", "--data-root", str(clips), *out, "--weights", str(tmp_path / "w.pth")], "--weights"),
    ]
    for argv, words in cases:
        assert cli_main(argv) == 2, argv
        assert words in _one_line_error(capsys), argv
    with pytest.raises(SystemExit):  # argparse: one line too
        cli_main(["finetune", "--data-root", str(clips), *out, "--epochs", "x"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--epochs" in err


@pytest.mark.slow
def test_finetune_class_folders_sigterm_resume_then_predict(tmp_path: Path, capsys) -> None:
    """Issue 25's done-when: trains on class folders, resumes after SIGTERM, its best weights
    load with --weights in predict."""
    import re
    import signal

    from procs import child_env, wait_for
    from slowfast_zoo.training.checkpoints import read_weights_metadata

    clips = _class_folders(tmp_path / "clips")
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "slowfast_zoo", "finetune", "--data-root", str(clips), "--val-fraction", "0.5",
           "--out-dir", str(run), "--epochs", "40", *FT_SMALL]
    proc = subprocess.Popen(cmd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (run / "training_state.pt").is_file(), proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
    assert "continue with --resume" in err
    done = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert 1 <= len(done) < 40 and not list(run.glob(".*.partial"))
    printed = out.splitlines()
    assert len(printed) >= len(done) and all(re.fullmatch(r"epoch \d+  loss \d+\.\d{4}  val top1 [01]\.\d{4}", x)
                                             for x in printed), out
    resumed = subprocess.run(cmd + ["--resume", "--stop-after", str(len(done) + 1), "--json"], env=child_env(),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    (line,) = [json.loads(x) for x in resumed.stdout.splitlines()]  # one JSON object per epoch
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert line["epoch"] == len(done) + 1 and log[-1] == line and len(log) == len(done) + 1
    top1 = [x["val"]["top1_acc"] for x in log]
    best_epoch = top1.index(max(top1)) + 1
    meta = read_weights_metadata(run / "best.safetensors")
    assert meta["class_names"] == ["jump", "run"] and int(meta["epoch"]) == best_epoch
    assert f"best.safetensors (epoch {best_epoch}, val top1" in resumed.stderr
    video = clips / "run" / "v0.mp4"
    assert cli_main(["predict", str(video), "--weights", str(run / "best.safetensors"), "--num-classes", "2",
                     "--views", "1", "--no-progress"]) == 0
    assert sorted(x.split()[-1] for x in capsys.readouterr().out.splitlines()[1:]) == ["jump", "run"]
    # A renamed class folder is another run: refused, not resumed with the wrong names.
    (clips / "run").rename(clips / "sit")
    assert cli_main(cmd[3:] + ["--resume"]) == 2
    assert "its classes are ['jump', 'run']" in _one_line_error(capsys)


@pytest.mark.slow
def test_finetune_val_root_one_epoch_json(tmp_path: Path, capsys) -> None:
    clips = _class_folders(tmp_path / "clips")
    val = _class_folders(tmp_path / "val", per_class=1)
    run = tmp_path / "run"
    assert cli_main(["finetune", "--data-root", str(clips), "--val-root", str(val), "--out-dir", str(run),
                     "--epochs", "1", "--json", *FT_SMALL]) == 0
    captured = capsys.readouterr()
    (line,) = [json.loads(x) for x in captured.out.splitlines()]
    assert line["epoch"] == 1 and line["iters"] == 2 and set(line["val"]) == {"top1_acc", "mean_class_accuracy"}
    assert [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()] == [line]
    assert {p.name for p in run.iterdir()} == {"log.jsonl", "training_state.pt", "epoch_001.safetensors",
                                              "latest.safetensors", "best.safetensors"}
    assert "slowfast-zoo: wrote" in captured.err
    tuned = sz.create_model("slowfast_r50_4x16x1", pretrained=True, num_classes=2,
                            checkpoint_path=run / "best.safetensors")
    assert tuned.class_names == ("jump", "run")


# ------------------------------------------------------------------------- features (issue 25)
FEATURES_SMALL = ["--clip-len", "8", "--crop-size", "32", "--resize-short-side", "32", "--workers", "0",
                  "--device", "cpu"]


def _features_mistakes(tmp: Path) -> list[tuple[list[str], str]]:
    videos = tmp / "videos"
    videos.mkdir()
    make_video(videos / "a.mp4", 10, 48, 40, fps=25)
    (tmp / "other").mkdir()
    make_video(tmp / "other" / "a.mp4", 10, 48, 40, fps=25)
    (tmp / "empty").mkdir()
    (tmp / "notes.txt").write_text("a.mp4\n")
    (tmp / "binary.txt").write_bytes(b"\xff\xfe\x00")
    out = ["--out", str(tmp / "feats")]
    ok = [str(videos), *out]
    return [
        (["features", *out], "no videos"),
        (["features", str(videos), "--list", str(tmp / "notes.txt"), *out], "not both"),
        (["features", str(tmp / "missing"), *out], "no such video or folder"),
        (["features", str(tmp / "notes.txt"), *out], "goes with --list"),
        (["features", "--list", str(tmp / "binary.txt"), *out], "not UTF-8"),
        (["features", "--list", str(tmp / "missing.txt"), *out], "--list"),
        (["features", str(tmp / "empty"), *out], "no video found"),
        (["features", str(videos), str(tmp / "other" / "a.mp4"), *out], "would both be written as a.mp4"),
        (["features", str(videos), "--out", str(tmp / "notes.txt")], "not a folder"),
        (["features", *ok, "--workers", "-1"], "--workers"),
        (["features", *ok, "--device", "bogus"], "bogus"),
        (["features", *ok, "--clip-len", "2"], "--clip-len"),
        (["features", *ok, "--stride", "0"], "--stride"),
        (["features", *ok, "--crop-size", "300"], "--crop-size"),
        (["features", *ok, "--weights", str(videos)], "is a folder"),
        (["features", *ok, "--num-classes", "3"], "--num-classes is for a fine-tuned --weights"),
        (["features", *ok, "--model", "slowfast_r50_4x16x1_ava"], "action detector"),
        (["features", *ok, "--model", "slowfast_r50"], "Did you mean"),
    ]


def test_features_mistakes_are_one_line_exit_2_before_any_work(tmp_path: Path, capsys, no_work) -> None:
    for argv, needle in _features_mistakes(tmp_path):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("slowfast-zoo: error: "), (argv, err)
        assert needle in lines[0] and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "feats").exists()
    with pytest.raises(SystemExit) as exit:
        main(["features", str(tmp_path / "videos"), "--out", str(tmp_path / "feats"), "--format", "pt"])
    assert exit.value.code == 2 and capsys.readouterr().err.count("\n") == 1


@pytest.mark.slow
def test_features_both_formats_resume_and_json(fine_tuned, tmp_path: Path, capsys, monkeypatch) -> None:
    weights = fine_tuned[0]  # a random-weight slowfast_r50_4x16x1 with 3 classes
    videos = tmp_path / "videos"
    (videos / "sub").mkdir(parents=True)
    make_video(videos / "a.mp4", 24, 48, 40, fps=25)
    make_video(videos / "sub" / "b.mkv", 30, 48, 40, fps=25)
    (videos / "broken.mp4").write_bytes((videos / "a.mp4").read_bytes()[:300])
    base = ["features", str(videos), "--weights", str(weights), "--num-classes", "3", "--stride", "8",
            *FEATURES_SMALL]
    out = tmp_path / "feats"
    assert main([*base, "--out", str(out)]) == 1  # a video was skipped
    captured = capsys.readouterr()
    assert captured.out == f"wrote 2 feature files to {out} (1 skipped, 0 already there)\n"
    assert "slowfast-zoo: skipped: VideoDecodeError" in captured.err and "broken.mp4" in captured.err
    assert "\r" not in captured.err  # no progress bar off a terminal
    from safetensors import safe_open
    with safe_open(str(out / "sub" / "b.mkv.safetensors"), "pt") as f:
        assert f.get_tensor("embeddings").shape == (2, 2304)  # 30 frames, span 15: clips at 0 and 8
        assert f.get_tensor("frame_indices").shape == (2, 8) and f.metadata()["layout"] == "fast[0:256] slow[256:2304]"

    import numpy as np
    npy = tmp_path / "npy"
    assert main([*base, "--out", str(npy), "--format", "npy", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["written"] == ["a.mp4", "sub/b.mkv"] and report["skipped"][0]["video"] == "broken.mp4"
    assert report["format"] == "npy" and report["weight"] == "slowfast_r50_4x16x1.k400_320p"
    emb = np.load(npy / "a.mp4.npy")
    doc = json.loads((npy / "a.mp4.json").read_text())
    assert emb.dtype == np.float32 and emb.shape == (2, 2304) and doc["shape"] == [2, 2304]
    assert doc["channels"] == {"fast": [0, 256], "slow": [256, 2304]} and doc["weights"] == str(weights)
    assert doc["video"] == "a.mp4" and doc["fps"] == 25.0 and len(doc["timestamps"]) == 2
    with safe_open(str(out / "a.mp4.safetensors"), "pt") as f:  # the same numbers in both formats
        np.testing.assert_allclose(emb, f.get_tensor("embeddings").numpy(), rtol=1e-5, atol=1e-5)

    # --resume with every output complete (a skipped video would be tried again): no model built,
    # nothing rewritten.
    (videos / "broken.mp4").unlink()

    def refuse(*args, **kwargs):
        raise AssertionError("a model was built with nothing to do")
    monkeypatch.setattr("slowfast_zoo.factory.create_model", refuse)
    before = (npy / "a.mp4.npy").stat().st_mtime_ns
    assert main([*base, "--out", str(npy), "--format", "npy", "--resume", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["written"] == [] and again["already_there"] == ["a.mp4", "sub/b.mkv"] and again["skipped"] == []
    assert (npy / "a.mp4.npy").stat().st_mtime_ns == before


# --- detect: hostile inputs
def test_detect_outputs_that_are_inputs_or_no_video_are_refused_before_any_work(detector_files, tmp_path, capsys,
                                                                                no_work) -> None:
    """--csv VIDEO replaced the input video with the results (after all the work); --out a.gif or a
    symbolic link was refused only once the detections were done."""
    import os

    weights, video, boxes = detector_files
    before = video.read_bytes()
    link = tmp_path / "link.mp4"
    os.symlink(tmp_path / "target.mp4", link)
    (tmp_path / "target.mp4").write_bytes(b"")
    base = ["detect", str(video), "--weights", str(weights), "--boxes", str(boxes)]
    cases = [
        ([*base, "--out", str(tmp_path / "a.gif")], "--out"),
        ([*base, "--out", str(link)], "symbolic link"),
        ([*base, "--out", str(video)], "is the input video"),
        ([*base, "--csv", str(video)], "is the input video"),
        ([*base, "--csv", str(boxes)], "is --boxes"),
        ([*base, "--csv", str(weights)], "is --weights"),
    ]
    comma = tmp_path / "a,b.mp4"  # its name is the CSV's video_id: refused by the writer after all the work
    comma.write_bytes(before)
    cases.append((["detect", str(comma), "--weights", str(weights), "--detector", "none", "--csv",
                   str(tmp_path / "r.csv")], "cannot hold commas"))
    for argv, words in cases:
        assert cli_main(argv) == 2, argv
        assert words in _one_line_error(capsys), argv
    assert video.read_bytes() == before


def test_detect_hostile_box_files_are_one_line_before_any_work(detector_files, tmp_path, capsys, no_work) -> None:
    import pickle

    import numpy as np

    weights, video, _ = detector_files
    files = {
        "ts.csv": ("people," + "9" * 400 + ",0.1,0.1,0.5,0.5\n", "timestamp"),  # was an OverflowError traceback
        "inverted.csv": ("people,1,0.5,0.5,0.1,0.1\n", "inverted"),
        "empty.csv": ("people,1,0.5,0.5,0.5,0.5\n", "covers no pixel"),
        "ts.pkl": ({"people," + "9" * 5000: np.array([[0.1, 0.1, 0.5, 0.5, 0.9]])}, "at most 9 digits"),
        "pixels.pkl": ({"people,0001": np.array([[10.0, 10.0, 50.0, 40.0, 0.9]])}, "expected normalized"),
    }
    for name, (content, words) in files.items():
        path = tmp_path / name
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(pickle.dumps(content, protocol=2))
        assert cli_main(["detect", str(video), "--weights", str(weights), "--boxes", str(path)]) == 2, name
        assert words in _one_line_error(capsys), name


@pytest.mark.slow
@pytest.mark.parametrize("source", ["boxes", "detector"])
def test_detect_on_the_shipped_sample(source, detector_files, tmp_path, monkeypatch, capsys) -> None:
    """`slowfast-zoo detect` without a video runs on the shipped sample: CSV, JSON and an annotated
    video of the sample's frame count, its boxes drawn where the boxes file / the detector put them."""
    import av
    import numpy as np
    import torch

    from slowfast_zoo.inference.predict import sample_video_path

    weights = detector_files[0]
    box = [56.0, 32.0, 280.0, 288.0]  # pixels of the 560x320 sample
    argv = ["detect", "--weights", str(weights), "--json", "--csv", str(tmp_path / "s.csv"),
            "--out", str(tmp_path / "s.mp4"), "--no-progress"]
    if source == "boxes":
        lines = [f"sample,{t},0.1,0.1,0.5,0.9,0.99" for t in range(1, 6)]
        (tmp_path / "b.csv").write_text("\n".join(lines) + "\n")
        argv += ["--boxes", str(tmp_path / "b.csv")]
    else:
        monkeypatch.setattr("slowfast_zoo.inference.detect.torchvision_person_detector",
                            lambda **kw: (lambda frame: torch.tensor([[*box, 0.98]])))
    assert cli_main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [k["time"] for k in doc["keyframes"]] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(p["box"] == box for k in doc["keyframes"] for p in k["persons"])
    rows = (tmp_path / "s.csv").read_text().splitlines()
    assert rows and all(r.startswith("sample,") for r in rows)
    with av.open(str(sample_video_path())) as src, av.open(str(tmp_path / "s.mp4")) as dst:
        a = [f.to_ndarray(format="rgb24") for f in src.decode(video=0)]
        b = [f.to_ndarray(format="rgb24") for f in dst.decode(video=0)]
    assert len(a) == len(b) and a[0].shape == b[0].shape
    k = 30  # the keyframe at 1 s: the box's left edge (x = 56) drawn, the middle of the box untouched
    edge = np.abs(b[k][60:260, 55:58].astype(int) - a[k][60:260, 55:58].astype(int)).mean()
    inside = np.abs(b[k][100:200, 120:200].astype(int) - a[k][100:200, 120:200].astype(int)).mean()
    assert edge > 30 and inside < 8, (edge, inside)
