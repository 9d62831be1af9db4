"""Tests of slowfast_zoo.evaluation.ava_job / ava_results (`slowfast-zoo eval --model <AVA weight>`): the
results CSV, the mAP of the weight's evaluator, --resume, SIGTERM, torchrun-style sharding and the CLI's
mistakes.

A tiny AVA layout (2 videos, 5 keyframes, 64x48 PNG rawframes) and a random-weight detector with a
reduced protocol (8-frame clips, short side 64) keep these quick.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import slowfast_zoo as sz
from slowfast_zoo.cli import main
from slowfast_zoo.data.ava import AvaDataset
from slowfast_zoo.data.ava_video import AvaVideoDataset, video_frames
from slowfast_zoo.data.decode import VideoReader
from slowfast_zoo.errors import ResultFileError
from slowfast_zoo.evaluation import ava_frame_map, read_ava_csv
from slowfast_zoo.evaluation.ava_job import AvaEvalConfig, check_ava_config, run_ava_evaluation
from slowfast_zoo.evaluation.ava_results import (KeyframeRecord, KeyframeWriter, detection_rows,
                                                 load_keyframe_records, state_path)
from slowfast_zoo.models.detector import SlowFastDetector
from slowfast_zoo.training.checkpoints import save_weights
from eval_files import one_thread, saved_results, write_png  # noqa: F401 - one_thread: autouse fixture
from procs import child_env, wait_for
from video_factory import make_video

MODEL = "slowfast_r50_4x16x1_ava"  # default tag ava21_mm1: start_index 1, mmaction2 evaluator
KEYFRAMES = {"vidA": (901, 902, 903), "vidB": (901, 902)}
HW = (48, 64)
SMALL = ["--clip-len", "8", "--short-side", "64"]
LABEL_MAP = Path(sz.__file__).parent / "labels" / "ava_action_list_v2.2.pbtxt"


@pytest.fixture(scope="module")
def ava(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ava")
    rng = np.random.default_rng(0)
    gt, props = [], []
    for video, stamps in KEYFRAMES.items():
        for ts in stamps:
            for person in range(2):
                x1, y1 = rng.uniform(0, 0.4, 2).round(3)
                box = f"{x1},{y1},{x1 + 0.5:.3f},{y1 + 0.5:.3f}"
                for action in rng.choice([12, 14, 17, 79, 80], 2, replace=False):
                    gt.append(f"{video},{ts:04d},{box},{action},{person}\n")
                if (video, ts) != ("vidB", 902):  # vidB,0902: no proposal -> the whole frame
                    props.append(f"{video},{ts},{float(x1) + 0.01:.3f},{y1},{x1 + 0.5:.3f},{y1 + 0.49:.3f},0.95\n")
            if (video, ts) != ("vidB", 902):
                props.append(f"{video},{ts},0.0,0.0,0.3,0.3,0.5\n")  # below 0.9: dropped
    (d / "gt.csv").write_text("".join(gt))
    (d / "props.csv").write_text("".join(props))
    (d / "ex.csv").write_text("vidA,0903\n")
    torch.manual_seed(0)
    model = sz.create_model(MODEL)
    weights = save_weights(model, d / "det.safetensors")
    # The frames the reduced protocol reads (start_index 1, 8 frames every 2nd around each keyframe).
    ds = AvaDataset(d / "gt.csv", d / "frames", d / "props.csv", clip_len=8, frame_interval=2)
    for i, kf in enumerate(ds.keyframes):
        for n in ds.frame_inds(i).tolist():
            write_png(d / "frames" / kf.video_id / f"img_{n:05d}.png", rng.integers(0, 256, (*HW, 3), np.uint8))
    return {"dir": d, "gt": d / "gt.csv", "props": d / "props.csv", "ex": d / "ex.csv", "weights": weights,
            "frames": d / "frames"}


def _args(ava: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["eval", "--model", MODEL, "--weights", str(ava["weights"]), "--ann-file", str(ava["gt"]),
            "--data-root", str(ava["frames"]), "--filename-tmpl", "img_{:05d}.png", "--proposals", str(ava["props"]),
            "--exclusions", str(ava["ex"]), *SMALL, "--device", "cpu", "--no-progress", "--out", str(out), *extra]


@pytest.fixture(scope="module")
def full_run(ava, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("full") / "ava.csv"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(_args(ava, out, "--json")) == 0
    return {"out": out, "report": json.loads(buf.getvalue())}


def test_results_csv_rows_boxes_and_thresholds(ava, full_run):
    out, report = full_run["out"], full_run["report"]
    state = json.loads(state_path(out).read_text())
    assert state["complete"] and state["counts"] == {"selected": 4, "evaluated": 4, "skipped": 0}
    keys = [r["img_key"] for r in state["results"]]
    assert keys == ["vidA,0901", "vidA,0902", "vidB,0901", "vidB,0902"]  # vidA,0903 excluded
    assert state["protocol"]["overrides"] == {"clip_len": 8, "resize_short_side": 64}
    rows = read_ava_csv(out)
    thr = state["protocol"]["action_score_threshold"]
    assert thr == 0.002 and (rows.scores > thr).all()
    # Every score above the threshold, class by class, boxes normalized by the resized clip in float32.
    expected = []
    ds = AvaDataset(ava["gt"], ava["frames"], ava["props"], exclude_file=ava["ex"], clip_len=8, frame_interval=2,
                    short_side=64, filename_tmpl="img_{:05d}.png")
    for rec, kf in zip(state["results"], ds.keyframes):
        scores = np.asarray(rec["scores"], np.float32)
        boxes = np.asarray(rec["boxes"], np.float32)
        sample = ds[ds.keyframes.index(kf)]
        h, w = sample.img_shape
        assert boxes.tolist() == (sample.proposals_px / np.array([w, h, w, h], np.float32)).tolist()
        np.testing.assert_allclose(boxes, kf.proposals, atol=1e-6)  # the proposals, back to [0, 1]
        for j, b in zip(*np.nonzero(scores.T > np.float32(thr))):
            expected.append((kf.video_id, kf.timestamp, *boxes[b].tolist(), j + 1, float(scores[b, j])))
    got = [(rows.videos[v], t, *box, a, s) for v, t, box, a, s in zip(
        rows.video_index.tolist(), rows.timestamps.tolist(), rows.boxes.tolist(), rows.action_ids.tolist(),
        rows.scores.tolist())]
    assert got == expected
    assert {tuple(b) for b in rows.boxes.tolist()} >= {(0.0, 0.0, 1.0, 1.0)}  # vidB,0902: the whole frame
    # The model's own scores on the dataset's clip.
    model = sz.create_model(MODEL, pretrained=True, checkpoint_path=str(ava["weights"])).eval()
    sample = ds[0]
    cfg = model.pretrained_cfg
    x = (sample.inputs.float() - torch.tensor(cfg.mean).view(3, 1, 1, 1)) / torch.tensor(cfg.std).view(3, 1, 1, 1)
    rois = torch.cat([torch.zeros(len(sample.proposals_px), 1), torch.from_numpy(sample.proposals_px)], 1)
    with torch.no_grad():
        ref = model.scores(model(x[None], rois)).numpy()
    np.testing.assert_allclose(np.asarray(state["results"][0]["scores"]), ref, atol=1e-5, rtol=0)
    assert report["task"] == "detection" and report["evaluator"] == "mmaction2" and report["published_mAP"] == 24.32


def test_map_is_ava_frame_map_of_the_written_csv(ava, full_run):
    out, report = full_run["out"], full_run["report"]
    expected = ava_frame_map(ava["gt"], out, LABEL_MAP, exclusions=ava["ex"], evaluator="mmaction2")
    assert report["mAP"] == pytest.approx(expected["mAP"], abs=1e-12)
    per_class = {c["id"]: c["ap"] for c in report["per_class_ap"]}
    assert sorted(per_class) == sorted(expected["per_class_ap"]) and len(per_class) == 60
    for cid, ap in expected["per_class_ap"].items():
        assert (per_class[cid] is None) if ap != ap else per_class[cid] == pytest.approx(ap, abs=1e-12)
    names = {c["id"]: c["name"] for c in report["per_class_ap"]}
    assert names[12] == "stand"
    state = json.loads(state_path(out).read_text())
    assert state["metrics"]["mAP"] == pytest.approx(expected["mAP"], abs=1e-12)
    # The official evaluator on request, the same CSV.
    official = run_ava_evaluation(AvaEvalConfig(
        ava["gt"], ava["props"], MODEL, weights=ava["weights"], data_root=ava["frames"],
        filename_tmpl="img_{:05d}.png", exclusions=ava["ex"], evaluator="official", clip_len=8, short_side=64,
        device="cpu", progress=False))
    assert official.metrics["mAP"] == pytest.approx(
        ava_frame_map(ava["gt"], out, LABEL_MAP, exclusions=ava["ex"], evaluator="official")["mAP"], abs=1e-12)
    assert "--evaluator official" in official.summary()


def test_resume_skips_finished_keyframes_and_writes_the_same_csv(ava, full_run, tmp_path, monkeypatch, capsys):
    forwards: list[int] = []
    original = SlowFastDetector.forward

    def counting(self, x, boxes):
        forwards.append(len(boxes))
        return original(self, x, boxes)

    monkeypatch.setattr(SlowFastDetector, "forward", counting)
    out = tmp_path / "part.csv"
    assert main(_args(ava, out, "--limit", "2")) == 0
    assert len(forwards) == 2
    part = json.loads(state_path(out).read_text())
    assert [r["img_key"] for r in part["results"]] == ["vidA,0901", "vidA,0902"]
    # --limit: the mAP of the evaluated keyframes (the others' ground truth left out, excluded ones kept).
    kept = tmp_path / "kept.csv"
    kept.write_text("".join(line for line in ava["gt"].read_text().splitlines(keepends=True)
                            if not line.startswith("vidB,")))
    assert part["metrics"]["mAP"] == pytest.approx(
        ava_frame_map(kept, out, LABEL_MAP, exclusions=ava["ex"], evaluator="mmaction2")["mAP"], abs=1e-12)
    assert "--limit 2: 2 of 4 keyframes" in capsys.readouterr().out
    assert main(_args(ava, out, "--resume")) == 0
    assert len(forwards) == 4  # only vidB's two keyframes ran again
    assert out.read_bytes() == full_run["out"].read_bytes()
    # A state from another protocol is refused before any keyframe runs.
    with pytest.raises(ResultFileError, match="protocol"):
        run_ava_evaluation(AvaEvalConfig(ava["gt"], ava["props"], MODEL, weights=ava["weights"],
                                         data_root=ava["frames"], filename_tmpl="img_{:05d}.png",
                                         clip_len=16, short_side=64, out=out, resume=True, device="cpu"))
    assert len(forwards) == 4


def test_sharded_ranks_cover_every_keyframe_once(ava, tmp_path, monkeypatch):
    """Two ranks (as under torchrun) each run their share; rank 0's gather makes the whole result."""
    from slowfast_zoo.evaluation import ava_job, runner
    from slowfast_zoo.evaluation.distributed import DistInfo

    shares: dict[int, list] = {}

    def run_as(rank: int):
        monkeypatch.setattr(runner, "init_distributed", lambda device=None: DistInfo(rank, 2, rank, None))
        monkeypatch.setattr(ava_job, "destroy_distributed", lambda: None)
        monkeypatch.setattr(runner, "gather_to_main",
                            lambda obj, info: (shares.setdefault(rank, obj), None)[1] if rank else [obj, shares[1]])
        return run_ava_evaluation(AvaEvalConfig(
            ava["gt"], ava["props"], MODEL, weights=ava["weights"], data_root=ava["frames"],
            filename_tmpl="img_{:05d}.png", exclusions=ava["ex"], clip_len=8, short_side=64, device="cpu",
            out=tmp_path / "r.csv", progress=False, save_every=0))

    other = run_as(1)
    assert not other.is_main and [r.img_key for r in other.records] == ["vidA,0902", "vidB,0902"]
    assert (tmp_path / "r.csv.state.json.rank1.part").is_file()
    main_report = run_as(0)
    assert main_report.is_main and main_report.counts["evaluated"] == 4
    assert not (tmp_path / "r.csv.state.json.rank1.part").exists()
    assert [r.img_key for r in main_report.records] == ["vidA,0901", "vidA,0902", "vidB,0901", "vidB,0902"]


