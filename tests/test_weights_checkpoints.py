"""Tests of slowfast_zoo.weights on MMAction2's other checkpoint generations (issue 12).

The lateral-norm and sthv1 architectures against MMAction2 1.2.0's golden outputs through real
files of both generations, the published 1.x files of the existing architectures, and files
loaded into the wrong architecture naming the weights they fit (``weights.identify``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import slowfast_zoo as sz
import weightgen
from slowfast_zoo.errors import CheckpointError
from test_weights_loader import assert_golden, assert_weights_equal
from weightgen import (
    LN,
    SS,
    Files,
    fake_mmengine_importable,
    generate_state_dict,
    load_golden,
    weights_sha256,
    write_mmaction2_checkpoint,
    write_mmengine_checkpoint,
)




@pytest.fixture(autouse=True)
def no_constructions() -> Iterator[None]:
    weightgen.CONSTRUCTED.clear()
    yield
    weightgen.CONSTRUCTED.clear()


# ------------------------------------------------------------------------- golden parity
@pytest.mark.slow
@pytest.mark.parametrize("arch", [LN, SS])
def test_generator_matches_golden_weights(files: Files, arch: str) -> None:
    assert weights_sha256(files.state_dict(arch)) == load_golden(arch)["weights_sha256"]


@pytest.mark.slow
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


@pytest.mark.slow
def test_sthv1_0x_file_local(files: Files) -> None:
    model = sz.create_model("slowfast_r50_16x8x1", pretrained=True, checkpoint_path=files.file("sthv1_0x"))
    assert model.pretrained_cfg.name == "slowfast_r50_16x8x1.sthv1" and model.num_classes == 174
    assert model.class_names == tuple(f"class_{i}" for i in range(174))
    assert_weights_equal(model, files.state_dict(SS))
    assert_golden(model, SS)


@pytest.mark.slow
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


@pytest.mark.slow
def test_plain_file_into_lateral_norm_architecture_names_the_plain_one(files: Files) -> None:
    msg = _load_error("slowfast_r50_8x8x1_ln", files.file("r50_8x8x1_0x"))
    assert "lateral kernel 7 without BatchNorm" in msg
    assert "slowfast_r50_8x8x1 (tags k400_320p, k400_mm1)" in msg and "slowfast_r50_16x8x1 (tags sthv1)" in msg


@pytest.mark.slow
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
