"""Charades evaluation (issue 23, item 5): PySlowFast's multi-label frame lists and the simple
``path l1,l2`` list, scored with the tag's protocol (sigmoid at every head position, max over
views) and reported as PySlowFast's ``get_map`` (scikit-learn's ``average_precision_score`` per
class over the classes with a positive video), through ``evaluate``, ``run_evaluation`` and
``slowfast-zoo eval``. Tiny frame folders and videos, a width-8 network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import slowfast_zoo as sz
from slowfast_zoo.cli import main as cli_main
from slowfast_zoo.data.multilabel import FrameListReader, MultiLabelDataset
from slowfast_zoo.errors import AnnotationError
from slowfast_zoo.evaluation import job as job_module
from slowfast_zoo.evaluation.metrics import mean_average_precision
from slowfast_zoo.evaluation.runner import evaluate
from video_factory import make_video

sklearn_metrics = pytest.importorskip("sklearn.metrics")

TAG = "pysf_slowfast_r50_16x8.charades"
HEADER = "original_vido_id video_id frame_id path labels\n"


def _frames(folder: Path, vid: str, n: int, seed: int) -> list[str]:
    """``n`` PNG frames named as Charades' (``VID-000001.png``); paths relative to ``folder``."""
    from torchvision.io import encode_png

    (folder / vid).mkdir(parents=True)
    rng = np.random.default_rng(seed)
    names = []
    for i in range(1, n + 1):
        img = torch.from_numpy(rng.integers(0, 256, (3, 40, 48), dtype=np.uint8))
        name = f"{vid}/{vid}-{i:06d}.png"
        (folder / name).write_bytes(encode_png(img).numpy().tobytes())
        names.append(name)
    return names


def _frame_list(tmp_path: Path, labels: dict[str, list[str]], n: int = 20, write: bool = True) -> Path:
    """A PySlowFast frame list over synthetic frame folders (``write=False``: the list alone):
    ``labels[vid][i % len]`` is frame i's label field."""
    lines = [HEADER]
    for v, (vid, per_frame) in enumerate(labels.items()):
        names = (_frames(tmp_path / "rgb", vid, n, seed=v) if write
                 else [f"{vid}/{vid}-{i:06d}.png" for i in range(1, n + 1)])
        for i, name in enumerate(names):
            lines.append(f"{vid} {v} {i} {name} {per_frame[i % len(per_frame)]}\n")
    ann = tmp_path / "val.csv"
    ann.write_text("".join(lines))
    return ann


def _tiny(num_classes: int = 157) -> sz.SlowFast:
    torch.manual_seed(0)
    cfg = sz.get_pretrained_cfg(TAG)
    model = sz.SlowFast(sz.registry.ARCHS["pysf_slowfast_r50_16x8"].replace(slow_base_channels=8),
                        num_classes=num_classes, pretrained_cfg=cfg).eval()
    with torch.no_grad():  # spread the scores: no ties in the ranking that AP depends on
        model.fc.weight.normal_(0, 1)
    return model


def _small_tf(tag: str = TAG):
    return sz.data.test_transform(tag, clip_len=8, frame_interval=2, num_clips=2, num_crops=3,
                                  resize_short_side=32, crop_size=32)


def _reference_scores(model: sz.SlowFast, views: torch.Tensor) -> np.ndarray:
    """PySlowFast's Charades video score, written out: sigmoid of the logits at every head
    position, their mean per view, then the max over the views."""
    with torch.no_grad():
        maps = model.forward_head(model.forward_features(views), return_map=True)  # [V, C, t, h, w]
    per_view = torch.sigmoid(maps).flatten(2).mean(2)
    return per_view.max(0).values.numpy()


def _sklearn_map(scores: np.ndarray, hot: np.ndarray) -> float:
    keep = hot.any(axis=0)
    return float(np.mean(sklearn_metrics.average_precision_score(hot[:, keep], scores[:, keep], average=None)))


# ------------------------------------------------------------------------------------ reading
def test_frame_list_is_read_as_pysf_reads_it(tmp_path: Path) -> None:
    ann = _frame_list(tmp_path, {"B9X": ['"3,1"', '""', "7"], "A0Y": ['""'], "C2Z": ["2", '"2,5"']}, n=6,
                      write=False)
    ds = MultiLabelDataset(ann, tmp_path / "rgb", _small_tf(), num_classes=157)
    # Videos in order of first appearance; a video's classes: the union of its frames' (test time).
    assert [r.path for r in ds.records] == ["B9X", "A0Y", "C2Z"]
    assert ds.labels == [(1, 3, 7), (), (2, 5)] and ds.multi_label
    assert ds.records[0].frames == tuple(f"B9X/B9X-{i:06d}.png" for i in range(1, 7))
    assert ds.resolve(1) == tmp_path / "rgb" / "A0Y"


def test_multi_label_lists_refuse_bad_lines(tmp_path: Path) -> None:
    tf = _small_tf()
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "v 0 0 v/1.png\n")
    with pytest.raises(AnnotationError, match=r"bad\.csv:2: expected 'original_vido_id"):
        MultiLabelDataset(bad, tmp_path, tf, num_classes=157)
    bad.write_text(HEADER + "v 0 0 v/1.png 3,x\n")
    with pytest.raises(AnnotationError, match=r"bad\.csv:2: labels must be comma-separated"):
        MultiLabelDataset(bad, tmp_path, tf, num_classes=157)
    simple = tmp_path / "simple.txt"
    simple.write_text("a.mp4 1,157\n")
    with pytest.raises(AnnotationError, match=r"simple\.txt:1: class id 157 is not below num_classes=157"):
        MultiLabelDataset(simple, tmp_path, tf, num_classes=157)
    simple.write_text("a.mp4 3 1,2\n")
    with pytest.raises(AnnotationError, match="expected 'path labels'"):
        MultiLabelDataset(simple, tmp_path, tf, num_classes=157)
    simple.write_text("a 12 1,2\nb \"\"\n")
    ds = MultiLabelDataset(simple, tmp_path, tf, num_classes=157, data_format="rawframes")
    assert ds.labels == [(1, 2), ()] and [r.num_frames for r in ds.records] == [12, None]


