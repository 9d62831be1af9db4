"""Tests of slowfast_zoo.inference.predict: predict() and `slowfast-zoo predict` against a direct
computation with the same weights, and the weight's own sampling rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import slowfast_zoo as sz
from slowfast_zoo.cli import main
from slowfast_zoo.data import sample_frames
from slowfast_zoo.inference.predict import class_names_of, predict_scores, sample_video_path
from video_factory import make_video
from weightgen import generate_state_dict, write_mmaction2_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An MMAction2-format r50 4x16x1 checkpoint with the reference generator's weights."""
    return write_mmaction2_checkpoint(generate_state_dict("r50_4x16x1"),
                                      tmp_path_factory.mktemp("ckpt"), "slowfast_r50_test")


def _direct_probs(checkpoint, video, views):
    """Reader + the weight's transform + plain (unfused) model + softmax mean, step by step."""
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=checkpoint).eval()
    tf = sz.data.test_transform(model.pretrained_cfg, views=views)
    reader = sz.data.VideoReader(video)
    idx = tf.sample(reader.num_frames)
    clips = tf(reader.read(idx), indices=idx)
    with torch.inference_mode():
        logits = torch.cat([model(clips[i:i + 3]) for i in range(0, len(clips), 3)])
    return logits.softmax(-1).mean(0)


@pytest.mark.slow
def test_predict_quick_look_matches_direct(checkpoint):
    video = sample_video_path()
    want = _direct_probs(checkpoint, video, "val")
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=checkpoint)
    preds = sz.predict(model, video, topk=5, views=1, device="cpu")
    top = want.topk(5)
    assert [p.index for p in preds] == top.indices.tolist()
    names = model.pretrained_cfg.class_names
    assert [p.label for p in preds] == [names[i] for i in top.indices.tolist()]
    assert [p.probability for p in preds] == pytest.approx(top.values.tolist(), abs=1e-6)


@pytest.mark.slow
def test_predict_30_views_matches_direct(checkpoint):
    video = sample_video_path()
    want = _direct_probs(checkpoint, video, "test")
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=checkpoint)
    got = predict_scores(model, video, device="cpu")
    assert got.shape == (400,) and abs(float(got.sum()) - 1) < 1e-5
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


