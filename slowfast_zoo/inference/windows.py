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
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TextIO

import torch

from slowfast_zoo._progress import ProgressBar
from slowfast_zoo.data.decode import VideoReader
from slowfast_zoo.data.presets import test_transform
from slowfast_zoo.inference.engine import Prediction, prepare_model, streamed_scores, topk_predictions
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.errors import UsageError, VideoDecodeError

__all__ = ["WindowPrediction", "predict_windows", "window_ranges"]

log = logging.getLogger(__name__)


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


def window_ranges(duration: float, window: float, stride: float) -> list[tuple[float, float]]:
    """``(start, end)`` seconds of every window of a ``duration``-second video (see module doc).

    Example:
        >>> len(window_ranges(20.0, 4.0, 2.0)), window_ranges(20.0, 4.0, 2.0)[-1]
        (9, (16.0, 20.0))
        >>> window_ranges(3.0, 4.0, 2.0)
        [(0.0, 3.0)]
    """
    if not (window > 0 and math.isfinite(window)):
        raise UsageError(f"window must be a positive number of seconds, got {window}")
    if not (stride > 0 and math.isfinite(stride)):
        raise UsageError(f"stride must be a positive number of seconds, got {stride}")
    if duration <= 0:
        raise VideoDecodeError(f"the video has no duration ({duration} s)")
    # 1e-9: 16.000000001 s of float noise must not add a window.
    count = 1 if duration <= window else math.ceil((duration - window) / stride - 1e-9) + 1
    return [(k * stride, min(k * stride + window, duration)) for k in range(count)]


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

    Example:
        >>> for w in sz.predict_windows(model, "long.mp4", window=4, stride=2, views=1):  # doctest: +SKIP
        ...     print(f"{w.start:6.1f}-{w.end:6.1f}s  {w.topk[0].label}")
    """
    if topk < 1:
        raise UsageError(f"topk must be >= 1, got {topk}")
    stride = window if stride is None else stride
    transform = test_transform(model.pretrained_cfg, views=views)
    reader = video if isinstance(video, VideoReader) else VideoReader(os.fspath(video))
    if reader.fps <= 0:
        raise VideoDecodeError(f"{video}: unknown frame rate, cannot place {window}-second windows")
    n = reader.num_frames
    fps = reader.fps
    ranges = window_ranges(n / fps, window, stride)
    names = model.class_names
    model = prepare_model(model, device=device)
    log.info("%s: %d frames at %.3f fps, %d windows of %.3g s every %.3g s, %d views each",
             video, n, fps, len(ranges), window, stride, transform.num_views)
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
