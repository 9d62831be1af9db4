"""Damaged and crafted video files, made from the shipped samples (issue 13), and hostile rawframe
files and crafted frame rates (issue 22).

Used by the tests (``test_data_decode.py``, ``test_data_datasets.py``, ``test_evaluation_runner.py``,
``test_inference_windows.py``: a few dozen, small protocol) and by ``benchmarks/hostile_sweep.py``
(hundreds, the 30-view protocol, one process each).
"""

from __future__ import annotations

import os
import struct
import zlib
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


# ------------------------------------------------------------------ issue 22: inputs beyond videos
def slow_rate_video(path: Path, frames: int = 7, rate: str = "1:1000") -> Path:
    """A raw YUV4MPEG stream of ``frames`` 16x16 frames at ``rate`` fps (``"1:1000"``: one frame
    every 1000 s): 7 frames are 2.8 KB and last 7000 s."""
    header = f"YUV4MPEG2 W16 H16 F{rate} Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + (b"FRAME\n" + bytes(16 * 16 * 3 // 2)) * frames)
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A complete, valid black PNG of ``width`` x ``height`` pixels that stays small: 1-bit
    greyscale compresses to ~1 KB per million pixels (16000x16000 is ~32 KB, 768 MB decoded as RGB)."""
    row = bytes(1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def png16(rgb: np.ndarray) -> bytes:
    """A 16-bit RGB PNG of the uint16 array ``rgb`` ``[H, W, 3]``."""
    height, width = rgb.shape[:2]
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in rgb)
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(raw))
            + _png_chunk(b"IEND", b""))


def jpeg_claiming(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG ``jpeg`` with its SOF0 header patched to claim ``width`` x ``height``."""
    at = jpeg.index(b"\xff\xc0")  # baseline SOF: marker, length(2), precision(1), height(2), width(2)
    return jpeg[:at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9:]


#: Hostile rawframe files (what ``hostile_frame`` makes) and a word of the error each must raise.
HOSTILE_FRAMES = {
    "png_16000x16000": "16000x16000",
    "jpeg_60000x50000": "60000x50000",
    "jpeg_height_0": "outside what is read",
    "link_to_dev_zero": "character device",
    "fifo": "FIFO",
    "directory": "is a directory",
    "sparse_too_big": "larger than any 8K",
    "gif": "not a JPEG or PNG",
    "truncated_png_header": "IHDR",
    "jpeg_without_sof": "SOF",
    "empty": "empty frame file",
}


def hostile_frame(path: Path, kind: str, jpeg: bytes, max_bytes: int) -> Path:
    """Make ``path`` a hostile frame file of ``kind`` (a key of :data:`HOSTILE_FRAMES`).

    ``jpeg`` is a small valid JPEG to patch; ``max_bytes`` the reader's file-size cap (the sparse
    file is one byte more, and takes no disk space)."""
    if kind == "png_16000x16000":
        path.write_bytes(png_claiming(16000, 16000))
    elif kind == "jpeg_60000x50000":
        path.write_bytes(jpeg_claiming(jpeg, 60000, 50000))
    elif kind == "jpeg_height_0":
        path.write_bytes(jpeg_claiming(jpeg, 64, 0))
    elif kind == "link_to_dev_zero":
        os.symlink("/dev/zero", path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "sparse_too_big":
        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n")
            f.truncate(max_bytes + 1)
    elif kind == "gif":
        path.write_bytes(b"GIF89a" + bytes(64))
    elif kind == "truncated_png_header":
        path.write_bytes(png_claiming(8, 8)[:20])
    elif kind == "jpeg_without_sof":
        path.write_bytes(b"\xff\xd8\xff\xe0\x00\x04ab\xff\xda\x00\x02" + bytes(32))
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        raise ValueError(kind)
    return path
