# Test-time frame selection of PyTorchVideo and PySlowFast.
#
# Reproduces the index arithmetic of PyTorchVideo (Meta, Apache-2.0,
# https://github.com/facebookresearch/pytorchvideo): ``ConstantClipsPerVideoSampler`` in its three
# historical behaviours (``data/clip_sampling.py`` at 4feccb60, f4a68b27 = PyPI 0.1.5, and from
# 9368f30 on), ``EncodedVideoPyAV.get_clip`` / ``FrameVideo.get_clip`` of the same releases,
# ``UniformTemporalSubsample`` and ``SSv2._sample_clip_frames``; and of PySlowFast (Meta,
# Apache-2.0, https://github.com/facebookresearch/SlowFast): ``decoder.get_start_end_idx``,
# ``temporal_sampling`` and the PyAV selective decode of ``decoder.py`` at 7ad8378 (the
# decoder of the caffe2 and multigrid zoo era), ``Ssv2.get_seq_frames`` and
# ``Charades.get_seq_frames``. An independent re-implementation checked against the frameworks'
# own outputs (tests/data/pysf); no code is copied.
"""Frame indices of the PyTorchVideo / PySlowFast test protocols (``PYSF_SAMPLING_RULES``).

Time-based rules need the video's timestamps (:class:`VideoTiming`, from
:func:`video_timing`); frame folders have none and are treated as PyTorchVideo's
``FrameVideo`` does (30 frames per second, frame ``k`` at ``k / 30`` s).

Example:
    >>> segment_middle(10, 4).tolist()
    [1, 3, 5, 8]
    >>> psf_start_end_idx(300, 64.0, 1, 10)
    (23.6, 86.6)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from slowfast_zoo.data import av_io
from slowfast_zoo.errors import UsageError, VideoDecodeError
from slowfast_zoo.registry.records import PYSF_SAMPLING_RULES

__all__ = ["VideoTiming", "video_timing", "ptv_clip_times", "ptv_clip_frames", "linspace_indices",
           "psf_start_end_idx", "psf_decoder_frames", "segment_middle", "psf_charades_frames",
           "sample_pysf", "PTV_RULES", "FRAME_FOLDER_FPS"]

#: The clip samplers of PyTorchVideo's three historical behaviours.
PTV_RULES = ("ptv_2021_04", "ptv_0_1_5", "ptv_pinned")
#: ``FrameVideo``'s default frame rate (frame folders: SSv2, Charades).
FRAME_FOLDER_FPS = 30.0

Time = float | Fraction


@dataclass(frozen=True)
class VideoTiming:
    """The container facts PyTorchVideo and PySlowFast place clips with.

    Attributes:
        pts: pts of each frame, by the reader's frame index (display order).
        time_base: the stream's time base.
        start_time: ``stream.start_time`` (``None`` when unknown).
        stream_duration: ``stream.duration`` in time-base units (``None`` when unknown, e.g. mkv).
        header_frames: ``stream.frames`` (0 when unknown).
        average_rate: ``stream.average_rate`` (``None`` when unknown).
    """

    pts: tuple[int, ...]
    time_base: Fraction
    start_time: int | None
    stream_duration: int | None
    header_frames: int
    average_rate: Fraction | None


def video_timing(reader: Any) -> VideoTiming:
    """The :class:`VideoTiming` of a :class:`~slowfast_zoo.data.VideoReader`'s file.

    Raises:
        VideoDecodeError: a frame has no timestamp (the frameworks select frames by pts).
    """
    pts = reader.frame_pts
    shown = str(getattr(reader, "_shown", reader.path))
    if pts is None:
        raise VideoDecodeError(f"{shown}: some frames have no timestamp; PyTorchVideo / PySlowFast "
                               f"place their clips by timestamps")
    with av_io.open_container(reader.path, shown) as container:
        stream = av_io.video_stream(container, shown)
        return VideoTiming(tuple(int(p) for p in pts), Fraction(stream.time_base or Fraction(1, 1)),
                           stream.start_time, stream.duration, int(stream.frames or 0),
                           Fraction(stream.average_rate) if stream.average_rate else None)


# ---------------------------------------------------------------------------- PyTorchVideo
def ptv_duration(timing: VideoTiming, rule: str) -> Time:
    """``EncodedVideoPyAV.duration``: ``(stream.duration - start) * time_base``.

    PyTorchVideo subtracts the start pts from a duration (not an end time); reproduced. Without
    a stream duration it decodes everything and takes the last frame's pts (its start, not its
    end). The 2021-04 release returned float seconds (and fell back to the container duration in
    the wrong unit, which made no clip; the later fallback is used for it).
    """
    start = timing.start_time or 0
    end = timing.stream_duration if timing.stream_duration is not None else max(timing.pts)
    seconds = int(end - start) * timing.time_base
    return float(seconds) if rule == "ptv_2021_04" else seconds


def ptv_clip_times(duration: Time, clip_duration: float, num_clips: int, rule: str) -> list[tuple[Time, Time]]:
    """``(start, end)`` seconds of each clip of ``ConstantClipsPerVideoSampler(clip_duration, num_clips)``.

    ``ptv_2021_04``: float arithmetic, ``start = k * max_start / num_clips``; ``ptv_0_1_5``:
    the same in Fractions; ``ptv_pinned``: ``start = k * max_start / (num_clips - 1)`` (the last
    clip ends at the video's end).

    Example:
        >>> [round(float(s), 4) for s, _ in ptv_clip_times(Fraction(10), 64 / 30, 10, "ptv_pinned")][-2:]
        [6.9926, 7.8667]
    """
    _check_rule(rule, PTV_RULES)
    if rule == "ptv_2021_04":
        max_start = max(float(duration) - clip_duration, 0)
        step: Time = max_start / num_clips
        return [(step * k, step * k + clip_duration) for k in range(num_clips)]
    cd = Fraction(clip_duration)
    max_start_f = max(Fraction(duration) - cd, Fraction(0))
    step = Fraction(max_start_f, num_clips if rule == "ptv_0_1_5" else max(num_clips - 1, 1))
    return [(step * k, step * k + cd) for k in range(num_clips)]


def ptv_clip_frames(start: Time, end: Time, rule: str, *, timing: VideoTiming | None = None,
                    num_frames: int | None = None) -> np.ndarray:
    """Frame indices ``get_clip(start, end)`` returns, in pts order.

    Video files (``timing``): ``EncodedVideoPyAV`` keeps the frames with ``start_pts <= pts <
    end_pts``, ``pts = ceil(t / time_base) + start_time`` (2021-04: ``int(t / float(time_base))``
    and ``<=`` at the end). Frame folders (``num_frames``): ``FrameVideo`` at 30 fps keeps
    ``range(ceil(30 * start), min(ceil(30 * end), num_frames))`` (2021-04: ``round`` instead of
    ``ceil``); the end is first clamped to the duration ``num_frames / 30``.

    Example:
        >>> ptv_clip_frames(Fraction(1, 3), Fraction(2, 3), "ptv_pinned", num_frames=100).tolist()[:3]
        [10, 11, 12]
    """
    _check_rule(rule, PTV_RULES)
    if timing is None:
        if num_frames is None:
            raise UsageError("ptv_clip_frames needs timing (a video file) or num_frames (a frame folder)")
        duration = num_frames / FRAME_FOLDER_FPS
        if start < 0 or start > duration:
            return np.zeros(0, dtype=np.int64)
        end = min(end, duration)
        if rule == "ptv_2021_04":
            lo, hi = int(np.round(FRAME_FOLDER_FPS * start)), int(np.round(FRAME_FOLDER_FPS * end))
        else:
            lo, hi = math.ceil(FRAME_FOLDER_FPS * start), min(math.ceil(FRAME_FOLDER_FPS * end), num_frames)
        return np.arange(lo, max(lo, hi), dtype=np.int64)
    first = timing.start_time or 0
    pts = np.asarray(timing.pts, dtype=np.int64)
    if rule == "ptv_2021_04":
        tb = float(timing.time_base)
        lo_pts, hi_pts = int(float(start) / tb) + first, int(float(end) / tb) + first
        keep = (pts >= lo_pts) & (pts <= hi_pts)
    else:
        lo_pts = math.ceil(Fraction(start) / timing.time_base) + first
        hi_pts = math.ceil(Fraction(end) / timing.time_base) + first
        keep = (pts >= lo_pts) & (pts < hi_pts)
    return _by_pts(pts, np.flatnonzero(keep))


def linspace_indices(count: int, num_samples: int, start: float = 0.0, end: float | None = None) -> np.ndarray:
    """``torch.linspace(start, end, num_samples).clamp(0, count - 1).long()`` (float32, as both
    frameworks compute it: PyTorchVideo's ``UniformTemporalSubsample``, PySlowFast's
    ``temporal_sampling``).

    Example:
        >>> linspace_indices(64, 8).tolist()
        [0, 9, 18, 27, 36, 45, 54, 63]
    """
    stop = float(count - 1) if end is None else float(end)
    idx = torch.linspace(float(start), stop, int(num_samples))
    return torch.clamp(idx, 0, count - 1).long().numpy()


# ---------------------------------------------------------------------------- PySlowFast
def psf_start_end_idx(video_size: float, clip_size: float, clip_idx: int, num_clips: int,
                      use_offset: bool = False) -> tuple[float, float]:
    """PySlowFast's ``get_start_end_idx`` for a test clip (``clip_idx >= 0``)."""
    delta = max(video_size - clip_size, 0)
    if use_offset:
        start: float = math.floor(delta / 2) if num_clips == 1 else clip_idx * math.floor(delta / (num_clips - 1))
    else:
        start = delta * clip_idx / num_clips
    return start, start + clip_size - 1


def psf_decoder_frames(timing: VideoTiming | None, num_frames: int, clip_len: int, sampling_rate: int,
                       clip_idx: int, num_clips: int, target_fps: float = 30.0) -> np.ndarray:
    """Frame indices of PySlowFast's ``decoder.decode(..., backend="pyav")`` (7ad8378) for one clip.

    With a stream duration: ``clip_size = sampling_rate * clip_len / target_fps * fps`` frames
    placed by ``get_start_end_idx(stream.frames, ...)``, the frames with ``int(start * duration /
    frames) <= pts <= int(end * duration / frames)`` decoded, plus the first frame after that
    (``pyav_decode_stream``'s ``buffer_count >= buffer_size`` test passes only after adding
    it), then ``temporal_sampling`` from 0 to ``clip_size - 1`` over that list. Without one
    (mkv; frame folders: ``timing=None``, 30 fps): every frame, and the clip placed on them.
    """
    if timing is None:
        fps = FRAME_FOLDER_FPS
        decoded = np.arange(num_frames, dtype=np.int64)
        selective = False
    else:
        fps = float(timing.average_rate) if timing.average_rate else FRAME_FOLDER_FPS
        pts = np.asarray(timing.pts, dtype=np.int64)
        selective = timing.stream_duration is not None
        if timing.stream_duration is not None:
            size = timing.header_frames
            if size < 1:
                raise VideoDecodeError("PySlowFast's decoder needs the stream's frame count, and this "
                                       "container gives none (stream.frames is 0)")
            start, end = psf_start_end_idx(size, sampling_rate * clip_len / target_fps * fps, clip_idx, num_clips)
            per_frame = timing.stream_duration / size if size else 0.0
            lo, hi = int(start * per_frame), int(end * per_frame)
            order = np.argsort(pts, kind="stable")
            inside = order[(pts[order] >= lo) & (pts[order] <= hi)]
            after = order[pts[order] > hi][:1]
            decoded = np.concatenate([inside, after])
        else:
            decoded = _by_pts(pts, np.arange(len(pts)))
    if decoded.size == 0:
        raise VideoDecodeError("PySlowFast's decoder finds no frame for this clip (the container's "
                               "frame count or duration does not match its frames)")
    clip_size = sampling_rate * clip_len / target_fps * fps
    start, end = psf_start_end_idx(decoded.size, clip_size, clip_idx if not selective else 0,
                                   num_clips if not selective else 1)
    return decoded[linspace_indices(decoded.size, clip_len, start, end)]


def segment_middle(video_length: int, num_frames: int) -> np.ndarray:
    """PySlowFast ``Ssv2.get_seq_frames`` (test) = PyTorchVideo ``SSv2._sample_clip_frames``:
    the middle frame of each of ``num_frames`` equal segments, rounded half to even.

    Example:
        >>> segment_middle(45, 8).tolist()
        [3, 8, 13, 19, 25, 30, 35, 41]
    """
    seg = (video_length - 1) / num_frames
    return np.asarray([(int(np.round(seg * i)) + int(np.round(seg * (i + 1)))) // 2
                       for i in range(num_frames)], dtype=np.int64)


def psf_charades_frames(video_length: int, clip_len: int, sampling_rate: int, clip_idx: int,
                        num_clips: int) -> np.ndarray:
    """PySlowFast ``Charades.get_seq_frames`` (test): ``start = int(round(gap * clip_idx))``,
    ``gap = max(L - clip_span, 0) / (num_clips - 1)``, then every ``sampling_rate``-th frame,
    clamped to the video.

    Example:
        >>> psf_charades_frames(30, 4, 2, 1, 10).tolist()
        [3, 5, 7, 9]
    """
    span = (clip_len - 1) * sampling_rate + 1
    gap = float(max(video_length - span, 0)) / (num_clips - 1) if num_clips > 1 else 0.0
    start = int(round(gap * clip_idx))
    return np.clip(start + np.arange(clip_len, dtype=np.int64) * sampling_rate, 0, video_length - 1)


# ---------------------------------------------------------------------------- one entry point
def sample_pysf(rule: str, num_frames: int, *, clip_len: int, frame_interval: int, num_clips: int,
                timing: VideoTiming | None = None, target_fps: float | None = 30.0,
                clip_span: int | None = None) -> np.ndarray:
    """Frame indices ``[num_clips, clip_len]`` of a PyTorchVideo / PySlowFast test protocol.

    Args:
        rule: one of ``PYSF_SAMPLING_RULES``.
        num_frames: frames of the video (of the reader).
        clip_len, frame_interval, num_clips: ``NUM_FRAMES``, ``SAMPLING_RATE``,
            ``NUM_ENSEMBLE_VIEWS``.
        timing: the video's timestamps (:func:`video_timing`); ``None`` for a frame folder.
        target_fps: ``TARGET_FPS`` (PyTorchVideo clips last ``clip_span / target_fps`` s).
        clip_span: frames one clip covers (default ``clip_len * frame_interval``).

    Example:
        >>> sample_pysf("segment_middle", 45, clip_len=8, frame_interval=2, num_clips=1).tolist()
        [[3, 8, 13, 19, 25, 30, 35, 41]]
        >>> sample_pysf("ptv_pinned", 50, clip_len=4, frame_interval=2, num_clips=2)[:, 0].tolist()
        [0, 43]
    """
    _check_rule(rule, PYSF_SAMPLING_RULES)
    if num_frames < 1:
        raise UsageError(f"num_frames must be >= 1, got {num_frames}")
    span = clip_len * frame_interval if clip_span is None else int(clip_span)
    fps = 30.0 if target_fps is None else float(target_fps)
    if rule == "segment_middle":
        return np.tile(segment_middle(num_frames, clip_len), (num_clips, 1))
    if rule == "psf_charades":
        return np.stack([psf_charades_frames(num_frames, clip_len, frame_interval, k, num_clips)
                         for k in range(num_clips)])
    if rule == "psf_decoder":
        return np.stack([psf_decoder_frames(timing, num_frames, clip_len, frame_interval, k, num_clips, fps)
                         for k in range(num_clips)])
    duration: Time = ptv_duration(timing, rule) if timing is not None else num_frames / FRAME_FOLDER_FPS
    rows = []
    for start, end in ptv_clip_times(duration, span / fps, num_clips, rule):
        frames = ptv_clip_frames(start, end, rule, timing=timing, num_frames=num_frames)
        if frames.size == 0:
            raise VideoDecodeError(f"no frame between {float(start):.4f} s and {float(end):.4f} s "
                                   f"(PyTorchVideo skips such a video)")
        rows.append(frames[linspace_indices(frames.size, clip_len)])
    return np.stack(rows)


def _by_pts(pts: np.ndarray, chosen: Sequence[int] | np.ndarray) -> np.ndarray:
    """``chosen`` frame indices in pts order, one per pts (the frameworks key frames by pts)."""
    chosen = np.asarray(chosen, dtype=np.int64)
    _, first = np.unique(pts[chosen], return_index=True)
    return chosen[first]


def _check_rule(rule: str, allowed: Sequence[str]) -> None:
    if rule not in allowed:
        raise UsageError(f"sampling rule must be one of {tuple(allowed)}, got {rule!r}")
