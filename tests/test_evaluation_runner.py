"""Tests of slowfast_zoo.evaluation.runner (evaluate) with its result file and sharding:
examples/eval_k400.py, `slowfast-zoo eval`, torchrun, damaged videos, streamed views.

The end-to-end tests build a tiny Kinetics-format set (PyAV-encoded videos, a
``video_id num_frames label`` list, one truncated video) and a small protocol (2 clips x 8
frames, short side 32, 3 crops of 32) on r50_4x16x1 with the reference generator's weights;
the expected numbers are computed directly: plain unfused model forward, softmax mean over
the views, then the metric functions.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import logging
import re
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import slowfast_zoo as sz
from procs import child_env
from hostile_files import damaged_variants, samples
from slowfast_zoo.cli import main as cli_main
from slowfast_zoo.data import Failure, TestTransform, VideoReader
from slowfast_zoo.errors import SlowFastZooError
from slowfast_zoo.evaluation import mean_class_accuracy, top_k_accuracy
from slowfast_zoo.evaluation import results as results_mod
from slowfast_zoo.evaluation.distributed import shard
from slowfast_zoo.evaluation.runner import compute_metrics, evaluate
from slowfast_zoo.evaluation.results import ResultWriter, VideoRecord, load_records
from slowfast_zoo.registry import get_arch_spec
from slowfast_zoo.registry.records import TestProtocol as Protocol
from video_factory import make_video
from weightgen import generate_state_dict, write_mmaction2_checkpoint

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "eval_k400.py"
PROTOCOL = dict(clip_len=8, frame_interval=2, num_clips=2, resize_short_side=32, crop_size=32, num_crops=3)
SMALL = ["--num-clips", "2", "--clip-len", "8", "--short-side", "32", "--crop-size", "32", "--num-crops", "3"]
# (video id, frames, width, height); the third one is truncated after encoding.
VIDEOS = [("vid_a", 20, 64, 48), ("vid_b", 30, 48, 64), ("broken", 24, 64, 48), ("vid_c", 40, 80, 48),
          ("vid_d", 26, 64, 48), ("vid_e", 36, 64, 64)]
# Rank of the label among each video's classes (0 = the top prediction): top-1 hits, top-5
# hits and misses, so every metric is non-trivial.
LABEL_RANK = {"vid_a": 0, "vid_b": 2, "vid_c": 30, "vid_d": 0, "vid_e": 4}


def _load_example():
    spec = importlib.util.spec_from_file_location("eval_k400", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod



@pytest.fixture(scope="module")
def k400(tmp_path_factory):
    """Videos, checkpoint, annotation list and the directly computed reference."""
    root = tmp_path_factory.mktemp("k400")
    videos = root / "videos_val"
    videos.mkdir()
    for vid, n, w, h in VIDEOS:
        make_video(videos / f"{vid}.mp4", n, w, h, gop=8)
    broken = videos / "broken.mp4"
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 3])
    ckpt = write_mmaction2_checkpoint(generate_state_dict("r50_4x16x1"), root / "ckpt", "slowfast_r50_eval")

    # Direct reference: reader + transform + plain (unfused, contiguous) model, step by step.
    model = sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=ckpt).eval()
    tf = TestTransform(**PROTOCOL)
    ref = {}
    for vid, *_ in VIDEOS:
        if vid == "broken":
            continue
        reader = VideoReader(videos / f"{vid}.mp4")
        idx = tf.sample(reader.num_frames)
        views = tf(reader.read(idx), indices=idx)
        assert views.shape == (6, 3, 8, 32, 32)
        with torch.inference_mode():
            ref[vid] = model(views).softmax(-1).mean(0).numpy()
    labels = {"broken": 7}
    for vid, rank in LABEL_RANK.items():
        order = np.argsort(-ref[vid])
        gaps = np.abs(np.diff(np.sort(ref[vid])[::-1][: rank + 2]))
        assert gaps.min() > 1e-6, "near tie in the reference scores: choose other label ranks"
        labels[vid] = int(order[rank])
    ann = root / "kinetics400_val_list_videos.txt"
    ann.write_text("".join(f"{vid} {n} {labels[vid]}\n" for vid, n, *_ in VIDEOS))
    good = [vid for vid, *_ in VIDEOS if vid != "broken"]
    scores = np.stack([ref[v] for v in good])
    y = np.array([labels[v] for v in good])
    top1, top5 = top_k_accuracy(scores, y, (1, 5))
    metrics = {"top1_acc": top1, "top5_acc": top5, "mean_class_accuracy": mean_class_accuracy(scores, y)}
    assert 0 < top1 < top5 < 1 and metrics["mean_class_accuracy"] > 0
    return {"root": root, "videos": videos, "ann": ann, "ckpt": ckpt, "ref": ref, "labels": labels,
            "metrics": metrics, "good": good}


def _argv(k400, out: Path | None, *extra: str) -> list[str]:
    argv = ["--model", "slowfast_r50_4x16x1", "--weights", str(k400["ckpt"]), "--ann-file", str(k400["ann"]),
            "--data-root", str(k400["videos"]), "--device", "cpu", *SMALL, *extra]
    return argv + (["--out", str(out)] if out else [])


def _printed_metrics(text: str) -> dict[str, float]:
    line = next(ln for ln in text.splitlines() if ln.startswith("top1_acc"))
    return {k: float(v) for k, v in re.findall(r"(\w+) (\d+\.\d+)", line)}


def _check_against_reference(k400, data: dict, printed: str) -> None:
    assert data["complete"] is True
    assert data["metrics"] == k400["metrics"]  # exact: same predictions as the direct computation
    assert _printed_metrics(printed) == {k: round(v, 4) for k, v in k400["metrics"].items()}
    assert data["counts"] == {"selected": 6, "evaluated": 5, "skipped": 1}
    (fail,) = data["failures"]
    assert fail["index"] == 2 and fail["video"].endswith("broken.mp4") and "VideoDecodeError" in fail["reason"]
    assert f"skipped: {fail['video']}" in printed
    assert [r["video"].rsplit("/", 1)[1] for r in data["results"]] == [f"{v}.mp4" for v in k400["good"]]
    for r, vid in zip(data["results"], k400["good"]):
        np.testing.assert_allclose(np.array(r["scores"], dtype=np.float32), k400["ref"][vid], rtol=0, atol=2e-6)
        assert r["label"] == k400["labels"][vid] and r["pred"] == int(np.argmax(k400["ref"][vid]))
    p = data["protocol"]
    assert p["published"] is False and p["num_views"] == 6
    assert p["overrides"] == {"clip_len": 8, "num_clips": 2, "resize_short_side": 32, "crop_size": 32}
    assert data["model"]["name"] == "slowfast_r50_4x16x1.k400_320p" and data["dtype"] == "float32"
    assert len(data["class_names"]) == 400
    # The table row next to the published number, with the difference.
    row = next(ln for ln in printed.splitlines() if ln.startswith("| slowfast_r50_4x16x1.k400_320p"))
    top1 = 100 * k400["metrics"]["top1_acc"]
    assert f"| {top1:.2f} |" in row and "| 75.64 | 92.30 |" in row and f"{top1 - 75.64:+.2f}" in row
    assert "not comparable to the published row" in printed


@pytest.fixture(scope="module")
def uninterrupted(k400, tmp_path_factory):
    """One plain in-process run of examples/eval_k400.py: (result file, stdout)."""
    out = tmp_path_factory.mktemp("run") / "result.json"
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert _load_example().main(_argv(k400, out)) == 0
    return out, buf.getvalue()


def _same_results(a: dict, b: dict) -> None:
    """Same videos, predictions, failures and metrics; scores equal to float32 rounding."""
    assert a["metrics"] == b["metrics"] and a["failures"] == b["failures"] and a["counts"] == b["counts"]
    for x, y in zip(a["results"], b["results"], strict=True):
        assert (x["index"], x["video"], x["label"], x["pred"]) == (y["index"], y["video"], y["label"], y["pred"])
        np.testing.assert_allclose(x["scores"], y["scores"], rtol=0, atol=1e-6)
    strip = ("results", "failures", "metrics", "counts")
    assert {k: v for k, v in a.items() if k not in strip} == {k: v for k, v in b.items() if k not in strip}


@pytest.mark.slow
def test_eval_k400_in_process_matches_direct(k400, uninterrupted):
    out, printed = uninterrupted
    _check_against_reference(k400, json.loads(out.read_text()), printed)
    assert not list(out.parent.glob("*.part")) and not list(out.parent.glob(".*.tmp"))


@pytest.mark.slow
def test_eval_k400_subprocess_with_worker(k400, uninterrupted, tmp_path):
    out = tmp_path / "sub.json"
    # One DataLoader worker: the damaged video's Failure crosses the process boundary.
    proc = subprocess.run([sys.executable, str(EXAMPLE), *_argv(k400, out, "--workers", "1")],
                          capture_output=True, text=True, env=child_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    _check_against_reference(k400, data, proc.stdout)
    # Said once, on stdout ("skipped: ..."), not repeated as a log warning on stderr.
    assert "broken.mp4" not in proc.stderr
    assert [ln for ln in proc.stdout.splitlines() if "broken.mp4" in ln][0].startswith("skipped: ")
    assert sum("broken.mp4" in ln for ln in proc.stdout.splitlines()) == 1
    _same_results(data, json.loads(uninterrupted[0].read_text()))


@pytest.mark.slow
def test_torchrun_two_processes_same_as_one(k400, uninterrupted, tmp_path):
    out = tmp_path / "dist.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(EXAMPLE), *_argv(k400, out, "-v")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), timeout=400)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Disjoint shards without padding: 3 + 3 videos, and only rank 0 prints the report.
    assert "rank 0/2: 3 of 6 selected videos" in proc.stderr and "rank 1/2: 3 of 6 selected videos" in proc.stderr
    assert proc.stdout.count("| slowfast_r50_4x16x1.k400_320p") == 1
    dist = json.loads(out.read_text())
    single = json.loads(uninterrupted[0].read_text())
    _check_against_reference(k400, dist, proc.stdout)
    _same_results(dist, single)
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.slow
def test_resume_after_interrupt_gives_same_file(k400, uninterrupted, tmp_path, monkeypatch, caplog, capsys):
    out = tmp_path / "resumed.json"
    example = _load_example()
    real_write = results_mod.atomic_write_text
    calls = []

    def dying_write(path, text):
        # Simulate a kill right after the 2nd periodic write: nothing is written afterwards.
        calls.append(path)
        if len(calls) <= 2:
            real_write(path, text)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(results_mod, "atomic_write_text", dying_write)
    assert example.main(_argv(k400, out, "--save-every", "0")) == 130
    monkeypatch.setattr(results_mod, "atomic_write_text", real_write)
    partial = json.loads(out.read_text())
    assert partial["complete"] is False and len(partial["results"]) + len(partial["failures"]) == 2

    # Resume a first time with --limit 4 (a quick look), then for everything.
    caplog.set_level(logging.INFO, logger="slowfast_zoo.evaluation.runner")
    assert example.main(_argv(k400, out, "--resume", "--limit", "4")) == 0
    limited = json.loads(out.read_text())
    assert limited["complete"] is True and limited["counts"] == {"selected": 4, "evaluated": 3, "skipped": 1}
    assert "2 of 4 selected videos to evaluate (2 already done)" in caplog.text
    caplog.clear()
    assert example.main(_argv(k400, out, "--resume")) == 0
    assert "2 of 6 selected videos to evaluate (4 already done)" in caplog.text
    assert out.read_text() == uninterrupted[0].read_text()
    capsys.readouterr()


def test_resume_refuses_another_protocol(k400, uninterrupted, tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text(uninterrupted[0].read_text())
    argv = _argv(k400, out, "--resume")
    argv[argv.index("--num-clips") + 1] = "1"
    assert _load_example().main(argv) == 2
    assert "'protocol' differs" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_eval_is_the_same_code(k400, uninterrupted, tmp_path, capsys):
    out = tmp_path / "cli.json"
    assert cli_main(["eval", *_argv(k400, out, "--limit", "2")]) == 0
    data = json.loads(out.read_text())
    single = json.loads(uninterrupted[0].read_text())
    _same_results({**data, "results": data["results"]}, {**single, "results": single["results"][:2],
                                                          "metrics": data["metrics"], "counts": data["counts"],
                                                          "failures": [], "dataset": data["dataset"]})
    assert data["dataset"]["limit"] == 2
    assert "--limit 2: 2 of 6 videos" in capsys.readouterr().out


# ----------------------------------------------------------------------------- library units
class _Linear(nn.Module):
    """A stand-in for SlowFast with run_views' interface: mean pixel per channel -> K logits."""

    def __init__(self, k: int = 6):
        super().__init__()
        self.fc = nn.Linear(3, k)
        torch.manual_seed(0)
        nn.init.normal_(self.fc.weight)

    def forward_features(self, x):
        return x.mean(dim=(2, 3, 4))

    def forward_head(self, feats, pre_logits=False):
        return feats if pre_logits else self.fc(feats)