def test_unreadable_keyframes_are_skipped_and_left_out_of_the_map(ava, tmp_path):
    report = run_ava_evaluation(AvaEvalConfig(
        ava["gt"], ava["props"], MODEL, weights=ava["weights"], data_root=tmp_path / "nowhere",
        exclusions=ava["ex"], clip_len=8, short_side=64, device="cpu", progress=False))
    assert report.nothing_evaluated and report.metrics == {} and len(report.failures) == 4
    assert "VideoDecodeError" in (report.failures[0].reason or "")
    assert "skipped: vidA,0901: " in report.summary()


def test_state_records_round_trip_and_foreign_files_are_refused(tmp_path):
    rec = KeyframeRecord(0, "v,0902", np.array([[0.1, 0.2, 0.3, 0.4]], np.float32),
                         np.array([[1 / 3, float("nan")]], np.float32))
    header = {"model": {"name": "m"}, "protocol": {"clip_len": 8}, "dtype": "float32",
              "dataset": {"ann_file": "a", "proposals": "p", "data_format": "rawframes"}}
    writer = KeyframeWriter(tmp_path / "s.json", header, every_s=0)
    writer.add(rec)
    writer.add(KeyframeRecord(1, "v,0903", reason="VideoDecodeError: gone"))
    back = load_keyframe_records(tmp_path / "s.json", header, num_classes=2)
    assert back["v,0902"].scores[0, 0] == np.float32(1 / 3) and np.isnan(back["v,0902"].scores[0, 1])
    assert back["v,0903"].reason == "VideoDecodeError: gone" and not back["v,0903"].ok
    with pytest.raises(ResultFileError, match="scores per box"):
        load_keyframe_records(tmp_path / "s.json", header, num_classes=80)
    with pytest.raises(ResultFileError, match="proposals"):
        load_keyframe_records(tmp_path / "s.json", {**header, "dataset": {**header["dataset"], "proposals": "q"}})
    (tmp_path / "r.json").write_text(json.dumps({"format": "slowfast_zoo.eval/1", "results": []}))
    with pytest.raises(ResultFileError, match="not a slowfast_zoo AVA state file"):
        load_keyframe_records(tmp_path / "r.json")


