"""What a new user meets first (issue 16): consistent units and counters, global options after the
subcommand, a fine-tuned file used from the command line, help texts that state defaults."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

import slowfast_zoo as sz
from slowfast_zoo._progress import ProgressBar
from slowfast_zoo.cli import build_parser, main as cli_main
from slowfast_zoo.training.checkpoints import save_weights
from video_factory import make_video

ROOT = Path(__file__).resolve().parents[1]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_never_prints_its_final_state_twice() -> None:
    tty = _Tty()
    bar = ProgressBar(total=3, desc="windows", stream=tty, unit="windows")
    for _ in range(3):
        bar.clear_line()
        bar._last_draw = 0.0  # draw on every update, as a slow job does
        bar.update(1)
    bar.close()
    text = tty.getvalue()
    assert text.count("3/3 windows") == 1 and text.endswith("\n") and " B" not in text
    # Nothing drawn yet at close: the final state is drawn once.
    tty2 = _Tty()
    with ProgressBar(total=2, desc="features", stream=tty2, unit="videos") as bar2:
        bar2._last_draw = 1e18  # no redraw during updates
        bar2.update(2)
    assert tty2.getvalue().count("2/2 videos") == 1


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


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("ft")
    model = sz.create_model("slowfast_r50_4x16x1", num_classes=3)
    weights = save_weights(model, root / "latest.safetensors", class_names=["jump", "run", "sit"])
    labels = root / "classes.txt"
    labels.write_text("Jump\nRun\nSit\n")
    video = make_video(root / "clip.mp4", 40, 64, 48, fps=25)
    return weights, labels, video


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
