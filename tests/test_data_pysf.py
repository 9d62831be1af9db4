"""The PyTorchVideo / PySlowFast test protocols against the frameworks' own outputs.

Reference: tests/data/pysf/pipeline_cases.json, trimmed from the golden pipeline files
(../shared/reference/pysf/pipeline_*_public.json, produced by PySlowFast 7fcc9cf / 7ad8378 and
PyTorchVideo 1fadaef / 4feccb60 / f4a68b27 on synthetic videos). The videos are regenerated here
with the recorded container settings: frame i is the constant RGB (i % 256, i // 256, 77), so each
output frame's source index is read back from its pixels.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import torch

import slowfast_zoo as sz
from slowfast_zoo.data import VideoReader
from slowfast_zoo.data.pysf_sampling import (PTV_RULES, linspace_indices, psf_charades_frames,
                                             psf_decoder_frames, psf_start_end_idx, ptv_clip_times,
                                             sample_pysf, segment_middle, video_timing)
from slowfast_zoo.data.pysf_transforms import (PysfTestTransform, normalize_frames, short_side_scale,
                                               short_side_size, uniform_crop_offsets)
from slowfast_zoo.errors import UsageError, VideoDecodeError
from slowfast_zoo.evaluation.metrics import average_precision, mean_average_precision

CASES: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "pysf" / "pipeline_cases.json").read_text())
PYSF_MEAN01, PYSF_STD01 = (0.45,) * 3, (0.225,) * 3


def write_index_video(path: Path, meta: dict[str, Any]) -> Path:
    """The golden files' synthetic video from its recorded description (png in mp4, ffv1 in mkv)."""
    m = re.match(r"\S+ \((\S+), codec (\S+), (\d+)x(\d+), (\d+) frames", meta["file"])
    assert m is not None
    container, codec, w, h, n = m.group(1), m.group(2), int(m.group(3)), int(m.group(4)), int(m.group(5))
    path = path.with_suffix(".mp4" if container == "mp4" else ".mkv")
    fps = Fraction(meta["fps_written"])
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "rgb24" if codec == "png" else "bgr0"
        for i in range(n):
            img = np.empty((h, w, 3), np.uint8)
            img[..., 0], img[..., 1], img[..., 2] = i % 256, i // 256, 77
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, 1 / fps
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with av.open(str(path)) as check:  # the recorded container facts are what the frameworks saw
        s = check.streams.video[0]
        assert str(s.time_base) == meta["time_base"] and s.duration == meta["stream_duration"]
    return path


def source_frames(views: torch.Tensor) -> torch.Tensor:
    """Source frame index of every pixel of normalized views ``[V, 3, T, H, W]`` (RGB asserted)."""
    v = torch.round(255 * (views * 0.225 + 0.45))
    assert bool((v[:, 2] == 77).all()), "channel 2 must be 77: RGB order"
    return (v[:, 0] + 256 * v[:, 1]).long()


def index_frames(n: int, h: int = 24, w: int = 32) -> torch.Tensor:
    frames = torch.empty(n, h, w, 3, dtype=torch.uint8)
    i = torch.arange(n)
    frames[..., 0], frames[..., 1], frames[..., 2] = (i % 256).view(n, 1, 1), (i // 256).view(n, 1, 1), 77
    return frames


def _close(got: torch.Tensor, want: Any, *, atol: float, rtol: float = 0.0) -> None:
    """|got - want| <= atol + rtol * |want| everywhere (the golden pixels carry 7 significant
    digits, so values up to 255 need the rtol)."""
    a = got.detach().double().numpy().reshape(-1)
    b = np.asarray(want.numpy() if isinstance(want, torch.Tensor) else want, dtype=np.float64).reshape(-1)
    assert a.shape == b.shape
    assert bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b))), float(np.max(np.abs(a - b)))


