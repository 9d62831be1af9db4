"""Exception types raised by slowfast_zoo.

Every failure a user can cause (a bad name, a bad file, no network, a damaged
video) raises one of these, with a message that names the file, URL or
argument at fault and what was expected.
"""

from __future__ import annotations

__all__ = [
    "SlowFastZooError",
    "UnknownModelError",
    "CheckpointError",
    "HashMismatchError",
    "DownloadError",
    "VideoDecodeError",
]


class SlowFastZooError(Exception):
    """Base class of every error raised on purpose by slowfast_zoo."""


class UnknownModelError(SlowFastZooError, ValueError):
    """A model, architecture or weight tag name that is not registered."""


class CheckpointError(SlowFastZooError):
    """A checkpoint file that cannot be used: truncated, not a checkpoint, or
    holding weights of another architecture (missing / unexpected / mismatched keys)."""


class HashMismatchError(CheckpointError):
    """A file whose sha256 does not start with the prefix carried in its name."""


class DownloadError(SlowFastZooError, OSError):
    """A weight file could not be fetched (no network, HTTP error, refused connection)."""


class VideoDecodeError(SlowFastZooError):
    """A video (or rawframe folder) that cannot be decoded: missing, no video stream,
    zero decodable frames, truncated or corrupt data."""
