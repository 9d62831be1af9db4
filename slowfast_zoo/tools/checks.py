"""Every option of a command checked before any work: a model built, a weight downloaded, a video decoded.

``slowfast-zoo`` and the ``examples/`` scripts call these first, so that a mistake (an output
path that is a folder, a device that does not exist, negative workers, a file name template
that cannot format, a result file that is not ours) is answered in one line, exit status 2,
at once, not by a traceback after the work. Each raises a typed
:class:`~slowfast_zoo.errors.SlowFastZooError` whose message names the option; devices are
checked by :func:`~slowfast_zoo.inference.resolve_device`. Paths in messages are
:func:`~slowfast_zoo.tools.printable`.

Example:
    >>> from slowfast_zoo.tools import check_at_least
    >>> check_at_least(2, "--workers", 0)
"""

from __future__ import annotations

import math
import os
import string
from pathlib import Path
from typing import TYPE_CHECKING

from slowfast_zoo.errors import InputFileError, OutputPathError, ResultFileError, UsageError
from slowfast_zoo.tools.printing import printable

if TYPE_CHECKING:  # the evaluation job is imported only by check_eval_config
    from slowfast_zoo.evaluation.ava_job import AvaEvalConfig
    from slowfast_zoo.evaluation.job import EvalConfig

__all__ = ["check_output_file", "check_output_dir", "check_input_file", "check_model_source",
           "check_at_least", "check_seconds", "check_filename_tmpl", "check_eval_config"]


# ----------------------------------------------------------------------------- files
def _first_existing(path: Path) -> Path:
    for p in (path, *path.parents):
        if os.path.lexists(p):
            return p
    return Path(".")


def _check_ancestor(path: Path, option: str) -> None:
    """The nearest existing ancestor of ``path`` is a folder this process can create entries in."""
    anc = _first_existing(path.parent)
    if not anc.is_dir():
        raise OutputPathError(f"{option} {printable(path)}: {printable(anc)} is not a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option} {printable(path)}: cannot write into {printable(anc)} "
                              f"(permission denied)")


def check_output_file(path: str | os.PathLike[str], option: str, *, create_parents: bool = True) -> Path:
    """An output file path: not a folder, its folder existing (or creatable) and writable.

    Args:
        path: the file to be written (replaced if it exists).
        option: the option's name for the message (``"--out"``).
        create_parents: the writer creates missing folders (``False``: they must exist).

    Raises:
        OutputPathError: ``path`` is (or ends like) a folder, under a file, or in a folder that
            cannot be written.
        UsageError: an empty path; a missing folder with ``create_parents=False``.

    Example:
        >>> check_output_file("/", "--out")
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.OutputPathError: --out /: names a folder; give a file name (e.g. /result.json)
    """
    text = os.fspath(path)
    if not text:
        raise UsageError(f"{option}: empty path")
    p = Path(text)
    if p.is_dir() or text.endswith(os.sep):
        raise OutputPathError(f"{option} {printable(text)}: names a folder; give a file name "
                              f"(e.g. {printable(p / 'result.json')})")
    if os.path.lexists(p) and not p.is_file():
        raise OutputPathError(f"{option} {printable(text)}: exists and is not a regular file")
    parent = p.absolute().parent
    if not create_parents and not parent.is_dir():
        raise UsageError(f"{option} {printable(text)}: the folder {printable(parent)} does not exist")
    _check_ancestor(p.absolute(), option)
    return p


def check_output_dir(path: str | os.PathLike[str], option: str) -> Path:
    """An output folder: an existing folder, or a path where one can be created.

    Raises:
        OutputPathError: ``path`` exists and is not a folder, or cannot be created/written.

    Example:
        >>> check_output_dir("/dev/null", "--out")
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.OutputPathError: --out /dev/null: exists and is not a folder
    """
    text = os.fspath(path)
    if not text:
        raise UsageError(f"{option}: empty path")
    p = Path(text)
    if os.path.lexists(p) and not p.is_dir():
        raise OutputPathError(f"{option} {printable(text)}: exists and is not a folder")
    if p.is_dir():
        if not os.access(p, os.W_OK | os.X_OK):
            raise OutputPathError(f"{option} {printable(text)}: cannot write into it (permission denied)")
        return p
    _check_ancestor(p.absolute(), option)
    return p


