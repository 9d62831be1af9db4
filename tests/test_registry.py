"""Tests of slowfast_zoo.registry: the architectures and published weights, checked against the
reference data, and unknown names."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import slowfast_zoo as sz
from slowfast_zoo.errors import UnknownModelError
from slowfast_zoo.registry import ARCHS, PRETRAINED, get_arch_spec
from slowfast_zoo.weights.source import cache_name, resolve_source, url_file_name
from weightgen import REFERENCE, load_manifest

PYSF_DATA = REFERENCE.parent / "pysf"

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

_PTV = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/"
_REHOST = "https://dl.fbaipublicfiles.com/pytorchvideo/pysf_model_zoo/"
_C2 = "https://dl.fbaipublicfiles.com/pyslowfast/model_zoo/kinetics400/"
_MG = "https://dl.fbaipublicfiles.com/pyslowfast/pyslowfast/model_zoo/multigrid/model_zoo/"
# The PyTorchVideo / PySlowFast weights (issue 23): URL, published (top-1, top-5) or mAP, the
# PySlowFast config, and the manifest of ../shared/reference/pysf describing the network.
PYSF_TAGS = {
    "pysf_slowfast_r50_4x16.k400_ptv": (_PTV + "kinetics/SLOWFAST_4x16_R50.pyth", (75.34, 91.89),
                                        "Kinetics/pytorchvideo/SLOWFAST_4x16_R50", "ptv_slowfast_r50_4x16"),
    "pysf_slowfast_r50_8x8.k400_ptv": (_PTV + "kinetics/SLOWFAST_8x8_R50.pyth", (76.94, 92.69),
                                       "Kinetics/pytorchvideo/SLOWFAST_8x8_R50", "ptv_slowfast_r50_8x8"),
    "pysf_slowfast_r101_8x8.k400_ptv": (_PTV + "kinetics/SLOWFAST_8x8_R101.pyth", (77.90, 93.27),
                                        "Kinetics/pytorchvideo/SLOWFAST_8x8_R101", "ptv_slowfast_r101_8x8"),
    "pysf_slowfast_16x8_r101_50_50.k400_ptv": (_PTV + "kinetics/SLOWFAST_16x8_R101_50_50.pyth", (78.70, 93.61),
                                               "Kinetics/pytorchvideo/SLOWFAST_16x8_R101_50_50",
                                               "ptv_slowfast_16x8_r101_50_50"),
    "pysf_slowfast_r50_8x8.ssv2_ptv": (_PTV + "ssv2/SLOWFAST_8x8_R50.pyth", (61.68, 86.92),
                                       "SSv2/pytorchvideo/SLOWFAST_8x8_R50", "ptv_slowfast_r50_8x8_ssv2"),
    "pysf_slowfast_r50_8x8.charades_ptv": (_PTV + "charades/SLOWFAST_8x8_R50.pyth", 37.24,
                                           "Charades/pytorchvideo/SLOWFAST_8x8_R50", "ptv_slowfast_r50_8x8_charades"),
    "pysf_slowfast_r50_4x16.k400_c2": (_C2 + "SLOWFAST_4x16_R50.pkl", (75.6, 92.0), "Kinetics/c2/SLOWFAST_4x16_R50",
                                       "psf_slowfast_r50_4x16"),
    "pysf_slowfast_r50_8x8.k400_c2": (_C2 + "SLOWFAST_8x8_R50.pkl", (77.0, 92.6), "Kinetics/c2/SLOWFAST_8x8_R50",
                                      "psf_slowfast_r50_8x8"),
    "pysf_slowfast_r50_8x8.k400_stepwise": (_MG + "Kinetics/SLOWFAST_8x8_R50_stepwise.pkl", (76.8, 92.7),
                                            "Kinetics/SLOWFAST_8x8_R50_stepwise", "psf_slowfast_r50_8x8"),
    "pysf_slowfast_r50_8x8.k400_multigrid": (_MG + "Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid.pkl", (76.6, 92.7),
                                             "Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid", "psf_slowfast_r50_8x8"),
    "pysf_slowfast_r50_16x8.ssv2": (_MG + "SSv2/SLOWFAST_16x8_R50.pkl", (63.0, 88.5), "SSv2/SLOWFAST_16x8_R50",
                                    "psf_slowfast_r50_16x8_ssv2"),
    "pysf_slowfast_r50_16x8.ssv2_multigrid": (_MG + "SSv2/SLOWFAST_16x8_R50_multigrid.pkl", (63.5, 88.7),
                                              "SSv2/SLOWFAST_16x8_R50_multigrid", "psf_slowfast_r50_16x8_ssv2"),
    "pysf_slowfast_r50_16x8.charades": (_MG + "Charades/SLOWFAST_16x8_R50.pkl", 38.9, "Charades/SLOWFAST_16x8_R50",
                                        "psf_slowfast_r50_16x8_charades"),
    "pysf_slowfast_r50_16x8.charades_multigrid": (_MG + "Charades/SLOWFAST_16x8_R50_multigrid.pkl", 38.6,
                                                  "Charades/SLOWFAST_16x8_R50_multigrid",
                                                  "psf_slowfast_r50_16x8_charades"),
}
PYSF_ARCHS = ("pysf_slowfast_r50_4x16", "pysf_slowfast_r50_8x8", "pysf_slowfast_r101_8x8",
              "pysf_slowfast_16x8_r101_50_50", "pysf_slowfast_r50_16x8")
# The multigrid short-cycle weights: the only ones whose head averages globally.
MULTIGRID_TAGS = ("pysf_slowfast_r50_8x8.k400_multigrid", "pysf_slowfast_r50_16x8.ssv2_multigrid",
                  "pysf_slowfast_r50_16x8.charades_multigrid")

# The detectors (AVA, MultiSports) and their default tags.
DET_ARCHS = {"slowfast_r50_4x16x1_ava": "ava21_mm1", "slowfast_r50_8x8x1_ava": "ava21_mm1",
             "slowfast_r50_8x8x1_ava_tmax": "ava22_mm1", "slowfast_r50_4x16x1_ava_context": "ava21_mm1",
             "slowfast_r50_8x8x1_ava_acrn": "ava21_mm1", "slowfast_r50_4x16x1_multisports": "multisports_mm1",
             "ptv_slowfast_r50_detection": "ava22_ptv", "slowfast_r50_8x8x1_ava_acrn_tmax": "ava21"}
# Every detection weight of MMAction2's metafiles (0.x configs/detection/ava, the README's custom-classes
# row; 1.x configs/detection/{slowfast,acrn}) and PyTorchVideo's zoo: sha256 prefix ("" for PyTorchVideo),
# published mAP (%), dataset, generation, label map.
DET_TAGS = {
    "slowfast_r50_4x16x1_ava.ava21": ("6e7c704d", 24.4, "AVA v2.1", "0.x", "ava_v2.1"),
    "slowfast_r50_4x16x1_ava.ava21_custom16": ("c6225546", 37.85, "AVA v2.1", "0.x", "ava_v2.1_custom16"),
    "slowfast_r50_4x16x1_ava_context.ava21": ("f4d209c9", 25.4, "AVA v2.1", "0.x", "ava_v2.1"),
    "slowfast_r50_8x8x1_ava.ava21": ("ae225e97", 25.5, "AVA v2.1", "0.x", "ava_v2.1"),
    "slowfast_r50_8x8x1_ava.ava22": ("b987b516", 26.1, "AVA v2.2", "0.x", "ava_v2.2"),
    "slowfast_r50_8x8x1_ava_tmax.ava22": ("874e0845", 26.4, "AVA v2.2", "0.x", "ava_v2.2"),
    "slowfast_r50_8x8x1_ava_tmax.ava22_focal": ("345618cd", 26.8, "AVA v2.2", "0.x", "ava_v2.2"),
    "slowfast_r50_4x16x1_ava.ava21_mm1": ("5180ea3c", 24.32, "AVA v2.1", "1.x", "ava_v2.1"),
    "slowfast_r50_4x16x1_ava_context.ava21_mm1": ("5bb4f6f2", 25.34, "AVA v2.1", "1.x", "ava_v2.1"),
    "slowfast_r50_8x8x1_ava.ava21_mm1": ("39133ec7", 25.80, "AVA v2.1", "1.x", "ava_v2.1"),
    "slowfast_r50_8x8x1_ava.ava22_mm1": ("d934a48f", 25.90, "AVA v2.2", "1.x", "ava_v2.2"),
    "slowfast_r50_8x8x1_ava_tmax.ava22_mm1": ("13a9078e", 26.41, "AVA v2.2", "1.x", "ava_v2.2"),
    "slowfast_r50_8x8x1_ava_tmax.ava22_focal_mm1": ("dd59e26f", 26.65, "AVA v2.2", "1.x", "ava_v2.2"),
    "slowfast_r50_8x8x1_ava_acrn_tmax.ava21": ("49b07bf2", 27.1, "AVA v2.1", "0.x", "ava_v2.1"),
    "slowfast_r50_8x8x1_ava_acrn_tmax.ava22": ("2be32625", 27.8, "AVA v2.2", "0.x", "ava_v2.2"),
    "slowfast_r50_8x8x1_ava_acrn.ava21_mm1": ("0dae1a90", 27.65, "AVA v2.1", "1.x", "ava_v2.1"),
    "slowfast_r50_8x8x1_ava_acrn.ava22_mm1": ("66ec24a2", 27.71, "AVA v2.2", "1.x", "ava_v2.2"),
    "slowfast_r50_4x16x1_multisports.multisports_mm1": ("af666368", 36.88, "MultiSports", "1.x", "multisports"),
    "ptv_slowfast_r50_detection.ava22_ptv": ("", 24.67, "AVA v2.2", "", "ava_v2.2"),
}


def test_names():
    mmaction2 = [f"slowfast_{a}" for a in ("r50_4x16x1", "r50_8x8x1", "r101_r50_4x16x1", "r101_8x8x1",
                                            "r152_r50_4x16x1", "r50_8x8x1_ln", "r50_16x8x1")]
    assert sz.list_models() == sorted(mmaction2 + list(PYSF_ARCHS) + list(DET_ARCHS))
    assert sz.list_models("slowfast_*") == sorted(mmaction2 + [a for a in DET_ARCHS if a.startswith("slowfast_")])
    assert sz.list_models(pretrained=True) == sorted({**EXPECTED_TAGS, **EXTRA_TAGS, **PYSF_TAGS, **DET_TAGS})
    assert len(sz.list_models(pretrained=True)) == 33 + 19
    assert len([n for n in sz.list_models("slowfast_*", pretrained=True)
                if sz.get_pretrained_cfg(n).task == "recognition"]) == 19
    assert sz.list_models("*.k400_mm1*", pretrained=True) == sorted(
        n for n in EXTRA_TAGS if n.partition(".")[2].startswith("k400_mm1"))
    assert len(sz.list_models("*.k400_mm1*", pretrained=True)) == 5
    assert len(sz.list_models("*mm1*", pretrained=True)) == 5 + 9  # and the 1.x detectors
    assert sz.list_models("*r101*") == ["pysf_slowfast_16x8_r101_50_50", "pysf_slowfast_r101_8x8",
                                        "slowfast_r101_8x8x1", "slowfast_r101_r50_4x16x1"]
    assert sz.list_models("*video*", pretrained=True) == ["slowfast_r50_4x16x1.k400_video"]
    assert sz.list_models("nothing*") == []


def test_default_tags():
    assert sz.get_pretrained_cfg("slowfast_r50_4x16x1").name == "slowfast_r50_4x16x1.k400_320p"
    assert sz.get_pretrained_cfg("slowfast_r50_8x8x1").name == "slowfast_r50_8x8x1.k400_320p"
    for arch in ("slowfast_r101_r50_4x16x1", "slowfast_r101_8x8x1", "slowfast_r152_r50_4x16x1"):
        assert sz.get_pretrained_cfg(arch).tag == "k400_256p"
    assert sz.get_pretrained_cfg("slowfast_r50_8x8x1_ln").tag == "k400_steplr_prebn"
    assert sz.get_pretrained_cfg("slowfast_r50_16x8x1").tag == "sthv1"
    for arch in PYSF_ARCHS[:4]:
        assert sz.get_pretrained_cfg(arch).tag == "k400_ptv"
    assert sz.get_pretrained_cfg("pysf_slowfast_r50_16x8").tag == "ssv2"
    for arch, tag in DET_ARCHS.items():
        assert sz.get_pretrained_cfg(arch).tag == tag


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
    names = [n for n in sz.list_models("slowfast_*", pretrained=True) if sz.get_pretrained_cfg(n).task == "recognition"]
    gens = {n: sz.get_pretrained_cfg(n).mmaction2 for n in names}
    assert sorted(n for n, g in gens.items() if g == "1.x") == sz.list_models("*.k400_mm1*", pretrained=True)
    for n in names:
        cfg = sz.get_pretrained_cfg(n)
        assert cfg.test.sampling_rule == cfg.mmaction2, n  # each generation tested with its own rule
        # The PyTorchVideo / PySlowFast protocol fields keep MMAction2's values.
        t = cfg.test
        assert (t.family, t.target_fps, t.clip_span, t.crop_index, t.normalize_before_resize) == (
            "mmaction2", None, None, 1, False), n
        assert (t.score_activation, t.view_combination, t.channel_order) == ("softmax", "mean", "RGB"), n
        assert cfg.key_family == "mmaction2" and cfg.mean_ap is None and not cfg.global_pool_head, n
        assert cfg.sha256 is None and cfg.file_size is None, n
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
    assert not any(get_arch_spec(a).lateral_norm for a in sz.list_models("slowfast_*")
                   if a != "slowfast_r50_8x8x1_ln")
    assert all(get_arch_spec(a).lateral_norm for a in PYSF_ARCHS)  # PySlowFast's laterals: conv + BN + ReLU


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


@pytest.mark.parametrize("name", sorted({**EXPECTED_TAGS, **EXTRA_TAGS, **PYSF_TAGS}))
def test_record_schema_complete(name):
    cfg = sz.get_pretrained_cfg(name)
    # Known once a first download is recorded (sha256, file_size); Charades publishes mAP only.
    optional = {"inference_speed_video_per_s", "notes", "alternative_urls", "sha256", "file_size", "mean_ap",
                "detection"}  # detectors only: test_detection_record_carries_its_published_row
    if name in EXTRA_TAGS:
        optional.add("gpu_memory_mb")  # not published for these rows
    if name in PYSF_TAGS:  # no hash in the URLs, no speed or memory published, not MMAction2's
        optional |= {"gpu_memory_mb", "sha256_prefix", "mmaction2"}
        if cfg.dataset == "Charades":
            optional |= {"top1", "top5"}
            assert cfg.mean_ap is not None
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name in optional:
            continue
        assert value not in (None, "", ()), f"{name}: field {f.name} is empty"
    assert cfg.detection is None and cfg.task == "recognition"
    if name in PYSF_TAGS:
        return  # test_pysf_record_carries_its_published_row
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


# ----------------------------------------------------------------- PyTorchVideo / PySlowFast (issue 23)
def test_pysf_weights_are_listed():
    names = sz.list_models("pysf_*", pretrained=True)
    assert len(names) >= 14 and names == sorted(PYSF_TAGS)
    assert {n.partition(".")[0] for n in names} == set(PYSF_ARCHS)


@pytest.mark.parametrize("name", sorted(PYSF_TAGS))
def test_pysf_record_carries_its_published_row(name):
    cfg = sz.get_pretrained_cfg(name)
    url, published, config, manifest_name = PYSF_TAGS[name]
    assert cfg.url == url and cfg.file_name == url_file_name(url) and cfg.source_config == config
    if isinstance(published, tuple):
        assert (cfg.top1, cfg.top5, cfg.mean_ap) == (*published, None)
    else:  # Charades publishes mAP only
        assert (cfg.top1, cfg.top5, cfg.mean_ap) == (None, None, published) and cfg.dataset == "Charades"
    assert cfg.mmaction2 == "" and cfg.license == "Apache-2.0" and "SlowFast" in cfg.citation
    assert cfg.sha256_prefix == "" and cfg.sha256 is None and cfg.file_size is None  # no hash published
    assert cfg.key_family == {"pyth": "pytorchvideo", "pkl": "caffe2" if "/kinetics400/" in url
                              else "pyslowfast"}[url.rsplit(".", 1)[1]]
    assert (cfg.test.family == "ptv") == (cfg.key_family == "pytorchvideo")
    # PySlowFast's re-hosts ("model."-prefixed keys) of the PyTorchVideo files, but not of the
    # Charades one, whose README link points to the SSv2 file (SlowFast PR #466).
    if cfg.key_family == "pytorchvideo" and cfg.dataset != "Charades":
        assert cfg.alternative_urls == (url.replace("/pytorchvideo/model_zoo/", "/pytorchvideo/pysf_model_zoo/"),)
    else:
        assert cfg.alternative_urls == ()
    # The network, its class count and head activation are those of the reference manifest.
    manifest = json.loads((PYSF_DATA / f"manifest_{manifest_name}.json").read_text())
    assert cfg.num_params == manifest["num_parameters"]
    assert cfg.num_classes == len(cfg.class_names) == {"Kinetics-400": 400, "Something-Something V2": 174,
                                                        "Charades": 157}[cfg.dataset]
    assert cfg.num_classes == (manifest.get("num_classes") or 400)
    assert cfg.test.score_activation == (manifest.get("head_act") or "softmax")
    assert get_arch_spec(name).num_classes == cfg.num_classes
    assert cfg.fusion_kernel == get_arch_spec(name).fusion_kernel == ARCHS[cfg.architecture].fusion_kernel
    assert cfg.mean == (0.45 * 255,) * 3 and cfg.std == (0.225 * 255,) * 3
    json.dumps(cfg.to_dict())


def test_multigrid_heads_are_global_and_default_heads_fully_convolutional():
    for name in sz.list_models("pysf_*", pretrained=True):
        spec, cfg = get_arch_spec(name), sz.get_pretrained_cfg(name)
        assert cfg.global_pool_head == (name in MULTIGRID_TAGS), name
        assert (spec.head_pool == ()) == cfg.global_pool_head, name
    for arch in PYSF_ARCHS:
        cfg = sz.get_pretrained_cfg(arch)
        assert not cfg.global_pool_head and get_arch_spec(arch).head_pool == ARCHS[arch].head_pool != ()
    for arch in sz.list_models("slowfast_*"):  # MMAction2's heads average globally
        assert get_arch_spec(arch).head_pool == ()


def test_pysf_test_protocols():
    ptv = sz.get_pretrained_cfg("pysf_slowfast_r50_8x8.k400_ptv").test
    assert (ptv.family, ptv.sampling_rule, ptv.target_fps, ptv.normalize_before_resize) == (
        "ptv", "ptv_2021_04", 30.0, True)
    assert (ptv.clip_len, ptv.frame_interval, ptv.num_clips, ptv.num_crops, ptv.resize_short_side,
            ptv.crop_size, ptv.span) == (32, 2, 10, 3, 256, 256, 64)
    assert sz.get_pretrained_cfg("pysf_slowfast_16x8_r101_50_50").test.clip_len == 64
    c2 = sz.get_pretrained_cfg("pysf_slowfast_r50_4x16.k400_c2").test
    assert (c2.family, c2.sampling_rule, c2.num_views, c2.resize_short_side, c2.crop_size) == (
        "psf", "psf_decoder", 30, 256, 256)
    mg = sz.get_pretrained_cfg("pysf_slowfast_r50_8x8.k400_multigrid").test
    assert (mg.resize_short_side, mg.crop_size, mg.num_views) == (224, 224, 30)  # TEST_CROP_SIZE 224
    ssv2 = sz.get_pretrained_cfg("pysf_slowfast_r50_16x8.ssv2").test
    assert (ssv2.sampling_rule, ssv2.clip_len, ssv2.num_views, ssv2.crop_index, ssv2.crop_size) == (
        "segment_middle", 64, 1, 0, 256)  # PySlowFast's single SSv2 crop is the left one
    assert sz.get_pretrained_cfg("pysf_slowfast_r50_16x8.ssv2_multigrid").test.crop_size == 224
    ptv_ssv2 = sz.get_pretrained_cfg("pysf_slowfast_r50_8x8.ssv2_ptv").test
    assert (ptv_ssv2.sampling_rule, ptv_ssv2.num_clips, ptv_ssv2.num_crops) == ("segment_middle", 1, 3)
    for name in ("pysf_slowfast_r50_8x8.charades_ptv", "pysf_slowfast_r50_16x8.charades",
                 "pysf_slowfast_r50_16x8.charades_multigrid"):
        t = sz.get_pretrained_cfg(name).test
        assert (t.score_activation, t.view_combination, t.num_views, t.crop_size) == ("sigmoid", "max", 30, 256)
        assert t.span == (t.clip_len - 1) * t.frame_interval + 1
    for name in PYSF_TAGS:
        t = sz.get_pretrained_cfg(name).test
        assert t.channel_order == "RGB" and t.normalize_before_resize
        assert t.sampling_rule in sz.registry.records.PYSF_SAMPLING_RULES
        assert t.family in sz.registry.records.PROTOCOL_FAMILIES
        if "charades" not in name:
            assert (t.score_activation, t.view_combination) == ("softmax", "mean")


def test_same_named_files_have_distinct_urls_and_cache_entries():
    by_name: dict[str, set[str]] = {}
    for cfg in PRETRAINED.values():
        for url in (cfg.url, *cfg.alternative_urls):
            by_name.setdefault(url_file_name(url), set()).add(url)
    shared = {n: urls for n, urls in by_name.items() if len(urls) > 1}
    # Three SLOWFAST_8x8_R50.pyth (Kinetics, SSv2, Charades) and two re-hosts, two SLOWFAST_16x8_R50.pkl.
    assert len(shared["SLOWFAST_8x8_R50.pyth"]) == 5 and len(shared["SLOWFAST_16x8_R50.pkl"]) == 2
    assert len(shared["SLOWFAST_4x16_R50.pyth"]) == 2
    all_urls = [u for cfg in PRETRAINED.values() for u in (cfg.url, *cfg.alternative_urls)]
    assert len(all_urls) == len(set(all_urls))  # no file is registered under two tags
    caches = [cache_name(u) for u in all_urls]
    assert len(caches) == len(set(caches))
    for urls in shared.values():
        assert all(cache_name(u) != url_file_name(u) for u in urls)  # hash-less: keyed by the whole URL


@pytest.mark.parametrize("name", sorted(PYSF_TAGS))
def test_hashless_record_resolves_to_a_trust_on_first_use_source(name):
    cfg = sz.get_pretrained_cfg(name)
    src = resolve_source(name, cfg=cfg)
    assert (src.kind, src.location, src.alternatives) == ("url", cfg.url, cfg.alternative_urls)
    assert src.sha256_prefix is None and src.sha256 is None  # verified by the first download's record
    assert src.cache_names == tuple(cache_name(u) for u in (cfg.url, *cfg.alternative_urls))
    assert src.max_bytes is not None and src.max_bytes > 8 * cfg.num_params  # a caffe2 file holds momentum too


def test_weight_settings_reach_the_model():
    with torch.device("meta"):
        charades = sz.create_model("pysf_slowfast_r50_8x8.charades_ptv")
        multigrid = sz.create_model("pysf_slowfast_r50_16x8.ssv2_multigrid")
    assert charades.num_classes == charades.get_classifier().out_features == 157
    assert charades.class_names == tuple(f"class_{i}" for i in range(157))
    assert multigrid.spec.head_pool == () and multigrid.num_classes == 174


def _pysf_flops(name):
    cfg = sz.get_pretrained_cfg(name)
    with torch.device("meta"):
        model = sz.create_model(name).eval()
        x = torch.empty(1, 3, cfg.test.clip_len, cfg.test.crop_size, cfg.test.crop_size)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return model, counter.get_total_flops()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PYSF_TAGS))
def test_pysf_params_and_flops_measured(name):
    """num_params / gflops of each record: one test view through our module."""
    cfg = sz.get_pretrained_cfg(name)
    model, flops = _pysf_flops(name)
    assert sum(p.numel() for p in model.parameters()) == cfg.num_params
    assert cfg.gflops == round(flops / 1e9, 3)


# ----------------------------------------------------------------- detection: AVA and MultiSports
DET_DATA = REFERENCE.parent / "detection"
# The reference manifest describing each detector architecture's network (tests/data/detection).
DET_MANIFEST = {"slowfast_r50_4x16x1_ava": "mm_r50_4x16x1", "slowfast_r50_8x8x1_ava": "mm_r50_8x8x1",
                "slowfast_r50_8x8x1_ava_tmax": "mm_r50_8x8x1",
                "slowfast_r50_4x16x1_ava_context": "mm_r50_4x16x1_context",
                "slowfast_r50_8x8x1_ava_acrn": "mm_r50_8x8x1_acrn",
                # Same layout as the 1.x ACRN (max instead of mean has no weights); no 1.x config.
                "slowfast_r50_8x8x1_ava_acrn_tmax": "mm_r50_8x8x1_acrn",
                "slowfast_r50_4x16x1_multisports": "mm_r50_4x16x1_multisports",
                "ptv_slowfast_r50_detection": "ptv_slowfast_r50_detection"}
# The variant names of the manifests' config lists.
DET_VARIANT = {**DET_MANIFEST, "slowfast_r50_8x8x1_ava_tmax": "mm_r50_8x8x1_temporal_max",
               "slowfast_r50_8x8x1_ava_acrn_tmax": "(0.x only)"}


def _det_manifest(arch):
    path = DET_DATA / f"manifest_{DET_MANIFEST[arch]}.json"
    if not path.is_file():
        pytest.skip(f"{path} is not there")
    return json.loads(path.read_text())


def test_every_detection_weight_is_registered():
    det = sorted(n for n, cfg in PRETRAINED.items() if cfg.task == "detection")
    assert det == sorted(DET_TAGS) and len(det) == 19
    assert {cfg.architecture for n, cfg in PRETRAINED.items() if cfg.task == "detection"} == set(DET_ARCHS)
    for arch, tag in DET_ARCHS.items():
        assert ARCHS[arch].task == "detection" and ARCHS[arch].default_tag == tag
        assert f"{arch}.{tag}" in PRETRAINED
    assert all(cfg.task == "recognition" for cfg in PRETRAINED.values() if ARCHS[cfg.architecture].roi is None)
    # Every AVA weight has "ava" in its name, the PyTorchVideo one included; MultiSports does not.
    ava = sz.list_models("*ava*", pretrained=True)
    assert ava == sorted(n for n, row in DET_TAGS.items() if row[2].startswith("AVA"))
    assert "ptv_slowfast_r50_detection.ava22_ptv" in ava and len(ava) == 18
    assert sz.list_models("*multisports*", pretrained=True) == ["slowfast_r50_4x16x1_multisports.multisports_mm1"]


@pytest.mark.parametrize("name", sorted(DET_TAGS))
def test_detection_record_carries_its_published_row(name):
    from slowfast_zoo.registry.classes import AVA_CLASSES, AVA_CUSTOM16_CLASSES, MULTISPORTS_CLASSES

    cfg, spec = sz.get_pretrained_cfg(name), get_arch_spec(name)
    sha, mean_ap, dataset, generation, label_map = DET_TAGS[name]
    d = cfg.detection
    assert cfg.task == spec.task == "detection" and d is not None
    assert (cfg.top1, cfg.top5, cfg.mean_ap, cfg.published_metrics) == (None, None, mean_ap, {"mAP": mean_ap})
    assert (cfg.sha256_prefix, cfg.dataset, cfg.mmaction2, d.label_map) == (sha, dataset, generation, label_map)
    assert cfg.url.endswith("/" + cfg.file_name) and cfg.file_name == url_file_name(cfg.url)
    assert cfg.sha256 is None and cfg.file_size is None and cfg.alternative_urls == ()
    assert cfg.num_classes == len(cfg.class_names) == spec.num_classes
    assert cfg.class_names == {"ava_v2.1": AVA_CLASSES, "ava_v2.2": AVA_CLASSES, "multisports": MULTISPORTS_CLASSES,
                               "ava_v2.1_custom16": AVA_CUSTOM16_CLASSES}[label_map]
    assert cfg.fusion_kernel == spec.fusion_kernel == ARCHS[cfg.architecture].fusion_kernel
    assert cfg.test.score_activation == spec.roi.score_activation
    assert (cfg.test.num_views, cfg.test.clip_len, cfg.test.frame_interval) == (1, d.clip_len, d.frame_interval)
    assert cfg.test.crop_size == cfg.test.resize_short_side == d.resize_short_side
    assert (d.clip_len, d.frame_interval, d.timestamp_end, d.max_proposals) == (32, 2, 1800, 1000)
    assert cfg.data_start_index == d.start_index
    assert "SlowFast" in cfg.citation and cfg.license == "Apache-2.0" and cfg.notes and cfg.train_resolution
    if sha:  # MMAction2: the Kinetics ImageNet statistics, its AVA test (1.x: start_index 1), its evaluator
        root = "https://download.openmmlab.com/mmaction/" + ("v1.0/detection/" if generation == "1.x" else "detection/")
        assert cfg.url.startswith(root) and cfg.file_name.endswith(f"-{sha}.pth")
        assert f"/{cfg.source_config}/" in cfg.url and cfg.key_family == "mmaction2"
        assert cfg.mean == (123.675, 116.28, 103.53) and cfg.std == (58.395, 57.12, 57.375)
        assert (cfg.test.family, cfg.test.sampling_rule) == ("mmaction2", generation)
        assert (d.evaluator, d.proposal_score_threshold, d.resize_short_side) == ("mmaction2", 0.9, 256)
        if dataset == "MultiSports":  # timestamps count frames; videos, its own proposals, softmax
            assert (d.fps, d.timestamp_start, d.start_index, cfg.train_data) == (1.0, 1, 0, "videos")
            assert d.proposals == "multisports_dense_proposals_val.recall_96.13.pkl"
            assert cfg.test.score_activation == "softmax" and not spec.roi.background_class
        else:
            assert (d.fps, d.timestamp_start, cfg.train_data) == (30.0, 900, "rawframes")
            assert d.start_index == (1 if generation == "1.x" else 0)
            assert d.proposals == "ava_dense_proposals_val.FAIR.recall_93.9.pkl" and d.action_score_threshold == 0.002
            assert cfg.test.score_activation == "sigmoid" and spec.roi.background_class
            assert ("ava22" in name) == (dataset == "AVA v2.2") and ("ava21" in name) == (dataset == "AVA v2.1")
    else:  # PyTorchVideo's zoo file, PySlowFast's AVA test and the ActivityNet evaluator
        assert cfg.url == "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/ava/SLOWFAST_8x8_R50_DETECTION.pyth"
        assert (cfg.key_family, cfg.test.family, cfg.publisher) == ("pytorchvideo", "ptv", "PyTorchVideo")
        assert cfg.mean == (0.45 * 255,) * 3 and cfg.std == (0.225 * 255,) * 3
        assert (d.evaluator, d.proposal_score_threshold, d.resize_short_side, d.fps, d.timestamp_start) == (
            "official", 0.8, 224, 30.0, 900)
        assert not spec.roi.aligned and spec.roi.output_size == 7 and spec.res5_dilation == 2
    json.dumps(cfg.to_dict())


@pytest.mark.parametrize("arch", sorted(DET_ARCHS))
def test_detection_records_match_the_reference_manifests(arch):
    """URL, published mAP and dataset of every 1.x record, as MMAction2 1.2.0's metafiles list them in the
    reference manifests; the parameter count of every record."""
    manifest = _det_manifest(arch)
    records = [cfg for cfg in PRETRAINED.values() if cfg.architecture == arch]
    for cfg in records:
        extra = 0 if cfg.num_classes in (66, 80) else (80 - cfg.num_classes) * 2305  # the custom 17-row classifier
        assert cfg.num_params + extra == manifest["num_parameters"], cfg.name
    listed = {c["weights"]: c for c in manifest.get("configs", ()) if c["variant"] == DET_VARIANT[arch]}
    mm1 = [cfg for cfg in records if cfg.mmaction2 == "1.x"]
    assert sorted(cfg.url for cfg in mm1) == sorted(listed)
    for cfg in mm1:
        (result,) = listed[cfg.url]["results"]
        assert result["Dataset"] == cfg.dataset and list(result["Metrics"].values()) == [cfg.mean_ap]
        assert listed[cfg.url]["config"].endswith(f"/{cfg.source_config}.py")


def test_ava_label_maps_ship_and_load():
    from importlib import resources

    from slowfast_zoo.registry import classes

    labels = resources.files("slowfast_zoo").joinpath("labels")
    evaluated = classes.read_pbtxt(labels.joinpath("ava_action_list_v2.2.pbtxt").read_text("utf-8"))
    every = classes.read_pbtxt(labels.joinpath("ava_action_list_v2.2_all.pbtxt").read_text("utf-8"))
    assert len(every) == len(classes.AVA_CLASSES) == 80 and sorted(every) == list(range(1, 81))
    assert len(evaluated) == len(classes.AVA_EVALUATED_IDS) == 60
    assert tuple(sorted(evaluated)) == classes.AVA_EVALUATED_IDS
    assert all(classes.AVA_CLASSES[i - 1] == every[i] == name for i, name in evaluated.items())
    assert sorted(set(every) - set(evaluated)) == [2, 16, 18, 19, 21, 23, 25, 31, 32, 33, 35, 39, 40, 42, 44, 50,
                                                   53, 55, 71, 75]
    assert (every[1], every[17], every[80]) == ("bend/bow (at the waist)", "carry/hold (an object)", "watch (a person)")
    # The line layout MMAction2's and the ActivityNet evaluator's read_labelmap expect.
    for name, key in (("ava_action_list_v2.2.pbtxt", "  id: "), ("ava_action_list_v2.2_all.pbtxt", "  label_id: ")):
        lines = [line for line in labels.joinpath(name).read_text("utf-8").splitlines() if not line.startswith("#")]
        assert sum(line.startswith("  name: \"") for line in lines) == sum(line.startswith(key) for line in lines)
    assert "labels/*.pbtxt" in (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    # The custom-classes weight: 16 of the 80, one of them outside the 60 evaluated.
    custom = sz.get_pretrained_cfg("slowfast_r50_4x16x1_ava.ava21_custom16")
    assert len(classes.AVA_CUSTOM16_IDS) == len(classes.AVA_CUSTOM16_CLASSES) == custom.num_classes == 16
    assert custom.class_names == tuple(every[i] for i in classes.AVA_CUSTOM16_IDS)
    assert set(classes.AVA_CUSTOM16_IDS) - set(evaluated) == {53}
    assert len(classes.MULTISPORTS_CLASSES) == len(set(classes.MULTISPORTS_CLASSES)) == 66
    assert (classes.MULTISPORTS_CLASSES[0], classes.MULTISPORTS_CLASSES[-1]) == ("aerobic_push_up",
                                                                                 "basketball_jump_ball")


def test_mmaction2_0x_acrn_pools_over_time_by_max():
    """MMAction2 0.x's ACRN configs set temporal_pool_mode='max' (its 1.x ones average)."""
    for tag in ("ava21", "ava22"):
        cfg = PRETRAINED[f"slowfast_r50_8x8x1_ava_acrn_tmax.{tag}"]
        spec = get_arch_spec(cfg.name)
        assert spec.roi.temporal_pool == "max" and spec.roi.shared_head == "acrn" and cfg.mmaction2 == "0.x"
    assert get_arch_spec("slowfast_r50_8x8x1_ava_acrn.ava21_mm1").roi.temporal_pool == "avg"


def test_detection_weight_settings_reach_the_model():
    with torch.device("meta"):
        for name in DET_TAGS:
            model = sz.create_model(name)
            cfg = sz.get_pretrained_cfg(name)
            assert sum(p.numel() for p in model.parameters()) == cfg.num_params, name
            assert model.num_classes == cfg.num_classes and model.class_names == cfg.class_names, name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DET_TAGS))
def test_detection_flops_measured(name):
    """gflops: one clip of ``detection.clip_len`` frames at ``resize_short_side`` square and one
    whole-frame box through our module (RoIAlign has no FLOP count)."""
    cfg = sz.get_pretrained_cfg(name)
    s = cfg.detection.resize_short_side
    model = sz.create_model(name).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        out = model(torch.zeros(1, 3, cfg.detection.clip_len, s, s), torch.tensor([[0, 0.0, 0.0, s, s]]))
    assert out.shape == (1, cfg.num_classes)
    assert cfg.gflops == round(counter.get_total_flops() / 1e9, 3)
