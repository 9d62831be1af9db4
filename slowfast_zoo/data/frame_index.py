"""Which frame is frame ``k`` of a video: frame counting, the pts table and index checks.

The frame-identity half of :class:`slowfast_zoo.data.decode.VideoReader`, which opens,
decodes and converts (this module never opens a file itself). As in MMAction2's video decoders
(OpenMMLab, Apache-2.0; docs/SPEC.md section 4.3), frame ``k`` is the ``k``-th frame a full
decode of the first video stream yields. A :class:`FrameTable` records what is known about that
sequence: how many frames there are, the pts of frame ``k`` (when known) and which frames are
keyframes. :class:`FrameIndexed`, the base class of ``VideoReader``, holds it and answers
``num_frames``, ``count_method`` and ``duration``.

Two ways to build the table (``num_frames`` tries them in this order, and memoises):

* **packets** (:func:`count_packets`) -- demux without decoding and count the packets. Trusted
  only when one packet is one frame by construction and nothing looks off: container mov/mp4,
  matroska/webm, flv, ogg or avi (avi only for codecs without frame reordering: DivX "packed
  B-frames" break the rule); a codec from ``_ONE_FRAME_PER_PACKET``; every packet with a pts,
  all pts distinct (a junk packet of ``small_movie.mp4`` repeats a pts and decodes to nothing);
  no corrupt or discarded packet; the first packet a keyframe presented first; every packet
  inside the file (a truncated tail fails this). Demuxing is far cheaper than decoding: a
  decode-based count would add a large share to reading the 320 test-mode frames (measured:
  benchmarks/RESULTS.md, section "Measurements quoted from the code", data/decode.py). Frame
  ``k`` then carries the ``k``-th smallest packet pts; such a table is *unverified*.
* **decode** (:func:`scan_frames`) -- otherwise the reader decodes every frame (no RGB
  conversion) and the table comes from their pts and keyframe flags, in order; it is *verified*.
  The reader keeps those decoded frames for its next read, which converts them instead of
  decoding again (measured: same section).

An unverified table is checked again whenever the reader decodes sequentially
(:func:`contradicts`): frame ``k`` must carry the table's pts ``k``. On a mismatch the count is
redone by decoding (:meth:`FrameIndexed._recount`); if it changes, the read raises
:class:`~slowfast_zoo.errors.VideoDecodeError` (the caller sampled with a wrong count) instead
of returning shifted frames. Indices outside ``[0, num_frames)`` raise
:class:`~slowfast_zoo.errors.FrameIndexError` (:func:`check_range`).

Seeking needs strictly increasing pts (:func:`pts_monotonic`); :class:`FrameTracker` numbers
the frames decoded after keyframe seeks by their pts and notices any surprise.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import av
import numpy as np
import torch

from slowfast_zoo.errors import FrameIndexError, VideoDecodeError

__all__ = [
    "FrameIndexed", "FrameTable", "FrameTracker", "packets_may_count", "count_packets",
    "scan_frames", "pts_monotonic", "pts_positions", "duration_seconds", "as_indices", "check_range",
    "keyframe_before", "seeks_pay", "contradicts",
]

#: Containers whose packets are whole frames (no parser splitting an elementary stream).
_PACKET_CONTAINERS = frozenset({"mov", "mp4", "matroska", "webm", "flv", "ogg", "avi"})
#: Codecs that put exactly one displayed frame in each packet in the containers above.
_ONE_FRAME_PER_PACKET = frozenset(
    {"h264", "hevc", "mpeg4", "vp8", "vp9", "av1", "h263", "flv", "flv1", "theora", "mjpeg"}
)


class FrameTable(NamedTuple):
    """What is known about the frames of one video stream, in decode-output order.

    Attributes:
        num_frames: frames a full decode yields (for a packet count: the packets).
        method: ``"packets"`` or ``"decode"``.
        pts: pts of frame ``k``, or ``None`` when some decoded frame had none.
        keys: indices of keyframes (seek targets), increasing; frame 0 is always one for a
            decode count.
        verified: True when the table came from a full decode.
    """

    num_frames: int
    method: str
    pts: list[int] | None
    keys: list[int]
    verified: bool


def packets_may_count(format_names: set[str], codec: str, reorders: bool) -> bool:
    """True when the container/codec pair puts one frame in each packet (see module docstring)."""
    if not format_names & _PACKET_CONTAINERS or codec not in _ONE_FRAME_PER_PACKET:
        return False
    if "avi" in format_names and reorders:
        return False  # AVI stores no pts: reordered/packed frames get made-up ones
    return True


def count_packets(packets: Iterable[av.Packet], *, file_size: int, max_packets: int) -> FrameTable | None:
    """A table from demuxed ``packets`` alone; ``None`` when the packet count cannot be trusted.

    Call only where :func:`packets_may_count` holds. ``max_packets`` bounds the demux loop.
    """
    pts: list[int] = []
    keys: list[int] = []
    first = True
    try:
        for count, packet in enumerate(packets):
            if count > max_packets:
                return None
            if packet.size == 0:
                continue
            if packet.pts is None or packet.is_corrupt or packet.is_discard:
                return None
            if packet.pos is not None and packet.pos + packet.size > file_size:
                return None  # the index points past the end: truncated file
            if first and not packet.is_keyframe:
                return None  # the decoder may drop frames before a keyframe
            first = False
            if packet.is_keyframe:
                keys.append(packet.pts)
            pts.append(packet.pts)
    except (av.FFmpegError, OSError, ValueError, EOFError):
        return None
    if not pts or len(set(pts)) != len(pts) or min(pts) != keys[0]:
        return None
    pts.sort()
    where = pts_positions(pts)
    return FrameTable(len(pts), "packets", pts, sorted(where[p] for p in keys), False)


def scan_frames(frames: Iterable[av.VideoFrame], keep_bytes: int | None = None
                ) -> tuple[FrameTable | None, list[av.VideoFrame] | None]:
    """Count by decoding: the verified table of the decoded ``frames`` (``None`` if there are none).

    With ``keep_bytes``, also returns the frames themselves (for the reader's next read) while
    their planes total at most ``keep_bytes``; otherwise, or when they are bigger, ``None``.
    """
    pts: list[int | None] = []
    keys: list[int] = []
    kept: list[av.VideoFrame] | None = [] if keep_bytes is not None else None
    kept_bytes = 0
    for frame in frames:
        if frame.key_frame:
            keys.append(len(pts))
        pts.append(frame.pts)
        if kept is not None:
            kept_bytes += sum(plane.buffer_size for plane in frame.planes)
            if kept_bytes <= keep_bytes:  # type: ignore[operator]
                kept.append(frame)
            else:
                kept = None  # too big to keep: the read decodes again
    if not pts:
        return None, kept
    ok = all(p is not None for p in pts)
    table_pts = [int(p) for p in pts if p is not None] if ok else None  # type: ignore[arg-type]
    # The start of the file is always a valid seek target, flagged or not.
    return FrameTable(len(pts), "decode", table_pts, [0] + [k for k in keys if k != 0], True), kept


def pts_monotonic(pts: Sequence[int] | None) -> bool:
    """The pts table exists and strictly increases (needed to identify frames after a seek)."""
    return pts is not None and all(a < b for a, b in zip(pts, pts[1:]))


def duration_seconds(num_frames: int, fps: float, pts: Sequence[int] | None,
                     time_base: Fraction | None) -> float:
    """Seconds from the first frame's start to the last frame's end."""
    step = 1.0 / fps if fps > 0 else 0.0
    if pts is not None and pts_monotonic(pts) and time_base:
        return float((pts[-1] - pts[0]) * time_base) + step
    return num_frames * step


def as_indices(indices: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
    """Frame indices as a flat int64 numpy array (any shape, list, array or tensor)."""
    if isinstance(indices, torch.Tensor):
        return torch.as_tensor(indices).reshape(-1).to(torch.int64).numpy()
    return np.asarray(indices, dtype=np.int64).reshape(-1)


def check_range(idx: np.ndarray, num_frames: int, path: str | os.PathLike[str]) -> None:
    """Raise :class:`FrameIndexError` (naming ``path``) unless ``0 <= idx < num_frames``."""
    bad = idx[(idx < 0) | (idx >= num_frames)]
    if bad.size:
        raise FrameIndexError(
            f"{path}: frame index {int(bad[0])} out of range: the video decodes to {num_frames} frames")


def keyframe_before(keys: Sequence[int], k: int) -> int:
    """The last keyframe at or before frame ``k`` (where a seek for ``k`` lands)."""
    return keys[bisect.bisect_right(keys, k) - 1]


def seeks_pay(pts: Sequence[int] | None, keys: Sequence[int], unique: np.ndarray, cost: int) -> bool:
    """True when reading the increasing frames ``unique`` would skip at least one stretch:
    the keyframe before a needed frame lies more than ``cost`` frames past the previous one."""
    if not pts_monotonic(pts):
        return False
    pos = 0
    for t in unique.tolist():
        if keyframe_before(keys, t) - pos > cost:
            return True
        pos = t + 1
    return False


def contradicts(check: Sequence[int] | None, k: int, pts: int | None) -> bool:
    """Frame ``k`` of a decode, with ``pts``, disproves the unverified table pts ``check``."""
    return check is not None and pts is not None and (k >= len(check) or pts != check[k])


def pts_positions(pts: Sequence[int]) -> dict[int, int]:
    """pts -> frame number, for a table whose pts are distinct."""
    return {p: i for i, p in enumerate(pts)}


class _LostTrack(Exception):
    """A decoded frame is not the one :class:`FrameTracker` expected (the read must not trust it)."""


class FrameTracker:
    """Numbers the frames a decoder outputs, by their pts, across keyframe seeks.

    Needs a table with strictly increasing pts. :attr:`next` is the frame number the decoder
    will output next (``-1`` right after a seek, until the first frame tells).
    """

    def __init__(self, pts: Sequence[int]) -> None:
        self._where = pts_positions(pts)
        self.next, self._floor = 0, 0  # frames below floor (after a seek) are skipped

    def seeked(self, key: int) -> None:
        """The demuxer was sent to keyframe ``key``."""
        self.next, self._floor = -1, key

    def locate(self, pts: int | None) -> int | None:
        """Frame number of a decoded frame with ``pts``; ``None`` for one to skip.

        Raises :class:`_LostTrack` for an unknown pts, a seek that landed elsewhere, or a frame
        that went missing or came twice.
        """
        k = None if pts is None else self._where.get(pts)
        if k is None:
            raise _LostTrack
        if self.next == -1:
            if k < self._floor:
                return None  # open-GOP leading frames reference the previous GOP
            if k != self._floor:
                raise _LostTrack  # the demuxer landed elsewhere
        elif k != self.next:
            raise _LostTrack  # a frame went missing or came twice
        self.next = k + 1
        return k


class FrameIndexed:
    """Frame count, pts table and index checks of a video reader (the base of ``VideoReader``).

    Keeps "which frame is frame ``k``" apart from opening, decoding and converting. The subclass
    sets ``path``, ``fps`` and the stream facts annotated below before the first count, calls
    :meth:`_init_index` in its constructor, and provides ``_open()``, ``_stream(container)``
    and ``_count_decoded(keep)`` -- the count by decoding, which builds its table with
    :func:`scan_frames` and stores it with :meth:`_set_table`.
    """

    path: Path
    _shown: str  # the path as the caller gave it, for messages
    fps: float
    _time_base: Fraction | None
    _format_names: set[str]  # the container's format names (``container.format.name``)
    _codec: str
    _reorders: bool  # the codec may reorder frames (``has_b_frames``)
    _file_size: int
    _max_packets: int  # upper bound for every demux/decode loop

    def _init_index(self) -> None:
        self._num_frames: int | None = None
        self._count_method: str | None = None
        self._pts: list[int] | None = None  # pts of frame k, when known
        self._keys: list[int] = [0]  # indices of keyframes (seek targets)
        self._verified = False  # True once the pts table came from a full decode

    def _open(self) -> av.container.InputContainer:
        raise NotImplementedError

    def _stream(self, container: av.container.InputContainer) -> av.video.stream.VideoStream:
        raise NotImplementedError

    def _count_decoded(self, keep: bool = False) -> None:
        raise NotImplementedError

    def __len__(self) -> int:
        return self.num_frames

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
        return duration_seconds(self.num_frames, self.fps, self._pts, self._time_base)

    def _count_packets(self) -> bool:
        """Count by demuxing only; False when the packet count cannot be trusted."""
        if not packets_may_count(self._format_names, self._codec, self._reorders):
            return False
        with self._open() as container:
            table = count_packets(container.demux(self._stream(container)),
                                  file_size=self._file_size, max_packets=self._max_packets)
        if table is None:
            return False
        self._set_table(table)
        return True

    def _set_table(self, table: FrameTable) -> None:
        self._num_frames, self._count_method = table.num_frames, table.method
        self._pts, self._keys, self._verified = table.pts, table.keys, table.verified

    def _pts_monotonic(self) -> bool:
        return pts_monotonic(self._pts)

    def _plan_seeks(self, unique: np.ndarray, cost: int) -> bool:
        """True when the seek rule would skip at least one stretch of frames."""
        return seeks_pay(self._pts, self._keys, unique, cost)

    def _recount(self, why: str, highest: int) -> None:
        """The packet-based table disagreed with the decoder (``why``): recount by decoding.

        Raises :class:`VideoDecodeError` when the count changes (the caller sampled with a wrong
        one), :class:`FrameIndexError` when ``highest`` (the largest index wanted) no longer fits.
        """
        claimed = self._num_frames
        self._count_decoded(keep=True)
        if self._num_frames != claimed:
            raise VideoDecodeError(
                f"{self._shown}: the container lists {claimed} frames but {self._num_frames} decode "
                f"({why}); num_frames is now {self._num_frames}: sample the indices again")
        if highest >= self._num_frames:  # pragma: no cover - count unchanged
            raise FrameIndexError(f"{self._shown}: frame index {highest} out of range")
