"""Re-encoding a video frame by frame through PyAV, each frame passed through an overlay first.

:func:`reencode_video` decodes the first video stream of a file the way
:class:`~slowfast_zoo.data.VideoReader` numbers its frames (single-threaded, in decode-output
order: frame ``k`` of the output is frame ``k`` of the reader), hands each frame to an overlay
function as an RGB :class:`PIL.Image.Image`, and encodes what it returns. The output has the
input's frame size, frame rate and the frames that really decode: a container that claims more
frames than it holds (``stream.frames`` is 12, 11 decode) gives 11, a demux or decode error
mid-stream ends the output there, and the demux loop is bounded by the file's size, as the
reader's. Frames are renumbered ``0, 1, 2 ...`` at the input's (guessed) frame rate, so the
output plays at a constant rate; audio, subtitles and other streams are dropped (only the
frames are re-encoded).

Codec: H.264 (``libx264``, else FFmpeg's default ``h264`` encoder) in ``yuv420p``, which every
player reads. H.264 4:2:0 cannot hold an odd width or height (its chroma planes are half size,
and its cropping is in steps of two pixels), so an odd-sized video is written in ``yuv444p``
(H.264 High 4:4:4: the exact size, full chroma; FFmpeg-based players such as VLC, mpv and
ffplay read it, some browsers and QuickTime do not) rather than padded or resized. Without
H.264, the input's own codec, else MPEG-4 Part 2. The container follows the output's
extension (:data:`CONTAINERS`).

The file is written atomically (:func:`slowfast_zoo._io.atomic_write`: a hidden temporary file
in the output's folder, renamed into place), never through a symbolic link, and the leftovers
of a killed earlier run are removed first (:func:`slowfast_zoo._io.remove_leftovers`).

Example:
    >>> from PIL import ImageOps
    >>> reencode_video("in.mp4", "mirrored.mp4",
    ...                lambda k, t, image: ImageOps.mirror(image))  # doctest: +SKIP
    EncodedVideo(path=PosixPath('mirrored.mp4'), num_frames=300, ...)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Union, cast

import av
import numpy as np
from av.video.codeccontext import VideoCodecContext
from av.video.reformatter import VideoReformatter
from PIL import Image

from slowfast_zoo._io import atomic_write, remove_leftovers
from slowfast_zoo._progress import ProgressBar
from slowfast_zoo.data import av_io
from slowfast_zoo.data.decode import MAX_FRAME_PIXELS, VideoReader
from slowfast_zoo.errors import OutputPathError, UsageError, VideoDecodeError

__all__ = ["EncodedVideo", "Overlay", "CONTAINERS", "DEFAULT_FPS", "reencode_video", "check_video_output",
           "choose_encoder"]

#: An overlay: ``(frame_index, time_seconds, image) -> image``. It gets the frame as an RGB
#: :class:`PIL.Image.Image` (its own copy: drawing on it in place is fine) and returns the frame
#: to encode, an RGB image or an ``[H, W, 3]`` uint8 array of the same size.
Overlay = Callable[[int, float, Image.Image], Union[Image.Image, np.ndarray]]

#: Output extensions and the FFmpeg muxer each one is written with (all hold H.264 and MPEG-4).
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
#: Frame rate of the output when the input's is unknown (FFmpeg's own default).
DEFAULT_FPS = Fraction(25)
# Largest frame rate numerator / denominator kept: a crafted rate of 123456789/9876543 fps is
# rounded to a nearby fraction the muxers can store.
_MAX_RATE_TERM = 1_000_000
# libx264: quick, and crisp enough for drawn text (CRF 20 is near-transparent).
_X264_OPTIONS = {"preset": "veryfast", "crf": "20"}


@dataclass(frozen=True)
class EncodedVideo:
    """What :func:`reencode_video` wrote.

    Attributes:
        path: the output file.
        num_frames: frames written (the frames of the input that decode).
        fps: the output's frame rate (the input's, or :data:`DEFAULT_FPS` when unknown).
        size: ``(height, width)``: the input's.
        codec, pix_fmt: the encoder (``"libx264"``...) and its pixel format.
        audio_dropped: the input had an audio stream, not copied (nor are subtitles or data streams).

    Example:
        >>> EncodedVideo(Path("a.mp4"), 10, Fraction(25), (48, 64), "libx264", "yuv420p", False).duration
        0.4
    """

    path: Path
    num_frames: int
    fps: Fraction
    size: tuple[int, int]
    codec: str
    pix_fmt: str
    audio_dropped: bool

    @property
    def duration(self) -> float:
        """Seconds the output plays."""
        return float(self.num_frames / self.fps)


def check_video_output(out: str | os.PathLike[str], video: str | os.PathLike[str] | None = None,
                       *, option: str = "out") -> str:
    """The checks of an output video path that only a video writer knows; returns its muxer.

    Refused: an extension without a container (:data:`CONTAINERS`), a symbolic link (the file
    would be written through it, or the link replaced: neither is asked for), a folder, the input
    video itself. Missing parents and permissions are :func:`slowfast_zoo.tools.check_output_file`'s.

    Raises:
        UsageError: an unknown extension, or ``out`` is ``video``.
        OutputPathError: ``out`` is a symbolic link or a folder.

    Example:
        >>> check_video_output("clip.mkv")
        'matroska'
        >>> check_video_output("clip.gif", option="--out")
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.UsageError: --out clip.gif: a video is written as .mp4, .m4v, .mov, .mkv or .avi
    """
    text = os.fspath(out)
    shown = repr(text) if not text.isprintable() else text
    fmt = CONTAINERS.get(Path(text).suffix.lower())
    if fmt is None:
        kinds = ", ".join(CONTAINERS)
        raise UsageError(f"{option} {shown}: a video is written as {kinds.rsplit(', ', 1)[0]} or "
                         f"{kinds.rsplit(', ', 1)[1]}")
    if os.path.islink(text):
        raise OutputPathError(f"{option} {shown}: is a symbolic link; give the path of the file itself "
                              f"(the video is never written through a link)")
    if os.path.isdir(text):
        raise OutputPathError(f"{option} {shown}: is a folder; give a file name (e.g. {Path(text) / 'annotated.mp4'})")
    if video is not None and os.path.isfile(text) and os.path.isfile(video) and os.path.samefile(text, video):
        raise UsageError(f"{option} {shown}: is the input video; write the annotated copy elsewhere")
    return fmt


def _encoder_opens(name: str, pix_fmt: str, width: int, height: int, rate: Fraction) -> bool:
    """True when FFmpeg's encoder ``name`` opens for this size and pixel format."""
    try:
        ctx = cast(VideoCodecContext, av.CodecContext.create(name, "w"))
        ctx.width, ctx.height, ctx.pix_fmt = width, height, pix_fmt
        ctx.time_base = 1 / rate
        ctx.framerate = rate
        ctx.open()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not this one"
        return False


