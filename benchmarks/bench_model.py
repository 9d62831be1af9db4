"""Thin wrapper around ``slowfast-zoo benchmark`` (same options), runnable from a checkout.

    python benchmarks/bench_model.py --model slowfast_r50_4x16x1 --threads 2 --videos 5 [--json]
    python benchmarks/bench_model.py --end-to-end video.mp4 --videos 3
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import slowfast_zoo  # noqa: F401
except ImportError:  # not installed: use the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slowfast_zoo.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", *sys.argv[1:]]))
