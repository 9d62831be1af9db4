"""One fine-tuning step (forward, backward, SGD) in the contiguous vs channels_last_3d layout.

Alternates the two layouts on the same model and batch (random weights and clips) and prints the
median seconds per step of each and their ratio. ``finetune`` trains channels_last on CPU by
default because of this measurement (benchmarks/RESULTS.md, "Fine-tuning step").

    python benchmarks/bench_train_step.py --batch 2 --size 112 --rounds 5 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

try:
    import slowfast_zoo as sz
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import slowfast_zoo as sz


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="slowfast_r50_4x16x1")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--size", type=int, default=112, help="crop H = W")
    p.add_argument("--clip-len", type=int, default=32)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = sz.create_model(args.model, num_classes=10).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(args.batch, 3, args.clip_len, args.size, args.size)
    y = torch.randint(0, 10, (args.batch,))

    def step(channels_last: bool) -> float:
        fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
        model.to(memory_format=fmt)
        xi = x.contiguous(memory_format=fmt)
        t = time.perf_counter()
        loss = F.cross_entropy(model(xi), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return time.perf_counter() - t

    times: dict[bool, list[float]] = {False: [], True: []}
    for layout in times:  # warm-up
        step(layout)
    for _ in range(args.rounds):
        for layout in times:
            times[layout].append(step(layout))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.model}, batch {args.batch}, {args.clip_len}x{args.size}x{args.size}, "
          f"{torch.get_num_threads()} threads, {args.rounds} rounds")
    for layout, name in ((False, "contiguous"), (True, "channels_last_3d")):
        print(f"  {name:17} {med[layout]:.3f} s/step  {[round(t, 3) for t in times[layout]]}")
    print(f"  channels_last speed-up: {med[False] / med[True]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