# ------------------------------------------------------------------------- frame selection
@pytest.mark.parametrize("case", CASES["clip_sampler_versions"], ids=lambda c: f"{c['video_duration']}-{c['clip_duration']}")
def test_ptv_clip_sampler_versions_exact(case: dict[str, Any]) -> None:
    for rule in PTV_RULES:
        got = ptv_clip_times(Fraction(case["video_duration"]), float(case["clip_duration"]), 10, rule)
        want = case[rule]
        assert len(got) == len(want) == 10
        for (s, e), (ws, we) in zip(got, want):
            if rule == "ptv_2021_04":  # float arithmetic, bit for bit
                assert (repr(s), repr(e)) == (ws, we)
            else:  # exact Fractions
                assert isinstance(s, Fraction) and (s, e) == (Fraction(ws), Fraction(we))


@pytest.mark.slow
@pytest.mark.parametrize("k", range(len(CASES["ptv_end_to_end"])))
def test_ptvkinetics_end_to_end(tmp_path: Path, k: int) -> None:
    case = CASES["ptv_end_to_end"][k]
    path = write_index_video(tmp_path / "v", case["video"])
    cfg = case["cfg"]
    # The golden run used the pinned PyTorchVideo (the PySlowFast pin needs it): its sampler.
    tf = sz.data.test_transform("pysf_slowfast_r50_8x8.k400_ptv", short_side=cfg["short_side"],
                                crop_size=cfg["TEST_CROP_SIZE"], clip_len=cfg["NUM_FRAMES"],
                                sampling_rule="ptv_pinned")
    reader = VideoReader(path)
    assert video_timing(reader).stream_duration == case["video"]["stream_duration"]
    views = tf.load(reader)
    assert tuple(views.shape) == (30, 3, cfg["NUM_FRAMES"], 16, 16)
    src = source_frames(views)
    assert bool((src == src[:, :, :1, :1]).all())  # constant frames stay constant
    for view in range(30):
        clip = view // 3  # clip-major, as the frameworks' test loaders order them
        fast = src[view, :, 0, 0]
        assert fast.tolist() == case["fast"][clip]
        slow = fast[linspace_indices(cfg["NUM_FRAMES"], cfg["NUM_FRAMES"] // cfg["SLOWFAST.ALPHA"])]
        assert slow.tolist() == case["slow"][clip]


def test_psf_start_end_grid_exact() -> None:
    for size, fps, nf, sr, use_offset, clip, clip_size, start, end, frames in CASES["psf_start_end_grid"]:
        cs = sr * nf / 30 * float(fps)
        s, e = psf_start_end_idx(size, cs, clip, 10, use_offset)
        assert (repr(float(cs)), repr(float(s)), repr(float(e))) == (clip_size, start, end)
        assert linspace_indices(size, nf, s, e).tolist() == frames


@pytest.mark.slow
def test_psf_classic_pyav_decode_exact(tmp_path: Path) -> None:
    for k, case in enumerate(CASES["psf_classic_pyav_decode"]):
        reader = VideoReader(write_index_video(tmp_path / f"d{k}", case["video"]))
        timing = video_timing(reader)
        for clip, frames in case["rows"]:
            assert psf_decoder_frames(timing, reader.num_frames, 32, 2, clip, 10).tolist() == frames, (k, clip)
        # and through the transform: pixels of clip 1 come from those frames
        tf = PysfTestTransform(sampling_rule="psf_decoder", clip_len=32, frame_interval=2, num_clips=10,
                               resize_short_side=16, crop_size=16, num_crops=1)
        src = source_frames(tf.load(reader))
        assert src[1, :, 0, 0].tolist() == case["rows"][1][1]


def test_segment_middle_and_psf_charades_exact() -> None:
    for length, n, frames in CASES["segment_middle"]:
        assert segment_middle(length, n).tolist() == frames
    for length, n, sr, clip, frames in CASES["psf_charades_test_frames"]:
        assert psf_charades_frames(length, n, sr, clip, 10).tolist() == frames


def test_ssv2_and_charades_end_to_end_frames_and_crops() -> None:
    # Frame folders: PySlowFast Ssv2 / PyTorchVideo SSv2 (segment middles) and Ptvcharades
    # (FrameVideo at 30 fps, pinned clip sampler).
    for case in CASES["ssv2_end_to_end"]:
        cfg = case["cfg"]
        crops = cfg["NUM_SPATIAL_CROPS"]
        charades = "charades" in case["dataset"].lower()
        per_video = cfg["NUM_ENSEMBLE_VIEWS"] * crops
        for item, fast in case["items"]:
            length = case["videos"][item // per_video][1]
            clip = (item % per_video) // crops
            rule = "ptv_pinned" if charades else "segment_middle"
            idx = sample_pysf(rule, length, clip_len=cfg["NUM_FRAMES"], frame_interval=cfg.get("SAMPLING_RATE", 2),
                              num_clips=cfg["NUM_ENSEMBLE_VIEWS"], clip_span=63 if charades else None)
            assert idx[clip].tolist() == fast
    # PySlowFast's single SSv2 crop is the left (top) one: its view index % NUM_SPATIAL_CROPS.
    tf = sz.data.test_transform("pysf_slowfast_r50_16x8.ssv2_multigrid", short_side=16, crop_size=8)
    assert tf.crop_indices == (0,) and tf.num_views == 1
    frames = index_frames(70, 16, 24)
    frames[..., 1] = torch.arange(24, dtype=torch.uint8).view(1, 1, 24)  # column index in green
    views = tf(frames[tf.sample(70)])
    assert int(torch.round(255 * (views[0, 1, 0, 0, 0] * 0.225 + 0.45))) == 0  # x offset 0


# ------------------------------------------------------------------------- spatial ops
def test_short_side_sizes_and_uniform_crops_exact() -> None:
    for h, w, size, out in CASES["short_side_scale_sizes"]:
        assert list(short_side_size(h, w, size)) == out
    for h, w, size, aug, x, y, _out in CASES["uniform_crop_video"]:
        assert uniform_crop_offsets(h, w, size, aug) == (y, x)
    for h, w, size, idx, scaled, x, y in CASES["psf_spatial_sampling"]["rows"]:
        assert list(short_side_size(h, w, size)) == scaled
        assert uniform_crop_offsets(scaled[0], scaled[1], size, idx) == (y, x)
    for n, k, idx in CASES["uniform_temporal_subsample"]:
        assert linspace_indices(n, k).tolist() == idx
    for t, alpha, idx in CASES["pack_pathway_output"]:
        assert linspace_indices(t, t // alpha).tolist() == idx


def test_short_side_scale_and_spatial_sampling_pixels() -> None:
    for case in CASES["short_side_scale_pixels"]:  # [C, T, h, w], values 0..255 stored to 7 digits
        h, w = case["input_hw"]
        out = short_side_scale(torch.tensor(case["input"], dtype=torch.float32).view(3, 2, h, w), case["size"])
        assert list(out.shape) == case["output_shape"]
        _close(out.flatten(), case["output"], atol=1e-5, rtol=1e-6)
    for case in CASES["psf_spatial_sampling"]["pixels"]:  # [T, C, H, W]
        t, h, w = case["input_THW"]
        s = case["size"]
        out = short_side_scale(torch.tensor(case["input"], dtype=torch.float32).view(t, 3, h, w), s)
        y, x = uniform_crop_offsets(int(out.shape[2]), int(out.shape[3]), s, case["spatial_idx"])
        out = out[:, :, y:y + s, x:x + s]
        assert list(out.shape) == case["output_shape"]
        _close(out.flatten(), case["output"], atol=1e-5)


def test_ptvkinetics_composed_transform_pixels() -> None:
    # The Compose Ptvkinetics builds (UniformTemporalSubsample, div255, Normalize, ShortSideScale,
    # UniformCropVideo), on numpy.random.default_rng(21) frames: normalized before resizing.
    clip = np.random.default_rng(21).integers(0, 256, size=(3, 40, 12, 16)).astype(np.float32)
    frames = torch.from_numpy(clip).permute(1, 2, 3, 0).to(torch.uint8)
    for case in CASES["composed_transforms"]:
        cfg = case["cfg"]
        tf = PysfTestTransform(sampling_rule="ptv_pinned", clip_len=cfg["frames"], frame_interval=cfg["sr"],
                               num_clips=1, resize_short_side=cfg["short"], crop_size=cfg["crop"],
                               num_crops=1, crop_index=case["aug_index"])
        views = tf(frames[linspace_indices(40, cfg["frames"])])
        want = torch.tensor(case["fast"]).view(case["fast_shape"])
        _close(views[0], want, atol=1e-5)


def test_normalization_table() -> None:
    x = torch.arange(256, dtype=torch.uint8).view(256, 1, 1, 1).expand(256, 1, 1, 3)
    got = normalize_frames(x, PYSF_MEAN01, PYSF_STD01)[:, :, 0, 0]
    want = torch.tensor(CASES["normalize_uint8"]).view(256, 1).expand(256, 3)
    _close(got, want, atol=1e-6)


# ------------------------------------------------------------------------- the transform
@pytest.mark.slow
def test_transform_interface_matches_test_transform() -> None:
    tf = sz.data.test_transform("pysf_slowfast_r50_8x8.k400_ptv", short_side=20, crop_size=16)
    assert tf.sampling_rule == "ptv_2021_04" and tf.num_views == 30 and tf.view_shape == (32, 16, 16)
    frames = index_frames(300)
    idx = tf.sample(300)  # a frame folder / no timestamps: FrameVideo's 30 fps
    assert idx.shape == (320,)
    whole = tf(frames[idx])
    chunks = torch.cat(list(tf.iter_views(tf.read_decoded(_Frames(frames), idx), 7)))
    assert torch.equal(whole, chunks)
    assert torch.equal(whole, tf.read_views(_Frames(frames), idx))
    clip_idx, box = tf.view_frames(300, 4, (24, 32))
    assert clip_idx.tolist() == idx.reshape(10, 32)[1].tolist() and box == (5, 2, 21, 18)
    assert source_frames(whole[4:5])[0, :, 0, 0].tolist() == clip_idx.tolist()
    one = sz.data.test_transform("pysf_slowfast_r50_8x8.k400_ptv", views=1)
    assert one.num_views == 1 and one.crop_indices == (1,)
    with pytest.raises(UsageError):
        PysfTestTransform(sampling_rule="0.x", clip_len=8, frame_interval=2, num_clips=1,
                          resize_short_side=16, crop_size=16)
    with pytest.raises(UsageError):
        sample_pysf("ptv_pinned", 0, clip_len=8, frame_interval=2, num_clips=1)


def test_sampler_versions_differ_on_the_last_clip() -> None:
    starts = {r: sample_pysf(r, 300, clip_len=32, frame_interval=2, num_clips=10)[-1, 0] for r in PTV_RULES}
    assert max(starts["ptv_2021_04"], starts["ptv_0_1_5"]) < starts["ptv_pinned"]


def test_psf_decoder_needs_a_frame_count() -> None:
    from slowfast_zoo.data.pysf_sampling import VideoTiming
    timing = VideoTiming((0, 512), Fraction(1, 15360), 0, 1024, 0, Fraction(30))
    with pytest.raises(VideoDecodeError, match="frame count"):
        psf_decoder_frames(timing, 2, 8, 2, 0, 10)


class _Frames:
    """A reader over frames in memory."""

    def __init__(self, frames: torch.Tensor) -> None:
        self.frames = frames

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    def read(self, indices: Any) -> torch.Tensor:
        return self.frames[torch.as_tensor(np.asarray(indices))]


# ------------------------------------------------------------------------- Charades mAP
def test_mean_average_precision_is_pyslowfast_get_map() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random((40, 6))
    labels = (rng.random((40, 6)) < 0.3).astype(np.int64)
    labels[:, 5] = 0  # a class without positives is dropped, as get_map drops it
    scores[:4, 0] = 0.5  # ties
    got = mean_average_precision(scores, labels)
    sklearn = pytest.importorskip("sklearn.metrics")
    want = float(np.mean(sklearn.average_precision_score(labels[:, :5], scores[:, :5], average=None)))
    assert got == pytest.approx(want, abs=1e-12)


def test_average_precision_by_hand() -> None:
    assert average_precision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(5 / 6)
    assert average_precision([0.5, 0.5, 0.5], [1, 0, 0]) == pytest.approx(1 / 3)
    with pytest.raises(UsageError):
        mean_average_precision([[0.1]], [[0]])
