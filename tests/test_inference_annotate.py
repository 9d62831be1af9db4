"""Tests of slowfast_zoo.inference.annotate (labels and boxes drawn on frames, the annotated video)
and slowfast_zoo.data.video_writer (the re-encoding writer behind it)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image, ImageFont

from slowfast_zoo.data import video_writer
from slowfast_zoo.data.decode import VideoReader
from slowfast_zoo.data.video_writer import check_video_output, choose_encoder, reencode_video
from slowfast_zoo.errors import OutputPathError, UsageError, VideoDecodeError, WrongTypeError
from slowfast_zoo.inference import annotate
from slowfast_zoo.inference.annotate import (PALETTE, draw_boxes, draw_labels, font_size_for, label_lines,
                                             prediction_overlay, window_for_frame, write_annotated_video)
from slowfast_zoo.inference.engine import Prediction
from slowfast_zoo.inference.windows import WindowPrediction
from procs import child_env, wait_for
from video_factory import make_video, reference_decode

LOCAL_VIDEOS = Path(__file__).resolve().parent / "data" / "videos"
TOP = [Prediction(5, "archery", 0.875), Prediction(9, "bowling", 0.0625)]


def _read_back(path: Path) -> tuple[np.ndarray, Fraction, str, str]:
    """Every frame (RGB), the frame rate, codec and pixel format (read while the file is open:
    a closed container's stream must not be touched)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, Fraction(stream.guessed_rate), stream.codec_context.name, stream.codec_context.pix_fmt


def _flat(index: int, height: int, width: int) -> np.ndarray:
    """A still grey frame: drawn text is the only change between frames."""
    return np.full((height, width, 3), 128, np.uint8)


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


# ----------------------------------------------------------------------------- the writer
def test_reencode_keeps_count_rate_and_size_and_draws_only_where_asked(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", 24, 160, 120, fps=25)
    seen: list[tuple[int, float]] = []

    def overlay(k: int, t: float, image: Image.Image) -> Image.Image:
        seen.append((k, t))
        return draw_labels(image, label_lines(TOP))

    done = reencode_video(src, tmp_path / "out.mp4", overlay)
    assert (done.num_frames, done.fps, done.size, done.codec, done.pix_fmt) == (24, 25, (120, 160), "libx264",
                                                                                "yuv420p")
    assert seen == [(k, k / 25) for k in range(24)] and not done.audio_dropped
    frames, rate, codec, pix_fmt = _read_back(done.path)
    assert frames.shape == (24, 120, 160, 3) and rate == 25 and codec == "h264"
    ref = reference_decode(src).astype(np.int16)
    diff = np.abs(frames.astype(np.int16) - ref)
    assert diff[:, 6:24, 6:60].mean() > 30  # the text box
    assert diff[:, 70:, 80:].mean() < 12  # far from it: only the codec's loss


@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".avi", ".mov"])
def test_odd_frame_size_keeps_its_size(tmp_path: Path, ext: str) -> None:
    src = make_video(tmp_path / "odd.mkv", 9, 63, 47, codec="mpeg4", fps=30)
    done = reencode_video(src, tmp_path / f"out{ext}", lambda k, t, im: draw_labels(im, ["a"]))
    frames, rate, codec, pix_fmt = _read_back(done.path)
    assert frames.shape == (9, 47, 63, 3) and done.size == (47, 63) and rate == 30
    assert (codec, pix_fmt) == ("h264", "yuv444p")  # H.264 4:2:0 cannot hold an odd size