def check_input_file(path: str | os.PathLike[str], option: str) -> Path:
    """A file to read: it exists, is a regular file (or a link to one) and is readable.

    Raises:
        InputFileError: missing, a folder or another kind of file, or unreadable.

    Example:
        >>> check_input_file("/", "--weights")
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.InputFileError: --weights /: is a folder, not a file
    """
    p = Path(path)
    shown = printable(os.fspath(path))
    if not p.exists():
        raise InputFileError(f"{option} {shown}: no such file")
    if p.is_dir():
        raise InputFileError(f"{option} {shown}: is a folder, not a file")
    if not p.is_file():
        raise InputFileError(f"{option} {shown}: not a regular file")
    if not os.access(p, os.R_OK):
        raise InputFileError(f"{option} {shown}: cannot read it (permission denied)")
    return p


def check_model_source(model: str, weights: str | os.PathLike[str] | None = None, *,
                       option: str = "--weights") -> None:
    """The weights ``create_model(model, pretrained=True, checkpoint_path=weights)`` would load
    can be found, checked without reading or fetching them: a registered name, a saved-model
    folder holding its files, a well-formed Hub id, an existing local weights file, a usable
    ``SLOWFAST_ZOO_MIRROR``.

    Raises:
        UnknownModelError: a name not in the registry (with close matches).
        InputFileError: a missing weights file or saved-model folder.
        UsageError: a malformed ``hf-hub:`` id, weights given with a saved model, a bad mirror.

    Example:
        >>> check_model_source("slowfast_r50_4x16x1", "/", option="--weights")
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.InputFileError: --weights /: is a folder, not a file
    """
    from slowfast_zoo.registry import get_pretrained_cfg
    from slowfast_zoo.weights.download import resolve_url
    from slowfast_zoo.weights.source import CONFIG_NAME, WEIGHTS_NAME, is_prefixed, resolve_source

    if is_prefixed(model):
        if weights:
            raise UsageError(f"{option} cannot be combined with an hf-hub:/local-dir: model "
                             f"(it already names the weights)")
        source = resolve_source(model)  # a malformed Hub id or revision
        if source.kind == "local-dir":
            folder = Path(source.location)
            if not folder.is_dir():
                raise InputFileError(f"--model {printable(model)}: no such folder")
            for name in (CONFIG_NAME, WEIGHTS_NAME):
                check_input_file(folder / name, f"--model {printable(model)}:")
        return
    cfg = get_pretrained_cfg(model)
    if weights is None:
        resolve_url(cfg.url)  # a bad SLOWFAST_ZOO_MIRROR
    elif "://" in os.fspath(weights):
        resolve_source(model, weights, cfg)  # a URL without a file name
    else:
        check_input_file(weights, option)


# ----------------------------------------------------------------------------- numbers
def check_at_least(value: int | None, option: str, minimum: int) -> None:
    """``value`` (when given) is ``>= minimum``.

    Example:
        >>> check_at_least(-1, "--workers", 0)
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.UsageError: --workers must be >= 0, got -1
    """
    if value is not None and value < minimum:
        raise UsageError(f"{option} must be >= {minimum}, got {value}")


def check_seconds(value: float | None, option: str, *, zero: bool = False) -> None:
    """``value`` (when given) is a finite number of seconds, positive (or ``>= 0`` with ``zero``).

    Example:
        >>> check_seconds(float("inf"), "--window")
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.UsageError: --window must be a finite positive number of seconds, got inf
    """
    if value is None:
        return
    ok = math.isfinite(value) and (value >= 0 if zero else value > 0)
    if not ok:
        what = "finite number of seconds >= 0" if zero else "finite positive number of seconds"
        raise UsageError(f"{option} must be a {what}, got {value:g}")


