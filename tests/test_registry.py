"""The registry of architectures and published weights, checked against the reference data."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import slowfast_zoo as sz
from slowfast_zoo.registry import ARCHS, PRETRAINED, get_arch_spec
from weightgen import REFERENCE, load_manifest

CHECKPOINTS = json.loads((REFERENCE / "checkpoints.json").read_text())["checkpoints"]

# Public weight names promised by the issue, with their published top-1 / top-5.
EXPECTED_TAGS = {
    "slowfast_r50_4x16x1.k400_256p": (74.75, 91.73, "145f1097"),
    "slowfast_r50_4x16x1.k400_video": (74.34, 91.58, "f85b90c5"),
    "slowfast_r50_4x16x1.k400_320p": (75.64, 92.30, "bcde7ed7"),
    "slowfast_r50_8x8x1.k400_256p": (75.61, 92.34, "863812c2"),
    "slowfast_r50_8x8x1.k400_320p": (76.94, 92.80, "73547d2b"),
    "slowfast_r101_r50_4x16x1.k400_256p": (76.69, 93.07, "d8b58813"),
    "slowfast_r101_8x8x1.k400_256p": (77.90, 93.51, "0dd54025"),
    "slowfast_r152_r50_4x16x1.k400_256p": (77.13, 93.20, "bdeb6b87"),
}


def test_names():
    assert sz.list_models() == sorted(f"slowfast_{a}" for a in
                                      ("r50_4x16x1", "r50_8x8x1", "r101_r50_4x16x1", "r101_8x8x1",
                                       "r152_r50_4x16x1"))
    assert sz.list_models(pretrained=True) == sorted(EXPECTED_TAGS)
    assert sz.list_models("*r101*") == ["slowfast_r101_8x8x1", "slowfast_r101_r50_4x16x1"]
    assert sz.list_models("*video*", pretrained=True) == ["slowfast_r50_4x16x1.k400_video"]
    assert sz.list_models("nothing*") == []


def test_default_tags():
    assert sz.get_pretrained_cfg("slowfast_r50_4x16x1").name == "slowfast_r50_4x16x1.k400_320p"
    assert sz.get_pretrained_cfg("slowfast_r50_8x8x1").name == "slowfast_r50_8x8x1.k400_320p"
    for arch in ("slowfast_r101_r50_4x16x1", "slowfast_r101_8x8x1", "slowfast_r152_r50_4x16x1"):
        assert sz.get_pretrained_cfg(arch).tag == "k400_256p"


@pytest.mark.parametrize("bad", ["slowfast_r50", "slowfast_r50_4x16x1.k400_999p", "resnet50", ""])
def test_unknown_names_suggest_close_matches(bad):
    with pytest.raises(sz.UnknownModelError) as err:
        sz.get_pretrained_cfg(bad)
    assert repr(bad) in str(err.value)
    if bad.startswith("slowfast_r50"):
        assert "Did you mean: slowfast_r50" in str(err.value)


def _checkpoint_row(cfg):
    rows = [c for c in CHECKPOINTS if c["sha256_prefix"] == cfg.sha256_prefix]
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize("name", sorted(EXPECTED_TAGS))
def test_record_matches_checkpoints_json(name):
    cfg = sz.get_pretrained_cfg(name)
    row = _checkpoint_row(cfg)
    top1, top5, sha = EXPECTED_TAGS[name]
    assert (cfg.top1, cfg.top5, cfg.sha256_prefix) == (top1, top5, sha)
    assert (cfg.top1, cfg.top5) == (row["top1"], row["top5"])
    assert cfg.url == row["checkpoint_url"]
    assert cfg.file_name == row["checkpoint_filename"]
    assert cfg.source_config == row["config"]
    assert f"slowfast_{row['arch']}" == cfg.architecture
    assert cfg.gpu_memory_mb == row["gpu_mem_MB"]
    assert cfg.train_gpus == row["gpus"]
    assert f"short-side {cfg.train_resolution}" == row["train_resolution"]
    speed = row["inference_time_video_per_s"]
    assert cfg.inference_speed_video_per_s == (float(speed.split()[0]) if speed else None)
    assert (cfg.data_start_index == 0) == row["dataset_type"].startswith("VideoDataset")
    assert cfg.test.average_clips == row["test_average_clips"] == "prob"


@pytest.mark.parametrize("name", sorted(EXPECTED_TAGS))
def test_record_schema_complete(name):
    cfg = sz.get_pretrained_cfg(name)
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name in ("inference_speed_video_per_s", "hf_hub_id", "notes"):
            continue
        assert value not in (None, "", ()), f"{name}: field {f.name} is empty"
    assert cfg.num_classes == 400 and len(cfg.class_names) == 400
    assert cfg.class_names[0] == "abseiling" and cfg.class_names[-1] == "zumba"
    assert (cfg.test.clip_len, cfg.test.frame_interval, cfg.test.num_clips) == (32, 2, 10)
    assert (cfg.test.resize_short_side, cfg.test.crop_size, cfg.test.num_crops) == (256, 256, 3)
    assert cfg.test.num_views == 30
    assert cfg.mean == (123.675, 116.28, 103.53) and cfg.std == (58.395, 57.12, 57.375)
    assert "SlowFast" in cfg.citation and cfg.license == "Apache-2.0"
    assert cfg.url.endswith("/" + cfg.file_name) and cfg.file_name.endswith(f"-{cfg.sha256_prefix}.pth")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.top1 = 0.0  # type: ignore[misc]
    json.dumps(cfg.to_dict())


def test_kernel5_tag_builds_kernel5_laterals():
    cfg = sz.get_pretrained_cfg("slowfast_r50_8x8x1.k400_256p")
    assert cfg.fusion_kernel == 5 and "kernel 5" in cfg.notes
    assert get_arch_spec("slowfast_r50_8x8x1.k400_256p").fusion_kernel == 5
    assert get_arch_spec("slowfast_r50_8x8x1").fusion_kernel == 7
    with torch.device("meta"):
        model = sz.create_model("slowfast_r50_8x8x1.k400_256p")
    assert [tuple(l.weight.shape) for l in model.laterals] == [
        (16, 8, 5, 1, 1), (64, 32, 5, 1, 1), (128, 64, 5, 1, 1), (256, 128, 5, 1, 1)]


def _measure(name):
    with torch.device("meta"):
        model = sz.create_model(name).eval()
        x = torch.empty(1, 3, 32, 256, 256)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return model, counter.get_total_flops()


@pytest.mark.parametrize("name", sorted(EXPECTED_TAGS))
def test_params_and_flops_measured(name):
    """num_params / gflops of each record equal what our modules measure, and the manifests."""
    cfg = sz.get_pretrained_cfg(name)
    model, flops = _measure(name)
    assert sum(p.numel() for p in model.parameters()) == cfg.num_params
    assert cfg.gflops == round(flops / 1e9, 3)
    manifest = load_manifest(cfg.architecture.removeprefix("slowfast_"))
    if cfg.fusion_kernel == ARCHS[cfg.architecture].fusion_kernel:
        assert cfg.num_params == manifest["num_parameters"]
        assert flops == manifest["flops_one_view"]["flops"]
        buffers = sum(b.numel() for b in model.buffers())
        assert buffers == manifest["num_buffer_elements"]
    else:  # the kernel-5 r50 8x8 file: 4 laterals lose 2 of 7 temporal taps
        lateral_7 = sum(o * i * 7 for o, i in ((16, 8), (64, 32), (128, 64), (256, 128)))
        assert cfg.num_params == manifest["num_parameters"] - lateral_7 * 2 // 7


def test_every_arch_has_weights():
    assert {cfg.architecture for cfg in PRETRAINED.values()} == set(ARCHS)
    for arch, spec in ARCHS.items():
        assert f"{arch}.{spec.default_tag}" in PRETRAINED
