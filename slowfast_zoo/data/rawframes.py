"""Rawframe folders as MMAction2 stores them: one image per frame, ``img_00001.jpg``...

Reproduces MMAction2's ``RawFrameDecode`` (OpenMMLab, Apache-2.0; docs/SPEC.md section 4.3): for each
frame index read ``frame_dir / filename_tmpl.format(index)`` and decode it to RGB uint8. MMAction2
decodes with OpenCV; we decode with ``torchvision.io.decode_image`` (libjpeg-turbo / libpng), so
PNG frames are bit-exact and JPEG frames can differ from OpenCV's libjpeg build by the IDCT's
rounding (a few units at most on some pixels). Each distinct index is decoded once (MMAction2
decodes duplicates again, with the same result).

Indices are **file numbers** as MMAction2 uses them, i.e. the sampled indices with
``start_index`` already added: with ``start_index=1`` the first frame is ``read([1])``.

Example:
    >>> reader = RawframeReader("rawframes/abseiling/0347ZoDXyP0_000095_000105")  # doctest: +SKIP
    >>> reader.num_frames, reader.size  # doctest: +SKIP
    (300, (256, 340))
    >>> reader.read([1, 3, 3]).shape  # doctest: +SKIP
    torch.Size([3, 256, 340, 3])
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from slowfast_zoo.errors import FrameIndexError
from slowfast_zoo.errors import VideoDecodeError

__all__ = ["RawframeReader"]


class RawframeReader:
    """Frames of a rawframe folder with the :class:`~slowfast_zoo.data.decode.VideoReader` interface.

    Args:
        frame_dir: folder holding the frame images.
        filename_tmpl: file name of frame ``i`` is ``filename_tmpl.format(i)``
            (MMAction2's default ``"img_{:05d}.jpg"``; ``.png`` works the same).
        start_index: number of the first frame file (MMAction2: 1 for rawframes).
        num_frames: total frames, as given by the annotation file; ``None`` counts the files
            ``start_index, start_index + 1, ...`` present in the folder (stops at the first gap).

    Raises:
        VideoDecodeError: ``frame_dir`` is missing or not a folder, or (when counting) holds no
            frame file with the first number.
    """

    def __init__(
        self,
        frame_dir: str | os.PathLike[str],
        filename_tmpl: str = "img_{:05d}.jpg",
        start_index: int = 1,
        num_frames: int | None = None,
    ) -> None:
        self.path = Path(frame_dir)
        self.filename_tmpl = filename_tmpl
        self.start_index = int(start_index)
        if not self.path.is_dir():
            what = "no such folder" if not self.path.exists() else "not a folder"
            raise VideoDecodeError(f"{self.path}: {what} (rawframe directory)")
        if num_frames is None:
            names = set(os.listdir(self.path))
            count = 0
            # Bounded by the folder listing: at most len(names) iterations.
            while count < len(names) and filename_tmpl.format(self.start_index + count) in names:
                count += 1
            if count == 0:
                first = self.path / filename_tmpl.format(self.start_index)
                raise VideoDecodeError(f"{first}: no such frame file (empty rawframe directory?)")
            num_frames = count
        if num_frames <= 0:
            raise VideoDecodeError(f"{self.path}: num_frames must be positive, got {num_frames}")
        self.num_frames = int(num_frames)
        self._size: tuple[int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` of the first frame (decoded once, then memoised)."""
        if self._size is None:
            frame = self._decode(self.start_index)
            self._size = (int(frame.shape[0]), int(frame.shape[1]))
        return self._size

    def frame_path(self, index: int) -> Path:
        """The file holding frame number ``index`` (``start_index`` included)."""
        return self.path / self.filename_tmpl.format(index)

    def _decode(self, index: int) -> torch.Tensor:
        path = self.frame_path(index)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise VideoDecodeError(f"{path}: cannot read frame file ({exc.strerror or exc})") from exc
        if not data:
            raise VideoDecodeError(f"{path}: empty frame file")
        # Imported here: torchvision adds ~170 MB of RSS to every process (measured), and only
        # rawframe folders need its image decoders.
        from torchvision.io import ImageReadMode, decode_image

        try:
            with warnings.catch_warnings():
                # torchvision 0.29 deprecates its image codecs in favour of TorchCodec; they
                # still work and are what the issue asks for: keep users' logs clean.
                warnings.simplefilter("ignore", DeprecationWarning)
                # bytes -> uint8 tensor (one copy via bytearray); decode_image picks JPEG/PNG/...
                chw = decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
        except (RuntimeError, ValueError) as exc:
            raise VideoDecodeError(f"{path}: cannot decode frame image ({exc})") from exc
        return chw.permute(1, 2, 0)

    def read(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """Decode frames by file number (``start_index`` included), any order, repeats allowed.

        Returns:
            uint8 tensor ``[len(indices), H, W, 3]``, RGB, in the order of ``indices``.

        Raises:
            FrameIndexError: an index outside ``[start_index, start_index + num_frames)``.
            VideoDecodeError: a frame file is missing, unreadable, not an image, or of another
                size than the first frame. The message names the file.
        """
        idx = np.asarray(indices.tolist() if isinstance(indices, torch.Tensor) else indices, dtype=np.int64)
        idx = idx.reshape(-1)
        lo, hi = self.start_index, self.start_index + self.num_frames
        bad = idx[(idx < lo) | (idx >= hi)]
        if bad.size:
            raise FrameIndexError(
                f"{self.path}: frame number {int(bad[0])} out of range [{lo}, {hi - 1}] "
                f"(indices are file numbers, start_index={self.start_index} included)")
        height, width = self.size
        if idx.size == 0:
            return torch.empty((0, height, width, 3), dtype=torch.uint8)
        unique, inverse = np.unique(idx, return_inverse=True)
        out = np.empty((len(unique), height, width, 3), dtype=np.uint8)
        for j, index in enumerate(unique.tolist()):
            frame = self._decode(index)
            if tuple(frame.shape[:2]) != (height, width):
                raise VideoDecodeError(
                    f"{self.frame_path(index)}: frame size {tuple(frame.shape[:2])} differs from "
                    f"the first frame's {(height, width)}")
            out[j] = frame.numpy()
        if len(unique) == len(idx) and np.array_equal(unique, idx):
            return torch.from_numpy(out)
        return torch.from_numpy(np.take(out, inverse.reshape(-1), axis=0))
