#!/usr/bin/env python
"""Fine-tune a SlowFast on class folders with the Python API (what ``slowfast-zoo finetune`` runs).

    python examples/finetune.py clips/ runs/mine --epochs 30    # clips/<class>/<video>.mp4
    python examples/finetune.py clips/ runs/mine --resume       # continue a stopped run

Every option of the recipe (``path label`` lists, frozen stages, linear probe, AMP, input
sizes, torchrun), each checked before any work, is on the command line::

    slowfast-zoo finetune --data-root clips/ --val-fraction 0.1 --out-dir runs/mine --epochs 30

Use the result: ``slowfast-zoo predict clip.mp4 --weights runs/mine/best.safetensors --num-classes K``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from slowfast_zoo.errors import SlowFastZooError
from slowfast_zoo.tools import (
    OneLineArgumentParser,
    exit_code,
    json_text,
    print_error,
    printable,
    setup_logging,
    terminate_as_interrupt,
)
from slowfast_zoo.training import FinetuneConfig, finetune


def main(argv: list[str] | None = None) -> int:
    p = OneLineArgumentParser(prog="finetune", description=__doc__.split("\n\n")[0])
    p.add_argument("data_root", help="class folders: DATA_ROOT/<class>/<video>")
    p.add_argument("out_dir", help="weights (best.safetensors, latest.safetensors), log.jsonl, training state")
    p.add_argument("--arch", default="slowfast_r50_4x16x1", help="published weights to start from")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--val-fraction", type=float, default=0.1, help="of each class's videos, for validation")
    p.add_argument("--resume", action="store_true", help="continue from OUT_DIR/training_state.pt")
    a = p.parse_args(argv)
    setup_logging(logging.INFO, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = FinetuneConfig(arch=a.arch, train_list=None, data_root=a.data_root, val_fraction=a.val_fraction,
                         out_dir=a.out_dir, epochs=a.epochs, val_every=1, resume=a.resume, progress=True)

    def show(line: dict[str, Any]) -> None:  # one log.jsonl object per finished epoch
        print(json_text(line), flush=True)  # a NaN loss is written null, not bare NaN

    try:
        with terminate_as_interrupt():  # SIGTERM like Ctrl-C: finished epochs are checkpointed
            summary = finetune(cfg, on_epoch=show)
    except (SlowFastZooError, OSError) as err:  # a bad folder or option: one line
        return print_error("finetune", err, words={"checkpoint_path=": "--weights "})
    except KeyboardInterrupt as err:
        print("finetune: interrupted; finished epochs are saved, continue with --resume", file=sys.stderr)
        return exit_code(err)
    if summary["best"] is not None:
        print(f"best: {printable(summary['best']['path'])} (epoch {summary['best']['epoch']})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
