"""Tests of slowfast_zoo.data.ava and data.ava_boxes: AVA keyframe clips (SampleAVAFrames), the
test transform's box rescaling, the AVA dataset pipeline, and the annotation / proposal readers
(the rows of data.ava_files, tested with the evaluator in test_evaluation_ava.py).

Exact against MMAction2 1.2.0's own outputs (tests/data/detection/ava_sampling_public.json, see
/work/shared/reference/detection/README.md "Sampling and boxes")."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.io import write_png

from hostile_pickles import op_global, op_text
from slowfast_zoo.data import ava, ava_boxes, bilinear
from slowfast_zoo.data import ava_files as ava_files_module  # `ava_files` is a fixture below
from slowfast_zoo.data.ava import (
    AvaDataset,
    AvaKeyframe,
    boxes_to_pixels,
    build_keyframe_sample,
    keyframe_clip,
    rescale_boxes,
    resize_geometry,
    sample_ava_frames,
    scale_keyframe_boxes,
)
from slowfast_zoo.data.ava_boxes import (
    PROPOSAL_PICKLE_GLOBALS,
    keyframe_proposals,
    read_ava_annotations,
    read_proposals,
)
from slowfast_zoo.data.ava_files import read_ava_exclusions
from slowfast_zoo.errors import AnnotationError, InputFileError, UsageError, VideoDecodeError, WrongTypeError
from eval_files import one_thread  # noqa: F401 - autouse fixture: small tensors, one thread

REF = json.loads((Path(__file__).parent / "data" / "detection" / "ava_sampling_public.json").read_text())
PIPE = REF["ava_dataset_pipeline"]




# ----------------------------------------------------------------------------- SampleAVAFrames
def test_sample_ava_frames_public_cases():
    # One test over the 250 cases (each a microsecond; 250 test setups would cost seconds).
    for case in REF["sample_ava_frames"]["cases"]:
        shot = {k: case[k] for k in ("shot_info", "total_frames") if k in case}
        got = sample_ava_frames(case["timestamp"], fps=case["fps"], timestamp_start=case["timestamp_start"],
                                clip_len=case["clip_len"], frame_interval=case["frame_interval"],
                                start_index=case["start_index"], **shot)
        assert got.dtype == np.dtype(case["frame_inds_dtype"]), case
        assert got.tolist() == case["frame_inds"], case


def test_sample_ava_frames_cover_every_public_case_kind():
    cases = REF["sample_ava_frames"]["cases"]
    assert len(cases) == 250
    assert {c["start_index"] for c in cases} == {0, 1}
    assert any("total_frames" in c for c in cases) and any("shot_info" in c for c in cases)


def test_sample_ava_frames_default_shot_is_avadataset_rawframes_and_total_frames_wins():
    kw = dict(fps=30, timestamp_start=900, clip_len=32, frame_interval=2, start_index=1)
    for ts in (900, 1798, 1800):
        default = sample_ava_frames(ts, **kw)
        assert default.tolist() == sample_ava_frames(ts, shot_info=(0, 27000), **kw).tolist()
        assert default.tolist() == sample_ava_frames(ts, timestamp_end=1800, shot_info=None, **kw).tolist()
    # total_frames overrides shot_info (MMAction2 reads shot_info only without total_frames)
    a = sample_ava_frames(1798, total_frames=26950, shot_info=(0, 27000), **kw)
    assert a.tolist() == sample_ava_frames(1798, total_frames=26950, **kw).tolist()
    assert a.max() == 26950  # clipped to total_frames - 1, then start_index added again
    # fps as the registry stores it (30.0) gives the same clip
    assert sample_ava_frames(902, **{**kw, "fps": 30.0}).tolist() == sample_ava_frames(902, **kw).tolist()


@pytest.mark.parametrize("kw, error", [
    (dict(clip_len=0), UsageError), (dict(frame_interval=0), UsageError),
    (dict(clip_len=ava.MAX_CLIP_LEN + 1), UsageError), (dict(total_frames=0), UsageError),
    (dict(shot_info=(5, 5)), UsageError), (dict(shot_info=(0,)), UsageError),
    (dict(fps=29.97), UsageError), (dict(fps=0), UsageError), (dict(clip_len=True), WrongTypeError),
    (dict(start_index="1"), WrongTypeError), (dict(timestamp_start=900.5), UsageError),
])
def test_sample_ava_frames_refuses_unusable_settings(kw, error):
    args = dict(fps=30, timestamp_start=900, clip_len=8, frame_interval=8)
    with pytest.raises(error):
        sample_ava_frames(902, **{**args, **kw})


# ----------------------------------------------------------------------------- boxes
@pytest.mark.parametrize("case", REF["raw_frame_decode_and_resize"]["cases"],
                         ids=lambda c: f"{c['frame_hw'][0]}x{c['frame_hw'][1]}-gt{c['with_gt_bboxes']}")
def test_raw_frame_decode_and_resize_public_cases(case):
    hw = tuple(case["frame_hw"])
    props = np.array(case["input_proposals_normalized"])
    gt = np.array(case["input_gt_bboxes_normalized"]) if case["with_gt_bboxes"] else None
    dec, res = case["after_RawFrameDecode"], case["after_Resize"]
    img_shape, sf = resize_geometry(hw)
    assert list(img_shape) == res["img_shape"]
    assert sf.dtype == np.float32 and sf.tolist() == np.array(res["scale_factor"], np.float32).tolist()

    quirk = scale_keyframe_boxes(hw, props, gt_boxes=gt, mmaction2_quirk=True)
    assert list(quirk.img_shape) == res["img_shape"]
    assert quirk.proposals.dtype == np.dtype(res["proposals_dtype"])
    assert quirk.proposals.tolist() == np.array(res["proposals"], res["proposals_dtype"]).tolist()
    if gt is None:  # MMAction2 leaves the proposals normalized; ours are pixels by default
        assert dec["proposals"] == case["input_proposals_normalized"] == res["proposals"]
        pixels = scale_keyframe_boxes(hw, props)
        assert pixels.proposals.dtype == np.float32
        assert pixels.proposals.tolist() == rescale_boxes(boxes_to_pixels(props, hw), sf).tolist()
        assert pixels.gt_boxes is None
    else:
        step1 = boxes_to_pixels(props, hw)
        assert step1.dtype == np.dtype(dec["proposals_dtype"])
        assert step1.tolist() == np.array(dec["proposals"], np.float32).tolist()
        assert boxes_to_pixels(gt, hw).tolist() == np.array(dec["gt_bboxes"], np.float32).tolist()
        default = scale_keyframe_boxes(hw, props, gt_boxes=gt)
        for got in (default, quirk):
            assert got.gt_boxes is not None and got.gt_boxes.dtype == np.float32
            assert got.gt_boxes.tolist() == np.array(res["gt_bboxes"], np.float32).tolist()
            assert got.proposals.tolist() == np.array(res["proposals"], np.float32).tolist()
    frames = torch.zeros(1, *hw, 3, dtype=torch.uint8)
    kf = AvaKeyframe("v", 902, props, np.ones(len(props)))
    sample = build_keyframe_sample(frames, kf, np.array([1]))
    assert [*sample.inputs.shape[2:], sample.inputs.shape[0]] == res["resized_frame_shape"]
    assert sample.proposals_px.tolist() == scale_keyframe_boxes(hw, props).proposals.tolist()


# ----------------------------------------------------------------------------- the dataset pipeline
def _write_frames(root: Path, video: str, hw: list[int], indices: set[int]) -> None:
    folder = root / video
    folder.mkdir(parents=True, exist_ok=True)
    for i in sorted(indices):
        bgr = np.random.default_rng([PIPE["seed"], zlib.crc32(video.encode()), i]).integers(0, 256, (*hw, 3), np.uint8)
        # The generator wrote the array with cv2.imwrite (BGR order): the file's RGB is reversed.
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        with warnings.catch_warnings():  # torchvision 0.29 deprecates its image codecs
            warnings.simplefilter("ignore", DeprecationWarning)
            write_png(torch.from_numpy(rgb).permute(2, 0, 1).contiguous(), str(folder / f"img_{i:05d}.png"))


@pytest.fixture(scope="module")
def ava_files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ava")
    (d / "ann.csv").write_text(PIPE["annotation_csv"])
    (d / "exclude.csv").write_text(PIPE["exclusions_csv"])
    proposals = {k: np.array(v) for k, v in PIPE["proposals"].items()}
    (d / "proposals.pkl").write_bytes(pickle.dumps(proposals, protocol=2))  # as mmcv dumps pickles
    return {"ann": d / "ann.csv", "exclude": d / "exclude.csv", "proposals": d / "proposals.pkl", "frames": d / "f"}


@pytest.fixture(scope="module")
def pipeline_dataset(ava_files) -> AvaDataset:
    ds = AvaDataset(ava_files["ann"], ava_files["frames"], ava_files["proposals"],
                    exclude_file=ava_files["exclude"], filename_tmpl="img_{:05}.png")
    for i, kf in enumerate(ds.keyframes):
        _write_frames(ava_files["frames"], kf.video_id, PIPE["frame_sizes_hw"][kf.video_id],
                      set(ds.frame_inds(i).tolist()))
    return ds


def test_ava_dataset_keyframes_as_mmaction2_get_data_info(pipeline_dataset):
    items = PIPE["items"]
    assert [kf.img_key for kf in pipeline_dataset.keyframes] == [it["img_key"] for it in items]
    for kf, it in zip(pipeline_dataset.keyframes, items):
        assert (kf.video_id, kf.timestamp) == (it["video_id"], it["timestamp"])
        assert kf.proposals.tolist() == it["proposals_normalized"]
        assert kf.proposal_scores.tolist() == it["proposal_scores"]
        assert kf.gt is not None
        assert kf.gt.boxes.tolist() == it["gt_bboxes_normalized"]
        assert [list(x) for x in kf.gt.labels] == it["gt_labels_nonzero"]
        assert list(kf.gt.entity_ids) == it["entity_ids"]
        assert np.nonzero(kf.gt.label_matrix(81))[1].tolist() == sum(it["gt_labels_nonzero"], [])
        shot = it["shot_info"]
        assert sample_ava_frames(it["timestamp"], fps=it["fps"], timestamp_start=it["timestamp_start"],
                                 start_index=it["start_index"], shot_info=shot, clip_len=32,
                                 frame_interval=2).tolist() == it["frame_inds"]


@pytest.mark.parametrize("kernel", ["default", "numpy"])
def test_ava_dataset_items_bit_exact(pipeline_dataset, monkeypatch, kernel):
    if kernel == "numpy":  # without OpenCV the resize is the numpy kernel: the same bytes
        monkeypatch.setattr(bilinear, "_cv2_ok", False)
    assert len(pipeline_dataset) == len(PIPE["items"])
    for i, it in enumerate(PIPE["items"]):
        s = pipeline_dataset[i]
        assert s.img_key == it["img_key"]
        assert s.frame_inds.tolist() == it["frame_inds"]
        assert list(s.original_shape) == it["original_shape"] and list(s.img_shape) == it["img_shape"]
        assert s.scale_factor.tolist() == np.array(it["scale_factor"], np.float32).tolist()
        assert s.gt_boxes_px is not None
        assert s.gt_boxes_px.tolist() == np.array(it["gt_bboxes_pixels"], np.float32).tolist()
        assert s.proposals_px.tolist() == np.array(it["proposals_pixels"], np.float32).tolist()
        assert s.proposals_px.tolist() == np.array(it["packed_proposals"], np.float32).tolist()
        assert list(s.inputs.shape) == it["inputs_shape"] and str(s.inputs.dtype) == f"torch.{it['inputs_dtype']}"
        assert int(s.inputs.sum(dtype=torch.int64)) == it["inputs_sum"]
        assert hashlib.sha256(s.inputs.numpy().tobytes()).hexdigest() == it["inputs_sha256"]
    assert ava.collate_keyframes([s]) == [s]


def test_ava_dataset_from_a_mapping_and_a_missing_frame(ava_files, tmp_path):
    ds = AvaDataset(ava_files["ann"], tmp_path, {}, filename_tmpl="img_{:05}.png")
    assert len(ds) == 5  # no exclusions: vidAAAAAAAA,0903 stays
    assert all(kf.proposals.tolist() == [[0.0, 0.0, 1.0, 1.0]] for kf in ds.keyframes)
    with pytest.raises(VideoDecodeError, match=r"vidAAAAAAAA: no such folder"):
        ds[0]
    _write_frames(tmp_path, "vidAAAAAAAA", [4, 4], {30})
    with pytest.raises(VideoDecodeError, match=r"vidAAAAAAAA/img_00032.png: no such file"):
        ds[0]


# ----------------------------------------------------------------------------- keyframe_clip (detect)
class _Frames:
    def __init__(self, n: int, hw: tuple[int, int]) -> None:
        self.num_frames, self.hw = n, hw

    def read(self, inds):
        inds = np.asarray(inds)
        base = torch.arange(self.hw[0] * self.hw[1] * 3, dtype=torch.int64).view(*self.hw, 3)
        return torch.stack([((base + int(i)) % 251).to(torch.uint8) for i in inds])


def test_keyframe_clip_is_the_test_transform_on_the_video_frame_numbers():
    reader = _Frames(100, (36, 48))
    c = keyframe_clip(reader, 2.0, fps=25.0)
    assert c.keyframe_index == 50
    expected = sample_ava_frames(50, fps=1, timestamp_start=0, clip_len=32, frame_interval=2, total_frames=100)
    assert c.frame_inds.tolist() == expected.tolist()
    assert torch.equal(c.keyframe, reader.read([50])[0])
    mean = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1, 1)
    frames = ava.resize(reader.read(expected), c.img_shape).permute(3, 0, 1, 2).float()
    assert torch.equal(c.inputs[0], (frames - mean) / std)
    assert c.scale_boxes(np.array([[4.0, 4.0, 20.0, 30.0]])).tolist() == \
        rescale_boxes(np.array([[4, 4, 20, 30]], np.float32), c.scale_factor).tolist()
    with pytest.raises(UsageError, match="outside"):
        keyframe_clip(reader, 4.0, fps=25.0)


# ----------------------------------------------------------------------------- proposals
def test_keyframe_proposals_follow_avadataset():
    p = {"v,0902": np.array([[.1, .1, .2, .2, .95], [.1, .1, .3, .3, .5], [.2, .2, .4, .4, .9]]),
         "v,0903": np.array([[.1, .1, .2, .2, .5], [.1, .1, .3, .3, .7], [.2, .2, .4, .4, .7]]),
         "v,0904": np.array([[.1, .1, .2, .2]] * 3), "v,0905": np.zeros((0, 5)),
         "v,0906": np.array([[.1, .1, .2, .2, .5], [.1, .1, 1.5, .3, .95]]),
         "v,0907": np.array([[.1, .1, .2, .2, .95], [.1, .1, 1.5, .3, .5]])}
    assert keyframe_proposals(p, "v,0902")[1].tolist() == [.95, .9]
    assert keyframe_proposals(p, "v,0903")[1].tolist() == [.7, .7]   # none reaches 0.9: the best ones
    assert keyframe_proposals(p, "v,0902", max_proposals=1)[1].tolist() == [.95]
    assert keyframe_proposals(p, "v,0904", max_proposals=2)[0].shape == (2, 4)
    for key in ("v,0905", "v,9999"):
        boxes, scores = keyframe_proposals(p, key)
        assert boxes.tolist() == [[0, 0, 1, 1]] and scores.tolist() == [1]
    with pytest.raises(AnnotationError, match="outside"):
        keyframe_proposals(p, "v,0906")  # the kept box is not normalized
    assert keyframe_proposals(p, "v,0907")[1].tolist() == [.95]  # a dropped box is not checked
    # float32 scores are compared with the threshold in float32, as MMAction2's numpy does
    f32 = {"v,0902": np.array([[.1, .1, .2, .2, .9], [.1, .1, .2, .2, .95]], np.float32)}
    assert len(keyframe_proposals(f32, "v,0902")[1]) == 2
    with pytest.raises(UsageError):
        keyframe_proposals({"v,0902": np.zeros(5)}, "v,0902")


def _hostile_pickle(marker: Path) -> bytes:
    call = op_global("posix", "system") + op_text(f"touch {marker}") + b"\x85R"  # TUPLE1, REDUCE
    return b"\x80\x02}" + op_text("v,0902") + call + b"s."


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_proposal_pickle_read_through_the_guard(tmp_path, protocol):
    data = {"v,0902": np.array([[.1, .2, .3, .4, .95]]), "w,1000": np.array([[.1, .2, .3, .4]], np.float32)}
    if protocol >= 3:
        data["w,1001"] = np.zeros((0, 5))
    (tmp_path / "p.pkl").write_bytes(pickle.dumps(data, protocol=protocol))
    got = read_proposals(tmp_path / "p.pkl")
    assert got.keys() == data.keys()
    assert got["w,1000"].dtype == np.float32 and got["w,1000"].tolist() == data["w,1000"].tolist()
    assert got["v,0902"].tolist() == [[.1, .2, .3, .4, .95]]


def test_proposal_pickle_allowlist_is_numpy_reconstruction_only():
    assert PROPOSAL_PICKLE_GLOBALS == {
        "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
        "numpy.ndarray", "numpy.dtype", "_codecs.encode", "builtins.bytes"}


def test_empty_proposal_array_of_a_protocol_2_pickle_reads(tmp_path):
    """mmcv dumps protocol 2: an empty array's data is pickled as bytes(), allowed without arguments."""
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps({"v,0902": np.zeros((0, 5), np.float32)}, protocol=2))
    assert read_proposals(path)["v,0902"].shape == (0, 5)


