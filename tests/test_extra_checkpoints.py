"""The 11 other MMAction2 SlowFast checkpoints (issue 12): the two new architectures against
MMAction2 1.2.0's golden outputs through real files of both generations, mmengine checkpoints
read without building their objects, identification hints, alternative URLs, and each
weight's own protocol (1.x sampling, Something-Something V1's clip, template, labels).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import slowfast_zoo as sz
import weightgen
from slowfast_zoo.cli import main as cli_main
from slowfast_zoo.data import RawframeDataset, TestTransform, VideoDataset, sample_frames
from slowfast_zoo.errors import CheckpointError, UsageError
from slowfast_zoo.registry import get_arch_spec
from slowfast_zoo.weights import loader as sources
from test_loading import assert_golden, assert_weights_equal
from video_factory import make_video
from weightgen import (
    MODEL_NAMES,
    fake_mmengine_importable,
    generate_state_dict,
    load_golden,
    weights_sha256,
    write_mmaction2_checkpoint,
    write_mmengine_checkpoint,
)

LN, SS = "r50_8x8x1_ln", "r50_16x8x1_sthv1"


class Files:
    """Generated state dicts and checkpoint files of the two architectures, built once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sd: dict[str, dict[str, torch.Tensor]] = {}
        self._files: dict[str, Path] = {}

    def state_dict(self, arch: str) -> dict[str, torch.Tensor]:
        if arch not in self._sd:
            self._sd[arch] = generate_state_dict(arch)
        return self._sd[arch]

    def file(self, kind: str) -> Path:
        """``ln_mmengine_training``, ``ln_0x``, ``sthv1_0x`` or ``r50_8x8x1_0x``."""
        if kind not in self._files:
            if kind == "ln_mmengine_training":
                path = write_mmengine_checkpoint(self.state_dict(LN), self.root / "mm1",
                                                 "slowfast_r50_8xb8-8x8x1-steplr-256e_kinetics400-rgb",
                                                 training_state=True)
            elif kind == "ln_0x":
                path = write_mmaction2_checkpoint(self.state_dict(LN), self.root / "0x", "slowfast_ln_gen")
            elif kind == "sthv1_0x":
                path = write_mmaction2_checkpoint(self.state_dict(SS), self.root / "0x",
                                                  "slowfast_r50_16x8x1_22e_sthv1_rgb", with_optimizer=True)
            elif kind == "r50_8x8x1_0x":
                path = write_mmaction2_checkpoint(generate_state_dict("r50_8x8x1"), self.root / "0x",
                                                  "slowfast_r50_8x8x1_gen")
            else:
                raise KeyError(kind)
            self._files[kind] = path
        return self._files[kind]