# ------------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_evaluate_frame_list_reports_pysf_map(tmp_path: Path) -> None:
    ann = _frame_list(tmp_path, {"V1": ['"0,3"'], "V2": ["3", "10"], "V3": ['""', "0"], "V4": ["156"]})
    tf = _small_tf()
    ds = MultiLabelDataset(ann, tmp_path / "rgb", tf, num_classes=157)
    # An item: the views and PySlowFast's multi-hot target (as_binary_vector).
    views, target, index = ds[1]
    assert views.shape == (6, 3, 8, 32, 32) and index == 1
    assert target.dtype == torch.float32 and torch.nonzero(target).flatten().tolist() == [3, 10]
    # Frame i of a video is the list's i-th line (from 0), as PySlowFast indexes _path_to_videos.
    reader = FrameListReader([tmp_path / "rgb" / f for f in ds.records[0].frames])
    assert reader.num_frames == 20 and reader.frame_path(19).name == "V1-000020.png"
    model = _tiny()
    result = evaluate(model, ds, progress=False)
    assert result.multi_label and set(result.metrics) == {"mAP"}
    hot = np.zeros((4, 157), dtype=np.int64)
    for row, classes in enumerate([(0, 3), (3, 10), (0,), (156,)]):
        hot[row, list(classes)] = 1
    np.testing.assert_array_equal(result.labels, hot)
    assert [r.label for r in result.records] == [(0, 3), (3, 10), (0,), (156,)]
    # The scores are the protocol's (sigmoid per position, mean, max over the 6 views).
    for row in range(4):
        reader = FrameListReader([tmp_path / "rgb" / f for f in ds.records[row].frames])
        views = tf.read_views(reader, tf.sample_reader(reader))
        np.testing.assert_allclose(result.scores[row], _reference_scores(model, views), atol=1e-5, rtol=1e-5)
    # The reported mAP is get_map's: ours over the video scores, and scikit-learn's per-class APs.
    assert result.metrics["mAP"] == pytest.approx(mean_average_precision(result.scores, hot), abs=1e-12)
    assert result.metrics["mAP"] == pytest.approx(_sklearn_map(result.scores, hot), abs=1e-9)


@pytest.mark.slow
def test_evaluate_simple_list_of_videos(tmp_path: Path) -> None:
    tag = "pysf_slowfast_r50_8x8.charades_ptv"
    for i in range(3):
        make_video(tmp_path / f"c{i}.mp4", 30, 48, 40, fps=30)
    ann = tmp_path / "list.txt"
    ann.write_text("c0.mp4 4,9\nc1 9\nc2.mp4 \"\"\nmissing.mp4 4\n")
    tf = _small_tf(tag)
    ds = MultiLabelDataset(ann, tmp_path, tf, num_classes=157, on_error="skip")
    model = _tiny()
    result = evaluate(model, ds, progress=False)
    assert result.counts == {"selected": 4, "evaluated": 3, "skipped": 1}
    assert result.failures[0].path.endswith("missing.mp4")
    hot = result.labels
    assert hot.shape == (3, 157) and hot[:, [4, 9]].tolist() == [[1, 1], [0, 1], [0, 0]]
    assert result.metrics["mAP"] == pytest.approx(_sklearn_map(result.scores, hot), abs=1e-9)


@pytest.mark.slow
def test_slowfast_zoo_eval_on_a_charades_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    ann = _frame_list(tmp_path, {"V1": ['"0,3"'], "V2": ["3"], "V3": ["0", "7"]})
    model = _tiny()
    monkeypatch.setattr(job_module, "create_model", lambda *a, **k: model)  # no 140 MB file for this
    out = tmp_path / "res.json"
    argv = ["eval", "--model", TAG, "--ann-file", str(ann), "--data-root", str(tmp_path / "rgb"),
            "--clip-len", "8", "--num-clips", "2", "--num-crops", "1", "--short-side", "32",
            "--crop-size", "32", "--out", str(out), "--no-progress", "--workers", "0"]
    assert cli_main(argv) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert set(data["metrics"]) == {"mAP"} and data["model"]["published"] == {"mAP": 38.9}
    assert [r["label"] for r in data["results"]] == [[0, 3], [3], [0, 7]]
    scores = np.asarray([r["scores"] for r in data["results"]], dtype=np.float32)
    hot = np.zeros((3, 157), dtype=np.int64)
    for row, classes in enumerate([(0, 3), (3,), (0, 7)]):
        hot[row, list(classes)] = 1
    assert data["metrics"]["mAP"] == pytest.approx(_sklearn_map(scores, hot), abs=1e-6)
    assert f"| {TAG} | {100 * data['metrics']['mAP']:.2f} | 38.90 |" in printed
    assert "top1" not in printed
    # --resume reads the multi-label records back and changes nothing.
    assert cli_main(argv + ["--resume"]) == 0
    assert json.loads(out.read_text())["metrics"] == data["metrics"]