@pytest.mark.parametrize("name, payload, match", [
    ("code", None, "not allowed"),
    ("list", pickle.dumps([np.zeros((1, 5))], protocol=2), "holds a list"),
    ("values", pickle.dumps({"v,0902": [[0.1, 0.2, 0.3, 0.4, 0.9]]}, protocol=2), "holds a list"),
    ("key", pickle.dumps({"v-0902": np.zeros((1, 5))}, protocol=2), "not 'video_id,timestamp'"),
    ("intkey", pickle.dumps({902: np.zeros((1, 5))}, protocol=2), "not 'video_id,timestamp'"),
    ("columns", pickle.dumps({"v,0902": np.zeros((1, 3))}, protocol=2), "shape"),
    ("nan", pickle.dumps({"v,0902": np.full((1, 5), np.nan)}, protocol=2), "non-finite"),
    ("objects", pickle.dumps({"v,0902": np.array([[1, "a"]], dtype=object)}, protocol=2), "refused"),
    ("bytes-args", b"\x80\x02c__builtin__\nbytes\nX\x01\x00\x00\x00aq\x00\x85R.", "bytes built from arguments"),
    ("protocol5", pickle.dumps({"v,0902": np.zeros((1, 5))}, protocol=5), "_frombuffer"),
    ("truncated", pickle.dumps({"v,0902": np.zeros((1, 5))}, protocol=2)[:-5], "Cannot read"),
])
def test_hostile_or_wrong_proposal_pickles_refused(tmp_path, name, payload, match):
    marker = tmp_path / "executed"
    path = tmp_path / f"{name}.pkl"
    path.write_bytes(_hostile_pickle(marker) if payload is None else payload)
    with pytest.raises(AnnotationError, match=match):
        read_proposals(path)
    assert not marker.exists()