class _Dataset(torch.utils.data.Dataset):
    def __init__(self, n: int = 7, bad=(3,)):
        g = torch.Generator().manual_seed(1)
        self.views = [torch.randn(4, 3, 2, 4, 4, generator=g) for _ in range(n)]
        self.labels = [i % 6 for i in range(n)]
        self.bad = set(bad)

    def __len__(self):
        return len(self.views)

    def __getitem__(self, i):
        if i in self.bad:
            return Failure(i, f"v{i}.mp4", "VideoDecodeError: truncated")
        return self.views[i], self.labels[i], i


def _direct(model, ds, average="prob"):
    with torch.inference_mode():
        out = {}
        for i in range(len(ds)):
            if i not in ds.bad:
                logits = model.fc(model.forward_features(ds.views[i]))
                out[i] = (logits.softmax(-1) if average == "prob" else logits).mean(0).numpy()
    return out


@pytest.mark.parametrize("average", ["prob", "score"])
def test_evaluate_unit_scores_metrics_failures(average):
    model, ds = _Linear(), _Dataset()
    seen = []
    res = evaluate(model, ds, average=average, device="cpu", prepare=False, views_per_batch=3,
                   on_result=seen.append, progress=False)
    want = _direct(model, ds, average)
    assert res.indices == sorted(want) and res.num_skipped == 1 and res.num_selected == 7
    np.testing.assert_allclose(res.scores, np.stack([want[i] for i in res.indices]), atol=1e-6)
    assert res.failures == [Failure(3, "v3.mp4", "VideoDecodeError: truncated")]
    assert res.metrics == compute_metrics(res.scores, res.labels)
    assert set(res.metrics) == {"top1_acc", "top5_acc", "mean_class_accuracy"}
    assert sorted(r.index for r in seen) == list(range(7))


