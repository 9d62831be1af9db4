# Training pipelines bound to each published weight.
#
# Reproduces the train pipelines of MMAction2's SlowFast configs (OpenMMLab, Apache-2.0,
# https://github.com/open-mmlab/mmaction2, v0.13.0) as written down in docs/SPEC.md section
# 4.7: SampleFrames -> decode -> Resize -> RandomResizedCrop -> Resize -> Flip(flip_label_map)
# -> Normalize -> FormatShape('NCTHW'). An independent re-implementation; no MMAction2 code
# is copied.
"""The training preprocessing of each weight: ``train_transform(name)`` / :class:`TrainTransform`."""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np
import torch

from slowfast_zoo.data import transforms as T
from slowfast_zoo.data.reading import (
    DEFAULT_FILENAME_TMPL,
    check_mean_std,
    FrameReader,
    RandomArg,
    TransformBase,
    VideoSource,
    open_reader,
    read_sampled,
    resolve_protocol,
    typed_failures,
)
from slowfast_zoo.data.sampling import RandomSource, sample_frames
from slowfast_zoo.data.views import as_frames, assemble_views, dedupe
from slowfast_zoo.errors import UsageError, WrongTypeError
from slowfast_zoo.registry.records import KINETICS_MEAN, KINETICS_STD, PretrainedCfg

__all__ = ["TrainTransform", "train_transform"]


def _per_process_rng(seed: int | None) -> np.random.Generator:
    """A Generator private to this process (and DataLoader worker)."""
    info = torch.utils.data.get_worker_info()
    wid = info.id if info is not None else -1
    if seed is None:
        # torch seeds every DataLoader worker differently; mix in the pid for forked copies.
        return np.random.default_rng([torch.initial_seed() & 0xFFFFFFFFFFFF, os.getpid(), wid + 1])
    return np.random.default_rng([int(seed), wid + 1])