def test_a_container_that_claims_more_frames_gives_the_frames_that_decode(tmp_path: Path) -> None:
    movie = LOCAL_VIDEOS / "small_movie.mp4"  # claims 12 frames, 11 decode
    with av.open(str(movie)) as container:
        assert container.streams.video[0].frames == 12
    done = reencode_video(movie, tmp_path / "small.mp4")
    assert done.num_frames == 11 == len(_read_back(done.path)[0]) == VideoReader(movie).num_frames
    # A file cut in half: the frames before the cut, as the reader serves them.
    data = make_video(tmp_path / "whole.mkv", 60, 64, 48).read_bytes()
    half = tmp_path / "half.mkv"
    half.write_bytes(data[: len(data) // 2])
    done = reencode_video(half, tmp_path / "half_out.mp4")
    assert 0 < done.num_frames == len(_read_back(done.path)[0]) == VideoReader(half).num_frames < 60


def test_an_open_reader_and_the_input_codec_without_h264(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_video(tmp_path / "in.avi", 6, 64, 48, codec="mpeg4", fps=20)
    real = video_writer._encoder_opens
    monkeypatch.setattr(video_writer, "_encoder_opens",
                        lambda name, *a: name not in ("libx264", "h264") and real(name, *a))
    done = reencode_video(VideoReader(src), tmp_path / "out.mkv")
    frames, rate, codec, _ = _read_back(done.path)
    assert done.codec == codec == "mpeg4" and len(frames) == 6 and rate == 20
    assert choose_encoder(64, 48, Fraction(20), None) == ("mpeg4", "yuv420p")


def test_audio_is_dropped_and_said(tmp_path: Path) -> None:
    src = tmp_path / "av.mkv"
    with av.open(str(src), "w") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        for k in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 40 * k, np.uint8), format="rgb24")
            frame.pts = k
            for packet in video.encode(frame):
                container.mux(packet)
        samples = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        samples.sample_rate, samples.pts = 16000, 0
        for packet in [*audio.encode(samples), *audio.encode(None), *video.encode(None)]:
            container.mux(packet)
    done = reencode_video(src, tmp_path / "out.mp4")
    assert done.audio_dropped and done.num_frames == 5
    with av.open(str(done.path)) as container:
        assert [s.type for s in container.streams] == ["video"]


def test_output_paths_refused_and_written_atomically(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", 5, 32, 32)
    target = tmp_path / "target.mp4"
    target.write_bytes(b"keep")
    (tmp_path / "link.mp4").symlink_to(target)
    (tmp_path / "folder.mp4").mkdir()
    for out, error, words in [("link.mp4", OutputPathError, "symbolic link"), ("folder.mp4", OutputPathError, "folder"),
                              ("out.gif", UsageError, ".mp4, .m4v, .mov, .mkv or .avi"),
                              ("in.mp4", UsageError, "input video")]:
        with pytest.raises(error, match=words):
            reencode_video(src, tmp_path / out)
    assert target.read_bytes() == b"keep" and (tmp_path / "link.mp4").is_symlink()
    assert check_video_output(tmp_path / "OUT.MKV") == "matroska"
    # An existing file is replaced; a failing overlay leaves the old file and no temporary file.
    done = reencode_video(src, target)
    assert done.num_frames == 5 and target.stat().st_size > 100

    def boom(k: int, t: float, image: Image.Image) -> Image.Image:
        if k == 3:
            raise RuntimeError("overlay failed")
        return image

    before = target.read_bytes()
    with pytest.raises(RuntimeError):
        reencode_video(src, target, boom)
    assert target.read_bytes() == before and not any(p.name.endswith(".partial") for p in tmp_path.iterdir())
    with pytest.raises(UsageError, match="32x32"):
        reencode_video(src, tmp_path / "small.mp4", lambda k, t, im: im.resize((16, 16)))
    with pytest.raises(VideoDecodeError, match="empty file"):
        (tmp_path / "empty.mp4").write_bytes(b"")
        reencode_video(tmp_path / "empty.mp4", tmp_path / "x.mp4")
    assert _visible(tmp_path) == ["empty.mp4", "folder.mp4", "in.mp4", "link.mp4", "target.mp4"]


def test_overlay_may_return_an_array(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", 4, 32, 32, frames=_flat)
    done = reencode_video(src, tmp_path / "out.mp4", lambda k, t, im: np.zeros((32, 32, 3), np.uint8))
    assert _read_back(done.path)[0].max() < 8
    with pytest.raises(UsageError, match="uint8"):
        reencode_video(src, tmp_path / "bad.mp4", lambda k, t, im: np.zeros((32, 32, 3), np.float32))


def test_progress_only_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    src = make_video(tmp_path / "in.mp4", 4, 32, 32)
    reencode_video(src, tmp_path / "a.mp4", progress=True)
    assert capsys.readouterr().err == ""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    reencode_video(src, tmp_path / "b.mp4", progress=True)
    assert "writing" in term.getvalue() and "4" in term.getvalue()


_KILLED_WRITER = """
import sys, time
from pathlib import Path
from slowfast_zoo.data.video_writer import reencode_video
src, out, marker = sys.argv[1:]
def overlay(k, t, image):
    if k == 5:
        Path(marker).write_text("writing")
        time.sleep(60)
    return image
reencode_video(src, out, overlay)
"""


@pytest.mark.slow
def test_a_killed_writer_leaves_no_visible_file_and_the_next_run_cleans_up(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", 30, 64, 48)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(src), str(out_dir / "a.mp4"), str(marker)],
                            env=child_env())
    try:
        wait_for(marker.exists, proc, limit_s=120)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _visible(out_dir) == []
    leftovers = [p.name for p in out_dir.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".a.mp4.") and leftovers[0].endswith(".partial")
    reencode_video(src, out_dir / "a.mp4")
    assert [p.name for p in out_dir.iterdir()] == ["a.mp4"]


# ----------------------------------------------------------------------------- drawing
def test_draw_labels_in_place_scaled_and_one_line_per_entry() -> None:
    small, big = np.zeros((120, 160, 3), np.uint8), np.zeros((720, 960, 3), np.uint8)
    assert draw_labels(small, label_lines(TOP)) is small
    draw_labels(big, label_lines(TOP))

    def extent(a: np.ndarray) -> tuple[int, int]:
        ys, xs = np.nonzero(a.any(axis=2))
        return int(ys.max()) + 1, int(xs.max()) + 1

    (h1, w1), (h2, w2) = extent(small), extent(big)
    assert h2 > 3 * h1 and w2 > 3 * w1 and h1 < 30  # the box grows with the frame (8 px text, 29 px)
    # A newline in a class name (from a hostile file) stays on its line, escaped.
    one, two = np.zeros((240, 320, 3), np.uint8), np.zeros((240, 320, 3), np.uint8)
    draw_labels(one, ["jump\nforged"])
    draw_labels(two, ["jump", "forged"])
    assert extent(one)[0] < extent(two)[0]
    image = Image.new("RGB", (160, 120))
    assert draw_labels(image, ["x"]) is image and image.getbbox() is not None
    assert draw_labels(np.zeros((10, 10, 3), np.uint8), []).any() == False  # noqa: E712
    with pytest.raises(UsageError, match="read-only"):
        frozen = np.zeros((10, 10, 3), np.uint8)
        frozen.flags.writeable = False
        draw_labels(frozen, ["a"])
    with pytest.raises(UsageError, match=r"\[H, W, 3\] uint8"):
        draw_labels(np.zeros((10, 10), np.uint8), ["a"])
    with pytest.raises(UsageError, match="mode 'L'"):
        draw_labels(Image.new("L", (10, 10)), ["a"])
    assert font_size_for(1080, 1920) == 43


def test_bitmap_font_where_pillow_cannot_scale_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ImageFont.load_default

    def old_pillow(size: float | None = None):  # Pillow < 10.1: no size argument, a bitmap font
        if size is not None:
            raise TypeError("load_default() got an unexpected keyword argument 'size'")
        return getattr(ImageFont, "load_default_imagefont", real)()

    monkeypatch.setattr(ImageFont, "load_default", old_pillow)
    annotate._font.cache_clear()
    try:
        frame = np.zeros((240, 320, 3), np.uint8)
        draw_labels(frame, ["87.5% archery \u4e2d\u6587"])  # glyphs the bitmap font lacks
        draw_boxes(frame, [[100, 100, 200, 200]], [[("stand", 0.5)]])
        assert frame[:30, :120].any()
        assert not isinstance(annotate._font(12), ImageFont.FreeTypeFont)
    finally:
        annotate._font.cache_clear()


def test_draw_boxes_clipped_coloured_and_labelled_above() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    boxes = torch.tensor([[40.0, 120, 100, 200], [150, -30, 400, 100], [500, 10, 600, 50]])
    assert draw_boxes(frame, boxes, [[("stand", 0.93), Prediction(1, "talk to", 0.4)], ["watch"], ["gone"]]) is frame
    assert frame[160, 40].tolist() == list(PALETTE[0]) and frame[160, 100].tolist() == list(PALETTE[0])
    assert frame[50, 319].tolist() == list(PALETTE[1]) and frame[100, 200].tolist() == list(PALETTE[1])
    assert not frame[160, 70].any()  # inside a box
    assert frame[100:119, 40:60].any()  # box 0's labels above its top edge
    assert frame[0:12, 150:190].any()  # box 1 begins above the frame: its label inside its top
    labelled = frame.copy()
    plain = np.zeros_like(frame)
    draw_boxes(plain, boxes)
    assert not plain[100:118, 45:60].any() and labelled[100:118, 45:60].any()
    # Colours by id: a track keeps its colour whatever its position in the list.
    by_id = np.zeros_like(frame)
    draw_boxes(by_id, [[40, 120, 100, 200]], box_ids=[3])
    assert by_id[160, 40].tolist() == list(PALETTE[3])
    custom = np.zeros_like(frame)
    draw_boxes(custom, [[40, 120, 100, 200]], colors=[(1, 2, 3)], line_width=3)
    assert custom[160, 42].tolist() == [1, 2, 3]
    assert len(set(PALETTE)) == len(PALETTE) >= 10
    for bad, words in [([[10, 10, 5, 20]], "x1 <= x2"), ([[0, 0, float("nan"), 5]], "finite"), ([[1, 2, 3]], r"\[N, 4\]")]:
        with pytest.raises(UsageError, match=words):
            draw_boxes(frame, bad)
    with pytest.raises(UsageError, match="2 label lists for 1 boxes"):
        draw_boxes(frame, [[0, 0, 5, 5]], [["a"], ["b"]])
    assert draw_boxes(frame, np.zeros((0, 4))) is frame


# ----------------------------------------------------------------------------- predictions on videos
def _windows() -> list[WindowPrediction]:
    return [WindowPrediction(0, 3, 0.0, 0.4, 0, 10, [Prediction(0, "jump", 0.9)]),
            WindowPrediction(1, 3, 0.4, 0.8, 10, 20, [Prediction(1, "a much longer label, run", 0.8)]),
            WindowPrediction(2, 3, 1.2, 1.6, 30, 40, [Prediction(2, "sit", 0.7)])]


def test_window_for_frame_nearest_centre_and_gaps() -> None:
    ws = _windows()
    assert [getattr(window_for_frame(ws, k), "index", None) for k in (0, 9, 10, 19, 20, 29, 30, 39, 40)] == \
        [0, 0, 1, 1, None, None, 2, 2, None]
    overlapping = [WindowPrediction(k, 5, k * 1.0, k + 2.0, 25 * k, min(25 * k + 50, 120)) for k in range(5)]
    picks = [window_for_frame(overlapping, k) for k in range(120)]
    # Centres 25, 50, 75, 97.5, 110: each frame (centre k + 0.5) takes the nearest, the earlier on a tie.
    assert [p.index for p in picks if p is not None] == [0] * 38 + [1] * 25 + [2] * 23 + [3] * 18 + [4] * 16
    assert all(p is not None and p.start_frame <= k < p.end_frame for k, p in enumerate(picks))
    assert window_for_frame([], 3) is None
    with pytest.raises(WrongTypeError, match="Prediction"):
        prediction_overlay([TOP[0], ws[0]])  # type: ignore[list-item]


def test_write_annotated_video_whole_and_per_window(tmp_path: Path) -> None:
    src = make_video(tmp_path / "still.mp4", 45, 160, 120, fps=25, frames=_flat)
    whole = write_annotated_video(src, tmp_path / "whole.mp4", TOP)
    frames = _read_back(whole.path)[0].astype(np.int16)
    assert len(frames) == 45 and np.abs(frames[:, 6:20, 6:50] - 128).mean() > 20
    assert np.abs(frames[:, 60:, 60:] - 128).max() < 6
    assert np.abs(frames[0] - frames[-1]).mean() < 1  # the same text on every frame
    per = _read_back(write_annotated_video(src, tmp_path / "windows.mkv", _windows()).path)[0].astype(np.int16)
    text = (slice(None), slice(0, 40), slice(0, 160))
    assert np.abs(per[3][text[1:]] - per[8][text[1:]]).mean() < 1  # window 0, both
    assert np.abs(per[3][text[1:]] - per[13][text[1:]]).mean() > 3  # window 0 / window 1
    assert np.abs(per[25] - 128).max() < 6  # in the gap between windows 1 and 2: untouched
    assert np.abs(per[35][text[1:]] - 128).mean() > 3 and np.abs(per[44] - 128).max() < 6


# ----------------------------------------------------------------------------- review: hostile sizes
def test_line_width_and_font_size_are_checked_and_bounded():
    """Pillow draws a width-w outline as w rectangles: line_width=10**6 ran for minutes."""
    import time

    frame = np.zeros((48, 64, 3), np.uint8)
    start = time.perf_counter()
    draw_boxes(frame, [[0, 0, 10, 10]], line_width=10**6)
    assert time.perf_counter() - start < 5 and frame[5, 5].any()
    for bad in (0, -1, True, 2.5):
        with pytest.raises(UsageError, match="line_width"):
            draw_boxes(frame, [[0, 0, 10, 10]], line_width=bad)
        with pytest.raises(UsageError, match="font_size"):
            draw_labels(frame, ["walk"], font_size=bad)
