"""Weights: where they come from, how they are checked, converted, stored and loaded.

One loading path (:mod:`.loader`), one module per step:

- :mod:`.source`: a name, URL, path, ``hf-hub:`` or ``local-dir:`` -> what to read (pure).
- :mod:`.download`: verified downloads into the torch hub cache (``SLOWFAST_ZOO_MIRROR``), locks.
- :mod:`.hub`: the Hugging Face Hub client (a saved model's files through the Hub cache).
- :mod:`.readers`: one reader per file format, told by the bytes (:mod:`.readers_pysf`'s
  ``sniff_format``): torch files of MMAction2, PyTorchVideo and PySlowFast (zip or legacy) and
  PySlowFast's caffe2 pickles without unpickling code, our ``.safetensors``, a saved model's
  ``config.json``.
- :mod:`.convert`: a file's key names -> ours, one converter per source family (MMAction2 here,
  PyTorchVideo, PySlowFast and caffe2 in :mod:`.convert_pysf`).
- :mod:`.apply`: the one check (keys, shapes, architecture, classifier policy) and the load.
- :mod:`.writer`: the one safetensors writer (converted cache, saved models, fine-tuning).
- :mod:`.saved`: the saved-model format (:func:`save_pretrained`, :func:`push_to_hub`).
- :mod:`.schema`: the fields of ``config.json`` and of our metadata, validated.
- :mod:`.identify`: which registered weights a file fits (for error messages).

Example:
    >>> from slowfast_zoo.weights import get_cache_dir, hash_prefix_from_name
    >>> hash_prefix_from_name("x_20200728-145f1097.pth")
    '145f1097'
    >>> get_cache_dir().name
    'checkpoints'
"""

from slowfast_zoo._digest import sha256_file, tensors_sha256, verify_file_hash
from slowfast_zoo.weights.convert import convert_checkpoint, mmaction2_key_to_ours
from slowfast_zoo.weights.download import (
    CONVERTED_SUFFIX,
    FBAIPUBLICFILES_ROOT,
    MIRROR_ENV,
    OPENMMLAB_ROOT,
    converted_cache_path,
    download_file,
    get_cache_dir,
    resolve_url,
)
from slowfast_zoo.weights.loader import convert_mmaction2_state_dict, load_pretrained, load_weights
from slowfast_zoo.weights.readers import (
    CONVERTER_VERSION,
    read_checkpoint,
    read_metadata,
    read_mmaction2_checkpoint,
    read_safetensors,
    read_torch_checkpoint,
)
from slowfast_zoo.weights.readers_pysf import read_caffe2_checkpoint, sniff_format
from slowfast_zoo.weights.saved import push_to_hub, save_pretrained
from slowfast_zoo.weights.source import WeightSource, hash_prefix_from_name, resolve_source
from slowfast_zoo.weights.writer import write_safetensors

__all__ = [
    "CONVERTER_VERSION", "CONVERTED_SUFFIX", "convert_mmaction2_state_dict", "convert_checkpoint",
    "mmaction2_key_to_ours", "MIRROR_ENV", "OPENMMLAB_ROOT", "FBAIPUBLICFILES_ROOT", "download_file",
    "get_cache_dir",
    "hash_prefix_from_name", "resolve_url", "sha256_file", "verify_file_hash", "converted_cache_path",
    "load_pretrained", "load_weights", "read_checkpoint", "read_mmaction2_checkpoint", "read_torch_checkpoint",
    "read_caffe2_checkpoint", "sniff_format", "read_safetensors",
    "read_metadata", "write_safetensors", "tensors_sha256", "WeightSource", "resolve_source",
    "save_pretrained", "push_to_hub",
]
