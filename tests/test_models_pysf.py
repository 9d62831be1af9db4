"""The ``pysf_*`` architectures against PyTorchVideo's and PySlowFast's own outputs (issue 23, part 1).

Ground truth (tests/data/pysf, copied from the golden-data workshop, see its README): the ordered
state-dict keys of every network in each framework's names (manifests), the outputs of the
ORIGINAL frameworks on seeded inputs with weights of the deterministic rules v1-ptv / v1-psf
(goldens), PySlowFast's PySlowFast -> PyTorchVideo renaming rules and its caffe2 blob table.
Each golden model is rebuilt here: our network, filled through the converter of the file's own
key family from a state dict of the reference rule, fed the reference input.
"""

from __future__ import annotations

import functools
import math
import re

import pytest
import torch

import weightgen
from slowfast_zoo.errors import CheckpointError, UsageError
from slowfast_zoo.inference.engine import (average_views, position_scores, prepare_model, protocol_scoring,
                                           run_views)
from slowfast_zoo.models.clips import split_clip
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.registry import ARCHS
from slowfast_zoo.weights.apply import apply_converted
from slowfast_zoo.weights.convert import UNMAPPED, convert_checkpoint
from slowfast_zoo.weights.convert_pysf import (
    caffe2_blob_is_skipped,
    caffe2_blob_to_ours,
    caffe2_blob_to_psf,
    key_family,
    psf_key_to_ours,
    ptv_key_to_ours,
)
from slowfast_zoo.weights.readers import Checkpoint
from weightgen import load_pysf, pysf_input

PYSF_ARCHS = sorted(a for a in ARCHS if a.startswith("pysf_"))
#: manifest -> (our architecture, weight rule, converter of its keys)
MANIFESTS = {
    "manifest_ptv_slowfast_r50_4x16": ("pysf_slowfast_r50_4x16", "v1-ptv", ptv_key_to_ours),
    "manifest_ptv_slowfast_r50_8x8": ("pysf_slowfast_r50_8x8", "v1-ptv", ptv_key_to_ours),
    "manifest_ptv_slowfast_r101_8x8": ("pysf_slowfast_r101_8x8", "v1-ptv", ptv_key_to_ours),
    "manifest_ptv_slowfast_16x8_r101_50_50": ("pysf_slowfast_16x8_r101_50_50", "v1-ptv", ptv_key_to_ours),
    "manifest_ptv_slowfast_r50_8x8_ssv2": ("pysf_slowfast_r50_8x8", "v1-ptv", ptv_key_to_ours),
    "manifest_ptv_slowfast_r50_8x8_charades": ("pysf_slowfast_r50_8x8", "v1-ptv", ptv_key_to_ours),
    "manifest_psf_slowfast_r50_4x16": ("pysf_slowfast_r50_4x16", "v1-psf", psf_key_to_ours),
    "manifest_psf_slowfast_r50_8x8": ("pysf_slowfast_r50_8x8", "v1-psf", psf_key_to_ours),
    "manifest_psf_slowfast_r50_16x8_ssv2": ("pysf_slowfast_r50_16x8", "v1-psf", psf_key_to_ours),
    "manifest_psf_slowfast_r50_16x8_charades": ("pysf_slowfast_r50_16x8", "v1-psf", psf_key_to_ours),
}
#: golden file -> its manifest (the PyTorchVideo Kinetics goldens carry the sha256 themselves).
GOLDENS = {
    "golden_psf_slowfast_r50_4x16_public": "manifest_psf_slowfast_r50_4x16",
    "golden_psf_slowfast_r50_8x8_public": "manifest_psf_slowfast_r50_8x8",
    "golden_psf_slowfast_r50_16x8_ssv2_public": "manifest_psf_slowfast_r50_16x8_ssv2",
    "golden_psf_slowfast_r50_16x8_charades_public": "manifest_psf_slowfast_r50_16x8_charades",
    "golden_ptv_slowfast_r50_8x8_ssv2_public": "manifest_ptv_slowfast_r50_8x8_ssv2",
    "golden_ptv_slowfast_r50_8x8_charades_public": "manifest_ptv_slowfast_r50_8x8_charades",
}
PTV_KINETICS = ("r50_4x16", "r50_8x8", "r101_8x8", "16x8_r101_50_50")
#: The caffe2 golden of the width-8 network: the r50 8x8 config with RESNET.WIDTH_PER_GROUP 8 and
#: 10 classes (a test-only spec; its blob names are the r50 8x8 table's).
W8_SPEC = ARCHS["pysf_slowfast_r50_8x8"].replace(name="pysf_slowfast_r50w8_8x8 (test only)",
                                                 slow_base_channels=8, num_classes=10)


