#!/usr/bin/env python
"""The hostile-input sweep (issues 13 and 22): hundreds of damaged and crafted inputs, one process each.

Four kinds of input, each through the library's real entry point in its own Python process with
one torch thread:

* ``video``: damaged and crafted videos through ``VideoReader(path)`` + ``test_transform(MODEL)
  .load(path)`` (the published 30-view protocol). Pass: finite views of the right shape, or a
  ``VideoDecodeError`` naming the path.
* ``rawframes``: a rawframe folder whose second frame is hostile (``tests/hostile_files.py``
  ``HOSTILE_FRAMES``: a 16000x16000 PNG, a link to ``/dev/zero``, a FIFO, ...) through
  ``RawframeReader(folder).read([1, 2, 3])``. Pass: ``VideoDecodeError`` naming the frame.
* ``pickle``: pickle bombs (``tests/hostile_pickles.py``) through ``create_model(MODEL,
  pretrained=True, checkpoint_path=path)``. Pass: ``CheckpointError`` naming the file.
* ``config``: saved models whose ``config.json`` holds a hostile value (``tests/hostile_models.py``)
  through ``create_model("local-dir:...")``. Pass: ``ConfigError``.

Every process must also end within 20 s of work and under 3 GB peak RSS; anything else raised, a
hostile input accepted, a hang or a crash is a failure.

    python benchmarks/hostile_sweep.py [--out /tmp/hostile_sweep] [--jobs 2] [--kinds video,pickle] [--json]

Video sources: the samples in tests/data/videos plus, when present, ../shared/videos.
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

from hostile_files import DAMAGE, HOSTILE_FRAMES, crafted, damaged_variants, hostile_frame, samples  # noqa: E402
from hostile_models import hostile_saved_models  # noqa: E402
from hostile_pickles import hostile_files as hostile_pickles  # noqa: E402

MODEL = "slowfast_r50_4x16x1"
LIMIT_S, LIMIT_KB = 20.0, 3 * 2**20
KINDS = ("video", "rawframes", "pickle", "config")

_CHILD = r"""
import json, sys, time
t0 = time.monotonic()
import torch
torch.set_num_threads(1)
import slowfast_zoo as sz
from slowfast_zoo.errors import CheckpointError, ConfigError, VideoDecodeError
kind, path, model = sys.argv[1:4]
if kind == "rawframes":
    from torchvision.io import decode_image  # the decoder's import is not the frame's work
t1 = time.monotonic()
expected = {"video": VideoDecodeError, "rawframes": VideoDecodeError, "pickle": CheckpointError,
            "config": ConfigError}[kind]
try:
    if kind == "video":
        reader = sz.data.VideoReader(path)
        n = reader.num_frames
        views = sz.data.test_transform(model).load(path)
        # View by view: torch.isfinite of the whole 755 MB tensor would itself allocate 1.2 GB.
        ok = tuple(views.shape) == (30, 3, 32, 256, 256) and all(bool(torch.isfinite(v).all()) for v in views)
        outcome = "views" if ok else "BAD VIEWS " + str(tuple(views.shape))
    elif kind == "rawframes":
        sz.data.RawframeReader(path).read([1, 2, 3])
        outcome = "ACCEPTED a hostile frame"
    elif kind == "pickle":
        sz.create_model(model, pretrained=True, checkpoint_path=path, progress=False)
        outcome = "ACCEPTED a hostile pickle"
    else:
        sz.create_model("local-dir:" + path)
        outcome = "ACCEPTED a hostile config"
except expected as e:
    named = path in str(e) or kind == "config"  # a ConfigError names the field (and the folder)
    outcome = "error" if named and chr(10) not in str(e) else "ERROR WITHOUT PATH OR ON SEVERAL LINES: " + str(e)[:200]
except BaseException as e:
    outcome = "OTHER %s: %s" % (type(e).__name__, str(e)[:200])