class TrainTransform(TransformBase):
    """MMAction2's training pipeline after decoding, for one video (docs/SPEC.md 4.7).

    ``SampleFrames(test_mode=False)`` (via :meth:`sample`) -> ``Resize((-1, resize_short_side))``
    (skipped when ``None``) -> ``RandomResizedCrop(area_range, aspect_ratio_range)`` ->
    ``Resize((crop_size, crop_size), keep_ratio=False)`` -> ``Flip(flip_ratio,
    flip_label_map)`` -> ``Normalize`` -> ``FormatShape('NCTHW')``: float32
    ``[num_clips, 3, clip_len, crop_size, crop_size]``.

    ``flip_label_map`` (``{label: label when flipped}``, Something-Something V1's
    direction-dependent classes) is applied by :meth:`read_labelled_views`, which the datasets
    use: a flipped clip then carries the mirrored label, as MMAction2's ``Flip`` does.

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
                 resize_short_side: int | None = 256, area_range: Sequence[float] = (0.08, 1.0),
                 aspect_ratio_range: Sequence[float] = (3 / 4, 4 / 3),
                 crop_size: int = 224, flip_ratio: float = 0.5,
                 mean: Sequence[float] = KINETICS_MEAN,
                 std: Sequence[float] = KINETICS_STD, rng: RandomArg = None,
                 flip_label_map: Mapping[int, int] | Sequence[tuple[int, int]] = (),
                 filename_tmpl: str = DEFAULT_FILENAME_TMPL) -> None:
        self.clip_len = int(clip_len)
        self.frame_interval = int(frame_interval)
        self.num_clips = int(num_clips)
        self.resize_short_side = None if resize_short_side is None else int(resize_short_side)
        pairs = flip_label_map.items() if isinstance(flip_label_map, Mapping) else flip_label_map
        self.flip_label_map: dict[int, int] = {int(a): int(b) for a, b in pairs}
        self.filename_tmpl = str(filename_tmpl)
        self.area_range = tuple(float(v) for v in area_range)
        self.aspect_ratio_range = tuple(float(v) for v in aspect_ratio_range)
        self.crop_size = int(crop_size)
        self.flip_ratio = float(flip_ratio)
        self.mean, self.std = check_mean_std(mean, std)
        if isinstance(rng, bool) or not (rng is None or isinstance(rng, numbers.Integral)
                                         or isinstance(rng, (np.random.Generator, np.random.RandomState))):
            raise WrongTypeError(f"rng must be None, an int seed, a numpy Generator or RandomState, got {type(rng).__name__}")
        self._rng_arg = rng
        self._rng: RandomSource | None = rng if isinstance(rng, (np.random.Generator, np.random.RandomState)) else None
        self._rng_key: tuple[int, int] | None = None

    def __repr__(self) -> str:
        resize = "" if self.resize_short_side is None else f"Resize((-1, {self.resize_short_side})) -> "
        swap = f", flip_label_map={self.flip_label_map}" if self.flip_label_map else ""
        return (f"TrainTransform(SampleFrames({self.clip_len}, {self.frame_interval}, {self.num_clips}) -> "
                f"{resize}RandomResizedCrop(area={self.area_range}, "
                f"aspect={tuple(round(v, 4) for v in self.aspect_ratio_range)}) -> "
                f"Resize(({self.crop_size}, {self.crop_size}), keep_ratio=False) -> "
                f"Flip({self.flip_ratio}{swap}) "
                f"-> Normalize(mean={self.mean}, std={self.std}) -> FormatShape('NCTHW'))")

    @property
    def output_shape(self) -> tuple[int, int, int, int, int]:
        return (self.num_clips, 3, self.clip_len, self.crop_size, self.crop_size)

    @property
    def rng(self) -> RandomSource:
        """The random source in use in this process."""
        if isinstance(self._rng_arg, (np.random.Generator, np.random.RandomState)):
            return self._rng_arg
        info = torch.utils.data.get_worker_info()
        key = (os.getpid(), info.id if info is not None else -1)
        if self._rng is None or self._rng_key != key:
            self._rng = _per_process_rng(self._rng_arg)
            self._rng_key = key
        return self._rng

    def sample(self, num_frames: int, start_index: int = 0,
               rng: RandomSource | None = None) -> np.ndarray:
        """Random (train-mode) frame indices, drawn from ``rng`` or the transform's source."""
        return sample_frames(num_frames, self.clip_len, self.frame_interval, self.num_clips,
                             test_mode=False, start_index=start_index,
                             rng=self.rng if rng is None else rng)

    def __call__(self, frames: torch.Tensor | np.ndarray,
                 indices: Sequence[int] | np.ndarray | torch.Tensor | None = None, *,
                 rng: RandomSource | None = None, out: torch.Tensor | None = None) -> torch.Tensor:
        """One random training sample from the sampled frames (see the class docstring).

        Args:
            frames: uint8 ``[num_clips * clip_len, H, W, 3]`` in sampling order.
            indices: optional sampled indices; repeated frames are resized once.
            rng: override of the transform's random source for this call.
        """
        frames = as_frames(frames)
        unique, inverse = dedupe(frames, indices, self.frames_per_video)
        return self.apply_unique(unique, inverse, rng=rng, out=out)

    def _resized_hw(self, hw: Sequence[int]) -> tuple[int, int]:
        if self.resize_short_side is None:
            return (int(hw[0]), int(hw[1]))
        return T.rescale_size(hw, self.resize_short_side)

    def crop_box(self, hw: Sequence[int], rng: RandomSource | None = None) -> tuple[int, int, int, int]:
        """Draw the RandomResizedCrop box on the resized frame for frames of size ``hw``."""
        new_hw = self._resized_hw(hw)
        return T.random_resized_crop_box(new_hw, area_range=self.area_range,
                                         aspect_ratio_range=self.aspect_ratio_range,
                                         rng=self.rng if rng is None else rng)

    def apply_unique(self, unique: torch.Tensor, inverse: torch.Tensor, *, rng: RandomSource | None = None,
                     out: torch.Tensor | None = None) -> torch.Tensor:
        """Like ``__call__`` on ``unique[inverse]`` without materialising the repeats."""
        return self._apply(unique, inverse, rng=rng, out=out)[0]

    def read_views(self, reader: FrameReader, indices: Sequence[int] | np.ndarray, *,
                   rng: RandomSource | None = None) -> torch.Tensor:
        """One random training sample from the frames ``indices`` of ``reader`` (each decoded once)."""
        with typed_failures(reader):
            frames, inverse = self.read_frames(reader, indices)
            return self.apply_unique(frames, inverse, rng=rng)

    def flip_label(self, label: int) -> int:
        """The label of a horizontally flipped clip of class ``label`` (``flip_label_map``)."""
        return self.flip_label_map.get(int(label), int(label))

    def read_labelled_views(self, reader: FrameReader, indices: Sequence[int] | np.ndarray,
                            label: int, *, rng: RandomSource | None = None) -> tuple[torch.Tensor, int]:
        """:meth:`read_views` plus the clip's label, mirrored by ``flip_label_map`` when flipped.

        Example:
            >>> tf = train_transform("slowfast_r50_16x8x1.sthv1")
            >>> tf.flip_label(2), tf.flip_label(3)
            (4, 3)
        """
        with typed_failures(reader):
            frames, inverse = self.read_frames(reader, indices)
            views, flipped = self._apply(frames, inverse, rng=rng)
        return views, self.flip_label(label) if flipped else int(label)

    def _apply(self, unique: torch.Tensor, inverse: torch.Tensor, *, rng: RandomSource | None = None,
               out: torch.Tensor | None = None) -> tuple[torch.Tensor, bool]:
        rng = self.rng if rng is None else rng
        unique = as_frames(unique)
        inverse = torch.as_tensor(inverse, dtype=torch.int64).reshape(-1)
        if inverse.numel() != self.frames_per_video:
            raise UsageError(f"inverse must have {self.frames_per_video} entries, got {inverse.numel()}")
        _, H, W, _ = unique.shape
        new_hw = self._resized_hw((H, W))
        box = self.crop_box((H, W), rng)
        # Resize((-1, 256)) computed only inside the crop box, then Resize((S, S)).
        if self.resize_short_side is None:
            left, top, right, bottom = box
            cropped = unique[:, top:bottom, left:right]
        else:
            cropped = T.resize(unique, new_hw, box=box)
        S = self.crop_size
        frames = T.resize(cropped, (S, S))
        draw = rng.random() if isinstance(rng, np.random.Generator) else rng.rand()
        flipped = bool(draw < self.flip_ratio)
        if flipped:
            frames = frames.flip(2)
        L, K = self.clip_len, self.num_clips
        whole = (0, 0, S, S)
        views = assemble_views([frames], [(whole, [0])], [whole], inverse.view(K, L), range(K), self.mean,
                               self.std, out=out)
        return views, flipped

    def load(self, source: VideoSource, *, start_index: int | None = None,
             rng: RandomSource | None = None) -> torch.Tensor:
        """Sample (randomly), decode and transform one video (see ``TestTransform.load``)."""
        rng = self.rng if rng is None else rng
        reader, first = open_reader(source, filename_tmpl=self.filename_tmpl)
        start = first if start_index is None else start_index
        return read_sampled(lambda n: self.sample(n, start, rng=rng),
                            lambda idx: self.read_views(reader, idx, rng=rng), reader)


