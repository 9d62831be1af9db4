"""Which frame is frame ``k`` of a video: frame counts, the pts table and index checks.

Pure bookkeeping for :class:`slowfast_zoo.data.decode.VideoReader`: this module never opens a
file and holds no PyAV object; the reader hands it plain numbers (:class:`PacketInfo`, pts,
keyframe flags). As in MMAction2's video decoders (OpenMMLab, Apache-2.0; docs/SPEC.md section
4.3), frame ``k`` is the ``k``-th frame a full decode of the first video stream yields. A
:class:`FrameTable` records what is known about that sequence: how many frames there are, the
pts of frame ``k`` (when known) and which frames are keyframes.

Two ways to build the table (the reader tries them in this order, and memoises):

* **packets** (:func:`count_packets`) -- demux without decoding and count the packets. Trusted
  only when one packet is one frame by construction and nothing looks off: container mov/mp4,
  matroska/webm, flv, ogg or avi (avi only for codecs without frame reordering: DivX "packed
  B-frames" break the rule); a codec from :data:`ONE_FRAME_PER_PACKET`; every packet with a pts,
  all pts distinct (a junk packet of ``small_movie.mp4`` repeats a pts and decodes to nothing);
  no corrupt or discarded packet; the first packet a keyframe presented first; every packet
  inside the file (a truncated tail fails this). Demuxing is far cheaper than decoding: a
  decode-based count would add a large share to reading the 320 test-mode frames (measured:
  benchmarks/RESULTS.md, section "Measurements quoted from the code", data/decode.py). Frame
  ``k`` then carries the ``k``-th smallest packet pts; such a table is *unverified*.
* **decode** (:func:`decoded_table`) -- otherwise the reader decodes every frame (no RGB
  conversion) and the table comes from their pts and keyframe flags, in order; it is *verified*.

An unverified table is checked again whenever the reader decodes sequentially
(:func:`contradicts`): frame ``k`` must carry the table's pts ``k``; on a mismatch the reader
counts again by decoding. Indices outside ``[0, num_frames)`` raise
:class:`~slowfast_zoo.errors.FrameIndexError` (:func:`check_range`).

Seeking needs strictly increasing pts (:func:`pts_monotonic`); :class:`FrameTracker` numbers
the frames decoded after keyframe seeks by their pts and reports :data:`TRACK_LOST` at any surprise.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import NamedTuple

import numpy as np
import torch

from slowfast_zoo.errors import FrameIndexError

__all__ = [
    "PACKET_CONTAINERS", "ONE_FRAME_PER_PACKET", "FrameTable", "PacketInfo", "packets_may_count",
    "count_packets", "decoded_table", "pts_monotonic", "pts_positions", "duration_seconds",
    "as_indices", "check_range", "keyframe_before", "seeks_pay", "contradicts", "FrameTracker",
    "TRACK_LOST",
]

#: Containers whose packets are whole frames (no parser splitting an elementary stream).
PACKET_CONTAINERS = frozenset({"mov", "mp4", "matroska", "webm", "flv", "ogg", "avi"})
#: Codecs that put exactly one displayed frame in each packet in the containers above.
ONE_FRAME_PER_PACKET = frozenset(
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


class PacketInfo(NamedTuple):
    """The facts :func:`count_packets` needs of one demuxed packet."""

    size: int
    pts: int | None
    pos: int | None  # byte offset in the file, when the demuxer knows it
    keyframe: bool
    corrupt: bool
    discard: bool


def packets_may_count(format_names: set[str], codec: str, reorders: bool) -> bool:
    """True when the container/codec pair puts one frame in each packet (see module docstring).

    Example:
        >>> packets_may_count({"mov", "mp4"}, "h264", True), packets_may_count({"avi"}, "mpeg4", True)
        (True, False)
    """
    if not format_names & PACKET_CONTAINERS or codec not in ONE_FRAME_PER_PACKET:
        return False
    if "avi" in format_names and reorders:
        return False  # AVI stores no pts: reordered/packed frames get made-up ones
    return True


def count_packets(packets: Iterable[PacketInfo], *, file_size: int, max_packets: int) -> FrameTable | None:
    """A table from demuxed ``packets`` alone; ``None`` when the packet count cannot be trusted.

    Call only where :func:`packets_may_count` holds. ``max_packets`` bounds the demux loop.

    Example:
        >>> pk = [PacketInfo(10, p, None, p == 0, False, False) for p in (0, 2, 1)]
        >>> count_packets(pk, file_size=100, max_packets=10)
        FrameTable(num_frames=3, method='packets', pts=[0, 1, 2], keys=[0], verified=False)
    """
    pts: list[int] = []
    keys: list[int] = []
    first = True
    for count, packet in enumerate(packets):
        if count > max_packets:
            return None
        if packet.size == 0:
            continue
        if packet.pts is None or packet.corrupt or packet.discard:
            return None
        if packet.pos is not None and packet.pos + packet.size > file_size:
            return None  # the index points past the end: truncated file
        if first and not packet.keyframe:
            return None  # the decoder may drop frames before a keyframe
        first = False
        if packet.keyframe:
            keys.append(packet.pts)
        pts.append(packet.pts)
    if not pts or len(set(pts)) != len(pts) or min(pts) != keys[0]:
        return None
    pts.sort()
    where = pts_positions(pts)
    return FrameTable(len(pts), "packets", pts, sorted(where[p] for p in keys), False)


def decoded_table(pts: Sequence[int | None], keys: Sequence[int]) -> FrameTable | None:
    """The verified table of a full decode: each frame's pts (in decode-output order) and the
    indices of the frames flagged as keyframes; ``None`` when nothing decoded.

    Example:
        >>> decoded_table([0, 512, 1024], [2])
        FrameTable(num_frames=3, method='decode', pts=[0, 512, 1024], keys=[0, 2], verified=True)
    """
    if not pts:
        return None
    known = [int(p) for p in pts if p is not None]
    # The start of the file is always a valid seek target, flagged or not.
    return FrameTable(len(pts), "decode", known if len(known) == len(pts) else None,
                      [0] + [k for k in keys if k != 0], True)


def pts_monotonic(pts: Sequence[int] | None) -> bool:
    """The pts table exists and strictly increases (needed to identify frames after a seek)."""
    return pts is not None and all(a < b for a, b in zip(pts, pts[1:]))


def duration_seconds(num_frames: int, fps: float, pts: Sequence[int] | None,
                     time_base: Fraction | None) -> float:
    """Seconds from the first frame's start to the last frame's end.

    Example:
        >>> duration_seconds(3, 25.0, [0, 512, 1024], Fraction(1, 12800))
        0.12
    """
    step = 1.0 / fps if fps > 0 else 0.0
    if pts is not None and pts_monotonic(pts) and time_base:
        return float((pts[-1] - pts[0]) * time_base) + step
    return num_frames * step


def as_indices(indices: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
    """Frame indices as a flat int64 numpy array (any shape, list, array or tensor)."""
    if isinstance(indices, torch.Tensor):
        return indices.reshape(-1).to(torch.int64).cpu().numpy()
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


#: What :meth:`FrameTracker.locate` answers for a frame that is not the one expected: the
#: seeking read must not trust it (the reader falls back to a sequential pass).
TRACK_LOST = -1


class FrameTracker:
    """Numbers the frames a decoder outputs, by their pts, across keyframe seeks.

    Needs a table with strictly increasing pts. :attr:`next` is the frame number the decoder
    will output next (``-1`` right after a seek, until the first frame tells).

    Example:
        >>> track = FrameTracker([0, 10, 20, 30])
        >>> track.seeked(2)
        >>> track.locate(20), track.locate(30)
        (2, 3)
    """

    def __init__(self, pts: Sequence[int]) -> None:
        self._where = pts_positions(pts)
        self.next, self._floor = 0, 0  # frames below floor (after a seek) are skipped

    def seeked(self, key: int) -> None:
        """The demuxer was sent to keyframe ``key``."""
        self.next, self._floor = -1, key

    def locate(self, pts: int | None) -> int | None:
        """Frame number of a decoded frame with ``pts``; ``None`` for one to skip;
        :data:`TRACK_LOST` for an unknown pts, a seek that landed elsewhere, or a frame that
        went missing or came twice (the tracker is then of no further use)."""
        k = None if pts is None else self._where.get(pts)
        if k is None:
            return TRACK_LOST
        if self.next == -1:
            if k < self._floor:
                return None  # open-GOP leading frames reference the previous GOP
            if k != self._floor:
                return TRACK_LOST  # the demuxer landed elsewhere
        elif k != self.next:
            return TRACK_LOST  # a frame went missing or came twice
        self.next = k + 1
        return k
