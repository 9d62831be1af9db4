"""The ``slowfast-zoo`` command line: a thin layer over the library.

Each subcommand lives in its own module with a ``register(subparsers)`` function; this file
only assembles them. Errors raised on purpose by the library are printed as one line, exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from slowfast_zoo._signals import exit_code, terminate_as_interrupt
from slowfast_zoo.errors import SlowFastZooError

__all__ = ["main", "build_parser"]

# Subcommand modules, in help order.
_COMMANDS = ("models", "predict", "export", "benchmark", "eval")


def build_parser() -> argparse.ArgumentParser:
    """The ``slowfast-zoo`` argument parser, one subcommand per module of this package.

    Example:
        >>> args = build_parser().parse_args(["eval", "--ann-file", "val.txt", "--limit", "10"])
        >>> args.command, args.ann_file, args.limit, args.resume
        ('eval', 'val.txt', 10, False)
    """
    parser = argparse.ArgumentParser(prog="slowfast-zoo",
                                     description="MMAction2's Kinetics-400 SlowFast models, exact.")
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
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        with terminate_as_interrupt():
            return args.func(args)
    except SlowFastZooError as err:
        # The library speaks Python (checkpoint_path=); the command line's option is --weights.
        print(f"slowfast-zoo: error: {str(err).replace('checkpoint_path=', '--weights ')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: finished work was saved on the way out
        print("slowfast-zoo: interrupted", file=sys.stderr)
        return exit_code(err)


if __name__ == "__main__":
    sys.exit(main())
