"""Inference speed of a SlowFast model: MMAction2's "video/s" benchmark method, its quirk fixed, and more.

MMAction2's method (``tools/analysis/benchmark.py``, docs/SPEC.md section 8) times, per video, the
model-only 30-view forward of randomly initialised weights on batch 1 (input copy, forward,
softmax averaging, result copy), skips 5 warm-up videos and reports ``(200 - 5) / total time``.
Its quirk: the time of the last (200th) video is added to the total twice, so its video/s is
slightly low. Here the per-video times are kept, the last one counted once, and the median is
reported (video/s = 1 / median), with:

* per-view latency, attained GFLOP/s (from the weight's ``gflops``) and its share of this
  machine's matmul peak, measured in the same run (``n^3`` GEMM, float32 unless told);
* peak memory: the process's peak RSS (``VmHWM``, reset before timing where the kernel
  allows) on CPU, ``torch.cuda.max_memory_allocated`` on CUDA;
* an end-to-end mode from video files to class scores, split into decode / transform /
  model / averaging times.

Use :func:`benchmark` (library) or ``slowfast-zoo benchmark`` (command line).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from slowfast_zoo.errors import BenchmarkError
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.registry.records import PretrainedCfg
from slowfast_zoo.inference.device import (
    DTYPES,
    native_low_precision,
    peak_memory_bytes,
    reset_peak_memory,
    resolve_device,
)
from slowfast_zoo.inference.engine import (
    average_views,
    default_views_per_batch,
    prepare_model,
    run_views,
    video_scores,
)

__all__ = ["BenchmarkConfig", "benchmark", "matmul_peak_gflops", "peak_memory_bytes",
           "reset_peak_memory", "native_low_precision", "check_dtype", "format_report",
           "load_average", "MMACTION2_QUIRK_NOTE", "SEED_QUIRK_NOTE"]

MMACTION2_QUIRK_NOTE = ("MMAction2's benchmark method, one quirk fixed: its tools/analysis/benchmark.py "
                        "adds the last video's time to the total twice; here each timed video counts "
                        "once and the median is reported")
SEED_QUIRK_NOTE = MMACTION2_QUIRK_NOTE  # the 0.2 name



@dataclass
class BenchmarkConfig:
    """What to measure. ``None`` fields take the weight's / device's defaults."""

    model: str = "slowfast_r50_4x16x1"
    device: str | None = None
    dtype: str = "fp32"
    channels_last: bool = True
    fuse: bool = True
    compile: bool = False
    views_per_batch: int | None = None
    threads: int | None = None
    videos: int = 5
    warmup: int = 1
    size: int | None = None          # input H = W (default: the weight's crop size, 256)
    views: int | None = None         # views per video (default: the weight's 30)
    clip_len: int | None = None      # frames per view (default: the weight's 32)
    end_to_end: Sequence[str] = field(default_factory=tuple)
    matmul_size: int = 2048
    force: bool = False


# ----------------------------------------------------------------------------- machine facts
def load_average() -> list[float] | None:
    """``/proc/loadavg``'s 1, 5 and 15 minute loads (None where unavailable)."""
    try:
        with open("/proc/loadavg") as f:
            return [float(v) for v in f.read().split()[:3]]
    except OSError:
        return None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def check_dtype(dtype: str, device: torch.device, force: bool = False) -> torch.dtype:
    """The torch dtype for ``dtype``; refuses emulated bf16/fp16 on CPU unless ``force``.

    Raises:
        BenchmarkError: an unknown name, or bf16/fp16 on a CPU without native support.

    Example:
        >>> check_dtype("fp32", torch.device("cpu"))
        torch.float32
    """
    if dtype not in DTYPES:
        raise BenchmarkError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    if device.type == "cpu" and dtype != "fp32" and not native_low_precision(dtype) and not force:
        raise BenchmarkError(
            f"{dtype} on this CPU has no native support (no AVX-512 {dtype.upper()}/AMX): "
            f"PyTorch emulates it, about 1 GFLOP/s per matmul, and a whole SlowFast ran ~41x "
            f"slower than fp32 on the reference 2-core AVX2 machine. Use --dtype fp32, or "
            f"--force to measure it anyway.")
    return DTYPES[dtype] or torch.float32


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_gflops(device: torch.device, dtype: torch.dtype = torch.float32, n: int = 2048,
                       repeats: int = 5) -> float:
    """Best attained GFLOP/s of an ``n x n @ n x n`` matmul (2 FLOPs per multiply-add)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    torch.mm(a, b, out=out)  # warm-up
    _sync(device)
    best = float("inf")
    inner = 1 if device.type == "cpu" else 20
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(inner):
            torch.mm(a, b, out=out)
        _sync(device)
        best = min(best, (time.perf_counter() - t) / inner)
    return 2.0 * n**3 / best / 1e9


def machine_info(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu": _cpu_name(), "logical_cpus": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "torch": torch.__version__,
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


# ------------------------------------------------------------------------------- the model
def _build_model(cfg: BenchmarkConfig, device: torch.device) -> SlowFast:
    from slowfast_zoo.factory import create_model

    model = create_model(cfg.model)  # random weights, as MMAction2's benchmark (pretrained=None)
    model = prepare_model(model, device=device, fuse=cfg.fuse, channels_last=cfg.channels_last)
    if cfg.compile:
        # run_views calls forward_features / forward_head: compile the backbone in place.
        model.forward_features = torch.compile(model.forward_features)  # type: ignore[method-assign]
    return model


def _median(xs: Sequence[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _time_video(model: SlowFast, views: torch.Tensor, device: torch.device, views_per_batch: int,
                dtype: torch.dtype | None) -> tuple[float, torch.Tensor]:
    """One video timed as MMAction2's benchmark does: copy in, all views, softmax average, copy out."""
    _sync(device)
    t = time.perf_counter()
    scores = video_scores(model, views, views_per_batch=views_per_batch, dtype=dtype)
    _sync(device)
    return time.perf_counter() - t, scores