@pytest.mark.slow
def test_cli_predict_json_on_shipped_sample(checkpoint, capsys):
    assert main(["predict", "--weights", str(checkpoint), "--views", "1", "--topk", "3",
                 "--device", "cpu", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["video"].endswith("sample.mp4") and out["views"] == 1
    want = _direct_probs(checkpoint, sample_video_path(), "val").topk(3)
    assert [t["index"] for t in out["topk"]] == want.indices.tolist()
    assert [t["probability"] for t in out["topk"]] == pytest.approx(want.values.tolist(), abs=1e-6)
    assert main(["predict", str(sample_video_path()), "--weights", str(checkpoint), "--views", "1",
                 "--topk", "2", "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert out["topk"][0]["label"] in text and "%" in text


def test_predict_errors(checkpoint, tmp_path):
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=checkpoint)
    with pytest.raises(ValueError, match="views must be 30"):
        sz.predict(model, sample_video_path(), views=7)
    with pytest.raises(ValueError, match="topk"):
        sz.predict(model, sample_video_path(), topk=0)
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(sz.VideoDecodeError, match="notes.mp4"):
        sz.predict(model, bad, views=1)


def test_class_names_follow_the_classifier():
    model = sz.create_model("slowfast_r50_4x16x1", num_classes=3)
    assert class_names_of(model) == ("class_0", "class_1", "class_2")
    assert class_names_of(sz.create_model("slowfast_r50_4x16x1"))[0] == "abseiling"


@pytest.mark.slow
def test_fine_tuned_class_names_travel_with_the_weights(tmp_path):
    from slowfast_zoo.training.checkpoints import save_weights

    model = sz.create_model("slowfast_r50_4x16x1", num_classes=3)
    save_weights(model, tmp_path / "ft.safetensors", class_names=["left", "right", "up"])
    again = sz.create_model("slowfast_r50_4x16x1", pretrained=True, num_classes=3,
                            checkpoint_path=tmp_path / "ft.safetensors")
    assert class_names_of(again) == ("left", "right", "up")
    fresh_head = sz.create_model("slowfast_r50_4x16x1", pretrained=True, num_classes=5,
                                 checkpoint_path=tmp_path / "ft.safetensors")
    assert class_names_of(fresh_head)[0] == "class_0"


@pytest.mark.slow
@pytest.mark.parametrize("job", ["predict", "extract_features", "windows"])
def test_inference_leaves_the_callers_model_unchanged(checkpoint, tmp_path, job):
    """timm/torchvision helpers never modify the user's module: the fast path runs on a copy."""
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=checkpoint)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    video = sample_video_path()
    if job == "predict":
        sz.predict(model, video, views=1, device="cpu")
    elif job == "extract_features":
        sz.extract_features(model, video, num_clips=1, device="cpu")
    else:
        from slowfast_zoo.inference.windows import predict_windows
        list(predict_windows(model, video, window=2.0, views=1, device="cpu"))
    after = model.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
    assert not model.is_fused and model.training  # still the model create_model returned
    model.train()  # works: BatchNorm is still there
    assert sz.save_pretrained(model, tmp_path / "saved").is_dir()
    again = sz.create_model(f"local-dir:{tmp_path / 'saved'}")
    assert all(torch.equal(again.state_dict()[k], before[k]) for k in before)


@pytest.mark.slow
def test_cli_predict_opens_and_probes_the_video_once(checkpoint, capsys, monkeypatch):
    from slowfast_zoo.data.decode import VideoReader

    opened = []
    real_init = VideoReader.__init__

    def counting_init(self, *args, **kwargs):
        opened.append(args[0] if args else kwargs.get("path"))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(VideoReader, "__init__", counting_init)
    assert main(["predict", "--weights", str(checkpoint), "--views", "1", "--device", "cpu", "--json"]) == 0
    assert len(opened) == 1
    assert json.loads(capsys.readouterr().out)["video"].endswith("sample.mp4")


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


# ------------------------------------------------------------------------- devices that do not exist (issue 22)
def test_devices_that_do_not_exist_are_refused_when_resolved(monkeypatch):
    from slowfast_zoo.errors import UsageError
    from slowfast_zoo.inference.device import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(UsageError, match="'meta': use 'cpu' or 'cuda'"):
        resolve_device("meta")
    with pytest.raises(UsageError, match="got 'bogus'"):
        resolve_device("bogus")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError, match="'cuda': this machine has no CUDA device"):
        resolve_device("cuda")
    assert resolve_device(None) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(UsageError, match=r"'cuda:7': this machine has 1 CUDA device \(cuda:0\)"):
        resolve_device("cuda:7")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(UsageError, match=r"has 2 CUDA devices \(cuda:0 to cuda:1\)"):
        resolve_device(torch.device("cuda", 2))


def test_cli_predict_refuses_a_missing_gpu_before_any_weight(tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the model was built before the device was checked")
    monkeypatch.setattr("slowfast_zoo.cli.predict.create_model", refuse)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    video = make_video(tmp_path / "v.mp4", 10, 48, 40, fps=25)
    assert main(["predict", str(video), "--device", "cuda", "--views", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "device 'cuda'" in err and "use 'cpu'" in err


@pytest.mark.slow
def test_predict_scores_follow_the_pysf_protocol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Charades (PySlowFast): its own views, sigmoid per view, max over the views.
    from slowfast_zoo.inference import predict as predict_mod

    name = "pysf_slowfast_r50_16x8.charades_multigrid"  # global-pool head: any frame size runs
    model = sz.create_model(name).eval()
    small = sz.data.test_transform(name, short_side=32, crop_size=32, clip_len=8, num_clips=2)
    assert small.sampling_rule == "psf_charades" and small.num_views == 6
    monkeypatch.setattr(predict_mod, "protocol_transform", lambda m, views: small)
    video = make_video(tmp_path / "v.mp4", 40, 48, 40)
    got = predict_mod.predict_scores(model, video, device="cpu", views_per_batch=3)
    views = small.load(video)
    with torch.no_grad():
        direct = model(views).sigmoid().max(dim=0).values
    torch.testing.assert_close(got, direct, atol=1e-5, rtol=1e-5)
    mm = predict_mod.predict_scores(model, video, device="cpu", views_per_batch=3, average="prob")
    torch.testing.assert_close(mm, model(views).softmax(dim=1).mean(dim=0).detach(), atol=1e-5, rtol=1e-5)
