# AVA keyframe clips: sampling, the test transform with its box rescaling, the dataset.
#
# Reproduces MMAction2's AVA test pipeline ``SampleAVAFrames(clip_len, frame_interval,
# test_mode=True) -> RawFrameDecode -> Resize((-1, 256)) -> FormatShape('NCTHW', collapse=True)
# -> PackActionInputs`` over its ``AVADataset`` (``mmaction/datasets/transforms/loading.py``,
# ``processing.py``, ``formatting.py``, ``mmaction/datasets/ava_dataset.py``; OpenMMLab,
# Apache-2.0, https://github.com/open-mmlab/mmaction2, v1.2.0). An independent
# re-implementation; no MMAction2 code is copied. The files it reads: :mod:`.ava_boxes`.
"""AVA keyframes: which frames a keyframe's clip holds, its boxes in pixels, and the dataset.

* :func:`sample_ava_frames` -- MMAction2's ``SampleAVAFrames`` in test mode (the clip centred
  on the keyframe).
* :func:`resize_geometry`, :func:`boxes_to_pixels`, :func:`rescale_boxes`,
  :func:`scale_keyframe_boxes` -- ``RawFrameDecode`` + ``Resize((-1, short_side))`` on boxes,
  in MMAction2's float32 arithmetic.
* :class:`KeyframeSample` -- one keyframe ready for a detector (frames, proposals and ground
  truth, normalized and in pixels), made by :func:`build_keyframe_sample` from decoded frames
  (what a ``detect(video)`` call has) or by :class:`AvaDataset` from rawframe folders (what an
  evaluation has).
* :class:`KeyframeClip` -- the same test transform around any keyframe of any decoded video, for
  ``detect(video)`` (:func:`keyframe_clip`; person boxes come later, in full-frame pixels).

Example:
    >>> sample_ava_frames(902, fps=30, timestamp_start=900, clip_len=4, frame_interval=16,
    ...                   start_index=1, shot_info=(0, 27000)).tolist()
    [30, 46, 62, 78]
    >>> resize_geometry((36, 48))
    ((256, 341), array([7.1041665, 7.111111 ], dtype=float32))
"""

from __future__ import annotations

import functools
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from slowfast_zoo.data.ava_boxes import GroundTruth, img_key, keyframe_proposals, read_ava_annotations, read_proposals
from slowfast_zoo.data.ava_files import read_ava_exclusions
from slowfast_zoo.data.bilinear import resize
from slowfast_zoo.data.rawframes import RawframeReader
from slowfast_zoo.data.reading import FrameReader
from slowfast_zoo.data.transforms import rescale_size
from slowfast_zoo.errors import UsageError, WrongTypeError
from slowfast_zoo.registry.records import KINETICS_MEAN, KINETICS_STD, DetectionProtocol

__all__ = ["sample_ava_frames", "resize_geometry", "boxes_to_pixels", "rescale_boxes",
           "scale_keyframe_boxes", "ScaledBoxes", "KeyframeSample", "AvaKeyframe",
           "build_keyframe_sample", "KeyframeClip", "keyframe_clip", "AvaDataset", "collate_keyframes",
           "MAX_CLIP_LEN"]

#: Longest clip :func:`sample_ava_frames` makes (AVA models take 32 or 64 frames).
MAX_CLIP_LEN = 4096


