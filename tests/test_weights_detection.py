"""Loading the 19 detection weights (issue 24) from files in their published formats, over loopback.

Each weight's file is written as its publisher writes it (MMAction2 0.x: mmcv's ``{"meta",
"state_dict"}`` named ``<stem>_<date>-<sha8>.pth``; 1.x: mmengine's; PyTorchVideo: a ``.pyth`` with
``model_state``), filled by the reference README's weight rules, served by a server on
127.0.0.1 and loaded with ``create_model(tag, pretrained=True, checkpoint_path=URL)``; the
loaded detector then reproduces the golden logits of its variant (a custom-classes file: its
own columns). PyTorchVideo's file also comes through the mirror of dl.fbaipublicfiles.com at its
published URL, trusted on first use.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

import slowfast_zoo as sz
import weightgen as wg
from pysf_files import write_torch_checkpoint
from slowfast_zoo.errors import CheckpointError
from slowfast_zoo.weights.trust import record_path

#: Architecture -> the golden variant whose generated weights it loads (None: no golden of its own).
VARIANT = {
    "slowfast_r50_4x16x1_ava": "mm_r50_4x16x1",
    "slowfast_r50_8x8x1_ava": "mm_r50_8x8x1",
    "slowfast_r50_8x8x1_ava_tmax": "mm_r50_8x8x1_temporal_max",
    "slowfast_r50_4x16x1_ava_context": "mm_r50_4x16x1_context",
    "slowfast_r50_8x8x1_ava_acrn": "mm_r50_8x8x1_acrn",
    "slowfast_r50_8x8x1_ava_acrn_tmax": None,  # MMAction2 0.x only: the ACRN layout, max over time
    "slowfast_r50_4x16x1_multisports": "mm_r50_4x16x1_multisports",
    "ptv_slowfast_r50_detection": "ptv_slowfast_r50_detection",
}
MANIFEST = {"slowfast_r50_8x8x1_ava_tmax": "mm_r50_8x8x1", "slowfast_r50_8x8x1_ava_acrn_tmax": "mm_r50_8x8x1_acrn"}
DETECTION_WEIGHTS = [n for n in sz.list_models(pretrained=True) if sz.get_pretrained_cfg(n).task == "detection"]
#: Quick tier: one 1.x MMAction2 file and PyTorchVideo's; every other weight is `slow`.
QUICK = ("slowfast_r50_4x16x1_ava.ava21_mm1", "ptv_slowfast_r50_detection.ava22_ptv")


def test_nineteen_detection_weights():
    assert len(DETECTION_WEIGHTS) == 19 and set(VARIANT) == {n.split(".")[0] for n in DETECTION_WEIGHTS}


@functools.lru_cache(maxsize=2)
def _state(arch: str) -> "OrderedDict[str, torch.Tensor]":
    manifest = MANIFEST.get(arch) or wg.DETECTION_VARIANTS[VARIANT[arch]][0]
    return wg.detection_state_dict(manifest)


def _published_file(cfg: sz.PretrainedCfg, root: Path) -> Path:
    """The weight's file as its publisher writes it, with the file's classifier rows."""
    sd = OrderedDict(_state(cfg.architecture))
    ids = cfg.detection.action_ids if cfg.detection else ()
    if ids:  # a custom-classes file: the background row and its classes' rows of the AVA classifier
        rows = torch.tensor((0, *ids))
        for key in ("roi_head.bbox_head.fc_cls.weight", "roi_head.bbox_head.fc_cls.bias"):
            sd[key] = sd[key][rows].clone()
    if cfg.key_family == "pytorchvideo":
        return write_torch_checkpoint(root / cfg.tag / cfg.file_name, sd)
    stem = cfg.file_name.rsplit("_", 1)[0] if cfg.mmaction2 == "1.x" else cfg.file_name.rsplit("-", 1)[0]
    write = wg.write_mmengine_checkpoint if cfg.mmaction2 == "1.x" else wg.write_mmaction2_checkpoint
    return write(sd, root / cfg.tag, stem)


def _golden_logits(cfg: sz.PretrainedCfg) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    variant = VARIANT[cfg.architecture]
    if variant is None:
        return None
    golden = wg.load_detection(f"golden_{variant}_public")
    x, rois = wg.golden_input(golden), torch.tensor(golden["input"]["rois"], dtype=torch.float32)
    if variant.startswith("ptv"):
        return x, rois, torch.tensor(golden["variants"]["hub_aligned_false"]["logits"])
    logits = torch.tensor(golden["cls_score"])
    ids = cfg.detection.action_ids if cfg.detection else ()
    if ids:
        return x, rois, logits[:, list(ids)]
    return x, rois, logits[:, 1:] if sz.registry.get_arch_spec(cfg.name).roi.background_class else logits


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in QUICK else pytest.mark.slow)
                                  for n in DETECTION_WEIGHTS])
def test_each_detection_weight_loads_from_its_published_format(name, http_server, tmp_path):
    cfg = sz.get_pretrained_cfg(name)
    path = _published_file(cfg, http_server.root / "det")
    try:
        model = sz.create_model(name, pretrained=True, checkpoint_path=http_server.url(path), progress=False).eval()
        assert model.num_classes == cfg.num_classes and model.class_names == cfg.class_names
        case = _golden_logits(cfg)
        x, rois = (case[0], case[1]) if case else (torch.randn(1, 3, 32, 64, 80), torch.tensor([[0, 8.0, 4.0, 40.0, 60.0]]))
        with torch.no_grad():
            logits = model(x, rois)
        assert logits.shape == (len(rois), cfg.num_classes)
        if case is not None:
            torch.testing.assert_close(logits, case[2], atol=1e-4, rtol=1e-4)
    finally:
        path.unlink()


def test_a_detection_file_into_a_classifier_is_refused(http_server):
    cfg = sz.get_pretrained_cfg(QUICK[0])
    path = _published_file(cfg, http_server.root / "wrong")
    try:
        with pytest.raises(CheckpointError, match="action detector.s .*detection architecture"):
            sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=http_server.url(path))
    finally:
        path.unlink()


def test_ptv_detector_over_the_mirror_at_its_published_url(http_server, monkeypatch):
    name = "ptv_slowfast_r50_detection.ava22_ptv"
    cfg = sz.get_pretrained_cfg(name)
    path = write_torch_checkpoint(http_server.root / cfg.url.split("dl.fbaipublicfiles.com/")[1],
                                  _state(cfg.architecture))
    monkeypatch.setenv("SLOWFAST_ZOO_MIRROR", http_server.base_url)
    try:
        model = sz.create_model(name, pretrained=True, progress=False).eval()
        assert record_path(cfg.url).is_file()  # trusted on first use: held to this file from now on
        x, rois, expected = _golden_logits(cfg)
        with torch.no_grad():
            torch.testing.assert_close(model(x, rois), expected, atol=1e-4, rtol=1e-4)
    finally:
        path.unlink()


def test_fitting_weights_tell_detectors_from_classifiers():
    """Detectors and classifiers have the same backbone shapes: the file's RoI head decides."""
    from slowfast_zoo.weights.identify import file_shape, fitting_weights

    sd = sz.create_model("slowfast_r50_8x8x1_ava", num_classes=0).state_dict()
    as_detector = {n.partition(".")[0] for n in fitting_weights(file_shape(sd, "slow_fast", detector=True))}
    as_classifier = {n.partition(".")[0] for n in fitting_weights(file_shape(sd, "fast_slow"))}
    assert as_detector == {"slowfast_r50_8x8x1_ava", "slowfast_r50_8x8x1_ava_tmax"}
    assert as_classifier == {"slowfast_r50_8x8x1", "slowfast_r50_16x8x1"}  # the same shapes