def test_evaluate_unit_resume_and_indices():
    model, ds = _Linear(), _Dataset()
    full = evaluate(model, ds, device="cpu", prepare=False, progress=False)
    first = evaluate(model, ds, device="cpu", prepare=False, progress=False, indices=range(4))
    seen = []
    resumed = evaluate(model, ds, device="cpu", prepare=False, progress=False,
                       resume_from={r.index: r for r in first.records}, on_result=seen.append)
    assert sorted(r.index for r in seen) == [4, 5, 6]  # finished videos are not redone
    assert resumed.metrics == full.metrics and np.array_equal(resumed.scores, full.scores)
    with pytest.raises(ValueError, match="average"):
        evaluate(model, ds, average=None, prepare=False)
    with pytest.raises(IndexError):
        evaluate(model, ds, indices=[9], prepare=False)


def test_evaluate_unit_all_failed_has_no_metrics():
    res = evaluate(_Linear(), _Dataset(n=2, bad=(0, 1)), device="cpu", prepare=False, progress=False)
    assert res.metrics == {} and res.num_evaluated == 0 and res.num_skipped == 2


def test_shard_is_disjoint_and_complete():
    items = list(range(11))
    parts = [shard(items, r, 3) for r in range(3)]
    assert sorted(sum(parts, [])) == items and [len(p) for p in parts] == [4, 4, 3]
    with pytest.raises(ValueError):
        shard(items, 3, 3)