def _integral(name: str, value: object) -> int:
    """``value`` as an int: ints, numpy ints and integral floats (``fps=30.0``); bools refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise WrongTypeError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    as_float = float(value)
    if not as_float.is_integer():  # also NaN and infinities
        raise UsageError(f"{name} must be a whole number, got {value!r}")
    return int(as_float)


def sample_ava_frames(timestamp: int, *, fps: float, timestamp_start: int, clip_len: int,
                      frame_interval: int, start_index: int = 0,
                      shot_info: Sequence[float] | None = None, total_frames: int | None = None,
                      timestamp_end: int = 1800) -> np.ndarray:
    """Frame numbers of a keyframe's clip: MMAction2's ``SampleAVAFrames(..., test_mode=True)``.

    MMAction2's arithmetic, with ``start_index`` entering **twice** (a quirk kept on purpose:
    the published numbers were measured with it)::

        centre = fps * (timestamp - timestamp_start) + start_index
        inds   = centre - (clip_len // 2) * frame_interval + frame_interval * [0, 1, ..., clip_len - 1]
        inds   = clip(inds, lo, hi - 1) + start_index        # int32

    The shot ``(lo, hi)`` is ``(0, total_frames)`` when ``total_frames`` is given (it wins, as in
    MMAction2), else ``shot_info``. With neither, MMAction2's ``SampleAVAFrames`` alone would fail;
    we take what its ``AVADataset`` sets for rawframes, ``(0, (timestamp_end - timestamp_start) *
    fps)`` with AVADataset's default ``timestamp_end=1800`` (AVA's 15-minute segment: 27000
    frames at 30 fps). With AVA rawframes (``start_index=1``) the clip can thus reach frame
    number ``hi``, one past the shot.

    Args:
        timestamp: the keyframe's second (AVA) or frame (``fps=1``, MultiSports).
        fps: frames per timestamp unit; ``fps * (timestamp - timestamp_start)`` must be whole
            (MMAction2 builds the clip with ``range``).
        timestamp_start: the timestamp of frame ``start_index`` (AVA: 900).
        clip_len, frame_interval: frames in the clip and their spacing.
        start_index: the first frame's file number (AVA rawframes: 1).
        shot_info: ``(first, end)`` frames the clip is clamped to (end exclusive).
        total_frames: the video's frame count (videos); overrides ``shot_info``.
        timestamp_end: only when neither ``shot_info`` nor ``total_frames`` is given.

    Returns:
        int32 ``[clip_len]`` frame numbers (``start_index`` included), in clip order.

    Raises:
        WrongTypeError: a non-numeric argument.
        UsageError: a non-positive or too long clip, an empty shot, a non-whole centre.

    Example:
        >>> sample_ava_frames(1, fps=1, timestamp_start=1, clip_len=8, frame_interval=8,
        ...                   total_frames=37).tolist()
        [0, 0, 0, 0, 0, 8, 16, 24]
    """
    clip_len, frame_interval = _integral("clip_len", clip_len), _integral("frame_interval", frame_interval)
    if not 1 <= clip_len <= MAX_CLIP_LEN or frame_interval < 1:
        raise UsageError(f"clip_len must be in [1, {MAX_CLIP_LEN}] and frame_interval >= 1, got "
                         f"{clip_len} and {frame_interval}")
    start_index = _integral("start_index", start_index)
    offset = _integral("timestamp", timestamp) - _integral("timestamp_start", timestamp_start)
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not fps > 0:
        raise UsageError(f"fps must be a positive number, got {fps!r}")
    centre = _integral("fps * (timestamp - timestamp_start)", fps * offset) + start_index
    if total_frames is not None:
        lo, hi = 0, _integral("total_frames", total_frames)
    elif shot_info is not None:
        if len(shot_info) != 2:
            raise UsageError(f"shot_info must be (first, end), got {shot_info!r}")
        lo, hi = _integral("shot_info[0]", shot_info[0]), _integral("shot_info[1]", shot_info[1])
    else:  # what AVADataset sets for rawframes (use_frames=True)
        lo, hi = 0, _integral("(timestamp_end - timestamp_start) * fps",
                              (_integral("timestamp_end", timestamp_end) - int(timestamp_start)) * fps)
    if hi - 1 < lo:
        raise UsageError(f"the shot [{lo}, {hi}) holds no frame (total_frames / shot_info)")
    first = centre - (clip_len // 2) * frame_interval
    inds = np.arange(clip_len, dtype=np.int64) * frame_interval + first
    # MMAction2: np.clip, then np.int32, then + start_index again.
    return (np.clip(inds, lo, hi - 1).astype(np.int32) + np.int32(start_index)).astype(np.int32)


# ----------------------------------------------------------------------------- boxes
def resize_geometry(frame_hw: Sequence[int], short_side: int = 256) -> tuple[tuple[int, int], np.ndarray]:
    """``(img_shape, scale_factor)`` of MMAction2's ``Resize(scale=(-1, short_side))``.

    ``img_shape`` is ``(new_h, new_w)`` with mmcv's rounding (:func:`rescale_size`);
    ``scale_factor`` is float32 ``[new_w / w, new_h / h]`` (divided in float64, then cast).

    Example:
        >>> resize_geometry((240, 320))
        ((256, 341), array([1.065625 , 1.0666667], dtype=float32))
    """
    new_h, new_w = rescale_size(frame_hw, short_side)
    h, w = int(frame_hw[0]), int(frame_hw[1])
    return (new_h, new_w), np.array([new_w / w, new_h / h], dtype=np.float32)


def boxes_to_pixels(boxes: np.ndarray | Sequence[Sequence[float]], frame_hw: Sequence[int]) -> np.ndarray:
    """Normalized ``[n, 4]`` boxes -> float32 pixels of a ``frame_hw`` frame, as ``RawFrameDecode``.

    The product with the int64 ``[w, h, w, h]`` is taken in float64 (numpy's promotion of any
    float array with int64) and cast to float32 once.

    Example:
        >>> boxes_to_pixels([[0.1, 0.2, 0.3, 0.4]], (240, 320)).tolist()
        [[32.0, 48.0, 96.0, 96.0]]
    """
    h, w = int(frame_hw[0]), int(frame_hw[1])
    return (np.asarray(boxes) * np.array([w, h, w, h])).astype(np.float32)


def rescale_boxes(boxes: np.ndarray, scale_factor: np.ndarray) -> np.ndarray:
    """Pixel boxes times ``Resize``'s float32 ``[w ratio, h ratio]`` (``_box_resize``): float32
    for float32 boxes (what :func:`boxes_to_pixels` gives), as MMAction2 computes them.

    Example:
        >>> rescale_boxes(np.array([[0, 0, 320, 240]], np.float32), resize_geometry((240, 320))[1]).tolist()
        [[0.0, 0.0, 341.0, 256.0]]
    """
    sf = np.asarray(scale_factor)
    return np.asarray(boxes) * np.concatenate([sf, sf])


class ScaledBoxes(NamedTuple):
    """What ``RawFrameDecode`` + ``Resize`` make of a keyframe's boxes (see :func:`scale_keyframe_boxes`)."""

    img_shape: tuple[int, int]
    scale_factor: np.ndarray  # float32 [2]: (w ratio, h ratio)
    proposals: np.ndarray     # float32 pixels, or the input unchanged (MMAction2 quirk, no gt)
    gt_boxes: np.ndarray | None


