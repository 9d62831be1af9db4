# Test / validation / train pipelines bound to each published weight.
#
# Reproduces the test, validation and train pipelines of MMAction2's Kinetics-400 SlowFast
# configs (OpenMMLab, Apache-2.0, https://github.com/open-mmlab/mmaction2, v0.13.0) as
# written down in docs/SPEC.md sections 4.1-4.7: SampleFrames -> decode -> Resize -> ThreeCrop /
# CenterCrop / RandomResizedCrop -> Flip -> Normalize -> FormatShape('NCTHW'). An
# independent re-implementation; no MMAction2 code is copied.
"""Ready-made test-time preprocessing for each weight: ``test_transform(name)``.

(The training preprocessing, ``train_transform(name)``, is in :mod:`.train_presets`.)

A transform is a callable on the frames of one video exactly as
``reader.read(transform.sample(reader.num_frames))`` returns them (uint8
``[num_clips * clip_len, H, W, 3]``, RGB, in sampling order) that gives the float32 views
``[V, 3, clip_len, S, S]`` (views crop-major, as MMAction2's ``FormatShape('NCTHW')``).
It also carries the sampling protocol, so nothing has to be re-typed::

    import slowfast_zoo as sz
    tf = sz.data.test_transform("slowfast_r50_4x16x1")
    views = tf.load("video.mp4")                      # [30, 3, 32, 256, 256]
    # or step by step:
    reader = sz.data.VideoReader("video.mp4")
    idx = tf.sample(reader.num_frames)                # 320 frame indices
    views = tf(reader.read(idx), indices=idx)         # indices: resize each distinct frame once
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Sequence

import numpy as np
import torch

from slowfast_zoo.data import transforms as T
from slowfast_zoo.data.reading import (
    DEFAULT_FILENAME_TMPL,
    check_mean_std,
    READ_CHUNK_BYTES,
    FrameReader,
    RandomArg,
    TransformBase,
    VideoSource,
    open_reader,
    read_sampled,
    resolve_protocol,
    typed_failures,
)
from slowfast_zoo.data.sampling import RandomSource, check_rule, sample_frames
from slowfast_zoo.data.train_presets import TrainTransform, train_transform
from slowfast_zoo.data.bilinear import check_backend
from slowfast_zoo.data.torch_ops import build_views
from slowfast_zoo.data.views import DecodedVideo, as_frames, check_out, dedupe, fill_views, normalize_chw
from slowfast_zoo.registry.records import KINETICS_MEAN, KINETICS_STD

# TrainTransform / train_transform live in train_presets.py; they stay importable from here.
#: Float32 bytes of normalized frames held at once while the views are assembled.
NORM_CHUNK_BYTES = 64 << 20

__all__ = ["TestTransform", "test_transform", "views_transform", "open_reader", "FrameReader",
           "VideoSource", "RandomArg", "TrainTransform", "train_transform"]

_VIEWS = ("test", "val")


class TestTransform(TransformBase):
    """MMAction2's test (or validation) pipeline after decoding, for one video.

    ``SampleFrames(test_mode=True)`` (via :meth:`sample`, with the weight's generation's
    ``sampling_rule``, "0.x" or "1.x") -> ``Resize((-1, resize_short_side))``
    -> ``ThreeCrop(crop_size)`` (``num_crops=3``) or ``CenterCrop(crop_size)`` (``num_crops=1``)
    -> ``Normalize(mean, std)`` -> ``FormatShape('NCTHW')``.

    Output: float32 ``[num_crops * num_clips, 3, clip_len, crop_size, crop_size]``, views
    ordered crop-major (crop 0: clips 0..K-1, crop 1: ...), crops in ThreeCrop order
    (left/top, right/bottom, middle).

    ``resize_backend`` picks the (bit-identical) resize implementation: ``None``/``"auto"``
    (torch ops for frames on an accelerator, else OpenCV when installed and verified, else
    numpy), ``"cv2"``, ``"builtin"`` or ``"torch"`` (see :func:`slowfast_zoo.data.resize`).
    """

    test_mode = True
    __test__ = False  # not a pytest test class

    def __init__(self, *, clip_len: int, frame_interval: int, num_clips: int, resize_short_side: int,
                 crop_size: int, num_crops: int = 3, mean: Sequence[float] = KINETICS_MEAN,
                 std: Sequence[float] = KINETICS_STD, sampling_rule: str = "0.x",
                 filename_tmpl: str = DEFAULT_FILENAME_TMPL, resize_backend: str | None = None):
        if num_crops not in (1, 3):
            raise ValueError(f"num_crops must be 1 (centre crop) or 3 (ThreeCrop), got {num_crops}")
        self.sampling_rule = check_rule(sampling_rule)
        self.filename_tmpl = str(filename_tmpl)
        self.clip_len = int(clip_len)
        self.frame_interval = int(frame_interval)
        self.num_clips = int(num_clips)
        self.resize_short_side = int(resize_short_side)
        self.crop_size = int(crop_size)
        self.num_crops = int(num_crops)
        self.mean, self.std = check_mean_std(mean, std)
        self.resize_backend = check_backend(resize_backend)

    def __repr__(self) -> str:
        crop = "ThreeCrop" if self.num_crops == 3 else "CenterCrop"
        return (f"TestTransform(SampleFrames({self.clip_len}, {self.frame_interval}, {self.num_clips}, "
                f"test_mode=True, rule={self.sampling_rule!r}) -> Resize((-1, {self.resize_short_side})) -> {crop}({self.crop_size}) "
                f"-> Normalize(mean={self.mean}, std={self.std}) -> FormatShape('NCTHW'))")

    @property
    def num_views(self) -> int:
        return self.num_crops * self.num_clips

    @property
    def view_shape(self) -> tuple[int, int, int]:
        """``(clip_len, crop_size, crop_size)``: frames, height and width of one view."""
        return (self.clip_len, self.crop_size, self.crop_size)

    @property
    def output_shape(self) -> tuple[int, int, int, int, int]:
        return (self.num_views, 3, self.clip_len, self.crop_size, self.crop_size)

    def sample(self, num_frames: int, start_index: int = 0,
               rng: RandomSource | None = None) -> np.ndarray:
        """Test-mode frame indices (deterministic; ``rng`` is accepted and ignored)."""
        return sample_frames(num_frames, self.clip_len, self.frame_interval, self.num_clips,
                             test_mode=True, start_index=start_index, rule=self.sampling_rule)

    def crop_boxes(self, hw: Sequence[int]) -> list[tuple[int, int, int, int]]:
        """The crop boxes on the resized frame for input frames of size ``hw``."""
        new_hw = T.rescale_size(hw, self.resize_short_side)
        if self.num_crops == 3:
            return T.three_crop_boxes(new_hw, self.crop_size)
        return [T.center_crop_box(new_hw, self.crop_size)]

    def __call__(self, frames, indices=None, *, out: torch.Tensor | None = None) -> torch.Tensor:
        """Views of one video from its sampled frames.

        Args:
            frames: uint8 ``[num_clips * clip_len, H, W, 3]`` in sampling order.
            indices: optional, the sampled frame indices the frames came from; rows with a
                repeated index are then resized and normalized only once (same result).
            out: optional preallocated float32 output of shape ``output_shape`` (reusing
                one saves the page faults of a fresh 755 MB tensor per video).
        """
        frames = as_frames(frames)
        unique, inverse = dedupe(frames, indices, self.frames_per_video)
        return self.apply_unique(unique, inverse, out=out)

    def regions(self, hw: Sequence[int]) -> list[tuple[tuple[int, int, int, int], list[int]]]:
        """What is resized for frames of size ``hw``: ``[(box on the resized frame, crops in it)]``.

        The union of the crops, resized once, when it is not much bigger than the crops
        themselves (identical pixels, less work); otherwise each crop's own box, so that an
        extreme aspect ratio (an 8192x8 frame resizes to 262144x256) never resizes the whole
        frame: memory stays bounded by the crops.
        """
        boxes = self.crop_boxes(hw)
        union = (min(b[0] for b in boxes), min(b[1] for b in boxes),
                 max(b[2] for b in boxes), max(b[3] for b in boxes))
        area = (union[2] - union[0]) * (union[3] - union[1])
        if area <= 2 * sum((b[2] - b[0]) * (b[3] - b[1]) for b in boxes):
            return [(union, list(range(len(boxes))))]
        return [(b, [c]) for c, b in enumerate(boxes)]

    def resize_regions(self, frames: torch.Tensor) -> list[torch.Tensor]:
        """``frames`` uint8 ``[U, H, W, 3]`` resized inside each of :meth:`regions` (uint8)."""
        frames = as_frames(frames)
        hw = tuple(frames.shape[1:3])
        new_hw = T.rescale_size(hw, self.resize_short_side)
        return [T.resize(frames, new_hw, box=box, backend=self.resize_backend) for box, _ in self.regions(hw)]

    def finish_regions(self, resized: list[torch.Tensor], hw: Sequence[int], inverse: torch.Tensor, *,
                       out: torch.Tensor | None = None) -> torch.Tensor:
        """Normalize the resized regions and gather them into the views (see :meth:`apply_unique`)."""
        inverse = torch.as_tensor(inverse, dtype=torch.int64).reshape(-1)
        if inverse.numel() != self.frames_per_video:
            raise ValueError(f"inverse must have {self.frames_per_video} entries, got {inverse.numel()}")
        L, K, S = self.clip_len, self.num_clips, self.crop_size
        out = check_out(out, (self.num_crops * K, 3, L, S, S))
        boxes = self.crop_boxes(hw)
        for (box, crops), pixels in zip(self.regions(hw), resized):
            shifted = [(boxes[c][0] - box[0], boxes[c][1] - box[1], boxes[c][2] - box[0],
                        boxes[c][3] - box[1]) for c in crops]
            # Normalized a slice of frames at a time: the float copy of all distinct frames
            # (450 MB for 320 frames of 256x455) would sit next to the 755 MB output.
            step = max(1, NORM_CHUNK_BYTES // max(1, 12 * pixels.shape[1] * pixels.shape[2]))
            for lo in range(0, pixels.shape[0], step):
                norm = normalize_chw(pixels[lo:lo + step], self.mean, self.std)  # [3, u, bh, bw]
                # Views are crop-major: crops c..c+n fill out[c*K:(c+n)*K].
                fill_views(out[crops[0] * K:(crops[-1] + 1) * K], norm, shifted, inverse.view(K, L),
                           first=lo)
        return out

    def apply_unique(self, unique: torch.Tensor, inverse: torch.Tensor, *,
                     out: torch.Tensor | None = None) -> torch.Tensor:
        """Like ``__call__`` on ``unique[inverse]`` without materialising the repeats."""
        unique = as_frames(unique)
        return self.finish_regions(self.resize_regions(unique), tuple(unique.shape[1:3]), inverse, out=out)

    def read_resized(self, reader: FrameReader, unique: np.ndarray) -> tuple[list[torch.Tensor], tuple[int, int]]:
        """The distinct frames ``unique`` decoded and resized inside :meth:`regions`, as uint8.

        Decoded frames are resized in chunks of at most :data:`READ_CHUNK_BYTES`, so big frames
        (4K, 8K) never sit in memory all at once at full size. Returns ``(regions, frame hw)``.
        """
        size = getattr(reader, "size", None)
        per_frame = 3 * int(size[0]) * int(size[1]) if size is not None else 0
        chunk = max(1, READ_CHUNK_BYTES // per_frame) if per_frame else len(unique)
        parts: list[list[torch.Tensor]] = []
        hw: tuple[int, int] = (0, 0)
        for lo in range(0, len(unique), chunk):
            frames = reader.read(unique[lo:lo + chunk])
            hw = (int(frames.shape[1]), int(frames.shape[2]))
            parts.append(self.resize_regions(frames))
            del frames
        if len(parts) == 1:
            return parts[0], hw
        return [torch.cat([p[r] for p in parts]) for r in range(len(parts[0]))], hw

    def read_views(self, reader: FrameReader, indices: Sequence[int] | np.ndarray, *,
                   out: torch.Tensor | None = None) -> torch.Tensor:
        """The views of the frames ``indices`` of ``reader`` (see :meth:`TransformBase.read_views`),
        read through :meth:`read_resized` (bounded memory for big frames)."""
        unique, inverse = np.unique(np.asarray(indices, dtype=np.int64).reshape(-1), return_inverse=True)
        with typed_failures(reader):
            resized, hw = self.read_resized(reader, unique)
            return self.finish_regions(resized, hw, torch.from_numpy(inverse.reshape(-1)), out=out)

    def read_decoded(self, reader: FrameReader, indices: Sequence[int] | np.ndarray, *,
                     resize: bool = True) -> DecodedVideo:
        """Decode the distinct frames of ``indices`` once, as uint8, resized unless ``resize=False``.

        What :meth:`iter_views` builds the views from; ``resize=False`` keeps the decoded
        frames, to resize them where they are sent (an accelerator: :meth:`iter_views` then
        runs the torch resize there).
        """
        unique, inverse = np.unique(np.asarray(indices, dtype=np.int64).reshape(-1), return_inverse=True)
        if inverse.size != self.frames_per_video:
            raise ValueError(f"indices must have {self.frames_per_video} entries, got {inverse.size}")
        with typed_failures(reader):
            if resize:
                frames, hw = self.read_resized(reader, unique)
            else:
                raw = as_frames(reader.read(unique))
                frames, hw = [raw], (int(raw.shape[1]), int(raw.shape[2]))
        return DecodedVideo(tuple(frames), hw, torch.from_numpy(inverse.reshape(-1)), resize)

    def iter_views(self, video: DecodedVideo, views_per_chunk: int) -> Iterator[torch.Tensor]:
        """The views of ``video``, ``views_per_chunk`` at a time, built on the frames' device.

        Each chunk normalizes only the frames its views use, straight into the model's input
        layout (channels_last_3d memory), so the float32 views of a whole video (755 MB for 30
        views of 32x256x256) never exist. Concatenated, the chunks equal :meth:`read_views`
        bit for bit, on any device (tests/test_torch_ops.py).
        """
        if views_per_chunk < 1:
            raise ValueError(f"views_per_chunk must be >= 1, got {views_per_chunk}")
        if video.inverse.numel() != self.frames_per_video:
            raise ValueError(f"video has {video.inverse.numel()} sampled frames, the transform "
                             f"needs {self.frames_per_video}")
        regions = list(video.frames) if video.resized else self.resize_regions(video.frames[0])
        clips = video.inverse.view(self.num_clips, self.clip_len)
        region_boxes, boxes = self.regions(video.hw), self.crop_boxes(video.hw)
        for v0 in range(0, self.num_views, views_per_chunk):
            views = range(v0, min(self.num_views, v0 + views_per_chunk))
            yield build_views(regions, region_boxes, boxes, clips, views, self.mean, self.std)

    def stream_views(self, reader: FrameReader, indices: Sequence[int] | np.ndarray,
                     views_per_chunk: int) -> Iterator[torch.Tensor]:
        """The views of :meth:`read_views`, ``views_per_chunk`` at a time, never all at once:
        :meth:`read_decoded` then :meth:`iter_views`.

        Example:
            >>> tf = test_transform("slowfast_r50_4x16x1")
            >>> reader = VideoReader("video.mp4")  # doctest: +SKIP
            >>> for views in tf.stream_views(reader, tf.sample(reader.num_frames), 3): ...  # doctest: +SKIP
        """
        if views_per_chunk < 1:
            raise ValueError(f"views_per_chunk must be >= 1, got {views_per_chunk}")
        yield from self.iter_views(self.read_decoded(reader, indices), views_per_chunk)

    def load(self, source: VideoSource, *, start_index: int | None = None) -> torch.Tensor:
        """Sample, decode and transform one video.

        Args:
            source: a video file, a rawframe folder (``filename_tmpl``: ``img_00001.jpg``...), or a reader
                (``VideoReader``, ``RawframeReader``: anything with ``num_frames`` and
                ``read``; a reader's ``start_index`` is honoured).
            start_index: override of the reader's first frame number.
        """
        reader, first = open_reader(source, filename_tmpl=self.filename_tmpl)
        start = first if start_index is None else start_index
        return read_sampled(lambda n: self.sample(n, start), lambda idx: self.read_views(reader, idx), reader)

    def view_frames(self, num_frames: int, view: int, frame_hw: tuple[int, int], *,
                    start_index: int = 0) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """Which frames and which crop make view ``view`` of a video, in one call.

        Views are numbered as :meth:`load` returns them: crop-major,
        ``view = crop * num_clips + clip``.

        Args:
            num_frames: frames of the video (``reader.num_frames``).
            view: view number in ``[0, num_views)``.
            frame_hw: ``(height, width)`` of the decoded frames.
            start_index: first frame number (1 for rawframe folders).

        Returns:
            ``(frame_indices [clip_len], (left, top, right, bottom))``: the decoded frame
            numbers of the view's clip and its crop box on the resized frame.

        Example:
            >>> tf = test_transform("slowfast_r50_4x16x1")
            >>> idx, box = tf.view_frames(300, 17, (240, 320))
            >>> idx[:3].tolist(), box
            ([177, 179, 181], (84, 0, 340, 256))
        """
        if not 0 <= view < self.num_views:
            raise ValueError(f"view must be in [0, {self.num_views}), got {view}")
        crop, clip = divmod(int(view), self.num_clips)
        idx = self.sample(num_frames, start_index).reshape(self.num_clips, self.clip_len)[clip]
        return idx, self.crop_boxes(frame_hw)[crop]


def test_transform(name_or_cfg: Any, *, views: str = "test", resize_backend: str | None = None) -> TestTransform:
    """The test-time preprocessing of a weight.

    Args:
        name_or_cfg: a model name (``"slowfast_r50_4x16x1"``, ``"slowfast_r50_4x16x1.k400_256p"``),
            a ``PretrainedCfg`` or a ``TestProtocol`` (Kinetics mean/std then).
        views: ``"test"``: the published protocol (Kinetics-400: 10 clips x ThreeCrop 256 =
            30 views of ``[3, 32, 256, 256]``; Something-Something V1: 1 clip, CenterCrop 256,
            ``[1, 3, 64, 256, 256]``); ``"val"``: MMAction2's validation during training (1
            clip, CenterCrop 224 -> ``[1, 3, 32, 224, 224]`` for Kinetics-400).
        resize_backend: the resize implementation (see :class:`TestTransform`); all give the
            same pixels.

    Clips are placed by the weight's own generation's test-mode ``SampleFrames``
    (``TestProtocol.sampling_rule``: "0.x" or "1.x").

    Example:
        >>> test_transform("slowfast_r50_8x8x1.k400_mm1").sampling_rule
        '1.x'
        >>> test_transform("slowfast_r50_16x8x1").output_shape
        (1, 3, 64, 256, 256)
    """
    if views not in _VIEWS:
        raise ValueError(f"views must be one of {_VIEWS}, got {views!r}")
    cfg, mean, std = resolve_protocol(name_or_cfg)
    p = getattr(cfg, "test", cfg)
    common = dict(clip_len=p.clip_len, frame_interval=p.frame_interval,
                  resize_short_side=p.resize_short_side, mean=mean, std=std,
                  sampling_rule=p.sampling_rule, filename_tmpl=p.filename_tmpl, resize_backend=resize_backend)
    if views == "test":
        return TestTransform(num_clips=p.num_clips, crop_size=p.crop_size, num_crops=p.num_crops, **common)
    return TestTransform(num_clips=p.val_num_clips, crop_size=p.val_crop_size, num_crops=1, **common)


def views_transform(name_or_cfg: Any, views: int | None) -> TestTransform:
    """The weight's test transform by view count: ``None`` (or the protocol's count) for the
    published protocol, ``1`` for one centre clip with a centre crop (a quick look).

    Example:
        >>> views_transform("slowfast_r50_4x16x1", 1).num_views
        1
    """
    if name_or_cfg is None:
        raise ValueError("the model has no pretrained_cfg (test protocol); build it with create_model()")
    cfg, _, _ = resolve_protocol(name_or_cfg)
    p = getattr(cfg, "test", cfg)
    if views is None or views == p.num_views:
        return test_transform(name_or_cfg)
    if views == 1:
        return test_transform(name_or_cfg, views="val")
    raise ValueError(f"views must be {p.num_views} (the weight's test protocol) or 1 "
                     f"(one centre clip, a quick look), got {views}")


# The public names start with "test"; keep pytest from collecting them when imported into a
# test module.
test_transform.__test__ = False  # type: ignore[attr-defined]
