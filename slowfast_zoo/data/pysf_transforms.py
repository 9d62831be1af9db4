# Test-time spatial pipeline of PyTorchVideo and PySlowFast.
#
# Reproduces PySlowFast's test transforms (Meta, Apache-2.0,
# https://github.com/facebookresearch/SlowFast, commit 7fcc9cf): ``utils.tensor_normalize``,
# ``utils.spatial_sampling`` (``transform.random_short_side_scale_jitter`` with min = max scale,
# ``transform.uniform_crop``) and the ``Compose`` its ``ptv_datasets`` build from PyTorchVideo
# (Meta, Apache-2.0, https://github.com/facebookresearch/pytorchvideo): ``div255``,
# ``NormalizeVideo``, ``ShortSideScale`` (``F.interpolate`` bilinear, ``align_corners=False``,
# no antialias), ``UniformCropVideo``. Both normalize BEFORE resizing (MMAction2 resizes uint8
# first); reproduced. An independent re-implementation checked against the frameworks' outputs
# (tests/data/pysf); no code is copied.
"""``PysfTestTransform``: the PyTorchVideo / PySlowFast test protocol of a weight.

Same interface as :class:`~slowfast_zoo.data.TestTransform` (``sample``, ``read_views``,
``load``, ``stream_views``, ...); views are ordered as the frameworks' test loaders give them:
clip-major, ``view = clip * num_crops + crop`` (crops left/top, centre, right/bottom).
Frame selection is in :mod:`slowfast_zoo.data.pysf_sampling`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from slowfast_zoo.data.pysf_sampling import PTV_RULES, VideoTiming, sample_pysf, video_timing
from slowfast_zoo.data.reading import (
    DEFAULT_FILENAME_TMPL,
    FrameReader,
    TransformBase,
    VideoSource,
    check_mean_std,
    open_reader,
    read_sampled,
    typed_failures,
)
from slowfast_zoo.data.sampling import RandomSource
from slowfast_zoo.data.views import DecodedVideo, as_frames, check_out, dedupe
from slowfast_zoo.errors import UsageError
from slowfast_zoo.registry.records import PYSF_SAMPLING_RULES

__all__ = ["PysfTestTransform", "normalize_frames", "short_side_size", "short_side_scale",
           "uniform_crop_offsets"]

# Frames normalized and resized at once: bounds the full-size float32 copies (4K frames).
_CHUNK_PIXELS = 64 * 1920 * 1080
_TIMED_RULES = PTV_RULES + ("psf_decoder",)


def normalize_frames(frames: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` -> float32 ``[N, 3, H, W]``: ``(x / 255 - mean) / std``.

    PySlowFast's ``tensor_normalize`` and PyTorchVideo's ``div255`` + ``NormalizeVideo``
    (identical, float32); ``mean`` / ``std`` on the 0-1 scale.

    Example:
        >>> x = torch.full((1, 1, 1, 3), 255, dtype=torch.uint8)
        >>> normalize_frames(x, (0.45,) * 3, (0.225,) * 3).flatten().tolist()
        [2.4444446563720703, 2.4444446563720703, 2.4444446563720703]
    """
    x = frames.permute(0, 3, 1, 2).float() / 255.0
    m = torch.tensor(mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    return (x - m) / s


def short_side_size(h: int, w: int, size: int) -> tuple[int, int]:
    """``(new_h, new_w)`` of ``ShortSideScale(size)`` / PySlowFast's short-side scale: the short
    side becomes ``size``, the long one ``floor(long / short * size)``.

    Example:
        >>> short_side_size(240, 320, 256), short_side_size(255, 257, 256)
        ((256, 341), (256, 258))
    """
    if w < h:
        return int(math.floor(float(h) / w * size)), int(size)
    return int(size), int(math.floor(float(w) / h * size))


def short_side_scale(x: torch.Tensor, size: int) -> torch.Tensor:
    """float ``[..., H, W]`` (4-D) resized so its short side is ``size``: ``F.interpolate``
    bilinear, ``align_corners=False``, no antialias (PyTorchVideo's ``pytorch`` backend and
    PySlowFast's ``random_short_side_scale_jitter``, which skips the call when the short side
    already is ``size``: the same values, bilinear at scale 1 is the identity)."""
    h, w = int(x.shape[-2]), int(x.shape[-1])
    new_hw = short_side_size(h, w, size)
    if new_hw == (h, w):
        return x
    return F.interpolate(x, size=new_hw, mode="bilinear", align_corners=False)


def uniform_crop_offsets(h: int, w: int, size: int, index: int) -> tuple[int, int]:
    """``(y_offset, x_offset)`` of PySlowFast's ``uniform_crop`` / PyTorchVideo's
    ``UniformCropVideo``: centred (rounded up), index 0 / 2 moves to the start / end of the
    long side (the height when ``h > w``, else the width).

    Example:
        >>> [uniform_crop_offsets(256, 341, 256, i) for i in range(3)]
        [(0, 0), (0, 43), (0, 85)]
    """
    if index not in (0, 1, 2):
        raise UsageError(f"crop index must be 0, 1 or 2, got {index}")
    y, x = int(math.ceil((h - size) / 2)), int(math.ceil((w - size) / 2))
    if h > w:
        y = 0 if index == 0 else (h - size if index == 2 else y)
    else:
        x = 0 if index == 0 else (w - size if index == 2 else x)
    return y, x


class PysfTestTransform(TransformBase):
    """A PyTorchVideo / PySlowFast test protocol: frame selection, normalize, resize, crops.

    Args:
        sampling_rule: one of ``PYSF_SAMPLING_RULES`` (:mod:`~slowfast_zoo.data.pysf_sampling`).
        clip_len, frame_interval, num_clips, num_crops: ``NUM_FRAMES``, ``SAMPLING_RATE``,
            ``NUM_ENSEMBLE_VIEWS``, ``NUM_SPATIAL_CROPS``.
        resize_short_side, crop_size: the short side after resizing and the square crop.
        crop_index: the crop taken when ``num_crops == 1`` (0 left/top, 1 centre, 2 right/bottom).
        mean, std: on the 0-255 scale (as the records hold them); divided by 255 here.
        target_fps, clip_span: clip length in seconds is ``clip_span / target_fps``.

    Example:
        >>> tf = PysfTestTransform(sampling_rule="segment_middle", clip_len=8, frame_interval=2,
        ...                        num_clips=1, resize_short_side=16, crop_size=16, num_crops=3)
        >>> tf.output_shape, tf.sample(45).tolist()[:4]
        ((3, 3, 8, 16, 16), [3, 8, 13, 19])
        >>> frames = torch.zeros(45, 24, 32, 3, dtype=torch.uint8)
        >>> tf(frames[tf.sample(45)]).shape
        torch.Size([3, 3, 8, 16, 16])
    """

    test_mode = True
    __test__ = False

    def __init__(self, *, sampling_rule: str, clip_len: int, frame_interval: int, num_clips: int,
                 resize_short_side: int, crop_size: int, num_crops: int = 3, crop_index: int = 1,
                 mean: Sequence[float] = (114.75,) * 3, std: Sequence[float] = (57.375,) * 3,
                 target_fps: float | None = 30.0, clip_span: int | None = None,
                 filename_tmpl: str = DEFAULT_FILENAME_TMPL) -> None:
        if sampling_rule not in PYSF_SAMPLING_RULES:
            raise UsageError(f"sampling_rule must be one of {PYSF_SAMPLING_RULES}, got {sampling_rule!r}")
        if num_crops not in (1, 3):
            raise UsageError(f"num_crops must be 1 or 3, got {num_crops}")
        if min(clip_len, frame_interval, num_clips, crop_size) < 1 or resize_short_side < crop_size:
            raise UsageError("clip_len, frame_interval, num_clips and crop_size must be >= 1 and "
                             f"resize_short_side >= crop_size; got {clip_len}, {frame_interval}, "
                             f"{num_clips}, {crop_size}, {resize_short_side}")
        self.sampling_rule = sampling_rule
        self.clip_len, self.frame_interval, self.num_clips = int(clip_len), int(frame_interval), int(num_clips)
        self.resize_short_side, self.crop_size, self.num_crops = int(resize_short_side), int(crop_size), int(num_crops)
        self.crop_indices = (0, 1, 2) if num_crops == 3 else (int(crop_index),)
        uniform_crop_offsets(crop_size, crop_size, crop_size, self.crop_indices[0])  # checks the index
        self.mean, self.std = check_mean_std(mean, std)
        self.target_fps, self.clip_span = target_fps, clip_span
        self.filename_tmpl = str(filename_tmpl)

    def __repr__(self) -> str:
        return (f"PysfTestTransform({self.sampling_rule}: {self.num_clips} clips x {self.clip_len} frames, "
                f"normalize -> short side {self.resize_short_side} -> crops {list(self.crop_indices)} "
                f"of {self.crop_size})")

    @property
    def num_views(self) -> int:
        """Views per video: ``num_clips * num_crops``."""
        return self.num_clips * self.num_crops

    @property
    def view_shape(self) -> tuple[int, int, int]:
        """``(clip_len, crop_size, crop_size)``."""
        return (self.clip_len, self.crop_size, self.crop_size)

    @property
    def output_shape(self) -> tuple[int, int, int, int, int]:
        """``(num_views, 3, clip_len, crop_size, crop_size)``."""
        return (self.num_views, 3, self.clip_len, self.crop_size, self.crop_size)

    @property
    def needs_timing(self) -> bool:
        """True when clips are placed by timestamps (video files; frame folders count at 30 fps)."""
        return self.sampling_rule in _TIMED_RULES

    def sample(self, num_frames: int, start_index: int = 0, rng: RandomSource | None = None, *,
               timing: VideoTiming | None = None) -> np.ndarray:
        """Frame indices ``[num_clips * clip_len]``, clip after clip (``rng`` is ignored).

        ``timing``: the video's timestamps (:meth:`sample_reader` reads them); ``None`` treats
        the frames as a frame folder at 30 fps.
        """
        idx = sample_pysf(self.sampling_rule, int(num_frames), clip_len=self.clip_len,
                          frame_interval=self.frame_interval, num_clips=self.num_clips, timing=timing,
                          target_fps=self.target_fps, clip_span=self.clip_span)
        return idx.reshape(-1) + int(start_index)

    def sample_reader(self, reader: FrameReader, start_index: int = 0) -> np.ndarray:
        """:meth:`sample` for ``reader``, with its timestamps when the rule needs them and it has some."""
        timing = video_timing(reader) if self.needs_timing and hasattr(reader, "frame_pts") else None
        return self.sample(reader.num_frames, start_index, timing=timing)

    def __call__(self, frames: torch.Tensor | np.ndarray,
                 indices: Sequence[int] | np.ndarray | torch.Tensor | None = None, *,
                 out: torch.Tensor | None = None) -> torch.Tensor:
        """Views ``[num_views, 3, clip_len, S, S]`` from the sampled frames (uint8
        ``[num_clips * clip_len, H, W, 3]`` in sampling order)."""
        unique, inverse = dedupe(as_frames(frames), indices, self.frames_per_video)
        return self.apply_unique(unique, inverse, out=out)

    def apply_unique(self, unique: torch.Tensor, inverse: torch.Tensor, *,
                     out: torch.Tensor | None = None) -> torch.Tensor:
        """Like ``__call__`` on ``unique[inverse]`` without materialising the repeats."""
        video = DecodedVideo((as_frames(unique),), (int(unique.shape[1]), int(unique.shape[2])),
                             torch.as_tensor(inverse, dtype=torch.int64).reshape(-1), False)
        return self._views(self._scaled(video), video.inverse, range(self.num_views), out=out)

    def read_views(self, reader: FrameReader, indices: Sequence[int] | np.ndarray, *,
                   out: torch.Tensor | None = None) -> torch.Tensor:
        """The views of the frames ``indices`` of ``reader`` (each distinct frame decoded once)."""
        video = self.read_decoded(reader, indices)
        return self._views(self._scaled(video), video.inverse, range(self.num_views), out=out)

    def read_decoded(self, reader: FrameReader, indices: Sequence[int] | np.ndarray, *,
                     resize: bool = True) -> DecodedVideo:
        """The distinct frames of ``indices``, decoded once, as uint8 (never resized here: the
        frameworks normalize before resizing, so frames travel as uint8 and are scaled where
        :meth:`iter_views` runs; ``resize`` is accepted for the common interface)."""
        unique, inverse = np.unique(np.asarray(indices, dtype=np.int64).reshape(-1), return_inverse=True)
        if inverse.size != self.frames_per_video:
            raise UsageError(f"indices must have {self.frames_per_video} entries, got {inverse.size}")
        with typed_failures(reader):
            raw = as_frames(reader.read(unique))
        return DecodedVideo((raw,), (int(raw.shape[1]), int(raw.shape[2])),
                            torch.from_numpy(inverse.reshape(-1)), False)

    def iter_views(self, video: DecodedVideo, views_per_chunk: int) -> Iterator[torch.Tensor]:
        """The views of ``video``, ``views_per_chunk`` at a time (channels_last_3d), on its device."""
        if views_per_chunk < 1:
            raise UsageError(f"views_per_chunk must be >= 1, got {views_per_chunk}")
        scaled = self._scaled(video)
        for v0 in range(0, self.num_views, views_per_chunk):
            views = range(v0, min(self.num_views, v0 + views_per_chunk))
            yield self._views(scaled, video.inverse, views).contiguous(memory_format=torch.channels_last_3d)

    def stream_views(self, reader: FrameReader, indices: Sequence[int] | np.ndarray,
                     views_per_chunk: int) -> Iterator[torch.Tensor]:
        """:meth:`read_decoded` then :meth:`iter_views`."""
        if views_per_chunk < 1:
            raise UsageError(f"views_per_chunk must be >= 1, got {views_per_chunk}")
        yield from self.iter_views(self.read_decoded(reader, indices), views_per_chunk)

    def load(self, source: VideoSource, *, start_index: int | None = None) -> torch.Tensor:
        """Sample, decode and transform one video (a file, a frame folder or a reader)."""
        reader, first = open_reader(source, filename_tmpl=self.filename_tmpl)
        start = first if start_index is None else start_index
        return read_sampled(lambda n: self.sample_reader(reader, start),
                            lambda idx: self.read_views(reader, idx), reader)

    def view_frames(self, num_frames: int, view: int, frame_hw: tuple[int, int], *, start_index: int = 0,
                    timing: VideoTiming | None = None) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """``(frame indices [clip_len], (left, top, right, bottom) on the resized frame)`` of
        view ``view`` (``view = clip * num_crops + crop``).

        Example:
            >>> tf = PysfTestTransform(sampling_rule="ptv_pinned", clip_len=4, frame_interval=2,
            ...                        num_clips=10, resize_short_side=256, crop_size=256)
            >>> idx, box = tf.view_frames(300, 5, (240, 320))
            >>> idx.tolist(), box
            ([33, 35, 37, 40], (85, 0, 341, 256))
        """
        if not 0 <= view < self.num_views:
            raise UsageError(f"view must be in [0, {self.num_views}), got {view}")
        clip, crop = divmod(int(view), self.num_crops)
        idx = self.sample(num_frames, start_index, timing=timing).reshape(self.num_clips, self.clip_len)[clip]
        h, w = short_side_size(int(frame_hw[0]), int(frame_hw[1]), self.resize_short_side)
        y, x = uniform_crop_offsets(h, w, self.crop_size, self.crop_indices[crop])
        return idx, (x, y, x + self.crop_size, y + self.crop_size)

    # ------------------------------------------------------------------ the steps
    def _scaled(self, video: DecodedVideo) -> torch.Tensor:
        """The distinct frames normalized then resized: float32 ``[U, 3, h, w]``, in chunks so
        full-size float copies of big frames never all exist at once."""
        raw = video.frames[0]
        mean = tuple(m / 255.0 for m in self.mean)
        std = tuple(s / 255.0 for s in self.std)
        step = max(1, _CHUNK_PIXELS // max(1, int(raw.shape[1]) * int(raw.shape[2])))
        parts = [short_side_scale(normalize_frames(raw[i:i + step], mean, std), self.resize_short_side)
                 for i in range(0, int(raw.shape[0]), step)]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def _views(self, scaled: torch.Tensor, inverse: torch.Tensor, views: Sequence[int], *,
               out: torch.Tensor | None = None) -> torch.Tensor:
        """The views ``views`` from the scaled distinct frames."""
        inverse = torch.as_tensor(inverse, dtype=torch.int64).reshape(-1)
        if inverse.numel() != self.frames_per_video:
            raise UsageError(f"inverse must have {self.frames_per_video} entries, got {inverse.numel()}")
        shape = (len(views), 3, self.clip_len, self.crop_size, self.crop_size)
        result = check_out(out, shape) if out is not None else torch.empty(shape, dtype=torch.float32,
                                                                           device=scaled.device)
        h, w, s = int(scaled.shape[2]), int(scaled.shape[3]), self.crop_size
        clips = inverse.view(self.num_clips, self.clip_len).to(scaled.device)
        for k, v in enumerate(views):
            clip, crop = divmod(int(v), self.num_crops)
            y, x = uniform_crop_offsets(h, w, s, self.crop_indices[crop])
            result[k] = scaled[clips[clip], :, y:y + s, x:x + s].permute(1, 0, 2, 3)
        return result