def scale_keyframe_boxes(frame_hw: Sequence[int], proposals: np.ndarray | Sequence[Sequence[float]], *,
                         gt_boxes: np.ndarray | Sequence[Sequence[float]] | None = None,
                         short_side: int = 256, mmaction2_quirk: bool = False) -> ScaledBoxes:
    """A keyframe's normalized boxes in pixels of its resized frame (the AVA test transform).

    :func:`boxes_to_pixels` (``RawFrameDecode``) then :func:`rescale_boxes` (``Resize``), no crop.

    **MMAction2 quirk** (``mmaction2_quirk=True``): its ``RawFrameDecode`` and ``Resize`` scale the
    proposals only inside ``if 'gt_bboxes' in results``, so without ground truth the proposals
    stay normalized (and keep their dtype). That never changes a published number: ``AVADataset``
    always sets ``gt_bboxes``, and without them ``PackActionInputs`` does not pack the proposals
    at all, so MMAction2's detector (``FastRCNN``, no RPN) gets none and cannot run. The head's
    division of the output boxes by ``img_shape`` (``BBoxHeadAVA.predict_by_feat``) does **not**
    make the two equal: it assumes pixel boxes, and normalized ones would be pooled as a
    one-pixel RoI. So the default (``False``) scales the proposals to pixels whether or not
    ``gt_boxes`` is given; use the quirk only to reproduce MMAction2's intermediate results.

    Example:
        >>> s = scale_keyframe_boxes((240, 320), [[0.0, 0.0, 0.5, 1.0]])
        >>> s.img_shape, s.proposals.tolist()
        ((256, 341), [[0.0, 0.0, 170.5, 256.0]])
        >>> scale_keyframe_boxes((240, 320), [[0.0, 0.0, 0.5, 1.0]], mmaction2_quirk=True).proposals.tolist()
        [[0.0, 0.0, 0.5, 1.0]]
    """
    img_shape, sf = resize_geometry(frame_hw, short_side)
    gt = None if gt_boxes is None else rescale_boxes(boxes_to_pixels(gt_boxes, frame_hw), sf)
    if mmaction2_quirk and gt_boxes is None:
        return ScaledBoxes(img_shape, sf, np.asarray(proposals), None)
    return ScaledBoxes(img_shape, sf, rescale_boxes(boxes_to_pixels(proposals, frame_hw), sf), gt)


