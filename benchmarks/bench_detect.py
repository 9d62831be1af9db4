"""``slowfast-zoo detect`` speed: seconds per keyframe, and the model part against the matmul peak.

    python benchmarks/bench_detect.py [--keyframes 4] [--runs 3] [--threads 2]

Measured in one process, alternating (A B A B):

* **detect**: :func:`slowfast_zoo.detect` on a generated 640x360, 30 fps video (moving texture,
  one slice per frame, ~1.5 Mbit/s as ../shared/BENCHMARKING.md asks), r50 4x16x1 AVA detector,
  two given person boxes per keyframe (no person detector: its cost is torchvision's), end to end:
  decode, resize to 455x256, normalize, model on the fast path; seconds per keyframe.
* **model (ours)**: the detector's forward alone on the same clip ``[1, 3, 32, 256, 455]`` and boxes,
  fast path (folded BatchNorm, channels_last, 2-D convs); GFLOP/s from torch's FLOP counter (2 per
  multiply-add) and % of the fp32 matmul peak measured in the same run.
* **peer**: PyTorchVideo 0.1.5's own ``slowfast_r50_detection`` (``create_slowfast_with_roi_head``,
  the 8x8 network, res5 dilated) on the same clip and boxes, and our ``ptv_slowfast_r50_detection``
  beside it: same network, same input, so their ratio is ours vs the peer's implementation.
  PyTorchVideo is a benchmark peer only (``pip install pytorchvideo==0.1.5``), never a dependency.

Timing is never asserted in tests; results go to benchmarks/RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from video_factory import make_video  # noqa: E402

import slowfast_zoo as sz  # noqa: E402
from slowfast_zoo.data.ava import keyframe_clip  # noqa: E402
from slowfast_zoo.data.decode import VideoReader  # noqa: E402
from slowfast_zoo.inference.detect import detection_protocol  # noqa: E402
from slowfast_zoo.inference.engine import prepare_model  # noqa: E402
from slowfast_zoo.tools.benchmark import load_average, matmul_peak_gflops  # noqa: E402


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def flops(model: torch.nn.Module, *args) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(*args)
    return float(counter.get_total_flops())


def ptv_peer():
    import torchvision.transforms._functional_tensor as ft

    sys.modules.setdefault("torchvision.transforms.functional_tensor", ft)
    from pytorchvideo.models.hub.slowfast import slowfast_r50_detection

    return slowfast_r50_detection(pretrained=False).eval()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keyframes", type=int, default=4)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    work = Path(tempfile.mkdtemp(prefix="bench_detect_"))
    seconds = args.keyframes + 2
    video = make_video(work / "people.mp4", 30 * seconds, 640, 360, fps=30, one_slice_per_frame=True,
                       bit_rate=1_500_000)
    model = sz.create_model("slowfast_r50_4x16x1_ava").eval()
    boxes = {float(t): [[100.0, 40.0, 260.0, 350.0], [380.0, 60.0, 560.0, 355.0]]
             for t in range(1, args.keyframes + 1)}
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} threads, load before {load_average()}", flush=True)
    peak = matmul_peak_gflops(torch.device("cpu"))
    # The model part on the clip detect builds.
    protocol = detection_protocol(model)
    clip = keyframe_clip(VideoReader(video), 1.0, fps=30.0, protocol=protocol)
    rois = torch.cat([torch.zeros(2, 1), clip.scale_boxes(torch.tensor(boxes[1.0]))], dim=1)
    x = clip.inputs.contiguous(memory_format=torch.channels_last_3d)
    fast = prepare_model(model, device="cpu")
    ptv_ours = prepare_model(sz.create_model("ptv_slowfast_r50_detection").eval(), device="cpu")
    slow_idx = torch.linspace(0, x.shape[2] - 1, x.shape[2] // 4).long()
    try:
        peer = ptv_peer()
    except ImportError as e:
        peer = None
        print(f"# PyTorchVideo not installed ({e}): no peer")
    gflop = flops(fast, x, rois) / 1e9
    gflop_ptv = flops(ptv_ours, x, rois) / 1e9

    def run_detect() -> None:
        sz.detect(model, video, boxes=boxes, detector="none", device="cpu")

    def run_model() -> None:
        with torch.no_grad():
            fast(x, rois)

    def run_ptv_ours() -> None:
        with torch.no_grad():
            ptv_ours(x, rois)

    def run_peer() -> None:
        with torch.no_grad():
            peer([torch.index_select(clip.inputs, 2, slow_idx), clip.inputs], rois)  # type: ignore[misc]

    run_model(), run_ptv_ours()  # warm-up
    if peer is not None:
        run_peer()
    times: dict[str, list[float]] = {"detect": [], "model": [], "ptv_ours": [], "ptv_peer": []}
    for _ in range(args.runs):
        times["detect"].append(timed(run_detect) / args.keyframes)
        times["model"].append(timed(run_model))
        times["ptv_ours"].append(timed(run_ptv_ours))
        if peer is not None:
            times["ptv_peer"].append(timed(run_peer))
    med = {k: statistics.median(v) for k, v in times.items() if v}
    print(f"matmul peak (in-run): {peak:.1f} GFLOP/s; load after {load_average()}")
    print(f"detect (r50 4x16x1 AVA, 640x360 video, 2 boxes): {med['detect']:.2f} s per keyframe")
    print(f"model part (ours, fast path): {med['model']:.2f} s, {gflop:.1f} GFLOP -> "
          f"{gflop / med['model']:.1f} GFLOP/s = {100 * gflop / med['model'] / peak:.0f}% of peak; "
          f"{100 * med['model'] / med['detect']:.0f}% of detect's time")
    line = (f"ptv_slowfast_r50_detection (ours, fast path): {med['ptv_ours']:.2f} s, {gflop_ptv:.1f} GFLOP -> "
            f"{100 * gflop_ptv / med['ptv_ours'] / peak:.0f}% of peak")
    if "ptv_peer" in med:
        line += (f"; PyTorchVideo 0.1.5 slowfast_r50_detection: {med['ptv_peer']:.2f} s "
                 f"(ours {med['ptv_peer'] / med['ptv_ours']:.2f}x faster)")
    print(line)
    print("raw:", {k: [round(t, 3) for t in v] for k, v in times.items()})
    os.remove(video)


if __name__ == "__main__":
    main()
