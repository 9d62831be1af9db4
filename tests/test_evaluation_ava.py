"""Tests of slowfast_zoo.evaluation.ava (and data.ava_files, its readers): AVA frame-mAP@0.5 against the
recorded runs of the official ActivityNet evaluator (1212804a) and MMAction2 1.2.0's ``ava_eval``
(tests/data/detection/ava_metric_cases_public.json), the file readers and their typed errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import slowfast_zoo.evaluation as ev
from slowfast_zoo.errors import AnnotationError, InputFileError, UsageError, WrongTypeError
from slowfast_zoo.data import ava_files
from slowfast_zoo.evaluation import ava
from slowfast_zoo.evaluation.ava import (
    ava_frame_map,
    read_ava_csv,
    read_ava_exclusions,
    read_ava_label_map,
    write_ava_detections_csv,
)

DATA = Path(__file__).resolve().parent / "data" / "detection"
REFERENCE = json.loads((DATA / "ava_metric_cases_public.json").read_text(encoding="utf-8"))
CASES = REFERENCE["cases"]
# (recorded run, evaluator, ignore_empty_frames)
RUNS = [("activitynet_1212804a", "official", True),
        ("mmaction2_ava_eval", "mmaction2", True),
        ("mmaction2_ava_eval_ignore_empty_frames_false", "mmaction2", False)]
INPUTS = {"label_map": "label_map_pbtxt", "groundtruth": "groundtruth_csv", "detections": "detections_csv",
          "exclusions": "exclusions_csv"}


def _write_case(case: dict, folder: Path, *, newline: str = "\n", bom: str = "") -> dict[str, Path]:
    files = {}
    for name, key in INPUTS.items():
        files[name] = folder / f"{case['name']}_{name}.txt"
        files[name].write_bytes((bom + case["inputs"][key].replace("\n", newline)).encode("utf-8"))
    return files


def _run(files: dict[str, Path], evaluator: str = "official", ignore_empty_frames: bool = True,
         **changes: Path | None) -> ava.AvaFrameMap:
    f = {**files, **changes}
    return ava_frame_map(f["groundtruth"], f["detections"], f["label_map"], exclusions=f["exclusions"],
                         evaluator=evaluator, ignore_empty_frames=ignore_empty_frames)


def _same(a: float, b: float | None) -> bool:
    return (b is None and math.isnan(a)) or (b is not None and not math.isnan(a) and abs(a - b) <= 1e-9)


def _equal(a: ava.AvaFrameMap, b: ava.AvaFrameMap) -> bool:
    """Same mAP and per-class APs, NaN equal to NaN."""
    same = np.array_equal([a["mAP"], *a["per_class_ap"].values()], [b["mAP"], *b["per_class_ap"].values()],
                          equal_nan=True)
    return same and list(a["per_class_ap"]) == list(b["per_class_ap"])


def _check(result: ava.AvaFrameMap, recorded: dict, label_ids: list[int]) -> None:
    expected_map = recorded["mAP"] if "mAP" in recorded else recorded["overall"]
    assert _same(result["mAP"], expected_map), (result["mAP"], expected_map)
    assert sorted(result["per_class_ap"]) == label_ids
    for class_id, ap in result["per_class_ap"].items():
        # A class MMAction2 did not evaluate has no key in the record: NaN here, not in the mean.
        assert _same(ap, recorded["per_class_ap"].get(str(class_id))), (class_id, ap, recorded["per_class_ap"])


@pytest.mark.parametrize("run", RUNS, ids=[r[0] for r in RUNS])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_recorded_runs_exact(case, run, tmp_path):
    key, evaluator, ignore_empty = run
    files = _write_case(case, tmp_path)
    label_ids = sorted(read_ava_label_map(files["label_map"]))
    _check(_run(files, evaluator, ignore_empty), case["results"][key], label_ids)


def test_evaluators_differ_where_the_cases_say(tmp_path):
    # Guards against a comparison that passes vacuously: these cases tell the evaluators apart.
    by_name = {c["name"]: c for c in CASES}
    for name in ("top50", "empty_frames", "exclusions", "class_coverage", "combined"):
        files = _write_case(by_name[name], tmp_path)
        assert _run(files, "official")["mAP"] != pytest.approx(_run(files, "mmaction2")["mAP"], abs=1e-9), name
    files = _write_case(by_name["empty_frames"], tmp_path)
    assert _run(files, "mmaction2", True)["mAP"] != pytest.approx(_run(files, "mmaction2", False)["mAP"])


def test_crlf_bom_no_exclusions_and_the_package_export(tmp_path):
    case = next(c for c in CASES if c["name"] == "combined")
    files = _write_case(case, tmp_path, newline="\r\n", bom="\ufeff")
    _check(_run(files, "official"), case["results"]["activitynet_1212804a"], sorted(read_ava_label_map(files["label_map"])))
    agree = _write_case(next(c for c in CASES if c["name"] == "agree"), tmp_path)
    assert _equal(_run(agree, exclusions=None), _run(agree))  # an empty exclusions file excludes nothing
    assert ev.ava_frame_map is ava_frame_map and ev.read_ava_csv is read_ava_csv


def test_rewritten_detections_give_the_same_numbers(tmp_path):
    case = next(c for c in CASES if c["name"] == "combined")
    files = _write_case(case, tmp_path)
    det = read_ava_csv(files["detections"])
    rows = [(det.videos[v], t, *box, a, s) for v, t, box, a, s in
            zip(det.video_index.tolist(), det.timestamps.tolist(), det.boxes.tolist(), det.action_ids.tolist(),
                det.scores.tolist())]
    out = write_ava_detections_csv(rows, tmp_path / "out" / "results.csv")
    again = read_ava_csv(out)
    assert again.videos == det.videos and np.array_equal(again.boxes, det.boxes)
    assert np.array_equal(again.scores, det.scores) and np.array_equal(again.timestamps, det.timestamps)
    for _, evaluator, ignore_empty in RUNS:
        assert _equal(_run(files, evaluator, ignore_empty, detections=out), _run(files, evaluator, ignore_empty))
    # Full precision: scores that 4 decimals would round into a tie stay distinct and exact.
    scores = [np.float32(0.12345678), 0.12346, 1 / 3]
    write_ava_detections_csv([("v", 5, 0, 0, 1, 1, 3, s) for s in scores], out)
    assert out.read_text().splitlines()[0].startswith("v,0005,0.0,0.0,1.0,1.0,3,0.1234567")
    assert read_ava_csv(out).scores.tolist() == [float(s) for s in scores]


def test_writer_refuses_bad_rows_and_leaves_no_file(tmp_path):
    target = tmp_path / "results.csv"
    for row, what in [(("v", 902, 0, 0, 1, 1, 3), "8 values"), (("v", 902.5, 0, 0, 1, 1, 3, 0.5), "timestamp"),
                      (("a,b", 902, 0, 0, 1, 1, 3, 0.5), "video_id"), (("v", 902, 0, 0, 1, 1, 3, math.nan), "finite")]:
        with pytest.raises(UsageError, match=what):
            write_ava_detections_csv([("v", 902, 0, 0, 1, 1, 3, 0.5), row], target)
        assert list(tmp_path.iterdir()) == []


def test_empty_detections(tmp_path):
    """No detection: the official mAP is 0.0 (every class with ground truth scores 0); MMAction2
    evaluates no class, so its mAP and every AP are NaN."""
    files = _write_case(next(c for c in CASES if c["name"] == "agree"), tmp_path)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    official = _run(files, "official", detections=empty)
    gt_classes = set(read_ava_csv(files["groundtruth"], kind="groundtruth").action_ids.tolist())
    assert official["mAP"] == 0.0
    assert all((ap == 0.0) if c in gt_classes else math.isnan(ap) for c, ap in official["per_class_ap"].items())
    mm = _run(files, "mmaction2", detections=empty)
    assert math.isnan(mm["mAP"]) and all(math.isnan(ap) for ap in mm["per_class_ap"].values())


def test_keyframe_is_video_and_integer_second_and_foreign_classes_are_ignored(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("12: stand\n")
    gt = tmp_path / "gt.csv"
    gt.write_text("v,902,0.1,0.1,0.5,0.9,12,0\nv,0902,0.5,0.1,0.9,0.9,79,1\n")
    det = tmp_path / "det.csv"
    det.write_text("v,0902,0.1,0.1,0.5,0.9,12,0.9\nv,0902,0.1,0.1,0.5,0.9,79,0.95\n")
    for evaluator in ("official", "mmaction2"):
        assert ava_frame_map(gt, det, labels, evaluator=evaluator) == {"mAP": 1.0, "per_class_ap": {12: 1.0}}


def test_inverted_detection_box_dropped_by_official_refused_by_mmaction2(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("12: stand\n")
    gt = tmp_path / "gt.csv"
    gt.write_text("v,0902,0.1,0.1,0.5,0.9,12,0\n")
    det = tmp_path / "det.csv"
    det.write_text("v,0902,0.5,0.1,0.1,0.9,12,0.99\nv,0902,0.1,0.1,0.5,0.9,12,0.5\n")
    assert ava_frame_map(gt, det, labels)["mAP"] == 1.0  # the inverted box is not even a false positive
    with pytest.raises(AnnotationError, match=r"det\.csv:1: inverted detection box"):
        ava_frame_map(gt, det, labels, evaluator="mmaction2")
    gt.write_text("v,0902,0.1,0.1,0.5,0.9,12,0\nv,0902,0.5,0.1,0.1,0.9,12,1\n")
    with pytest.raises(AnnotationError, match=r"gt\.csv:2: ground-truth box .* is inverted"):
        ava_frame_map(gt, det, labels)


@pytest.mark.parametrize("text, message", [
    ("v,0902,0.1,0.1,0.5,0.9,12,0.5\n\nv,0902,0.1,0.1,0.5,0.9,12,0.5,0.7\n",
     r"det\.csv:3: expected 7 or 8 columns .*got 9 columns; a 9-column row is not AVA's detection format"),
    ("v,0902,0.1,0.1,0.5,0.9,12,0.5\nv,09:02,0.1,0.1,0.5,0.9,12,0.5\n",
     r"det\.csv:2: column 2 \(timestamp\) must be an integer, got '09:02'"),
    ("v,0902,0.1,0.1,0.5,0.9,12,high\n", r"det\.csv:1: column 8 \(score\) must be a number"),
    ("v,0902,0.1,0.1,0.5,0.9,12.0,0.5\n", r"det\.csv:1: column 7 \(action_id\) must be an integer"),
    ("v,0902,0.1,0.1,0.5,0.9,12,nan\n", r"det\.csv:1: column 8 \(score\) must be a finite number"),
    ("v,0902,0.1,inf,0.5,0.9,12,0.5\n", r"det\.csv:1: column 4 \(y1\) must be a finite number"),
    (",0902,0.1,0.1,0.5,0.9,12,0.5\n", r"det\.csv:1: empty video_id"),
    ("v,0902,0.1,0.1,0.5,0.9,12,0.5\n\"v,0903\n", r"det\.csv:\d: "),
    ("v,0902,0.1,0.1,0.5,0.9,12,0.5\nv,0902,\xff\n", r"det\.csv:2: not UTF-8"),
])
def test_malformed_detections_name_file_line_and_what_was_expected(tmp_path, text, message):
    det = tmp_path / "det.csv"
    det.write_bytes(text.encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    with pytest.raises(AnnotationError, match=message):
        read_ava_csv(det)


def test_typed_errors_for_arguments_and_files(tmp_path):
    files = _write_case(CASES[0], tmp_path)
    with pytest.raises(UsageError, match="evaluator must be one of 'official', 'mmaction2', got 'pascal'"):
        ava_frame_map("nowhere.csv", "nowhere.csv", "nowhere.pbtxt", evaluator="pascal")  # type: ignore[arg-type]
    with pytest.raises(WrongTypeError):
        _run(files, "mmaction2", "yes")  # type: ignore[arg-type]
    with pytest.raises(InputFileError, match="missing.csv: no such file"):
        _run(files, detections=tmp_path / "missing.csv")
    with pytest.raises(FileNotFoundError):  # InputFileError is one
        _run(files, label_map=tmp_path)
    bad_ex = tmp_path / "ex.csv"
    bad_ex.write_text("v,0902\nv,0903,x\n")
    with pytest.raises(AnnotationError, match=r"ex\.csv:2: expected 2 columns"):
        read_ava_exclusions(bad_ex)
    bad_ex.write_text("v,0902\n\nv,soon\n")
    with pytest.raises(AnnotationError, match=r"ex\.csv:3: column 2 \(timestamp\) must be an integer"):
        read_ava_exclusions(bad_ex)
    bad_gt = tmp_path / "gt.csv"
    bad_gt.write_text("v,0902,0.1,0.1,0.5,0.9,12,0\nv,0902\n")
    with pytest.raises(AnnotationError, match=r"gt\.csv:2: .*person_id.* a 2-column row is a keyframe without boxes"):
        read_ava_csv(bad_gt, kind="groundtruth")


def test_size_limits_are_typed_errors(tmp_path, monkeypatch):
    det = tmp_path / "det.csv"
    det.write_text("v,0902,0.1,0.1,0.5,0.9,12,0.5\n" * 3)
    monkeypatch.setattr(ava_files, "MAX_CSV_ROWS", 2)
    with pytest.raises(AnnotationError, match=r"det\.csv:3: more than 2 rows"):
        read_ava_csv(det)
    monkeypatch.setattr(ava_files, "MAX_CSV_BYTES", 10)
    with pytest.raises(AnnotationError, match="bytes, more than the 10 accepted"):
        read_ava_csv(det)
    monkeypatch.setattr(ava_files, "MAX_CSV_BYTES", 1 << 20)
    det.write_text("v,9999999999,0.1,0.1,0.5,0.9,12,0.5\n")  # keyframe ids stay one int64
    with pytest.raises(AnnotationError, match=r"det\.csv:1: column 2 \(timestamp\) '9999999999' is out of range"):
        read_ava_csv(det)


def test_label_map_formats(tmp_path):
    pbtxt = tmp_path / "ava.pbtxt"
    pbtxt.write_text(CASES[0]["inputs"]["label_map_pbtxt"])
    labels = read_ava_label_map(pbtxt)
    assert list(labels) == REFERENCE["label_ids"]
    assert labels[1] == "bend/bow (at the waist)" and labels[80] == "watch (a person)"
    txt = tmp_path / "label_map.txt"  # MMAction2's tools/data/ava/label_map.txt style
    txt.write_text("".join(f"{k}: {v}\n" for k, v in labels.items()))
    assert read_ava_label_map(txt) == labels
    full = tmp_path / "full.pbtxt"  # AVA v2.1's full list: label_id, label_type; comments; one-line items
    full.write_text('# AVA\nlabel {\n\tname: "bend/bow (at the waist)"\n\tlabel_id: 1\n\tlabel_type: PERSON_MOVEMENT\n}\n'
                    "item { name: 'say \\'hi\\'' id: 3 }  # quoted\n")
    assert read_ava_label_map(full) == {1: "bend/bow (at the waist)", 3: "say 'hi'"}


@pytest.mark.parametrize("text, message", [
    ('item {\n  name: "a"\n  id: 1\n}\nitem {\n  name: "b"\n  id: 1\n}\n', r":7: class id 1 is listed twice"),
    ('item {\n  name: "a"\n}\n', r":3: an item needs exactly one 'id'"),
    ('item {\n  name: "a"\n  id: one\n}\n', r":3: a class id must be an integer, got 'one'"),
    ('item {\n  name: "a"\n  id: 0\n}\n', r":3: class ids start at 1"),
    ('item {\n  name: "a"\n  id: 1\n', r":3: the file ends where a field or '}' was expected"),
    ('items {\n', r":1: expected 'item \{' \(or 'label \{'\), got 'items'"),
    ("1: a\n2 b\n", r":2: expected 'ID: name'"),
    ("# nothing\n", r"no class in the label map"),
])
def test_label_map_errors_name_the_line(tmp_path, text, message):
    path = tmp_path / "labels.pbtxt"
    path.write_text(text)
    with pytest.raises(AnnotationError, match=message):
        read_ava_label_map(path)
