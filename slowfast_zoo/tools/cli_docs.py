"""docs/CLI.md, generated from the command line's own parsers: ``python -m slowfast_zoo.tools.cli_docs [--check]``.

Every subcommand of :func:`slowfast_zoo.cli.build_parser`, in help order, with its description
and one table row per option (flags, value, default, help text as the parser holds it); nothing
is typed twice, so the reference cannot drift from ``--help``. ``--check`` exits with 1 when the
file differs (tests/test_tools_cli_docs.py runs it).

Example:
    >>> from slowfast_zoo.tools.cli_docs import render
    >>> text = render()
    >>> text.startswith("# Command line reference") and "## slowfast-zoo predict" in text
    True
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from slowfast_zoo.tools.cards import generated_file_main

__all__ = ["render", "main"]

_HEADER = """# Command line reference

Generated from the parsers by `python -m slowfast_zoo.tools.cli_docs` (tests/test_tools_cli_docs.py
fails when this file and `slowfast-zoo SUBCOMMAND --help` disagree). Every subcommand checks all its
options before any weight is loaded or downloaded; a mistake is one `slowfast-zoo: error:` line on
stderr with exit status 2 (`-v` adds the details), progress bars draw on stderr only on a terminal.
Times are seconds; sizes pixels; probabilities and accuracies in `--json` and result files are
fractions (0-1).

Global options (before or after the subcommand): `-v`, `--verbose`: log progress details and show
the full error.
"""


def _cell(text: str) -> str:
    """Table-safe text: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _value(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.choices is not None:
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    return str(action.metavar or action.dest.upper())


def _default(action: argparse.Action) -> str:
    if action.nargs == 0 or action.default in (None, argparse.SUPPRESS) or action.required:
        return ""
    return f"`{action.default}`"


def _help(action: argparse.Action, parser: argparse.ArgumentParser) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    # %(default)s and friends, as --help shows them.
    params = {**vars(action), "prog": parser.prog}
    params = {k: (getattr(v, "__name__", v)) for k, v in params.items()}
    try:
        return action.help % params
    except (KeyError, TypeError, ValueError):
        return action.help


def _subcommand(name: str, parser: argparse.ArgumentParser, summary: str) -> list[str]:
    lines = [f"## slowfast-zoo {name}", "", _cell(summary), ""]
    usage = " ".join(parser.format_usage().split())
    lines += ["```", usage.removeprefix("usage: "), "```", ""]
    if parser.description:
        lines += [parser.description.strip(), ""]
    positionals = [a for a in parser._actions if not a.option_strings and a.dest != "help"]
    options = [a for a in parser._actions
               if a.option_strings and a.dest not in ("help", "verbose")]
    if positionals:
        lines += ["| argument | help |", "|---|---|"]
        lines += [f"| `{a.metavar or a.dest}`{'...' if a.nargs in ('+', '*') else ''} | "
                  f"{_cell(_help(a, parser))} |" for a in positionals]
        lines.append("")
    if options:
        lines += ["| option | value | default | help |", "|---|---|---|---|"]
        for a in options:
            flags = ", ".join(f"`{f}`" for f in a.option_strings)
            value = _value(a)
            lines.append(f"| {flags} | {f'`{value}`' if value else ''} | {_default(a)} | "
                         f"{_cell(_help(a, parser))}{' (required)' if a.required else ''} |")
        lines.append("")
    return lines


def render() -> str:
    """The text of docs/CLI.md for the parsers of this installation.

    argparse has no public way to walk a parser's options: ``_actions`` and the subparsers'
    ``_choices_actions`` are what its own ``--help`` formatter reads (as sphinx-argparse does).
    """
    from slowfast_zoo.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    summaries = {c.dest: c.help or "" for c in sub._choices_actions}
    lines = [_HEADER]
    lines += ["| subcommand | what it does |", "|---|---|"]
    lines += [f"| [`{name}`](#slowfast-zoo-{name}) | {_cell(summaries.get(name, ''))} |" for name in sub.choices]
    lines.append("")
    for name, subparser in sub.choices.items():
        lines += _subcommand(name, subparser, summaries.get(name, ""))
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write docs/CLI.md (``--output``), or with ``--check`` compare it (exit 1 if it differs)."""
    return generated_file_main(argv, prog="python -m slowfast_zoo.tools.cli_docs",
                               description=__doc__.splitlines()[0],
                               default_output=str(Path(__file__).resolve().parents[2] / "docs" / "CLI.md"),
                               render_text=render)


if __name__ == "__main__":
    sys.exit(main())