def train_transform(name_or_cfg: Any, *, flip: bool = True, rng: RandomArg = None) -> TrainTransform:
    """The training preprocessing of a weight (docs/SPEC.md 4.7), ``[1, 3, 32, 224, 224]`` per video.

    Something-Something V1 (``slowfast_r50_16x8x1.sthv1``): 64 frames, no short-side resize
    before the crop, and flipped clips swap the direction-dependent labels (applied by the
    datasets through :meth:`TrainTransform.read_labelled_views`).

    Args:
        name_or_cfg: a model name, a ``PretrainedCfg`` or a ``TrainProtocol``.
        flip: apply the random horizontal flip (``flip_ratio`` of the protocol, 0.5).
        rng: random source, see :class:`TrainTransform`.
    """
    cfg, mean, std = resolve_protocol(name_or_cfg)
    p = getattr(cfg, "train", cfg)
    tmpl = cfg.test.filename_tmpl if isinstance(cfg, PretrainedCfg) else DEFAULT_FILENAME_TMPL
    return TrainTransform(clip_len=p.clip_len, frame_interval=p.frame_interval, num_clips=p.num_clips,
                          resize_short_side=p.resize_short_side, area_range=p.area_range,
                          aspect_ratio_range=p.aspect_ratio_range, crop_size=p.crop_size,
                          flip_ratio=p.flip_ratio if flip else 0.0, mean=mean, std=std, rng=rng,
                          flip_label_map=p.flip_label_map, filename_tmpl=tmpl)
