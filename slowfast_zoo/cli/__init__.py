"""The ``slowfast-zoo`` command line: a thin layer over the library.

Each subcommand lives in its own module with a ``register(subparsers)`` function; this file
only assembles them. Every subcommand checks all its options before any model is built or
weight downloaded. Errors raised on purpose by the library, argparse's errors and errors of
the operating system (a full disk, a permission) are printed as one line, exit 2, with control
characters escaped; ``-v`` adds the traceback and the whole message.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from slowfast_zoo._signals import exit_code, terminate_as_interrupt
from slowfast_zoo.errors import SlowFastZooError
from slowfast_zoo.tools.printing import OneLineArgumentParser, print_error, setup_logging

__all__ = ["main", "build_parser"]

# The library's argument names in messages -> the command line's options.
_CLI_WORDS = {"checkpoint_path=": "--weights "}
# Subcommand modules, in help order.
_COMMANDS = ("models", "predict", "detect", "features", "export", "benchmark", "eval", "finetune")


def build_parser() -> argparse.ArgumentParser:
    """The ``slowfast-zoo`` argument parser, one subcommand per module of this package.

    Example:
        >>> args = build_parser().parse_args(["eval", "--ann-file", "val.txt", "--limit", "10"])
        >>> args.command, args.ann_file, args.limit, args.resume
        ('eval', 'val.txt', 10, False)
    """
    parser = OneLineArgumentParser(prog="slowfast-zoo",
                                     description="SlowFast video models and action detectors: every public checkpoint, exact.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in _COMMANDS:
        importlib.import_module(f"slowfast_zoo.cli.{name}").register(sub)
    # Global options work after the subcommand too (slowfast-zoo eval ... -v); SUPPRESS keeps a
    # subcommand that did not get -v from resetting one given before it.
    for subparser in sub.choices.values():
        subparser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                               help="log progress details")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``slowfast-zoo`` console script."""
    args = build_parser().parse_args(argv)
    setup_logging(logging.INFO if args.verbose else logging.WARNING)
    try:
        with terminate_as_interrupt():
            return args.func(args)
    # OSError: the machine, not the library (a full disk, a folder made read-only meanwhile).
    except (SlowFastZooError, OSError) as err:
        # The library speaks Python (checkpoint_path=); the command line's option is --weights.
        return print_error("slowfast-zoo", err, verbose=args.verbose, words=_CLI_WORDS)
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: finished work was saved on the way out
        print("slowfast-zoo: interrupted", file=sys.stderr)
        return exit_code(err)


if __name__ == "__main__":
    sys.exit(main())
