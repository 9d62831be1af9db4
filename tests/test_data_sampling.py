"""Tests of slowfast_zoo.data.sampling: sample_frames against MMAction2 0.x's SampleFrames
(pipeline_cases_public.json) and 1.2.0's (the 1.x rule)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import weightgen
from slowfast_zoo.data import clip_offsets, sample_frames

CASES = json.loads((Path(__file__).parent / "data" / "pipeline_cases_public.json").read_text())


def _id(c):
    return f"n{c['total_frames']}-L{c['clip_len']}-I{c['frame_interval']}-K{c['num_clips']}-s{c['start_index']}"


@pytest.mark.parametrize("case", CASES["sample_frames_test"], ids=_id)
def test_test_mode_golden(case):
    assert case["out_of_bound_opt"] == "loop"
    got = sample_frames(case["total_frames"], case["clip_len"], case["frame_interval"], case["num_clips"],
                        test_mode=True, start_index=case["start_index"])
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, case["frame_inds"])


@pytest.mark.parametrize("case", CASES["sample_frames_train_seeded"],
                         ids=lambda c: _id(c) + f"-seed{c['numpy_legacy_seed']}")
def test_train_mode_legacy_seeded_golden(case):
    # MMAction2 draws with numpy's global legacy RNG after numpy.random.seed(seed); a
    # RandomState(seed) receives exactly the same randint calls.
    rs = np.random.RandomState(case["numpy_legacy_seed"])
    got = sample_frames(case["total_frames"], case["clip_len"], case["frame_interval"], case["num_clips"],
                        test_mode=False, start_index=case["start_index"], rng=rs)
    np.testing.assert_array_equal(got, case["frame_inds"])


def test_spec_worked_example():
    starts = clip_offsets(300, 32, 2, 10, test_mode=True)
    assert starts.tolist() == [11, 35, 59, 82, 106, 130, 154, 177, 201, 225]
    inds = sample_frames(5, 32, 2, 1, test_mode=True)
    assert inds[:8].tolist() == [0, 2, 4, 1, 3, 0, 2, 4]
    assert len(np.unique(sample_frames(300, 32, 2, 10, test_mode=True))) == 180


@pytest.mark.parametrize("n", [1, 20, 63, 64, 65, 100, 300, 1000])
@pytest.mark.parametrize("clip", [(32, 2, 1), (8, 8, 1), (4, 16, 3), (32, 2, 10)])
def test_train_mode_generator(n, clip):
    L, I, K = clip
    a = sample_frames(n, L, I, K, test_mode=False, rng=np.random.default_rng(7), start_index=1)
    b = sample_frames(n, L, I, K, test_mode=False, rng=np.random.default_rng(7), start_index=1)
    np.testing.assert_array_equal(a, b)  # reproducible from the seed
    assert a.shape == (L * K,) and a.dtype == np.int64
    assert a.min() >= 1 and a.max() <= n
    starts = clip_offsets(n, L, I, K, test_mode=False, rng=np.random.default_rng(7))
    # MMAction2 lets a start reach n - span + 1 when (n - span + 1) < num_clips (round()).
    assert (starts >= 0).all() and (starts <= max(n - L * I + 1, 0)).all()
    expected = (starts[:, None] + np.arange(L) * I) % n + 1
    np.testing.assert_array_equal(a, expected.reshape(-1))


def test_train_mode_uniform_start():
    # One clip of 64 frames in a 100-frame video: start uniform in [0, 36].
    rng = np.random.default_rng(0)
    starts = [int(clip_offsets(100, 32, 2, 1, test_mode=False, rng=rng)[0]) for _ in range(2000)]
    assert min(starts) == 0 and max(starts) == 36


def test_int_seed_and_errors():
    np.testing.assert_array_equal(sample_frames(300, 32, 2, 1, test_mode=False, rng=3),
                                  sample_frames(300, 32, 2, 1, test_mode=False, rng=np.random.default_rng(3)))
    with pytest.raises(ValueError, match="num_frames"):
        sample_frames(0, 32, 2, 10, test_mode=True)
    with pytest.raises(ValueError, match="clip_len"):
        sample_frames(10, 0, 2, 10, test_mode=True)
    with pytest.raises(TypeError):
        sample_frames(10.5, 32, 2, 10, test_mode=True)
    with pytest.raises(TypeError, match="rng"):
        sample_frames(300, 32, 2, 1, test_mode=False, rng="seed")


# ------------------------------------------------------------------------- the 1.x rule
_1X = json.loads((weightgen.REFERENCE / "sample_frames_test_1x_public.json").read_text())["cases"]


@pytest.mark.parametrize("case", _1X, ids=lambda c: "n{total_frames}-{clip_len}x{frame_interval}x"
                         "{num_clips}-s{start_index}".format(**c))
def test_sample_frames_1x_rule_matches_mmaction2_1x(case: dict) -> None:
    got = sample_frames(case["total_frames"], case["clip_len"], case["frame_interval"], case["num_clips"],
                        test_mode=True, start_index=case["start_index"], rule="1.x")
    assert got.tolist() == case["frame_inds"]


def test_rules_differ_and_bad_rule_is_refused() -> None:
    differ = [c for c in _1X if sample_frames(c["total_frames"], c["clip_len"], c["frame_interval"],
                                              c["num_clips"], test_mode=True,
                                              start_index=c["start_index"]).tolist() != c["frame_inds"]]
    assert differ  # the 0.x rule gives other frames on part of the grid
    with pytest.raises(ValueError, match="rule must be one of '0.x', '1.x'"):
        sample_frames(100, 32, 2, 10, test_mode=True, rule="2.x")
    # Train mode is the same in both generations.
    a = sample_frames(300, 32, 2, 1, test_mode=False, rng=np.random.RandomState(3))
    b = sample_frames(300, 32, 2, 1, test_mode=False, rng=np.random.RandomState(3), rule="1.x")
    assert a.tolist() == b.tolist()
