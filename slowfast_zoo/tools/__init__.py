"""Tools built on the library, and the helpers a script of your own needs to behave like them.

Tools: :mod:`.export` (ONNX / TorchScript, parity-checked), :mod:`.benchmark` (inference speed)
and :mod:`.cards` (MODEL_CARDS.md from the registry).

Helpers for long-running scripts (``examples/`` use them):

* :func:`terminate_as_interrupt` / :func:`exit_code`: SIGTERM (torchrun, SLURM, Kubernetes)
  handled like Ctrl-C, so the script saves its finished work and exits with ``128 + signal``;
* :class:`ProgressBar`: a dependency-free progress bar that draws only on a terminal;
* :func:`path_inside`: an output path under a folder, refusing names that would leave it;
* :mod:`.checks`: every option checked before any work (``check_*``);
* :mod:`.printing`: errors printed as one line (:func:`print_error`,
  :class:`OneLineArgumentParser`), names and paths from files printed with control characters
  escaped (:func:`printable`, :func:`one_line`, :func:`setup_logging`), JSON without bare NaN
  (:func:`json_text`).

Example:
    >>> from slowfast_zoo.tools import ProgressBar, exit_code, path_inside
    >>> path_inside("feats", "class_a/v1.mp4.safetensors").as_posix()
    'feats/class_a/v1.mp4.safetensors'
    >>> exit_code(KeyboardInterrupt())
    130
"""

from slowfast_zoo._io import path_inside, remove_leftovers
from slowfast_zoo._progress import ProgressBar
from slowfast_zoo._signals import Terminated, exit_code, terminate_as_interrupt
from slowfast_zoo.tools.checks import (
    check_at_least,
    check_eval_config,
    check_filename_tmpl,
    check_input_file,
    check_model_source,
    check_output_dir,
    check_output_file,
    check_seconds,
)
from slowfast_zoo.tools.printing import (
    OneLineArgumentParser,
    eval_summary,
    json_text,
    one_line,
    print_error,
    printable,
    setup_logging,
)

__all__ = ["terminate_as_interrupt", "exit_code", "Terminated", "ProgressBar", "path_inside", "remove_leftovers",
           "check_at_least", "check_eval_config", "check_filename_tmpl", "check_input_file",
           "check_model_source", "check_output_dir", "check_output_file", "check_seconds",
           "OneLineArgumentParser", "eval_summary", "json_text", "one_line", "print_error", "printable",
           "setup_logging"]
