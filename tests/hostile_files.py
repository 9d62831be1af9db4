"""Damaged and crafted video files, made from the shipped samples (issue 13).

Used by the tests (``test_data_decode.py``, ``test_data_datasets.py``, ``test_evaluation_runner.py``:
a few dozen, small protocol) and by ``benchmarks/hostile_sweep.py`` (hundreds, the 30-view
protocol, one process each).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from video_factory import make_video

SAMPLES = Path(__file__).parent / "data" / "videos"


def _damage(data: bytes, kind: str, rng: np.random.Generator) -> bytes:
    n = len(data)
    if kind.startswith("trunc"):
        return data[: max(1, int(n * float(kind[5:]) / 100))]
    buf = bytearray(data)
    if kind == "header_flip":
        for i in range(16, min(n, 400), 7):
            buf[i] ^= 0xFF
    elif kind.startswith("flip"):
        at = int(n * float(kind[4:]) / 100)
        for i in range(at, min(n, at + 256)):
            buf[i] ^= 0xFF
    elif kind.startswith("zero"):
        at = int(n * float(kind[4:]) / 100)
        buf[at:at + 4096] = bytes(min(4096, n - at))
    elif kind == "random_bytes":
        for i in rng.integers(0, n, size=max(8, n // 2000)).tolist():
            buf[i] = int(rng.integers(0, 256))
    elif kind == "insert":
        at = n // 2
        buf[at:at] = rng.bytes(8192)
    elif kind == "swap_halves":
        buf = buf[n // 2:] + buf[: n // 2]
    else:
        raise ValueError(kind)
    return bytes(buf)


#: Damage applied to each sample: the small test set uses the first few, the sweep all.
DAMAGE = ("trunc50", "header_flip", "flip30", "zero50", "trunc10", "trunc90", "flip70", "zero10",
          "random_bytes", "insert", "swap_halves", "trunc2", "trunc98", "flip5", "zero90")


def damaged_variants(sources: list[Path], out: Path, kinds: tuple[str, ...], seed: int = 0) -> Iterator[Path]:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for src in sources:
        data = src.read_bytes()
        for kind in kinds:
            path = out / f"{src.stem}.{kind}{src.suffix}"
            path.write_bytes(_damage(data, kind, rng))
            yield path


def _audio_only(path: Path) -> Path:
    with av.open(str(path), mode="w") as c:
        s = c.add_stream("mp2", rate=44100)
        s.layout = "stereo"
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 2 * 1152), np.int16), format="s16", layout="stereo")
            frame.sample_rate = 44100
            frame.pts = i * 1152
            frame.time_base = Fraction(1, 44100)
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def crafted(out: Path, *, big: bool = False) -> Iterator[tuple[Path, str]]:
    """``(path, what)`` of crafted inputs: extreme sizes, no video, not a file at all..."""
    out.mkdir(parents=True, exist_ok=True)
    yield make_video(out / "wide_8192x8.mp4", 20, 8192, 8, fps=25), "extreme aspect ratio (wide)"
    yield make_video(out / "tall_8x2048.mp4", 12, 8, 2048, fps=25), "extreme aspect ratio (tall)"
    yield make_video(out / "one_frame.mp4", 1, 64, 48, fps=25), "one frame"
    yield make_video(out / "tiny_2x2.mkv", 5, 2, 2, fps=25), "2x2 pixels"
    if big:
        yield make_video(out / "uhd_3840x2160.mp4", 40, 3840, 2160, fps=25), "4K"
    yield _audio_only(out / "audio_only.mkv"), "audio only"
    (out / "text.mp4").write_text("this is not a video\n" * 50)
    yield out / "text.mp4", "text"
    (out / "empty.mp4").write_bytes(b"")
    yield out / "empty.mp4", "empty"
    (out / "folder.mp4").mkdir(exist_ok=True)
    yield out / "folder.mp4", "directory"
    dangling = out / "dangling.mp4"
    if not dangling.is_symlink():
        os.symlink(out / "does_not_exist.mp4", dangling)
    yield dangling, "dangling link"
    a, b = out / "loop_a.mp4", out / "loop_b.mp4"
    if not a.is_symlink():
        os.symlink(b, a)
        os.symlink(a, b)
    yield a, "symlink loop"
    # A raw YUV4MPEG stream whose header claims a 100000x100000 picture.
    (out / "huge_claim.y4m").write_bytes(b"YUV4MPEG2 W100000 H100000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(4096))
    yield out / "huge_claim.y4m", "huge claimed size"
    (out / "small_claim.y4m").write_bytes(b"YUV4MPEG2 W16 H16 F25:1 Ip A1:1 C420jpeg\n"
                                          + (b"FRAME\n" + bytes(16 * 16 * 3 // 2)) * 3)
    yield out / "small_claim.y4m", "raw y4m, 3 frames"
    yield out / ("n" * 300 + ".mp4"), "name too long"
    yield out / "missing.mp4", "missing"


def samples() -> list[Path]:
    return sorted(p for p in SAMPLES.iterdir() if p.suffix != ".md")
