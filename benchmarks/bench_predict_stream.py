#!/usr/bin/env python
"""``predict`` end to end, streamed views against the materialised path and the model alone.

    python benchmarks/bench_predict_stream.py [--repeats 2] [--threads 2]

Each measurement runs in its own process (peak RSS = that process's VmHWM, torch included):

* ``model``: ``prepare_model`` + ``run_views`` on the video's 30 views of 3x32x256x256, built
  before the clock starts, in channels_last_3d (the model alone);
* ``materialised``: ``video_scores(model, test_transform(...).load(video))`` (all 30 float views
  built first, the 0.2 path);
* ``streamed``: ``predict_scores(model, video)`` (uint8 distinct frames, a chunk of float views at a time);
* ``overlapped``: the same with the next chunk built in a background thread (``overlap=True``).

Each mode runs at every ``--views-per-batch`` (default 1 and 3).

The video: 10 s of 340x256 at 30 fps (300 frames, H.264), the issue's example. Weights are
random (speed and memory do not depend on them). Prints medians and the streamed/model and
streamed/materialised ratios of the same run.
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
from slowfast_zoo.inference import prepare_model, run_views
from slowfast_zoo.inference.engine import video_scores
from slowfast_zoo.inference.predict import predict_scores
from slowfast_zoo.inference.engine import streamed_scores
mode, video = sys.argv[1], sys.argv[2]
kind, vpb = mode.split("@")
vpb = int(vpb)
torch.manual_seed(0)
model = prepare_model(sz.create_model("slowfast_r50_4x16x1"), device="cpu")
t = time.perf_counter()
if kind == "model":
    # The same 30 views of the same video, ready in the model's layout (random views run at
    # another speed: the values matter on this CPU, measured 18.7 s against 16.2 s).
    views = sz.data.test_transform("slowfast_r50_4x16x1").load(video)
    views = views.contiguous(memory_format=torch.channels_last_3d)
    t = time.perf_counter()
    run_views(model, views, views_per_batch=vpb)
elif kind == "materialised":
    video_scores(model, sz.data.test_transform("slowfast_r50_4x16x1").load(video), views_per_batch=vpb)
elif kind == "overlapped":
    tf = sz.data.test_transform("slowfast_r50_4x16x1")
    reader = sz.data.VideoReader(video)
    streamed_scores(model, tf, reader, tf.sample(reader.num_frames), views_per_batch=vpb, overlap=True)
else:
    predict_scores(model, video, views_per_batch=vpb)
seconds = time.perf_counter() - t
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"mode": mode, "seconds": seconds, "peak_rss_mb": peak / 1024}))
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--views-per-batch", type=int, nargs="+", default=[1, 3])
    p.add_argument("--modes", nargs="+", default=["model", "materialised", "streamed", "overlapped"],
                   help="model: run_views alone; materialised: all 30 views first; streamed: "
                        "predict_scores; overlapped: streamed with the next chunk built in a thread")
    a = p.parse_args(argv)
    from video_factory import make_video

    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(Path(tmp) / "ten_seconds.mp4", 300, 340, 256, fps=30, gop=None)
        modes = [f"{k}@{v}" for v in a.views_per_batch for k in a.modes]
        rows: dict[str, list[dict]] = {m: [] for m in modes}
        for _ in range(a.repeats):
            for mode in rows:  # alternating, so drift hits all three alike
                out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(video), str(a.threads)],
                                     capture_output=True, text=True, check=True)
                rows[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {m: statistics.median(r["seconds"] for r in rs) for m, rs in rows.items()}
    rss = {m: statistics.median(r["peak_rss_mb"] for r in rs) for m, rs in rows.items()}
    for m in rows:
        kind, vpb = m.split("@")
        ref = f"model@{vpb}"
        extra = f"   {med[m] - med[ref]:+6.2f} s vs {ref}" if ref in med and m != ref else ""
        print(f"{m:16s} median {med[m]:7.2f} s   peak RSS {rss[m]:7.0f} MB   ({a.repeats} runs){extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