def test_pyslowfast_box_csv(tmp_path):
    p = tmp_path / "ava_val_predicted_boxes.csv"
    p.write_text("v,902,0.1,0.2,0.3,0.4,,0.95\n"
                 "v,0902,0.1,0.2,0.3,0.4,,0.96\n"      # the same box text: kept once
                 "v,0902,0.10,0.2,0.3,0.4,,0.85\n"     # other text: another box (as PySlowFast)
                 "v,0902,0.5,0.5,0.6,0.6,1,0.79\n"     # below 0.8: dropped
                 "\n"
                 "w,1000,0.0,0.0,1.0,1.0,,0.8\n")
    got = read_proposals(p)  # 8 fields: PySlowFast
    assert got["v,0902"].tolist() == [[.1, .2, .3, .4, .95], [.1, .2, .3, .4, .85]]
    assert got["w,1000"].tolist() == [[0, 0, 1, 1, .8]]
    assert read_proposals(p, format="pyslowfast", score_threshold=0.9)["v,0902"].shape == (1, 5)
    assert "w,1000" not in read_proposals(p, format="pyslowfast", score_threshold=0.9)


def test_plain_box_file(tmp_path):
    p = tmp_path / "boxes.txt"
    p.write_text("# video_id,timestamp,x1,y1,x2,y2[,score]\nv,902,0.1,0.2,0.3,0.4\nv,902,0.1,0.2,0.3,0.4,0.5\n")
    assert read_proposals(p, format="boxes")["v,0902"].tolist() == [[.1, .2, .3, .4, 1], [.1, .2, .3, .4, .5]]
    p.write_text("v,902,10,20,30,40\n")
    with pytest.raises(AnnotationError, match=r"boxes.txt:1: x1 '10' is outside \[0, 1\]"):
        read_proposals(p, format="boxes")
    with pytest.raises(UsageError):
        read_proposals(p, format="yaml")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- annotations