def _end_to_end(model: SlowFast, cfg: BenchmarkConfig, paths: Sequence[str], device: torch.device, vpb: int,
                dtype: torch.dtype | None, pcfg: PretrainedCfg, size: int, num_views: int,
                clip_len: int) -> dict[str, Any]:
    from slowfast_zoo.data.decode import VideoReader
    from slowfast_zoo.data.presets import TestTransform

    t_ = pcfg.test
    crops = t_.num_crops if num_views % t_.num_crops == 0 else 1
    tf = TestTransform(clip_len=clip_len, frame_interval=t_.frame_interval,
                       num_clips=num_views // crops, resize_short_side=size, crop_size=size,
                       num_crops=crops, mean=pcfg.mean, std=pcfg.std, sampling_rule=t_.sampling_rule)
    rows: list[dict[str, Any]] = []
    order = list(paths) * max(1, -(-(cfg.warmup + cfg.videos) // len(paths)))
    order = order[: max(len(paths), cfg.warmup + cfg.videos)]
    for i, path in enumerate(order):
        t0 = time.perf_counter()
        reader = VideoReader(path)
        frames, inverse = tf.read_frames(reader, tf.sample(reader.num_frames))
        t1 = time.perf_counter()
        views = tf.apply_unique(frames, inverse)
        t2 = time.perf_counter()
        _sync(device)
        logits = run_views(model, views, views_per_batch=vpb, dtype=dtype)
        assert isinstance(logits, torch.Tensor)  # logits, not maps (return_maps=False)
        _sync(device)
        t3 = time.perf_counter()
        scores = average_views(logits[None])[0]
        t4 = time.perf_counter()
        if i >= cfg.warmup or len(order) <= cfg.warmup:
            rows.append({"path": os.fspath(path), "decode_s": t1 - t0, "transform_s": t2 - t1,
                         "model_s": t3 - t2, "average_s": t4 - t3, "total_s": t4 - t0,
                         "distinct_frames": int(len(frames)), "top1": int(scores.argmax())})
    med = {k: _median([r[k] for r in rows]) for k in ("decode_s", "transform_s", "model_s",
                                                      "average_s", "total_s")}
    total = med["total_s"] or float("nan")
    data = (med["decode_s"] or 0.0) + (med["transform_s"] or 0.0)
    return {"transform": repr(tf), "views_per_video": tf.num_views, "timed_videos": len(rows),
            "median": med, "data_share_of_total": data / total,
            "video_per_s": 1.0 / total, "videos": rows}


def benchmark(cfg: BenchmarkConfig) -> dict[str, Any]:
    """Run the measurement described by ``cfg``; returns a JSON-serialisable dict."""
    from slowfast_zoo.registry import get_pretrained_cfg

    device = resolve_device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BenchmarkError("--device cuda requested but CUDA is not available")
    tdtype = check_dtype(cfg.dtype, device, cfg.force)
    if cfg.videos < 1 or cfg.warmup < 0:
        raise BenchmarkError("need --videos >= 1 and --warmup >= 0")
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    pcfg = get_pretrained_cfg(cfg.model)
    size = cfg.size or pcfg.test.crop_size
    num_views = cfg.views or pcfg.test.num_views
    clip_len = cfg.clip_len or pcfg.test.clip_len
    vpb = cfg.views_per_batch or default_views_per_batch(device, (clip_len, size, size))
    load_before = load_average()

    peak_dtype = torch.float32 if device.type == "cpu" else tdtype
    peak = matmul_peak_gflops(device, peak_dtype, n=cfg.matmul_size)
    model = _build_model(cfg, device)
    gflops_view = pcfg.gflops * (size / 256.0) ** 2 * (clip_len / 32.0)

    torch.manual_seed(0)
    views = torch.randn(num_views, 3, clip_len, size, size)
    if device.type == "cuda":
        views = views.pin_memory()
    times: list[float] = []
    reset_ok = False
    for i in range(cfg.warmup + cfg.videos):
        if i == cfg.warmup:
            reset_ok = reset_peak_memory(device)
        dt, _ = _time_video(model, views, device, vpb, tdtype)
        if i >= cfg.warmup:
            times.append(dt)
    mem, mem_kind = peak_memory_bytes(device)
    med = statistics.median(times)
    per_view = med / num_views
    attained = gflops_view / per_view
    result: dict[str, Any] = {
        "model": cfg.model, "architecture": pcfg.architecture,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(device), "device": str(device), "dtype": cfg.dtype,
        "threads": torch.get_num_threads(), "channels_last": cfg.channels_last,
        "fuse": cfg.fuse,
        "compile": cfg.compile, "views_per_batch": vpb, "views_per_video": num_views,
        "input_shape": [num_views, 3, clip_len, size, size], "warmup_videos": cfg.warmup,
        "timed_videos": len(times), "video_times_s": times,
        "median_video_s": med, "mean_video_s": statistics.fmean(times),
        "min_video_s": min(times), "max_video_s": max(times),
        "video_per_s": 1.0 / med, "mmaction2_method_video_per_s": len(times) / sum(times),
        "per_view_s": per_view, "gflops_per_view": gflops_view,
        "attained_gflops": attained, "matmul_peak_gflops": peak,
        "matmul_peak_dtype": str(peak_dtype).replace("torch.", ""),
        "matmul_size": cfg.matmul_size, "percent_of_peak": 100.0 * attained / peak,
        "peak_memory_bytes": mem, "peak_memory_kind": mem_kind,
        "peak_memory_reset": reset_ok,
        "note": MMACTION2_QUIRK_NOTE, "end_to_end": None,
        "loadavg_before": load_before,
    }
    if cfg.end_to_end:
        del views  # the model-only input must not count in the end-to-end peak
        import gc

        gc.collect()
        reset_peak_memory(device)
        e2e = _end_to_end(model, cfg, cfg.end_to_end, device, vpb, tdtype, pcfg, size, num_views,
                          clip_len)
        e2e["peak_memory_bytes"], e2e["peak_memory_kind"] = peak_memory_bytes(device)
        result["end_to_end"] = e2e
    result["loadavg_after"] = load_average()
    return result


# ---------------------------------------------------------------------------------- output
def _mb(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:,.0f} MiB"


def format_report(r: dict[str, Any]) -> str:
    """A readable table of a :func:`benchmark` result."""
    m = r["machine"]
    hw = m.get("gpu") or m["cpu"]
    rows = [
        ("model", f"{r['model']} (random weights)"),
        ("device", f"{r['device']} - {hw}, {r['threads']} threads, torch {m['torch']}"),
        ("settings", f"dtype {r['dtype']}, fuse {r['fuse']}, "
                     f"channels_last {r['channels_last']}, compile {r['compile']}, "
                     f"{r['views_per_batch']} views/batch"),
        ("input per video", "x".join(map(str, r["input_shape"]))),
        ("videos", f"{r['timed_videos']} timed after {r['warmup_videos']} warm-up"),
        ("video/s (1/median)", f"{r['video_per_s']:.4f}  (median {r['median_video_s']:.3f} s, "
                               f"min {r['min_video_s']:.3f}, max {r['max_video_s']:.3f})"),
        ("MMAction2-method video/s", f"{r['mmaction2_method_video_per_s']:.4f}  (n / total time, the last "
                                     "video counted once, not twice)"),
        ("per view", f"{r['per_view_s'] * 1000:.1f} ms"),
        ("GFLOP/s attained", f"{r['attained_gflops']:.1f} of {r['gflops_per_view']:.1f} GFLOP/view"),
        ("matmul peak", f"{r['matmul_peak_gflops']:.1f} GFLOP/s ({r['matmul_peak_dtype']} "
                        f"{r['matmul_size']}^3) -> {r['percent_of_peak']:.1f}% of peak"),
        ("peak memory", f"{_mb(r['peak_memory_bytes'])} ({r['peak_memory_kind']})"),
        ("load before/after", f"{r['loadavg_before']} / {r['loadavg_after']}"),
    ]
    e = r.get("end_to_end")
    if e:
        md = e["median"]
        rows += [
            ("end-to-end", f"{e['timed_videos']} video(s), {e['views_per_video']} views each: "
                           f"{e['video_per_s']:.4f} video/s (median {md['total_s']:.3f} s)"),
            ("  decode", f"{md['decode_s']:.3f} s"), ("  transform", f"{md['transform_s']:.3f} s"),
            ("  model", f"{md['model_s']:.3f} s"), ("  averaging", f"{md['average_s'] * 1000:.2f} ms"),
            ("  data share", f"{100 * e['data_share_of_total']:.1f}% of the total"),
            ("  peak memory", f"{_mb(e['peak_memory_bytes'])} ({e['peak_memory_kind']})"),
        ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines.append(f"note: {r['note']}")
    return "\n".join(lines)


def config_from_dict(d: dict[str, Any]) -> BenchmarkConfig:
    """A :class:`BenchmarkConfig` from keyword values (unknown keys are ignored).

    Example:
        >>> config_from_dict({"videos": 2, "dtype": "bf16", "unknown": 1})
        ... # doctest: +ELLIPSIS
        BenchmarkConfig(model='slowfast_r50_4x16x1', device=None, dtype='bf16', ..., videos=2, ...)
    """
    names = {f.name for f in dataclasses.fields(BenchmarkConfig)}
    return BenchmarkConfig(**{k: v for k, v in d.items() if k in names})
