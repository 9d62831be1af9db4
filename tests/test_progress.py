"""Tests of slowfast_zoo._progress: the progress bar draws only on a terminal, its final state once."""

from __future__ import annotations

import io

import pytest

from slowfast_zoo._progress import ProgressBar


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    tty = _Tty()
    with ProgressBar(total=2048, desc="f.pth", stream=tty) as bar:
        bar.update(1024)
        bar.update(1024)
    assert "f.pth" in tty.getvalue() and "100.0%" in tty.getvalue()
    silent = _Tty()
    with ProgressBar(total=10, stream=silent, enabled=False) as bar:
        bar.update(10)
    piped = io.StringIO()
    with ProgressBar(total=10, stream=piped) as bar:
        bar.update(10)
    assert silent.getvalue() == "" and piped.getvalue() == ""


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


def test_the_label_never_carries_control_characters() -> None:
    bar = ProgressBar(total=1, desc="evil\x1b]0;title\x07\nname\u202e.pth", enabled=False)
    assert bar.desc.isprintable() and "\\x1b" in bar.desc and "\\n" in bar.desc and "\\u202e" in bar.desc
