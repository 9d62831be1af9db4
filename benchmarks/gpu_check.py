#!/usr/bin/env python
"""The CUDA path in one run (issue 15): parity, MMAction2's model-only benchmark, end-to-end eval, NCCL.

    bash benchmarks/gpu_check.sh                 # on a GPU machine: one table, under 4 minutes
    python benchmarks/gpu_check.py --small --device cpu   # a smoke run of every step, tiny sizes

Steps (each one timed; a failing step is reported in the table and the others still run):

1. **parity**: the golden weights of every architecture through ``prepare_model`` (BatchNorm
   folded, channels_last_3d) on the device, against MMAction2's float32 golden logits:
   fp32 must be within 1e-4; bf16 / fp16 autocast: max error and top-1 agreement
   (``benchmarks/precision_parity.py``).
2. **model**: ``slowfast-zoo benchmark --device cuda --dtype bf16 --views-per-batch 30``
   (MMAction2's benchmark method: one video of 30 random views per forward, warm-up excluded,
   video/s), and fp32 for comparison.
3. **eval**: end-to-end ``evaluate()`` throughput on generated videos (10 s of 340x256 H.264,
   the published 30-view protocol), videos/s with N DataLoader workers, the resize done in the
   workers (numpy/OpenCV) or on the device (torch ops), bf16.
4. **nccl**: a NCCL process group at world size 1 (all_reduce on the device, then one
   ``evaluate()`` inside the group).

Needs only torch, numpy and PyAV (torchvision is not imported). Prints one markdown table for
benchmarks/RESULTS.md and, with ``--json FILE``, every number.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import socket
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # golden files, weight generator, video factory
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

import slowfast_zoo as sz  # noqa: E402
from slowfast_zoo.tools.benchmark import machine_info  # noqa: E402


def _step(name: str, rows: list, fn, *args):
    start = time.perf_counter()
    try:
        out = fn(*args)
        rows.append({"step": name, "ok": True, "seconds": time.perf_counter() - start, **out})
    except Exception as exc:  # noqa: BLE001 - reported in the table, the next step still runs
        traceback.print_exc(file=sys.stderr)
        rows.append({"step": name, "ok": False, "seconds": time.perf_counter() - start,
                     "error": f"{type(exc).__name__}: {exc}"[:300]})
    print(f"[gpu_check] {name}: {'ok' if rows[-1]['ok'] else 'FAILED'} in {rows[-1]['seconds']:.1f} s",
          file=sys.stderr, flush=True)


def parity(device: torch.device, small: bool) -> dict:
    import precision_parity as pp
    from weightgen import ARCHS, generate_state_dict, golden_input, load_golden

    from slowfast_zoo.inference.engine import prepare_model, run_views
    from slowfast_zoo.weights.loader import convert_mmaction2_state_dict

    archs = ARCHS[:1] if small else ARCHS
    dtypes = ["fp32"] if small else ["fp32", "bf16", "fp16"]
    out = {}
    for arch in archs:  # one model per architecture, every dtype on it
        golden = load_golden(arch)
        model = sz.create_model(f"slowfast_{arch}").eval()
        model.load_state_dict(convert_mmaction2_state_dict(generate_state_dict(arch), model, source=arch))
        model = prepare_model(model, device=device)
        want = torch.tensor(golden["logits"])
        for d in dtypes:
            r = pp._compare(run_views(model, golden_input(golden), dtype=pp._DTYPES[d]), want)
            out[f"{arch} {d}"] = (r["max_abs_err"], r["top1_agreement"])
    fp32 = [v[0] for k, v in out.items() if k.endswith("fp32")]
    worst = {d: max(v[0] for k, v in out.items() if k.endswith(d)) for d in dtypes}
    top1 = {d: min(v[1] for k, v in out.items() if k.endswith(d)) for d in dtypes}
    if max(fp32) > 1e-4:
        raise AssertionError(f"fp32 parity: max abs error {max(fp32):.2e} > 1e-4 ({out})")
    return {"detail": out, "summary": f"{len(archs)} architectures; " + "; ".join(
        f"{d}: max abs err {worst[d]:.1e}, top-1 agreement {top1[d]:.2f}" for d in dtypes)}


def model_only(device: torch.device, small: bool, with_compile: bool = False) -> dict:
    from slowfast_zoo.tools.benchmark import BenchmarkConfig, benchmark

    res = {}
    dtypes = ["fp32"] if small or device.type == "cpu" else ["bf16", "fp32"]
    runs = [(d, False) for d in dtypes] + ([(dtypes[0], True)] if with_compile else [])
    for d, compiled in runs:
        cfg = BenchmarkConfig(model="slowfast_r50_4x16x1", device=str(device), dtype=d, views_per_batch=30,
                              videos=2 if small else 10, warmup=1 if small else 3,
                              size=64 if small else None, views=2 if small else None,
                              clip_len=8 if small else None, force=True, compile=compiled)
        r = benchmark(cfg)
        res[d + (" + torch.compile" if compiled else "")] = r
    summary = "; ".join(f"{d}: {r['video_per_s']:.2f} video/s, {r['attained_gflops'] / 1000:.1f} TFLOP/s = "
                        f"{r['percent_of_peak']:.0f} % of the in-run {r['matmul_peak_dtype']} matmul peak"
                        for d, r in res.items())
    keys = ("video_per_s", "mmaction2_method_video_per_s", "per_view_s", "attained_gflops", "matmul_peak_gflops",
            "percent_of_peak", "peak_memory_bytes")
    return {"summary": summary, "detail": {d: {k: r.get(k) for k in keys} for d, r in res.items()}}


def _make_one(args):
    from video_factory import make_video

    path, n, w, h = args
    make_video(path, n, w, h, fps=30, gop=None)
    return path


def make_videos(folder: Path, count: int, small: bool) -> Path:
    n, w, h = (24, 64, 48) if small else (300, 340, 256)
    jobs = [(str(folder / f"v{i:03d}.mp4"), n, w, h) for i in range(count)]
    with mp.get_context("fork").Pool(min(16, os.cpu_count() or 1)) as pool:
        pool.map(_make_one, jobs)
    ann = folder / "list.txt"
    ann.write_text("".join(f"v{i:03d}.mp4 {i % 400}\n" for i in range(count)))
    return ann


def _transform(small: bool):
    if small:
        return sz.data.TestTransform(clip_len=8, frame_interval=2, num_clips=2, resize_short_side=32,
                                     crop_size=32, num_crops=3)
    return sz.data.test_transform("slowfast_r50_4x16x1")


def end_to_end(device: torch.device, small: bool, folder: Path, ann: Path, workers: list[int]) -> dict:
    from slowfast_zoo.evaluation import evaluate

    dtype = torch.bfloat16 if device.type == "cuda" else None
    model = sz.inference.prepare_model(sz.create_model("slowfast_r50_4x16x1"), device=device)
    ds = sz.data.VideoDataset(ann, folder, _transform(small), on_error="raise")
    vpb = 30 if not small else 6
    # Warm-up (cuDNN autotuning, allocator) on two videos.
    evaluate(model, ds, device=device, dtype=dtype, views_per_batch=vpb, progress=False, prepare=False,
             indices=range(min(2, len(ds))))
    res = {}
    for w in workers:
        for on_device in (False, True):
            start = time.perf_counter()
            r = evaluate(model, ds, device=device, dtype=dtype, views_per_batch=vpb, progress=False,
                         prepare=False, num_workers=w, resize_on_device=on_device)
            seconds = time.perf_counter() - start
            assert r.num_evaluated == len(ds), r.failures
            res[f"{w} workers, resize on {'device' if on_device else 'workers'}"] = len(ds) / seconds
    return {"summary": "; ".join(f"{k}: {v:.2f} videos/s" for k, v in res.items()), "detail": res}


def nccl(device: torch.device, small: bool, folder: Path, ann: Path) -> dict:
    import torch.distributed as dist

    from slowfast_zoo.evaluation import evaluate

    backend = "nccl" if device.type == "cuda" else "gloo"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        x = torch.ones(4, device=device)
        dist.all_reduce(x)
        assert x.tolist() == [1.0] * 4
        model = sz.inference.prepare_model(sz.create_model("slowfast_r50_4x16x1"), device=device)
        ds = sz.data.VideoDataset(ann, folder, _transform(small), on_error="raise")
        r = evaluate(model, ds, device=device, progress=False, prepare=False, indices=range(2),
                     views_per_batch=30 if not small else 6)
        assert r.num_evaluated == 2
    finally:
        dist.destroy_process_group()
    return {"summary": f"{backend} world size 1: all_reduce and evaluate() ok"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--small", action="store_true", help="tiny sizes (a smoke run of every step)")
    p.add_argument("--videos", type=int, default=48, help="generated videos for the eval step")
    p.add_argument("--workers", type=int, nargs="+", default=[8, 16])
    p.add_argument("--steps", nargs="+", default=["parity", "model", "eval", "nccl"])
    p.add_argument("--with-compile", action="store_true",
                   help="also time the model under torch.compile (compiling takes minutes: rerun budget)")
    p.add_argument("--json", default=None, metavar="FILE")
    a = p.parse_args(argv)
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: CUDA is not available on this machine", file=sys.stderr)
        return 2
    rows: list[dict] = []
    machine = machine_info(device)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack():
        folder = Path(tmp)
        ann = None
        if "eval" in a.steps or "nccl" in a.steps:
            start = time.perf_counter()
            ann = make_videos(folder, 3 if a.small else a.videos, a.small)
            print(f"[gpu_check] {3 if a.small else a.videos} videos generated in {time.perf_counter() - start:.1f} s",
                  file=sys.stderr, flush=True)
        if "parity" in a.steps:
            _step("parity", rows, parity, device, a.small)
        if "model" in a.steps:
            _step("model", rows, model_only, device, a.small, a.with_compile)
        if "eval" in a.steps:
            _step("eval", rows, end_to_end, device, a.small, folder, ann, [0] if a.small else a.workers)
        if "nccl" in a.steps:
            _step("nccl", rows, nccl, device, a.small, folder, ann)
    gpu = machine.get("gpu") or machine.get("cpu")
    print(f"\n{gpu}; torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN "
          f"{torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None}, "
          f"{'small smoke run' if a.small else 'full run'}, {time.strftime('%Y-%m-%d')}\n")
    print("| step | result | time |\n|---|---|---|")
    for r in rows:
        text = r.get("summary", "") if r["ok"] else f"FAILED: {r['error']}"
        print(f"| {r['step']} | {text} | {r['seconds']:.0f} s |")
    if a.json:
        Path(a.json).write_text(json.dumps({"machine": machine, "rows": rows}, indent=2, default=str))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
