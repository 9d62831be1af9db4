"""Video decoding with PyAV: exact frame counts, frame access by decode order, typed errors.

Reproduces the frame semantics of MMAction2's video decoders (``DecordInit``/``DecordDecode``
and ``PyAVInit``/``PyAVDecode``, OpenMMLab, Apache-2.0; SPEC.md section 4.3): frame ``k`` is the
``k``-th frame a full decode of the first video stream yields, returned as RGB uint8. Unlike
MMAction2's ``PyAVDecode`` we never trust the header's frame count (``stream.frames`` is 0 or
wrong in many real files: 300 vs 295 decodable frames, 12 vs 11...) and never wrap an index
around or return a blank frame in place of one that does not decode.

Frame counting (``VideoReader.num_frames``, memoised):

* **packets** -- demux without decoding and count the packets. Trusted only when one packet is
  one frame by construction and nothing looks off: container mov/mp4, matroska/webm, flv, ogg
  or avi (avi only for codecs without frame reordering: DivX "packed B-frames" break the rule);
  a codec from ``_ONE_FRAME_PER_PACKET``; every packet with a pts, all pts distinct (a junk
  packet of ``small_movie.mp4`` repeats a pts and decodes to nothing); no corrupt or discarded
  packet; the first packet a keyframe presented first; every packet inside the file (a
  truncated tail fails this). Cost measured on a 10 s 30 fps H.264 file (300 frames, 2-core
  AMD EPYC): 5 ms (340x256) and 7 ms (640x360), against 180 ms / 450 ms for decoding every
  frame without RGB conversion (13 / 22 ms against 313 / 561 ms with the cores shared, load
  3.5) -- a decode-based count would add 60-90 % to reading the 320 test-mode frames.
* **decode** -- otherwise decode every frame (no RGB conversion) and count them. The decoded
  frames (YUV, up to 256 MB) are kept for the next ``read`` only, which converts them instead of
  decoding again: 53 vs 71 ms (Force_constante.avi), 63 vs 86 ms (alea.mpg) for count + test read.

A packet count is checked again whenever ``read`` decodes sequentially: frame ``k`` must carry
the ``k``-th smallest packet pts. On a mismatch the count is redone by decoding; if it changes,
``read`` raises :class:`VideoDecodeError` (the caller sampled with a wrong count) instead of
returning shifted frames.

Reading strategy (``VideoReader.read``): distinct indices are decoded and converted once, in
increasing order, straight into the output row of their first occurrence; repeats are copied
afterwards. Either one sequential pass with
threaded decoding (``thread_type="AUTO"``) that converts only the needed frames and stops after
the last one, or keyframe seeking: before each needed frame, seek when the keyframe preceding
it lies more than ``_SEEK_COST_FRAMES`` frames ahead of the decoder. A seek plus the decode of
the first frame after it cost 4-6 ms, i.e. 6-9 frame decodes, on 340x256 H.264 (0.7 ms a
frame); the constant doubles that, because an imprecise demuxer seek costs more than a few
extra decoded frames. Checked end to end (benchmarks/bench_data.py, 340x256, keyframe every
250 frames): ``auto`` seeks for one 32-frame clip late in a 60 s video (0.26 s against 1.51 s
sequential) and for the 10 test clips of it (1.59 s against 1.87 s), and stays sequential for
the 10 test clips of a 10 s video, where forced seeking is slower (0.41 s against 0.36 s).
Seeking needs a reliable pts sequence (strictly increasing, every frame found again by its pts
after a seek); anything unexpected falls back to the sequential pass.

Damaged files: construction raises :class:`VideoDecodeError` for a missing path, a directory,
an empty file, data FFmpeg cannot open, no video stream (a cover picture does not count) or no
decodable first frame. A decoder or demuxer error mid-stream ends the stream there: the frames
before it are served, ``num_frames`` (when counted by decoding) is the number of frames that
decode, and asking for an index at or beyond it raises :class:`FrameIndexError` (a subclass of
both :class:`VideoDecodeError` and ``IndexError``). When the count came from packets, the
sequential pass that meets the error raises :class:`VideoDecodeError` ("sample the indices
again") and ``num_frames`` drops to the decodable count. A needed frame that the decoder flags
as corrupt (errors concealed) raises instead of being served. A seeking read may serve frames
after a damaged stretch (they are identified by pts and decode cleanly from their keyframe).

Example:
    >>> reader = VideoReader("video.mp4")  # doctest: +SKIP
    >>> reader.num_frames, reader.size, round(reader.fps, 2)  # doctest: +SKIP
    (300, (256, 340), 30.0)
    >>> reader.read([5, 0, 5]).shape  # doctest: +SKIP
    torch.Size([3, 256, 340, 3])
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import av
import numpy as np
import torch
from av.video.reformatter import VideoReformatter

from slowfast_zoo.errors import VideoDecodeError

__all__ = ["VideoReader", "VideoDecodeError", "FrameIndexError"]

Strategy = Literal["auto", "sequential", "seek"]

#: Containers whose packets are whole frames (no parser splitting an elementary stream).
_PACKET_CONTAINERS = frozenset({"mov", "mp4", "matroska", "webm", "flv", "ogg", "avi"})
#: Codecs that put exactly one displayed frame in each packet in the containers above.
_ONE_FRAME_PER_PACKET = frozenset(
    {"h264", "hevc", "mpeg4", "vp8", "vp9", "av1", "h263", "flv", "flv1", "theora", "mjpeg"}
)
#: Seek only when the keyframe before the next needed frame is this many frames ahead of the
#: decoder (measured: seek + first frame = 6-9 frame decodes; see module docstring).
_SEEK_COST_FRAMES = 16
#: Frames kept from a counting decode for the next read (decoded YUV, before RGB conversion).
_CACHE_BYTES = 256 << 20
_OPEN_OPTIONS = {"rw_timeout": "10000000"}  # 10 s in microseconds; local files never hit it


class FrameIndexError(VideoDecodeError, IndexError):
    """A frame index outside ``[0, num_frames)`` (also catchable as ``IndexError``)."""


class _Restart(Exception):
    """Internal: the fast path met something unexpected; redo the read sequentially."""


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


class VideoReader:
    """Random access to the frames of a video file, by decode order.

    Args:
        path: the video file.
        num_threads: decoder threads; 0 lets FFmpeg choose (one per core). Use 1 inside
            DataLoader workers that already fill the cores.

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

    def __init__(self, path: str | os.PathLike[str], *, num_threads: int = 0) -> None:
        self.path = Path(path)
        self.num_threads = int(num_threads)
        if not self.path.exists():
            raise VideoDecodeError(f"{self.path}: no such file")
        if not self.path.is_file():
            raise VideoDecodeError(f"{self.path}: not a regular file")
        self._file_size = self.path.stat().st_size
        if self._file_size == 0:
            raise VideoDecodeError(f"{self.path}: empty file")
        # Upper bound for every demux/decode loop: each packet consumes at least one byte.
        self._max_packets = self._file_size + 1024
        self._num_frames: int | None = None
        self._count_method: str | None = None
        self._pts: list[int] | None = None  # pts of frame k, when known
        self._keys: list[int] = [0]  # indices of keyframes (seek targets)
        self._verified = False  # True once the pts table came from a full decode
        self._last_error: BaseException | None = None  # why the last decode pass stopped early
        self._last_strategy: str | None = None  # what the last read() did (for tests/benchmarks)
        self._seeks = 0  # seeks done by the last seeking read
        self._cache: list[av.VideoFrame] | None = None  # frames of a counting decode, for one read
        with self._open() as container:
            stream = self._stream(container)
            ctx = stream.codec_context
            self.header_frames = int(stream.frames or 0)
            rate = stream.guessed_rate or stream.average_rate
            self.fps = float(rate) if rate else 0.0
            self._time_base = stream.time_base
            self._format_names = set(container.format.name.split(","))
            self._codec = ctx.name
            self._reorders = bool(getattr(ctx, "has_b_frames", False))
            # The first frame tells the real size (header sizes can be 0) and proves that
            # something decodes at all.
            first = next(self._iter_frames(container, stream), None)
            if first is None:
                cause = f" ({self._last_error})" if self._last_error else ""
                raise VideoDecodeError(f"{self.path}: no decodable video frame{cause}")
            self.size: tuple[int, int] = (first.height, first.width)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = None  # decoded frames are not picklable (and are big)
        state["_last_error"] = None
        return state

    def __len__(self) -> int:
        return self.num_frames

    def __repr__(self) -> str:
        count = "?" if self._num_frames is None else f"{self._num_frames} ({self._count_method})"
        return f"VideoReader({str(self.path)!r}, frames={count}, size={self.size}, fps={self.fps:.3f})"

    # ----------------------------------------------------------------------- helpers
    def _open(self) -> av.container.InputContainer:
        try:
            return av.open(str(self.path), options=_OPEN_OPTIONS, metadata_errors="ignore")
        except (av.FFmpegError, OSError, ValueError, UnicodeError) as exc:
            raise VideoDecodeError(f"{self.path}: cannot open as a video ({exc})") from exc

    def _stream(self, container: av.container.InputContainer) -> av.video.stream.VideoStream:
        stream = _video_stream(container)
        if stream is None:
            raise VideoDecodeError(f"{self.path}: no video stream")
        return stream

    def _iter_frames(
        self, container: av.container.InputContainer, stream: av.video.stream.VideoStream
    ) -> Iterator[av.VideoFrame]:
        """Frames in decode-output order; a demux/decode error ends the stream (bounded)."""
        packets = 0
        try:
            for packet in container.demux(stream):
                packets += 1
                if packets > self._max_packets:
                    raise VideoDecodeError(f"{self.path}: demuxer does not terminate")
                # The final empty packet flushes the decoder (frames still in its pipeline).
                yield from packet.decode()
        except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
            self._last_error = exc
            return

    def _threaded(self, stream: av.video.stream.VideoStream) -> None:
        stream.thread_type = "AUTO"  # frame + slice threads: the fastest on 2 cores
        stream.thread_count = self.num_threads

    # ------------------------------------------------------------------ frame count
    @property
    def num_frames(self) -> int:
        """Frames a full decode yields (what sampling must use); memoised."""
        if self._num_frames is None:
            if not self._count_packets():
                self._count_decoded(keep=True)
        assert self._num_frames is not None
        return self._num_frames

    @property
    def count_method(self) -> str:
        """``"packets"`` or ``"decode"``: how :attr:`num_frames` was obtained."""
        _ = self.num_frames
        assert self._count_method is not None
        return self._count_method

    @property
    def duration(self) -> float:
        """Seconds from the first frame's start to the last frame's end."""
        n = self.num_frames
        step = 1.0 / self.fps if self.fps > 0 else 0.0
        if self._pts is not None and self._pts_monotonic() and self._time_base:
            return float((self._pts[-1] - self._pts[0]) * self._time_base) + step
        return n * step

    def _count_packets(self) -> bool:
        """Count by demuxing only; False when the packet count cannot be trusted."""
        if not self._format_names & _PACKET_CONTAINERS or self._codec not in _ONE_FRAME_PER_PACKET:
            return False
        if "avi" in self._format_names and self._reorders:
            return False  # AVI stores no pts: reordered/packed frames get made-up ones
        pts: list[int] = []
        keys: list[int] = []
        first = True
        with self._open() as container:
            stream = self._stream(container)
            try:
                for count, packet in enumerate(container.demux(stream)):
                    if count > self._max_packets:
                        return False
                    if packet.size == 0:
                        continue
                    if packet.pts is None or packet.is_corrupt or packet.is_discard:
                        return False
                    if packet.pos is not None and packet.pos + packet.size > self._file_size:
                        return False  # the index points past the end: truncated file
                    if first and not packet.is_keyframe:
                        return False  # the decoder may drop frames before a keyframe
                    first = False
                    if packet.is_keyframe:
                        keys.append(packet.pts)
                    pts.append(packet.pts)
            except (av.FFmpegError, OSError, ValueError, EOFError):
                return False
        if not pts or len(set(pts)) != len(pts) or min(pts) != keys[0]:
            return False
        pts.sort()
        where = {p: i for i, p in enumerate(pts)}
        self._pts, self._keys = pts, sorted(where[p] for p in keys)
        self._num_frames, self._count_method, self._verified = len(pts), "packets", False
        return True

    def _count_decoded(self, keep: bool = False) -> None:
        """Count by decoding every frame without converting it.

        With ``keep``, the decoded frames (YUV, up to ``_CACHE_BYTES``) are kept for the next
        :meth:`read`, which then converts them instead of decoding the file a second time.
        """
        pts: list[int | None] = []
        keys: list[int] = []
        kept: list[av.VideoFrame] | None = [] if keep else None
        kept_bytes = 0
        with self._open() as container:
            stream = self._stream(container)
            self._threaded(stream)
            for frame in self._iter_frames(container, stream):
                if frame.key_frame:
                    keys.append(len(pts))
                pts.append(frame.pts)
                if kept is not None:
                    kept_bytes += sum(plane.buffer_size for plane in frame.planes)
                    if kept_bytes <= _CACHE_BYTES:
                        kept.append(frame)
                    else:
                        kept = None  # too big to keep: the read decodes again
        self._cache = kept
        if not pts:
            raise VideoDecodeError(f"{self.path}: zero decodable frames")
        self._num_frames, self._count_method, self._verified = len(pts), "decode", True
        ok = all(p is not None for p in pts)
        self._pts = [int(p) for p in pts if p is not None] if ok else None  # type: ignore[arg-type]
        # The start of the file is always a valid seek target, flagged or not.
        self._keys = [0] + [k for k in keys if k != 0]

    def _pts_monotonic(self) -> bool:
        p = self._pts
        return p is not None and all(a < b for a, b in zip(p, p[1:]))

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
            raise ValueError(f"strategy must be 'auto', 'sequential' or 'seek', got {strategy!r}")
        idx = torch.as_tensor(indices).reshape(-1).to(torch.int64).numpy() if isinstance(
            indices, torch.Tensor) else np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size == 0:
            empty = self._output(out, 0)
            return torch.from_numpy(empty) if out is None else out
        n = self.num_frames
        bad = idx[(idx < 0) | (idx >= n)]
        if bad.size:
            raise FrameIndexError(
                f"{self.path}: frame index {int(bad[0])} out of range: the video decodes to {n} frames")
        buf = self._output(out, len(idx))
        unique, first, inverse = np.unique(idx, return_index=True, return_inverse=True)
        # Each distinct frame is converted straight into the row of its first occurrence;
        # repeats are copied afterwards. No intermediate buffer: at 640x360 a gather from a
        # separate buffer of distinct frames cost 0.4 s under load (page faults + copy).
        rows = [buf[r] for r in first.tolist()]
        seek = strategy == "seek" or (strategy == "auto" and self._plan_seeks(unique))
        done = False
        if self._cache is not None:
            cache, self._cache = self._cache, None  # one read only: memory is freed after it
            self._read_cached(cache, unique, rows)
            self._last_strategy, done = "cache", True
        elif seek and self._pts_monotonic():
            try:
                self._read_seeking(unique, rows, _SEEK_COST_FRAMES if strategy == "auto" else 0)
                self._last_strategy, done = "seek", True
            except (_Restart, av.FFmpegError, OSError):
                pass  # unreliable timestamps or seek: the sequential pass is always exact
        if not done:
            self._read_sequential(unique, rows)
            self._last_strategy = "sequential"
        source = first[inverse.reshape(-1)]
        for pos in np.flatnonzero(source != np.arange(len(idx))).tolist():
            np.copyto(buf[pos], buf[source[pos]])
        return torch.from_numpy(buf) if out is None else out

    def _output(self, out: torch.Tensor | None, count: int) -> np.ndarray:
        height, width = self.size
        shape = (count, height, width, 3)
        if out is None:
            return np.empty(shape, dtype=np.uint8)
        if tuple(out.shape) != shape or out.dtype != torch.uint8 or out.device.type != "cpu" \
                or not out.is_contiguous():
            raise ValueError(f"out must be a contiguous uint8 CPU tensor of shape {shape}, "
                             f"got {out.dtype} {tuple(out.shape)} on {out.device}")
        return out.numpy()

    def _plan_seeks(self, unique: np.ndarray) -> bool:
        """True when the seek rule would skip at least one stretch of frames."""
        if not self._pts_monotonic():
            return False
        pos = 0
        for t in unique.tolist():
            key = self._keys[bisect.bisect_right(self._keys, t) - 1]
            if key - pos > _SEEK_COST_FRAMES:
                return True
            pos = t + 1
        return False

    def _convert(self, reformatter: VideoReformatter, frame: av.VideoFrame, dst: np.ndarray) -> None:
        """RGB24 conversion of ``frame`` into the ``[H, W, 3]`` array ``dst``."""
        height, width = self.size
        # One reformatter for the whole pass reuses its swscale context: 2x cheaper than
        # frame.to_ndarray(), which builds a new one per frame (0.32 vs 0.65 ms at 640x360).
        # Same default BILINEAR flags as to_ndarray, so the pixels are identical.
        rgb = reformatter.reformat(frame, width=width, height=height, format="rgb24", threads=1)
        dst[...] = rgb.to_ndarray()

    def _read_cached(self, cache: list[av.VideoFrame], unique: np.ndarray, rows: list[np.ndarray]) -> None:
        reformatter = VideoReformatter()
        for j, k in enumerate(unique.tolist()):
            if cache[k].is_corrupt:
                raise VideoDecodeError(f"{self.path}: frame {k} decodes with errors (corrupt data)")
            self._convert(reformatter, cache[k], rows[j])

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
                if check is not None and frame.pts is not None and (k >= len(check) or frame.pts != check[k]):
                    return self._recount_and_retry(unique, rows, f"frame {k} has pts {frame.pts}")
                if k == targets[j]:
                    if frame.is_corrupt:  # the decoder concealed errors in this very frame
                        raise VideoDecodeError(f"{self.path}: frame {k} decodes with errors (corrupt data)")
                    self._convert(reformatter, frame, rows[j])
                    j += 1
                    if j == len(targets):
                        return None
            decoded = k + 1
        if check is not None:
            return self._recount_and_retry(unique, rows, f"decoding ended after {decoded} frames")
        cause = f" ({self._last_error})" if self._last_error else ""
        raise VideoDecodeError(
            f"{self.path}: frame {targets[j]} does not decode: the stream ends after {decoded} "
            f"frames{cause}; truncated or corrupt data")

    def _recount_and_retry(self, unique: np.ndarray, rows: list[np.ndarray], why: str) -> None:
        """The packet-based table disagreed with the decoder: recount by decoding."""
        claimed = self._num_frames
        self._count_decoded(keep=True)
        if self._num_frames != claimed:
            raise VideoDecodeError(
                f"{self.path}: the container lists {claimed} frames but {self._num_frames} decode "
                f"({why}); num_frames is now {self._num_frames}: sample the indices again")
        if int(unique[-1]) >= self._num_frames:  # pragma: no cover - count unchanged
            raise FrameIndexError(f"{self.path}: frame index {int(unique[-1])} out of range")
        if self._cache is not None:
            cache, self._cache = self._cache, None
            return self._read_cached(cache, unique, rows)
        self._read_sequential(unique, rows)  # the table is now verified: no recursion beyond this

    def _read_seeking(self, unique: np.ndarray, rows: list[np.ndarray], cost: int) -> None:
        """Decode ``unique`` with keyframe seeks; raise _Restart on anything unexpected."""
        pts, keys = self._pts, self._keys
        assert pts is not None
        where = {p: i for i, p in enumerate(pts)}
        targets = unique.tolist()
        self._seeks = 0
        with self._open() as container:
            stream = self._stream(container)
            self._threaded(stream)
            reformatter = VideoReformatter()
            frames = self._iter_frames(container, stream)
            nxt, floor = 0, 0  # next frame index the decoder will output; ignore frames below floor
            budget = self._max_packets
            for j, t in enumerate(targets):
                key = keys[bisect.bisect_right(keys, t) - 1]
                if key - nxt > cost or (cost == 0 and key > nxt):
                    container.seek(pts[key], stream=stream, backward=True, any_frame=False)
                    self._seeks += 1
                    frames = self._iter_frames(container, stream)
                    nxt, floor = -1, key  # unknown until the first frame after the seek
                while True:
                    budget -= 1
                    frame = next(frames, None)
                    if frame is None or budget < 0 or frame.pts is None:
                        raise _Restart
                    k = where.get(frame.pts)
                    if k is None:
                        raise _Restart
                    if nxt == -1:
                        if k < floor:
                            continue  # open-GOP leading frames reference the previous GOP
                        if k != floor:
                            raise _Restart  # the demuxer landed elsewhere
                    elif k != nxt:
                        raise _Restart  # a frame went missing or came twice
                    nxt = k + 1
                    if k == t:
                        if frame.is_corrupt:
                            raise _Restart  # the sequential pass decides (and reports) for sure
                        self._convert(reformatter, frame, rows[j])
                        break