# VmHWM: this process's own peak (ru_maxrss would carry the parent's over the exec).
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"outcome": outcome, "work_s": time.monotonic() - t1, "max_rss_kb": peak}))
"""


def _videos(out: Path) -> list[tuple[str, Path, str]]:
    sources = samples()
    shared = ROOT.parent / "shared" / "videos"
    if shared.is_dir():
        names = {p.name for p in sources}
        sources += sorted(p for p in shared.iterdir() if p.suffix != ".md" and p.name not in names)
    items = [("video", p, what) for p, what in crafted(out / "crafted", big=True)]
    for seed in range(3):  # the random kinds differ per seed; the others are rewritten identically
        kinds = DAMAGE if seed == 0 else ("random_bytes", "insert")
        items += [("video", p, f"damaged seed {seed}")
                  for p in damaged_variants(sources, out / f"damaged{seed}", kinds, seed)]
    return items


def _rawframes(out: Path) -> list[tuple[str, Path, str]]:
    import shutil

    import torch
    from torchvision.io import encode_jpeg

    from slowfast_zoo.data.rawframes import MAX_FRAME_FILE_BYTES

    jpeg = encode_jpeg(torch.full((3, 32, 48), 128, dtype=torch.uint8)).numpy().tobytes()
    items = []
    for kind in sorted(HOSTILE_FRAMES):
        folder = out / "rawframes" / kind
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for i in (1, 3):
            (folder / f"img_{i:05d}.jpg").write_bytes(jpeg)
        hostile_frame(folder / "img_00002.jpg", kind, jpeg, MAX_FRAME_FILE_BYTES)
        items.append(("rawframes", folder, kind))
    return items


def _pickles(out: Path) -> list[tuple[str, Path, str]]:
    return [("pickle", p, kind) for kind, p in hostile_pickles(out / "pickles").items()]


def _configs(out: Path) -> list[tuple[str, Path, str]]:
    import shutil

    import slowfast_zoo as sz

    shutil.rmtree(out / "configs", ignore_errors=True)
    base = sz.save_pretrained(sz.create_model(MODEL, num_classes=3), out / "configs" / "base")
    return [("config", p, what) for p, what in hostile_saved_models(base, out / "configs")]


def build(out: Path, kinds: tuple[str, ...] = KINDS) -> list[tuple[str, Path, str]]:
    """Every input of the chosen kinds, as ``(kind, path, what)``."""
    makers = {"video": _videos, "rawframes": _rawframes, "pickle": _pickles, "config": _configs}
    return [item for kind in kinds for item in makers[kind](out)]


def run_one(item: tuple[str, Path, str]) -> dict:
    kind, path, what = item
    t = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, kind, str(path), MODEL], capture_output=True,
                              text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return {"kind": kind, "path": str(path), "what": what, "outcome": "TIMEOUT", "wall_s": time.monotonic() - t}
    try:
        row = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        row = {"outcome": f"CRASH rc={proc.returncode}: {proc.stderr[-300:]}"}
    row.update(kind=kind, path=str(path), what=what, wall_s=time.monotonic() - t)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("/tmp/hostile_sweep"))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    p.add_argument("--json", action="store_true", help="print every row as JSON")
    a = p.parse_args(argv)
    kinds = tuple(k for k in a.kinds.split(",") if k)
    if not kinds or set(kinds) - set(KINDS):
        p.error(f"--kinds must name some of {', '.join(KINDS)}")
    items = build(a.out, kinds)
    with ThreadPoolExecutor(a.jobs) as pool:
        rows = list(pool.map(run_one, items))
    bad = [r for r in rows if r["outcome"] not in ("views", "error")
           or r.get("work_s", 0) > LIMIT_S or r.get("max_rss_kb", 0) > LIMIT_KB]
    if a.json:
        for r in rows:
            print(json.dumps(r))
    for kind in kinds:
        mine = [r for r in rows if r["kind"] == kind]
        if not mine:
            continue
        work = sorted(r.get("work_s", 0.0) for r in mine)
        rss = sorted(r.get("max_rss_kb", 0) for r in mine)
        print(f"{kind}: {len(mine)} inputs, {sum(r['outcome'] == 'views' for r in mine)} read into views, "
              f"{sum(r['outcome'] == 'error' for r in mine)} refused with the expected typed error, "
              f"{sum(r in bad for r in mine)} failed the criteria; work per input median "
              f"{work[len(work) // 2]:.2f} s, max {work[-1]:.2f} s; peak RSS median "
              f"{rss[len(rss) // 2] / 2**20:.2f} GB, max {rss[-1] / 2**20:.2f} GB")
    untyped = sum(r["outcome"].startswith(("OTHER", "CRASH")) for r in rows)
    hangs = sum(r["outcome"] == "TIMEOUT" for r in rows)
    print(f"all: {len(rows)} inputs, {len(bad)} failed (untyped errors {untyped}, hangs {hangs}); "
          f"limits {LIMIT_S:g} s of work and 3 GB per process")
    for r in bad:
        print("FAIL", r)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
