"""What every transform reads from: frame readers, ``open_reader`` and the shared transform base.

Kept apart from :mod:`.presets` (test transforms) and :mod:`.train_presets` (train transforms) so
that both build on it without importing each other.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any, Protocol, Sequence, cast

import numpy as np
import torch

from slowfast_zoo.data.decode import VideoReader
from slowfast_zoo.data.rawframes import RawframeReader
from slowfast_zoo.data.sampling import RandomSource
from slowfast_zoo.errors import UsageError, VideoDecodeError
from slowfast_zoo.registry import get_pretrained_cfg
from slowfast_zoo.registry.records import KINETICS_MEAN, KINETICS_STD, PretrainedCfg

__all__ = ["FrameReader", "VideoSource", "RandomArg", "open_reader", "TransformBase", "resolve_protocol",
           "DEFAULT_FILENAME_TMPL", "READ_CHUNK_BYTES", "typed_failures", "check_mean_std",
           "read_sampled"]


def resolve_protocol(name_or_cfg: Any) -> tuple[Any, tuple, tuple]:
    """``(protocol record, mean, std)`` from a model name, a PretrainedCfg or a protocol."""
    if isinstance(name_or_cfg, str):
        name_or_cfg = get_pretrained_cfg(name_or_cfg)
    if isinstance(name_or_cfg, PretrainedCfg):
        return name_or_cfg, tuple(name_or_cfg.mean), tuple(name_or_cfg.std)
    return name_or_cfg, KINETICS_MEAN, KINETICS_STD


class FrameReader(Protocol):
    """What the transforms read frames from: :class:`~slowfast_zoo.data.VideoReader`,
    :class:`~slowfast_zoo.data.RawframeReader`, or anything with ``num_frames`` and ``read``."""

    @property
    def num_frames(self) -> int: ...

    def read(self, indices: Sequence[int] | np.ndarray) -> torch.Tensor: ...


#: A video file, a rawframe folder, or an open reader.
VideoSource = str | os.PathLike | FrameReader
#: What a train transform draws from: a numpy random source, an int seed, or None.
RandomArg = RandomSource | int | None


#: MMAction2's rawframe file names (Something-Something V1 uses ``"{:05}.jpg"``).
DEFAULT_FILENAME_TMPL = "img_{:05d}.jpg"


def open_reader(source: VideoSource, *, filename_tmpl: str = DEFAULT_FILENAME_TMPL) -> tuple[FrameReader, int]:
    """``(reader, first frame number)`` for a reader, a video file or a rawframe folder.

    A folder's frames are ``filename_tmpl.format(i)`` from 1, counted from the folder (the
    weight's own template: ``"{:05}.jpg"`` for Something-Something V1).
    """
    if hasattr(source, "read") and hasattr(source, "num_frames"):
        return cast(FrameReader, source), int(getattr(source, "start_index", 0))
    if os.path.isdir(source):
        reader = RawframeReader(source, filename_tmpl)
        return reader, reader.start_index
    return VideoReader(source), 0


#: Decoded RGB bytes held at once while a test transform reads one video's frames.
READ_CHUNK_BYTES = 256 << 20


@contextlib.contextmanager
def typed_failures(reader: object) -> Iterator[None]:
    """Turn an allocation failure while reading one video into :class:`VideoDecodeError`.

    ``MemoryError``, or torch's ``RuntimeError`` for a failed allocation, is a property of that
    video (its frame size) for the caller: datasets skip it and report the file.
    """
    try:
        yield
    except MemoryError as exc:
        raise VideoDecodeError(f"{_shown(reader)}: out of memory while reading the video ({exc})") from exc
    except RuntimeError as exc:
        text = str(exc)
        if "alloc" in text.lower() or "out of memory" in text.lower():
            raise VideoDecodeError(f"{_shown(reader)}: memory allocation failed while reading the "
                                   f"video ({' '.join(text.split())[:200]})") from exc
        raise


def read_sampled(sample: Callable[[int], np.ndarray], read: Callable[[np.ndarray], Any],
                 reader: FrameReader) -> Any:
    """``read(sample(reader.num_frames))``, sampling once more if reading corrected the count.

    A container may list more frames than decode (a damaged file): the reader then raises
    :class:`VideoDecodeError` and lowers its ``num_frames``; the clips are placed again on the
    frames that do decode, as they would have been with the right count from the start.
    """
    n = reader.num_frames
    try:
        return read(sample(n))
    except VideoDecodeError:
        if reader.num_frames == n:
            raise
        return read(sample(reader.num_frames))


def check_mean_std(mean: Sequence[float], std: Sequence[float]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(mean, std)`` as float tuples: 3 finite values each, std > 0 (else NaN/inf views)."""
    m, s = tuple(float(v) for v in mean), tuple(float(v) for v in std)
    if len(m) != 3 or len(s) != 3 or not all(np.isfinite(m + s)) or min(s) <= 0:
        raise UsageError(f"mean and std must be 3 finite numbers each, std > 0; got mean={m}, std={s}")
    return m, s


def _shown(reader: object) -> str:
    return str(getattr(reader, "_shown", None) or getattr(reader, "path", None) or reader)


class TransformBase:
    """What the test and train transforms share: the frame count and decoding each distinct frame once."""

    clip_len: int
    frame_interval: int
    num_clips: int
    mean: tuple
    std: tuple
    filename_tmpl: str = DEFAULT_FILENAME_TMPL

    @property
    def frames_per_video(self) -> int:
        """Frames a transform call takes: ``num_clips * clip_len``."""
        return self.num_clips * self.clip_len

    @staticmethod
    def read_frames(reader: FrameReader, indices: Sequence[int] | np.ndarray
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode each distinct frame of ``indices`` once: ``(frames [U, H, W, 3], inverse)``.

        ``frames[inverse[k]]`` is the frame of ``indices[k]``; the transform's ``apply_unique``
        takes both.
        """
        unique, inverse = np.unique(np.asarray(indices, dtype=np.int64).reshape(-1), return_inverse=True)
        return reader.read(unique), torch.from_numpy(inverse.reshape(-1))