def test_action_ids_and_video_frame_mapping(ava):
    # The registry's DetectionProtocol.action_id of every output column.
    def ids(name):
        return check_ava_config(AvaEvalConfig(ava["gt"], ava["props"], name)).protocol["action_ids"]

    assert ids("slowfast_r50_8x8x1_ava") == list(range(1, 81))
    assert ids("slowfast_r50_4x16x1_ava.ava21_custom16") == [3, 6, 10, 27, 29, 38, 41, 48, 51, 53, 54, 59, 61, 64,
                                                             70, 72]
    assert video_frames(np.array([0, 1, 2, 90]), fps=30, video_fps=30.0, num_frames=50).tolist() == [0, 0, 1, 49]
    assert video_frames(np.array([1, 31, 61]), fps=30, video_fps=0.0, num_frames=100).tolist() == [0, 30, 60]
    assert video_frames(np.array([1, 31, 61]), fps=30, video_fps=15.0, num_frames=100).tolist() == [0, 15, 30]


def test_detect_csv_rows_are_the_evaluations_rows():
    """`slowfast-zoo detect --csv` and the AVA job make rows by one rule: scores above the threshold (>)."""
    from slowfast_zoo.cli.detect import detections_to_rows
    from slowfast_zoo.inference.detect import KeyframeActions, PersonActions

    scores = np.array([[0.002, 0.75, float("nan")], [0.5, 0.0021, 0.002]], np.float32)
    persons = tuple(PersonActions(box, None, (), tuple(float(v) for v in row))
                    for box, row in zip(((0.0, 0.0, 32.0, 48.0), (16.0, 12.0, 64.0, 36.0)), scores))
    rows = detections_to_rows("v", [KeyframeActions(902.0, 27030, persons)], HW, 0.002, [3, 6, 10])
    boxes = np.array([[0, 0, 0.5, 1], [0.25, 0.25, 1, 0.75]], np.float32)
    assert rows == list(detection_rows([KeyframeRecord(0, "v,0902", boxes, scores)], [3, 6, 10], 0.002))
    assert [(r[1], r[2], r[6], r[7]) for r in rows] == [(902, 0.25, 3, 0.5), (902, 0.0, 6, 0.75),
                                                         (902, 0.25, 6, float(np.float32(0.0021)))]


