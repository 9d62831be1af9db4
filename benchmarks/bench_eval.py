#!/usr/bin/env python
"""``evaluate()`` over many short videos against the model alone on the same views (issue 15).

    python benchmarks/bench_eval.py [--videos 4] [--seconds 4] [--workers 0 1] [--threads 2]

Generated 340x256 30 fps H.264 videos of ``--seconds`` each, the published 30-view protocol of
r50 4x16x1 (random weights). Every mode runs in its own process, alternating over ``--repeats``:

* ``model``: ``run_views`` on every video's 30 views, built before the clock (channels_last_3d);
* ``eval@W``: ``evaluate(model, VideoDataset(...), num_workers=W)``: the whole job, streamed.

Prints videos/s, the eval/model throughput ratio of the same run (issue 15 target on CPU: >= 0.9)
and each process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

_CHILD = r"""
import json, sys, time
import torch
torch.set_num_threads(int(sys.argv[3]))
import slowfast_zoo as sz
from slowfast_zoo.evaluation import evaluate
from slowfast_zoo.inference import prepare_model, run_views
mode, folder = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
model = prepare_model(sz.create_model("slowfast_r50_4x16x1"), device="cpu")
tf = sz.data.test_transform("slowfast_r50_4x16x1")
ds = sz.data.VideoDataset(folder + "/list.txt", folder, tf, on_error="raise")
if mode == "model":
    views = [tf.load(ds.resolve(i)).contiguous(memory_format=torch.channels_last_3d) for i in range(len(ds))]
    t = time.perf_counter()
    for v in views:
        run_views(model, v)
else:
    workers = int(mode.split("@")[1])
    t = time.perf_counter()
    r = evaluate(model, ds, device="cpu", progress=False, prepare=False, num_workers=workers)
    assert r.num_evaluated == len(ds)
seconds = time.perf_counter() - t
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"mode": mode, "seconds": seconds, "videos": len(ds), "peak_rss_mb": peak / 1024}))
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", type=int, default=4)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1])
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    from video_factory import make_video

    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.videos):
            make_video(Path(tmp) / f"v{i}.mp4", int(30 * a.seconds), 340, 256, fps=30, gop=None)
        (Path(tmp) / "list.txt").write_text("".join(f"v{i}.mp4 {i}\n" for i in range(a.videos)))
        modes = ["model"] + [f"eval@{w}" for w in a.workers]
        rows: dict[str, list[dict]] = {m: [] for m in modes}
        for _ in range(a.repeats):
            for m in modes:
                out = subprocess.run([sys.executable, "-c", _CHILD, m, tmp, str(a.threads)],
                                     capture_output=True, text=True, check=True)
                rows[m].append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {m: statistics.median(r["seconds"] for r in rs) for m, rs in rows.items()}
    rss = {m: statistics.median(r["peak_rss_mb"] for r in rs) for m, rs in rows.items()}
    for m in modes:
        ratio = med["model"] / med[m]
        print(f"{m:8s} {a.videos / med[m]:.4f} videos/s  ({med[m]:.2f} s for {a.videos} videos)  "
              f"peak RSS {rss[m]:.0f} MB  throughput / model alone {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
