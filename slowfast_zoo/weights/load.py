"""Moved in 0.2: :mod:`.sources` (loading), :mod:`.checkpoint` (``.pth``), :mod:`.safetensors`.

This alias is kept for one release (see CHANGELOG.md).
"""

from slowfast_zoo._compat import warn_moved
from slowfast_zoo.weights.checkpoint import read_mmaction2_checkpoint
from slowfast_zoo.weights.safetensors import read_safetensors, tensors_sha256
from slowfast_zoo.weights.sources import CONVERTED_SUFFIX, converted_cache_path, load_pretrained

__all__ = ["CONVERTED_SUFFIX", "load_pretrained", "read_mmaction2_checkpoint", "read_safetensors",
           "converted_cache_path", "tensors_sha256"]

warn_moved(__name__, "slowfast_zoo.weights.sources")