def test_annotations_grouped_and_custom_classes(ava_files):
    gt = read_ava_annotations(ava_files["ann"])
    assert list(gt) == ["vidAAAAAAAA,0902", "vidAAAAAAAA,0903", "vidAAAAAAAA,1798", "vidBBBBBBBB,1000",
                        "vidBBBBBBBB,0901"]
    sub = read_ava_annotations(ava_files["ann"], custom_classes=[80, 12])
    assert sub["vidAAAAAAAA,0902"].labels == ((1,), (2,))
    assert "vidBBBBBBBB,0901" not in sub  # none of its actions is kept
    assert read_ava_exclusions(ava_files["exclude"]) == {("vidAAAAAAAA", 903)}
    with pytest.raises(UsageError):
        read_ava_annotations(ava_files["ann"], custom_classes=[0, 12])


@pytest.mark.parametrize("reader, text, match", [
    (read_ava_annotations, "v,0902,0.1,0.2,0.3,0.4,12\n", r"a.csv:1: expected 8 columns .*got 7 columns"),
    (read_ava_annotations, "v,0902,0.1,0.2,0.3,0.4,12,0\nv,09x2,0.1,0.2,0.3,0.4,12,0\n",
     r"a.csv:2: column 2 \(timestamp\) must be an integer"),
    (read_ava_annotations, "\nv,0902,0.1,0.2,nan,0.4,12,0\n", r"a.csv:2: column 5 \(x2\) must be a finite"),
    (read_ava_annotations, "v,0902,0.1,0.2,0.3,0.4,12,0\nv,0902,0.1,0.2,1.3,0.4,12,0\n",
     r"a.csv:2: column 5 \(x2\) 1.3 is outside \[0, 1\]"),
    (read_ava_annotations, "v,0902,0.1,0.2,0.3,0.4,0,0\n", r"a.csv:1: action_id must be >= 1"),
    (read_ava_annotations, " ,0902,0.1,0.2,0.3,0.4,1,0\n", r"a.csv:1: video_id"),
    (read_ava_annotations, "v,0902,0.1,0.2,0.3,0.4,1,x\n", r"a.csv:1: column 8 \(person_id\) must be a number"),
    (read_ava_annotations, "v,0902,0.1,0.2,0.3,0.4,1,0\nv,0902,0.1,0.2,0.3,0.4,1,1.5\n",
     r"a.csv:2: column 8 \(person_id\) must be an integer"),
    (read_ava_exclusions, "v,0902\nv\n", r"a.csv:2: expected 2 columns"),
    (read_ava_exclusions, "v,09.02\n", r"a.csv:1: column 2 \(timestamp\) must be an integer"),
    (read_proposals, "v,0902,0.1,0.2,0.3,0.4,,high\n", r"a.csv:1: score must be a number"),
    (read_proposals, "v,0902,0.1,0.2,0.3,0.4,,0.9\nv,0902,0.1\n", r"a.csv:2: 3 comma-separated fields"),
])
def test_malformed_lines_name_file_and_line(tmp_path, reader, text, match):
    (tmp_path / "a.csv").write_text(text)
    with pytest.raises(AnnotationError, match=match):
        reader(tmp_path / "a.csv")


