#!/usr/bin/env python
"""Alternatives tried for the two slowest-per-FLOP convolutions of the fast pathway (issue 15).

    python benchmarks/bench_fast_pathway.py [--threads 2] [--repeats 5]

Both at the shapes of r50 4x16x1 on one 32x256x256 view, channels_last memory, random weights:

* the fast stem (3 -> 8 channels, kernel 5x7x7, stride (1, 2, 2)): as the library runs it
  (``conv3d``), as a space-to-depth 3-D conv (the four stride phases as 12 input channels, kernel
  5x4x4, stride 1; the input shuffle included), and as one of its five temporal taps as a 2-D conv
  over time-folded frames (multiply by five, plus the sums, for the whole stem);
* the fast res2 expansion (1x1, 8 -> 32 channels) with the residual add and ReLU: ``conv2d``,
  ``addmm`` on the channels-last rows, and ``addmm`` with the residual as its ``beta`` input.

Prints the median milliseconds of each and the largest difference to the library's result.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--size", type=int, default=256)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    S = a.size
    x = torch.randn(1, 3, 32, S, S).contiguous(memory_format=torch.channels_last_3d)
    w = torch.randn(8, 3, 5, 7, 7) * 0.05
    b = torch.randn(8)
    # Space-to-depth weights: phase (p, q) of the stride-2 grid becomes 3 more input channels.
    w2 = torch.zeros(8, 3, 2, 2, 5, 4, 4)
    for ph in range(2):
        for q in range(2):
            for i in range(4):
                for j in range(4):
                    if 2 * i + ph <= 6 and 2 * j + q <= 6:
                        w2[:, :, ph, q, :, i, j] = w[:, :, :, 2 * i + ph, 2 * j + q]
    w2 = w2.reshape(8, 12, 5, 4, 4).contiguous(memory_format=torch.channels_last_3d)
    half = (S + 6) // 2

    def stem():
        return F.conv3d(x, w, b, stride=(1, 2, 2), padding=(2, 3, 3))

    def stem_s2d():
        xp = F.pad(x, (3, 3, 3, 3))
        xs = xp.view(1, 3, 32, half, 2, half, 2).permute(0, 1, 4, 6, 2, 3, 5).reshape(1, 12, 32, half, half)
        return F.conv3d(xs.contiguous(memory_format=torch.channels_last_3d), w2, b, stride=1, padding=(2, 0, 0))

    frames = x.transpose(1, 2).reshape(32, 3, S, S)
    tap = w[:, :, 0].contiguous(memory_format=torch.channels_last)

    def stem_one_2d_tap():
        return F.conv2d(frames, tap, None, stride=2, padding=3)

    h = S // 4
    y = torch.randn(32, 8, h, h).contiguous(memory_format=torch.channels_last)
    ident = torch.randn(32, 32, h, h).contiguous(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(8, 32, 1).eval().to(memory_format=torch.channels_last)
    wt = conv.weight.view(32, 8).t().contiguous()

    def expand_conv():
        out = conv(y)
        out += ident
        return out.relu_()

    def rows(t: torch.Tensor) -> torch.Tensor:
        return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])

    def expand_addmm():
        out = torch.addmm(conv.bias, rows(y), wt)
        out += rows(ident)
        return out.relu_()

    def expand_addmm_beta():
        out = torch.addmm(rows(ident), rows(y), wt)
        out += conv.bias
        return out.relu_()

    with torch.inference_mode():
        ref = stem()
        print(f"fast stem, 1 view of 32x{S}x{S}, {a.threads} threads (median of {a.repeats}):")
        print(f"  conv3d (the library)         {_median_ms(stem, a.repeats):7.1f} ms")
        err = (stem_s2d() - ref).abs().max().item()
        print(f"  space-to-depth conv3d        {_median_ms(stem_s2d, a.repeats):7.1f} ms  (max diff {err:.1e})")
        print(f"  one of 5 temporal 2-D taps   {_median_ms(stem_one_2d_tap, a.repeats):7.1f} ms")
        ref = rows(expand_conv())
        print("fast res2 expansion 1x1 8 -> 32 + residual + ReLU:")
        print(f"  conv2d (the library)         {_median_ms(expand_conv, a.repeats):7.2f} ms")
        for name, fn in (("addmm", expand_addmm), ("addmm, residual as beta", expand_addmm_beta)):
            err = (fn() - ref).abs().max().item()
            print(f"  {name:28s} {_median_ms(fn, a.repeats):7.2f} ms  (max diff {err:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
