"""Synthetic test videos encoded with PyAV, shared by the test files and the benchmark.

Import it from any test (pytest puts ``tests/`` on ``sys.path`` because the folder has
no ``__init__.py``)::

    from video_factory import make_video, reference_decode

Every frame is distinguishable: a texture that moves by a few pixels per frame plus the
frame number written in binary as black/white blocks along the top edge, so a reader
that returns the wrong frame (off by one, duplicated, blank) fails a pixel comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = ["frame_pattern", "make_video", "make_audio_only", "reference_decode", "codec_available"]


def codec_available(name: str) -> bool:
    """True when PyAV's bundled FFmpeg can encode with ``name`` (e.g. ``"libvpx-vp9"``)."""
    try:
        av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 - any failure means "not available here"
        return False
    return True


def frame_pattern(index: int, height: int, width: int) -> np.ndarray:
    """RGB uint8 ``[height, width, 3]`` image for frame ``index`` (texture + binary code)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    # A diagonal texture that moves 3 px per frame: realistic motion for the encoder
    # (flat colour makes decoding unrealistically cheap, see BENCHMARKING.md).
    shift = 3.0 * index
    r = 128 + 100 * np.sin((xx + shift) / 5.0) * np.cos(yy / 7.0)
    g = 128 + 100 * np.sin((yy - shift) / 6.0)
    b = 128 + 100 * np.cos((xx + yy + 2 * shift) / 9.0)
    img = np.stack([r, g, b], axis=-1).clip(0, 255).astype(np.uint8)
    # Frame number as 10 bits of blocks on the top edge, so even heavy compression keeps
    # neighbouring frames apart.
    bits = 10
    block = max(2, min(width // bits, height // 3))
    for bit in range(bits):
        x0 = bit * block
        if x0 + block > width:
            break
        img[:block, x0 : x0 + block] = 255 if (index >> bit) & 1 else 0
    return img


def make_video(
    path: str | Path,
    num_frames: int,
    width: int = 64,
    height: int = 48,
    *,
    codec: str = "libx264",
    fps: int = 30,
    gop: int | None = 12,
    bit_rate: int | None = None,
    one_slice_per_frame: bool = False,
    options: dict[str, str] | None = None,
    frames: Callable[[int, int, int], np.ndarray] = frame_pattern,
) -> Path:
    """Encode ``num_frames`` frames (``frames(index, height, width)``, RGB uint8) into ``path``.

    Args:
        path: output file; the container follows the extension (.mp4, .mkv, .webm, .avi).
        num_frames: number of frames to encode (the decoded count is the same for these codecs).
        width, height: frame size (even numbers for 4:2:0 codecs).
        codec: FFmpeg encoder name (``libx264``, ``mpeg4``, ``libvpx-vp9``...).
        fps: constant frame rate.
        gop: keyframe interval, so seeking is exercised in long videos; ``None`` leaves it
            (and libx264's keyint parameters) to the encoder.
        bit_rate: fixed bit rate in bit/s; ``None`` lets the encoder pick (CRF/quality).
        one_slice_per_frame: set ``thread_type = "FRAME"`` before encoding; libx264 otherwise
            writes several slices per frame, which decodes unrealistically fast (benchmarks).
        options: extra encoder options.
        frames: the image of each frame; default :func:`frame_pattern`.
    """
    path = Path(path)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        if gop is not None:
            stream.codec_context.gop_size = gop
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        if one_slice_per_frame:
            stream.thread_type = "FRAME"
        opts = dict(options or {})
        if codec == "libx264":
            opts.setdefault("preset", "veryfast")
            if gop is not None:
                # keyint_min = gop makes the keyframe spacing regular (seek tests rely on it).
                opts.setdefault("x264-params", f"keyint={gop}:min-keyint={gop}:scenecut=0")
        elif codec == "libvpx-vp9":
            opts.setdefault("deadline", "realtime")
            opts.setdefault("cpu-used", "8")
        if opts:
            stream.options = opts
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(frames(i, height, width), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def make_audio_only(path: str | Path, seconds: float = 0.5, codec: str = "aac") -> Path:
    """Encode a sine tone with no video stream (``.mkv``/``.m4a`` for aac, ``.wav`` for pcm_s16le)."""
    path = Path(path)
    rate = 16000
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        fmt = "fltp" if codec == "aac" else "s16"
        n = int(seconds * rate)
        t = np.arange(n, dtype=np.float32) / rate
        wave = 0.3 * np.sin(2 * np.pi * 440 * t)
        samples = wave if fmt == "fltp" else (wave * 32767).astype(np.int16)
        chunk = 1024
        for start in range(0, n, chunk):
            piece = np.ascontiguousarray(samples[start : start + chunk][None, :])
            frame = av.AudioFrame.from_ndarray(piece, format=fmt, layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def reference_decode(path: str | Path) -> np.ndarray:
    """Decode every frame in order, single-threaded, no seeking: ``[n, H, W, 3]`` uint8 RGB.

    This is the definition the readers are checked against: frame ``k`` is the ``k``-th
    frame a plain full decode yields.
    """
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
    return np.stack(frames)