@pytest.mark.parametrize("reader", [read_ava_annotations, read_ava_exclusions, read_proposals])
def test_missing_unreadable_and_oversized_files(tmp_path, monkeypatch, reader):
    with pytest.raises(InputFileError, match="no such file"):
        reader(tmp_path / "missing.csv")
    with pytest.raises(InputFileError, match="is a directory"):
        reader(tmp_path)
    if hasattr(os, "mkfifo"):  # refused before open(): reading a FIFO would block
        os.mkfifo(tmp_path / "fifo.csv")
        with pytest.raises(InputFileError, match="not a regular file"):
            reader(tmp_path / "fifo.csv")
    (tmp_path / "b.csv").write_bytes(b"\xff\xfe,0902\n")
    with pytest.raises(AnnotationError, match="not UTF-8"):
        reader(tmp_path / "b.csv")
    line = "v,0902\n" if reader is read_ava_exclusions else "v,0902,0.1,0.2,0.3,0.4,1,0\n"
    (tmp_path / "big.csv").write_text(line * 3)
    monkeypatch.setattr(ava_files_module, "MAX_CSV_BYTES", 12)  # every AVA CSV: the limits of data.ava_files
    with pytest.raises(AnnotationError, match="more than the 12 accepted .*refused unread"):
        reader(tmp_path / "big.csv")
    monkeypatch.setattr(ava_files_module, "MAX_CSV_BYTES", 1 << 20)
    monkeypatch.setattr(ava_files_module, "MAX_CSV_ROWS", 2)
    with pytest.raises(AnnotationError, match="big.csv:3: more than 2 rows"):
        reader(tmp_path / "big.csv")


