# Frame index sampling.
#
# Reproduces the behaviour of MMAction2's ``SampleFrames`` pipeline step
# (OpenMMLab, Apache-2.0, https://github.com/open-mmlab/mmaction2, v0.13.0 and 1.2.0),
# as written down in docs/SPEC.md section 4.2 and section 9 item 1. This is an independent
# re-implementation from that specification; no MMAction2 code is copied.
"""Which frames of a video make up its clips (MMAction2's ``SampleFrames``, both generations).

Test mode is deterministic, with the rule of the MMAction2 generation that tested the weight
(``rule=``). The 0.x rule (docs/SPEC.md 4.2), used for every 0.x weight::

    avg = (n - clip_len * frame_interval + 1) / num_clips     # real division
    start_k = int(k * avg + avg / 2)   if n > clip_len * frame_interval - 1 else 0

The 1.x rule (SPEC section 9 item 1; MMAction2 1.x rewrote it after PySlowFast), used for the
1.x weights: clips spread evenly from the first frame to the last possible start::

    max_offset = max(n - ((clip_len - 1) * frame_interval + 1), 0)
    start_k = round_half_even(k * max_offset / (num_clips - 1))   (num_clips > 1)
    start_0 = max_offset // 2                                      (num_clips == 1)

Train mode draws the clip starts at random, with the same formulas as MMAction2 but a
caller-supplied random source (see :func:`sample_frames`).

In both modes the indices of clip ``k`` are ``start_k + j * frame_interval``
(``j = 0..clip_len-1``), concatenated clip by clip, wrapped around the video with
``index % n`` ("loop") and shifted by ``start_index``.
"""

from __future__ import annotations

import numbers

import numpy as np

from slowfast_zoo.errors import UsageError, WrongTypeError
from slowfast_zoo.registry.records import SAMPLING_RULES

#: A numpy random source: what the random (train-mode) sampling draws from.
RandomSource = np.random.Generator | np.random.RandomState

__all__ = ["sample_frames", "clip_offsets", "SAMPLING_RULES"]


def _check_positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise WrongTypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise UsageError(f"{name} must be >= 1, got {value}")
    return int(value)


def _randint(rng: object, high: int, size: int) -> np.ndarray:
    """``size`` ints uniform in ``[0, high)`` from a Generator or a legacy RandomState."""
    if isinstance(rng, np.random.Generator):
        return rng.integers(high, size=size)
    if isinstance(rng, np.random.RandomState):
        # Exactly MMAction2's call on numpy's global (legacy) RNG.
        return rng.randint(high, size=size)
    raise WrongTypeError(
        "rng must be a numpy.random.Generator, a numpy.random.RandomState, an int seed or None, "
        f"got {type(rng).__name__}"
    )


def _as_rng(rng: object) -> object:
    """A Generator for ``None`` or an int seed; anything else as is (``_randint`` checks it)."""
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    return rng


def check_rule(rule: object) -> str:
    """``rule`` if it is one of :data:`SAMPLING_RULES`, else a :class:`UsageError` naming the choices."""
    if rule not in SAMPLING_RULES:
        raise UsageError(f"rule must be one of {', '.join(map(repr, SAMPLING_RULES))} (the MMAction2 "
                         f"generation whose test-mode SampleFrames to reproduce), got {rule!r}")
    return str(rule)


def clip_offsets(num_frames: int, clip_len: int, frame_interval: int, num_clips: int, *,
                 test_mode: bool, rng: RandomSource | None = None, rule: str = "0.x") -> np.ndarray:
    """Start frame (before looping and ``start_index``) of each clip, int64 ``[num_clips]``.

    See :func:`sample_frames` for the arguments.
    """
    n = _check_positive("num_frames", num_frames)
    clip_len = _check_positive("clip_len", clip_len)
    frame_interval = _check_positive("frame_interval", frame_interval)
    num_clips = _check_positive("num_clips", num_clips)
    rule = check_rule(rule)
    span = clip_len * frame_interval
    k = np.arange(num_clips)
    if test_mode and rule == "1.x":
        max_offset = max(n - ((clip_len - 1) * frame_interval + 1), 0)
        if num_clips == 1:
            return np.array([max_offset // 2], dtype=np.int64)
        # np.round: half to even, as the 1.x code rounds the float64 starts.
        return np.round(k * (max_offset / float(num_clips - 1))).astype(np.int64)
    if test_mode:
        if n > span - 1:
            avg = (n - span + 1) / float(num_clips)
            # float64 arithmetic then truncation, exactly as MMAction2 0.x.
            return (k * avg + avg / 2.0).astype(np.int64)
        return np.zeros(num_clips, dtype=np.int64)

    source = _as_rng(rng)
    avg = (n - span + 1) // num_clips
    if avg > 0:
        offsets = k * avg + _randint(source, avg, num_clips)
    elif n > max(num_clips, span):
        offsets = np.sort(_randint(source, n - span + 1, num_clips))
    elif avg == 0:
        ratio = (n - span + 1.0) / num_clips
        offsets = np.around(k * ratio)  # round half to even, like numpy.around in MMAction2
    else:
        offsets = np.zeros(num_clips)
    return np.asarray(offsets).astype(np.int64)


def sample_frames(num_frames: int, clip_len: int, frame_interval: int, num_clips: int, *,
                  test_mode: bool, start_index: int = 0,
                  rng: RandomSource | None = None, rule: str = "0.x") -> np.ndarray:
    """Frame indices of ``num_clips`` clips of ``clip_len`` frames, as MMAction2 samples them.

    Args:
        num_frames: number of frames of the video (for a video file: what a full decode
            yields, ``VideoReader.num_frames``; for a rawframe folder: ``total_frames``).
        clip_len: frames per clip (32 for all published weights).
        frame_interval: step between sampled frames (2).
        num_clips: clips per video (10 at test time, 1 in training).
        test_mode: deterministic evenly spread clips (True) or random clips (False).
        start_index: added to every index (1 for rawframe folders numbered from
            ``img_00001.jpg``, 0 for video files).
        rng: train mode only. A ``numpy.random.Generator`` (its ``integers`` replaces
            MMAction2's ``numpy.random.randint``), an int seed for ``default_rng``, or
            ``None`` for fresh OS entropy. A ``numpy.random.RandomState`` makes exactly
            MMAction2's ``randint`` calls on it: ``sample_frames(..., rng=RandomState(s))``
            equals MMAction2 after ``numpy.random.seed(s)``.
        rule: the test-mode rule, ``"0.x"`` (default; every 0.x weight) or ``"1.x"`` (the
            MMAction2 1.x weights): see the module docstring. Train mode is the same in both.

    Returns:
        int64 array ``[num_clips * clip_len]``, clip by clip, every value in
        ``[start_index, start_index + num_frames)`` (indices past the end wrap around).

    Example:
        >>> sample_frames(300, 32, 2, 10, test_mode=True)[::32].tolist()
        [11, 35, 59, 82, 106, 130, 154, 177, 201, 225]
        >>> sample_frames(300, 32, 2, 10, test_mode=True, rule="1.x")[::32].tolist()
        [0, 26, 53, 79, 105, 132, 158, 184, 211, 237]
    """
    offsets = clip_offsets(num_frames, clip_len, frame_interval, num_clips,
                           test_mode=test_mode, rng=rng, rule=rule)
    inds = offsets[:, None] + np.arange(clip_len, dtype=np.int64)[None, :] * int(frame_interval)
    inds = np.mod(inds.reshape(-1), int(num_frames))
    return inds + int(start_index)
