"""Tests of slowfast_zoo.tools.export: ONNX (onnxruntime) and TorchScript exports match the PyTorch
logits with generated weights, and MMAction2's golden logits for the newer architectures."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
from pathlib import Path

import pytest
import torch

import slowfast_zoo as sz
import weightgen
from slowfast_zoo.tools import export as ex
from slowfast_zoo.cli import main
from weightgen import LN, SS, Files
from weightgen import MODEL_NAMES, generate_state_dict, load_golden, write_mmaction2_checkpoint

ARCH = "slowfast_r50_4x16x1"
SIZE = 32  # smallest input the network accepts: keeps export + check to seconds on 2 cores


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mmaction2_checkpoint(generate_state_dict("r50_4x16x1"), tmp_path_factory.mktemp("ckpt"),
                                      "slowfast_r50_4x16x1_test")


@pytest.fixture(scope="module")
def model(checkpoint: Path) -> torch.nn.Module:
    return sz.create_model(ARCH, pretrained=True, checkpoint_path=checkpoint).eval()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.slow
def test_torchscript_parity(model, tmp_path: Path) -> None:
    path = ex.export_torchscript(model, tmp_path / "sf.pt", size=SIZE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()  # not mkstemp's 0600
    for batch in (1, 3):  # a traced SlowFast takes any batch size
        x = ex.example_input(model, size=SIZE, batch=batch, seed=batch)
        assert ex.check_torchscript(path, model, x) <= ex.TORCHSCRIPT_ATOL
    assert not model.is_fused  # the unfused eager model was exported


def test_export_refuses_fused_model_and_bad_format(model, tmp_path: Path) -> None:
    fused = sz.create_model(ARCH).eval().fuse()
    with pytest.raises(ValueError, match="unfused"):
        ex.export_torchscript(fused, tmp_path / "x.pt", size=SIZE)
    with pytest.raises(ValueError, match="format"):
        ex.export_model(model, tmp_path / "x", "tflite")


_HAVE_ORT = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime", "onnxscript"))


@pytest.mark.slow
@pytest.mark.skipif(not _HAVE_ORT, reason="the export extra (onnx, onnxruntime, onnxscript) is not installed")
def test_cli_onnx_export_parity(checkpoint: Path, model, tmp_path: Path, capsys) -> None:
    import onnx
    import onnxruntime as ort

    out = tmp_path / "sf.onnx"
    assert main(["export", ARCH, "--weights", str(checkpoint), "--format", "onnx", "--size", str(SIZE),
                 "--dynamic-batch", "-o", str(out), "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["opset"] == ex.ONNX_OPSET and report["input"] == [1, 3, 32, SIZE, SIZE]
    assert report["max_abs_logit_diff"] <= ex.ONNX_ATOL
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~_umask()  # not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["sf.onnx"]  # no temporary file left
    proto = onnx.load(str(out))
    assert any(o.domain in ("", "ai.onnx") and o.version == ex.ONNX_OPSET for o in proto.opset_import)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (inp,), (outp,) = sess.get_inputs(), sess.get_outputs()
    assert (inp.name, outp.name) == ("video", "logits")
    x = ex.example_input(model, size=SIZE, batch=3, seed=7)  # dynamic batch
    got = torch.from_numpy(sess.run(None, {"video": x.numpy()})[0])
    with torch.inference_mode():
        ref = model(x)
    assert got.shape == (3, 400)
    torch.testing.assert_close(got, ref, atol=ex.ONNX_ATOL, rtol=0)
    assert got.argmax(1).tolist() == ref.argmax(1).tolist()


# ------------------------------------------------------------------------- the lateral-norm and sthv1 architectures

@pytest.mark.slow
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


@pytest.mark.slow
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


# ------------------------------------------------------------------------- opsets (issue 22)
@pytest.mark.slow  # importing onnx for its newest opset takes most of a second
def test_opsets_the_exporter_cannot_write_are_refused_before_any_work(tmp_path: Path, capsys, monkeypatch) -> None:
    from slowfast_zoo.errors import UsageError

    def refuse(*args, **kwargs):
        raise AssertionError("the model was built before --opset was checked")
    monkeypatch.setattr("slowfast_zoo.factory.create_model", refuse)
    cases = [("dynamo", 7), ("dynamo", 17), ("dynamo", 99), ("torchscript", 9), ("torchscript", 99)]
    for exporter, opset in cases:
        assert main(["export", ARCH, "--format", "onnx", "--exporter", exporter, "--opset", str(opset),
                     "-o", str(tmp_path / "m.onnx")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("slowfast-zoo: error: "), err
        assert f"opset {opset}" in err or "pip install" in err, err
        with pytest.raises(UsageError):
            ex.check_onnx_opset(exporter, opset)
    assert not (tmp_path / "m.onnx").exists()
    if _HAVE_ORT:
        assert ex.check_onnx_opset("dynamo") == ex.ONNX_OPSET == ex.onnx_opsets("dynamo")[0]
        assert ex.check_onnx_opset("torchscript", 10) == 10 and ex.check_onnx_opset("dynamo", 21) == 21
        with pytest.raises(UsageError, match="the torchscript exporter writes 12"):
            ex.check_onnx_opset("dynamo", 12)


@pytest.mark.skipif(not _HAVE_ORT, reason="the export extra (onnx, onnxruntime, onnxscript) is not installed")
def test_a_file_written_with_another_opset_is_not_kept(tmp_path: Path, monkeypatch) -> None:
    from slowfast_zoo.errors import UsageError

    # The exporters fall back to another opset with only a log line: the file must not be kept.
    monkeypatch.setattr(torch.onnx, "export", lambda model, args, f, **kwargs: Path(f).write_bytes(b"onnx"))
    monkeypatch.setattr(ex, "onnx_file_opset", lambda path: 18)
    model = torch.nn.Module()  # only the checks before the export see it
    monkeypatch.setattr(ex, "_prepared", lambda model, fp16: model)
    monkeypatch.setattr(ex, "example_input", lambda model, **kwargs: torch.zeros(1))
    with pytest.raises(UsageError, match="wrote opset 18 instead"):
        ex.export_onnx(model, tmp_path / "m.onnx", opset=21)
    assert list(tmp_path.iterdir()) == []  # no file, no temporary left


@pytest.mark.slow
@pytest.mark.skipif(not _HAVE_ORT, reason="the export extra (onnx, onnxruntime, onnxscript) is not installed")
@pytest.mark.parametrize("exporter,opset", [("dynamo", 21), ("torchscript", 11)])
def test_cli_export_writes_and_reports_the_asked_opset(checkpoint: Path, tmp_path: Path, capsys,
                                                       exporter: str, opset: int) -> None:
    out = tmp_path / "sf.onnx"
    assert main(["export", ARCH, "--weights", str(checkpoint), "--format", "onnx", "--size", str(SIZE),
                 "--exporter", exporter, "--opset", str(opset), "-o", str(out), "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["opset"] == opset == ex.onnx_file_opset(out)
    assert report["max_abs_logit_diff"] <= ex.ONNX_ATOL


@pytest.mark.slow
def test_a_pysf_architecture_exports_with_its_fully_convolutional_head(tmp_path: Path) -> None:
    from slowfast_zoo.tools.export import check_torchscript, export_torchscript

    model = sz.create_model("pysf_slowfast_r50_8x8").eval()
    path = export_torchscript(model, tmp_path / "pysf.pt", size=256)  # 2x2 head positions
    x = torch.randn(1, 3, 32, 256, 256)
    assert check_torchscript(path, model, x) <= 1e-5
    with torch.inference_mode():  # the exported logits are the mean over the head's positions
        per_position = model.forward_head(model.forward_features(x), return_map=True)
        assert per_position.shape[2:] == (1, 2, 2)
        assert torch.allclose(torch.jit.load(str(path))(x), per_position.mean((2, 3, 4)), atol=1e-4)