# ----------------------------------------------------------------------------- samples
@dataclass(frozen=True, eq=False)
class AvaKeyframe:
    """A keyframe to load: its id, its test-time proposals and its ground truth (if annotated).

    Attributes:
        video_id, timestamp: the keyframe (``img_key`` is ``f"{video_id},{timestamp:04d}"``).
        proposals: ``[k, 4]`` normalized person boxes (:func:`~.ava_boxes.keyframe_proposals`).
        proposal_scores: ``[k]`` their scores.
        gt: the annotated persons, or None.
    """

    video_id: str
    timestamp: int
    proposals: np.ndarray
    proposal_scores: np.ndarray
    gt: GroundTruth | None = None

    @property
    def img_key(self) -> str:
        """``f"{video_id},{timestamp:04d}"``."""
        return img_key(self.video_id, self.timestamp)


@dataclass(frozen=True, eq=False)
class KeyframeSample:
    """One keyframe ready for a detector, for evaluation and ``detect(video)`` alike.

    Attributes:
        keyframe: what was loaded (id, normalized proposals and scores, ground truth).
        frame_inds: int32 ``[clip_len]`` frame numbers of the clip.
        inputs: uint8 ``[3, clip_len, H, W]`` RGB clip resized to ``img_shape`` (MMAction2's packed
            ``NCTHW`` input, not normalized), on the device the frames were given on.
        original_shape: ``(h, w)`` of the decoded frames.
        img_shape: ``(H, W)`` after the resize.
        scale_factor: float32 ``[w ratio, h ratio]``.
        proposals_px: float32 ``[k, 4]`` proposals in pixels of ``img_shape`` (always pixels,
            unlike MMAction2's quirk without ground truth: see :func:`scale_keyframe_boxes`).
        gt_boxes_px: float32 ``[n, 4]`` ground-truth boxes in pixels, or None.
    """

    keyframe: AvaKeyframe
    frame_inds: np.ndarray
    inputs: torch.Tensor
    original_shape: tuple[int, int]
    img_shape: tuple[int, int]
    scale_factor: np.ndarray
    proposals_px: np.ndarray
    gt_boxes_px: np.ndarray | None = None

    @property
    def img_key(self) -> str:
        """``f"{video_id},{timestamp:04d}"``."""
        return self.keyframe.img_key


def build_keyframe_sample(frames: torch.Tensor, keyframe: AvaKeyframe, frame_inds: np.ndarray, *,
                          short_side: int = 256) -> KeyframeSample:
    """The test transform of one keyframe's decoded clip: resize frames and boxes, pack ``CTHW``.

    Args:
        frames: uint8 ``[clip_len, h, w, 3]`` RGB, the frames of ``frame_inds`` in order (CPU or
            an accelerator; resized by the OpenCV-exact :func:`~slowfast_zoo.data.bilinear.resize`).
        keyframe: the keyframe with its normalized proposals (and ground truth).
        frame_inds: the clip's frame numbers (:func:`sample_ava_frames`).
        short_side: ``Resize((-1, short_side))``.

    Raises:
        UsageError: frames that are not ``[clip_len, h, w, 3]``.

    Example:
        >>> kf = AvaKeyframe("v", 902, np.array([[0.0, 0.0, 0.5, 1.0]]), np.ones(1))
        >>> s = build_keyframe_sample(torch.zeros(4, 36, 48, 3, dtype=torch.uint8), kf, np.arange(4))
        >>> tuple(s.inputs.shape), s.proposals_px.tolist()
        ((3, 4, 256, 341), [[0.0, 0.0, 170.5, 256.0]])
    """
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.shape[0] != len(frame_inds):
        raise UsageError(f"frames must be [{len(frame_inds)}, h, w, 3] (one per frame index), got "
                         f"{tuple(frames.shape)}")
    hw = (int(frames.shape[1]), int(frames.shape[2]))
    gt = keyframe.gt.boxes if keyframe.gt is not None else None
    scaled = scale_keyframe_boxes(hw, keyframe.proposals, gt_boxes=gt, short_side=short_side)
    resized = resize(frames, scaled.img_shape)
    return KeyframeSample(keyframe, np.asarray(frame_inds), resized.permute(3, 0, 1, 2).contiguous(), hw,
                          scaled.img_shape, scaled.scale_factor, scaled.proposals, scaled.gt_boxes)