@pytest.fixture(scope="module")
def files(loopback_server) -> Iterator[Files]:
    root = loopback_server.root / "extra"  # served: the same files are reachable by URL
    root.mkdir()
    yield Files(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_constructions() -> Iterator[None]:
    weightgen.CONSTRUCTED.clear()
    yield
    weightgen.CONSTRUCTED.clear()


# ------------------------------------------------------------------------- golden parity
@pytest.mark.parametrize("arch", [LN, SS])
def test_generator_matches_golden_weights(files: Files, arch: str) -> None:
    assert weights_sha256(files.state_dict(arch)) == load_golden(arch)["weights_sha256"]


def test_lateral_norm_mmengine_training_checkpoint_over_loopback(
        files: Files, http_server, caplog: pytest.LogCaptureFixture) -> None:
    """A user's own 1.x training checkpoint (message_hub with mmengine objects, numpy arrays,
    optimizer, param_schedulers), served on 127.0.0.1: its weights load and reproduce
    MMAction2 1.2.0's outputs; no mmengine object is built, even where one could be."""
    path = files.file("ln_mmengine_training")
    with fake_mmengine_importable():
        # The file really holds objects a full unpickle would build (so this test can fail).
        torch.load(path, weights_only=False)
        assert weightgen.CONSTRUCTED
        weightgen.CONSTRUCTED.clear()
        with caplog.at_level(logging.INFO, logger="slowfast_zoo.weights.readers"):
            model = sz.create_model("slowfast_r50_8x8x1_ln.k400_mm1_steplr", pretrained=True,
                                    checkpoint_path=http_server.url(path))
    assert weightgen.CONSTRUCTED == []
    assert http_server.requests == [f"/extra/mm1/{path.name}"]
    stood_in = [r.getMessage() for r in caplog.records if "stood in for" in r.getMessage()]
    assert len(stood_in) == 1
    assert "mmengine.logging.history_buffer.HistoryBuffer" in stood_in[0]
    assert "mmengine.logging.message_hub.MessageHub" in stood_in[0]
    assert model.spec.lateral_norm and isinstance(model.laterals[0].bn, torch.nn.BatchNorm3d)
    assert_weights_equal(model, files.state_dict(LN))
    assert_golden(model, LN)


def test_mmengine_objects_never_importable(files: Files) -> None:
    """Without mmengine installed (the usual case) the same file loads all the same."""
    model = sz.create_model("slowfast_r50_8x8x1_ln", pretrained=True,
                            checkpoint_path=files.file("ln_mmengine_training"))
    assert_golden(model, LN)


def test_sthv1_0x_file_local(files: Files) -> None:
    model = sz.create_model("slowfast_r50_16x8x1", pretrained=True, checkpoint_path=files.file("sthv1_0x"))
    assert model.pretrained_cfg.name == "slowfast_r50_16x8x1.sthv1" and model.num_classes == 174
    assert model.class_names == tuple(f"class_{i}" for i in range(174))
    assert_weights_equal(model, files.state_dict(SS))
    assert_golden(model, SS)


@pytest.mark.parametrize("arch", [LN, SS])
def test_fused_channels_last_fast_path_keeps_golden_outputs(files: Files, arch: str) -> None:
    kind = "ln_0x" if arch == LN else "sthv1_0x"
    model = sz.create_model(MODEL_NAMES[arch], pretrained=True, checkpoint_path=files.file(kind))
    golden = load_golden(arch)
    x = weightgen.golden_input(golden)
    model = sz.inference.prepare_model(model, device="cpu")  # eval, BN folded, channels_last_3d
    assert model.is_fused
    if arch == LN:
        assert all(isinstance(lat.bn, torch.nn.Identity) and lat.bias is not None for lat in model.laterals)
    with torch.no_grad():
        logits = model(x.contiguous(memory_format=torch.channels_last_3d))
        one = model(x[:1].contiguous(memory_format=torch.channels_last_3d))  # one clip per forward
    torch.testing.assert_close(logits, torch.tensor(golden["logits"]), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(one[0], torch.tensor(golden["logits"][0]), atol=1e-4, rtol=1e-4)
    assert logits.argmax(1).tolist() == golden["argmax_per_view"]


@pytest.mark.parametrize("arch", ["r50_4x16x1", "r50_8x8x1", "r101_8x8x1", "r101_r50_4x16x1"])
def test_1x_weights_of_the_existing_architectures_load_published_mmengine_files(arch: str,
                                                                               tmp_path: Path) -> None:
    """The 1.x zoo's files as published ({'meta', 'state_dict'} saved by mmengine) reproduce the
    golden outputs, which MMAction2 0.x and 1.2.0 give bit-identically for these networks."""
    path = write_mmengine_checkpoint(generate_state_dict(arch), tmp_path, f"slowfast_{arch}_1x")
    model = sz.create_model(f"slowfast_{arch}.k400_mm1", pretrained=True, checkpoint_path=path)
    assert model.pretrained_cfg.mmaction2 == "1.x" and model.pretrained_cfg.test.sampling_rule == "1.x"
    assert_golden(model, arch)


# ------------------------------------------------------------------------- identification
def _load_error(name: str, path: Path, **kw) -> str:
    with pytest.raises(CheckpointError) as e:
        sz.create_model(name, pretrained=True, checkpoint_path=path, **kw)
    return str(e.value)


def test_lateral_norm_file_into_plain_architecture_names_the_ln_one(files: Files) -> None:
    msg = _load_error("slowfast_r50_8x8x1", files.file("ln_0x"))
    assert "backbone.slow_path.conv1_lateral.bn.weight" in msg  # the file's own key names
    assert "with BatchNorm (lateral_norm)" in msg
    assert "it fits slowfast_r50_8x8x1_ln (tags k400_steplr, k400_steplr_prebn, k400_multigrid, " \
           "k400_mm1_steplr)" in msg
    # The hint comes before the key listing.
    assert msg.index("it fits") < msg.index("unexpected")


def test_plain_file_into_lateral_norm_architecture_names_the_plain_one(files: Files) -> None:
    msg = _load_error("slowfast_r50_8x8x1_ln", files.file("r50_8x8x1_0x"))
    assert "lateral kernel 7 without BatchNorm" in msg
    assert "slowfast_r50_8x8x1 (tags k400_320p, k400_mm1)" in msg and "slowfast_r50_16x8x1 (tags sthv1)" in msg


def test_kernel5_file_into_lateral_norm_architecture(loopback_server, tmp_path: Path) -> None:
    sd = generate_state_dict("r50_8x8x1", fusion_kernel=5)
    path = write_mmaction2_checkpoint(sd, tmp_path, "slowfast_k5")
    msg = _load_error("slowfast_r50_8x8x1_ln", path)
    assert "lateral kernel 5 without BatchNorm" in msg
    assert "slowfast_r50_8x8x1 (tags k400_256p)" in msg and "slowfast_r50_4x16x1 (tags" in msg
    assert "file [16, 8, 5, 1, 1] vs model [16, 8, 7, 1, 1]" in msg


def test_sthv1_file_into_kinetics_architecture_names_the_sthv1_weight(files: Files) -> None:
    msg = _load_error("slowfast_r50_8x8x1", files.file("sthv1_0x"))
    assert "174-class classifier" in msg and "slowfast_r50_16x8x1.sthv1" in msg


def test_sthv1_backbone_fine_tunes_into_another_head(files: Files) -> None:
    model = sz.create_model("slowfast_r50_16x8x1", pretrained=True, num_classes=7,
                            checkpoint_path=files.file("sthv1_0x"))
    assert model.num_classes == 7 and model.class_names[0] == "class_0"
    sd = files.state_dict(SS)
    assert torch.equal(model.laterals[2].weight, sd["backbone.slow_path.layer2_lateral.conv.weight"])


# ------------------------------------------------------------------------- download
def test_alternative_url_is_tried_when_the_first_is_missing(files: Files, http_server, caplog) -> None:
    path = files.file("ln_0x")
    sha = path.stem.rsplit("-", 1)[1]
    cfg = dataclasses.replace(
        sz.get_pretrained_cfg("slowfast_r50_8x8x1_ln.k400_mm1_steplr"), sha256_prefix=sha,
        url=f"{http_server.base_url}/extra/0x/moved_20220901-{sha}.pth",
        alternative_urls=(http_server.url(path),))
    model = sz.SlowFast(get_arch_spec(cfg.name), pretrained_cfg=cfg)
    with caplog.at_level(logging.WARNING):
        sources.load_pretrained(model, cfg, progress=False)
    assert http_server.requests == [f"/extra/0x/moved_20220901-{sha}.pth", f"/extra/0x/{path.name}"]
    assert any("alternative URL" in r.getMessage() for r in caplog.records)
    assert_golden(model, LN)
    # Warm cache: the file that worked is found first, without asking the missing URL again.
    http_server.clear()
    again = sz.SlowFast(get_arch_spec(cfg.name), pretrained_cfg=cfg)
    sources.load_pretrained(again, cfg, progress=False)
    assert http_server.requests == []
    assert_golden(again, LN)


# ------------------------------------------------------------------------- protocols
_1X = json.loads((weightgen.REFERENCE / "sample_frames_test_1x_public.json").read_text())["cases"]


@pytest.mark.parametrize("case", _1X, ids=lambda c: "n{total_frames}-{clip_len}x{frame_interval}x"
                         "{num_clips}-s{start_index}".format(**c))
def test_sample_frames_1x_rule_matches_mmaction2_1x(case: dict) -> None:
    got = sample_frames(case["total_frames"], case["clip_len"], case["frame_interval"], case["num_clips"],
                        test_mode=True, start_index=case["start_index"], rule="1.x")
    assert got.tolist() == case["frame_inds"]


def test_rules_differ_and_bad_rule_is_refused() -> None:
    differ = [c for c in _1X if sample_frames(c["total_frames"], c["clip_len"], c["frame_interval"],
                                              c["num_clips"], test_mode=True,
                                              start_index=c["start_index"]).tolist() != c["frame_inds"]]
    assert differ  # the 0.x rule gives other frames on part of the grid
    with pytest.raises(ValueError, match="rule must be one of '0.x', '1.x'"):
        sample_frames(100, 32, 2, 10, test_mode=True, rule="2.x")
    # Train mode is the same in both generations.
    a = sample_frames(300, 32, 2, 1, test_mode=False, rng=np.random.RandomState(3))
    b = sample_frames(300, 32, 2, 1, test_mode=False, rng=np.random.RandomState(3), rule="1.x")
    assert a.tolist() == b.tolist()


@pytest.mark.parametrize("name", sz.list_models(pretrained=True))
def test_each_weight_test_transform_follows_its_generation(name: str) -> None:
    cfg = sz.get_pretrained_cfg(name)
    for views in ("test", "val"):
        tf = sz.data.test_transform(name, views=views)
        assert tf.sampling_rule == cfg.mmaction2
        n = 300
        expected = sample_frames(n, tf.clip_len, tf.frame_interval, tf.num_clips, test_mode=True,
                                 rule=cfg.mmaction2)
        assert tf.sample(n).tolist() == expected.tolist()
    case = next(c for c in _1X if (c["total_frames"], c["clip_len"], c["num_clips"], c["start_index"])
                == (300, 32, 10, 0) and c["frame_interval"] == 2)
    if cfg.mmaction2 == "1.x":
        assert sz.data.test_transform(name).sample(300).tolist() == case["frame_inds"]
    elif cfg.test.num_clips == 10:
        assert sz.data.test_transform(name).sample(300).tolist() != case["frame_inds"]


def test_eval_protocol_follows_the_weights_rule() -> None:
    import argparse

    from slowfast_zoo.cli.eval import _protocol

    args = argparse.Namespace(clip_len=None, frame_interval=None, num_clips=None, num_crops=None,
                              short_side=None, crop_size=None, average_clips=None, start_index=None,
                              data_format="video")
    for name, rule in (("slowfast_r101_8x8x1.k400_mm1", "1.x"), ("slowfast_r101_8x8x1", "0.x")):
        protocol, tf = _protocol(sz.get_pretrained_cfg(name), args)
        assert protocol["sampling_rule"] == tf.sampling_rule == rule and protocol["published"]


def test_predict_and_features_follow_the_1x_rule(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.mp4", 100, 48, 64, fps=25)
    from slowfast_zoo.inference.features import extract_features
    from slowfast_zoo.inference.predict import protocol_transform

    model = sz.create_model("slowfast_r50_4x16x1.k400_mm1").eval()
    assert protocol_transform(model, None).sampling_rule == "1.x"
    feats = extract_features(model, video, num_clips=3, crop_size=32, resize_short_side=32,
                                          prepare=False)
    n = sz.data.VideoReader(video).num_frames
    expected = sample_frames(n, 32, 2, 3, test_mode=True, rule="1.x").reshape(3, 32)
    assert feats.frame_indices.tolist() == expected.tolist()
    assert expected.tolist() != sample_frames(n, 32, 2, 3, test_mode=True).reshape(3, 32).tolist()


def _rawframes(folder: Path, n: int, tmpl: str, hw: tuple[int, int] = (48, 64)) -> Path:
    from torchvision.io import encode_jpeg

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, n + 1):
        img = torch.from_numpy(rng.integers(0, 256, (3, *hw), dtype=np.uint8))
        (folder / tmpl.format(i)).write_bytes(encode_jpeg(img).numpy().tobytes())
    return folder


def test_sthv1_test_protocol_on_its_own_rawframes(tmp_path: Path) -> None:
    frames = _rawframes(tmp_path / "clip1", 40, "{:05}.jpg")
    tf = sz.data.test_transform("slowfast_r50_16x8x1")
    assert tf.filename_tmpl == "{:05}.jpg" and tf.output_shape == (1, 3, 64, 256, 256)
    views = tf.load(frames)  # the folder's frames are counted with the weight's template
    assert views.shape == (1, 3, 64, 256, 256)
    # One 64-frame clip of every 2nd frame, looped, from frame 1: exactly what the reader is asked.
    expected = sample_frames(40, 64, 2, 1, test_mode=True, start_index=1)
    reader = sz.data.RawframeReader(frames, "{:05}.jpg")
    manual = TestTransform(clip_len=64, frame_interval=2, num_clips=1, resize_short_side=256, crop_size=256,
                           num_crops=1)(reader.read(expected))
    torch.testing.assert_close(views, manual, rtol=0, atol=0)
    ann = tmp_path / "val.txt"
    ann.write_text("clip1 40 3\n")
    ds = RawframeDataset(ann, tmp_path, tf)
    assert ds.filename_tmpl == "{:05}.jpg"
    torch.testing.assert_close(ds[0][0], views, rtol=0, atol=0)


def test_sthv1_train_flip_swaps_labels(tmp_path: Path) -> None:
    make_video(tmp_path / "v.mp4", 70, 40, 56, fps=25)
    ann = tmp_path / "train.txt"
    ann.write_text("v.mp4 2\nv.mp4 3\nv.mp4 41\n")
    name = "slowfast_r50_16x8x1.sthv1"
    flipping = sz.data.train_transform(name, rng=np.random.default_rng(7))
    plain = sz.data.train_transform(name, flip=False, rng=np.random.default_rng(7))  # same draws
    assert flipping.flip_label_map == {2: 4, 4: 2, 30: 41, 41: 30, 52: 66, 66: 52}
    assert flipping.resize_short_side is None and flipping.clip_len == 64
    ds_f, ds_p = VideoDataset(ann, tmp_path, flipping), VideoDataset(ann, tmp_path, plain)
    seen = {True: set(), False: set()}
    for _ in range(6):
        for i, label in enumerate((2, 3, 41)):
            vf, yf, _ = ds_f[i]
            vp, yp, _ = ds_p[i]
            assert yp == label  # no flip, no swap
            flipped = torch.equal(vf, vp.flip(-1)) and not torch.equal(vf, vp)
            assert flipped or torch.equal(vf, vp)  # the same draws: flipped or identical
            assert yf == (flipping.flip_label(label) if flipped else label)
            seen[flipped].add(label)
    assert seen[True] and seen[False]  # both outcomes were drawn
    assert {2: 4, 3: 3, 41: 30} == {k: flipping.flip_label(k) for k in (2, 3, 41)}
    # A Kinetics weight's train transform swaps nothing.
    assert sz.data.train_transform("slowfast_r50_4x16x1").flip_label_map == {}


# ------------------------------------------------------------------------- save / export / finetune
@pytest.mark.parametrize("arch", [LN, SS])
def test_save_pretrained_local_dir_round_trip(files: Files, arch: str, tmp_path: Path) -> None:
    kind = "ln_0x" if arch == LN else "sthv1_0x"
    model = sz.create_model(MODEL_NAMES[arch], pretrained=True, checkpoint_path=files.file(kind))
    sz.save_pretrained(model, tmp_path / "saved")
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["lateral_norm"] == (arch == LN) and config["test"]["sampling_rule"] == "0.x"
    again = sz.create_model(f"local-dir:{tmp_path / 'saved'}")
    assert again.spec == model.spec and again.pretrained_cfg == model.pretrained_cfg
    assert_golden(again, arch)


@pytest.mark.parametrize("arch", [LN, SS])
def test_hf_hub_round_trip(files: Files, arch: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_hub import FakeHub

    kind = "ln_0x" if arch == LN else "sthv1_0x"
    model = sz.create_model(MODEL_NAMES[arch], pretrained=True, checkpoint_path=files.file(kind))
    hub = FakeHub()
    try:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf_cache"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        hub.add("someone/extra", sz.save_pretrained(model, tmp_path / "saved"))
        again = sz.create_model("hf-hub:someone/extra")
    finally:
        hub.close()
    assert again.spec == model.spec and again.pretrained_cfg.name == model.pretrained_cfg.name
    assert again.pretrained_cfg.test == model.pretrained_cfg.test
    assert_golden(again, arch)


_HAVE_ORT = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime", "onnxscript"))


@pytest.mark.skipif(not _HAVE_ORT, reason="the export extra (onnx, onnxruntime, onnxscript) is not installed")
def test_onnx_export_of_lateral_norm(files: Files, tmp_path: Path) -> None:
    import onnxruntime as ort

    from slowfast_zoo.tools.export import export_onnx

    model = sz.create_model("slowfast_r50_8x8x1_ln", pretrained=True, checkpoint_path=files.file("ln_0x")).eval()
    path = export_onnx(model, tmp_path / "ln.onnx", size=64, dynamic_batch=True)
    golden = load_golden(LN)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"video": weightgen.golden_input(golden).numpy()})[0]
    torch.testing.assert_close(torch.from_numpy(got), torch.tensor(golden["logits"]), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("arch", [LN, SS])
def test_torchscript_export(files: Files, arch: str, tmp_path: Path) -> None:
    from slowfast_zoo.tools.export import export_torchscript

    kind = "ln_0x" if arch == LN else "sthv1_0x"
    model = sz.create_model(MODEL_NAMES[arch], pretrained=True, checkpoint_path=files.file(kind)).eval()
    path = export_torchscript(model, tmp_path / "m.pt", size=64)
    golden = load_golden(arch)
    traced = torch.jit.load(str(path))
    with torch.no_grad():
        out = traced(weightgen.golden_input(golden))
    torch.testing.assert_close(out, torch.tensor(golden["logits"]), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("arch", [LN, SS])
def test_finetune_one_step(files: Files, arch: str, tmp_path: Path) -> None:
    from slowfast_zoo.training.finetune import FinetuneConfig, finetune

    kind = "ln_0x" if arch == LN else "sthv1_0x"
    for i in range(2):
        make_video(tmp_path / f"v{i}.mp4", 20, 40, 40, fps=25)
    (tmp_path / "train.txt").write_text("v0.mp4 0\nv1.mp4 1\n")
    summary = finetune(FinetuneConfig(
        MODEL_NAMES[arch], str(tmp_path / "train.txt"), str(tmp_path / "run"), data_root=str(tmp_path),
        checkpoint_path=str(files.file(kind)), class_names=["a", "b"], epochs=1, batch_size=2,
        clip_len=8, frame_interval=2, resize_short_side=32, crop_size=32, val_crop_size=32,
        num_workers=0, freeze_stages=3))
    (line,) = summary["history"]
    assert line["iters"] == 1 and np.isfinite(line["loss"])
    tuned = sz.create_model(MODEL_NAMES[arch], pretrained=True, num_classes=2,
                            checkpoint_path=str(tmp_path / "run" / "latest.safetensors"))
    assert tuned.class_names == ("a", "b")
    if arch == LN:  # the lateral BatchNorms came through training and saving
        assert isinstance(tuned.laterals[0].bn, torch.nn.BatchNorm3d)
        assert not torch.equal(tuned.laterals[0].bn.weight, torch.ones(16))


# ------------------------------------------------------------------------- command line
def test_info_shows_dataset_and_input_size(capsys) -> None:
    assert cli_main(["info", "slowfast_r50_16x8x1"]) == 0
    out = capsys.readouterr().out
    assert "Something-Something V1" in out and "3 x 64 x 256 x 256" in out and "{:05}.jpg" in out
    assert cli_main(["info", "slowfast_r50_8x8x1.k400_mm1"]) == 0
    out = capsys.readouterr().out
    assert "Kinetics-400" in out and "3 x 32 x 256 x 256" in out and "1.x SampleFrames" in out


def test_list_shows_generations(capsys) -> None:
    assert cli_main(["list", "*mm1*", "--pretrained"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and all("MMAction2 1.x" in line for line in lines)


def test_predict_label_map_is_checked_before_any_download(tmp_path: Path, capsys, closed_port,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", f"http://127.0.0.1:{closed_port}/")
    bad = tmp_path / "labels.txt"
    bad.write_text("a\nb\n")
    video = make_video(tmp_path / "v.mp4", 10, 40, 32, fps=25)
    assert cli_main(["predict", str(video), "--model", "slowfast_r50_16x8x1",
                     "--label-map", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "2 class names" in err and "174 classes" in err
    assert "Traceback" not in err and "download" not in err.lower()
    assert cli_main(["predict", str(video), "--model", "slowfast_r50_16x8x1", "--label-map",
                     str(tmp_path / "none")]) == 2
    assert "cannot read the label map" in capsys.readouterr().err


def test_predict_sthv1_with_label_map(files: Files, tmp_path: Path, capsys) -> None:
    video = make_video(tmp_path / "v.mp4", 30, 40, 56, fps=25)
    names = tmp_path / "sthv1_labels.txt"
    names.write_text("".join(f"something {i}\n" for i in range(174)))
    assert cli_main(["predict", str(video), "--model", "slowfast_r50_16x8x1", "--weights",
                     str(files.file("sthv1_0x")), "--label-map", str(names), "--topk", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "slowfast_r50_16x8x1.sthv1" and out["views"] == 1
    assert len(out["topk"]) == 3 and all(p["label"] == f"something {p['index']}" for p in out["topk"])


def test_eval_uses_the_weights_own_rawframe_template(files: Files, tmp_path: Path, capsys) -> None:
    for i in (1, 2):
        _rawframes(tmp_path / "frames" / f"c{i}", 20, "{:05}.jpg")
    ann = tmp_path / "val.txt"
    ann.write_text("c1 20 5\nc2 20 7\n")
    out = tmp_path / "res.json"
    assert cli_main(["eval", "--model", "slowfast_r50_16x8x1", "--weights", str(files.file("sthv1_0x")),
                     "--ann-file", str(ann), "--data-root", str(tmp_path / "frames"),
                     "--data-format", "rawframes", "--short-side", "64", "--crop-size", "64",
                     "--out", str(out), "--no-progress"]) == 0
    result = json.loads(out.read_text())
    assert result["counts"]["evaluated"] == 2 and result["counts"]["skipped"] == 0
    assert result["protocol"]["num_views"] == 1 and result["protocol"]["clip_len"] == 64
    assert result["protocol"]["sampling_rule"] == "0.x"
    assert len(result["class_names"]) == 174
    from slowfast_zoo.data.labels import read_label_map

    with pytest.raises(UsageError):
        read_label_map(ann, 174)
