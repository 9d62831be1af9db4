"""Tests of slowfast_zoo.evaluation.metrics: metrics and view averaging against MMAction2's own
outputs (tests/data/reference)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from slowfast_zoo.evaluation import average_views, confusion_matrix, mean_class_accuracy, top_k_accuracy
from weightgen import ARCHS, REFERENCE, load_golden

CASES = json.loads((REFERENCE / "metric_cases_public.json").read_text())["metrics"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c['seed']}")
def test_metric_cases_exact(case):
    # The case's recipe, spelled out (numpy Generator streams are stable).
    rng = np.random.default_rng(case["seed"])
    scores = rng.standard_normal((50, 10))
    labels = rng.integers(0, 10 if case["seed"] == 7 else 6, size=50)
    assert labels.tolist() == case["labels"]
    assert scores.sum() == pytest.approx(case["scores_sum"], abs=1e-9)
    assert top_k_accuracy(scores, labels, (1, 5)) == [case["top1"], case["top5"]]
    assert mean_class_accuracy(scores, labels) == case["mean_class_accuracy"]
    # Same numbers from torch tensors.
    assert mean_class_accuracy(torch.from_numpy(scores), torch.from_numpy(labels)) == case["mean_class_accuracy"]


def test_predicted_only_classes_count_as_zero():
    case = next(c for c in CASES if c["seed"] == 8)
    rng = np.random.default_rng(8)
    scores = rng.standard_normal((50, 10))
    labels = rng.integers(0, 6, size=50)
    assert mean_class_accuracy(scores, labels) != pytest.approx(case["mean_over_label_classes_only"])
    matrix, classes = confusion_matrix(scores.argmax(1), labels)
    assert classes.tolist() == sorted(set(case["classes_in_labels"]) | set(case["classes_predicted"]))
    assert matrix.sum() == 50 and matrix[6:].sum() == 0


@pytest.mark.parametrize("arch", ARCHS)
def test_view_averages_match_golden(arch):
    g = load_golden(arch)
    logits = torch.tensor(g["logits"], dtype=torch.float32)[None]
    prob = average_views(logits, "prob")[0]
    score = average_views(logits, "score")[0]
    assert torch.allclose(prob, torch.tensor(g["video_prob"]), atol=1e-7, rtol=0)
    assert torch.allclose(score, torch.tensor(g["video_score"]), atol=1e-6, rtol=0)
    assert int(prob.argmax()) == g["argmax_prob"] and int(score.argmax()) == g["argmax_score"]
    assert average_views(logits, None) is logits


def test_bad_arguments():
    with pytest.raises(ValueError, match="'prob', 'score' or None"):
        average_views(torch.zeros(1, 2, 3), "max")
    with pytest.raises(ValueError, match=r"\[B, V, K\]"):
        average_views(torch.zeros(2, 3), "prob")
    with pytest.raises(ValueError, match="one label per row"):
        top_k_accuracy(np.zeros((3, 4)), [1, 2])
    with pytest.raises(ValueError, match="integers"):
        mean_class_accuracy(np.zeros((2, 4)), [0.5, 1.0])
