"""Weights: where they come from, how they are checked, converted, stored and loaded.

- :mod:`.download`: verified downloads into the torch hub cache (``SLOWFAST_ZOO_MIRROR``).
- :mod:`.checkpoint`: reading MMAction2 ``.pth`` files without unpickling code.
- :mod:`.convert`: MMAction2 key names -> ours (one explicit mapping).
- :mod:`.safetensors`: our own files (one writer, one reader, one metadata schema).
- :mod:`.apply`: the classifier keep/drop policy and the checked load into a model.
- :mod:`.sources`: ``load_pretrained``: resolve the source, then load (cache, URL, local file, Hub mirror).
- :mod:`.hub`: ``save_pretrained`` / ``push_to_hub`` / ``hf-hub:`` and ``local-dir:`` models.

Example:
    >>> from slowfast_zoo.weights import get_cache_dir, hash_prefix_from_name
    >>> hash_prefix_from_name("x_20200728-145f1097.pth")
    '145f1097'
"""

from slowfast_zoo.weights.checkpoint import read_mmaction2_checkpoint
from slowfast_zoo.weights.convert import (
    CONVERTER_VERSION,
    check_state_dict,
    convert_mmaction2_state_dict,
    mmaction2_key_to_ours,
)
from slowfast_zoo.weights.download import (
    MIRROR_ENV,
    OPENMMLAB_ROOT,
    download_file,
    get_cache_dir,
    hash_prefix_from_name,
    resolve_url,
    sha256_file,
    verify_file_hash,
)
from slowfast_zoo.weights.safetensors import read_safetensors, tensors_sha256, write_safetensors
from slowfast_zoo.weights.sources import converted_cache_path, load_pretrained

__all__ = [
    "CONVERTER_VERSION", "check_state_dict", "convert_mmaction2_state_dict", "mmaction2_key_to_ours",
    "MIRROR_ENV", "OPENMMLAB_ROOT", "download_file", "get_cache_dir", "hash_prefix_from_name",
    "resolve_url", "sha256_file", "verify_file_hash", "converted_cache_path", "load_pretrained",
    "read_mmaction2_checkpoint", "read_safetensors", "write_safetensors", "tensors_sha256",
]
