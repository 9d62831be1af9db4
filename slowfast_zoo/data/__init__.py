# Video input: decoding, MMAction2-exact clip sampling and transforms, presets, datasets.
#
# The sampling, transforms, presets and datasets reproduce the data pipeline of MMAction2
# (OpenMMLab, Apache-2.0, https://github.com/open-mmlab/mmaction2, v0.13.0) as specified in
# docs/SPEC.md section 4; see each module's header.
"""Video input for slowfast_zoo.

Typical use::

    import slowfast_zoo as sz
    tf = sz.data.test_transform("slowfast_r50_4x16x1")     # the weight's own test protocol
    views = tf.load("video.mp4")                            # float32 [30, 3, 32, 256, 256]

    ds = sz.data.VideoDataset("val_list.txt", "videos/", tf, on_error="skip")

AVA keyframes (spatio-temporal detection): :func:`sample_ava_frames` (``SampleAVAFrames``),
:func:`scale_keyframe_boxes`, :class:`AvaDataset` -> :class:`KeyframeSample`, :func:`keyframe_clip`
(any video), and the files: :func:`read_ava_annotations`, :func:`read_proposals`,
:func:`keyframe_proposals` (:mod:`slowfast_zoo.data.ava`, :mod:`.ava_boxes`), and the one reader of
each AVA file format: :func:`read_ava_csv`, :func:`read_ava_exclusions`, :func:`read_ava_label_map`,
:func:`write_ava_detections_csv` (:mod:`.ava_files`).

Building blocks: :class:`VideoReader` / :class:`RawframeReader` (decode),
:func:`sample_frames` (SampleFrames), :func:`rescale_size`, :func:`resize` (OpenCV-exact
bilinear), :func:`center_crop_box`, :func:`three_crop_boxes`, :func:`random_resized_crop_box`.
Cropping, normalising and the ``NCTHW`` layout are done inside the transforms, in one place
(:func:`slowfast_zoo.data.views.assemble_views`).
"""

from slowfast_zoo.data.ava import (
    AvaDataset,
    AvaKeyframe,
    KeyframeClip,
    KeyframeSample,
    build_keyframe_sample,
    collate_keyframes,
    keyframe_clip,
    sample_ava_frames,
    scale_keyframe_boxes,
)
from slowfast_zoo.data.ava_boxes import (
    GroundTruth,
    keyframe_proposals,
    read_ava_annotations,
    read_proposals,
)
from slowfast_zoo.data.ava_files import (
    AvaRows,
    read_ava_csv,
    read_ava_exclusions,
    read_ava_label_map,
    write_ava_detections_csv,
)
from slowfast_zoo.data.datasets import (
    VIDEO_EXTENSIONS,
    Failure,
    RawframeDataset,
    Record,
    VideoDataset,
    collate_skip_failures,
)
from slowfast_zoo.data.decode import VideoReader
from slowfast_zoo.data.multilabel import MultiLabelDataset
from slowfast_zoo.data.labels import read_label_map
from slowfast_zoo.data.presets import TestTransform, ViewTransform, test_transform, views_transform
from slowfast_zoo.data.rawframes import RawframeReader
from slowfast_zoo.data.sampling import SAMPLING_RULES, clip_offsets, sample_frames
from slowfast_zoo.data.train_presets import TrainTransform, train_transform
from slowfast_zoo.data.transforms import (
    center_crop_box,
    random_resized_crop_box,
    rescale_size,
    resize,
    three_crop_boxes,
)
from slowfast_zoo.errors import AnnotationError, FrameIndexError, VideoDecodeError

__all__ = [
    # decoding
    "VideoReader", "RawframeReader", "VideoDecodeError", "FrameIndexError",
    # sampling
    "sample_frames", "clip_offsets", "SAMPLING_RULES",
    # transforms
    "rescale_size", "resize", "center_crop_box", "three_crop_boxes", "random_resized_crop_box",
    # class names
    "read_label_map",
    # presets
    "test_transform", "train_transform", "views_transform", "TestTransform", "TrainTransform", "ViewTransform",
    # datasets
    "VideoDataset", "RawframeDataset", "MultiLabelDataset", "Failure", "Record", "AnnotationError",
    "collate_skip_failures", "VIDEO_EXTENSIONS",
    # AVA keyframes (spatio-temporal detection)
    "sample_ava_frames", "scale_keyframe_boxes", "build_keyframe_sample", "keyframe_clip", "AvaDataset",
    "AvaKeyframe", "KeyframeSample", "KeyframeClip", "collate_keyframes", "GroundTruth",
    "read_ava_annotations", "read_proposals", "keyframe_proposals",
    "AvaRows", "read_ava_csv", "read_ava_exclusions", "read_ava_label_map", "write_ava_detections_csv",
]