def test_result_writer_round_trip_and_refusal(tmp_path):
    out = tmp_path / "r.json"
    header = {"model": {"name": "m"}, "protocol": {"num_clips": 2}, "dtype": "float32",
              "dataset": {"ann_file": "a.txt", "data_format": "video", "num_videos": 3}}
    scores = np.array([0.1, 0.2, 0.7, 1e-30], dtype=np.float32)
    w = ResultWriter(out, header, every_s=0)
    w.add(VideoRecord(1, "b.mp4", 2, scores))
    w.add(VideoRecord(0, "a.mp4", 0, reason="VideoDecodeError: empty file"))
    recs = load_records(out, header)
    assert np.array_equal(recs[1].scores, scores) and recs[0].reason.startswith("VideoDecodeError")
    assert json.loads(out.read_text())["complete"] is False
    with pytest.raises(SlowFastZooError, match="'protocol' differs"):
        load_records(out, {**header, "protocol": {"num_clips": 10}})
    with pytest.raises(SlowFastZooError, match="num_videos"):
        load_records(out, {**header, "dataset": {**header["dataset"], "num_videos": 4}})
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SlowFastZooError, match="not a readable"):
        load_records(tmp_path / "bad.json")
    assert load_records(tmp_path / "missing.json") == {}
    # Multi-process: each rank writes its own part file, rank 0 merges and removes them.
    w1 = ResultWriter(out, header, every_s=0, rank=1, world_size=2)
    w1.add(VideoRecord(2, "c.mp4", 1, scores))
    assert set(load_records(out)) == {0, 1, 2}
    w.finish(list(recs.values()) + [VideoRecord(2, "c.mp4", 1, scores)], {"top1_acc": 0.5},
             {"selected": 3, "evaluated": 2, "skipped": 1}, range(3))
    final = json.loads(out.read_text())
    assert final["complete"] and [r["index"] for r in final["results"]] == [1, 2]
    assert not list(tmp_path.glob("*.part"))


