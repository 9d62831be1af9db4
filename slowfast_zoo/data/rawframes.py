"""Rawframe folders as MMAction2 stores them: one image per frame, ``img_00001.jpg``...

Reproduces MMAction2's ``RawFrameDecode`` (OpenMMLab, Apache-2.0; docs/SPEC.md section 4.3): for each
frame index read ``frame_dir / filename_tmpl.format(index)`` and decode it to RGB uint8. MMAction2
decodes with OpenCV; we decode with ``torchvision.io.decode_image`` (libjpeg-turbo / libpng), so
PNG frames are bit-exact and JPEG frames can differ from OpenCV's libjpeg build by the IDCT's
rounding (a few units at most on some pixels). Each distinct index is decoded once (MMAction2
decodes duplicates again, with the same result).

Indices are **file numbers** as MMAction2 uses them, i.e. the sampled indices with
``start_index`` already added: with ``start_index=1`` the first frame is ``read([1])``.

Hostile folders get the guarantees of videos (:mod:`slowfast_zoo.data.decode`): a frame must be
a regular file (a symlink to one is fine; a FIFO, a device or a link to one is refused without
reading, and the file is opened non-blocking, so a FIFO swapped in after the check cannot hang the
reader); at most :data:`MAX_FRAME_FILE_BYTES` are read from it, never "until EOF"; its JPEG or PNG
header (:mod:`slowfast_zoo.data.image_header`) must claim 1 to
:data:`~slowfast_zoo.data.decode.MAX_FRAME_PIXELS` pixels before any decoder sees it; a folder
holds at most :data:`MAX_RAWFRAMES` frames. Every failure is a :class:`VideoDecodeError` naming
the frame file and what was found.

Example:
    >>> reader = RawframeReader("rawframes/abseiling/0347ZoDXyP0_000095_000105")  # doctest: +SKIP
    >>> reader.num_frames, reader.size  # doctest: +SKIP
    (300, (256, 340))
    >>> reader.read([1, 3, 3]).shape  # doctest: +SKIP
    torch.Size([3, 256, 340, 3])
"""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from slowfast_zoo._io import file_problem
from slowfast_zoo.data.decode import MAX_FRAME_PIXELS
from slowfast_zoo.data.image_header import image_size
from slowfast_zoo.errors import FrameIndexError, UsageError, VideoDecodeError

__all__ = ["RawframeReader", "read_frame_file", "MAX_RAWFRAMES", "MAX_FRAME_FILE_BYTES"]

#: Most frames a rawframe folder may hold (counted or given): about 9 hours at 30 fps. Bounds
#: the count, which probes one file name per frame.
MAX_RAWFRAMES = 1_000_000
#: Largest frame file read, in bytes: an 8K frame (:data:`~slowfast_zoo.data.decode.MAX_FRAME_PIXELS`)
#: stored uncompressed at 8 bytes per pixel (16-bit RGBA, the widest PNG pixel), plus 1 MiB of
#: chunks/segments around it. No JPEG or PNG within the pixel cap needs more.
MAX_FRAME_FILE_BYTES = MAX_FRAME_PIXELS * 8 + (1 << 20)
# Frame files are opened read-only with these (those the platform has): see read_frame_file.
_OPEN_FLAGS = os.O_RDONLY
for _flag in ("O_NONBLOCK", "O_NOCTTY", "O_CLOEXEC", "O_BINARY"):
    _OPEN_FLAGS |= getattr(os, _flag, 0)
del _flag
_FILE_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def _not_regular(mode: int) -> str:
    """What a non-regular file is, for messages (``"a FIFO"``...)."""
    return next((what for test, what in _FILE_KINDS if test(mode)), "another kind of file")


