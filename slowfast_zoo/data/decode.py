"""Video decoding with PyAV: frame access by decode order, RGB conversion, typed errors.

Reproduces the frame semantics of MMAction2's video decoders (``DecordInit``/``DecordDecode``
and ``PyAVInit``/``PyAVDecode``, OpenMMLab, Apache-2.0; docs/SPEC.md section 4.3): frame ``k``
is the ``k``-th frame a full decode of the first video stream yields, returned as RGB uint8.
Unlike MMAction2's ``PyAVDecode`` we never trust the header's frame count (``stream.frames`` is
0 or wrong in many real files: 300 vs 295 decodable frames, 12 vs 11...) and never wrap an
index around or return a blank frame in place of one that does not decode. Which frame is
frame ``k`` (the pts table, its check, index validation) is worked out by the pure functions of
:mod:`slowfast_zoo.data.frame_index`; the PyAV calls themselves are in :mod:`slowfast_zoo.data.av_io`.

Reading (``VideoReader.read``): distinct indices are decoded and converted once, in increasing
order, straight into the output row of their first occurrence; repeats are copied afterwards.
Either one sequential pass (threaded only when asked, ``thread_type="AUTO"``) that converts only
the needed frames and stops after the last one, or keyframe seeking: before each needed frame,
seek when the keyframe preceding it lies more than ``_SEEK_COST_FRAMES`` frames ahead of the
decoder, so that ``auto`` seeks only where it pays (measured with benchmarks/bench_data.py:
benchmarks/RESULTS.md, section "Measurements quoted from the code"). Seeking needs reliable pts
(strictly increasing, every frame found again by its pts after a seek); anything unexpected
falls back to the sequential pass.

Damaged files: construction raises :class:`VideoDecodeError` for a missing path, a directory,
an empty file, data FFmpeg cannot open, no video stream (a cover picture does not count) or no
decodable first frame. A decoder or demuxer error mid-stream ends the stream there: the frames
before it are served, ``num_frames`` counted by decoding is the number that decode, and an index
at or beyond it raises :class:`FrameIndexError` (both a :class:`VideoDecodeError` and an
``IndexError``); after a packet count, the sequential pass that meets the error raises
:class:`VideoDecodeError` ("sample the indices again") and ``num_frames`` drops to the
decodable count. A needed frame that the decoder flags as corrupt (errors concealed) raises
instead of being served. A seeking read may serve frames after a damaged stretch (identified
by pts, they decode cleanly from their keyframe).

Hostile files: every failure while opening, counting or reading (an unexpected PyAV exception, a
stream without codec context, an allocation failure) is a :class:`VideoDecodeError` naming the
path as given and the cause. Frames larger than :data:`MAX_FRAME_PIXELS` are refused. Decoding
is single-threaded by default, so the frames and the count of a damaged file do not depend on
the machine; with ``num_threads != 1`` it is threaded only while the decoder reports nothing
wrong: once a pass meets a decode error or a frame flagged corrupt, the reader decodes
single-threaded from then on and redoes that pass.

Example:
    >>> reader = VideoReader("video.mp4")  # doctest: +SKIP
    >>> reader.num_frames, reader.size, round(reader.fps, 2)  # doctest: +SKIP
    (300, (256, 340), 30.0)
    >>> reader.read([5, 0, 5]).shape  # doctest: +SKIP
    torch.Size([3, 256, 340, 3])
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import numpy as np
import torch
from av.video.reformatter import VideoReformatter

from slowfast_zoo.data import av_io
from slowfast_zoo.data import frame_index as fi
from slowfast_zoo.errors import FrameIndexError, UsageError, VideoDecodeError

__all__ = ["VideoReader", "VideoDecodeError", "FrameIndexError", "MAX_FRAME_PIXELS"]

Strategy = Literal["auto", "sequential", "seek"]

#: Seek only when the keyframe before the next needed frame is this many frames ahead of the decoder:
#: twice what a seek plus its first frame cost in frame decodes (measured: benchmarks/RESULTS.md).
_SEEK_COST_FRAMES = 16
#: Frames kept from a counting decode for the next read (decoded YUV, before RGB conversion).
_CACHE_BYTES = 256 << 20
#: Largest decoded frame served, in pixels (8K UHD): bounds one video's memory (a frame is
#: 3 bytes per pixel in RGB); bigger frames raise :class:`VideoDecodeError`.
MAX_FRAME_PIXELS = 7680 * 4320


class _Restart(Exception):
    """Internal: the fast path met something unexpected; redo the read sequentially."""


class VideoReader:
    """Random access to the frames of a video file, by decode order.

    Args:
        path: the video file.
        num_threads: decoder threads. 1 (default): single-threaded, so the frames of any file,
            damaged ones included, are the same on every machine (threaded decoders conceal
            errors differently, even when they report none). 0 lets FFmpeg choose (one per
            core), N uses N threads: faster on many cores for clean files; the reader falls
            back to one thread once the decoder reports damage, but silently concealed damage
            may then still decode differently.

    Attributes:
        path: the file, as a :class:`pathlib.Path`.
        header_frames: the container's frame count claim (``stream.frames``; may be 0 or wrong).
        fps: frames per second (FFmpeg's guessed rate; 0.0 if unknown).
        size: ``(height, width)`` of the decoded frames.

    Raises:
        VideoDecodeError: the file is missing, empty, not a video or its first frame does not
            decode. The message names the file and the cause.

    Example:
        >>> reader = VideoReader("clip.mkv")  # doctest: +SKIP
        >>> frames = reader.read([0, 10, 10, 3])  # doctest: +SKIP
        >>> frames.shape, frames.dtype  # doctest: +SKIP
        (torch.Size([4, 720, 1280, 3]), torch.uint8)
    """

    def __init__(self, path: str | os.PathLike[str], *, num_threads: int = 1) -> None:
        self.path = Path(path)
        self._shown = os.fspath(path)  # messages name the path as the caller gave it
        self.num_threads = int(num_threads)
        self._single_thread = self.num_threads == 1  # set for good once the decoder reports damage
        self._damage_seen = False  # a decode error or a corrupt frame in the current pass
        self._file_size = av_io.file_size(self.path, self._shown)
        if self._file_size == 0:
            raise VideoDecodeError(f"{self._shown}: empty file")
        # Upper bound for every demux/decode loop: each packet consumes at least one byte.
        self._max_packets = self._file_size + 1024
        # What is known of frame k (see frame_index): filled on first use of num_frames.
        self._num_frames: int | None = None
        self._count_method: str | None = None
        self._pts: list[int] | None = None  # pts of frame k, when known
        self._keys: list[int] = [0]  # indices of keyframes (seek targets)
        self._verified = False  # True once the pts table came from a full decode
        self._last_error: BaseException | None = None  # why the last decode pass stopped early
        self._last_strategy: str | None = None  # what the last read() did (for tests/benchmarks)
        self._seeks = 0  # seeks done by the last seeking read
        self._cache: list[av.VideoFrame] | None = None  # frames of a counting decode, for one read
        try:
            self._probe()
        except VideoDecodeError:
            raise
        except Exception as exc:  # PyAV's surprises (AttributeError, IndexError...), MemoryError
            raise av_io.typed_error(self._shown, "opening the video", exc) from exc

    def _probe(self) -> None:
        """Stream facts and the first frame (its size; proof that something decodes)."""
        with self._open() as container:
            stream = self._stream(container)
            ctx = stream.codec_context
            self.header_frames = int(stream.frames or 0)
            rate = stream.guessed_rate or stream.average_rate
            self.fps = float(rate) if rate else 0.0
            self._time_base: Fraction | None = stream.time_base
            self._format_names = set(container.format.name.split(","))
            self._codec = ctx.name
            self._reorders = bool(getattr(ctx, "has_b_frames", False))
            # The first frame tells the real size (header sizes can be 0) and proves that
            # something decodes at all.
            first = next(self._iter_frames(container, stream), None)
            if first is None:
                cause = f" ({self._last_error})" if self._last_error else ""
                raise VideoDecodeError(f"{self._shown}: no decodable video frame{cause}")
            if first.height < 1 or first.width < 1 or first.height * first.width > MAX_FRAME_PIXELS:
                raise VideoDecodeError(f"{self._shown}: frame size {first.width}x{first.height} is outside "
                                       f"what is read (1 to {MAX_FRAME_PIXELS} pixels, 8K UHD)")
            self.size: tuple[int, int] = (first.height, first.width)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = None  # decoded frames are not picklable (and are big)
        state["_last_error"] = None
        return state

    def __repr__(self) -> str:
        count = "?" if self._num_frames is None else f"{self._num_frames} ({self._count_method})"
        return f"VideoReader({str(self.path)!r}, frames={count}, size={self.size}, fps={self.fps:.3f})"

    def __len__(self) -> int:
        return self.num_frames

    # ------------------------------------------------------------------ frame count
    @property
    def num_frames(self) -> int:
        """Frames a full (single-threaded, for damaged files) decode yields; memoised."""
        try:
            if self._num_frames is None and not self._count_packets():
                self._count_decoded(keep=True)
        except VideoDecodeError:
            raise
        except Exception as exc:
            raise av_io.typed_error(self._shown, "counting the frames", exc) from exc
        assert self._num_frames is not None
        return self._num_frames

    @property
    def frame_pts(self) -> list[int] | None:
        """pts of frame ``k`` (display order), ``None`` when some frame has none; for the
        timestamp-based protocols of PyTorchVideo / PySlowFast."""
        _ = self.num_frames
        return None if self._pts is None else list(self._pts)

    @property
    def count_method(self) -> str:
        """``"packets"`` or ``"decode"``: how :attr:`num_frames` was obtained."""
        _ = self.num_frames
        assert self._count_method is not None
        return self._count_method

    @property
    def duration(self) -> float:
        """Seconds from the first frame's start to the last frame's end."""
        return fi.duration_seconds(self.num_frames, self.fps, self._pts, self._time_base)

    def _set_table(self, table: fi.FrameTable) -> None:
        self._num_frames, self._count_method = table.num_frames, table.method
        self._pts, self._keys, self._verified = table.pts, table.keys, table.verified

    def _count_packets(self) -> bool:
        """Count by demuxing only; False when the packet count cannot be trusted."""
        if not fi.packets_may_count(self._format_names, self._codec, self._reorders):
            return False
        with self._open() as container:
            try:
                table = fi.count_packets(av_io.packet_infos(container.demux(self._stream(container))),
                                         file_size=self._file_size, max_packets=self._max_packets)
            except av_io.STREAM_ERRORS:
                return False
        if table is None:
            return False
        self._set_table(table)
        return True

    def _count_decoded(self, keep: bool = False) -> None:
        """Count by decoding every frame, unconverted; with ``keep``, the decoded frames (YUV, up
        to ``_CACHE_BYTES``) are kept for the next :meth:`read`, which converts them."""
        with self._open() as container:
            stream = self._stream(container)
            self._threaded(stream)
            table, self._cache = av_io.scan_decoded(self._iter_frames(container, stream),
                                                    _CACHE_BYTES if keep else None)
        if self._redo_single_threaded():
            self._cache = None
            return self._count_decoded(keep)
        if table is None:
            raise VideoDecodeError(f"{self._shown}: zero decodable frames")
        self._set_table(table)

    def _recount(self, why: str, highest: int) -> None:
        """The packet-based table disagreed with the decoder (``why``): recount by decoding.

        Raises :class:`VideoDecodeError` when the count changes (the caller sampled with a wrong
        one), :class:`FrameIndexError` when ``highest`` (the largest index wanted) no longer fits.
        """
        claimed = self._num_frames
        self._count_decoded(keep=True)
        count = self.num_frames
        if count != claimed:
            raise VideoDecodeError(
                f"{self._shown}: the container lists {claimed} frames but {count} decode "
                f"({why}); num_frames is now {count}: sample the indices again")
        if highest >= count:  # pragma: no cover - count unchanged
            raise FrameIndexError(f"{self._shown}: frame index {highest} out of range")

    # ----------------------------------------------------------------------- helpers
    def _open(self) -> av.container.InputContainer:
        return av_io.open_container(self.path, self._shown)

    def _stream(self, container: av.container.InputContainer) -> av.video.stream.VideoStream:
        return av_io.video_stream(container, self._shown)

    def _iter_frames(
        self, container: av.container.InputContainer, stream: av.video.stream.VideoStream
    ) -> Iterator[av.VideoFrame]:
        """Frames in decode-output order; a demux/decode error ends the stream (bounded)."""
        packets = 0
        try:
            for packet in container.demux(stream):
                packets += 1
                if packets > self._max_packets:
                    raise VideoDecodeError(f"{self._shown}: demuxer does not terminate")
                # The final empty packet flushes the decoder (frames still in its pipeline).
                for frame in packet.decode():
                    if frame.is_corrupt:
                        self._damage_seen = True
                    yield frame
        except av_io.STREAM_ERRORS as exc:
            self._last_error = exc
            self._damage_seen = True
            return

    def _threaded(self, stream: av.video.stream.VideoStream) -> None:
        self._damage_seen = False
        if self._single_thread:
            stream.thread_count = 1
            return
        stream.thread_type = "AUTO"  # frame + slice threads (measured: benchmarks/RESULTS.md)
        stream.thread_count = self.num_threads

    def _redo_single_threaded(self) -> bool:
        """After a threaded pass: True (and single-threaded from now on) if it met damage.

        Threaded decoders conceal errors differently and can stop early on damaged data: the
        single-threaded pass is the reference, whatever the machine."""
        if self._single_thread or not self._damage_seen:
            return False
        self._single_thread = True
        return True

    # ------------------------------------------------------------------------ read
    def read(
        self,
        indices: Sequence[int] | np.ndarray | torch.Tensor,
        *,
        strategy: Strategy = "auto",
        out: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Decode the frames at ``indices`` (decode order, any order, repeats allowed).

        Args:
            indices: frame numbers in ``[0, num_frames)``.
            strategy: ``"auto"`` (seek only where it pays, see the module docstring),
                ``"sequential"`` or ``"seek"`` (seek whenever a keyframe lies between the
                decoder and the next needed frame; falls back to sequential when pts are
                unreliable). Results are identical; only the speed differs.
            out: optional contiguous uint8 CPU tensor ``[len(indices), H, W, 3]`` to fill and
                return; reusing one across videos of the same size avoids allocating (and
                page-faulting) a fresh buffer per call.

        Returns:
            uint8 tensor ``[len(indices), H, W, 3]``, RGB, in the order of ``indices``.

        Raises:
            FrameIndexError: an index is negative or ``>= num_frames``.
            VideoDecodeError: a needed frame does not decode (truncated or corrupt data), or
                decoding disproved the container's frame count (sample again with the
                corrected ``num_frames``).
        """
        if strategy not in ("auto", "sequential", "seek"):
            raise UsageError(f"strategy must be 'auto', 'sequential' or 'seek', got {strategy!r}")
        idx = fi.as_indices(indices)
        if idx.size == 0:
            empty = self._output(out, 0)
            return torch.from_numpy(empty) if out is None else out
        fi.check_range(idx, self.num_frames, self._shown)
        try:
            # A bad ``out`` raises UsageError here: the caller's mistake, passed on as it is.
            buf = self._output(out, len(idx))
        except MemoryError as exc:  # the frames of this file do not fit
            raise av_io.typed_error(self._shown, "reading frames", exc) from exc
        try:
            unique, first, inverse = np.unique(idx, return_index=True, return_inverse=True)
            # Each distinct frame is converted straight into the row of its first occurrence;
            # repeats are copied afterwards. No intermediate buffer of distinct frames: a gather
            # from one costs page faults and a copy (measured: benchmarks/RESULTS.md).
            rows = [buf[r] for r in first.tolist()]
            try:
                self._decode_unique(unique, rows, strategy)
            except VideoDecodeError:
                if not self._redo_single_threaded():
                    raise
                self._read_sequential(unique, rows)  # the single-threaded reference (may raise)
                self._last_strategy = "sequential"
            else:
                if self._redo_single_threaded():  # served, but a threaded pass met damage
                    self._read_sequential(unique, rows)
                    self._last_strategy = "sequential"
        except VideoDecodeError:
            raise
        except Exception as exc:  # PyAV's surprises, MemoryError, failed allocations
            raise av_io.typed_error(self._shown, "reading frames", exc) from exc
        source = first[inverse.reshape(-1)]
        for pos in np.flatnonzero(source != np.arange(len(idx))).tolist():
            np.copyto(buf[pos], buf[source[pos]])
        return torch.from_numpy(buf) if out is None else out

    def _decode_unique(self, unique: np.ndarray, rows: list[np.ndarray], strategy: Strategy) -> None:
        """Fill ``rows[j]`` with frame ``unique[j]`` (increasing), by the cheapest exact way."""
        seek = strategy == "seek" or (strategy == "auto" and fi.seeks_pay(self._pts, self._keys, unique,
                                                                          _SEEK_COST_FRAMES))
        done = False
        if self._cache is not None:
            cache, self._cache = self._cache, None  # one read only: memory is freed after it
            self._read_cached(cache, unique, rows)
            self._last_strategy, done = "cache", True
        elif seek and fi.pts_monotonic(self._pts):
            try:
                self._read_seeking(unique, rows, _SEEK_COST_FRAMES if strategy == "auto" else 0)
                self._last_strategy, done = "seek", True
            except (_Restart, av.FFmpegError, OSError):
                pass  # unreliable timestamps or seek: the sequential pass is always exact
        if not done:
            self._read_sequential(unique, rows)
            self._last_strategy = "sequential"

    def _output(self, out: torch.Tensor | None, count: int) -> np.ndarray:
        height, width = self.size
        shape = (count, height, width, 3)
        if out is None:
            return np.empty(shape, dtype=np.uint8)
        if tuple(out.shape) != shape or out.dtype != torch.uint8 or out.device.type != "cpu" \
                or not out.is_contiguous():
            raise UsageError(f"out must be a contiguous uint8 CPU tensor of shape {shape}, "
                             f"got {out.dtype} {tuple(out.shape)} on {out.device}")
        return out.numpy()

    def _read_cached(self, cache: list[av.VideoFrame], unique: np.ndarray, rows: list[np.ndarray]) -> None:
        reformatter = VideoReformatter()
        for j, k in enumerate(unique.tolist()):
            if cache[k].is_corrupt:
                raise VideoDecodeError(f"{self._shown}: frame {k} decodes with errors (corrupt data)")
            av_io.convert_rgb(reformatter, cache[k], rows[j])

    def _read_sequential(self, unique: np.ndarray, rows: list[np.ndarray]) -> None:
        targets = unique.tolist()
        check = None if self._verified else self._pts
        j = 0
        with self._open() as container:
            stream = self._stream(container)
            self._threaded(stream)
            reformatter = VideoReformatter()
            self._last_error = None
            k = -1
            for k, frame in enumerate(self._iter_frames(container, stream)):
                if fi.contradicts(check, k, frame.pts):
                    return self._recount_and_retry(unique, rows, f"frame {k} has pts {frame.pts}")
                if k == targets[j]:
                    if frame.is_corrupt:  # the decoder concealed errors in this very frame
                        raise VideoDecodeError(f"{self._shown}: frame {k} decodes with errors (corrupt data)")
                    av_io.convert_rgb(reformatter, frame, rows[j])
                    j += 1
                    if j == len(targets):
                        return None
            decoded = k + 1
        if check is not None:
            return self._recount_and_retry(unique, rows, f"decoding ended after {decoded} frames")
        cause = f" ({self._last_error})" if self._last_error else ""
        raise VideoDecodeError(
            f"{self._shown}: frame {targets[j]} does not decode: the stream ends after {decoded} "
            f"frames{cause}; truncated or corrupt data")

    def _recount_and_retry(self, unique: np.ndarray, rows: list[np.ndarray], why: str) -> None:
        """The packet-based table disagreed with the decoder: recount by decoding, read again."""
        self._recount(why, int(unique[-1]))
        if self._cache is not None:
            cache, self._cache = self._cache, None
            return self._read_cached(cache, unique, rows)
        self._read_sequential(unique, rows)  # the table is now verified: no recursion beyond this

    def _read_seeking(self, unique: np.ndarray, rows: list[np.ndarray], cost: int) -> None:
        """Decode ``unique`` with keyframe seeks; raise _Restart on anything unexpected."""
        pts, keys = self._pts, self._keys
        assert pts is not None
        self._seeks = 0
        with self._open() as container:
            stream = self._stream(container)
            self._threaded(stream)
            reformatter = VideoReformatter()
            frames = self._iter_frames(container, stream)
            track = fi.FrameTracker(pts)
            budget = self._max_packets
            for j, t in enumerate(unique.tolist()):
                key = fi.keyframe_before(keys, t)
                if key - track.next > cost or (cost == 0 and key > track.next):
                    container.seek(pts[key], stream=stream, backward=True, any_frame=False)
                    self._seeks += 1
                    frames = self._iter_frames(container, stream)
                    track.seeked(key)  # the frame number is unknown until the first frame
                while True:
                    budget -= 1
                    frame = next(frames, None)
                    if frame is None or budget < 0:
                        raise _Restart
                    k = track.locate(frame.pts)
                    if k == fi.TRACK_LOST:
                        raise _Restart  # not the frame the table said: the sequential pass is exact
                    if k == t:
                        if frame.is_corrupt:
                            raise _Restart  # the sequential pass decides (and reports) for sure
                        av_io.convert_rgb(reformatter, frame, rows[j])
                        break
