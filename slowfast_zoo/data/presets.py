# Test / validation pipelines bound to each published weight.
#
# Reproduces the test and validation pipelines of MMAction2's SlowFast configs (OpenMMLab,
# Apache-2.0, https://github.com/open-mmlab/mmaction2, v0.13.0) as written down in docs/SPEC.md
# sections 4.1-4.6: SampleFrames -> decode -> Resize -> ThreeCrop / CenterCrop -> Normalize ->
# FormatShape('NCTHW'). An independent re-implementation; no MMAction2 code is copied.
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
    views = tf.read_views(reader, idx)                # each distinct frame decoded and resized once
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from slowfast_zoo.data import transforms as T
from slowfast_zoo.data.reading import (  # READ_CHUNK_BYTES: looked up here at each read (tests lower it)
    DEFAULT_FILENAME_TMPL,
    READ_CHUNK_BYTES,
    FrameReader,
    RandomArg,
    TransformBase,
    VideoSource,
    check_mean_std,
    open_reader,
    read_sampled,
    resolve_protocol,
    typed_failures,
)
from slowfast_zoo.data.pysf_transforms import PysfTestTransform
from slowfast_zoo.data.resize_plan import Box
from slowfast_zoo.data.sampling import RandomSource, check_rule, sample_frames
from slowfast_zoo.data.train_presets import TrainTransform, train_transform
from slowfast_zoo.data.views import DecodedVideo, as_frames, assemble_views, dedupe
from slowfast_zoo.errors import UsageError
from slowfast_zoo.registry.records import KINETICS_MEAN, KINETICS_STD

__all__ = ["TestTransform", "PysfTestTransform", "ViewTransform", "test_transform", "views_transform", "open_reader", "FrameReader",
           "VideoSource", "RandomArg", "TrainTransform", "train_transform"]

_VIEWS = ("test", "val")

Region = tuple[Box, list[int]]


