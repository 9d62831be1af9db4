"""slowfast_zoo.tools.cli_docs: docs/CLI.md is the parsers' own text and cannot drift."""

from __future__ import annotations

import argparse
from pathlib import Path

from slowfast_zoo.cli import build_parser
from slowfast_zoo.tools.cli_docs import main, render

CLI_MD = Path(__file__).resolve().parents[1] / "docs" / "CLI.md"


def test_cli_md_is_up_to_date() -> None:
    assert CLI_MD.read_text(encoding="utf-8") == render(), \
        "docs/CLI.md is out of date: run python -m slowfast_zoo.tools.cli_docs"


def test_every_subcommand_option_and_default_is_in_it() -> None:
    text = render()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert {"predict", "detect", "eval", "export", "benchmark", "list", "info"} <= set(sub.choices)
    for name, parser in sub.choices.items():
        section = text.split(f"## slowfast-zoo {name}\n", 1)[1].split("\n## ", 1)[0]
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help", "-v", "--verbose"):
                    assert f"`{flag}`" in section, (name, flag)
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS) \
                    and action.nargs != 0 and not action.required:
                assert f"`{action.default}`" in section, (name, action.dest)


def test_check_mode(tmp_path: Path, capsys) -> None:
    out = tmp_path / "CLI.md"
    assert main(["--output", str(out), "--check"]) == 1
    assert main(["--output", str(out)]) == 0 and main(["--output", str(out), "--check"]) == 0
    out.write_text(out.read_text() + "drift\n")
    assert main(["--output", str(out), "--check"]) == 1
