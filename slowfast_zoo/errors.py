"""Every exception type slowfast_zoo raises on purpose, in one place.

Every failure a user can cause (a bad name, a bad file, no network, a damaged video, an
unusable setting) raises a subclass of :class:`SlowFastZooError`, with a message that names
the file, URL or argument at fault and what was expected. Where a built-in type describes the
failure too, the class also derives from it (``except ValueError`` keeps working). The command
line prints any of them as one line, ``slowfast-zoo: error: ...``, and exits with code 2.
"""

from __future__ import annotations

__all__ = [
    "SlowFastZooError",
    "UsageError",
    "UnknownModelError",
    "CheckpointError",
    "HashMismatchError",
    "ConfigError",
    "DownloadError",
    "VideoDecodeError",
    "FrameIndexError",
    "InputFileError",
    "AnnotationError",
    "ListFileError",
    "ResultFileError",
    "BenchmarkError",
    "OutputPathError",
    "WrongTypeError",
    "IndexOutOfRangeError",
    "DistributedError",
    "ModelStateError",
]


class SlowFastZooError(Exception):
    """Base class of every error raised on purpose by slowfast_zoo."""


class UsageError(SlowFastZooError, ValueError):
    """An argument, option or environment variable whose value cannot be used
    (e.g. ``SLOWFAST_ZOO_MIRROR`` that is not a URL)."""


class UnknownModelError(SlowFastZooError, ValueError):
    """A model, architecture or weight tag name that is not registered."""


class CheckpointError(SlowFastZooError):
    """A checkpoint file that cannot be used: truncated, not a checkpoint, or
    holding weights of another architecture (missing / unexpected / mismatched keys)."""


class HashMismatchError(CheckpointError):
    """A file whose sha256 does not start with the prefix carried in its name."""


class UntrustedCacheError(CheckpointError):
    """A cache file (weights, converted weights, trust record, lock folder) that another user
    could have written: owned by someone else, or writable by others."""


class ConfigError(CheckpointError):
    """A saved model's ``config.json`` or a weight file's metadata with a field of the wrong type
    or out of range (the message names the field)."""


class DownloadError(SlowFastZooError, OSError):
    """A weight file could not be fetched (no network, HTTP error, refused connection)."""


class VideoDecodeError(SlowFastZooError):
    """A video (or rawframe folder) that cannot be decoded: missing, no video stream,
    zero decodable frames, truncated or corrupt data."""


class FrameIndexError(VideoDecodeError, IndexError):
    """A frame index outside ``[0, num_frames)`` (also catchable as ``IndexError``)."""


class InputFileError(SlowFastZooError, FileNotFoundError):
    """A file the user named (an annotation list, a label map) that does not exist or cannot be read."""


class AnnotationError(SlowFastZooError, ValueError):
    """A malformed annotation line (the message gives ``file:line``)."""


class ListFileError(AnnotationError):
    """A training/validation list that cannot be used (the message names ``file:line``)."""


class ResultFileError(SlowFastZooError):
    """An evaluation result file that cannot be resumed from (unreadable, or from another run)."""


class BenchmarkError(SlowFastZooError, ValueError):
    """A benchmark setting that cannot run (or should not, without ``force``)."""


class OutputPathError(SlowFastZooError, FileExistsError):
    """An output path that cannot be written as asked (it exists and holds other files, or is a
    directory where a file is expected)."""


class WrongTypeError(UsageError, TypeError):
    """An argument of a type that cannot be used (e.g. a dataset without ``labels``); also a
    ``TypeError``."""


class IndexOutOfRangeError(UsageError, IndexError):
    """A position outside its sequence (e.g. a dataset index given to ``evaluate``); also an
    ``IndexError``."""


class DistributedError(SlowFastZooError, RuntimeError):
    """A multi-process (``torchrun``) run whose processes disagree, e.g. a rank whose results
    never arrived."""


class ModelStateError(SlowFastZooError, RuntimeError):
    """An operation the model's state does not allow, e.g. training a model whose BatchNorm was
    folded for inference; also a ``RuntimeError``."""
