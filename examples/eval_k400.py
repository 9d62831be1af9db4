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
The same command is available as ``slowfast-zoo eval``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from slowfast_zoo import SlowFastZooError
from slowfast_zoo.cli.eval import add_arguments, run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except SlowFastZooError as err:  # a bad file, name or download: one line, no traceback
        print(f"eval_k400: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
