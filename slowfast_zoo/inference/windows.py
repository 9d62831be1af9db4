"""Predictions over a long video, one per time window, streamed and memory bounded.

How a window's clips are sampled: the window ``[start, end)`` (seconds) is turned into the frame
range ``[round(start * fps), min(round(end * fps), num_frames))`` and the weight's own test-mode
``SampleFrames`` is applied *inside that range*, as if the window were a whole video of
``end_frame - start_frame`` frames: ``views=None`` gives the published protocol per window
(10 evenly spaced clips of 32 frames every 2nd frame x 3 crops = 30 views), ``views=1`` one centre
clip with a centre 224 crop. A window shorter than a clip's span (64 frames for the published
weights) starts its clip at the window's first frame and wraps around inside the window
(MMAction2's loop rule), so no frame outside the window is ever used.

Windows start at ``0, stride, 2 * stride, ...`` and are ``window`` seconds long; the last one
ends at the end of the video (it may be shorter), and no window starts after the one that
reaches the end. A 20 s video with ``window=4, stride=2`` gives 9 windows: [0, 4] ... [16, 20].

Only the frames of the current window are decoded (one :class:`~slowfast_zoo.data.VideoReader`,
which seeks), so memory does not grow with the length of the video.

Bounds (a crafted 3 KB video can claim 1/1000 fps, i.e. hours): ``window`` and ``stride`` must
be finite and, on a video, at least one frame long (``1 / fps`` seconds: a shorter window holds
no frame of its own, a shorter stride starts windows on the same frame again), and a video gets
at most :data:`MAX_WINDOWS` windows. Both are checked when :func:`predict_windows` is called,
before any frame is decoded or the model is prepared; the windows themselves are computed one
at a time (:class:`WindowRanges`), never as a list.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TextIO, overload

import torch

from slowfast_zoo._progress import ProgressBar
from slowfast_zoo.data.decode import VideoReader
from slowfast_zoo.data.presets import ViewTransform, test_transform
from slowfast_zoo.inference.engine import Prediction, prepare_model, streamed_scores, topk_predictions
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.errors import IndexOutOfRangeError, UsageError, VideoDecodeError

__all__ = ["WindowPrediction", "WindowRanges", "predict_windows", "window_ranges", "MAX_WINDOWS"]

log = logging.getLogger(__name__)

#: Most windows of one video: a day of video in 1-second windows (86,400) fits. Each window is
#: at least one model run and one printed line; more is a mistaken ``window``/``stride``.
MAX_WINDOWS = 100_000
# Float noise allowed in "at least one frame" (1/30 * 30 may be 0.9999999999999999).
_EPS = 1e-9


@dataclass(frozen=True)
class WindowPrediction:
    """The top-k classes of one window of a video.

    Attributes:
        index: window number (0-based); ``total``: number of windows of the video.
        start, end: window bounds in seconds; ``start_frame``/``end_frame``: its frame range
            ``[start_frame, end_frame)`` (decode order).
        topk: best classes first, probabilities averaged over the window's views.

    Example:
        >>> w = WindowPrediction(0, 9, 0.0, 4.0, 0, 120, [Prediction(5, "archery", 0.9)])
        >>> w.end - w.start, w.topk[0].label
        (4.0, 'archery')
    """

    index: int
    total: int
    start: float
    end: float
    start_frame: int
    end_frame: int
    topk: list[Prediction] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-friendly form (what ``slowfast-zoo predict --window --json`` prints per line).

        Example:
            >>> WindowPrediction(1, 2, 2.0, 3.3333333, 60, 100, [Prediction(5, "archery", 0.5)]).to_dict()
            {'index': 1, 'total': 2, 'start': 2.0, 'end': 3.333, 'start_frame': 60, 'end_frame': 100, 'topk': [{'index': 5, 'label': 'archery', 'probability': 0.5}]}
        """
        return {"index": self.index, "total": self.total, "start": round(self.start, 3),
                "end": round(self.end, 3), "start_frame": self.start_frame, "end_frame": self.end_frame,
                "topk": [{"index": p.index, "label": p.label, "probability": p.probability}
                         for p in self.topk]}