def test_oversized_proposal_pickle_refused_unread(tmp_path, monkeypatch):
    (tmp_path / "p.pkl").write_bytes(pickle.dumps({"v,0902": np.zeros((4, 5))}, protocol=2))
    monkeypatch.setattr(ava_boxes, "MAX_FILE_BYTES", 64)
    with pytest.raises(AnnotationError, match="refused unread"):
        read_proposals(tmp_path / "p.pkl")
    monkeypatch.setattr(ava_boxes, "MAX_FILE_BYTES", 1 << 20)
    monkeypatch.setattr(ava_boxes, "MAX_ROWS", 3)
    with pytest.raises(AnnotationError, match="more than 3 proposals"):
        read_proposals(tmp_path / "p.pkl")


# ----------------------------------------------------------------------------- review: hostile files
def test_label_map_txt_line_of_many_spaces_reads_in_linear_time(tmp_path):
    """`\\s*:\\s*(.*?)\\s*$` backtracked over every inner run of spaces: 40,000 took 4 s, a 4 MB line hours."""
    import time

    path = tmp_path / "label_map.txt"
    path.write_text("1: a" + " " * 200_000 + "b\n2:  walk \r\n")  # the old pattern: about 2 minutes
    start = time.perf_counter()
    labels = ava_files_module.read_ava_label_map(path)
    assert time.perf_counter() - start < 5
    assert labels[1] == "a" + " " * 200_000 + "b" and labels[2] == "walk"


