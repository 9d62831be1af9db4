"""AVA's files: label maps (pbtxt or ``ID: name``), box CSVs, excluded keyframes, the results writer.

The one reader of each format, for the evaluator (:mod:`slowfast_zoo.evaluation.ava`) and the
dataset (:mod:`.ava_boxes`: its ground truth is :func:`read_ava_csv` rows, its box CSVs these checks).

The formats are those of the AVA dataset (https://research.google.com/ava/download.html), read as
the two reference evaluators read them (the official ActivityNet ``get_ava_performance.py`` and
MMAction2's ``ava_utils.py``, credited in :mod:`slowfast_zoo.evaluation.ava`), so that any file they
evaluate gives the same rows here; where they would crash or silently misread a file, a
:class:`~slowfast_zoo.errors.AnnotationError` names ``file:line`` and what was expected:

* box rows ``video_id,timestamp,x1,y1,x2,y2,action_id[,score]``: 7 or 8 columns, as both reference
  readers accept. The 8th column is a detection's score, or a ground-truth row's person id (both
  references parse it as a score and order each keyframe's rows by it). A keyframe is
  ``(video_id, int(timestamp))``: ``902`` and ``0902`` are the same keyframe.
* excluded keyframes: ``video_id,timestamp`` rows.
* label maps: AVA's pbtxt (``item { name: "..." id: 1 }`` blocks, or the full list's
  ``label { name: "..." label_id: 1 label_type: ... }``) or MMAction2's ``label_map.txt``
  (``1: bend/bow (at the waist)`` lines).

Blank lines are skipped (the references fail on them). Non-finite numbers are refused, and so is a
ground-truth box with ``x1 > x2`` or ``y1 > y2`` (both references crash on one).

Example:
    >>> from slowfast_zoo._io import temporary_directory
    >>> with temporary_directory() as d:
    ...     p = write_ava_detections_csv([("vid_a", 902, 0.1, 0.2, 0.5, 0.9, 12, 0.8125)], d / "r.csv")
    ...     p.read_text()
    ...     rows = read_ava_csv(p)
    'vid_a,0902,0.1,0.2,0.5,0.9,12,0.8125\\n'
    >>> len(rows), rows.videos, rows.scores.tolist()
    (1, ('vid_a',), [0.8125])
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import re
from array import array
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

import numpy as np

from slowfast_zoo._io import atomic_write, file_problem
from slowfast_zoo.errors import AnnotationError, InputFileError, UsageError

__all__ = ["AvaRows", "read_ava_csv", "read_ava_exclusions", "read_ava_label_map", "write_ava_detections_csv",
           "MAX_CSV_BYTES", "MAX_CSV_ROWS", "MAX_LABEL_MAP_BYTES"]

#: Largest CSV accepted (bytes), checked before anything is read. AVA's validation set with all
#: 80 classes written for every person box (some 57,000 keyframes x a few boxes) stays below it.
MAX_CSV_BYTES = 1 << 30
#: Most rows accepted in one CSV (about 60 bytes of memory each once read).
MAX_CSV_ROWS = 20_000_000
#: Largest label map accepted (AVA's 80 classes take 5 kB).
MAX_LABEL_MAP_BYTES = 1 << 22

# Timestamps are seconds (AVA: 902-1798); the bound keeps one int64 per keyframe possible.
_TIMESTAMP_LIMIT = 10**9
_ACTION_LIMIT = 1 << 31
_BOX_COLUMNS = ("video_id", "timestamp", "x1", "y1", "x2", "y2", "action_id")


@dataclass(frozen=True, eq=False)
class AvaRows:
    """The rows of an AVA box CSV, as arrays in file order (blank lines skipped).

    Attributes:
        path: the file read (for messages).
        videos: the distinct video ids, in order of first appearance.
        video_index: ``[N]`` int64, each row's position in ``videos``.
        timestamps: ``[N]`` int64 keyframe seconds.
        boxes: ``[N, 4]`` float64 ``x1, y1, x2, y2`` as written (normalised in AVA files).
        action_ids: ``[N]`` int64.
        scores: ``[N]`` float64: the 8th column (a detection's score, a ground-truth row's person id),
            1.0 where a row has 7 columns.
        lines: ``[N]`` int64 1-based line number of each row.
    """

    path: str
    videos: tuple[str, ...]
    video_index: np.ndarray
    timestamps: np.ndarray
    boxes: np.ndarray
    action_ids: np.ndarray
    scores: np.ndarray
    lines: np.ndarray

    def __len__(self) -> int:
        return int(self.lines.shape[0])


def _checked_file(path: str | os.PathLike, limit: int, what: str) -> str:
    """``path`` shown, once known to be a regular file (before any ``open()``) of at most ``limit`` bytes."""
    shown = os.fspath(path)
    st, problem = file_problem(path)
    if st is None:
        raise InputFileError(f"{shown}: {problem} (the {what})")
    if st.st_size > limit:
        raise AnnotationError(f"{shown}: {st.st_size} bytes, more than the {limit} accepted for the {what} "
                              "(refused unread)")
    return shown


@contextlib.contextmanager
def _text_file(path: str | os.PathLike, limit: int, what: str) -> Iterator[tuple[str, TextIO]]:
    """``(shown name, open text file)`` after :func:`_checked_file`; a decoding error inside the
    block becomes an :class:`AnnotationError` naming its line."""
    shown = _checked_file(path, limit, what)
    try:
        f = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 -- closed just below
    except OSError as exc:
        raise InputFileError(f"{shown}: cannot read the {what} ({exc.strerror or exc})") from exc
    with f:
        try:
            yield shown, f
        except UnicodeDecodeError as exc:
            raise AnnotationError(f"{shown}:{_first_undecodable_line(path)}: not UTF-8 text ({exc.reason})") from exc


def _first_undecodable_line(path: str | os.PathLike) -> int:
    # The slow path of a decoding error only: a newline byte is never part of a UTF-8 sequence.
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0


def _csv_rows(path: str | os.PathLike, what: str, *,
              comments: bool = False) -> Generator[tuple[str, int, list[str]], None, None]:
    """``(shown name, line number, fields)`` of each non-blank row (``comments``: ``#`` lines are blank) of
    any AVA CSV, at most :data:`MAX_CSV_ROWS` (:func:`read_ava_csv` has its own hot loop)."""
    limit, count = MAX_CSV_ROWS, 0
    with _text_file(path, MAX_CSV_BYTES, what) as (shown, f):
        # A comment becomes an empty line before the CSV parser sees it (a quote in it is no field).
        reader = csv.reader(("\n" if t.lstrip().startswith("#") else t for t in f) if comments else f)
        try:
            for row in reader:
                if row and (len(row) > 1 or row[0].strip()):
                    count += 1
                    if count > limit:
                        raise AnnotationError(f"{shown}:{reader.line_num}: more than {limit} rows, the most accepted")
                    yield shown, reader.line_num, row
        except csv.Error as exc:
            raise AnnotationError(f"{shown}:{reader.line_num}: not a CSV row ({exc})") from exc


def _bad_field(shown: str, line: int, row: list[str], names: Sequence[str]) -> AnnotationError:
    """The error for the first field of ``row`` that does not parse (called on the slow path only)."""
    for i, (name, value) in enumerate(zip(names, row)):
        if name == "video_id":
            if not value:
                return AnnotationError(f"{shown}:{line}: empty video_id (column 1)")
            continue
        try:
            number: float = int(value) if name in ("timestamp", "action_id") else float(value)
        except ValueError:
            kind = "an integer" if name in ("timestamp", "action_id") else "a number"
            return AnnotationError(f"{shown}:{line}: column {i + 1} ({name}) must be {kind}, got {value!r}")
        limit = _TIMESTAMP_LIMIT if name == "timestamp" else _ACTION_LIMIT
        if name in ("timestamp", "action_id") and not -limit < number < limit:
            return AnnotationError(f"{shown}:{line}: column {i + 1} ({name}) {value!r} is out of range")
    return AnnotationError(f"{shown}:{line}: cannot read the row {row!r}")


def _columns_error(shown: str, line: int, row: list[str], kind: str, min_columns: int) -> AnnotationError:
    last = "score" if kind == "detections" else "person_id"
    expected = (f"7 or 8 columns ({','.join(_BOX_COLUMNS)}[,{last}])" if min_columns == 7
                else f"8 columns ({','.join(_BOX_COLUMNS)},{last})")
    hint = ""
    if len(row) == 9 and kind == "detections":
        # A 9th column (e.g. a person id before the score) is no AVA format: the official reader
        # stops on it, and reading the score from another column would be a guess.
        hint = "; a 9-column row is not AVA's detection format: write one score per row"
    elif len(row) == 2 and kind == "groundtruth":
        hint = "; a 2-column row is a keyframe without boxes (a later official format), not read here"
    got = f"{len(row)} column" + ("" if len(row) == 1 else "s")
    return AnnotationError(f"{shown}:{line}: expected {expected}, got {got}{hint}")


def read_ava_csv(path: str | os.PathLike, *, kind: Literal["detections", "groundtruth"] = "detections",
                 min_columns: Literal[7, 8] = 7) -> AvaRows:
    """Read an AVA box CSV: ``video_id,timestamp,x1,y1,x2,y2,action_id[,score | person_id]``.

    Args:
        path: the CSV file (UTF-8, no header).
        kind: ``"groundtruth"`` also refuses inverted boxes (``x1 > x2`` or ``y1 > y2``) and names
            the 8th column ``person_id`` in messages. An inverted *detection* is kept: the official
            evaluator drops it, MMAction2's refuses it (see :func:`~slowfast_zoo.evaluation.ava.ava_frame_map`).
        min_columns: 8 refuses 7-column rows (MMAction2's ``AVADataset`` needs every person id).

    Returns:
        The rows, in file order.

    Raises:
        InputFileError: no such file (or not a readable regular file).
        AnnotationError: naming ``file:line`` and what was expected, for a row that does not parse
            or has other than 7 or 8 columns; also for a file over :data:`MAX_CSV_BYTES` or
            :data:`MAX_CSV_ROWS`.

    Example:
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     _ = (d / "gt.csv").write_text("v1,0902,0.1,0.1,0.5,0.5,12,3\\nv1,902,0.1,0.1,0.5,x,12,3\\n")
        ...     read_ava_csv(d / "gt.csv", kind="groundtruth")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.AnnotationError: ...gt.csv:2: column 6 (y2) must be a number, got 'x'
    """
    if kind not in ("detections", "groundtruth"):
        raise UsageError(f"kind must be 'detections' or 'groundtruth', got {kind!r}")
    if min_columns not in (7, 8):
        raise UsageError(f"min_columns must be 7 or 8, got {min_columns!r}")
    strict = min_columns == 8
    what = "ground-truth CSV" if kind == "groundtruth" else "detections CSV"
    names = (*_BOX_COLUMNS, "score" if kind == "detections" else "person_id")
    vocab: dict[str, int] = {}
    vids, stamps, actions, lines = array("q"), array("q"), array("q"), array("q")
    coords, scores = array("d"), array("d")
    limit = MAX_CSV_ROWS
    # The hot loop of a million-row results file: plain Python, one pass, errors on the slow path.
    with _text_file(path, MAX_CSV_BYTES, what) as (shown, f):
        reader = csv.reader(f)
        try:
            for row in reader:
                n = len(row)
                if n != 8 and (n != 7 or strict):
                    if n == 0 or (n == 1 and not row[0].strip()):
                        continue  # a blank line
                    raise _columns_error(shown, reader.line_num, row, kind, min_columns)
                try:
                    ts, action = int(row[1]), int(row[6])
                    box = (float(row[2]), float(row[3]), float(row[4]), float(row[5]))
                    score = float(row[7]) if n == 8 else 1.0
                except ValueError:
                    raise _bad_field(shown, reader.line_num, row, names) from None
                if not row[0] or not -_TIMESTAMP_LIMIT < ts < _TIMESTAMP_LIMIT \
                        or not -_ACTION_LIMIT < action < _ACTION_LIMIT:
                    raise _bad_field(shown, reader.line_num, row, names)
                index = vocab.get(row[0])
                if index is None:
                    index = vocab[row[0]] = len(vocab)
                if len(lines) >= limit:
                    raise AnnotationError(f"{shown}:{reader.line_num}: more than {limit} rows, the most accepted")
                vids.append(index)
                stamps.append(ts)
                actions.append(action)
                lines.append(reader.line_num)
                coords.extend(box)
                scores.append(score)
        except csv.Error as exc:
            raise AnnotationError(f"{shown}:{reader.line_num}: not a CSV row ({exc})") from exc
    rows = AvaRows(shown, tuple(vocab), np.frombuffer(vids, np.int64), np.frombuffer(stamps, np.int64),
                   np.frombuffer(coords, np.float64).reshape(-1, 4), np.frombuffer(actions, np.int64),
                   np.frombuffer(scores, np.float64), np.frombuffer(lines, np.int64))
    _check_values(rows, names, kind)
    return rows


def _check_values(rows: AvaRows, names: Sequence[str], kind: str) -> None:
    """Refuse NaN / infinite numbers (and inverted ground-truth boxes), naming the first such line."""
    bad = ~np.isfinite(rows.boxes)
    bad_row = bad.any(axis=1) | ~np.isfinite(rows.scores)
    if bad_row.any():
        i = int(np.argmax(bad_row))
        col = int(np.argmax(bad[i])) + 2 if bad[i].any() else 7
        raise AnnotationError(f"{rows.path}:{int(rows.lines[i])}: column {col + 1} ({names[col]}) must be a "
                              "finite number")
    if kind == "groundtruth":
        inverted = (rows.boxes[:, 0] > rows.boxes[:, 2]) | (rows.boxes[:, 1] > rows.boxes[:, 3])
        if inverted.any():
            i = int(np.argmax(inverted))
            raise AnnotationError(f"{rows.path}:{int(rows.lines[i])}: ground-truth box "
                                  f"{rows.boxes[i].tolist()} is inverted (expected x1 <= x2 and y1 <= y2)")


def read_ava_exclusions(path: str | os.PathLike) -> frozenset[tuple[str, int]]:
    """Read AVA's excluded keyframes (``video_id,timestamp`` rows) as ``{(video_id, timestamp)}``.

    Raises:
        InputFileError: no such file.
        AnnotationError: a row with other than 2 columns or a non-integer timestamp (``file:line``).

    Example:
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     _ = (d / "excluded.csv").write_text("v1,0903\\n\\nv2,1001\\n")
        ...     sorted(read_ava_exclusions(d / "excluded.csv"))
        [('v1', 903), ('v2', 1001)]
    """
    keys: set[tuple[str, int]] = set()
    for shown, line, row in _csv_rows(path, "exclusions CSV"):
        if len(row) != 2:
            raise AnnotationError(f"{shown}:{line}: expected 2 columns (video_id,timestamp), got {len(row)}")
        try:
            ts = int(row[1])
        except ValueError:
            raise _bad_field(shown, line, row, _BOX_COLUMNS[:2]) from None
        if not row[0] or not -_TIMESTAMP_LIMIT < ts < _TIMESTAMP_LIMIT:
            raise _bad_field(shown, line, row, _BOX_COLUMNS[:2])
        keys.add((row[0], ts))
    return frozenset(keys)


# pbtxt tokens: a comment, a quoted string, a brace or colon, or a bare word (number, name, enum).
_TOKEN = re.compile(r'\s*(?:(#.*)|("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|([{}:])|([^\s{}:"\'#]+))')
# The name is stripped in Python, not by the pattern: `\s*:\s*(.*?)\s*$` backtracks over each run
# of inner spaces (a 40,000-space line took 4 s, a 4 MB one would take hours).
_TXT_LINE = re.compile(r"\s*(-?\d+)\s*:(.*)")
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


def _tokens(lines: Iterable[str], shown: str) -> Iterator[tuple[int, str, bool]]:
    """``(line, token, quoted)`` for each pbtxt token (strings unescaped)."""
    for number, text in enumerate(lines, 1):
        pos, text = 0, text.rstrip("\r\n")
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                if not text[pos:].strip():
                    break
                raise AnnotationError(f"{shown}:{number}: cannot read {text[pos:].strip()!r} (expected pbtxt "
                                      "like 'item { name: \"walk\" id: 14 }')")
            pos = m.end()
            if m[2] is not None:
                body = m[2][1:-1]
                yield number, re.sub(r"\\(.)", lambda e: _ESCAPES.get(e[1], e[0]), body), True
            elif m[3] is not None or m[4] is not None:
                yield number, m[3] or m[4], False


def _parse_pbtxt(lines: Iterable[str], shown: str) -> dict[int, str]:
    labels: dict[int, str] = {}
    tokens = _tokens(lines, shown)
    last_line = 0

    def take(expected: str) -> tuple[int, str, bool]:
        nonlocal last_line
        tok = next(tokens, None)
        if tok is None:
            raise AnnotationError(f"{shown}:{last_line}: the file ends where {expected} was expected")
        last_line = tok[0]
        return tok

    for line, word, quoted in tokens:
        last_line = line
        # The references only read the `name:` and `id:` lines, whatever the block: AVA's list of
        # the evaluated actions says `item`, its full list `label`.
        if word not in ("item", "label") or quoted:
            raise AnnotationError(f"{shown}:{line}: expected 'item {{' (or 'label {{'), got {word!r}")
        if take("'{'")[1] != "{":
            raise AnnotationError(f"{shown}:{last_line}: expected '{{' after {word!r}")
        fields: dict[str, tuple[int, str]] = {}
        while True:
            line, key, quoted = take("a field or '}'")
            if key == "}" and not quoted:
                break
            if quoted or key in ("{", ":"):
                raise AnnotationError(f"{shown}:{line}: expected a field name (name, id, ...), got {key!r}")
            if take("':'")[1] != ":":
                raise AnnotationError(f"{shown}:{last_line}: expected ':' after {key!r} (nested blocks are not "
                                      "part of a label map)")
            _, value, vquoted = take(f"a value for {key!r}")
            if not vquoted and value in ("{", "}", ":"):
                raise AnnotationError(f"{shown}:{last_line}: expected a value for {key!r}, got {value!r}")
            if key in fields:
                raise AnnotationError(f"{shown}:{line}: {key!r} given twice in one item")
            fields[key] = (line, value)
        _add_pbtxt_item(labels, fields, shown, line)
    return labels


def _add_pbtxt_item(labels: dict[int, str], fields: dict[str, tuple[int, str]], shown: str, end: int) -> None:
    # The references read `id` or `label_id` (AVA's full lists use label_id) and the `name`.
    ids = [fields[k] for k in ("id", "label_id") if k in fields]
    if len(ids) != 1:
        raise AnnotationError(f"{shown}:{end}: an item needs exactly one 'id' (or 'label_id'), got {len(ids)}")
    line, text = ids[0]
    name = fields.get("name", fields.get("display_name"))
    if name is None:
        raise AnnotationError(f"{shown}:{end}: the item with id {text} has no 'name'")
    _add_label(labels, text, name[1], shown, line)


def _add_label(labels: dict[int, str], text: str, name: str, shown: str, line: int) -> None:
    try:
        class_id = int(text)
    except ValueError:
        raise AnnotationError(f"{shown}:{line}: a class id must be an integer, got {text!r}") from None
    if not 1 <= class_id < _ACTION_LIMIT:
        raise AnnotationError(f"{shown}:{line}: class ids start at 1 (as AVA's), got {class_id}")
    if class_id in labels:
        raise AnnotationError(f"{shown}:{line}: class id {class_id} is listed twice")
    labels[class_id] = name


def read_ava_label_map(path: str | os.PathLike) -> dict[int, str]:
    """Read an AVA label map: ``{class id: name}`` in file order.

    Two formats, told by the first line that is not blank or a ``#`` comment: AVA's pbtxt
    (``item { name: "..." id: 1 }`` blocks, ``label { ... label_id: 1 label_type: ... }`` in its
    full list, ``#`` comments; any layout, not only the two-space indentation the reference readers
    require) and MMAction2's ``label_map.txt`` (``1: name`` lines).

    Raises:
        InputFileError: no such file.
        AnnotationError: a line that fits neither format, an item without id or name, an id below 1
            or listed twice, or no class at all (``file:line``).

    Example:
        >>> from slowfast_zoo._io import temporary_directory
        >>> with temporary_directory() as d:
        ...     _ = (d / "ava.pbtxt").write_text('item {\\n  name: "bend/bow (at the waist)"\\n  id: 1\\n}\\n'
        ...                                     'label { name: "walk" label_id: 14 label_type: PERSON_MOVEMENT }\\n')
        ...     read_ava_label_map(d / "ava.pbtxt")
        {1: 'bend/bow (at the waist)', 14: 'walk'}
    """
    with _text_file(path, MAX_LABEL_MAP_BYTES, "label map") as (shown, f):
        text = f.read().split("\n")
    first = next((t for t in text if t.strip() and not t.lstrip().startswith("#")), "")
    if _TXT_LINE.match(first):
        labels: dict[int, str] = {}
        for number, line in enumerate(text, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = _TXT_LINE.match(line)
            if m is None:
                raise AnnotationError(f"{shown}:{number}: expected 'ID: name' (MMAction2's label_map.txt), "
                                      f"got {line.strip()!r}")
            _add_label(labels, m[1], m[2].strip(), shown, number)
    else:
        labels = _parse_pbtxt(text, shown)
    if not labels:
        raise AnnotationError(f"{shown}: no class in the label map (expected pbtxt 'item {{ name: ... id: ... }}' "
                              "blocks or 'ID: name' lines)")
    return labels


def _format_row(row: Sequence[object], number: int) -> str:
    if isinstance(row, (str, bytes)) or len(row) != 8:
        raise UsageError(f"detection row {number}: expected 8 values (video_id, timestamp, x1, y1, x2, y2, "
                         f"action_id, score), got {row!r}")
    video, ts, x1, y1, x2, y2, action, score = row
    if not isinstance(video, str) or not video or any(c in video for c in ',"\r\n'):
        raise UsageError(f"detection row {number}: video_id must be a non-empty string without commas, "
                         f"quotes or line breaks, got {video!r}")
    ints = []
    for name, value in (("timestamp", ts), ("action_id", action)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise UsageError(f"detection row {number}: {name} must be an integer, got {value!r}")
        ints.append(int(value))
    floats = []
    for value in (x1, y1, x2, y2, score):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(value):
            raise UsageError(f"detection row {number}: boxes and score must be finite numbers, got {value!r}")
        # repr: the shortest text that reads back as the same float. No 4-decimal rounding (as
        # MMAction2's results2csv does): it creates ties between scores, which change the ranking.
        floats.append(repr(float(value)))
    return f"{video},{ints[0]:04d},{','.join(floats[:4])},{ints[1]},{floats[4]}\n"


def write_ava_detections_csv(rows: Iterable[Sequence[object]], path: str | os.PathLike) -> Path:
    """Write detections as AVA's 8-column CSV, atomically (readers see the old file or the new one).

    Args:
        rows: ``(video_id, timestamp, x1, y1, x2, y2, action_id, score)`` tuples; timestamps are
            written ``%04d``, numbers with all the digits needed to read back the same float.
        path: the CSV to write (its folder is created).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        UsageError: a row that is not 8 values of the right types (its 1-based number named).

    Example:
        >>> write_ava_detections_csv([("v", 902, 0, 0, 1, 1, 80, 0.5)], "results.csv")  # doctest: +SKIP
    """
    def write(tmp: str) -> None:
        # Rows are checked while they are written: a bad row leaves no file (atomic_write removes
        # the temporary one), and millions of rows never sit in memory as text.
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            for number, row in enumerate(rows, 1):
                f.write(_format_row(row, number))
            f.flush()
            os.fsync(f.fileno())

    return atomic_write(path, write)