def check_filename_tmpl(tmpl: str | None, option: str = "--filename-tmpl") -> None:
    """A rawframe file name template: one ``{}`` field that formats a frame number.

    Refused: malformed braces, named or extra fields (``{x}``, ``{}{}``), a spec that is not a
    number's (``{:q}``), widths over 255 (no file name is longer), no field at all (every
    frame would be the same file).

    Example:
        >>> check_filename_tmpl("img_{:05d}.jpg")
        >>> check_filename_tmpl("img_{:q}.jpg")
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.UsageError: --filename-tmpl 'img_{:q}.jpg' cannot format a frame number (Unknown format code 'q' for object of type 'int'); expected e.g. 'img_{:05d}.jpg'
    """
    if tmpl is None:
        return
    hint = "expected e.g. 'img_{:05d}.jpg'"
    shown = printable(repr(tmpl))
    try:
        fields = [(name, spec or "") for _, name, spec, _ in string.Formatter().parse(tmpl) if name is not None]
    except ValueError as exc:
        raise UsageError(f"{option} {shown} is not a format string ({exc}); {hint}") from exc
    if len(fields) != 1 or fields[0][0] not in ("", "0"):
        raise UsageError(f"{option} {shown} must have exactly one '{{}}' field for the frame number; {hint}")
    spec = fields[0][1]
    # Refused before format() runs: a width of 10**9 would build a 1 GB name.
    if "{" in spec or any(int(n) > 255 for n in "".join(c if c.isdigit() else " " for c in spec).split()):
        raise UsageError(f"{option} {shown}: the field's format {spec!r} is not a file name's; {hint}")
    try:
        names = {tmpl.format(i) for i in (1, 2)}
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise UsageError(f"{option} {shown} cannot format a frame number ({exc}); {hint}") from exc
    if len(names) != 2:
        raise UsageError(f"{option} {shown} gives every frame the same file name; {hint}")


# ----------------------------------------------------------------------------- eval
def _listed(ann_file: str | os.PathLike[str]) -> int | None:
    """Videos an annotation list names (its non-blank lines, as the datasets parse it); None when
    it cannot be read (the dataset then says why)."""
    try:
        with open(ann_file, encoding="utf-8") as f:
            return sum(1 for line in f if line.strip())
    except (OSError, UnicodeDecodeError):
        return None


def check_eval_config(config: EvalConfig) -> int | None:
    """The checks of an evaluation job's options that :func:`~slowfast_zoo.evaluation.run_evaluation`
    does only later (or not): before any weight is loaded.

    ``out`` is a writable file path and not one of the job's inputs; with ``resume`` an existing
    ``out`` must be a whole slowfast_zoo result file; ``workers``, ``limit``, ``start_index``
    >= 0; the device exists; ``filename_tmpl`` formats a frame number; ``data_root`` and a
    local ``weights`` file exist. Options of the other task are refused (``--proposals`` with a
    classifier, ``--num-clips`` with a detector); a detection weight's input files (annotation,
    proposals, exclusions, label map) exist and its protocol overrides and evaluator are usable
    (:func:`~slowfast_zoo.evaluation.ava_job.check_ava_config`).

    Returns:
        How many videos (keyframes, for a detection weight) the job selects (at most ``limit``;
        ``0``: nothing to evaluate), or ``None`` when the list cannot be read (the job says why).

    Raises:
        UsageError, OutputPathError, InputFileError, ResultFileError: naming the option.
    """
    from slowfast_zoo.evaluation.job import ava_config
    from slowfast_zoo.inference.device import resolve_device

    check_at_least(config.workers, "--workers", 0)
    check_at_least(config.limit, "--limit", 0)
    check_at_least(config.start_index, "--start-index", 0)
    check_at_least(config.views_per_batch, "--views-per-batch", 1)
    check_seconds(config.save_every, "--save-every", zero=True)
    resolve_device(config.device)
    check_filename_tmpl(config.filename_tmpl)
    check_model_source(config.model, config.weights)
    if config.data_root is not None and not Path(config.data_root).is_dir():
        raise InputFileError(f"--data-root {printable(os.fspath(config.data_root))}: no such folder")
    if config.resume and not config.out:
        raise UsageError("--resume needs --out")
    ava = ava_config(config)
    if ava is not None:
        return _check_ava_eval(ava)
    if config.out:
        out = check_output_file(config.out, "--out")
        for option, given in (("--ann-file", config.ann_file), ("--label-map", config.label_map),
                              ("--weights", config.weights)):
            if given and "://" not in os.fspath(given) and out.is_file() and Path(given).is_file() \
                    and os.path.samefile(out, given):
                raise OutputPathError(f"--out {printable(os.fspath(out))} is the {option} file: "
                                      f"the run would overwrite it")
    listed = _listed(config.ann_file)
    if config.out and config.resume:
        _check_resume(Path(config.out), config.model, listed)
    if listed is None:
        return None
    return listed if config.limit is None else min(listed, config.limit)


