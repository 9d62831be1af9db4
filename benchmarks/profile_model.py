#!/usr/bin/env python
"""Where a forward pass of the default (folded, channels_last_3d) model spends its time.

    python benchmarks/profile_model.py [--model slowfast_r50_4x16x1] [--size 256] [--threads 2]

``torch.profiler`` over ``--forwards`` forwards of one 32xSxS view (after two untimed ones):
the share of each op in the self CPU time, then the convolutions by input and weight shape with
their attained GFLOP/s (2 FLOPs per multiply-add), the slowest first. The numbers quoted in
benchmarks/RESULTS.md ("Model alone against both peers") come from this script.
"""

from __future__ import annotations

import argparse
import math
import sys

import torch

try:
    import slowfast_zoo as sz
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    import slowfast_zoo as sz
from slowfast_zoo.inference.engine import prepare_model


def _conv_gflop(inp: list[int], weight: list[int], stride_hint: int) -> float:
    """FLOPs of a conv from its input and weight shapes; the output spatial size is the input's
    divided by ``stride_hint`` in height and width (the profiler does not record the stride)."""
    n, cout = inp[0], weight[0]
    # Strides are spatial only (height, width: the last two axes, also of the 2-D forms).
    spatial = list(inp[2:-2]) + [s // stride_hint for s in inp[-2:]]
    return 2.0 * n * cout * math.prod(spatial) * math.prod(weight[1:]) / 1e9


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="slowfast_r50_4x16x1")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--forwards", type=int, default=2)
    p.add_argument("--top", type=int, default=20)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    from torch.profiler import ProfilerActivity, profile

    model = prepare_model(sz.create_model(a.model), device="cpu")
    x = torch.randn(1, 3, model.pretrained_cfg.test.clip_len, a.size, a.size).contiguous(
        memory_format=torch.channels_last_3d)
    with torch.inference_mode():
        model(x)
        model(x)
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            for _ in range(a.forwards):
                model(x)
    ops = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in ops)
    print(f"{a.model}, 1 view of {tuple(x.shape[2:])}, {a.threads} threads, {a.forwards} forwards: "
          f"{total / 1e3 / a.forwards:.1f} ms self CPU per forward")
    for e in sorted(ops, key=lambda e: -e.self_cpu_time_total)[:12]:
        print(f"  {e.key:34s} {100 * e.self_cpu_time_total / total:5.1f} %  ({e.count // a.forwards} calls)")
    rows = []
    for e in prof.key_averages(group_by_input_shape=True):
        if e.key == "aten::mkldnn_convolution" and len(e.input_shapes) >= 2:
            inp, w = e.input_shapes[0], e.input_shapes[1]
            ms = e.self_cpu_time_total / 1e3 / a.forwards
            # Stems and the first conv of a strided stage halve H and W; the profile cannot
            # tell, so the GFLOP/s column assumes stride 2 for kernels of 7 (the stems), else 1.
            stride = 2 if w[-1] == 7 else 1
            gflop = _conv_gflop(inp, w, stride) * (e.count // a.forwards)
            rows.append((ms, e.count // a.forwards, inp, w, gflop / (ms / 1e3)))
    rows.sort(key=lambda r: -r[0])
    print(f"convolutions by shape (the {a.top} slowest per forward):")
    for ms, n, inp, w, rate in rows[:a.top]:
        print(f"  {ms:7.1f} ms  x{n}  in {inp}  w {w}  ~{rate:6.1f} GFLOP/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