def test_progress_bar_counts_videos_on_a_terminal():
    from slowfast_zoo.evaluation.runner import _VideoBar

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = _VideoBar(total=4, desc="evaluating", enabled=True, stream=stream)
    bar.update(1)
    bar.close()
    assert "1/4 videos" in stream.getvalue() and stream.getvalue().endswith("\n")
    quiet = io.StringIO()  # not a terminal: nothing drawn
    _VideoBar(total=4, desc="evaluating", enabled=True, stream=quiet).close()
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("opt,value,match", [("--clip-len", "4", "tau"), ("--crop-size", "16", ">= 32"),
                                             ("--num-clips", "0", ">= 1")])
def test_bad_protocol_overrides_fail_early(k400, opt, value, match, capsys):
    argv = _argv(k400, None)
    argv[argv.index(opt) + 1] = value
    if opt == "--crop-size":
        argv[argv.index("--short-side") + 1] = "16"
    assert _load_example().main(argv) == 2  # one line, exit 2, before any weight is loaded
    err = capsys.readouterr().err.strip()
    assert err.startswith("eval_k400: error: ") and match in err and "\n" not in err


@pytest.mark.slow
def test_library_job_is_what_the_command_prints(k400, uninterrupted, tmp_path, capsys):
    from slowfast_zoo.errors import UsageError
    from slowfast_zoo.evaluation import EvalConfig, EvalReport, run_evaluation

    small = dict(num_clips=2, clip_len=8, short_side=32, crop_size=32, num_crops=3)
    base = EvalConfig(ann_file=k400["ann"], data_root=k400["videos"], weights=k400["ckpt"], device="cpu",
                      progress=False, **small)
    with pytest.raises(UsageError, match="--resume needs --out"):  # before any weight is loaded
        run_evaluation(dataclasses.replace(base, resume=True))
    notices = []
    out = tmp_path / "lib.json"
    report = run_evaluation(dataclasses.replace(base, out=out, limit=2),
                            notify=lambda level, text: notices.append((level, text)))
    assert isinstance(report, EvalReport) and report.is_main and not report.nothing_evaluated and notices == []
    assert report.result.counts == {"selected": 2, "evaluated": 2, "skipped": 0}
    data = json.loads(out.read_text())
    assert {k: data[k] for k in report.header} == json.loads(json.dumps(report.header))
    single = json.loads(uninterrupted[0].read_text())
    assert [r["scores"] for r in data["results"]] == [r["scores"] for r in single["results"][:2]]
    # The command prints exactly the report's summary.
    capsys.readouterr()
    assert cli_main(["eval", *_argv(k400, tmp_path / "cli.json", "--limit", "2", "--no-progress")]) == 0
    printed = capsys.readouterr().out
    assert printed == report.summary().replace(str(out), str(tmp_path / "cli.json")) + "\n"
    assert "--limit 2: 2 of 6 videos" in report.caveats[1]