@pytest.mark.parametrize("text, match", [
    ("v," + "9" * 400 + ",0.1,0.1,0.5,0.5\n", "timestamp .* is outside"),  # float(int(...)) overflowed later
    ("v,-1,0.1,0.1,0.5,0.5\n", "timestamp '-1' is outside"),
    ("v,902,0.5,0.5,0.1,0.1\n", "is inverted"),
    ("v,902,0.1,0.1,0.5,0.5,1,0.9\n", None),  # PySlowFast's 8 columns read
    ("v,902,0.5,0.1,0.1,0.5,,0.9\n", "is inverted"),
])
def test_box_csv_timestamps_and_inverted_boxes(tmp_path, text, match):
    (tmp_path / "b.csv").write_text(text)
    if match is None:
        assert list(read_proposals(tmp_path / "b.csv")) == ["v,0902"]
        return
    with pytest.raises(AnnotationError, match=match):
        read_proposals(tmp_path / "b.csv")


def test_proposal_pickle_keys_are_bounded_and_canonical(tmp_path):
    box = np.array([[.1, .1, .5, .5, .9]])
    for key in ("v," + "9" * 5000, "v," + "9" * 10, "v,\u0669\u0660\u0662"):  # int() limits, Arabic-Indic digits
        (tmp_path / "k.pkl").write_bytes(pickle.dumps({key: box}, protocol=2))
        with pytest.raises(AnnotationError, match="at most 9 digits"):
            read_proposals(tmp_path / "k.pkl")
    # "v,902" is the dataset's "v,0902" (it would never match, and every keyframe would get the whole frame)
    (tmp_path / "k.pkl").write_bytes(pickle.dumps({"v,902": box}, protocol=2))
    assert list(read_proposals(tmp_path / "k.pkl")) == ["v,0902"]
    (tmp_path / "k.pkl").write_bytes(pickle.dumps({"v,902": box, "v,0902": box}, protocol=2))
    with pytest.raises(AnnotationError, match="same keyframe 'v,0902'"):
        read_proposals(tmp_path / "k.pkl")


def test_keyframe_proposals_refuse_an_inverted_kept_box():
    with pytest.raises(AnnotationError, match="is inverted"):
        keyframe_proposals({"v,0902": np.array([[.5, .5, .1, .1, .95]])}, "v,0902")
