"""slowfast_zoo.inference.detect: keyframes, boxes in pixels of the video, the model's own outputs.

A random-weight detector with a reduced protocol (8-frame clips, short side 64) keeps these quick;
the numbers of the network itself are pinned by tests/test_models_detector.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import slowfast_zoo as sz
from slowfast_zoo.data.ava import keyframe_clip
from slowfast_zoo.data.decode import VideoReader
from slowfast_zoo.errors import AnnotationError, UsageError
from slowfast_zoo.inference.detect import boxes_from_file, default_keyframes, detect, detection_protocol
from video_factory import make_video


@pytest.fixture(scope="module")
def model() -> sz.SlowFastDetector:
    torch.manual_seed(0)
    m = sz.create_model("slowfast_r50_4x16x1_ava").eval()
    cfg = m.pretrained_cfg
    small = dataclasses.replace(cfg.detection, clip_len=8, frame_interval=2, resize_short_side=64)
    m.pretrained_cfg = dataclasses.replace(cfg, detection=small)
    return m


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory):
    return make_video(tmp_path_factory.mktemp("v") / "clip.mp4", 25, 80, 60, fps=10)


def test_default_keyframes_are_whole_seconds():
    assert default_keyframes(25, 10.0) == [1.0, 2.0]
    assert default_keyframes(30, 10.0) == [1.0, 2.0]  # frame 30 does not exist
    assert default_keyframes(5, 10.0) == [0.0]


def test_detect_scores_are_the_models_on_the_keyframe_clip(model, video):
    boxes = {1.0: [[10.0, 5.0, 50.0, 55.0], [0.0, 0.0, 80.0, 60.0]]}
    (key,) = detect(model, video, boxes=boxes, topk=3, score_threshold=0.0)
    assert key.time == 1.0 and key.frame_index == 10
    assert [p.box for p in key.persons] == [(10.0, 5.0, 50.0, 55.0), (0.0, 0.0, 80.0, 60.0)]
    # The same clip and boxes by hand: resize 80x60 -> 85x64, boxes scaled by the same factors.
    clip = keyframe_clip(VideoReader(video), 1.0, fps=10.0, protocol=detection_protocol(model))
    assert clip.img_shape == (64, 85)
    rois = torch.cat([torch.zeros(2, 1), clip.scale_boxes(torch.tensor(boxes[1.0]))], dim=1)
    with torch.no_grad():
        expected = model.scores(model(clip.inputs, rois))
    got = torch.tensor([p.scores for p in key.persons])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    best = [a.id for a in key.persons[0].actions]
    assert best == (torch.argsort(expected[0], descending=True)[:3] + 1).tolist()
    assert key.persons[0].actions[0].name == model.class_names[best[0] - 1]


def test_detector_callable_whole_frame_and_empty(model, video):
    seen = []

    def people(frame: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(frame.shape))
        return torch.zeros(0, 5)  # nobody here

    result = detect(model, video, detector=people)
    assert [k.time for k in result] == [1.0, 2.0] and seen == [(60, 80, 3)] * 2
    assert all(k.persons == () for k in result)
    (whole,) = detect(model, video, keyframes=[2.0], detector="none")
    assert [p.box for p in whole.persons] == [(0.0, 0.0, 80.0, 60.0)] and whole.persons[0].box_score is None


def test_score_threshold_and_topk(model, video):
    (key,) = detect(model, video, keyframes=[1.0], detector="none", score_threshold=1.0, topk=5)
    assert key.persons[0].actions == () and len(key.persons[0].scores) == 80


def test_bad_arguments_are_typed(model, video):
    with pytest.raises(UsageError, match="action detector"):
        detect(sz.create_model("slowfast_r50_4x16x1"), video)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="outside the video"):
        detect(model, video, keyframes=[9.0], detector="none")
    with pytest.raises(UsageError, match="topk"):
        detect(model, video, topk=0)
    with pytest.raises(UsageError, match="score_threshold"):
        detect(model, video, score_threshold=2)
    with pytest.raises(UsageError, match="columns"):
        detect(model, video, boxes={1.0: [[1.0, 2.0, 3.0]]})
    with pytest.raises(UsageError, match="detector must be"):
        detect(model, video, detector="yolo")


def test_boxes_from_file(tmp_path):
    f = tmp_path / "b.csv"
    f.write_text("clip,1,0.1,0.2,0.5,1.0,0.9\nclip,2,0,0,1,1\nother,1,0,0,1,1\n")
    boxes = boxes_from_file(f, "clip", (60, 80))
    assert sorted(boxes) == [1.0, 2.0]
    np.testing.assert_allclose(boxes[1.0].numpy(), [[8.0, 12.0, 40.0, 60.0, 0.9]], rtol=1e-6)
    assert boxes[2.0].shape == (1, 5)
    with pytest.raises(AnnotationError, match="no boxes of video 'x'"):
        boxes_from_file(f, "x", (60, 80))
    single = tmp_path / "one.csv"
    single.write_text("v1,3,0,0,0.5,0.5\n")
    assert list(boxes_from_file(single, "anything", (10, 10))) == [3.0]  # a one-video file


# ----------------------------------------------------------------------------- review: hostile inputs
def test_default_keyframes_at_most_one_per_frame():
    """A header claiming 1/1000 fps made 200 frames 199,499 keyframes (a network pass each)."""
    assert len(default_keyframes(200, 0.001)) == 200
    assert default_keyframes(3, 0.5) == [1.0, 2.0, 3.0] and default_keyframes(2, 0.25) == [1.0, 3.0]
    for fps in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(UsageError, match="frame rate"):
            default_keyframes(10, fps)


@pytest.mark.parametrize("kwargs, match", [
    ({"keyframes": [1e308], "detector": "none"}, "outside the video"),  # t * fps overflowed round()
    ({"keyframes": ["1"], "detector": "none"}, "keyframes are times"),
    ({"keyframes": [None], "detector": "none"}, "keyframes are times"),
    ({"boxes": {"a": [[0, 0, 10, 10]]}}, "keys of boxes"),
    ({"boxes": {1.0: np.zeros((2, 2, 4))}}, r"shape \(2, 2, 4\)"),  # was flattened into 4 boxes
    ({"boxes": {1.0: [[50.0, 50.0, 10.0, 10.0]]}}, "inverted"),
    ({"boxes": {1.0: [[0.1, 0.1, 0.5, 0.9]]}}, "normalized"),
    ({"boxes": {1.0: [[0.0, 0.0, 1e5, 1e5]]}}, "frame's size past"),  # RoIAlign: minutes per box
    ({"boxes": {1.0: [[0.0, 0.0, 1e39, 10.0]]}}, "float32"),
    ({"boxes": {1.0: [[30.0, 30.0, 30.0, 30.0]]}}, "covers no pixel"),
    ({"boxes": {1.0: np.tile([[0.0, 0.0, 10.0, 10.0]], (1001, 1))}}, "more than the 1000"),
    ({"boxes": {1.0: np.ones((1, 4), bool)}}, "must be numbers"),
    ({"keyframes": [1.0], "detector": lambda frame: None}, "must be numbers"),  # was an IndexError
    ({"keyframes": [1.0], "detector": lambda frame: 3.0}, r"shape \(\)"),
    ({"keyframes": [1.0], "detector": lambda frame: torch.zeros(10**6, 5)}, "more than the 1000"),
    ({"keyframes": [1.0], "detector": lambda frame: torch.tensor([[0.0, 0.0, 3e4, 3e4]])}, "frame's size past"),
    ({"keyframes": [1.0], "detector": lambda frame: torch.tensor([[30.0, 30.0, 10.0, 10.0, 0.9]])}, "inverted"),
    ({"topk": True}, "topk"),
])
def test_hostile_keyframes_boxes_and_detector_outputs_are_typed(model, video, kwargs, match):
    with pytest.raises(UsageError, match=match):
        detect(model, video, **kwargs)


def test_boxes_from_file_refuses_what_would_be_garbage(tmp_path):
    def pickled(boxes: list[list[float]], key: str = "clip,0001") -> object:
        path = tmp_path / "p.pkl"
        path.write_bytes(__import__("pickle").dumps({key: np.array(boxes)}, protocol=2))
        return path

    with pytest.raises(AnnotationError, match=r"outside \[0, 1\].*expected normalized"):
        boxes_from_file(pickled([[10.0, 10.0, 50.0, 40.0, 0.9]]), "clip", (60, 80))  # pixels in a pickle
    with pytest.raises(AnnotationError, match="inverted"):
        boxes_from_file(pickled([[0.5, 0.5, 0.1, 0.1, 0.9]]), "clip", (60, 80))
    with pytest.raises(UsageError, match="covers no pixel"):
        boxes_from_file(pickled([[0.5, 0.5, 0.5, 0.5, 0.9]]), "clip", (60, 80))
    with pytest.raises(AnnotationError, match="at most 9 digits"):
        boxes_from_file(pickled([[0.1, 0.1, 0.5, 0.5]], "clip," + "9" * 400), "clip", (60, 80))
    big = tmp_path / "t.csv"
    big.write_text("clip," + "9" * 400 + ",0.1,0.1,0.5,0.5\n")  # was an OverflowError in float(int(...))
    with pytest.raises(AnnotationError, match="timestamp"):
        boxes_from_file(big, "clip", (60, 80))
