"""Tests of slowfast_zoo.inference.features: extract_features equals the step-by-step pooled
features; the example writes and resumes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

import slowfast_zoo as sz
from slowfast_zoo.data import TestTransform, VideoReader
from slowfast_zoo.inference.features import dense_clip_starts
from video_factory import make_video
from weightgen import generate_state_dict, write_mmaction2_checkpoint

ROOT = Path(__file__).resolve().parents[1]
ARCH = "slowfast_r50_4x16x1"
# Small protocol so the CPU test is quick: 8 frames (>= tau), short side 40, crop 32.
SMALL = dict(clip_len=8, frame_interval=2, resize_short_side=40, crop_size=32)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mmaction2_checkpoint(generate_state_dict("r50_4x16x1"),
                                      tmp_path_factory.mktemp("ckpt"), "slowfast_gen")


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("vid") / "clip.mp4", 40, width=56, height=48, fps=25)


def _model(checkpoint: Path) -> sz.SlowFast:
    return sz.create_model(ARCH, pretrained=True, checkpoint_path=checkpoint).eval()


@pytest.fixture(scope="module")
def model(checkpoint: Path) -> sz.SlowFast:
    """One unfused eval model shared by the tests that use ``prepare=False`` (never modified)."""
    return _model(checkpoint)


@pytest.mark.slow
def test_matches_forward_head_step_by_step(model: sz.SlowFast, video: Path) -> None:
    feats = sz.extract_features(model, video, num_clips=3, prepare=False, **SMALL)
    # The same views built by hand: test-mode sampling, resize, centre crop, normalise.
    tf = TestTransform(num_clips=3, num_crops=1, **SMALL)
    reader = VideoReader(video)
    idx = tf.sample(reader.num_frames)
    views = tf(reader.read(idx), indices=idx)
    with torch.no_grad():
        expected = model.forward_head(model.forward_features(views), pre_logits=True)
    assert feats.embeddings.shape == (3, 2304)
    torch.testing.assert_close(feats.embeddings, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(feats.frame_indices.numpy().reshape(-1), idx)
    starts = idx.reshape(3, 8)[:, 0]
    np.testing.assert_allclose(feats.timestamps[:, 0].numpy(), starts / 25.0)
    np.testing.assert_allclose(feats.timestamps[:, 1].numpy(), (starts + 15) / 25.0)


@pytest.mark.slow
def test_dense_stride_prepared_model_and_maps(model: sz.SlowFast, checkpoint: Path, video: Path) -> None:
    reference = model
    starts = dense_clip_starts(40, 8, 2, 10)
    assert starts.tolist() == [0, 10, 20]  # last frame 20 + 14 = 34 < 40; 30 would overrun
    feats = sz.extract_features(_model(checkpoint), video, stride=10, clips_per_chunk=2,
                                return_maps=True, device="cpu", **SMALL)
    tf = TestTransform(num_clips=1, num_crops=1, **SMALL)
    reader = VideoReader(video)
    rows = []
    for s in starts:
        idx = s + np.arange(8) * 2
        with torch.no_grad():
            rows.append(reference.forward_head(reference.forward_features(tf(reader.read(idx))),
                                               pre_logits=True))
    # prepare=True folds BatchNorm: equal within float rounding of the folded weights.
    torch.testing.assert_close(feats.embeddings, torch.cat(rows), rtol=1e-4, atol=1e-4)
    slow, fast = feats.maps
    assert slow.shape[:3] == (3, 2048, 1) and fast.shape[:3] == (3, 256, 8)
    torch.testing.assert_close(fast.mean((2, 3, 4)), feats.embeddings[:, :256], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(slow.mean((2, 3, 4)), feats.embeddings[:, 256:], rtol=1e-4, atol=1e-5)


def test_three_crops_average_and_bad_options(model: sz.SlowFast, video: Path) -> None:
    three = sz.extract_features(model, video, num_clips=2, crop="three", prepare=False,
                                **{**SMALL, "crop_size": 40})
    tf = TestTransform(num_clips=2, num_crops=3, **{**SMALL, "crop_size": 40})
    with torch.no_grad():
        per_view = model.forward_head(model.forward_features(tf.load(video)), pre_logits=True)
    torch.testing.assert_close(three.embeddings, per_view.view(3, 2, -1).mean(0), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="crop must be"):
        sz.extract_features(model, video, crop="left")
    with pytest.raises(ValueError, match="stride"):
        sz.extract_features(model, video, stride=0, prepare=False, **SMALL)


@pytest.mark.slow
def test_example_writes_files_and_resumes(checkpoint: Path, video: Path, tmp_path: Path) -> None:
    src = tmp_path / "videos"
    (src / "sub").mkdir(parents=True)
    make_video(src / "a.mp4", 24, width=48, height=40)
    make_video(src / "sub" / "b.mkv", 30, width=48, height=40)
    out = tmp_path / "feats"
    cmd = [sys.executable, str(ROOT / "examples" / "extract_features.py"), str(src), "--out", str(out),
           "--model", ARCH, "--checkpoint", str(checkpoint), "--clip-len", "8", "--frame-interval", "2",
           "--stride", "8", "--resize-short-side", "32", "--crop-size", "32", "--workers", "1",
           "--device", "cpu"]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "2",
           "TORCH_HOME": str(tmp_path / "th")}
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=300)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.safetensors"))
    assert files == ["a.mp4.safetensors", "sub/b.mkv.safetensors"]
    with safe_open(str(out / "a.mp4.safetensors"), "pt") as f:
        emb, ts = f.get_tensor("embeddings"), f.get_tensor("timestamps")
        assert f.metadata()["model"] == ARCH
    # 24 frames, clip span 15: starts 0 and 8.
    assert emb.shape == (2, 2304) and ts.shape == (2, 2)
    assert not list(out.rglob("*.partial"))
    # --resume: a finished file is not recomputed (its bytes stay, even if we mark it).
    marker = out / "a.mp4.safetensors"
    before = marker.stat().st_mtime_ns
    (out / "sub" / "b.mkv.safetensors").unlink()
    proc = subprocess.run(cmd + ["--resume"], check=True, env=env, capture_output=True, text=True,
                          timeout=300)
    assert "1 to do" in proc.stderr
    assert marker.stat().st_mtime_ns == before
    assert (out / "sub" / "b.mkv.safetensors").is_file()


def test_pyslowfast_layout_is_the_models_own(video: Path, tmp_path: Path) -> None:
    # PySlowFast's classifier takes the slow pathway's channels first: the embedding follows the
    # model (model.slow_channels / fast_channels), never a fixed fast-then-slow layout.
    spec = sz.registry.ARCHS["pysf_slowfast_r50_8x8"].replace(slow_base_channels=8)
    torch.manual_seed(0)
    model = sz.SlowFast(spec, num_classes=5).eval()
    feats = sz.extract_features(model, video, num_clips=2, prepare=False, return_maps=True, **SMALL)
    assert (feats.slow_channels, feats.fast_channels) == (model.slow_channels, model.fast_channels)
    slow_width = feats.maps[0].shape[1]
    assert model.slow_channels == slice(0, slow_width) and feats.layout == \
        f"slow[0:{slow_width}] fast[{slow_width}:{feats.embeddings.shape[1]}]"
    torch.testing.assert_close(feats.embeddings[:, feats.slow_channels], feats.maps[0].mean((2, 3, 4)),
                               rtol=1e-5, atol=1e-5)
    path = feats.save(tmp_path / "f.safetensors")
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata()["layout"] == feats.layout


def test_pyslowfast_weight_features_use_its_own_normalization(video: Path) -> None:
    # Clips are spread by the 1.x rule (the PyTorchVideo / PySlowFast samplers pick clips by time
    # for scoring), but pixels are resized, cropped and normalized by the weight's own transform
    # (/255, mean 0.45, std 0.225, RGB): the embedding equals the model's on those views.
    cfg = sz.get_pretrained_cfg("pysf_slowfast_r50_8x8")
    spec = sz.registry.ARCHS["pysf_slowfast_r50_8x8"].replace(slow_base_channels=8)
    torch.manual_seed(0)
    model = sz.SlowFast(spec, num_classes=5, pretrained_cfg=cfg).eval()
    feats = sz.extract_features(model, video, num_clips=1, prepare=False, **SMALL)
    tf = sz.data.test_transform(cfg, clip_len=8, frame_interval=2, num_clips=1, resize_short_side=40,
                                crop_size=32, num_crops=1)
    clip = sz.data.sample_frames(40, 8, 2, 1, test_mode=True, rule="1.x")
    reader = sz.data.VideoReader(video)
    views = tf.read_views(reader, np.asarray(clip).reshape(1, -1))
    # On [0, 1] with mean 0.45 and std 0.225 every value lies in [-2, 2.45] (MMAction2's 0-255 scale
    # with its means would reach -2.1 to 2.7 and differ everywhere).
    assert -2.0 - 1e-6 <= float(views.min()) and float(views.max()) <= 0.55 / 0.225 + 1e-6
    with torch.no_grad():
        expected = model.forward_head(model.forward_features(views), pre_logits=True)
    torch.testing.assert_close(feats.embeddings, expected, rtol=1e-4, atol=1e-4)
