#!/usr/bin/env python
"""Reproduce a row of the SlowFast Kinetics-400 table on your own copy of the data.

The counterpart of MMAction2's ``tools/test.py CONFIG CKPT --eval top_k_accuracy
mean_class_accuracy --average-clips prob --out result.json`` (MMAction2: Apache-2.0), without
MMAction2: the weight's name carries its test protocol (10 clips x 3 crops of 32x256x256).

One GPU (or CPU)::

    python examples/eval_k400.py --model slowfast_r50_4x16x1.k400_320p \\
        --ann-file data/kinetics400/kinetics400_val_list_rawframes.txt \\
        --data-root data/kinetics400/rawframes_val --data-format rawframes --out r50.json

Eight GPUs (same numbers; one shard of the videos per process)::

    torchrun --nproc_per_node 8 examples/eval_k400.py ...same options...

Interrupted? Run the same command with ``--resume``. ``--limit 100`` for a quick look.
Options that change the protocol (``--clip-len``, ``--short-side``, ``--crop-size``, ...) are
for small tests; they are recorded in the output and flagged next to the published number.
The same command is available as ``slowfast-zoo eval``; both are a thin layer over
:func:`slowfast_zoo.evaluation.run_evaluation`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from slowfast_zoo import SlowFastZooError
from slowfast_zoo.evaluation import EvalConfig, run_evaluation
from slowfast_zoo.tools import (
    OneLineArgumentParser,
    check_eval_config,
    eval_summary,
    exit_code,
    one_line,
    print_error,
    setup_logging,
)


def parse_args(argv: Sequence[str] | None = None) -> tuple[EvalConfig, bool]:
    """The :class:`EvalConfig` of the command line (its options are the config's fields), and -v."""
    p = OneLineArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="slowfast_r50_4x16x1", help="weight NAME[.TAG] (default: %(default)s)")
    p.add_argument("--weights", "--checkpoint", dest="weights", metavar="PATH",
                   help="local .pth / .safetensors file or URL (default: the published file)")
    p.add_argument("--ann-file", required=True, help="annotation list ('video_id num_frames label', ...)")
    p.add_argument("--data-root", help="folder the annotation paths are relative to")
    p.add_argument("--data-format", choices=("video", "rawframes"), default="video")
    p.add_argument("--filename-tmpl", help="rawframe file names (default: the weight's own)")
    p.add_argument("--start-index", type=int, help="first frame number (default: 1 rawframes, 0 videos)")
    p.add_argument("--label-map", metavar="FILE", help="class names, one per line (default: the weight's)")
    g = p.add_argument_group("test protocol overrides (default: the weight's published protocol)")
    g.add_argument("--num-clips", type=int)
    g.add_argument("--num-crops", type=int, choices=(1, 3))
    g.add_argument("--clip-len", type=int)
    g.add_argument("--frame-interval", type=int)
    g.add_argument("--short-side", type=int)
    g.add_argument("--crop-size", type=int)
    g.add_argument("--average-clips", choices=("prob", "score"))
    r = p.add_argument_group("run")
    r.add_argument("--out", metavar="RESULT.json", help="per-video scores and metrics (JSON, resumable)")
    r.add_argument("--resume", action="store_true", help="continue an interrupted --out")
    r.add_argument("--save-every", type=float, default=60.0, metavar="SECONDS",
                   help="seconds between rewrites of --out (default: %(default)s)")
    r.add_argument("--limit", type=int, metavar="N", help="only the first N videos")
    r.add_argument("--workers", type=int, help="decoding processes per rank (default: 4 GPU, 1 CPU)")
    r.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    r.add_argument("--amp", action="store_true", help="autocast: float16 on GPU, bfloat16 on CPU")
    r.add_argument("--views-per-batch", type=int, help="views per forward pass (default: 1 CPU, 10 GPU)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    a = vars(p.parse_args(argv))
    verbose, progress = a.pop("verbose"), not a.pop("no_progress")
    return EvalConfig(**a, progress=progress), verbose


def _notify(level: int, message: str) -> None:
    print(f"eval_k400: warning: {one_line(message)}" if level >= logging.WARNING else one_line(message),
          file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    config, verbose = parse_args(argv)
    setup_logging(logging.INFO if verbose else logging.WARNING)
    try:
        # Every option, before any weight is downloaded (an output folder, a missing GPU, ...).
        selected = check_eval_config(config)
        if selected == 0:  # an empty list or --limit 0: nothing to download weights for
            print_error("eval_k400", "nothing evaluated: no video selected (an empty --ann-file or --limit 0)")
            return 1
        report = run_evaluation(config, notify=_notify)
    except (SlowFastZooError, OSError) as err:  # a bad file, name or download: one line, no traceback
        return print_error("eval_k400", err, verbose=verbose)
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: finished videos are in --out
        return exit_code(err)
    if not report.is_main:  # other torchrun ranks: rank 0 prints
        return 0
    print(eval_summary(report))  # report.summary(), the skipped videos' paths and reasons escaped
    if report.nothing_evaluated or report.result.counts["selected"] == 0:
        print_error("eval_k400", "nothing evaluated: no video could be evaluated (see the skipped videos above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