def test_videos_give_the_scores_of_their_rawframes(ava, tmp_path):
    """A 15-minute cut read as video: rawframe n is the video's frame n - 1."""
    videos = tmp_path / "videos"
    videos.mkdir()
    frames = tmp_path / "frames"
    for video in KEYFRAMES:
        path = make_video(videos / f"{video}.mp4", 100, 64, 48, fps=30)
        reader = VideoReader(path)
        decoded = reader.read(list(range(reader.num_frames))).numpy()
        for k, rgb in enumerate(decoded):
            write_png(frames / video / f"img_{k + 1:05d}.png", rgb)
    common = dict(exclusions=ava["ex"], weights=ava["weights"], clip_len=8, short_side=64, device="cpu",
                  progress=False)
    raw = run_ava_evaluation(AvaEvalConfig(ava["gt"], ava["props"], MODEL, data_root=frames,
                                           filename_tmpl="img_{:05d}.png", **common))
    vid = run_ava_evaluation(AvaEvalConfig(ava["gt"], ava["props"], MODEL, data_root=videos,
                                           data_format="video", **common))
    assert vid.counts == raw.counts == {"selected": 4, "evaluated": 4, "skipped": 0}
    for a, b in zip(raw.records, vid.records):
        assert a.img_key == b.img_key and a.boxes.tolist() == b.boxes.tolist()
        np.testing.assert_array_equal(a.scores, b.scores)
    assert vid.metrics["mAP"] == raw.metrics["mAP"]
    ds = AvaVideoDataset(ava["gt"], videos, ava["props"], clip_len=8, frame_interval=2)
    assert ds.resolve(0).endswith("vidA.mp4")