class TestTransform(TransformBase):
    """MMAction2's test (or validation) pipeline after decoding, for one video.

    ``SampleFrames(test_mode=True)`` (via :meth:`sample`, with the weight's generation's
    ``sampling_rule``, "0.x" or "1.x") -> ``Resize((-1, resize_short_side))``
    -> ``ThreeCrop(crop_size)`` (``num_crops=3``) or ``CenterCrop(crop_size)`` (``num_crops=1``)
    -> ``Normalize(mean, std)`` -> ``FormatShape('NCTHW')``.

    Output: float32 ``[num_crops * num_clips, 3, clip_len, crop_size, crop_size]``, views
    ordered crop-major (crop 0: clips 0..K-1, crop 1: ...), crops in ThreeCrop order
    (left/top, right/bottom, middle).

    Reading: :meth:`load` (a file, a folder or a reader), :meth:`read_views` (the frames
    ``indices`` of a reader), ``__call__`` (frames already decoded). Streaming, a few views at
    a time: :meth:`stream_views`, or its two halves :meth:`read_decoded` (uint8, in a
    DataLoader worker) and :meth:`iter_views` (on the compute device). All give the same values
    bit for bit, whichever device builds them.
    """

    test_mode = True
    __test__ = False  # not a pytest test class

    def __init__(self, *, clip_len: int, frame_interval: int, num_clips: int, resize_short_side: int,
                 crop_size: int, num_crops: int = 3, mean: Sequence[float] = KINETICS_MEAN,
                 std: Sequence[float] = KINETICS_STD, sampling_rule: str = "0.x",
                 filename_tmpl: str = DEFAULT_FILENAME_TMPL) -> None:
        if num_crops not in (1, 3):
            raise UsageError(f"num_crops must be 1 (centre crop) or 3 (ThreeCrop), got {num_crops}")
        self.sampling_rule = check_rule(sampling_rule)
        self.filename_tmpl = str(filename_tmpl)
        self.clip_len = int(clip_len)
        self.frame_interval = int(frame_interval)
        self.num_clips = int(num_clips)
        self.resize_short_side = int(resize_short_side)
        self.crop_size = int(crop_size)
        self.num_crops = int(num_crops)
        self.mean, self.std = check_mean_std(mean, std)

    def __repr__(self) -> str:
        crop = "ThreeCrop" if self.num_crops == 3 else "CenterCrop"
        return (f"TestTransform(SampleFrames({self.clip_len}, {self.frame_interval}, {self.num_clips}, "
                f"test_mode=True, rule={self.sampling_rule!r}) -> Resize((-1, {self.resize_short_side})) -> "
                f"{crop}({self.crop_size}) -> Normalize(mean={self.mean}, std={self.std}) -> FormatShape('NCTHW'))")

    @property
    def num_views(self) -> int:
        """Views per video: ``num_crops * num_clips``."""
        return self.num_crops * self.num_clips

    @property
    def view_shape(self) -> tuple[int, int, int]:
        """``(clip_len, crop_size, crop_size)``: frames, height and width of one view."""
        return (self.clip_len, self.crop_size, self.crop_size)

    @property
    def output_shape(self) -> tuple[int, int, int, int, int]:
        """Shape of all views of one video: ``(num_views, 3, clip_len, crop_size, crop_size)``."""
        return (self.num_views, 3, self.clip_len, self.crop_size, self.crop_size)

    def sample(self, num_frames: int, start_index: int = 0,
               rng: RandomSource | None = None) -> np.ndarray:
        """Test-mode frame indices (deterministic; ``rng`` is accepted and ignored)."""
        return sample_frames(num_frames, self.clip_len, self.frame_interval, self.num_clips,
                             test_mode=True, start_index=start_index, rule=self.sampling_rule)

    def sample_reader(self, reader: FrameReader, start_index: int = 0) -> np.ndarray:
        """:meth:`sample` for ``reader`` (MMAction2 needs only its frame count)."""
        return self.sample(reader.num_frames, start_index)

    def __call__(self, frames: torch.Tensor | np.ndarray,
                 indices: Sequence[int] | np.ndarray | torch.Tensor | None = None, *,
                 out: torch.Tensor | None = None) -> torch.Tensor:
        """Views of one video from its sampled frames.

        Args:
            frames: uint8 ``[num_clips * clip_len, H, W, 3]`` in sampling order.
            indices: optional, the sampled frame indices the frames came from; rows with a
                repeated index are then resized only once (same result).
            out: optional preallocated float32 output of shape ``output_shape`` (reusing
                one saves the page faults of a fresh 755 MB tensor per video).
        """
        unique, inverse = dedupe(as_frames(frames), indices, self.frames_per_video)
        return self.apply_unique(unique, inverse, out=out)

    def apply_unique(self, unique: torch.Tensor, inverse: torch.Tensor, *,
                     out: torch.Tensor | None = None) -> torch.Tensor:
        """Like ``__call__`` on ``unique[inverse]`` without materialising the repeats."""
        unique = as_frames(unique)
        hw = (int(unique.shape[1]), int(unique.shape[2]))
        return self._views(self._resize_regions(unique), hw, inverse, range(self.num_views), out=out)

    def read_views(self, reader: FrameReader, indices: Sequence[int] | np.ndarray, *,
                   out: torch.Tensor | None = None) -> torch.Tensor:
        """The views of the frames ``indices`` of ``reader``: what every application reads.

        Each distinct frame is decoded once and resized at once, in chunks of at most
        ``READ_CHUNK_BYTES`` of decoded frames (bounded memory for 4K / 8K videos).
        """
        unique, inverse = np.unique(np.asarray(indices, dtype=np.int64).reshape(-1), return_inverse=True)
        with typed_failures(reader):
            regions, hw = self._read_resized(reader, unique)
            return self._views(regions, hw, torch.from_numpy(inverse.reshape(-1)), range(self.num_views), out=out)

    def read_decoded(self, reader: FrameReader, indices: Sequence[int] | np.ndarray, *,
                     resize: bool = True) -> DecodedVideo:
        """Decode the distinct frames of ``indices`` once, as uint8, resized unless ``resize=False``.

        What :meth:`iter_views` builds the views from; ``resize=False`` keeps the decoded
        frames, to resize them where they are sent (an accelerator).
        """
        unique, inverse = np.unique(np.asarray(indices, dtype=np.int64).reshape(-1), return_inverse=True)
        if inverse.size != self.frames_per_video:
            raise UsageError(f"indices must have {self.frames_per_video} entries, got {inverse.size}")
        with typed_failures(reader):
            if resize:
                frames, hw = self._read_resized(reader, unique)
            else:
                raw = as_frames(reader.read(unique))
                frames, hw = [raw], (int(raw.shape[1]), int(raw.shape[2]))
        return DecodedVideo(tuple(frames), hw, torch.from_numpy(inverse.reshape(-1)), resize)

    def iter_views(self, video: DecodedVideo, views_per_chunk: int) -> Iterator[torch.Tensor]:
        """The views of ``video``, ``views_per_chunk`` at a time, built on the frames' device.

        Each chunk is built straight into the model's input layout (channels_last_3d memory), so
        the float32 views of a whole video (755 MB for 30 views of 32x256x256) never exist.
        Concatenated, the chunks equal :meth:`read_views` bit for bit, on any device.
        """
        if views_per_chunk < 1:
            raise UsageError(f"views_per_chunk must be >= 1, got {views_per_chunk}")
        if video.inverse.numel() != self.frames_per_video:
            raise UsageError(f"video has {video.inverse.numel()} sampled frames, the transform "
                             f"needs {self.frames_per_video}")
        regions = list(video.frames) if video.resized else self._resize_regions(video.frames[0])
        for v0 in range(0, self.num_views, views_per_chunk):
            views = range(v0, min(self.num_views, v0 + views_per_chunk))
            yield self._views(regions, video.hw, video.inverse, views, channels_last=True)

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
            raise UsageError(f"views_per_chunk must be >= 1, got {views_per_chunk}")
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
                    start_index: int = 0) -> tuple[np.ndarray, Box]:
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
            raise UsageError(f"view must be in [0, {self.num_views}), got {view}")
        crop, clip = divmod(int(view), self.num_clips)
        idx = self.sample(num_frames, start_index).reshape(self.num_clips, self.clip_len)[clip]
        return idx, self._crop_boxes(frame_hw)[crop]

    # ------------------------------------------------------------------ the steps
    def _crop_boxes(self, hw: Sequence[int]) -> list[Box]:
        """The crop boxes on the resized frame for input frames of size ``hw``."""
        new_hw = T.rescale_size(hw, self.resize_short_side)
        if self.num_crops == 3:
            return T.three_crop_boxes(new_hw, self.crop_size)
        return [T.center_crop_box(new_hw, self.crop_size)]

    def _regions(self, hw: Sequence[int]) -> list[Region]:
        """What is resized for frames of size ``hw``: ``[(box on the resized frame, crops in it)]``.

        The union of the crops, resized once, when it is not much bigger than the crops
        themselves (identical pixels, less work); otherwise each crop's own box, so that an
        extreme aspect ratio (an 8192x8 frame resizes to 262144x256) never resizes the whole
        frame: memory stays bounded by the crops.
        """
        boxes = self._crop_boxes(hw)
        union = (min(b[0] for b in boxes), min(b[1] for b in boxes),
                 max(b[2] for b in boxes), max(b[3] for b in boxes))
        area = (union[2] - union[0]) * (union[3] - union[1])
        if area <= 2 * sum((b[2] - b[0]) * (b[3] - b[1]) for b in boxes):
            return [(union, list(range(len(boxes))))]
        return [(b, [c]) for c, b in enumerate(boxes)]

    def _resize_regions(self, frames: torch.Tensor) -> list[torch.Tensor]:
        """``frames`` uint8 ``[U, H, W, 3]`` resized inside each of :meth:`_regions` (uint8, same device)."""
        frames = as_frames(frames)
        hw = (int(frames.shape[1]), int(frames.shape[2]))
        new_hw = T.rescale_size(hw, self.resize_short_side)
        return [T.resize(frames, new_hw, box=box) for box, _ in self._regions(hw)]

    def _read_resized(self, reader: FrameReader, unique: np.ndarray) -> tuple[list[torch.Tensor], tuple[int, int]]:
        """The distinct frames ``unique`` decoded and resized inside :meth:`_regions`: ``(regions, frame hw)``.

        Decoded frames are resized in chunks of at most ``READ_CHUNK_BYTES``, so big frames
        (4K, 8K) never sit in memory all at once at full size.
        """
        size = getattr(reader, "size", None)
        per_frame = 3 * int(size[0]) * int(size[1]) if size is not None else 0
        chunk = max(1, READ_CHUNK_BYTES // per_frame) if per_frame else len(unique)
        parts: list[list[torch.Tensor]] = []
        hw: tuple[int, int] = (0, 0)
        for lo in range(0, len(unique), chunk):
            frames = reader.read(unique[lo:lo + chunk])
            hw = (int(frames.shape[1]), int(frames.shape[2]))
            parts.append(self._resize_regions(frames))
            del frames
        if len(parts) == 1:
            return parts[0], hw
        return [torch.cat([p[r] for p in parts]) for r in range(len(parts[0]))], hw

    def _views(self, regions: Sequence[torch.Tensor], hw: Sequence[int], inverse: torch.Tensor,
               views: Sequence[int], *, out: torch.Tensor | None = None,
               channels_last: bool = False) -> torch.Tensor:
        """The views ``views`` from the resized regions of frames of size ``hw``."""
        inverse = torch.as_tensor(inverse, dtype=torch.int64).reshape(-1)
        if inverse.numel() != self.frames_per_video:
            raise UsageError(f"inverse must have {self.frames_per_video} entries, got {inverse.numel()}")
        return assemble_views(regions, self._regions(hw), self._crop_boxes(hw),
                              inverse.view(self.num_clips, self.clip_len), views, self.mean, self.std,
                              out=out, channels_last=channels_last)


#: What :func:`test_transform` returns: MMAction2's protocol, or PyTorchVideo's / PySlowFast's (the
#: same methods: ``sample``, ``read_views``, ``stream_views``, ``load``, ``num_views`` ...).
ViewTransform = TestTransform | PysfTestTransform


def test_transform(name_or_cfg: Any, *, views: str | int | None = "test", clip_len: int | None = None,
                   frame_interval: int | None = None, num_clips: int | None = None,
                   resize_short_side: int | None = None, crop_size: int | None = None,
                   num_crops: int | None = None, short_side: int | None = None,
                   sampling_rule: str | None = None) -> "ViewTransform":
    """The test-time preprocessing of a weight: the one way from a protocol to its transform.

    Args:
        name_or_cfg: a model name (``"slowfast_r50_4x16x1"``, ``"slowfast_r50_4x16x1.k400_256p"``),
            a ``PretrainedCfg`` or a ``TestProtocol`` (Kinetics mean/std then).
        views: ``"test"`` (or ``None``): the published protocol (Kinetics-400: 10 clips x
            ThreeCrop 256 = 30 views of ``[3, 32, 256, 256]``; Something-Something V1: 1 clip,
            CenterCrop 256, ``[1, 3, 64, 256, 256]``); ``"val"``: MMAction2's validation during
            training (1 clip, CenterCrop 224 -> ``[1, 3, 32, 224, 224]`` for Kinetics-400). A
            view count picks one of them: the protocol's own count, or ``1`` for ``"val"`` (one
            centre clip with a centre crop, a quick look).
        clip_len, frame_interval, num_clips, resize_short_side, crop_size, num_crops: replace
            the chosen protocol's value (e.g. the clips of a feature-extraction chunk).
        short_side: the same as ``resize_short_side``.
        sampling_rule: PyTorchVideo / PySlowFast weights only: another of
            ``PYSF_SAMPLING_RULES`` (e.g. ``"ptv_pinned"`` instead of the 2021-04 clip sampler).

    PyTorchVideo / PySlowFast weights get a
    :class:`~slowfast_zoo.data.pysf_transforms.PysfTestTransform` (same interface; their own
    frame selection, normalize-then-resize, uniform crops); ``views=1`` is then one clip with
    one centre crop.

    Clips are placed by the weight's own generation's test-mode ``SampleFrames``
    (``TestProtocol.sampling_rule``: "0.x" or "1.x").

    Raises:
        UsageError: ``name_or_cfg`` is ``None`` (a model without a test protocol) or an action
            detector's weight, ``views`` is none of the above, or ``sampling_rule`` is given for
            an MMAction2 weight.

    Example:
        >>> test_transform("slowfast_r50_8x8x1.k400_mm1").sampling_rule
        '1.x'
        >>> test_transform("slowfast_r50_16x8x1").output_shape
        (1, 3, 64, 256, 256)
        >>> test_transform("slowfast_r50_4x16x1", views=1).output_shape
        (1, 3, 32, 224, 224)
        >>> test_transform("slowfast_r50_4x16x1", num_clips=2, num_crops=1).num_views
        2
        >>> test_transform("pysf_slowfast_r50_8x8", short_side=16, crop_size=16).output_shape
        (30, 3, 32, 16, 16)
    """
    if name_or_cfg is None:
        raise UsageError("no test protocol: the model has no pretrained_cfg (build it with create_model(), "
                         "or pass a TestProtocol)")
    cfg, mean, std = resolve_protocol(name_or_cfg)
    if getattr(cfg, "detection", None) is not None:
        raise UsageError(f"{cfg.name} is an action detector: its test protocol is one clip per keyframe "
                         f"with person boxes (slowfast_zoo.detect, slowfast_zoo.data.keyframe_clip), "
                         f"not classification views")
    p = getattr(cfg, "test", cfg)
    resize_short_side = short_side if resize_short_side is None else resize_short_side
    if getattr(p, "family", "mmaction2") != "mmaction2":
        # MMAction2's sampling and crops would score these weights quietly wrong: their own
        # protocol (pysf_transforms).
        test = _view_kind(views, p.num_views) == "test"
        return PysfTestTransform(
            sampling_rule=sampling_rule or p.sampling_rule, clip_len=_pick(clip_len, p.clip_len),
            frame_interval=_pick(frame_interval, p.frame_interval),
            num_clips=_pick(num_clips, p.num_clips if test else 1),
            resize_short_side=_pick(resize_short_side, p.resize_short_side),
            crop_size=_pick(crop_size, p.crop_size), num_crops=_pick(num_crops, p.num_crops if test else 1),
            crop_index=p.crop_index if test else 1, mean=mean, std=std, target_fps=p.target_fps,
            clip_span=p.clip_span, filename_tmpl=p.filename_tmpl)
    if sampling_rule is not None:
        raise UsageError("sampling_rule= selects a PyTorchVideo / PySlowFast clip sampler; "
                         f"{getattr(cfg, 'name', 'this weight')} follows MMAction2's protocol")
    if _view_kind(views, p.num_views) == "test":
        clips, size, crops = p.num_clips, p.crop_size, p.num_crops
    else:
        clips, size, crops = p.val_num_clips, p.val_crop_size, 1
    return TestTransform(clip_len=_pick(clip_len, p.clip_len), frame_interval=_pick(frame_interval, p.frame_interval),
                         num_clips=_pick(num_clips, clips),
                         resize_short_side=_pick(resize_short_side, p.resize_short_side),
                         crop_size=_pick(crop_size, size), num_crops=_pick(num_crops, crops), mean=mean, std=std,
                         sampling_rule=p.sampling_rule, filename_tmpl=p.filename_tmpl)


def _pick(given: int | None, default: int) -> int:
    return int(default if given is None else given)


def _view_kind(views: str | int | None, protocol_views: int) -> str:
    """``"test"`` or ``"val"`` for the ``views`` argument of :func:`test_transform`."""
    if views is None:
        return "test"
    if isinstance(views, str):
        if views not in _VIEWS:
            raise UsageError(f"views must be one of {_VIEWS} or a view count, got {views!r}")
        return views
    if not isinstance(views, bool) and isinstance(views, (int, np.integer)):
        if views == protocol_views:
            return "test"
        if views == 1:
            return "val"
    raise UsageError(f"views must be {protocol_views} (the weight's test protocol) or 1 "
                     f"(one centre clip, a quick look), got {views!r}")


def views_transform(name_or_cfg: Any, views: int | None) -> "ViewTransform":
    """``test_transform(name_or_cfg, views=views)``: the weight's test transform by view count.

    Kept for callers that pass the count positionally; :func:`test_transform` is the one
    constructor.

    Example:
        >>> views_transform("slowfast_r50_4x16x1", 1).num_views
        1
    """
    return test_transform(name_or_cfg, views=views)


# The public names start with "test": keep pytest from collecting them when a test module imports them.
setattr(test_transform, "__test__", False)