def _num_classes(manifest: dict) -> int:
    return int(manifest.get("num_classes", 400))


@functools.lru_cache(maxsize=4)
def _shapes(arch: str, num_classes: int) -> dict[str, tuple[int, ...]]:
    """Our state dict's key -> shape for ``arch``."""
    # (On CPU: the meta device is no cheaper here, its first random init imports torch._dynamo.)
    return {k: tuple(v.shape) for k, v in SlowFast(ARCHS[arch], num_classes=num_classes).state_dict().items()}


@functools.lru_cache(maxsize=2)
def _reference_state_dict(manifest_name: str) -> dict[str, torch.Tensor]:
    manifest = load_pysf(manifest_name)
    return weightgen.generate_pysf_state_dict(manifest["state_dict"], MANIFESTS[manifest_name][1])


def _filled(spec, sd: dict[str, torch.Tensor], source: str, num_classes: int) -> SlowFast:
    """Our model of ``spec``, loaded through the one check from a file-named state dict."""
    model = SlowFast(spec, num_classes=num_classes).eval()
    converted = convert_checkpoint(Checkpoint(dict(sd), "mmaction2", source))  # the torch reader's label
    assert apply_converted(model, converted, published_classes=num_classes)
    return model


def _check_input(x: torch.Tensor, spec: dict) -> None:
    assert list(x.shape) == spec["shape"]
    if "x_sum" in spec:
        assert abs(float(x.double().sum()) - spec["x_sum"]) < 1e-6 * abs(spec["x_sum"])
        assert x.flatten()[:4].tolist() == pytest.approx(spec["x_first4"], abs=1e-8)


def _per_view_score(logit_map: torch.Tensor, activation: str) -> torch.Tensor:
    # PySlowFast's ResNetBasicHead in eval: the activation at every position, then the mean.
    act = logit_map.softmax(1) if activation == "softmax" else logit_map.sigmoid()
    return act.mean((2, 3, 4))


