"""The 2-D convolution path of ``models.layers.Conv3d`` against plain 3-D convolutions.

Three measurements, all on the library's default inference model (``prepare_model``: BatchNorm
folded, channels_last_3d), random weights:

* ``model``: the whole network, alternating (per round) the 2-D path and ``nn.Conv3d.forward``
  (everything else identical), median s per 32xSxS view and the ratio;
* ``layers``: single SlowFast conv shapes, channels_last_3d input, ``F.conv3d`` vs the 2-D path;
* ``profile``: torch.profiler's top operators of one forward with the default path.

    python benchmarks/bench_conv2d_path.py --threads 2 --batch 1 3 --rounds 3 [--layers] [--profile]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

try:
    import slowfast_zoo as sz
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import slowfast_zoo as sz
from slowfast_zoo.inference.engine import prepare_model
from slowfast_zoo.models import layers

CL = torch.channels_last_3d
# (N is the batch) C_in, C_out, T, H, W, kernel, stride: representative r50 4x16x1 convs at 256x256.
LAYERS = [
    (8, 8, 32, 64, 64, (1, 3, 3), (1, 1, 1)),      # fast res2 conv_b
    (8, 8, 32, 64, 64, (3, 1, 1), (1, 1, 1)),      # fast res2 conv_a
    (8, 32, 32, 64, 64, (1, 1, 1), (1, 1, 1)),     # fast res2 conv_c
    (16, 16, 32, 32, 32, (1, 3, 3), (1, 1, 1)),    # fast res3 conv_b
    (64, 64, 4, 64, 64, (1, 3, 3), (1, 1, 1)),     # slow res2 conv_b
    (64, 256, 4, 64, 64, (1, 1, 1), (1, 1, 1)),    # slow res2 conv_c
    (256, 64, 4, 64, 64, (1, 1, 1), (1, 1, 1)),    # slow res2 conv_a
    (8, 16, 32, 64, 64, (5, 1, 1), (8, 1, 1)),     # lateral
]


def _median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_model(arch: str, batch: int, size: int, rounds: int) -> None:
    model = prepare_model(sz.create_model(arch), device="cpu")
    x = torch.randn(batch, 3, 32, size, size).contiguous(memory_format=CL)
    fast = layers.Conv3d.forward
    variants = {"2-D path": fast, "3-D convs": nn.Conv3d.forward}
    times: dict[str, list[float]] = {k: [] for k in variants}
    try:
        with torch.inference_mode():
            layers.Conv3d.forward = nn.Conv3d.forward  # type: ignore[method-assign]
            ref = model(x)
            layers.Conv3d.forward = fast  # type: ignore[method-assign]
            diff = (model(x) - ref).abs().max().item()  # also the warm-up of both
            for _ in range(rounds):
                for name, forward in variants.items():
                    layers.Conv3d.forward = forward  # type: ignore[method-assign]
                    t = time.perf_counter()
                    model(x)
                    times[name].append((time.perf_counter() - t) / batch)
    finally:
        layers.Conv3d.forward = fast  # type: ignore[method-assign]
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{arch}, {batch} view(s)/forward, 32x{size}x{size}, {rounds} rounds, max |diff| {diff:.1e}")
    for name, per_view in med.items():
        print(f"  {name:10s} {per_view:.3f} s/view  {[round(t, 3) for t in times[name]]}")
    print(f"  2-D path speed-up: {med['3-D convs'] / med['2-D path']:.2f}x")


def bench_layers(batch: int, repeats: int) -> None:
    print(f"single convs, batch {batch}, channels_last_3d input: ms (GFLOP/s)")
    for cin, cout, t, h, w, k, s in LAYERS:
        conv = layers.Conv3d(cin, cout, k, s, tuple(kk // 2 for kk in k), bias=True).to(memory_format=CL)
        x = torch.randn(batch, cin, t, h, w).contiguous(memory_format=CL)
        with torch.inference_mode():
            y = conv(x)
            flops = 2 * y.numel() * cin * k[0] * k[1] * k[2]
            t3 = _median_time(lambda: nn.Conv3d.forward(conv, x), repeats)
            t2 = _median_time(lambda: conv(x), repeats)
        print(f"  {cin:3d}->{cout:<3d} {t:2d}x{h}x{w} k{k} s{s}: 3-D {t3 * 1e3:6.1f} ({flops / t3 / 1e9:4.0f})"
              f"  2-D {t2 * 1e3:6.1f} ({flops / t2 / 1e9:4.0f})  {t3 / t2:.2f}x")


def profile(arch: str, batch: int, size: int) -> None:
    model = prepare_model(sz.create_model(arch), device="cpu")
    x = torch.randn(batch, 3, 32, size, size).contiguous(memory_format=CL)
    with torch.inference_mode():
        model(x)
        with torch.profiler.profile() as prof:
            model(x)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="slowfast_r50_4x16x1")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 3], help="views per forward")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--layers", action="store_true", help="also time single conv shapes")
    p.add_argument("--profile", action="store_true", help="also profile one default forward")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    for batch in args.batch:
        bench_model(args.model, batch, args.size, args.rounds)
    if args.layers:
        for batch in args.batch:
            bench_layers(batch, repeats=7)
    if args.profile:
        profile(args.model, args.batch[0], args.size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