@dataclass(frozen=True, eq=False)
class KeyframeClip:
    """The clip around one keyframe of any video, for ``detect(video)`` (see :func:`keyframe_clip`).

    Attributes:
        keyframe_index: the keyframe's frame, 0-based (``round(time * fps)``).
        frame_inds: int32 ``[clip_len]`` frame numbers read (the reader's numbering).
        keyframe: uint8 ``[h, w, 3]`` RGB keyframe at full size (for a person detector).
        frame_hw: ``(h, w)`` of the video's frames.
        img_shape: ``(H, W)`` after the resize.
        scale_factor: float32 ``[w ratio, h ratio]``.
        inputs: float32 ``[1, 3, clip_len, H, W]``, ``(x - mean) / std``, on the CPU.
    """

    keyframe_index: int
    frame_inds: np.ndarray
    keyframe: torch.Tensor
    frame_hw: tuple[int, int]
    img_shape: tuple[int, int]
    scale_factor: np.ndarray
    inputs: torch.Tensor

    def scale_boxes(self, boxes: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Boxes ``[k, 4]`` in pixels of the full frame -> float32 pixels of ``img_shape``
        (``Resize``'s float32 product, as for the dataset's proposals)."""
        px = np.asarray(boxes.detach().cpu() if isinstance(boxes, torch.Tensor) else boxes, dtype=np.float32)
        return torch.from_numpy(np.ascontiguousarray(rescale_boxes(px.reshape(-1, 4), self.scale_factor)))


def keyframe_clip(reader: FrameReader, time: float, *, fps: float, protocol: DetectionProtocol | None = None,
                  start_index: int = 0, mean: Sequence[float] | None = None,
                  std: Sequence[float] | None = None) -> KeyframeClip:
    """The test-protocol clip around the keyframe at ``time`` seconds of a decoded video.

    The keyframe is frame ``round(time * fps)``; the clip is :func:`sample_ava_frames` on the
    video's own frame numbers (``fps=1``, ``timestamp_start=0``, the shot being the whole video,
    ``total_frames=reader.num_frames``), with MMAction2's double ``start_index`` (0 for videos);
    the frames are resized to ``protocol.resize_short_side`` (OpenCV-exact) and normalized.

    Args:
        reader: a :class:`~slowfast_zoo.data.VideoReader`, :class:`~slowfast_zoo.data.RawframeReader`
            or anything with ``num_frames`` and ``read``.
        time: the keyframe, in seconds.
        fps: the video's frame rate.
        protocol: the weight's :class:`~slowfast_zoo.registry.records.DetectionProtocol`
            (default: AVA's).
        start_index: the reader's first frame number.
        mean, std: RGB normalization (default: Kinetics', which MMAction2's AVA configs use).

    Raises:
        UsageError: a keyframe outside the video.
        VideoDecodeError: from the reader.

    Example:
        >>> class Frames:
        ...     num_frames = 90
        ...     def read(self, inds): return torch.zeros(len(inds), 36, 48, 3, dtype=torch.uint8)
        >>> c = keyframe_clip(Frames(), 1.0, fps=30)
        >>> c.keyframe_index, c.frame_inds[:3].tolist(), tuple(c.inputs.shape)
        (30, [0, 0, 2], (1, 3, 32, 256, 341))
        >>> c.scale_boxes(torch.tensor([[0.0, 0.0, 48.0, 36.0]])).tolist()
        [[0.0, 0.0, 341.0, 256.0]]
    """
    protocol = protocol or DetectionProtocol()
    index = int(round(float(time) * float(fps)))
    if not 0 <= index < reader.num_frames:
        raise UsageError(f"keyframe at {time} s (frame {index}) is outside the video's {reader.num_frames} frames")
    inds = sample_ava_frames(index, fps=1, timestamp_start=0, clip_len=protocol.clip_len,
                             frame_interval=protocol.frame_interval, start_index=start_index,
                             total_frames=reader.num_frames)
    frames = reader.read(np.append(inds, index + start_index))  # the keyframe itself, last
    hw = (int(frames.shape[1]), int(frames.shape[2]))
    img_shape, sf = resize_geometry(hw, protocol.resize_short_side)
    x = resize(frames[:-1], img_shape).permute(3, 0, 1, 2).float()
    m = torch.tensor(KINETICS_MEAN if mean is None else mean, dtype=torch.float32).view(3, 1, 1, 1)
    s = torch.tensor(KINETICS_STD if std is None else std, dtype=torch.float32).view(3, 1, 1, 1)
    return KeyframeClip(index, inds, frames[-1], hw, img_shape, sf, ((x - m) / s).unsqueeze(0).contiguous())


def collate_keyframes(batch: Sequence[KeyframeSample]) -> list[KeyframeSample]:
    """A ``DataLoader`` ``collate_fn`` for :class:`AvaDataset`: the samples as a list (clips of
    different sizes and box counts do not stack).

    Example:
        >>> collate_keyframes(())
        []
    """
    return list(batch)


class AvaDataset(Dataset[KeyframeSample]):
    """AVA keyframes over rawframe folders, as MMAction2's ``AVADataset`` in test mode.

    The keyframes are those of ``ann_file`` (in order of first appearance) minus the excluded
    ones; each gets its proposals by :func:`~.ava_boxes.keyframe_proposals` and its clip by
    :func:`sample_ava_frames` with ``shot_info = (0, (timestamp_end - timestamp_start) * fps)``;
    frames are ``frames_root / video_id / filename_tmpl.format(n)``. An item is a
    :class:`KeyframeSample` (use :func:`collate_keyframes` in a ``DataLoader``).

    Args:
        ann_file: the AVA ground-truth CSV.
        frames_root: folder of one rawframe folder per video.
        proposals: a proposal file (any format of :func:`~.ava_boxes.read_proposals`) or a
            mapping ``img_key -> [n, 4 | 5]`` normalized boxes.
        exclude_file: the exclusions CSV, or None.
        filename_tmpl, start_index, fps, timestamp_start, timestamp_end: as MMAction2's
            ``AVADataset`` (its defaults).
        clip_len, frame_interval, short_side: ``SampleAVAFrames`` and ``Resize`` settings.
        proposal_score_threshold, max_proposals: MMAction2's ``person_det_score_thr`` and
            ``num_max_proposals``.
        custom_classes: a subset of action ids (see :func:`~.ava_boxes.read_ava_annotations`).

    Raises:
        InputFileError, AnnotationError: from the files (naming ``file:line``).
    """

    def __init__(self, ann_file: str | os.PathLike[str], frames_root: str | os.PathLike[str],
                 proposals: str | os.PathLike[str] | Mapping[str, np.ndarray], *,
                 exclude_file: str | os.PathLike[str] | None = None, filename_tmpl: str = "img_{:05d}.jpg",
                 start_index: int = 1, fps: int = 30, timestamp_start: int = 900, timestamp_end: int = 1800,
                 clip_len: int = 32, frame_interval: int = 2, short_side: int = 256,
                 proposal_score_threshold: float = 0.9, max_proposals: int = 1000,
                 custom_classes: Sequence[int] | None = None) -> None:
        self.frames_root = Path(frames_root)
        self.filename_tmpl, self.short_side = filename_tmpl, short_side
        #: ``timestamp -> frame numbers`` with this dataset's settings.
        self.sample = functools.partial(sample_ava_frames, fps=fps, timestamp_start=timestamp_start,
                                        clip_len=clip_len, frame_interval=frame_interval,
                                        start_index=start_index,
                                        shot_info=(0, (timestamp_end - timestamp_start) * fps))
        self.sample(timestamp_start)  # checks the settings before any file is read
        boxes = proposals if isinstance(proposals, Mapping) else read_proposals(proposals)
        excluded = read_ava_exclusions(exclude_file) if exclude_file is not None else frozenset()
        self.keyframes: list[AvaKeyframe] = []
        for key, gt in read_ava_annotations(ann_file, custom_classes=custom_classes).items():
            video_id, ts = key.rsplit(",", 1)
            if (video_id, int(ts)) in excluded:
                continue
            props, scores = keyframe_proposals(boxes, key, score_threshold=proposal_score_threshold,
                                               max_proposals=max_proposals)
            self.keyframes.append(AvaKeyframe(video_id, int(ts), props, scores, gt))

    def __len__(self) -> int:
        return len(self.keyframes)

    def frame_inds(self, index: int) -> np.ndarray:
        """The clip's frame numbers of keyframe ``index``."""
        return self.sample(self.keyframes[index].timestamp)

    def read_frames(self, index: int) -> tuple[np.ndarray, torch.Tensor]:
        """``(frame_inds, uint8 [clip_len, h, w, 3] RGB frames)`` of keyframe ``index``, not resized
        (to resize elsewhere, e.g. on an accelerator, with :func:`build_keyframe_sample`).

        Raises:
            VideoDecodeError: a frame file is missing or damaged (naming it).
        """
        inds = self.frame_inds(index)
        lo = int(inds.min())
        reader = RawframeReader(self.frames_root / self.keyframes[index].video_id, self.filename_tmpl,
                                start_index=lo, num_frames=int(inds.max()) - lo + 1)
        return inds, reader.read(inds)

    def __getitem__(self, index: int) -> KeyframeSample:
        inds, frames = self.read_frames(index)
        return build_keyframe_sample(frames, self.keyframes[index], inds, short_side=self.short_side)
