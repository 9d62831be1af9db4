"""Tests of slowfast_zoo.inference.feature_job (the job behind `slowfast-zoo features`): which videos
and names, outputs only inside --out, the .npy + .json pair, --resume, unreadable videos, torchrun."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

import slowfast_zoo as sz
from procs import child_env
from slowfast_zoo.errors import AnnotationError, InputFileError, UsageError
from slowfast_zoo.inference.feature_job import (FeatureJob, FeatureReport, extract_folder, find_videos,
                                                output_paths, outputs_complete, write_features)
from slowfast_zoo.inference.features import ClipFeatures
from video_factory import make_video

# Small clips so the CPU runs are quick: 8 frames (>= tau) every 2nd, short side 32, crop 32.
SMALL = dict(clip_len=8, frame_interval=2, resize_short_side=32, crop_size=32, workers=0, device="cpu")


@pytest.fixture(scope="module")
def tiny() -> sz.SlowFast:
    """slowfast_r50_4x16x1's network with 8 slow base channels (fast: 1): quick, embeddings of 288."""
    torch.manual_seed(0)
    return sz.SlowFast(sz.registry.ARCHS["slowfast_r50_4x16x1"].replace(slow_base_channels=8), num_classes=5).eval()


@pytest.fixture
def videos(tmp_path: Path) -> Path:
    root = tmp_path / "videos"
    (root / "sub").mkdir(parents=True)
    make_video(root / "a.mp4", 24, 48, 40, fps=25)
    make_video(root / "sub" / "b.mkv", 30, 48, 40, fps=25)
    (root / "notes.txt").write_text("not a video")
    return root


# ----------------------------------------------------------------------------- inputs, names, outputs
def test_find_videos_names_mirror_the_folder_the_list_or_the_file(videos: Path, tmp_path: Path) -> None:
    assert [(i.name, i.path) for i in find_videos([videos])] == [("a.mp4", videos / "a.mp4"),
                                                                  ("sub/b.mkv", videos / "sub" / "b.mkv")]
    # A file on its own: its file name; the same video twice is taken once.
    assert [i.name for i in find_videos([videos / "sub" / "b.mkv", videos / "a.mp4", videos / "a.mp4"])] == \
        ["b.mkv", "a.mp4"]
    listing = videos / "list.txt"
    listing.write_text("sub/b.mkv 3\n\n  a.mp4\t1\n")
    assert [(i.name, i.path) for i in find_videos(list_file=listing)] == [("sub/b.mkv", videos / "sub" / "b.mkv"),
                                                                         ("a.mp4", videos / "a.mp4")]


@pytest.mark.parametrize("case, error, needle", [
    ("none", UsageError, "no videos"),
    ("both", UsageError, "not both"),
    ("missing", InputFileError, "no such video or folder"),
    ("not a video", UsageError, "goes with --list"),
    ("empty folder", UsageError, "no video found"),
    ("binary list", AnnotationError, "not UTF-8"),
    ("same name", UsageError, "would both be written as a.mp4"),
])
def test_find_videos_refuses_in_one_sentence(videos: Path, tmp_path: Path, case: str, error: type,
                                             needle: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "other").mkdir()
    make_video(tmp_path / "other" / "a.mp4", 10, 48, 40)
    kwargs = {"none": {}, "both": {"videos": [videos], "list_file": tmp_path / "binary.txt"},
              "missing": {"videos": [tmp_path / "nope.mp4"]}, "not a video": {"videos": [videos / "notes.txt"]},
              "empty folder": {"videos": [tmp_path / "empty"]}, "binary list": {"list_file": tmp_path / "binary.txt"},
              "same name": {"videos": [videos, tmp_path / "other" / "a.mp4"]}}[case]
    with pytest.raises(error, match=needle):
        find_videos(**kwargs)