def _assert_case(model: SlowFast, x: torch.Tensor, case: dict) -> dict[str, float]:
    """Compare per-position logits, their mean, the per-view score and the argmaxes; the max |d|."""
    with torch.no_grad():
        features = model.forward_features(x)
        logit_map = model.forward_head(features, return_map=True)
        logits = model(x)
    want_map = torch.tensor(case["proj_map"]).permute(0, 4, 1, 2, 3)  # [N, t, h, w, C] -> [N, C, t, h, w]
    output = _per_view_score(logit_map, case["head_activation"])
    torch.testing.assert_close(logit_map, want_map, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logits, torch.tensor(case["logits_mean"]), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(output, torch.tensor(case["output"]), atol=1e-5, rtol=0)
    assert output.argmax(1).tolist() == case["argmax_output"]
    assert logits.argmax(1).tolist() == case["argmax_logits_mean"]
    return {"proj_map": float((logit_map - want_map).abs().max()),
            "logits_mean": float((logits - torch.tensor(case["logits_mean"])).abs().max()),
            "output": float((output - torch.tensor(case["output"])).abs().max())}


# ------------------------------------------------------------------------------ architectures
@pytest.mark.parametrize("manifest_name", sorted(MANIFESTS))
def test_every_framework_key_fills_exactly_one_of_our_weights(manifest_name: str) -> None:
    manifest = load_pysf(manifest_name)
    arch, _, to_ours = MANIFESTS[manifest_name]
    ours = _shapes(arch, _num_classes(manifest))
    mapped = {to_ours(k): tuple(shape) for k, shape in manifest["state_dict"]}
    assert None not in mapped and len(mapped) == len(manifest["state_dict"]) == len(ours)  # a bijection
    assert mapped == ours  # same keys, same shapes
    if "num_parameters" in manifest:
        params = sum(math.prod(s) for k, s in ours.items() if not k.endswith(("running_mean", "running_var",
                                                                              "num_batches_tracked")))
        assert params == manifest["num_parameters"]


def test_specs_are_the_recorded_create_slowfast_kwargs() -> None:
    recorded = load_pysf("psf_ptv_rules")["kwargs_fusion"]
    archs = {"psf_slowfast_r50_4x16": "pysf_slowfast_r50_4x16", "psf_slowfast_r50_8x8": "pysf_slowfast_r50_8x8",
             "psf_slowfast_r50_16x8_ssv2": "pysf_slowfast_r50_16x8",
             "psf_slowfast_r50_16x8_charades": "pysf_slowfast_r50_16x8"}
    for name, (kernel, stride, head_pool) in recorded.items():
        spec = ARCHS[archs[name]]
        assert [spec.fusion_kernel, 1, 1] == kernel and [spec.alpha, 1, 1] == stride
        assert [list(k) for k in spec.head_pool] == head_pool
    # The R101 16x8: temporal kernels in the first 6 of 23 res4 blocks, in both pathways.
    shapes = _shapes("pysf_slowfast_16x8_r101_50_50", 400)
    for pathway in ("slow", "fast"):
        kernels = [shapes[f"{pathway}.stages.2.{i}.conv_a.conv.weight"][2] for i in range(23)]
        assert kernels == [3] * 6 + [1] * 17


def test_psf_and_ptv_names_of_one_weight_convert_to_the_same_key() -> None:
    rules = [(re.compile(p), t) for p, t in load_pysf("psf_ptv_rules")["rules"]]

    def to_ptv(key: str) -> str:
        for pattern, template in rules:
            m = pattern.match(key)
            if m:
                groups = m.groupdict()
                return template.format(B=int(groups.get("K") or 1) - 1, **groups)
        raise AssertionError(key)

    pairs = {"manifest_psf_slowfast_r50_8x8": "manifest_ptv_slowfast_r50_8x8",
             "manifest_psf_slowfast_r50_4x16": "manifest_ptv_slowfast_r50_4x16",
             "manifest_psf_slowfast_r50_16x8_ssv2": "manifest_ptv_slowfast_r50_8x8_ssv2"}
    for psf_name, ptv_name in pairs.items():
        psf_keys = [k for k, _ in load_pysf(psf_name)["state_dict"]]
        ptv = {to_ptv(k): k for k in psf_keys}
        assert set(ptv) == {k for k, _ in load_pysf(ptv_name)["state_dict"]}
        assert all(ptv_key_to_ours(p) == psf_key_to_ours(k) is not None for p, k in ptv.items())
        # PySlowFast's pysf_model_zoo re-hosts the PyTorchVideo files with every key prefixed.
        assert all(ptv_key_to_ours("model." + p) == ptv_key_to_ours(p) for p in ptv)


def test_key_family_is_read_from_the_keys() -> None:
    for name in MANIFESTS:
        keys = [k for k, _ in load_pysf(name)["state_dict"]]
        want = "pytorchvideo" if "_ptv_" in name else "pyslowfast"
        assert key_family(keys) == want
        assert key_family("model." + k for k in keys) == want
    table = load_pysf("c2_blob_table_psf_slowfast_r50_8x8")["table"]
    assert key_family([row[0] for row in table] + ["lr", "model_iter"]) == "caffe2"
    assert key_family(["backbone.slow_path.conv1.conv.weight"]) == "mmaction2"
    # Shapes cannot tell MMAction2's slowfast_r50_8x8x1_ln from pysf_slowfast_r50_8x8: the
    # family says which classifier column order the file has.
    orders = {name: convert_checkpoint(Checkpoint({key: torch.zeros(1)}, "mmaction2", "f")).feature_order
              for name, key in (("mm", "cls_head.fc_cls.bias"), ("ptv", "model.blocks.6.proj.bias"),
                                ("psf", "head.projection.bias"), ("c2", "pred_b"))}
    assert orders == {"mm": "fast_slow", "ptv": "slow_fast", "psf": "slow_fast", "c2": "slow_fast"}


def test_mismatches_are_named_in_the_files_own_keys() -> None:
    # A PyTorchVideo 4x16 file (kernel-5 laterals) given to the 8x8 network (kernel 7).
    keys = load_pysf("manifest_ptv_slowfast_r50_4x16")["state_dict"]
    sd = {k: torch.zeros(shape) if shape else torch.tensor(0) for k, shape in keys}
    sd["model.blocks.6.proj.extra"] = torch.zeros(1)
    model = SlowFast(ARCHS["pysf_slowfast_r50_8x8"]).eval()
    with pytest.raises(CheckpointError) as info:
        apply_converted(model, convert_checkpoint(Checkpoint(sd, "mmaction2", "k400.pyth")), published_classes=400)
    message = str(info.value)
    assert "blocks.0.multipathway_fusion.conv_fast_to_slow.weight: file [16, 8, 5, 1, 1] vs model [16, 8, 7, 1, 1]" in message
    assert "4 mismatched shapes" in message and "1 unexpected:\n    model.blocks.6.proj.extra" in message


def test_caffe2_blob_names_are_renamed_as_pyslowfast_does() -> None:
    data = load_pysf("c2_blob_table_psf_slowfast_r50_8x8")
    ours = _shapes("pysf_slowfast_r50_8x8", 400)
    targets = set()
    for c2, psf, shape, has_momentum, _kind in data["table"]:
        assert caffe2_blob_to_psf(c2) == psf, c2
        key = caffe2_blob_to_ours(c2)
        assert key == psf_key_to_ours(psf) and list(ours[key]) == shape
        targets.add(key)
        assert caffe2_blob_is_skipped(c2 + "_momentum") and not caffe2_blob_is_skipped(c2)
    assert len(targets) == len(data["table"]) == 552  # a bijection onto every non-counter weight
    assert targets == {k for k in ours if not k.endswith("num_batches_tracked")}
    for c2, c2_shape, psf, psf_shape in data["issue15_check"]:  # a published load log (SlowFast#15)
        assert caffe2_blob_to_psf(c2) == psf and c2_shape == psf_shape
    # The lateral after a stage is accepted from any block's branch2c BN (PySlowFast's rule): the
    # published R101 AVA file names it after block 22 of res4.
    assert caffe2_blob_to_ours("t_res4_22_branch2c_bn_subsample_bn_riv") == "laterals.3.bn.running_var"
    assert caffe2_blob_to_ours("t_res3_0_branch2c_bn_subsample_w") == "laterals.2.weight"
    assert all(caffe2_blob_is_skipped(n) for n in ("lr", "model_iter", "t_pool1_subsample_bn_s_momentum"))


def test_caffe2_converter_is_strict_and_names_blobs() -> None:
    model = SlowFast(W8_SPEC).eval()
    table = load_pysf("c2_blob_table_psf_slowfast_r50_8x8")["table"]
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    blobs = {c2: torch.zeros(shapes[psf_key_to_ours(psf)]) for c2, psf, *_ in table}
    blobs.pop("t_res3_3_branch2c_bn_subsample_bn_riv")
    blobs["res5_2_branch2c_bn_x"] = torch.zeros(2)  # no rule knows it, and it is no optimizer state
    converted = convert_checkpoint(Checkpoint(blobs, "mmaction2", "bad.pkl"))
    assert converted.key_family == "caffe2"
    assert f"{UNMAPPED}res5_2_branch2c_bn_x" in converted.state_dict
    with pytest.raises(CheckpointError) as info:
        apply_converted(model, converted, published_classes=10)
    message = str(info.value)
    assert "1 missing:\n    laterals.2.bn.running_var" in message
    assert "1 unexpected:\n    res5_2_branch2c_bn_x" in message
    # Two blobs of one weight (PySlowFast would load whichever came last) are refused.
    blobs = {"t_res3_3_branch2c_bn_subsample_w": torch.zeros(1), "t_res3_2_branch2c_bn_subsample_w": torch.zeros(1)}
    with pytest.raises(CheckpointError, match="both the weight 'laterals.2.weight'"):
        convert_checkpoint(Checkpoint(blobs, "mmaction2", "twice.pkl"))


def test_slow_clip_is_pyslowfast_linspace_and_two_clips_are_accepted() -> None:
    clip = torch.arange(64.0).view(1, 1, 64, 1, 1).expand(1, 3, 64, 32, 32)
    for name in ("golden_psf_slowfast_r50_4x16_public", "golden_psf_slowfast_r50_16x8_ssv2_public"):
        for case in load_pysf(name)["cases"]:
            arch = ARCHS[MANIFESTS[GOLDENS[name]][0]]
            t = case["input"]["shape"][2]
            slow, fast = split_clip(clip[:, :, :t], arch)
            assert slow[0, 0, :, 0, 0].long().tolist() == case["input"]["slow_indices"]
            assert torch.equal(fast, clip[:, :, :t])
    # MMAction2's networks keep every tau-th frame.
    slow, _ = split_clip(clip[:, :, :32], ARCHS["slowfast_r50_8x8x1"])
    assert slow[0, 0, :, 0, 0].long().tolist() == list(range(0, 32, 4))
    with pytest.raises(UsageError, match="same N, H and W"):
        split_clip([torch.zeros(1, 3, 8, 32, 48), torch.zeros(1, 3, 32, 32, 32)], ARCHS["pysf_slowfast_r50_8x8"])


@pytest.mark.slow
@pytest.mark.parametrize("arch", PYSF_ARCHS)
def test_timm_contract_with_head_positions(arch: str) -> None:
    torch.manual_seed(0)
    model = SlowFast(ARCHS[arch], num_classes=5).eval()
    assert model.fc.out_features == 5 and model.spec.feature_order == "slow_fast"
    t = 2 * model.alpha  # shorter than the training clip: the temporal kernel spans the clip
    x = torch.randn(1, 3, t, 224, 256)  # the 7x7 training kernel leaves 1x2 positions
    with torch.no_grad():
        slow, fast = model.forward_features(x)
        assert slow.shape == (1, 2048, 2, 7, 8) and fast.shape == (1, 256, t, 7, 8)
        logit_map = model.forward_head((slow, fast), return_map=True)
        assert logit_map.shape == (1, 5, 1, 1, 2)
        logits = model(x)
        torch.testing.assert_close(logits, logit_map.mean((2, 3, 4)), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model(list(split_clip(x, model.spec))), logits)
        feats = model.forward_head((slow, fast), pre_logits=True)
        feat_map = model.forward_head((slow, fast), pre_logits=True, return_map=True)
    # PySlowFast's order: the slow pathway's 2048 channels first, exposed as slices.
    assert (model.slow_channels, model.fast_channels) == (slice(0, 2048), slice(2048, 2304))
    pooled_slow = torch.nn.functional.avg_pool3d(slow, (2, 7, 7), stride=1)
    torch.testing.assert_close(feat_map[:, model.slow_channels], pooled_slow)
    torch.testing.assert_close(feats, feat_map.mean((2, 3, 4)))
    torch.testing.assert_close(logits, model.fc(feats), atol=1e-5, rtol=1e-5)
    model.reset_classifier(0)
    with torch.no_grad():
        assert model.forward_head((slow, fast)).shape == (1, 2304)
        # Smaller than the training crop: the kernel shrinks to the map (the frameworks raise).
        small = model.forward_head(model.forward_features(torch.randn(1, 3, t, 64, 80)), return_map=True)
    assert small.shape == (1, 2304, 1, 1, 1)


# --------------------------------------------------------------------------------- weight rules
def test_weight_rule_v1_psf_matches_its_check_rows() -> None:
    check = load_pysf("weightgen_check_psf_r50_8x8")
    shapes = {k: s for k, s in load_pysf("manifest_psf_slowfast_r50_8x8")["state_dict"]}
    for key, total, first3 in check["per_key"]:
        t = weightgen.draw_v1(key, shapes[key], weightgen.v1_kind(key, shapes[key], "v1-psf"))
        assert float(t.double().sum()) == pytest.approx(total, rel=1e-9, abs=1e-9)
        assert t.flatten()[:3].tolist() == pytest.approx(first3[: t.numel()], abs=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("manifest_name", sorted(MANIFESTS))
def test_weight_rules_reproduce_the_reference_weights(manifest_name: str) -> None:
    manifest = load_pysf(manifest_name)
    want = manifest.get("weights_sha256")
    if want is None:  # the PyTorchVideo Kinetics goldens carry it
        want = load_pysf(manifest_name.replace("manifest", "golden") + "_public")["weights_sha256"]
    assert weightgen.weights_sha256(_reference_state_dict(manifest_name)) == want


# ------------------------------------------------------------------------------- golden parity
@pytest.mark.slow
@pytest.mark.parametrize("arch", PTV_KINETICS)
def test_pytorchvideo_kinetics_goldens(arch: str) -> None:
    golden = load_pysf(f"golden_ptv_slowfast_{arch}_public")
    manifest_name = f"manifest_ptv_slowfast_{arch}"
    model = _filled(ARCHS[MANIFESTS[manifest_name][0]], _reference_state_dict(manifest_name), f"{arch}.pyth", 400)
    x = pysf_input(golden["input"])
    _check_input(x, golden["input"])
    slow, _ = split_clip(x, model.spec)
    want = torch.tensor(golden["logits"])  # the hub model's output: the mean of the logit map
    with torch.no_grad():
        logits = model(x)
        fast = prepare_model(model, device="cpu")(x.contiguous(memory_format=torch.channels_last_3d))
    assert torch.equal(slow, x.index_select(2, torch.tensor(golden["input"]["slow_indices"])))
    for out in (logits, fast):
        torch.testing.assert_close(out, want, atol=1e-4, rtol=1e-4)
        assert out.argmax(1).tolist() == golden["argmax_per_view"]


def _golden_cases() -> list:
    return [pytest.param(name, i, id=f"{name.removeprefix('golden_').removesuffix('_public')}-{case['name']}")
            for name in sorted(GOLDENS) for i, case in enumerate(load_pysf(name)["cases"])]


@pytest.mark.slow
@pytest.mark.parametrize("golden_name,index", _golden_cases())
def test_pyslowfast_goldens_plain_and_fast_path(golden_name: str, index: int) -> None:
    case = load_pysf(golden_name)["cases"][index]
    manifest_name = GOLDENS[golden_name]
    arch, _, _ = MANIFESTS[manifest_name]
    spec = ARCHS[arch]
    if case["name"] == "short_cycle_head":  # the multigrid short-cycle weights: a global average
        spec = spec.replace(head_pool=())
    else:
        assert [list(k) for k in spec.head_pool] == case["head_pool"]
    num_classes = _num_classes(load_pysf(manifest_name))
    model = _filled(spec, _reference_state_dict(manifest_name), manifest_name, num_classes)
    x = pysf_input(case["input"])
    _check_input(x, case["input"])
    _assert_case(model, x, case)
    # The fast path: BatchNorm folded, channels_last_3d, 2-D convolutions.
    fast = prepare_model(model, device="cpu")
    assert fast.is_fused
    _assert_case(fast, x.contiguous(memory_format=torch.channels_last_3d), case)


def _caffe2_blobs(spec, golden_case: dict) -> dict[str, object]:
    """The blobs of the synthetic caffe2 file (tests/data/pysf/README.md): every parameter blob by
    rule v1-psf of its PySlowFast key, a momentum blob beside each trainable one, ``lr`` and
    ``model_iter``, as the caffe2 writers stored them."""
    table = load_pysf("c2_blob_table_psf_slowfast_r50_8x8")["table"]
    shapes = {k: list(v.shape) for k, v in SlowFast(spec).state_dict().items()}
    blobs: dict[str, object] = {"model_iter": 123456, "lr": torch.tensor([1e-4])}
    for c2, psf, _shape, has_momentum, kind in table:
        shape = shapes[psf_key_to_ours(psf)]
        if has_momentum:
            blobs[c2 + "_momentum"] = torch.full(shape, 1e-3)
        blobs[c2] = weightgen.draw_v1(psf, shape, kind)
    assert len(blobs) == golden_case["n_blobs"]
    return blobs


def _assert_caffe2_case(spec, case: dict) -> None:
    blobs = _caffe2_blobs(spec, case)
    converted = convert_checkpoint(Checkpoint(blobs, "mmaction2", "synthetic.pkl"))
    assert converted.key_family == "caffe2" and len(converted.source_keys) == case["n_blobs_loaded"]
    model = SlowFast(spec).eval()
    assert apply_converted(model, converted, published_classes=spec.num_classes)
    # The loaded state dict is rule v1-psf in PySlowFast's order (counters 0).
    order = [k for k, _ in load_pysf("manifest_psf_slowfast_r50_8x8")["state_dict"]]
    sd = model.state_dict()
    assert weightgen.weights_sha256({k: sd[psf_key_to_ours(k)] for k in order}) == case["weights_sha256_rule_v1_psf"]
    x = pysf_input(case["input"])
    _check_input(x, case["input"])
    with torch.no_grad():
        logit_map = model.forward_head(model.forward_features(x), return_map=True)
    want_map = torch.tensor(case["proj_map"]).permute(0, 4, 1, 2, 3)
    assert list(logit_map.permute(0, 2, 3, 4, 1).shape) == case["proj_map_shape"]
    torch.testing.assert_close(logit_map, want_map, atol=1e-4, rtol=1e-4)
    output = _per_view_score(logit_map, case["head_act"])
    torch.testing.assert_close(output, torch.tensor(case["output"]), atol=1e-5, rtol=0)
    assert output.argmax(1).tolist() == case["argmax_output"]


def test_caffe2_width8_golden() -> None:
    # The one golden small enough for the quick suite: PySlowFast's caffe2 loading path on the
    # width-8 network (2x2 head positions at 256 px).
    case = load_pysf("golden_c2_load_public")["cases"][0]
    assert case["arch"] == "psf_slowfast_r50w8_8x8" and case["config_opts"][:4] == [
        "RESNET.WIDTH_PER_GROUP", 8, "MODEL.NUM_CLASSES", 10]
    _assert_caffe2_case(W8_SPEC, case)


@pytest.mark.slow
def test_caffe2_full_r50_8x8_golden() -> None:
    case = load_pysf("golden_c2_load_public")["cases"][1]
    assert case["arch"] == "psf_slowfast_r50_8x8"
    _assert_caffe2_case(ARCHS["pysf_slowfast_r50_8x8"], case)


# ------------------------------------------------------- end to end: files in their real formats
# Every golden model through create_model(<arch or tag>, pretrained=True, checkpoint_path=FILE),
# the file written as its source publishes it (tests/pysf_files.py): PyTorchVideo's .pyth (a
# torch zip of PySlowFast's {"epoch", "model_state", "optimizer_state", "cfg"}), PySlowFast's
# multigrid .pkl (the same dict, legacy torch format) and its caffe2 .pkl. The name is a bare
# architecture (num_classes= keeps a 174 / 157-class file's classifier) or, for the short-cycle
# cases, the multigrid tag whose record gives the global-pool head.
#: golden -> (file format, name, num_classes, name for the short-cycle case)
END_TO_END = {
    "golden_ptv_slowfast_r50_8x8_ssv2_public": ("pyth", "pysf_slowfast_r50_8x8", 174, None),
    "golden_ptv_slowfast_r50_8x8_charades_public": ("pyth", "pysf_slowfast_r50_8x8", 157, None),
    "golden_psf_slowfast_r50_4x16_public": ("caffe2", "pysf_slowfast_r50_4x16", None, None),
    "golden_psf_slowfast_r50_8x8_public": ("legacy_pkl", "pysf_slowfast_r50_8x8", None,
                                           "pysf_slowfast_r50_8x8.k400_multigrid"),
    "golden_psf_slowfast_r50_16x8_ssv2_public": ("legacy_pkl", "pysf_slowfast_r50_16x8", None,
                                                 "pysf_slowfast_r50_16x8.ssv2_multigrid"),
    "golden_psf_slowfast_r50_16x8_charades_public": ("legacy_pkl", "pysf_slowfast_r50_16x8", 157,
                                                     "pysf_slowfast_r50_16x8.charades_multigrid"),
}


def _measured(key: str, diffs: dict[str, float]) -> None:
    """The largest differences measured through the loading path (shown with ``pytest -s``)."""
    print(f"\nmax |d| {key}: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))


def _write_in_format(tmp_path, fmt: str, manifest_name: str, arch: str, num_classes: int):
    import pysf_files

    if fmt == "caffe2":
        shapes = _shapes(arch, num_classes)
        return pysf_files.write_caffe2_pickle(tmp_path / "SLOWFAST_4x16_R50.pkl",
                                              pysf_files.synthetic_caffe2_blobs(shapes))
    sd = _reference_state_dict(manifest_name)
    if fmt == "pyth":
        return pysf_files.write_torch_checkpoint(tmp_path / "SLOWFAST_8x8_R50.pyth", sd)
    return pysf_files.write_torch_checkpoint(tmp_path / "SLOWFAST_R50.pkl", sd, legacy=True)


def _end_to_end_cases() -> list:
    out = []
    for name, (_fmt, _arch, _classes, short_name) in END_TO_END.items():
        for i, case in enumerate(load_pysf(name)["cases"]):
            if case["name"] == "short_cycle_head" and short_name is None:
                continue  # PySlowFast 4x16 short cycle: no zoo file, no tag (spec-level test above)
            out.append(pytest.param(name, i, id=f"{name.removeprefix('golden_').removesuffix('_public')}-{case['name']}"))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("golden_name,index", _end_to_end_cases())
def test_goldens_through_create_model(golden_name: str, index: int, tmp_path) -> None:
    import slowfast_zoo as sz

    fmt, arch, num_classes, short_name = END_TO_END[golden_name]
    case = load_pysf(golden_name)["cases"][index]
    manifest_name = GOLDENS[golden_name]
    classes = _num_classes(load_pysf(manifest_name))
    path = _write_in_format(tmp_path, fmt, manifest_name, arch, classes)
    name = short_name if case["name"] == "short_cycle_head" else arch
    model = sz.create_model(name, pretrained=True, checkpoint_path=path, num_classes=num_classes).eval()
    path.unlink()
    assert model.num_classes == classes and model.spec.head_pool == (() if name == short_name else ARCHS[arch].head_pool)
    x = pysf_input(case["input"])
    _check_input(x, case["input"])
    _measured(f"{golden_name}-{case['name']}", _assert_case(model, x, case))


@pytest.mark.slow
@pytest.mark.parametrize("arch", PTV_KINETICS)
def test_pytorchvideo_kinetics_goldens_through_create_model(arch: str, tmp_path) -> None:
    import pysf_files
    import slowfast_zoo as sz

    golden = load_pysf(f"golden_ptv_slowfast_{arch}_public")
    sd = _reference_state_dict(f"manifest_ptv_slowfast_{arch}")
    # The r50 8x8 as PySlowFast's pysf_model_zoo re-hosts it (every key prefixed "model."), the
    # others as PyTorchVideo's zoo publishes them.
    prefix = "model." if arch == "r50_8x8" else ""
    path = pysf_files.write_torch_checkpoint(tmp_path / "SLOWFAST.pyth", {prefix + k: v for k, v in sd.items()})
    model = sz.create_model(MANIFESTS[f"manifest_ptv_slowfast_{arch}"][0], pretrained=True, checkpoint_path=path).eval()
    path.unlink()
    x = pysf_input(golden["input"])
    want = torch.tensor(golden["logits"])
    with torch.no_grad():
        logits = model(x)
    torch.testing.assert_close(logits, want, atol=1e-4, rtol=1e-4)
    assert logits.argmax(1).tolist() == golden["argmax_per_view"]
    _measured(f"ptv_{arch}", {"logits_mean": float((logits - want).abs().max())})


@pytest.mark.slow
def test_caffe2_full_r50_8x8_golden_through_create_model(tmp_path) -> None:
    import pysf_files
    import slowfast_zoo as sz

    case = load_pysf("golden_c2_load_public")["cases"][1]
    path = pysf_files.write_caffe2_pickle(tmp_path / "SLOWFAST_8x8_R50.pkl",
                                          pysf_files.synthetic_caffe2_blobs(_shapes("pysf_slowfast_r50_8x8", 400)))
    model = sz.create_model("pysf_slowfast_r50_8x8", pretrained=True, checkpoint_path=path).eval()
    path.unlink()
    x = pysf_input(case["input"])
    with torch.no_grad():
        logit_map = model.forward_head(model.forward_features(x), return_map=True)
    want_map = torch.tensor(case["proj_map"]).permute(0, 4, 1, 2, 3)
    torch.testing.assert_close(logit_map, want_map, atol=1e-4, rtol=1e-4)
    # The engine's score path: PySlowFast's per-view score on the fast path (folded BatchNorm).
    output = run_views(prepare_model(model, device="cpu"), x, activation=case["head_act"])
    torch.testing.assert_close(output, torch.tensor(case["output"]), atol=1e-5, rtol=0)
    assert output.argmax(1).tolist() == case["argmax_output"]
    _measured("c2_full_r50_8x8", {"proj_map": float((logit_map - want_map).abs().max()),
                                  "output": float((output - torch.tensor(case["output"])).abs().max())})


def test_engine_scores_views_as_pyslowfast() -> None:
    # Several head positions: PySlowFast's per-view score (activation at each position, then the
    # mean) is not the activation of the mean logits; views then combine by mean, or max (Charades).
    torch.manual_seed(0)
    model = SlowFast(ARCHS["pysf_slowfast_r50_8x8"].replace(slow_base_channels=8), num_classes=6).eval()
    torch.nn.init.normal_(model.fc.weight, std=3.0)  # logits far apart: the two scores differ
    views = torch.randn(2, 3, 4, 224, 256)  # 1x2 head positions
    with torch.no_grad():
        logit_map = model.forward_head(model.forward_features(views), return_map=True)
    assert logit_map.shape == (2, 6, 1, 1, 2)
    for activation in ("softmax", "sigmoid"):
        scores = run_views(model, views, activation=activation)
        torch.testing.assert_close(scores, position_scores(logit_map, activation))
    assert not torch.allclose(run_views(model, views, activation="softmax"), logit_map.mean((2, 3, 4)).softmax(1))
    scores = run_views(model, views, activation="sigmoid")
    torch.testing.assert_close(average_views(scores[None], "max_probs")[0], scores.max(0).values)
    with pytest.raises(UsageError, match="activation"):
        run_views(model, views, activation="softmax", pre_logits=True)
    import slowfast_zoo as sz
    assert protocol_scoring(sz.get_pretrained_cfg("pysf_slowfast_r50_8x8").test) == ("softmax", "mean_probs")
    assert protocol_scoring(sz.get_pretrained_cfg("slowfast_r50_8x8x1").test) == (None, "prob")
