"""Tests of slowfast_zoo.registry: the architectures and published weights, checked against the
reference data, and unknown names."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import slowfast_zoo as sz
from slowfast_zoo.errors import UnknownModelError
from slowfast_zoo.registry import ARCHS, PRETRAINED, get_arch_spec
from weightgen import REFERENCE, load_manifest

CHECKPOINTS = json.loads((REFERENCE / "checkpoints.json").read_text())["checkpoints"]
EXTRA = json.loads((REFERENCE / "extra_checkpoints.json").read_text())["checkpoints"]

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

# The eleven other weights (issue 12), these exact names, with their file's sha256 prefix.
EXTRA_TAGS = {
    "slowfast_r50_4x16x1.k400_320p_2021": "04e43ed4",
    "slowfast_r50_4x16x1.k400_320p_prebn": "bb725050",
    "slowfast_r50_8x8x1_ln.k400_steplr": "43988bac",
    "slowfast_r50_8x8x1_ln.k400_steplr_prebn": "28474e54",
    "slowfast_r50_8x8x1_ln.k400_multigrid": "f82bd304",
    "slowfast_r50_16x8x1.sthv1": "aaaf9279",
    "slowfast_r50_4x16x1.k400_mm1": "701b0f6f",
    "slowfast_r50_8x8x1.k400_mm1": "1cb6dfc8",
    "slowfast_r50_8x8x1_ln.k400_mm1_steplr": "b62a501f",
    "slowfast_r101_8x8x1.k400_mm1": "9c0e09bd",
    "slowfast_r101_r50_4x16x1.k400_mm1": "a77ac3ee",
}
# The manifest name of each architecture in the reference data.
MANIFEST = {"slowfast_r50_16x8x1": "r50_16x8x1_sthv1"}


def test_names():
    assert sz.list_models() == sorted(f"slowfast_{a}" for a in
                                      ("r50_4x16x1", "r50_8x8x1", "r101_r50_4x16x1", "r101_8x8x1",
                                       "r152_r50_4x16x1", "r50_8x8x1_ln", "r50_16x8x1"))
    assert sz.list_models(pretrained=True) == sorted({**EXPECTED_TAGS, **EXTRA_TAGS})
    assert len(sz.list_models(pretrained=True)) == 19
    assert sz.list_models("*mm1*", pretrained=True) == sorted(
        n for n in EXTRA_TAGS if n.partition(".")[2].startswith("k400_mm1"))
    assert len(sz.list_models("*mm1*", pretrained=True)) == 5
    assert sz.list_models("*r101*") == ["slowfast_r101_8x8x1", "slowfast_r101_r50_4x16x1"]
    assert sz.list_models("*video*", pretrained=True) == ["slowfast_r50_4x16x1.k400_video"]
    assert sz.list_models("nothing*") == []


def test_default_tags():
    assert sz.get_pretrained_cfg("slowfast_r50_4x16x1").name == "slowfast_r50_4x16x1.k400_320p"
    assert sz.get_pretrained_cfg("slowfast_r50_8x8x1").name == "slowfast_r50_8x8x1.k400_320p"
    for arch in ("slowfast_r101_r50_4x16x1", "slowfast_r101_8x8x1", "slowfast_r152_r50_4x16x1"):
        assert sz.get_pretrained_cfg(arch).tag == "k400_256p"
    assert sz.get_pretrained_cfg("slowfast_r50_8x8x1_ln").tag == "k400_steplr_prebn"
    assert sz.get_pretrained_cfg("slowfast_r50_16x8x1").tag == "sthv1"


def _extra_row(cfg):
    rows = [c for c in EXTRA if c["sha256_prefix"] == cfg.sha256_prefix]
    assert len(rows) == 1, cfg.name
    return rows[0]


@pytest.mark.parametrize("name", sorted(EXTRA_TAGS))
def test_extra_record_matches_extra_checkpoints_json(name):
    cfg = sz.get_pretrained_cfg(name)
    row = _extra_row(cfg)
    assert cfg.sha256_prefix == EXTRA_TAGS[name]
    assert (cfg.top1, cfg.top5) == (row["top1"], row["top5"])
    assert cfg.url == row["checkpoint_url"]
    assert cfg.alternative_urls == tuple(row.get("alternative_urls", ()))
    assert cfg.file_name == row["checkpoint_filename"]
    assert cfg.source_config == row["config"]
    assert cfg.mmaction2 == row["mmaction2"]
    assert cfg.num_classes == row["num_classes"] == len(cfg.class_names)
    assert cfg.train_resolution == row["train_resolution"]
    assert cfg.train_gpus == row["gpus"]
    assert MANIFEST.get(cfg.architecture, cfg.architecture.removeprefix("slowfast_")) == row["arch"]
    assert (cfg.data_start_index == 0) == row["dataset_type"].startswith("VideoDataset")
    assert cfg.test.average_clips == row["test_average_clips"] == "prob"
    assert cfg.notes and cfg.gpu_memory_mb is None  # not published for these rows
    # The test protocol written in the row, field by field.
    t = cfg.test
    pipeline = row["test_pipeline"]
    assert f"{t.clip_len}" in pipeline and f"{t.frame_interval}" in pipeline
    assert ("ThreeCrop(256)" in pipeline) == (t.num_crops == 3 and t.crop_size == 256)
    assert ("CenterCrop(256)" in pipeline) == (t.num_crops == 1 and t.crop_size == 256)
    assert t.sampling_rule == ("1.x" if "1.x rule" in pipeline else "0.x")
    assert t.sampling_rule == cfg.mmaction2 or cfg.mmaction2 == "0.x"


def test_generations_and_protocols():
    names = sz.list_models(pretrained=True)
    gens = {n: sz.get_pretrained_cfg(n).mmaction2 for n in names}
    assert sorted(n for n, g in gens.items() if g == "1.x") == sz.list_models("*mm1*", pretrained=True)
    for n in names:
        cfg = sz.get_pretrained_cfg(n)
        assert cfg.test.sampling_rule == cfg.mmaction2, n  # each generation tested with its own rule
    ss = sz.get_pretrained_cfg("slowfast_r50_16x8x1.sthv1")
    assert ss.class_names == tuple(f"class_{i}" for i in range(174))
    assert ss.dataset == "Something-Something V1" and ss.num_classes == 174
    t = ss.test
    assert (t.clip_len, t.frame_interval, t.num_clips, t.num_crops, t.crop_size) == (64, 2, 1, 1, 256)
    assert t.num_views == 1 and t.filename_tmpl == "{:05}.jpg" and ss.data_start_index == 1
    assert dict(ss.train.flip_label_map) == {2: 4, 4: 2, 30: 41, 41: 30, 52: 66, 66: 52}
    assert ss.train.clip_len == 64 and ss.train.resize_short_side is None
    spec = get_arch_spec("slowfast_r50_16x8x1")
    assert (spec.tau, spec.alpha, spec.fusion_kernel, spec.num_classes, spec.num_frames) == (4, 4, 7, 174, 64)
    ln = get_arch_spec("slowfast_r50_8x8x1_ln")
    assert ln.lateral_norm and (ln.tau, ln.alpha, ln.fusion_kernel) == (4, 4, 7)
    assert not any(get_arch_spec(a).lateral_norm for a in sz.list_models() if a != "slowfast_r50_8x8x1_ln")


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
    assert cfg.train_resolution == row["train_resolution"]
    speed = row["inference_time_video_per_s"]
    assert cfg.inference_speed_video_per_s == (float(speed.split()[0]) if speed else None)
    assert (cfg.data_start_index == 0) == row["dataset_type"].startswith("VideoDataset")
    assert cfg.test.average_clips == row["test_average_clips"] == "prob"


@pytest.mark.parametrize("name", sorted({**EXPECTED_TAGS, **EXTRA_TAGS}))
def test_record_schema_complete(name):
    cfg = sz.get_pretrained_cfg(name)
    optional = {"inference_speed_video_per_s", "notes", "alternative_urls"}
    if name in EXTRA_TAGS:
        optional.add("gpu_memory_mb")  # not published for these rows
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name in optional:
            continue
        assert value not in (None, "", ()), f"{name}: field {f.name} is empty"
    if cfg.dataset == "Something-Something V1":
        return  # its own protocol: test_generations_and_protocols
    assert cfg.dataset == "Kinetics-400"
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
        x = torch.empty(1, 3, model.spec.num_frames, 256, 256)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return model, counter.get_total_flops()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted({**EXPECTED_TAGS, **EXTRA_TAGS}))
def test_params_and_flops_measured(name):
    """num_params / gflops of each record equal what our modules measure, and the manifests."""
    cfg = sz.get_pretrained_cfg(name)
    model, flops = _measure(name)
    assert sum(p.numel() for p in model.parameters()) == cfg.num_params
    assert cfg.gflops == round(flops / 1e9, 3)
    manifest = load_manifest(MANIFEST.get(cfg.architecture, cfg.architecture.removeprefix("slowfast_")))
    if cfg.fusion_kernel == ARCHS[cfg.architecture].fusion_kernel:
        assert cfg.num_params == manifest["num_parameters"]
        if "flops_one_view" in manifest:  # the two 1.2.0 manifests record no FLOPs
            assert flops == manifest["flops_one_view"]["flops"]
        ours = model.state_dict()
        assert sum(v.numel() for v in ours.values()) == sum(
            math.prod(shape) for _, shape, _ in manifest["state_dict"])
    else:  # the kernel-5 r50 8x8 file: 4 laterals lose 2 of 7 temporal taps
        lateral_7 = sum(o * i * 7 for o, i in ((16, 8), (64, 32), (128, 64), (256, 128)))
        assert cfg.num_params == manifest["num_parameters"] - lateral_7 * 2 // 7


def test_every_arch_has_weights():
    assert {cfg.architecture for cfg in PRETRAINED.values()} == set(ARCHS)
    for arch, spec in ARCHS.items():
        assert f"{arch}.{spec.default_tag}" in PRETRAINED


def test_unknown_model_name() -> None:
    with pytest.raises(UnknownModelError, match="slowfast_r50_4x16x1"):
        sz.create_model("slowfast_r50_4x16", pretrained=True)
    with pytest.raises(UnknownModelError, match="k400_256p"):
        sz.create_model("slowfast_r50_8x8x1.k400_265p", pretrained=True)