def test_output_paths_stay_inside_out(tmp_path: Path) -> None:
    out = tmp_path / "feats"
    assert output_paths(out, "a/x.mp4", "safetensors") == (out / "a" / "x.mp4.safetensors",)
    npy, js = output_paths(out, "a/x.mp4", "npy")
    assert (npy, js) == (out / "a" / "x.mp4.npy", out / "a" / "x.mp4.json")
    for name in ("../x.mp4", "/etc/x.mp4", "a/../../x.mp4"):
        with pytest.raises(UsageError):
            output_paths(out, name, "npy")
    with pytest.raises(UsageError, match="format"):
        output_paths(out, "x.mp4", "pt")
    assert not outputs_complete((npy, js))
    npy.parent.mkdir(parents=True)
    npy.write_bytes(b"")
    assert not outputs_complete((npy, js))  # the .json (written last) is missing: redone


def test_npy_pair_holds_the_layout_and_json_without_nan(tmp_path: Path) -> None:
    feats = ClipFeatures(embeddings=torch.randn(2, 2304),
                         timestamps=torch.full((2, 2), float("nan"), dtype=torch.float64),
                         frame_indices=torch.arange(16).view(2, 8), fps=0.0,
                         fast_channels=slice(2048, 2304), slow_channels=slice(0, 2048))  # a PySlowFast layout
    paths = output_paths(tmp_path, "v.mp4", "npy")
    write_features(feats, paths, video="v.mp4", model="m", weights=None)
    emb = np.load(paths[0])
    assert emb.dtype == np.float32 and emb.shape == (2, 2304)
    np.testing.assert_array_equal(emb, feats.embeddings.numpy())
    text = paths[1].read_text()
    assert "NaN" not in text
    doc = json.loads(text)
    assert doc["channels"] == {"slow": [0, 2048], "fast": [2048, 2304]}
    assert doc["shape"] == [2, 2304] and doc["dtype"] == "float32" and doc["num_clips"] == 2
    assert doc["timestamps"] == [[None, None]] * 2 and doc["frame_indices"][1][0] == 8
    assert doc["video"] == "v.mp4" and "weights" not in doc and doc["embeddings"] == "v.mp4.npy"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


# ----------------------------------------------------------------------------- the job
@pytest.mark.slow
def test_job_writes_both_formats_resumes_and_skips_unreadable(videos: Path, tmp_path: Path,
                                                              tiny: sz.SlowFast) -> None:
    (videos / "broken.mp4").write_bytes((videos / "a.mp4").read_bytes()[:300])
    out = tmp_path / "feats"
    said: list[tuple[int, str]] = []
    job = FeatureJob(out=out, videos=[videos], stride=8, format="npy", **SMALL)
    report = extract_folder(job, model=tiny, notify=lambda level, msg: said.append((level, msg)))
    assert report.written == ["a.mp4", "sub/b.mkv"] and [n for n, _ in report.skipped] == ["broken.mp4"]
    assert "VideoDecodeError" in report.skipped[0][1] and "skipped" in said[0][1] and "broken.mp4" in said[0][1]
    assert report.summary() == f"wrote 2 feature files to {out} (1 skipped, 0 already there)"
    a = np.load(out / "a.mp4.npy")
    doc = json.loads((out / "a.mp4.json").read_text())
    assert a.shape == (2, tiny.num_features) and doc["shape"] == list(a.shape)  # 24 frames: clips at 0, 8
    assert doc["frame_indices"][1][:2] == [8, 10] and doc["timestamps"][1] == [0.32, 0.92] and doc["fps"] == 25.0
    assert doc["channels"] == {"fast": [tiny.fast_channels.start, tiny.fast_channels.stop],
                               "slow": [tiny.slow_channels.start, tiny.slow_channels.stop]}
    assert doc["settings"]["stride"] == 8 and doc["settings"]["num_clips"] is None
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == \
        ["a.mp4.json", "a.mp4.npy", "sub", "sub/b.mkv.json", "sub/b.mkv.npy"]
    # --resume: complete pairs are kept as they are; a pair without its .json is redone.
    before = (out / "a.mp4.npy").stat().st_mtime_ns
    (out / "sub" / "b.mkv.json").unlink()
    again = extract_folder(FeatureJob(out=out, videos=[videos], stride=8, format="npy", resume=True, **SMALL),
                           model=tiny, notify=lambda *a: None)
    assert again.written == ["sub/b.mkv"] and again.already_there == ["a.mp4"]
    assert (out / "a.mp4.npy").stat().st_mtime_ns == before and (out / "sub" / "b.mkv.json").is_file()
    # The other format is not "complete": safetensors files are written next to the pairs.
    st = extract_folder(FeatureJob(out=out, videos=[videos / "a.mp4"], resume=True, num_clips=3, **SMALL), model=tiny)
    assert st.written == ["a.mp4"] and st.to_json()["rank"] == 0
    with safe_open(str(out / "a.mp4.safetensors"), "pt") as f:
        assert f.get_tensor("embeddings").shape == (3, tiny.num_features)
        meta = f.metadata()
        assert meta["video"] == "a.mp4" and json.loads(meta["settings"])["num_clips"] == 3


