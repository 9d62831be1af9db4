"""Plain, one-step-at-a-time copies of MMAction2's Crop / Flip / Normalize / FormatShape steps.

Reference implementations for the tests only: the library crops, normalises and lays out the
views in one pass (``slowfast_zoo.data.views.assemble_views``); the tests check it against these
straightforward versions, which are themselves checked against MMAction2's golden cases
(tests/test_data_transforms.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def crop(frames: torch.Tensor, box: Sequence[int]) -> torch.Tensor:
    """View of ``frames[:, top:bottom, left:right]`` for ``[M, H, W, C]`` frames."""
    left, top, right, bottom = (int(v) for v in box)
    if not (0 <= left < right <= frames.shape[2] and 0 <= top < bottom <= frames.shape[1]):
        raise ValueError(f"box {tuple(box)} does not fit in frames of {tuple(frames.shape[1:3])}")
    return frames[:, top:bottom, left:right]


def hflip(frames: torch.Tensor) -> torch.Tensor:
    """Horizontal flip of ``[M, H, W, C]`` frames (MMAction2 ``Flip``, direction horizontal)."""
    return frames.flip(2)


def normalize(frames: torch.Tensor, mean: Sequence[float], std: Sequence[float], *,
              to_bgr: bool = False) -> torch.Tensor:
    """float32 ``(x - mean) / std`` per channel on channel-last frames ``[..., C]`` (0-255 scale);
    ``to_bgr=True`` reverses the channels first (MMAction2's ``to_bgr``)."""
    m = torch.tensor(mean, dtype=torch.float32)
    s = torch.tensor(std, dtype=torch.float32)
    x = frames.flip(-1) if to_bgr else frames
    return x.to(torch.float32).sub_(m).div_(s)


def format_ncthw(frames: torch.Tensor, num_clips: int, clip_len: int) -> torch.Tensor:
    """MMAction2's ``FormatShape('NCTHW')``: ``[M, H, W, C] -> [M // clip_len, C, clip_len, H, W]``.

    ``M = crops * num_clips * clip_len`` frames ordered crop-major, then clip, then frame.
    """
    M, H, W, C = frames.shape
    if M % (num_clips * clip_len):
        raise ValueError(f"{M} frames is not a multiple of num_clips * clip_len = {num_clips * clip_len}")
    x = frames.reshape(-1, num_clips, clip_len, H, W, C).permute(0, 1, 5, 2, 3, 4)
    return x.reshape(-1, C, clip_len, H, W).contiguous()