@dataclass(frozen=True, eq=False)
class WindowRanges(Sequence[tuple[float, float]]):
    """The ``(start, end)`` seconds of each window, computed on access (see :func:`window_ranges`).

    Example:
        >>> w = window_ranges(20.0, 4.0, 2.0)
        >>> len(w), w[0], w[-1]
        (9, (0.0, 4.0), (16.0, 20.0))
        >>> w == [(k * 2.0, k * 2.0 + 4.0) for k in range(9)]
        True
    """

    duration: float
    window: float
    stride: float
    num_windows: int

    def __len__(self) -> int:
        return self.num_windows

    @overload
    def __getitem__(self, k: int) -> tuple[float, float]: ...

    @overload
    def __getitem__(self, k: slice) -> list[tuple[float, float]]: ...

    def __getitem__(self, k: int | slice) -> tuple[float, float] | list[tuple[float, float]]:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(self.num_windows))]
        if not -self.num_windows <= k < self.num_windows:
            raise IndexOutOfRangeError(f"window {k} out of range ({self.num_windows} windows)")
        k %= self.num_windows
        return (k * self.stride, min(k * self.stride + self.window, self.duration))

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return (self[k] for k in range(self.num_windows))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(other) == self.num_windows and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]  # equal to lists, which are unhashable


def window_ranges(duration: float, window: float, stride: float, *, fps: float | None = None) -> WindowRanges:
    """``(start, end)`` seconds of every window of a ``duration``-second video (see module doc).

    Args:
        duration: seconds of video.
        window, stride: window length and seconds between window starts; finite and positive.
        fps: the video's frame rate; when given, ``window`` and ``stride`` must each span at
            least one frame (``1 / fps`` seconds).

    Returns:
        A lazy sequence: ``len()``, indexing and iteration compute windows on demand.

    Raises:
        UsageError: ``window`` or ``stride`` not finite and positive, shorter than one frame,
            or giving more than :data:`MAX_WINDOWS` windows (the message names both and the count).
        VideoDecodeError: ``duration`` is not a finite positive number.

    Example:
        >>> len(window_ranges(20.0, 4.0, 2.0)), window_ranges(20.0, 4.0, 2.0)[-1]
        (9, (16.0, 20.0))
        >>> list(window_ranges(3.0, 4.0, 2.0))
        [(0.0, 3.0)]
        >>> window_ranges(20.0, 1e-300, 1e-300)
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.UsageError: window=1e-300 s, stride=1e-300 s over a 20 s video give about 2e+301 windows; at most 100000 are computed: use a longer window or stride
    """
    for name, value in (("window", window), ("stride", stride)):
        if not (value > 0 and math.isfinite(value)):
            raise UsageError(f"{name} must be a positive number of seconds, got {value}")
        if fps is not None and fps > 0 and value * fps < 1 - _EPS:
            raise UsageError(f"{name}={value:g} s is shorter than one frame ({1 / fps:g} s at {fps:g} fps): "
                             f"a {name} must span at least one frame")
    if not (duration > 0 and math.isfinite(duration)):
        raise VideoDecodeError(f"the video has no finite positive duration ({duration} s)")
    # As a float first: (duration - window) / stride can be 2e301 or inf, which no int count
    # (and no list) should ever be built from.
    steps = 0.0 if duration <= window else (duration - window) / stride
    count: int | None = None
    if steps < MAX_WINDOWS:
        # _EPS: 16.000000001 s of float noise must not add a window.
        count = 1 if steps == 0 else math.ceil(steps - _EPS) + 1
    if count is None or count > MAX_WINDOWS:
        raise UsageError(f"window={window:g} s, stride={stride:g} s over a {duration:g} s video give about "
                         f"{steps + 1:.3g} windows; at most {MAX_WINDOWS} are computed: use a longer "
                         f"window or stride")
    return WindowRanges(float(duration), float(window), float(stride), count)


class _CountBar(ProgressBar):
    """The package's progress bar, counting windows."""

    def __init__(self, total: int | None, desc: str = "", enabled: bool = True,
                 stream: TextIO | None = None) -> None:
        super().__init__(total, desc, enabled, stream, unit="windows")


