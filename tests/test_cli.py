"""The slowfast-zoo command line (list / info)."""

from __future__ import annotations

import json
import subprocess
import sys

import slowfast_zoo as sz
from slowfast_zoo.cli import main


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