def choose_encoder(width: int, height: int, rate: Fraction, input_codec: str | None = None) -> tuple[str, str]:
    """``(encoder, pix_fmt)`` for a ``width`` x ``height`` output at ``rate`` fps: the first of
    H.264 4:2:0 (even sizes) or 4:4:4 (odd ones), the input's codec, MPEG-4 Part 2 that opens.

    Raises:
        VideoDecodeError: no encoder opens for this size.

    Example:
        >>> choose_encoder(64, 48, Fraction(25)), choose_encoder(63, 47, Fraction(25))
        (('libx264', 'yuv420p'), ('libx264', 'yuv444p'))
    """
    h264_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    candidates = [("libx264", h264_fmt), ("h264", h264_fmt)]
    if input_codec:
        try:
            formats = av.codec.Codec(input_codec, "w").video_formats or ()
        except Exception:  # noqa: BLE001 - no encoder of that name
            formats = ()
        names = [f.name for f in formats]
        for fmt in ("yuv420p", "yuv444p", *names[:1]):
            if fmt in names:
                candidates.append((input_codec, fmt))
    candidates.append(("mpeg4", "yuv420p"))
    for name, fmt in candidates:
        if _encoder_opens(name, fmt, width, height, rate):
            return av.codec.Codec(name, "w").name, fmt
    raise VideoDecodeError(f"no video encoder opens for a {width}x{height} frame at {float(rate):g} fps "
                           f"(tried {', '.join(n for n, _ in candidates)})")