def predict_windows(model: SlowFast, video: str | os.PathLike[str] | VideoReader, *, window: float, stride: float | None = None,
                    topk: int = 5, views: int | None = None, device: str | torch.device | None = None,
                    views_per_batch: int | None = None, dtype: torch.dtype | None = None,
                    progress: bool = False) -> Iterator[WindowPrediction]:
    """Yield one :class:`WindowPrediction` per time window of ``video``, as soon as it is computed.

    Args:
        model: a model from :func:`slowfast_zoo.create_model` (put in inference mode in place,
            see :func:`slowfast_zoo.inference.prepare_model`).
        video: a video file.
        window: window length in seconds.
        stride: seconds between window starts (default: ``window``, no overlap).
        topk: classes per window.
        views: ``None``: the weight's test protocol inside each window (30 views); ``1``: one
            centre clip, centre crop 224 (much faster; what long videos usually want).
        device, views_per_batch, dtype: as in :func:`slowfast_zoo.predict`.
        progress: draw a window counter on stderr (only when it is a terminal); the bar's line
            is cleared before each yield so printed results do not mix with it.

    Raises:
        UsageError: ``topk < 1``; ``window`` or ``stride`` not finite and positive, shorter than
            one frame, or giving more than :data:`MAX_WINDOWS` windows. Raised by the call
            itself, before any frame is decoded or the model is prepared.
        VideoDecodeError: the video cannot be read or has no frame rate.

    Example:
        >>> for w in sz.predict_windows(model, "long.mp4", window=4, stride=2, views=1):  # doctest: +SKIP
        ...     print(f"{w.start:6.1f}-{w.end:6.1f}s  {w.topk[0].label}")
    """
    if topk < 1:
        raise UsageError(f"topk must be >= 1, got {topk}")
    stride = window if stride is None else stride
    transform = test_transform(model.pretrained_cfg, views=views)
    reader = video if isinstance(video, VideoReader) else VideoReader(os.fspath(video))
    shown = str(reader.path) if isinstance(video, VideoReader) else os.fspath(video)  # not the repr
    if not (reader.fps > 0 and math.isfinite(reader.fps)):
        raise VideoDecodeError(f"{shown}: unknown frame rate, cannot place {window}-second windows")
    n = reader.num_frames
    try:
        ranges = window_ranges(n / reader.fps, window, stride, fps=reader.fps)
    except (UsageError, VideoDecodeError) as exc:  # the same error, naming the video
        raise type(exc)(f"{shown}: {exc}") from exc
    # Not a generator itself: the checks above run at the call, not at the first next().
    return _predict_stream(model, reader, ranges, transform, video=shown, topk=topk, device=device,
                           views_per_batch=views_per_batch, dtype=dtype, progress=progress)


def _predict_stream(model: SlowFast, reader: VideoReader, ranges: WindowRanges, transform: ViewTransform, *,
                    video: str, topk: int, device: str | torch.device | None, views_per_batch: int | None,
                    dtype: torch.dtype | None, progress: bool) -> Iterator[WindowPrediction]:
    """The windows of :func:`predict_windows`, computed as they are consumed."""
    n, fps = reader.num_frames, reader.fps
    names = model.class_names
    model = prepare_model(model, device=device)
    log.info("%s: %d frames at %.3f fps, %d windows of %.3g s every %.3g s, %d views each",
             video, n, fps, len(ranges), ranges.window, ranges.stride, transform.num_views)
    bar = _CountBar(total=len(ranges), desc="windows", enabled=progress)
    try:
        for k, (start, end) in enumerate(ranges):
            f0 = min(int(round(start * fps)), n - 1)
            f1 = max(min(int(round(end * fps)), n), f0 + 1)
            # This window's frames only, streamed: views_per_batch float views at a time.
            probs = streamed_scores(model, transform, reader, transform.sample(f1 - f0) + f0,
                                    views_per_batch=views_per_batch, dtype=dtype)
            preds = topk_predictions(probs, names, topk)
            bar.clear_line()
            yield WindowPrediction(k, len(ranges), float(start), float(end), f0, f1, preds)
            bar.update(1)
    finally:
        bar.close()
