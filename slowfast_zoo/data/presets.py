# Test / validation / train pipelines bound to each published weight.
#
# Reproduces the test, validation and train pipelines of MMAction2's Kinetics-400 SlowFast
# configs (OpenMMLab, Apache-2.0, https://github.com/open-mmlab/mmaction2, v0.13.0) as
# written down in SPEC.md sections 4.1-4.7: SampleFrames -> decode -> Resize -> ThreeCrop /
# CenterCrop / RandomResizedCrop -> Flip -> Normalize -> FormatShape('NCTHW'). An
# independent re-implementation; no MMAction2 code is copied.
"""Ready-made preprocessing for each weight: ``test_transform(name)`` / ``train_transform(name)``.

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

import numbers
import os
from typing import Any, Sequence

import numpy as np
import torch

from slowfast_zoo.data import transforms as T
from slowfast_zoo.data.bilinear import parallel_ranges
from slowfast_zoo.data.sampling import sample_frames

__all__ = ["TestTransform", "TrainTransform", "test_transform", "train_transform"]

_VIEWS = ("test", "val")


def _resolve(name_or_cfg):
    """``(protocol record, mean, std)`` from a model name, a PretrainedCfg or a protocol."""
    from slowfast_zoo.registry.specs import KINETICS_MEAN, KINETICS_STD, PretrainedCfg

    if isinstance(name_or_cfg, str):
        from slowfast_zoo.registry import get_pretrained_cfg

        name_or_cfg = get_pretrained_cfg(name_or_cfg)
    if isinstance(name_or_cfg, PretrainedCfg):
        return name_or_cfg, tuple(name_or_cfg.mean), tuple(name_or_cfg.std)
    return name_or_cfg, KINETICS_MEAN, KINETICS_STD


def _as_frames(frames) -> torch.Tensor:
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(frames)
    if not isinstance(frames, torch.Tensor):
        raise TypeError(f"frames must be a uint8 torch.Tensor [M, H, W, 3], got {type(frames).__name__}")
    if frames.dim() != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
        raise ValueError(f"frames must be uint8 [M, H, W, 3] (RGB), got {frames.dtype} {tuple(frames.shape)}")
    return frames


def _dedupe(frames: torch.Tensor, indices, expected: int):
    """Distinct frames and the map from each sampled position to one of them."""
    if frames.shape[0] != expected:
        raise ValueError(f"expected {expected} frames (num_clips * clip_len), got {frames.shape[0]}")
    if indices is None:
        return frames, torch.arange(expected)
    idx = np.asarray(indices.tolist() if isinstance(indices, torch.Tensor) else indices, dtype=np.int64).reshape(-1)
    if idx.size != expected:
        raise ValueError(f"indices has {idx.size} entries, frames {expected}")
    unique, first, inverse = np.unique(idx, return_index=True, return_inverse=True)
    if len(unique) == expected:
        return frames, torch.arange(expected)
    # numpy's single-threaded copy: predictable on a loaded machine (see _normalize_chw).
    picked = np.take(frames.numpy(), first, axis=0)
    return torch.from_numpy(picked), torch.from_numpy(inverse.reshape(-1))



def _check_out(out, shape):
    if out is None:
        # numpy allocates big arrays with madvise(MADV_HUGEPAGE): a fresh 755 MB output then
        # costs far fewer page faults than torch.empty's (measured 0.2 s vs 0.4-0.5 s).
        return torch.from_numpy(np.empty(shape, dtype=np.float32))
    if tuple(out.shape) != tuple(shape) or out.dtype != torch.float32 or not out.is_contiguous() \
            or out.device.type != "cpu":
        raise ValueError(f"out must be a contiguous float32 CPU tensor of shape {tuple(shape)}, "
                         f"got {out.dtype} {tuple(out.shape)}")
    return out


# Normalization and the final gather run in numpy (frames / views split over a few host
# threads by parallel_ranges): torch's intra-op threaded copies of many mid-sized blocks
# stall badly when another process holds a core (measured 2-10x slower on a loaded 2-core
# machine).

def _normalize_chw(frames: torch.Tensor, mean, std) -> np.ndarray:
    """float32 ``(x - mean) / std`` of uint8 ``[U, h, w, 3]`` frames, channel-first ``[3, U, h, w]``."""
    src = frames.numpy()
    out = np.empty((3,) + src.shape[:3], dtype=np.float32)
    m = [np.float32(v) for v in mean]
    s = [np.float32(v) for v in std]

    def work(lo: int, hi: int) -> None:
        for c in range(3):
            dst = out[c, lo:hi]
            np.subtract(src[lo:hi, ..., c], m[c], out=dst, dtype=np.float32)
            np.divide(dst, s[c], out=dst)

    parallel_ranges(work, src.shape[0], min_per_thread=8)
    return out


def _fill_views(out: torch.Tensor, norm: np.ndarray, boxes, inverse: torch.Tensor) -> None:
    """``out[crop * K + k, :, t] = norm[:, inverse[k, t], box]`` for every crop box."""
    dst = out.numpy()
    inv = inverse.tolist()
    K = len(inv)
    srcs = [norm[:, :, top:bottom, left:right] for left, top, right, bottom in boxes]

    def work(lo: int, hi: int) -> None:
        for v in range(lo, hi):  # view v = crop c, clip k
            c, k = divmod(v, K)
            view, src = dst[v], srcs[c]
            for t, u in enumerate(inv[k]):
                np.copyto(view[:, t], src[:, u])

    parallel_ranges(work, len(boxes) * K)

def _open_reader(source):
    """``(reader, first frame number)`` for a reader, a video file or a rawframe folder."""
    if hasattr(source, "read") and hasattr(source, "num_frames"):
        return source, int(getattr(source, "start_index", 0))
    if os.path.isdir(source):
        from slowfast_zoo.data.rawframes import RawframeReader

        reader = RawframeReader(source)  # img_00001.jpg ..., counted from the folder
        return reader, reader.start_index
    from slowfast_zoo.data.decode import VideoReader

    return VideoReader(source), 0


class _Base:
    clip_len: int
    frame_interval: int
    num_clips: int
    mean: tuple
    std: tuple

    @property
    def frames_per_video(self) -> int:
        """Frames a transform call takes: ``num_clips * clip_len``."""
        return self.num_clips * self.clip_len



class TestTransform(_Base):
    """MMAction2's test (or validation) pipeline after decoding, for one video.

    ``SampleFrames(test_mode=True)`` (via :meth:`sample`) -> ``Resize((-1, resize_short_side))``
    -> ``ThreeCrop(crop_size)`` (``num_crops=3``) or ``CenterCrop(crop_size)`` (``num_crops=1``)
    -> ``Normalize(mean, std)`` -> ``FormatShape('NCTHW')``.

    Output: float32 ``[num_crops * num_clips, 3, clip_len, crop_size, crop_size]``, views
    ordered crop-major (crop 0: clips 0..K-1, crop 1: ...), crops in ThreeCrop order
    (left/top, right/bottom, middle).
    """

    test_mode = True
    __test__ = False  # not a pytest test class

    def __init__(self, *, clip_len: int, frame_interval: int, num_clips: int, resize_short_side: int,
                 crop_size: int, num_crops: int = 3, mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375)):
        if num_crops not in (1, 3):
            raise ValueError(f"num_crops must be 1 (centre crop) or 3 (ThreeCrop), got {num_crops}")
        self.clip_len = int(clip_len)
        self.frame_interval = int(frame_interval)
        self.num_clips = int(num_clips)
        self.resize_short_side = int(resize_short_side)
        self.crop_size = int(crop_size)
        self.num_crops = int(num_crops)
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)

    def __repr__(self) -> str:
        crop = "ThreeCrop" if self.num_crops == 3 else "CenterCrop"
        return (f"TestTransform(SampleFrames({self.clip_len}, {self.frame_interval}, {self.num_clips}, "
                f"test_mode=True) -> Resize((-1, {self.resize_short_side})) -> {crop}({self.crop_size}) "
                f"-> Normalize(mean={self.mean}, std={self.std}) -> FormatShape('NCTHW'))")

    @property
    def num_views(self) -> int:
        return self.num_crops * self.num_clips

    @property
    def output_shape(self) -> tuple[int, int, int, int, int]:
        return (self.num_views, 3, self.clip_len, self.crop_size, self.crop_size)

    def sample(self, num_frames: int, start_index: int = 0, rng=None) -> np.ndarray:
        """Test-mode frame indices (deterministic; ``rng`` is accepted and ignored)."""
        return sample_frames(num_frames, self.clip_len, self.frame_interval, self.num_clips,
                             test_mode=True, start_index=start_index)

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
        frames = _as_frames(frames)
        unique, inverse = _dedupe(frames, indices, self.frames_per_video)
        return self.apply_unique(unique, inverse, out=out)

    def apply_unique(self, unique: torch.Tensor, inverse: torch.Tensor, *,
                     out: torch.Tensor | None = None) -> torch.Tensor:
        """Like ``__call__`` on ``unique[inverse]`` without materialising the repeats."""
        unique = _as_frames(unique)
        inverse = torch.as_tensor(inverse, dtype=torch.int64).reshape(-1)
        if inverse.numel() != self.frames_per_video:
            raise ValueError(f"inverse must have {self.frames_per_video} entries, got {inverse.numel()}")
        U, H, W, _ = unique.shape
        new_hw = T.rescale_size((H, W), self.resize_short_side)
        boxes = self.crop_boxes((H, W))
        # Resize only the union of the crops (identical pixels, less work).
        ul = min(b[0] for b in boxes)
        ut = min(b[1] for b in boxes)
        ur = max(b[2] for b in boxes)
        ub = max(b[3] for b in boxes)
        resized = T.resize(unique, new_hw, box=(ul, ut, ur, ub))  # [U, bh, bw, 3] uint8
        norm = _normalize_chw(resized, self.mean, self.std)  # [3, U, bh, bw] float32
        L, K, S = self.clip_len, self.num_clips, self.crop_size
        out = _check_out(out, (self.num_crops * K, 3, L, S, S))
        crops = [(left - ul, top - ut, right - ul, bottom - ut) for left, top, right, bottom in boxes]
        _fill_views(out, norm, crops, inverse.view(K, L))
        return out

    def load(self, source, *, start_index: int | None = None) -> torch.Tensor:
        """Sample, decode and transform one video.

        Args:
            source: a video file, a rawframe folder (``img_00001.jpg``...), or a reader
                (``VideoReader``, ``RawframeReader``: anything with ``num_frames`` and
                ``read``; a reader's ``start_index`` is honoured).
            start_index: override of the reader's first frame number.
        """
        reader, first = _open_reader(source)
        idx = self.sample(reader.num_frames, first if start_index is None else start_index)
        unique, inverse = np.unique(idx, return_inverse=True)
        frames = reader.read(unique)
        return self.apply_unique(frames, torch.from_numpy(inverse.reshape(-1)))


def _per_process_rng(seed):
    """A Generator private to this process (and DataLoader worker)."""
    info = torch.utils.data.get_worker_info()
    wid = info.id if info is not None else -1
    if seed is None:
        # torch seeds every DataLoader worker differently; mix in the pid for forked copies.
        return np.random.default_rng([torch.initial_seed() & 0xFFFFFFFFFFFF, os.getpid(), wid + 1])
    return np.random.default_rng([int(seed), wid + 1])


class TrainTransform(_Base):
    """MMAction2's training pipeline after decoding, for one video (SPEC.md 4.7).

    ``SampleFrames(test_mode=False)`` (via :meth:`sample`) -> ``Resize((-1, resize_short_side))``
    -> ``RandomResizedCrop(area_range, aspect_ratio_range)`` -> ``Resize((crop_size,
    crop_size), keep_ratio=False)`` -> ``Flip(flip_ratio)`` -> ``Normalize`` ->
    ``FormatShape('NCTHW')``: float32 ``[num_clips, 3, clip_len, crop_size, crop_size]``.

    Random source (``rng``): a ``numpy.random.Generator`` (used as is; share it across
    DataLoader workers and they draw the same crops), an int seed (each process/worker
    derives its own Generator from the seed and its worker id), or ``None`` (each
    process/worker seeds from ``torch.initial_seed()``, which DataLoader varies per worker
    and epoch). Draws per video, in MMAction2's order: clip starts (``sample``), crop
    ratios/areas/offsets, flip. Same formulas as MMAction2, but MMAction2 draws from numpy's
    global RNG and Python's ``random`` (crop offsets), so streams are not identical.
    """

    test_mode = False

    def __init__(self, *, clip_len: int = 32, frame_interval: int = 2, num_clips: int = 1,
                 resize_short_side: int = 256, area_range=(0.08, 1.0), aspect_ratio_range=(3 / 4, 4 / 3),
                 crop_size: int = 224, flip_ratio: float = 0.5,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375), rng=None):
        self.clip_len = int(clip_len)
        self.frame_interval = int(frame_interval)
        self.num_clips = int(num_clips)
        self.resize_short_side = int(resize_short_side)
        self.area_range = tuple(float(v) for v in area_range)
        self.aspect_ratio_range = tuple(float(v) for v in aspect_ratio_range)
        self.crop_size = int(crop_size)
        self.flip_ratio = float(flip_ratio)
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        if isinstance(rng, bool) or not (rng is None or isinstance(rng, numbers.Integral)
                                         or isinstance(rng, (np.random.Generator, np.random.RandomState))):
            raise TypeError(f"rng must be None, an int seed, a numpy Generator or RandomState, got {type(rng).__name__}")
        self._rng_arg = rng
        self._rng = rng if isinstance(rng, (np.random.Generator, np.random.RandomState)) else None
        self._rng_key = None

    def __repr__(self) -> str:
        return (f"TrainTransform(SampleFrames({self.clip_len}, {self.frame_interval}, {self.num_clips}) -> "
                f"Resize((-1, {self.resize_short_side})) -> RandomResizedCrop(area={self.area_range}, "
                f"aspect={tuple(round(v, 4) for v in self.aspect_ratio_range)}) -> "
                f"Resize(({self.crop_size}, {self.crop_size}), keep_ratio=False) -> Flip({self.flip_ratio}) "
                f"-> Normalize(mean={self.mean}, std={self.std}) -> FormatShape('NCTHW'))")

    @property
    def output_shape(self) -> tuple[int, int, int, int, int]:
        return (self.num_clips, 3, self.clip_len, self.crop_size, self.crop_size)

    @property
    def rng(self):
        """The random source in use in this process."""
        if isinstance(self._rng_arg, (np.random.Generator, np.random.RandomState)):
            return self._rng_arg
        info = torch.utils.data.get_worker_info()
        key = (os.getpid(), info.id if info is not None else -1)
        if self._rng is None or self._rng_key != key:
            self._rng = _per_process_rng(self._rng_arg)
            self._rng_key = key
        return self._rng

    def sample(self, num_frames: int, start_index: int = 0, rng=None) -> np.ndarray:
        """Random (train-mode) frame indices, drawn from ``rng`` or the transform's source."""
        return sample_frames(num_frames, self.clip_len, self.frame_interval, self.num_clips,
                             test_mode=False, start_index=start_index,
                             rng=self.rng if rng is None else rng)

    def __call__(self, frames, indices=None, *, rng=None, out: torch.Tensor | None = None) -> torch.Tensor:
        """One random training sample from the sampled frames (see the class docstring).

        Args:
            frames: uint8 ``[num_clips * clip_len, H, W, 3]`` in sampling order.
            indices: optional sampled indices; repeated frames are resized once.
            rng: override of the transform's random source for this call.
        """
        frames = _as_frames(frames)
        unique, inverse = _dedupe(frames, indices, self.frames_per_video)
        return self.apply_unique(unique, inverse, rng=rng, out=out)

    def crop_box(self, hw: Sequence[int], rng=None) -> tuple[int, int, int, int]:
        """Draw the RandomResizedCrop box on the resized frame for frames of size ``hw``."""
        new_hw = T.rescale_size(hw, self.resize_short_side)
        return T.random_resized_crop_box(new_hw, area_range=self.area_range,
                                         aspect_ratio_range=self.aspect_ratio_range,
                                         rng=self.rng if rng is None else rng)

    def apply_unique(self, unique: torch.Tensor, inverse: torch.Tensor, *, rng=None,
                     out: torch.Tensor | None = None) -> torch.Tensor:
        """Like ``__call__`` on ``unique[inverse]`` without materialising the repeats."""
        rng = self.rng if rng is None else rng
        unique = _as_frames(unique)
        inverse = torch.as_tensor(inverse, dtype=torch.int64).reshape(-1)
        if inverse.numel() != self.frames_per_video:
            raise ValueError(f"inverse must have {self.frames_per_video} entries, got {inverse.numel()}")
        _, H, W, _ = unique.shape
        new_hw = T.rescale_size((H, W), self.resize_short_side)
        box = self.crop_box((H, W), rng)
        # Resize((-1, 256)) computed only inside the crop box, then Resize((S, S)).
        cropped = T.resize(unique, new_hw, box=box)
        S = self.crop_size
        frames = T.resize(cropped, (S, S))
        draw = rng.random() if isinstance(rng, np.random.Generator) else rng.rand()
        if draw < self.flip_ratio:
            frames = frames.flip(2)
        norm = _normalize_chw(frames, self.mean, self.std)
        L, K = self.clip_len, self.num_clips
        out = _check_out(out, (K, 3, L, S, S))
        _fill_views(out, norm, [(0, 0, S, S)], inverse.view(K, L))
        return out

    def load(self, source, *, start_index: int | None = None, rng=None) -> torch.Tensor:
        """Sample (randomly), decode and transform one video (see ``TestTransform.load``)."""
        rng = self.rng if rng is None else rng
        reader, first = _open_reader(source)
        idx = self.sample(reader.num_frames, first if start_index is None else start_index, rng=rng)
        unique, inverse = np.unique(idx, return_inverse=True)
        frames = reader.read(unique)
        return self.apply_unique(frames, torch.from_numpy(inverse.reshape(-1)), rng=rng)


def test_transform(name_or_cfg: Any, *, views: str = "test") -> TestTransform:
    """The test-time preprocessing of a weight.

    Args:
        name_or_cfg: a model name (``"slowfast_r50_4x16x1"``, ``"slowfast_r50_4x16x1.k400_256p"``),
            a ``PretrainedCfg`` or a ``TestProtocol`` (Kinetics mean/std then).
        views: ``"test"``: the published protocol (10 clips x ThreeCrop 256 = 30 views of
            ``[3, 32, 256, 256]``); ``"val"``: MMAction2's validation during training (1
            clip, CenterCrop 224 -> ``[1, 3, 32, 224, 224]``).
    """
    if views not in _VIEWS:
        raise ValueError(f"views must be one of {_VIEWS}, got {views!r}")
    cfg, mean, std = _resolve(name_or_cfg)
    p = getattr(cfg, "test", cfg)
    common = dict(clip_len=p.clip_len, frame_interval=p.frame_interval,
                  resize_short_side=p.resize_short_side, mean=mean, std=std)
    if views == "test":
        return TestTransform(num_clips=p.num_clips, crop_size=p.crop_size, num_crops=p.num_crops, **common)
    return TestTransform(num_clips=p.val_num_clips, crop_size=p.val_crop_size, num_crops=1, **common)


def train_transform(name_or_cfg: Any, *, flip: bool = True, rng=None) -> TrainTransform:
    """The training preprocessing of a weight (SPEC.md 4.7), ``[1, 3, 32, 224, 224]`` per video.

    Args:
        name_or_cfg: a model name, a ``PretrainedCfg`` or a ``TrainProtocol``.
        flip: apply the random horizontal flip (``flip_ratio`` of the protocol, 0.5).
        rng: random source, see :class:`TrainTransform`.
    """
    cfg, mean, std = _resolve(name_or_cfg)
    p = getattr(cfg, "train", cfg)
    return TrainTransform(clip_len=p.clip_len, frame_interval=p.frame_interval, num_clips=p.num_clips,
                          resize_short_side=p.resize_short_side, area_range=p.area_range,
                          aspect_ratio_range=p.aspect_ratio_range, crop_size=p.crop_size,
                          flip_ratio=p.flip_ratio if flip else 0.0, mean=mean, std=std, rng=rng)


# The public names start with "test"; keep pytest from collecting them when imported into a
# test module.
test_transform.__test__ = False  # type: ignore[attr-defined]
