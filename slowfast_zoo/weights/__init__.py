"""Weights: MMAction2 key conversion, verified downloads, and loading into a model.

Example:
    >>> from slowfast_zoo.weights import get_cache_dir, hash_prefix_from_name
    >>> hash_prefix_from_name("x_20200728-145f1097.pth")
    '145f1097'
"""

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
from slowfast_zoo.weights.load import (
    converted_cache_path,
    load_pretrained,
    read_mmaction2_checkpoint,
    read_safetensors,
)

__all__ = [
    "CONVERTER_VERSION", "check_state_dict", "convert_mmaction2_state_dict", "mmaction2_key_to_ours",
    "MIRROR_ENV", "OPENMMLAB_ROOT", "download_file", "get_cache_dir", "hash_prefix_from_name",
    "resolve_url", "sha256_file", "verify_file_hash", "converted_cache_path", "load_pretrained",
    "read_mmaction2_checkpoint", "read_safetensors",
]
