"""The PyAV side of :class:`~slowfast_zoo.data.decode.VideoReader`: opening a file with typed
errors, choosing its video stream, the facts of its packets and frames, RGB conversion.

Every helper names the file as the caller gave it (``shown``) in its
:class:`~slowfast_zoo.errors.VideoDecodeError`; none keeps state between calls, so the reader
stays picklable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from slowfast_zoo._io import file_problem
from slowfast_zoo.data.frame_index import FrameTable, PacketInfo, decoded_table
from slowfast_zoo.errors import VideoDecodeError

__all__ = ["STREAM_ERRORS", "typed_error", "file_size", "open_container", "video_stream",
           "packet_infos", "scan_decoded", "convert_rgb"]

#: What PyAV raises when the data of a stream is damaged: the stream is taken to end there.
STREAM_ERRORS = (av.FFmpegError, OSError, ValueError, EOFError)
_OPEN_OPTIONS = {"rw_timeout": "10000000"}  # 10 s in microseconds; local files never hit it


def typed_error(shown: str, what: str, exc: BaseException) -> VideoDecodeError:
    """Any failure of one video as our error, naming the path and the cause."""
    text = " ".join(str(exc).split())[:300]
    return VideoDecodeError(f"{shown}: {what} failed ({type(exc).__name__}: {text})")


def file_size(path: Path, shown: str) -> int:
    """Size of the regular file ``path``; a typed error saying what else it is."""
    st, problem = file_problem(path)
    if st is None:
        if problem == "is a directory":
            problem = "is a directory, not a regular file (a video file)"
        raise VideoDecodeError(f"{repr(shown) if chr(0) in shown else shown}: {problem}")
    return st.st_size


def open_container(path: Path, shown: str) -> av.container.InputContainer:
    """``path`` opened for demuxing (metadata errors ignored: they do not touch the frames)."""
    try:
        return av.open(str(path), options=_OPEN_OPTIONS, metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError, UnicodeError) as exc:
        raise VideoDecodeError(f"{shown}: cannot open as a video ({exc})") from exc


def video_stream(container: av.container.InputContainer, shown: str) -> av.video.stream.VideoStream:
    """The first decodable video stream (a cover picture does not count)."""
    for stream in container.streams.video:
        # A damaged header can leave a stream without codec context: not decodable.
        if not stream.disposition & av.stream.Disposition.attached_pic and stream.codec_context is not None:
            return stream
    raise VideoDecodeError(f"{shown}: no video stream")


def packet_infos(packets: Iterable[av.Packet]) -> Iterator[PacketInfo]:
    """The plain facts of each demuxed packet (PyAV errors pass through to the caller)."""
    for p in packets:
        yield PacketInfo(p.size, p.pts, p.pos, bool(p.is_keyframe), bool(p.is_corrupt), bool(p.is_discard))


def scan_decoded(frames: Iterable[av.VideoFrame], keep_bytes: int | None = None
                 ) -> tuple[FrameTable | None, list[av.VideoFrame] | None]:
    """Count by decoding: the verified table of ``frames`` (``None`` if there are none).

    With ``keep_bytes``, also returns the frames themselves (decoded YUV, for the reader's
    next read, which converts them instead of decoding again: measured in benchmarks/RESULTS.md)
    while their planes total at most ``keep_bytes``; otherwise, or when bigger, ``None``.
    """
    pts: list[int | None] = []
    keys: list[int] = []
    kept: list[av.VideoFrame] | None = [] if keep_bytes is not None else None
    kept_bytes = 0
    for frame in frames:
        if frame.key_frame:
            keys.append(len(pts))
        pts.append(frame.pts)
        if kept is not None and keep_bytes is not None:
            kept_bytes += sum(plane.buffer_size for plane in frame.planes)
            if kept_bytes <= keep_bytes:
                kept.append(frame)
            else:
                kept = None  # too big to keep: the read decodes again
    return decoded_table(pts, keys), kept


def convert_rgb(reformatter: VideoReformatter, frame: av.VideoFrame, dst: np.ndarray) -> None:
    """RGB24 conversion of ``frame`` into the ``[H, W, 3]`` array ``dst`` (of the frame's size)."""
    height, width = dst.shape[:2]
    # One reformatter for a whole pass reuses its swscale context, cheaper than
    # frame.to_ndarray(), which builds a new one per frame (measured: benchmarks/RESULTS.md).
    # Same default BILINEAR flags as to_ndarray, so the pixels are identical.
    rgb = reformatter.reformat(frame, width=width, height=height, format="rgb24", threads=1)
    dst[...] = rgb.to_ndarray()