# ----------------------------------------------------------------------------- the command line
@pytest.fixture
def no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("weights were loaded before the mistake was reported")
    monkeypatch.setattr("slowfast_zoo.factory.load_weights", refuse)


def test_cli_mistakes_are_one_line_before_any_weight(ava, tmp_path, capsys, no_loading):
    out = tmp_path / "x.csv"
    base = _args(ava, out)
    cases = [
        (["eval", "--model", "slowfast_r50_4x16x1", "--ann-file", str(ava["gt"]), "--proposals", str(ava["props"])],
         "--proposals is for action detectors"),
        (["eval", "--model", "slowfast_r50_4x16x1", "--ann-file", str(ava["gt"]), "--exclusions", str(ava["ex"])],
         "--exclusions is for action detectors"),
        ([a for a in base if a not in ("--proposals", str(ava["props"]))], "--proposals FILE is needed"),
        ([*base, "--proposals", str(tmp_path / "missing.pkl")], "missing.pkl: no such file"),
        ([*base, "--exclusions", str(tmp_path / "nope.csv")], "nope.csv: no such file"),
        ([*base, "--num-clips", "2"], "--num-clips is for video classifiers"),
        ([*base, "--clip-len", "4"], "needs --clip-len >= 8"),
        ([*base, "--label-map", str(ava["gt"])], "gt.csv"),
        ([*base, "--model", "slowfast_r50_4x16x1_multisports"], "MultiSports"),
        ([*base, "--out", str(ava["gt"])], "is the --ann-file file"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2, (argv, needle)
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err, (needle, err)
    with pytest.raises(SystemExit) as exit:
        main([*base, "--evaluator", "voc"])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--evaluator" in err
    assert not out.exists()


@pytest.mark.slow
def test_sigterm_mid_run_leaves_a_resumable_state(ava, tmp_path):
    out = tmp_path / "term.csv"
    argv = [sys.executable, "-m", "slowfast_zoo", *_args(ava, out, "--save-every", "0")]
    argv[argv.index("--short-side") + 1] = "160"  # slower keyframes: time to be interrupted
    proc = subprocess.Popen(argv, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = state_path(out)
    wait_for(lambda: saved_results(state) >= 1, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "--resume" in err
    saved = json.loads(state.read_text())
    assert not saved["complete"] and 1 <= len(saved["results"]) < 4 and not out.exists()
    resumed = subprocess.run(argv + ["--resume", "--json"], env=child_env(), capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    done = json.loads(state.read_text())
    assert done["complete"] and done["counts"]["evaluated"] == 4
    assert done["results"][:len(saved["results"])] == saved["results"]  # kept as they were, not redone
    records = load_keyframe_records(state)
    rows = list(detection_rows((records[r["img_key"]] for r in done["results"]), list(range(1, 81)), 0.002))
    assert len(read_ava_csv(out)) == len(rows) > 0
    assert json.loads(resumed.stdout)["mAP"] == pytest.approx(
        ava_frame_map(ava["gt"], out, LABEL_MAP, exclusions=ava["ex"], evaluator="mmaction2")["mAP"], abs=1e-12)


def test_summary_and_dataclass_replace_keep_working(full_run):
    # eval_summary escapes the keys and reasons of skipped keyframes (they come from the files).
    from slowfast_zoo.evaluation.ava_job import AvaEvalReport
    from slowfast_zoo.tools import eval_summary

    cfg = sz.get_pretrained_cfg(MODEL)
    header = {"protocol": {"overrides": {}}, "evaluation": {"evaluator": "mmaction2", "class_ids": [1]},
              "dataset": {"num_keyframes": 1}, "action_ids": [1], "class_names": ["a"]}
    report = AvaEvalReport(AvaEvalConfig("gt.csv", "p.csv", exclusions="e.csv"), cfg, header,
                           [KeyframeRecord(0, "v\x1b[2J,0902", reason="bad\nframe")], {},
                           {"selected": 1, "evaluated": 0, "skipped": 1})
    text = eval_summary(report)
    assert "\x1b" not in text and "skipped: v\\x1b[2J,0902: bad frame" in text
    assert dataclasses.replace(report, is_main=False).is_main is False


def test_json_report_of_a_classification_run_too():
    from slowfast_zoo.cli.eval import _report_json
    from slowfast_zoo.evaluation import EvalConfig, EvalReport, EvalResult, VideoRecord
    from slowfast_zoo.tools import json_text

    good = VideoRecord(0, "ok.mp4", 1, np.eye(400, dtype=np.float32)[1])
    report = EvalReport(EvalConfig("val.txt"), sz.get_pretrained_cfg("slowfast_r50_4x16x1"),
                        {"protocol": {"overrides": {}}, "dataset": {"num_videos": 2}},
                        EvalResult([good, VideoRecord(1, "b.mp4", 2, None, "bad")], {"top1_acc": 1.0},
                                   num_selected=2))
    data = json.loads(json_text(_report_json(report)))
    assert data["task"] == "recognition" and data["metrics"] == {"top1_acc": 1.0}
    assert data["published"] == {"top1": 75.64, "top5": 92.3} and data["failures"] == [
        {"video": "b.mp4", "reason": "bad"}]
