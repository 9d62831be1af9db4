#!/usr/bin/env python
"""Write SlowFast clip embeddings for videos, one file per video: ``slowfast-zoo features``.

    python examples/extract_features.py videos/ --out feats/ --model slowfast_r50_4x16x1 --stride 32
    python examples/extract_features.py --list train.txt --out feats/ --format npy --resume
    torchrun --nproc_per_node 8 examples/extract_features.py videos/ --out feats/ --resume

This script is the command itself (same options, outputs and exit statuses; ``--help`` lists
them), kept for the paths people already use; it only adds the INFO lines of each rank (how many
videos it has, how many are left to do). The job is the library's
``slowfast_zoo.inference.feature_job.extract_folder`` (``FeatureJob``): call that from Python.

Each ``feats/<the video's path under its folder>.safetensors`` holds ``embeddings`` float32
``[num_clips, 2304]`` (MMAction2's weights: channels 0-255 the fast pathway, 256-2303 the slow
one), ``timestamps`` float64 ``[num_clips, 2]`` (clip start/end in seconds) and
``frame_indices`` int64 ``[num_clips, clip_len]``; ``--format npy`` writes ``<name>.npy`` (the
embeddings) and ``<name>.json`` (timestamps, frame indices, fps, the weight, the channel layout).
Files are written atomically; ``--resume`` skips videos whose outputs are complete. Nothing is
written outside ``--out``; a video that cannot be read is reported and skipped (exit 1). Every
option is checked before the model is built; a mistake is one ``slowfast-zoo: error:`` line,
exit 2 (``-v``: with the traceback).
"""

from __future__ import annotations

import logging
import sys

from slowfast_zoo.cli import main as slowfast_zoo
from slowfast_zoo.tools import setup_logging


def main(argv: list[str] | None = None) -> int:
    setup_logging(logging.INFO)  # each rank's "N videos, M to do" line
    return slowfast_zoo(["features", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