def _rate(stream: av.video.stream.VideoStream) -> Fraction:
    rate = stream.guessed_rate or stream.average_rate
    if not rate or rate <= 0:
        return DEFAULT_FPS
    rate = Fraction(rate)
    if max(rate.numerator, rate.denominator) > _MAX_RATE_TERM:
        rate = rate.limit_denominator(_MAX_RATE_TERM // max(1, int(rate) + 1)) or DEFAULT_FPS
    return rate


def _frames(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
            max_packets: int, shown: str) -> Iterator[av.VideoFrame]:
    """Every frame a single-threaded decode yields; a demux/decode error ends the stream (as the
    reader's frames end there), a demuxer that does not terminate is refused."""
    stream.thread_count = 1
    packets = 0
    try:
        for packet in container.demux(stream):
            packets += 1
            if packets > max_packets:
                raise VideoDecodeError(f"{shown}: demuxer does not terminate")
            yield from packet.decode()
    except av_io.STREAM_ERRORS:
        return


def _as_frame(image: Image.Image | np.ndarray, size: tuple[int, int], index: int) -> av.VideoFrame:
    """The overlay's result as a frame to encode (RGB, the input's size)."""
    height, width = size
    if isinstance(image, Image.Image):
        if image.size != (width, height):
            raise UsageError(f"the overlay returned a {image.size[0]}x{image.size[1]} image for frame {index}, "
                             f"the video is {width}x{height}")
        return av.VideoFrame.from_image(image if image.mode == "RGB" else image.convert("RGB"))
    array = np.asarray(image)
    if array.shape != (height, width, 3) or array.dtype != np.uint8:
        raise UsageError(f"the overlay returned a {array.dtype} array of shape {array.shape} for frame {index}; "
                         f"expected uint8 ({height}, {width}, 3)")
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")


def reencode_video(video: str | os.PathLike[str] | VideoReader, out: str | os.PathLike[str],
                   overlay: Overlay | None = None, *, progress: bool = False) -> EncodedVideo:
    """Re-encode ``video`` to ``out``, each frame passed through ``overlay`` (see the module doc).

    Args:
        video: a video file, or an open :class:`~slowfast_zoo.data.VideoReader` of one (its file
            is read again, from the start).
        out: the output file (``.mp4``, ``.m4v``, ``.mov``, ``.mkv`` or ``.avi``); replaced
            atomically if it exists, its folder created if missing.
        overlay: ``(frame_index, time_seconds, image) -> image`` (:data:`Overlay`); the time is
            ``frame_index / fps``, the frame's place in the output. ``None``: frames unchanged.
        progress: a frame counter on stderr (drawn only when it is a terminal).

    Returns:
        An :class:`EncodedVideo`: the path, frames written, frame rate, size, codec.

    Raises:
        VideoDecodeError: the input cannot be read, or not one frame of it decodes (nothing is
            written then).
        UsageError, OutputPathError: ``out`` is refused (:func:`check_video_output`), or the
            overlay returned an image of another size.
    """
    source = video.path if isinstance(video, VideoReader) else Path(os.fspath(video))
    shown = os.fspath(source)
    out_path = Path(os.fspath(out))
    fmt = check_video_output(out_path, source if source.is_file() else None, option="out")
    size_bytes = av_io.file_size(source, shown)
    if size_bytes == 0:
        raise VideoDecodeError(f"{shown}: empty file")
    remove_leftovers(out_path.parent, [out_path.name])  # a run killed before its rename
    done: list[EncodedVideo] = []

    def write(tmp: str) -> None:
        done.append(_encode(source, shown, tmp, out_path, fmt, overlay, size_bytes + 1024, progress))

    atomic_write(out_path, write)
    return done[0]


def _encode(source: Path, shown: str, tmp: str, out_path: Path, fmt: str, overlay: Overlay | None,
            max_packets: int, progress: bool) -> EncodedVideo:
    """Decode ``source``, overlay and encode into ``tmp`` (muxer ``fmt``); what was written."""
    with av_io.open_container(source, shown) as inp:
        try:
            stream = av_io.video_stream(inp, shown)
            rate = _rate(stream)
            audio = any(s.type == "audio" for s in inp.streams)
            claimed = int(stream.frames or 0) or None
            frames = _frames(inp, stream, max_packets, shown)
            first = next(frames, None)
        except VideoDecodeError:
            raise
        except Exception as exc:  # PyAV's surprises while opening
            raise av_io.typed_error(shown, "opening the video", exc) from exc
        if first is None:
            raise VideoDecodeError(f"{shown}: no decodable video frame")
        height, width = first.height, first.width
        if height < 1 or width < 1 or height * width > MAX_FRAME_PIXELS:
            raise VideoDecodeError(f"{shown}: frame size {width}x{height} is outside what is read "
                                   f"(1 to {MAX_FRAME_PIXELS} pixels, 8K UHD)")
        codec, pix_fmt = choose_encoder(width, height, rate, stream.codec_context.name)
        try:
            with av.open(tmp, mode="w", format=fmt) as output, \
                    ProgressBar(total=claimed, desc=f"writing {out_path.name}", enabled=progress,
                                unit="frames") as bar:
                ost = output.add_stream(codec, rate=rate)
                assert isinstance(ost, av.video.stream.VideoStream)  # a video encoder's stream
                ost.width, ost.height, ost.pix_fmt = width, height, pix_fmt
                ost.time_base = 1 / rate
                if codec == "libx264":
                    ost.options = dict(_X264_OPTIONS)
                else:  # a bit rate for the size: the encoders' default (200 kb/s) blurs text
                    ost.bit_rate = int(min(max(width * height * float(rate) * 0.25, 400_000), 50_000_000))
                written = _write_frames(output, ost, 1 / rate, _chain(first, frames), overlay, bar)
        except av.FFmpegError as exc:
            if isinstance(exc, OSError):  # a full disk, a permission: the machine's, as they are
                raise
            raise av_io.typed_error(os.fspath(out_path), f"encoding with {codec}", exc) from exc
    return EncodedVideo(out_path, written, rate, (height, width), codec, pix_fmt, audio)


def _write_frames(output: av.container.OutputContainer, ost: av.video.stream.VideoStream, step: Fraction,
                  frames: Iterator[av.VideoFrame], overlay: Overlay | None, bar: ProgressBar) -> int:
    """Convert, overlay, encode and mux every frame (frame ``k`` at ``k * step`` seconds); the
    number written. (The muxer may change the stream's time base once its header is written:
    frames are timed in the encoder's, ``step``.)"""
    height, width = ost.height, ost.width
    reformatter = VideoReformatter()
    written = 0
    for frame in frames:
        # A stream may change size mid-way: every frame is scaled to the first's, as the
        # reader serves it.
        rgb = reformatter.reformat(frame, width=width, height=height, format="rgb24", threads=1)
        image = rgb.to_image()
        if overlay is not None:
            image = overlay(written, float(written * step), image)
        encoded = _as_frame(image, (height, width), written)
        encoded.pts = written
        encoded.time_base = step
        for packet in ost.encode(encoded):
            output.mux(packet)
        written += 1
        bar.update(1)
    for packet in ost.encode(None):
        output.mux(packet)
    return written


def _chain(first: av.VideoFrame, rest: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
    yield first
    yield from rest
