"""AVA keyframes read from the 15-minute videos instead of their rawframes.

MMAction2 tests AVA on rawframes: ``<root>/<video_id>/img_00001.jpg`` ... extracted at 30 fps from
AVA's 15-minute cuts (second 900 of each movie is the cut's first frame; MMAction2's
``tools/data/ava`` scripts). :class:`AvaVideoDataset` reads the same frames from the cuts
themselves, ``<root>/<video_id>.<ext>``: rawframe file number ``n`` is the video's frame ``n - 1``
(decode order, 0-based), the frame an extraction numbered from 1 would have written. A video whose
frame rate is not the protocol's (30) is read as if it had been extracted at that rate: frame
``round((n - 1) * video_fps / fps)``. Frame numbers past the video's end are clamped to its last
frame (MMAction2's ``total_frames`` rule); everything else (keyframes, proposals, clip sampling,
resize, boxes) is :class:`~slowfast_zoo.data.ava.AvaDataset`'s.

Example:
    >>> video_frames(np.array([60, 62, 64]), fps=30, video_fps=30, num_frames=27030).tolist()
    [59, 61, 63]
    >>> video_frames(np.array([1, 31, 27031]), fps=30, video_fps=25, num_frames=22525).tolist()
    [0, 25, 22524]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from slowfast_zoo.data.ava import AvaDataset
from slowfast_zoo.data.datasets import VIDEO_EXTENSIONS
from slowfast_zoo.data.decode import VideoReader
from slowfast_zoo.errors import VideoDecodeError

__all__ = ["AvaVideoDataset", "video_frames"]


def video_frames(numbers: np.ndarray, *, fps: float, video_fps: float, num_frames: int) -> np.ndarray:
    """0-based video frames of rawframe file numbers (see the module docstring).

    ``video_fps`` 0 (unknown) or equal to ``fps``: frame ``n - 1``.
    """
    n = np.asarray(numbers, dtype=np.int64) - 1
    if video_fps and abs(float(video_fps) - float(fps)) > 1e-6:
        n = np.floor(n * (float(video_fps) / float(fps)) + 0.5).astype(np.int64)
    return np.clip(n, 0, max(int(num_frames) - 1, 0))


class AvaVideoDataset(AvaDataset):
    """:class:`~slowfast_zoo.data.ava.AvaDataset` over ``<videos_root>/<video_id>.<ext>`` files.

    Takes :class:`~slowfast_zoo.data.ava.AvaDataset`'s arguments, ``videos_root`` in place of its
    ``frames_root`` (``filename_tmpl`` is unused). A video is found by its id and any extension of
    :data:`~slowfast_zoo.data.VIDEO_EXTENSIONS`; each worker keeps the last video it opened.

    Raises:
        InputFileError, AnnotationError: from the annotation, proposal and exclusion files.
    """

    def __init__(self, ann_file: str | os.PathLike[str], videos_root: str | os.PathLike[str],
                 proposals: Any, **kwargs: Any) -> None:
        super().__init__(ann_file, videos_root, proposals, **kwargs)
        self.fps = float(kwargs.get("fps", 30))
        wanted = {kf.video_id for kf in self.keyframes}
        self.videos: dict[str, Path] = {}
        root = Path(videos_root)
        if root.is_dir():
            for entry in sorted(root.iterdir()):
                if entry.stem in wanted and entry.suffix.lower() in VIDEO_EXTENSIONS:
                    self.videos.setdefault(entry.stem, entry)
        self._open: tuple[str, VideoReader] | None = None

    def resolve(self, index: int) -> str:
        """The video file of keyframe ``index`` (or where it was looked for)."""
        video_id = self.keyframes[index].video_id
        return os.fspath(self.videos.get(video_id, self.frames_root / f"{video_id}.*"))

    def _reader(self, video_id: str) -> VideoReader:
        if self._open is None or self._open[0] != video_id:
            path = self.videos.get(video_id)
            if path is None:
                raise VideoDecodeError(f"{self.frames_root}: no video of {video_id!r} "
                                       f"({video_id}.mp4, .mkv, ...)")
            self._open = (video_id, VideoReader(path))
        return self._open[1]

    def read_frames(self, index: int) -> tuple[np.ndarray, torch.Tensor]:
        """``(rawframe numbers, uint8 [clip_len, h, w, 3] RGB frames)`` of keyframe ``index``.

        Raises:
            VideoDecodeError: the video is missing or does not decode.
        """
        inds = self.frame_inds(index)
        reader = self._reader(self.keyframes[index].video_id)
        frames = video_frames(inds, fps=self.fps, video_fps=reader.fps, num_frames=reader.num_frames)
        return inds, reader.read(frames)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_open"] = None  # a DataLoader worker opens its own
        return state
