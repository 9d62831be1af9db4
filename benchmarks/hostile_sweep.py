#!/usr/bin/env python
"""The hostile-input sweep of issue 13: hundreds of damaged and crafted videos, one process each.

Each file goes through ``VideoReader(path)`` + ``test_transform(MODEL).load(path)`` (the
published 30-view protocol) in its own Python process with one torch thread. Pass: every file
reads into finite views of the right shape or raises ``VideoDecodeError`` containing the path;
nothing else is raised, no process takes over 20 s or exceeds 3 GB peak RSS.

    python benchmarks/hostile_sweep.py [--out /tmp/hostile_sweep] [--jobs 2] [--json]

Sources: the samples in tests/data/videos plus, when present, ../shared/videos. The files are
made by tests/hostile_files.py (damage kinds x sources, several random seeds, crafted inputs).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from hostile_files import DAMAGE, crafted, damaged_variants, samples  # noqa: E402

MODEL = "slowfast_r50_4x16x1"
LIMIT_S, LIMIT_KB = 20.0, 3 * 2**20

_CHILD = r"""
import json, sys, time
t0 = time.monotonic()
import torch
torch.set_num_threads(1)
import slowfast_zoo as sz
from slowfast_zoo.errors import VideoDecodeError
path = sys.argv[1]
t1 = time.monotonic()
try:
    reader = sz.data.VideoReader(path)
    n = reader.num_frames
    views = sz.data.test_transform(sys.argv[2]).load(path)
    # View by view: torch.isfinite of the whole 755 MB tensor would itself allocate 1.2 GB.
    ok = tuple(views.shape) == (30, 3, 32, 256, 256) and all(bool(torch.isfinite(v).all()) for v in views)
    outcome = "views" if ok else "BAD VIEWS " + str(tuple(views.shape))
except VideoDecodeError as e:
    outcome = "error" if path in str(e) else "ERROR WITHOUT PATH: " + str(e)[:200]
except BaseException as e:
    outcome = "OTHER %s: %s" % (type(e).__name__, str(e)[:200])
# VmHWM: this process's own peak (ru_maxrss would carry the parent's over the exec).
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"outcome": outcome, "work_s": time.monotonic() - t1, "max_rss_kb": peak}))
"""


def build(out: Path) -> list[tuple[Path, str]]:
    sources = samples()
    shared = ROOT.parent / "shared" / "videos"
    if shared.is_dir():
        names = {p.name for p in sources}
        sources += sorted(p for p in shared.iterdir() if p.suffix != ".md" and p.name not in names)
    items = list(crafted(out / "crafted", big=True))
    for seed in range(3):  # the random kinds differ per seed; the others are rewritten identically
        kinds = DAMAGE if seed == 0 else ("random_bytes", "insert")
        items += [(p, f"damaged seed {seed}") for p in damaged_variants(sources, out / f"damaged{seed}", kinds, seed)]
    return items


def run_one(path: Path) -> dict:
    t = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), MODEL], capture_output=True,
                              text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return {"path": str(path), "outcome": "TIMEOUT", "wall_s": time.monotonic() - t}
    try:
        row = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        row = {"outcome": f"CRASH rc={proc.returncode}: {proc.stderr[-300:]}"}
    row.update(path=str(path), wall_s=time.monotonic() - t)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("/tmp/hostile_sweep"))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--json", action="store_true", help="print every row as JSON")
    a = p.parse_args(argv)
    items = build(a.out)
    with ThreadPoolExecutor(a.jobs) as pool:
        rows = list(pool.map(run_one, [path for path, _ in items]))
    bad = [r for r in rows if r["outcome"] not in ("views", "error")
           or r.get("work_s", 0) > LIMIT_S or r.get("max_rss_kb", 0) > LIMIT_KB]
    if a.json:
        for r in rows:
            print(json.dumps(r))
    views = sum(r["outcome"] == "views" for r in rows)
    errors = sum(r["outcome"] == "error" for r in rows)
    work = sorted(r.get("work_s", 0.0) for r in rows)
    rss = sorted(r.get("max_rss_kb", 0) for r in rows)
    print(f"{len(rows)} files: {views} read into views, {errors} raised VideoDecodeError with the path, "
          f"{len(bad)} failed the criteria")
    print(f"work time per file: median {work[len(work) // 2]:.2f} s, max {work[-1]:.2f} s (limit {LIMIT_S:g} s)")
    print(f"peak RSS per process: median {rss[len(rss) // 2] / 2**20:.2f} GB, max {rss[-1] / 2**20:.2f} GB "
          f"(limit 3 GB)")
    for r in bad:
        print("FAIL", r)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
