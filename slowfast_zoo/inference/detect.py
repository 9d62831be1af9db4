"""Detect who does what in any video: person boxes per keyframe, the detector's actions per box.

For each keyframe (default: every whole second, as AVA annotates) the weight's own clip is taken
around it (:func:`~slowfast_zoo.data.ava.sample_ava_frames`, MMAction2's ``SampleAVAFrames`` in
test mode on the video's own frame numbers, as MMAction2's spatio-temporal demo does), the short
side resized to the weight's ``resize_short_side`` with the boxes scaled alike
(:func:`~slowfast_zoo.data.ava.keyframe_clip`), and the detector scores every person box. Boxes
come from the caller (per keyframe, or a box file) or from a person detector: torchvision's
COCO Faster R-CNN (``fasterrcnn_resnet50_fpn_v2``, class "person"), whose weights torchvision
downloads and hash-checks itself, or any callable ``(frame) -> boxes``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from slowfast_zoo._progress import ProgressBar
from slowfast_zoo.data.ava import keyframe_clip
from slowfast_zoo.data.ava_boxes import read_proposals
from slowfast_zoo.data.reading import VideoSource, open_reader
from slowfast_zoo.errors import AnnotationError, UsageError
from slowfast_zoo.inference.engine import prepare_model
from slowfast_zoo.models.detector import SlowFastDetector
from slowfast_zoo.registry.records import DetectionProtocol

__all__ = ["Action", "PersonActions", "KeyframeActions", "detect", "torchvision_person_detector",
           "PersonDetector", "DEFAULT_PERSON_SCORE", "MAX_PERSONS", "detection_protocol",
           "default_keyframes", "boxes_from_file"]

#: A person detector: one RGB frame ``[H, W, 3]`` uint8 -> boxes ``[k, 4]`` (or ``[k, 5]`` with a
#: score column) in its pixels.
PersonDetector = Callable[[torch.Tensor], Any]

#: Person boxes kept from the torchvision detector (MMAction2's demo: ``--det-score-thr 0.9``).
DEFAULT_PERSON_SCORE = 0.9
#: Most person boxes of one keyframe (AVA's test protocol keeps at most 1000 proposals): all of a
#: keyframe's boxes go through the network at once, each costing its own RoI features.
MAX_PERSONS = 1000


@dataclass(frozen=True)
class Action:
    """One action of one person: its label-map id, name and score (sigmoid or softmax)."""

    id: int
    name: str
    score: float


@dataclass(frozen=True)
class PersonActions:
    """One person box of a keyframe and its actions.

    Attributes:
        box: ``(x1, y1, x2, y2)`` in pixels of the video's frames.
        box_score: the person detector's score (``None`` for given boxes without one).
        actions: the top actions (score >= the threshold, at most ``topk``), best first.
        scores: every action's score, column ``j`` = action ``ids[j]`` of the weight.
    """

    box: tuple[float, float, float, float]
    box_score: float | None
    actions: tuple[Action, ...]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class KeyframeActions:
    """The people of one keyframe: its time (seconds), frame number and detections.

    Example:
        >>> k = KeyframeActions(2.0, 60, ())
        >>> k.time, k.persons
        (2.0, ())
    """

    time: float
    frame_index: int
    persons: tuple[PersonActions, ...]


def detection_protocol(model: SlowFastDetector) -> DetectionProtocol:
    """The weight's detection protocol (AVA's defaults for a model without one).

    Example:
        >>> import slowfast_zoo as sz
        >>> detection_protocol(sz.create_model("slowfast_r50_4x16x1_ava")).clip_len
        32
    """
    cfg = model.pretrained_cfg
    if cfg is not None and cfg.detection is not None:
        return cfg.detection
    return DetectionProtocol()


def torchvision_person_detector(*, score_threshold: float = DEFAULT_PERSON_SCORE,
                                device: str | torch.device = "cpu",
                                progress: bool = False) -> PersonDetector:
    """torchvision's COCO Faster R-CNN v2 as a person detector (boxes of class 1 "person").

    Its weights come through torchvision's own download (``FasterRCNN_ResNet50_FPN_V2_Weights.
    COCO_V1``, checked against the hash in their file name) into torch's hub cache.

    Example:
        >>> detector = torchvision_person_detector()  # doctest: +SKIP
        >>> detector(torch.zeros(240, 320, 3, dtype=torch.uint8)).shape  # doctest: +SKIP
        torch.Size([0, 5])
    """
    from torchvision.models.detection import (FasterRCNN_ResNet50_FPN_V2_Weights,
                                              fasterrcnn_resnet50_fpn_v2)
    weights = FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1
    net = fasterrcnn_resnet50_fpn_v2(weights=weights, progress=progress).eval().to(device)
    person = weights.meta["categories"].index("person")

    @torch.no_grad()
    def find_people(frame: torch.Tensor) -> torch.Tensor:
        image = frame.permute(2, 0, 1).to(device=device, dtype=torch.float32) / 255.0
        out = net([image])[0]
        keep = (out["labels"] == person) & (out["scores"] >= score_threshold)
        return torch.cat([out["boxes"][keep], out["scores"][keep, None]], dim=1).cpu()

    return find_people


def _as_boxes(value: Any, where: str) -> torch.Tensor:
    """Boxes ``[k, 4]`` or ``[k, 5]`` (score last; one box may be given flat) as float32, checked:
    numbers, finite, at most :data:`MAX_PERSONS`, none inverted (the frame: :func:`_check_in_frame`)."""
    expected = "boxes must be numbers [k, 4] (x1, y1, x2, y2) or [k, 5] with a score"
    try:
        arr = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value)
    except (TypeError, ValueError) as e:  # ragged lists, ...
        raise UsageError(f"{where}: {expected}: {str(e)[:200]}") from e
    if arr.dtype.kind not in "iuf":  # None, text, objects, bools
        raise UsageError(f"{where}: {expected}, got {type(value).__name__} of {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.size == 0:
        arr = arr.reshape(0, arr.shape[-1] if arr.ndim == 2 else 4)
    elif arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] not in (4, 5):
        shape = f"{arr.shape[1]} columns" if arr.ndim == 2 else f"shape {tuple(arr.shape)}"
        raise UsageError(f"{where}: boxes must be [k, 4] (x1, y1, x2, y2) or [k, 5] with a score, got {shape}")
    if len(arr) > MAX_PERSONS:
        raise UsageError(f"{where}: {len(arr)} boxes, more than the {MAX_PERSONS} of one keyframe")
    if not np.isfinite(arr).all() or (np.abs(arr) > np.finfo(np.float32).max).any():
        raise UsageError(f"{where}: boxes hold NaN, infinite or out-of-float32-range values")
    inverted = (arr[:, 0] > arr[:, 2]) | (arr[:, 1] > arr[:, 3])
    if inverted.any():
        k = int(np.argmax(inverted))
        raise UsageError(f"{where}: box {k} {arr[k, :4].tolist()} is inverted (expected x1 <= x2 and y1 <= y2)")
    return torch.from_numpy(arr.astype(np.float32))


def _check_in_frame(boxes: torch.Tensor, hw: tuple[int, int], where: str) -> None:
    """Refuse boxes that cannot be pixels of an ``hw`` frame: ones that cover none of it, reach
    over a frame's size past it (RoIAlign's cost grows with the box's area), or all within
    ``[0, 1]`` (normalized boxes, which would be pooled as one-pixel regions)."""
    if len(boxes) == 0:
        return
    h, w = hw
    b = boxes[:, :4].double()
    x1, y1, x2, y2 = b.unbind(1)
    xs, ys = b[:, 0::2], b[:, 1::2]
    far = ((xs < -w) | (xs > 2 * w)).any(1) | ((ys < -h) | (ys > 2 * h)).any(1)
    empty = (x2.clamp(max=w) <= x1.clamp(min=0)) | (y2.clamp(max=h) <= y1.clamp(min=0))
    bad = far | empty
    if bool(bad.any()):
        k = int(bad.nonzero()[0, 0])
        what = "reaches over a frame's size past" if bool(far[k]) else "covers no pixel of"
        raise UsageError(f"{where}: box {k} {b[k].tolist()} {what} the {w}x{h} frame (boxes are x1, y1, x2, y2 "
                         f"in pixels of the video's frames)")
    if min(h, w) > 2 and float(b.max()) <= 1.0:
        raise UsageError(f"{where}: every box lies within [0, 1]: normalized coordinates? Boxes are pixels of the "
                         f"{w}x{h} frame (multiply by {w}, {h}, {w}, {h})")


def _keyframe_time(t: Any, fps: float, num_frames: int, what: str = "keyframes") -> float:
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, float, np.integer, np.floating)):
        raise UsageError(f"{what} are times in seconds (numbers), got {t!r:.60}")
    time = float(t)
    if not (math.isfinite(time) and 0.0 <= time and math.isfinite(time * fps) and round(time * fps) < num_frames):
        raise UsageError(f"keyframe {time} s is outside the video ({num_frames} frames at {fps:g} fps)")
    return time


def default_keyframes(num_frames: int, fps: float) -> list[float]:
    """Every whole second whose frame exists (AVA's keyframes), else the video's first frame;
    at most one keyframe per frame (the first second that shows it).

    Below 1 fps several seconds show the same frame, and so the same clip: a header claiming
    1/1000 fps must not turn 200 frames into 200,000 keyframes, each a pass of the network.

    Example:
        >>> default_keyframes(100, 30.0), default_keyframes(20, 30.0), default_keyframes(3, 0.5)
        ([1.0, 2.0, 3.0], [0.0], [1.0, 2.0, 3.0])
    """
    if not (math.isfinite(fps) and fps > 0):
        raise UsageError(f"the video's frame rate must be a positive number, got {fps!r}")
    if fps >= 1:  # consecutive seconds are frames at least one apart: distinct frames
        times = [float(t) for t in range(1, int(num_frames / fps) + 1) if round(t * fps) < num_frames]
    else:  # per frame k, the first whole second t >= 1 with round(t * fps) == k
        times = []
        for k in range(num_frames):
            start = max(1, math.ceil((k - 0.5) / fps) - 1)
            t = next((t for t in range(start, start + 4) if round(t * fps) == k), None)
            if t is not None:
                times.append(float(t))
    return times or [0.0]


def detect(model: SlowFastDetector, video: VideoSource, *, boxes: Mapping[float, Any] | None = None,
           keyframes: Sequence[float] | None = None,
           detector: str | PersonDetector | None = "torchvision",
           score_threshold: float = 0.3, topk: int = 5, person_score_threshold: float = DEFAULT_PERSON_SCORE,
           device: str | torch.device | None = None, progress: bool = False) -> list[KeyframeActions]:
    """The actions of every person at each keyframe of ``video``, as the weight's test protocol.

    Args:
        model: a detector from :func:`slowfast_zoo.create_model` (``list_models("*ava*")``).
        video: a video file, a rawframe folder or an open reader.
        boxes: person boxes by keyframe time (seconds): ``[k, 4]`` pixels ``(x1, y1, x2, y2)`` of
            the video's frames, or ``[k, 5]`` with a score. With ``keyframes=None`` their times
            are the keyframes; a keyframe without an entry gets the detector's boxes. Boxes (given
            or detected) are checked: each must cover part of the frame, none may be inverted or
            reach over a frame's size past it, not all may lie within ``[0, 1]`` (normalized
            ones), at most :data:`MAX_PERSONS` per keyframe; else a :class:`UsageError`.
        keyframes: times in seconds; default every whole second (AVA's keyframes).
        detector: ``"torchvision"`` (COCO Faster R-CNN, person boxes scoring at least
            ``person_score_threshold``), a callable ``(frame [H, W, 3] uint8) -> boxes``, or
            ``None`` / ``"none"``: the whole frame is the one box (AVA's rule for a keyframe
            without proposals).
        score_threshold: actions below it are not listed in ``actions`` (``scores`` has all).
        topk: the most actions listed per person.
        device: where the detector runs (default CUDA when available).
        progress: a progress bar over keyframes (stderr, terminal only).

    Returns:
        One :class:`KeyframeActions` per keyframe, in time order (persons in box order).

    Raises:
        UsageError: a classifier instead of a detector, bad boxes, keyframes or thresholds.
        VideoDecodeError: the video cannot be read.

    Example:
        >>> import slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1_ava")
        >>> people = lambda frame: torch.tensor([[10.0, 20.0, 120.0, 200.0, 0.99]])
        >>> from slowfast_zoo.inference.predict import sample_video_path
        >>> result = sz.detect(model, sample_video_path(), keyframes=[1.0], detector=people)  # doctest: +SKIP
        >>> result[0].persons[0].box, len(result[0].persons[0].scores)  # doctest: +SKIP
        ((10.0, 20.0, 120.0, 200.0), 80)
    """
    if not isinstance(model, SlowFastDetector):
        raise UsageError(f"detect() needs an action detector (e.g. {'slowfast_r50_8x8x1_ava'}), got a "
                         f"{type(model).__name__}; use predict() for a video classifier")
    if not (isinstance(topk, int) and not isinstance(topk, bool) and topk >= 1):
        raise UsageError(f"topk must be an int >= 1, got {topk!r}")
    for name, value in (("score_threshold", score_threshold), ("person_score_threshold", person_score_threshold)):
        if not (isinstance(value, (int, float)) and 0.0 <= float(value) <= 1.0):
            raise UsageError(f"{name} must be a number in [0, 1], got {value!r}")
    protocol = detection_protocol(model)
    reader, start_index = open_reader(video)
    num_frames = reader.num_frames
    fps = float(getattr(reader, "fps", 0.0) or protocol.fps)
    if not (math.isfinite(fps) and fps > 0):
        raise UsageError(f"the video's frame rate must be a positive number, got {fps!r}")
    given = {_keyframe_time(t, fps, num_frames, "the keys of boxes"): _as_boxes(b, f"boxes at {t} s")
             for t, b in (boxes or {}).items()}
    times = sorted(_keyframe_time(t, fps, num_frames) for t in keyframes) if keyframes is not None else (
        sorted(given) if given else default_keyframes(num_frames, fps))
    if not (detector is None or detector in ("none", "torchvision") or callable(detector)):
        raise UsageError(f"detector must be 'torchvision', 'none' or a callable (frame) -> boxes, got {detector!r}")
    finder: list[PersonDetector | None] = []  # built on first need: given boxes need no detector
    fast = prepare_model(model, device=device)
    dev = next(fast.parameters()).device
    names, ids = model.class_names, [protocol.action_id(j) for j in range(model.num_classes)]
    results = []
    bar = ProgressBar(len(times), desc="detect", enabled=progress, unit="keyframes")
    for t in times:
        clip = keyframe_clip(reader, t, fps=fps, protocol=protocol, start_index=start_index,
                             mean=model.pretrained_cfg.mean if model.pretrained_cfg else None,
                             std=model.pretrained_cfg.std if model.pretrained_cfg else None)
        if t == times[0]:  # every given box against the frame, before the network runs once
            for when, found in given.items():
                _check_in_frame(found, clip.frame_hw, f"boxes at {when} s")
        person_boxes = given.get(t)
        if person_boxes is None:
            if not finder:
                finder.append(_person_finder(detector, person_score_threshold, device))
            find = finder[0]
            person_boxes = find(clip.keyframe) if find is not None else _whole_frame(clip.frame_hw)
        person_boxes = _as_boxes(person_boxes, f"person boxes at {t} s")
        _check_in_frame(person_boxes, clip.frame_hw, f"person boxes at {t} s")
        rois = clip.scale_boxes(person_boxes[:, :4])
        with torch.no_grad():
            x = clip.inputs.to(dev).contiguous(memory_format=torch.channels_last_3d)
            logits = fast(x, torch.cat([torch.zeros(len(rois), 1), rois], dim=1).to(dev))
            scores = model.scores(logits.float()).cpu()
        persons = []
        for k in range(len(person_boxes)):
            row = scores[k]
            order = torch.argsort(row, descending=True)[:topk].tolist()
            acts = tuple(Action(ids[j], names[j], float(row[j])) for j in order if float(row[j]) >= score_threshold)
            x1, y1, x2, y2 = (float(v) for v in person_boxes[k, :4].tolist())
            box = (x1, y1, x2, y2)
            persons.append(PersonActions(box, float(person_boxes[k, 4]) if person_boxes.shape[1] == 5 else None,
                                         acts, tuple(float(v) for v in row.tolist())))
        results.append(KeyframeActions(t, clip.keyframe_index, tuple(persons)))
        bar.update(1)
    bar.close()
    return results


def boxes_from_file(path: str | os.PathLike[str], video_id: str, frame_hw: tuple[int, int]
                    ) -> dict[float, torch.Tensor]:
    """Person boxes by keyframe time (seconds) from a box or proposal file, in pixels.

    The file is read by :func:`slowfast_zoo.data.ava_boxes.read_proposals` (an MMAction2 proposal
    ``.pkl``, a PySlowFast predicted-boxes CSV or a plain ``video_id,timestamp,x1,y1,x2,y2[,score]``
    CSV, boxes normalized); the rows of ``video_id`` are kept, or every row when the file names a
    single video.

    Raises:
        AnnotationError: a malformed file, boxes outside ``[0, 1]`` or inverted, or boxes of other
            videos only.
        UsageError: a keyframe's boxes that :func:`detect` would refuse (over :data:`MAX_PERSONS`,
            covering no pixel of the frame).

    Example:
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     _ = (d / "b.csv").write_text("clip,1,0.1,0.2,0.5,1.0,0.95\\n")
        ...     boxes_from_file(d / "b.csv", "clip", (100, 200))[1.0].tolist()
        [[20.0, 20.0, 100.0, 100.0, 0.949999988079071]]
    """
    found = read_proposals(path)
    videos = {key.rsplit(",", 1)[0] for key in found}
    if video_id not in videos and len(videos) != 1:
        raise AnnotationError(f"{os.fspath(path)}: no boxes of video {video_id!r} (it has boxes of "
                              f"{len(videos)} other videos)")
    h, w = frame_hw
    scale = np.array([w, h, w, h], dtype=np.float64)
    out = {}
    for key, rows in found.items():
        video, _, timestamp = key.rpartition(",")
        if video != video_id and len(videos) != 1:
            continue
        rows = np.asarray(rows, dtype=np.float64)
        if rows.size and (rows[:, :4].min() < 0 or rows[:, :4].max() > 1):  # a pickle's are not checked on reading
            raise AnnotationError(f"{os.fspath(path)}: boxes of {key[:60]!r} outside [0, 1] ({rows[:, :4].min():g} .. "
                                  f"{rows[:, :4].max():g}); expected normalized boxes (pixels divided by the frame's "
                                  f"width and height)")
        inverted = (rows[:, 0] > rows[:, 2]) | (rows[:, 1] > rows[:, 3])
        if inverted.any():
            raise AnnotationError(f"{os.fspath(path)}: a box of {key[:60]!r} is inverted "
                                  f"{rows[int(np.argmax(inverted)), :4].tolist()} (expected x1 <= x2 and y1 <= y2)")
        px = np.concatenate([rows[:, :4] * scale, rows[:, 4:5]], axis=1) if rows.shape[1] == 5 else rows[:, :4] * scale
        where = f"{os.fspath(path)}: boxes of {key[:60]!r}"
        boxes = _as_boxes(px, where)  # at most MAX_PERSONS, before any work
        _check_in_frame(boxes, (h, w), where)
        out[float(int(timestamp))] = boxes
    return out


def _whole_frame(hw: tuple[int, int]) -> torch.Tensor:
    return torch.tensor([[0.0, 0.0, float(hw[1]), float(hw[0])]])


def _person_finder(detector: str | PersonDetector | None, threshold: float,
                   device: str | torch.device | None) -> PersonDetector | None:
    if detector is None or detector == "none":
        return None
    if detector == "torchvision":
        from slowfast_zoo.inference.device import resolve_device
        return torchvision_person_detector(score_threshold=threshold, device=resolve_device(device))
    assert callable(detector)  # checked by detect()
    return detector