def _check_resume(out: Path, model: str, listed: int | None) -> None:
    """Every record of ``out`` (and its ``.rank*.part`` files) is whole: an index of the list and
    the model's number of scores. The job compares the header (model, protocol, list)."""
    from slowfast_zoo.evaluation.results import load_records
    from slowfast_zoo.registry import get_pretrained_cfg

    shown = printable(os.fspath(out))
    try:
        records = load_records(out)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ResultFileError(f"cannot resume from {shown}: a damaged result file "
                              f"({type(exc).__name__}: {exc})") from exc
    classes = get_pretrained_cfg(model).num_classes
    for rec in records.values():
        if rec.index < 0 or (listed is not None and rec.index >= listed):
            raise ResultFileError(f"cannot resume from {shown}: a damaged result file (video index "
                                  f"{rec.index} is not in the list of {listed} videos)")
        if rec.scores is not None and rec.scores.shape != (classes,):
            raise ResultFileError(f"cannot resume from {shown}: a damaged result file (video "
                                  f"{rec.index} has {rec.scores.size} scores, the model {classes} classes)")


def _keyframes(ann_file: str | os.PathLike[str]) -> int | None:
    """Keyframes an AVA annotation CSV names (distinct ``video_id,timestamp``); None when unreadable."""
    try:
        with open(ann_file, encoding="utf-8") as f:
            return len({tuple(t.strip() for t in line.split(",", 2)[:2]) for line in f if line.strip()})
    except (OSError, UnicodeDecodeError):
        return None


def _check_ava_eval(config: AvaEvalConfig) -> int | None:
    """:func:`check_eval_config` for a detection weight; how many keyframes it selects."""
    from slowfast_zoo.evaluation.ava_job import check_ava_config
    from slowfast_zoo.evaluation.ava_results import state_path

    inputs = (("--ann-file", config.ann_file), ("--proposals", config.proposals),
              ("--exclusions", config.exclusions), ("--label-map", config.label_map))
    for option, given in inputs:
        if given is not None:
            check_input_file(given, option)
    check_ava_config(config)
    if config.out:
        out = check_output_file(config.out, "--out")
        check_output_file(state_path(out), "--out (its state file)")
        for option, given in (*inputs, ("--weights", config.weights)):
            if given and "://" not in os.fspath(given) and out.is_file() and os.path.samefile(out, given):
                raise OutputPathError(f"--out {printable(os.fspath(out))} is the {option} file: the run would "
                                      f"overwrite it")
    listed = _keyframes(config.ann_file)
    if listed is None:
        return None
    return listed if config.limit is None else min(listed, config.limit)