def read_frame_file(path: Path) -> bytes:
    """The bytes of one frame file: a regular file (symlinks followed) of at most
    :data:`MAX_FRAME_FILE_BYTES`, read without ever blocking on or draining a non-file.

    Raises:
        VideoDecodeError: naming ``path``: missing, not a regular file (saying what it is),
            empty, too big or unreadable.

    Example:
        >>> read_frame_file(Path(__file__).parent)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.VideoDecodeError: ...data: is a directory; expected a frame image file
    """
    st, problem = file_problem(path)  # stat first: a device is never even opened
    if st is None:
        if problem == "not a regular file":
            try:
                problem += f" ({_not_regular(os.stat(path).st_mode)})"
            except OSError:  # removed since: the plain wording is still true
                pass
        raise VideoDecodeError(f"{path}: {problem}; expected a frame image file")
    try:
        # O_NONBLOCK: a FIFO swapped in after the stat opens at once instead of waiting for a
        # writer; fstat then tells what was really opened. (POSIX flags; Windows has no FIFOs
        # and needs O_BINARY.)
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise VideoDecodeError(f"{path}: cannot open frame file ({exc.strerror or exc})") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise VideoDecodeError(f"{path}: not a regular file ({_not_regular(st.st_mode)}); "
                                   f"expected a frame image file")
        if st.st_size > MAX_FRAME_FILE_BYTES:
            raise VideoDecodeError(f"{path}: frame file of {st.st_size} bytes is larger than any 8K "
                                   f"JPEG or PNG frame (at most {MAX_FRAME_FILE_BYTES} bytes are read)")
        chunks, left = [], st.st_size
        # At most the size fstat gave: a file growing while it is read adds nothing.
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 24))
            if not chunk:
                break  # shrunk while read: the header check or the decoder reports it
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise VideoDecodeError(f"{path}: cannot read frame file ({exc.strerror or exc})") from exc
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if not data:
        raise VideoDecodeError(f"{path}: empty frame file")
    return data


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
        VideoDecodeError: ``frame_dir`` is missing or not a folder, ``num_frames`` is outside
            ``[1, MAX_RAWFRAMES]``, or (when counting) the folder holds no frame file with the
            first number or more than :data:`MAX_RAWFRAMES`.
        UsageError: ``filename_tmpl`` cannot format a frame number.
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
        try:
            filename_tmpl.format(self.start_index)
        except (ValueError, IndexError, KeyError, TypeError) as exc:
            raise UsageError(f"filename_tmpl {filename_tmpl!r} cannot format a frame number "
                             f"({type(exc).__name__}: {exc}); expected e.g. 'img_{{:05d}}.jpg'") from exc
        if not self.path.is_dir():
            what = "no such folder" if not self.path.exists() else "not a folder"
            raise VideoDecodeError(f"{self.path}: {what} (rawframe directory)")
        if num_frames is None:
            num_frames = self._count()
        if not 0 < num_frames <= MAX_RAWFRAMES:
            raise VideoDecodeError(f"{self.path}: num_frames must be in [1, {MAX_RAWFRAMES}], got {num_frames}")
        self.num_frames = int(num_frames)
        self._size: tuple[int, int] | None = None

    def _count(self) -> int:
        """Frame files ``start_index, start_index + 1, ...`` present, up to the first gap."""
        # One lexists per frame, stopping after MAX_RAWFRAMES + 1: bounded whatever else the
        # folder holds (listing it would cost memory for every unrelated entry).
        count = 0
        while count <= MAX_RAWFRAMES and os.path.lexists(self.frame_path(self.start_index + count)):
            count += 1
        if count == 0:
            raise VideoDecodeError(f"{self.frame_path(self.start_index)}: no such frame file "
                                   f"(empty rawframe directory?)")
        if count > MAX_RAWFRAMES:
            raise VideoDecodeError(f"{self.path}: more than {MAX_RAWFRAMES} frame files "
                                   f"({self.filename_tmpl}); at most {MAX_RAWFRAMES} are read")
        return count

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
        data = read_frame_file(path)
        kind, width, height = image_size(data, str(path))
        # Before any decoder sees the bytes: it would allocate whatever the header claims.
        if width < 1 or height < 1 or width * height > MAX_FRAME_PIXELS:
            raise VideoDecodeError(f"{path}: {kind} frame size {width}x{height} is outside what is read "
                                   f"(1 to {MAX_FRAME_PIXELS} pixels, 8K UHD)")
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
        except (RuntimeError, ValueError, MemoryError) as exc:
            text = " ".join(str(exc).split())[:300]
            raise VideoDecodeError(f"{path}: cannot decode frame image ({type(exc).__name__}: {text})") from exc
        if chw.dtype == torch.uint16:
            # A 16-bit PNG: its high byte, as libpng's png_set_strip_16 reduces it to 8 bits
            # (the uint8 output would otherwise keep the low byte).
            chw = torch.from_numpy((chw.numpy() >> 8).astype(np.uint8))  # torch has no uint16 shift
        if chw.dtype != torch.uint8 or tuple(chw.shape) != (3, height, width):
            raise VideoDecodeError(f"{path}: decoded to {chw.dtype} {tuple(chw.shape)}, expected uint8 "
                                   f"(3, {height}, {width}) from its {kind} header")
        return chw.permute(1, 2, 0)

    def read(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """Decode frames by file number (``start_index`` included), any order, repeats allowed.

        Returns:
            uint8 tensor ``[len(indices), H, W, 3]``, RGB, in the order of ``indices``.

        Raises:
            FrameIndexError: an index outside ``[start_index, start_index + num_frames)``.
            VideoDecodeError: a frame file is missing, not a regular file, unreadable, larger
                than :data:`MAX_FRAME_FILE_BYTES`, not a JPEG or PNG, claims more than
                :data:`~slowfast_zoo.data.decode.MAX_FRAME_PIXELS` pixels, does not decode, or is
                of another size than the first frame. The message names the file.
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
