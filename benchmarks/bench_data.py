"""Data-pipeline benchmark: file -> 320 test-mode frames -> [30, 3, 32, 256, 256] views.

Run by hand (not a test)::

    .venv/bin/python benchmarks/bench_data.py            # prints a table, updates RESULTS.md
    .venv/bin/python benchmarks/bench_data.py --runs 9 --no-write

Videos (encoded once, cached in ``benchmarks/.cache/``, which ignores itself in git): 10 s at
30 fps, H.264, 340x256 at 1 Mbit/s and 640x360 at 1.5 Mbit/s, one slice per frame
(``thread_type="FRAME"`` before encoding), moving texture, x264's default keyframe interval
(250) -- the realistic settings of BENCHMARKING.md. Plus a 60 s 340x256 video for the
sequential-vs-seek choice.

Variants, timed in alternation (A B C A B C ...) inside one process, medians reported:

* ``ours``: ``VideoReader(path)`` + ``num_frames`` + ``read(indices)`` (fresh reader per run;
  also with a reused ``out=`` buffer);
* ``(a) mmaction2-pyav``: MMAction2's ``PyAVInit``/``PyAVDecode`` (docs/SPEC.md 4.3): header frame
  count, decode every frame from the start through the last needed one, converting each to RGB
  (``frame.to_rgb().to_ndarray()``), pick ``frames[i % len(frames)]``;
* ``(b) decord``: ``decord.VideoReader(path, num_threads=0)``, ``len()``, ``get_batch`` on the
  sorted distinct indices, scattered back (skipped when decord is not installed);
* ``transform``: ``slowfast_zoo.data.test_transform("slowfast_r50_4x16x1")`` on ours' frames
  (skipped with a note when the module does not exist yet); totals add it to each decoder.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from video_factory import make_video  # noqa: E402

from slowfast_zoo.data.decode import VideoReader  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Data pipeline (bench_data.py)"

try:  # the peer (b); never a dependency of the library
    import decord  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the machine
    decord = None


def _transform():
    """The 30-view test transform if the other half of the issue is there (hook)."""
    try:
        from slowfast_zoo.data import test_transform  # type: ignore[attr-defined]
    except ImportError:
        try:
            from slowfast_zoo.data.presets import test_transform  # type: ignore[no-redef]
        except ImportError:
            return None
    return test_transform("slowfast_r50_4x16x1")


def test_indices(n: int) -> np.ndarray:
    """SampleFrames(32, 2, 10, test_mode=True) indices (docs/SPEC.md 4.2), start_index 0."""
    if n > 63:
        avg = (n - 64 + 1) / 10
        starts = [int(k * avg + avg / 2) for k in range(10)]
    else:
        starts = [0] * 10
    return np.array([(s + 2 * j) % n for s in starts for j in range(32)], dtype=np.int64)


def videos() -> dict[str, Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    ignore = CACHE / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")  # ignores the cache and itself
    specs = {
        "340x256 10s": ("h264_340x256_10s.mp4", 300, 340, 256, 1_000_000),
        "640x360 10s": ("h264_640x360_10s.mp4", 300, 640, 360, 1_500_000),
        "340x256 60s": ("h264_340x256_60s.mp4", 1800, 340, 256, 1_000_000),
    }
    out = {}
    for key, (name, frames, width, height, rate) in specs.items():
        path = CACHE / name
        if not path.exists():
            print(f"encoding {path.name} ...", flush=True)
            tmp = path.with_suffix(".tmp.mp4")
            make_video(tmp, frames, width, height, bit_rate=rate, one_slice_per_frame=True, gop=250)
            tmp.rename(path)
        out[key] = path
    return out


# ----------------------------------------------------------------------------- variants
def ours(path: Path, strategy: str = "auto") -> torch.Tensor:
    reader = VideoReader(path)
    return reader.read(test_indices(reader.num_frames), strategy=strategy)


def ours_reusing(path: Path, out: torch.Tensor) -> torch.Tensor:
    reader = VideoReader(path)
    return reader.read(test_indices(reader.num_frames), out=out)


def ours_clip(path: Path, strategy: str, start: int = 1400) -> torch.Tensor:
    """One training clip (32 frames, interval 2) late in the video."""
    reader = VideoReader(path)
    return reader.read(np.arange(start, start + 64, 2), strategy=strategy)


def mmaction2_pyav(path: Path) -> torch.Tensor:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        idx = test_indices(stream.frames)  # PyAVInit trusts the header
        frames = []
        last = int(idx.max())
        for i, frame in enumerate(container.decode(stream)):  # PyAV's default threading
            if i > last + 1:  # PyAVDecode's 'accurate' mode stops here
                break
            frames.append(frame.to_rgb().to_ndarray())
    return torch.from_numpy(np.stack([frames[i % len(frames)] for i in idx]))


def decord_batch(path: Path) -> torch.Tensor:
    vr = decord.VideoReader(str(path), num_threads=0)
    idx = test_indices(len(vr))
    unique, inverse = np.unique(idx, return_inverse=True)
    frames = vr.get_batch(unique.tolist()).asnumpy()
    return torch.from_numpy(np.take(frames, inverse, axis=0))


def count_packets(path: Path) -> int:
    return VideoReader(path).num_frames


def count_decode(path: Path) -> int:
    reader = VideoReader(path)
    reader._count_decoded()
    return reader.num_frames


def _time(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


CPU: dict[str, float] = {}  # median CPU seconds (all threads of this process) per variant


def bench(variants: dict[str, tuple], runs: int) -> dict[str, float]:
    """Median wall seconds per variant; median CPU seconds go to ``CPU`` (less sensitive to
    other processes sharing the cores than wall time)."""
    times: dict[str, list[float]] = {k: [] for k in variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(runs):  # alternate A B C A B C: drifts in machine load hit every variant
        for name, (fn, *args) in variants.items():
            c0 = time.process_time()
            elapsed, _ = _time(fn, *args)
            cpu[name].append(time.process_time() - c0)
            times[name].append(elapsed)
    CPU.update({k: statistics.median(v) for k, v in cpu.items()})
    return {k: statistics.median(v) for k, v in times.items()}


# ----------------------------------------------------------------------------- main
def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if ln.startswith("Model name")), "?")
    except OSError:
        model = platform.processor() or "?"
    return (f"{model}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"PyAV {av.__version__}, decord {getattr(decord, '__version__', 'absent')}, Python {platform.python_version()}")


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split(" ")[:3].__str__()
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per variant (median)")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()

    files = videos()
    tf = _transform()
    load_before = loadavg()
    lines: list[str] = []
    notes: list[str] = []
    for key in ("340x256 10s", "640x360 10s"):
        path = files[key]
        # Sanity: ours equals the reference semantics (frame k of a full decode) here.
        ref = mmaction2_pyav(path)
        assert torch.equal(ours(path), ref), "ours differs from a full sequential decode"
        if decord is not None:
            d = decord_batch(path)
            diff = (d.int() - ref.int()).abs().max().item()
            notes.append(f"{key}: decord's frames differ from PyAV's by at most {diff} (its own RGB conversion).")
        buffer = torch.empty_like(ref)
        variants = {
            "ours": (ours, path),
            "ours, reused out= buffer": (ours_reusing, path, buffer),
            "(a) mmaction2-pyav": (mmaction2_pyav, path),
        }
        if decord is not None:
            variants["(b) decord"] = (decord_batch, path)
        variants["count: packets"] = (count_packets, path)
        variants["count: decode all"] = (count_decode, path)
        med = bench(variants, args.runs)
        t_tf = None
        if tf is not None:
            idx = test_indices(300)
            frames = ours(path)
            out = torch.empty(tf.output_shape, dtype=torch.float32)
            t_tf = statistics.median(
                _time(lambda: tf(frames, indices=idx, out=out))[0] for _ in range(args.runs))
            assert tuple(out.shape) == (30, 3, 32, 256, 256)
        for name in variants:
            total = med[name] + t_tf if (t_tf is not None and not name.startswith("count")) else None
            speedup = med[name] / med["ours"]  # how many times faster ours is than this row
            total_speedup = total / (med["ours"] + t_tf) if total is not None else None
            lines.append(
                f"| {key} | {name} | {med[name] * 1e3:.0f} ms | {CPU[name] * 1e3:.0f} ms | "
                f"{'' if total is None else f'{total * 1e3:.0f} ms'} | "
                f"{'' if name.startswith('count') else f'{speedup:.2f}x'}"
                f"{'' if total_speedup is None else f' / {total_speedup:.2f}x'} |")
        if t_tf is not None:
            lines.append(f"| {key} | transform only (30 views, reused out buffer) | {t_tf * 1e3:.0f} ms | | | |")
        else:
            lines.append(f"| {key} | transform: slowfast_zoo.data.test_transform not available (hook) | | | | |")

    # The strategy choice, measured: sequential vs seek for the same request.
    long = files["340x256 60s"]
    short = files["340x256 10s"]
    strat = bench({
        "60s test-mode, sequential": (ours, long, "sequential"),
        "60s test-mode, seek": (ours, long, "seek"),
        "60s test-mode, auto": (ours, long, "auto"),
        "60s one clip at frame 1400, sequential": (ours_clip, long, "sequential"),
        "60s one clip at frame 1400, auto": (ours_clip, long, "auto"),
        "10s test-mode, sequential": (ours, short, "sequential"),
        "10s test-mode, seek": (ours, short, "seek"),
        "10s test-mode, auto": (ours, short, "auto"),
    }, args.runs)
    reader = VideoReader(long)
    reader.read(test_indices(reader.num_frames))
    chosen_long = reader._last_strategy
    reader = VideoReader(short)
    reader.read(test_indices(reader.num_frames))
    chosen_short = reader._last_strategy
    load_after = loadavg()

    table = [
        "| video | variant | decode, wall (median) | decode, CPU (all threads) | decode + transform, wall "
        "| ours is faster by (wall): decode / total |",
        "|---|---|---|---|---|---|",
        *lines,
    ]
    strat_table = ["| request | wall (median) | CPU (median) |", "|---|---|---|"] + [
        f"| {k} | {v * 1e3:.0f} ms | {CPU[k] * 1e3:.0f} ms |" for k, v in strat.items()]
    busy = max(float(load_before.strip("[]").split(",")[0].strip(" '")),
               float(load_after.strip("[]").split(",")[0].strip(" '")), 0.0)
    warning = (f"**Shared machine**: 1-minute load average up to {busy:.1f} on {os.cpu_count()} cores during "
               "this run (other processes). Wall times and ratios are noisy and understate threaded "
               "decoders (ours, decord) against single-threaded (a); CPU time is the steadier cost "
               "measure." if busy > 1.5 else "")
    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    cmd = "python " + " ".join([os.path.relpath(__file__, ROOT), *sys.argv[1:]])
    body = "\n".join([
        SECTION,
        "",
        f"Machine: {machine()}. Command: `{cmd}`. Date: {now}. {args.runs} runs per variant, "
        f"alternating, medians. /proc/loadavg before {load_before}, after {load_after}.",
        "",
        *([warning, ""] if warning else []),
        "Last column: (row's time / ours' time), measured in the same run, for decode alone and for",
        "decode + transform (the same transform added to every decoder's output). `decode` includes",
        "opening the file and counting frames. `count:` rows time the frame-count step alone.",
        "",
        *table,
        "",
        *notes,
        "",
        f"Strategy choice (auto picked `{chosen_long}` for the 60 s video, `{chosen_short}` for the 10 s one):",
        "",
        *strat_table,
        "",
    ])
    print(body)
    if not args.no_write:
        write_section(body)
        print(f"updated {RESULTS}")


def write_section(body: str) -> None:
    """Replace (or append) this script's section of RESULTS.md, leaving other sections alone."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        end = text.find("\n## ", start + len(SECTION))
        rest = "" if end < 0 else "\n" + text[end + 1:]
        text = text[:start] + body.rstrip("\n") + "\n" + rest
    RESULTS.write_text(text.rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
