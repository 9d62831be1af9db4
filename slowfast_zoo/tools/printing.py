"""Printing what files and users give: one line per error, control characters escaped, JSON that is JSON.

``slowfast-zoo`` and the ``examples/`` scripts print through these, so that:

* every error is one line, ``prog: error: message``, exit status 2 (:func:`print_error`; the
  traceback and the untruncated message with ``-v``), argparse's own errors included
  (:class:`OneLineArgumentParser`);
* names and paths that come from files (class names of a saved model, video paths, reasons
  quoting them) are printed with control characters escaped (:func:`printable`,
  :func:`one_line`, :class:`PrintableFormatter` for log records), so that no file can move the
  cursor, recolour the terminal or forge a line of output;
* JSON output is JSON: no bare ``NaN`` / ``Infinity`` (:func:`json_text`).

Example:
    >>> from slowfast_zoo.tools import one_line, printable
    >>> printable("clip\\x1b[2J\\nslowfast-zoo: error: forged")
    'clip\\\\x1b[2J\\\\nslowfast-zoo: error: forged'
    >>> one_line("cannot resume from r.json: its 'model' differs\\n  file: a\\n  run: b")
    "cannot resume from r.json: its 'model' differs file: a run: b"
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
import unicodedata
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, NoReturn

from slowfast_zoo._io import json_finite

if TYPE_CHECKING:  # an evaluation report is only read here
    from slowfast_zoo.evaluation.ava_job import AvaEvalReport
    from slowfast_zoo.evaluation.job import EvalReport

__all__ = ["printable", "one_line", "print_error", "json_text", "PrintableFormatter", "setup_logging",
           "OneLineArgumentParser", "eval_summary", "MESSAGE_LIMIT"]

#: Characters of an error message printed without ``-v``; longer ones end in a pointer to ``-v``.
MESSAGE_LIMIT = 1000

# Control (Cc), format (Cf: bidi overrides, zero-width), surrogate (Cs: undecodable bytes of a
# file name, which print() cannot encode) and line/paragraph separator characters: each can
# move the cursor, hide text or start a new line on a terminal.
_UNSAFE = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: object) -> str:
    """``text`` (``str()`` of it) with every control, format and separator character escaped.

    ``\\n``, ``\\r`` and ``\\t`` are written as such, other characters as ``\\xNN``/``\\uNNNN``
    (as Python writes them); letters of every script, spaces and backslashes are kept.

    Example:
        >>> printable("Jump\\u202erun")  # a right-to-left override would reverse what follows
        'Jump\\\\u202erun'
        >>> printable("données/vidéo 1.mp4")
        'données/vidéo 1.mp4'
    """
    s = str(text)
    if s.isprintable():  # the common case: nothing to escape
        return s
    out = []
    for ch in s:
        if unicodedata.category(ch) in _UNSAFE:
            code = ord(ch)
            out.append(_NAMED.get(ch) or (f"\\x{code:02x}" if code < 0x100 else
                                          f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"))
        else:
            out.append(ch)
    return "".join(out)


def one_line(text: object, limit: int | None = None) -> str:
    """``text`` as one printable line: its lines joined by a space, control characters escaped,
    cut at ``limit`` characters (``None``: whole) with a pointer to ``-v``.

    Example:
        >>> one_line("first\\n   second\\r\\n")
        'first second'
        >>> one_line("x" * 50, limit=40)
        'xxxxxxxxxxxxx... (-v: the whole message)'
    """
    s = printable(" ".join(part.strip() for part in str(text).splitlines() if part.strip()))
    tail = "... (-v: the whole message)"
    if limit is not None and len(s) > limit:
        s = s[:max(0, limit - len(tail))] + tail
    return s


def print_error(prog: str, error: BaseException | str, *, verbose: bool = False,
                words: Mapping[str, str] | None = None, file: IO[str] | None = None) -> int:
    """Print ``prog: error: <message>`` on one line to stderr; returns the exit status, 2.

    Args:
        prog: the command's name (``"slowfast-zoo"``, ``"finetune"``).
        error: the exception (its ``str``) or a message.
        verbose: also print the traceback (chained causes included) before the line, and the
            message whole (still one line) instead of cut at :data:`MESSAGE_LIMIT`.
        words: replacements in the message: the library's argument names -> the command's
            options (``{"checkpoint_path=": "--weights "}``).
        file: where to print (default: ``sys.stderr``).

    Example:
        >>> from slowfast_zoo.errors import UsageError
        >>> print_error("demo", UsageError("--topk must be >= 1\\ngot 0"), file=sys.stdout)
        demo: error: --topk must be >= 1 got 0
        2
    """
    out = file if file is not None else sys.stderr
    if verbose and isinstance(error, BaseException):
        traceback.print_exception(type(error), error, error.__traceback__, file=out)
    text = str(error)
    for old, new in (words or {}).items():
        text = text.replace(old, new)
    print(f"{prog}: error: {one_line(text, None if verbose else MESSAGE_LIMIT)}", file=out)
    return 2


def json_text(obj: Any, **kwargs: Any) -> str:
    """``json.dumps(obj, **kwargs)`` that is JSON: NaN and +-Infinity written as ``null``.

    Python's ``json`` writes bare ``NaN``, which other readers (``jq``, JavaScript) refuse;
    strings keep ``json``'s default ``\\uXXXX`` escapes, so control characters never reach a
    terminal raw.

    Example:
        >>> json_text({"probability": float("nan"), "label": "a\\x1b[31m"})
        '{"probability": null, "label": "a\\\\u001b[31m"}'
    """
    return json.dumps(json_finite(obj), allow_nan=False, **kwargs)


class PrintableFormatter(logging.Formatter):
    """A :class:`logging.Formatter` whose messages are :func:`one_line` (tracebacks stay as they are).

    Log messages carry file names and reasons from the data (``skipped: <path>: <reason>``).

    Example:
        >>> record = logging.LogRecord("x", logging.ERROR, "", 0, "skipped: %s", ("a\\nb\\x1b",), None)
        >>> PrintableFormatter("%(levelname)s %(message)s").format(record)
        'ERROR skipped: a b\\\\x1b'
    """

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        saved = record.message
        record.message = one_line(saved)
        try:
            return super().formatMessage(record)
        finally:
            record.message = saved


def setup_logging(level: int, fmt: str = "%(levelname)s %(name)s: %(message)s") -> None:
    """``logging.basicConfig`` to stderr with a :class:`PrintableFormatter` (a no-op when the
    root logger already has handlers, as ``basicConfig``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter(fmt))
    logging.basicConfig(level=level, handlers=[handler])


class OneLineArgumentParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose errors are one line, exit status 2.

    argparse prints the whole usage (up to 15 lines for ``eval``) above its error; here the
    line says where the usage is instead. Subcommand parsers made with ``add_subparsers``
    are of this class too.

    Example:
        >>> import contextlib
        >>> p = OneLineArgumentParser(prog="demo")
        >>> _ = p.add_argument("--n", type=int)
        >>> with contextlib.redirect_stderr(sys.stdout), contextlib.suppress(SystemExit):
        ...     p.parse_args(["--n", "x"])
        demo: error: argument --n: invalid int value: 'x' (demo --help: the options)
    """

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {one_line(message, MESSAGE_LIMIT)} ({self.prog} --help: the options)",
              file=sys.stderr)
        sys.exit(2)


def eval_summary(report: EvalReport | AvaEvalReport) -> str:
    """``report.summary()`` with the paths (AVA: keyframe keys) and reasons of skipped items
    :func:`one_line`, and every line :func:`printable`: the text ``slowfast-zoo eval`` prints.

    A video's path comes from the annotation list or, with ``--resume``, from the result file;
    its reason quotes the file. Neither can add a line or reach the terminal raw.
    """
    import dataclasses

    from slowfast_zoo.evaluation.ava_job import AvaEvalReport

    safe: EvalReport | AvaEvalReport
    if isinstance(report, AvaEvalReport):
        keyframes = [r if r.ok else dataclasses.replace(r, img_key=one_line(r.img_key), reason=one_line(r.reason or ""))
                     for r in report.records]
        safe = dataclasses.replace(report, records=keyframes)
    else:
        records = [r if r.ok else dataclasses.replace(r, video=one_line(r.video), reason=one_line(r.reason or ""))
                   for r in report.result.records]
        safe = dataclasses.replace(report, result=dataclasses.replace(report.result, records=records))
    return "\n".join(printable(line) for line in safe.summary().split("\n"))