def test_evaluate_argument_errors_are_typed():
    from slowfast_zoo.errors import IndexOutOfRangeError, UsageError, WrongTypeError

    model, ds = _Linear(), _Dataset()
    with pytest.raises(IndexOutOfRangeError):  # also an IndexError and a UsageError
        evaluate(model, ds, indices=[9], prepare=False)
    with pytest.raises(UsageError, match="repeat"):
        evaluate(model, ds, indices=[1, 1], prepare=False)
    with pytest.raises(WrongTypeError, match="labels") as e:
        evaluate(model, [torch.zeros(1)], prepare=False)
    assert isinstance(e.value, TypeError) and isinstance(e.value, SlowFastZooError)
    with pytest.raises(UsageError):
        shard([1, 2], 2, 2)


# ------------------------------------------------------------------------- damaged videos
@pytest.mark.slow
def test_eval_skips_damaged_videos_and_resume_does_not_stop_on_them(tmp_path: Path, capsys) -> None:
    from slowfast_zoo.cli import main

    videos = tmp_path / "videos"
    videos.mkdir()
    good = make_video(videos / "good.mp4", 20, 48, 40, fps=25)
    damaged = list(damaged_variants([s for s in samples() if s.suffix in (".flv", ".mkv", ".mp4")],
                                    videos, ("flip30", "header_flip", "trunc50")))
    ann = tmp_path / "val.txt"
    ann.write_text("".join(f"{p.name} 1\n" for p in [good, *damaged]))
    ckpt = write_mmaction2_checkpoint(generate_state_dict("r50_4x16x1"), tmp_path / "ckpt", "gen")
    out = tmp_path / "res.json"
    argv = ["eval", "--model", "slowfast_r50_4x16x1", "--weights", str(ckpt), "--ann-file", str(ann),
            "--data-root", str(videos), "--num-clips", "1", "--num-crops", "1", "--clip-len", "8",
            "--short-side", "32", "--crop-size", "32", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    first = json.loads(out.read_text())
    assert first["counts"]["skipped"] >= 3 and first["counts"]["evaluated"] >= 1
    assert all(Path(f["video"]).name in f["reason"] or f["reason"] for f in first["failures"])
    assert main(argv + ["--resume"]) == 0  # the same damaged files again: reported, not fatal
    again = json.loads(out.read_text())
    assert again["counts"] == first["counts"]
    capsys.readouterr()


# ------------------------------------------------------------------------- streamed views
STREAM_PROTOCOL = Protocol(clip_len=8, frame_interval=2, num_clips=4, resize_short_side=32, crop_size=32,
                        num_crops=3)


class _WholeViews(torch.utils.data.Dataset):
    """The same items as a VideoDataset, as whole float views (the materialised path)."""

    def __init__(self, ds: sz.data.VideoDataset) -> None:
        self.ds, self.labels = ds, ds.labels

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):
        return self.ds[i]


