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
           "PersonDetector", "DEFAULT_PERSON_SCORE", "detection_protocol",
           "default_keyframes", "boxes_from_file"]

#: A person detector: one RGB frame ``[H, W, 3]`` uint8 -> boxes ``[k, 4]`` (or ``[k, 5]`` with a
#: score column) in its pixels.
PersonDetector = Callable[[torch.Tensor], Any]

#: Person boxes kept from the torchvision detector (MMAction2's demo: ``--det-score-thr 0.9``).
DEFAULT_PERSON_SCORE = 0.9


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
    """Boxes ``[k, 4]`` or ``[k, 5]`` (score last) as float32, checked."""
    try:
        t = torch.as_tensor(np.asarray(value, dtype=np.float32)).reshape(-1, np.asarray(value).shape[-1]
                                                                          if np.asarray(value).size else 4)
    except (TypeError, ValueError) as e:
        raise UsageError(f"{where}: boxes must be numbers [k, 4] (x1, y1, x2, y2) or [k, 5] with a score: {e}") from e
    if t.shape[1] not in (4, 5):
        raise UsageError(f"{where}: boxes must be [k, 4] (x1, y1, x2, y2) or [k, 5] with a score, got "
                         f"{t.shape[1]} columns")
    if t.numel() and not bool(torch.isfinite(t).all()):
        raise UsageError(f"{where}: boxes hold NaN or infinite values")
    return t


def default_keyframes(num_frames: int, fps: float) -> list[float]:
    """Every whole second whose frame exists (AVA's keyframes), else the middle of the video.

    Example:
        >>> default_keyframes(100, 30.0), default_keyframes(20, 30.0)
        ([1.0, 2.0, 3.0], [0.0])
    """
    times = [float(t) for t in range(1, int(num_frames / fps) + 1) if round(t * fps) < num_frames]
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
            are the keyframes; a keyframe without an entry gets the detector's boxes.
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
    if not (isinstance(topk, int) and topk >= 1):
        raise UsageError(f"topk must be an int >= 1, got {topk!r}")
    for name, value in (("score_threshold", score_threshold), ("person_score_threshold", person_score_threshold)):
        if not (isinstance(value, (int, float)) and 0.0 <= float(value) <= 1.0):
            raise UsageError(f"{name} must be a number in [0, 1], got {value!r}")
    protocol = detection_protocol(model)
    reader, start_index = open_reader(video)
    num_frames = reader.num_frames
    fps = float(getattr(reader, "fps", 0.0) or protocol.fps)
    given = {float(t): _as_boxes(b, f"boxes at {t} s") for t, b in (boxes or {}).items()}
    times = sorted(float(t) for t in keyframes) if keyframes is not None else (
        sorted(given) if given else default_keyframes(num_frames, fps))
    for t in times:
        if not (math.isfinite(t) and 0.0 <= t and round(t * fps) < num_frames):
            raise UsageError(f"keyframe {t} s is outside the video ({num_frames} frames at {fps:g} fps)")
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
        person_boxes = given.get(t)
        if person_boxes is None:
            if not finder:
                finder.append(_person_finder(detector, person_score_threshold, device))
            find = finder[0]
            person_boxes = find(clip.keyframe) if find is not None else _whole_frame(clip.frame_hw)
        person_boxes = _as_boxes(person_boxes, f"person boxes at {t} s")
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
        AnnotationError: a malformed file, or boxes of other videos only.

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
        px = np.concatenate([rows[:, :4] * scale, rows[:, 4:5]], axis=1) if rows.shape[1] == 5 else rows[:, :4] * scale
        out[float(int(timestamp))] = torch.from_numpy(px.astype(np.float32))
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