def test_job_never_writes_outside_out_and_refuses_a_detector(tmp_path: Path, tiny: sz.SlowFast) -> None:
    data = tmp_path / "data"
    (data / "videos").mkdir(parents=True)
    make_video(data / "videos" / "ok.mp4", 20, 48, 40, fps=25)
    make_video(data / "outside.mp4", 20, 48, 40, fps=25)
    listing = data / "videos" / "list.txt"
    listing.write_text(f"ok.mp4\n../outside.mp4\n{data / 'outside.mp4'}\n")
    out = tmp_path / "feats"
    before = set(tmp_path.rglob("*"))
    said: list[str] = []
    report = extract_folder(FeatureJob(out=out, list_file=listing, num_clips=1, **SMALL), model=tiny,
                            notify=lambda level, msg: said.append(msg))
    assert report.written == ["ok.mp4"] and len(report.skipped) == 2
    assert all(reason.startswith("refused") for _, reason in report.skipped) and "../outside.mp4" in said[0]
    assert {p for p in set(tmp_path.rglob("*")) - before if out not in p.parents and p != out} == set()
    with pytest.raises(UsageError, match="action detector"):
        extract_folder(FeatureJob(out=out, videos=[data], model="slowfast_r50_4x16x1_ava"))
    with pytest.raises(UsageError, match="--format"):
        extract_folder(FeatureJob(out=out, videos=[data], format="pt"))


def test_a_rank_prints_its_own_share_only_when_nothing_was_gathered() -> None:
    r = FeatureReport(out=Path("f"), format="npy", rank=1, world_size=2, written=["b"])
    assert r.printed_here and r.summary().startswith("rank 1/2: wrote 1")  # no group: its own share
    r.gathered = True
    assert not r.printed_here  # rank 0 prints the job's line


@pytest.mark.slow
def test_torchrun_two_processes_split_the_videos_and_rank_0_sums_up(videos: Path, tmp_path: Path) -> None:
    from slowfast_zoo.training.checkpoints import save_weights

    make_video(videos / "c.mp4", 20, 48, 40, fps=25)
    (videos / "broken.mp4").write_bytes((videos / "a.mp4").read_bytes()[:300])
    weights = save_weights(sz.create_model("slowfast_r50_4x16x1"), tmp_path / "w.safetensors")
    out = tmp_path / "feats"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
           "slowfast_zoo", "features", str(videos), "--out", str(out), "--weights", str(weights),
           "--num-clips", "1", "--clip-len", "8", "--crop-size", "32", "--resize-short-side", "32",
           "--workers", "0", "--device", "cpu", "--format", "npy", "--json"]
    env = {**child_env(), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 1, proc.stderr  # a video was skipped: rank 0 says so for the job
    report = json.loads(proc.stdout)  # one report, from rank 0
    assert report["written"] == ["a.mp4", "c.mp4", "sub/b.mkv"] and report["world_size"] == 2
    assert [s["video"] for s in report["skipped"]] == ["broken.mp4"] and report["rank"] is None
    for name in report["written"]:
        assert np.load(out / f"{name}.npy").shape == (1, 2304)