@pytest.mark.slow
@pytest.mark.parametrize("workers,on_device", [(0, False), (0, True), (1, False)])
def test_streamed_eval_equals_the_materialised_path(tmp_path: Path, workers: int, on_device: bool) -> None:
    for i, (n, w) in enumerate([(40, 64), (25, 900), (30, 48)]):
        make_video(tmp_path / f"v{i}.mp4", n, w, 48, fps=25)
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    ann = tmp_path / "list.txt"
    ann.write_text("v0.mp4 1\nbroken.mp4 2\nv1.mp4 3\nv2.mp4 0\n")
    torch.manual_seed(0)
    cfg = dataclasses.replace(sz.get_pretrained_cfg("slowfast_r50_4x16x1"), test=STREAM_PROTOCOL)
    model = sz.SlowFast(get_arch_spec("slowfast_r50_4x16x1"), pretrained_cfg=cfg)
    tf = sz.data.test_transform(cfg)
    ds = sz.data.VideoDataset(ann, tmp_path, tf, on_error="skip")
    streamed = sz.evaluation.evaluate(model, ds, device="cpu", progress=False, num_workers=workers,
                                      resize_on_device=on_device)
    prepared = sz.inference.prepare_model(model, device="cpu")  # what evaluate ran: a prepared copy
    whole = sz.evaluation.evaluate(prepared, _WholeViews(ds), device="cpu", progress=False, prepare=False)
    assert streamed.num_evaluated == 3 and [f.index for f in streamed.failures] == [1]
    assert np.array_equal(streamed.scores, whole.scores) and streamed.metrics == whole.metrics
    assert isinstance(ds.load_decoded(0)[0], sz.data.views.DecodedVideo)


def test_result_file_never_holds_nan_and_killed_writes_are_cleaned(tmp_path):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    leftover = tmp_path / f".r.json.{proc.pid}-a1.partial"  # a run killed mid-write
    leftover.write_text("{half")
    out = tmp_path / "r.json"
    header = {"model": {"name": "m"}, "protocol": {"num_clips": 1}, "dtype": "float32",
              "dataset": {"ann_file": "a.txt", "data_format": "video", "num_videos": 1}}
    w = ResultWriter(out, header, every_s=0)
    assert not leftover.exists()
    scores = np.array([np.nan, 0.5, np.inf], dtype=np.float32)
    w.add(VideoRecord(0, "a.mp4", 1, scores))
    w.finish([], {"top1_acc": 1.0, "mean_class_accuracy": float("nan")}, {"evaluated": 1}, [0])
    text = out.read_text()
    assert "NaN" not in text and "Infinity" not in text
    doc = json.loads(text)
    assert doc["metrics"]["mean_class_accuracy"] is None and doc["results"][0]["scores"] == [None, 0.5, None]
    assert np.isnan(load_records(out, header)[0].scores[[0, 2]]).all()


def test_resume_refusals_are_one_line(tmp_path):
    out = tmp_path / "r.json"
    header = {"model": {"name": "m"}, "protocol": {"num_clips": 10, "crop_size": 256}, "dtype": "float32",
              "dataset": {"ann_file": "a.txt", "data_format": "video", "num_videos": 1}}
    w = ResultWriter(out, header, every_s=0)
    w.add(VideoRecord(0, "a.mp4", 1, np.array([0.5, 0.5], dtype=np.float32)))
    with pytest.raises(SlowFastZooError) as e:
        load_records(out, {**header, "protocol": {"num_clips": 1, "crop_size": 256}})
    assert "\n" not in str(e.value) and "num_clips: 10 in the file, 1 in this run" in str(e.value)
    doc = json.loads(out.read_text())
    doc["results"][0].pop("index")
    out.write_text(json.dumps(doc))
    with pytest.raises(SlowFastZooError, match="not one of ours"):
        load_records(out, header)
