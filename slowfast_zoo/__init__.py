"""slowfast_zoo: MMAction2's SlowFast networks and checkpoints, exact, in plain PyTorch.

Example:
    >>> import slowfast_zoo as sz
    >>> sz.list_models()
    ['slowfast_r101_8x8x1', 'slowfast_r101_r50_4x16x1', 'slowfast_r152_r50_4x16x1', 'slowfast_r50_4x16x1', 'slowfast_r50_8x8x1']
    >>> model = sz.create_model("slowfast_r50_4x16x1", pretrained=True)  # doctest: +SKIP

Where things are (see README.md, "Layout"): ``models/`` the network, ``registry/`` the
architectures and published weights as data, ``weights/`` download / conversion / loading,
``data/`` decoding, sampling and transforms, ``inference/`` the engine and its applications,
``evaluation/`` metrics and ``evaluate``, ``training/`` fine-tuning, ``tools/`` export,
benchmark and model cards, ``cli/`` the ``slowfast-zoo`` command.
"""

from slowfast_zoo._version import __version__
from slowfast_zoo.errors import (
    CheckpointError,
    DownloadError,
    HashMismatchError,
    SlowFastZooError,
    UnknownModelError,
    VideoDecodeError,
)
from slowfast_zoo.factory import create_model
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.predict import Prediction, predict
from slowfast_zoo.registry import (
    ArchSpec,
    PretrainedCfg,
    TestProtocol,
    TrainProtocol,
    get_pretrained_cfg,
    list_models,
)
from slowfast_zoo.weights.hub import push_to_hub, save_pretrained

# Subpackages reached as attributes (``sz.data.test_transform``) and ``extract_features`` are
# imported on first use, so ``import slowfast_zoo`` stays light and has no side effects.
_LAZY_SUBMODULES = ("data", "evaluation", "inference", "registry", "weights", "models", "training",
                    "tools")


def __getattr__(name: str):
    import importlib

    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"slowfast_zoo.{name}")
    if name == "extract_features":
        return importlib.import_module("slowfast_zoo.inference.features").extract_features
    raise AttributeError(f"module 'slowfast_zoo' has no attribute {name!r}")


__all__ = [
    "create_model", "list_models", "predict", "Prediction", "get_pretrained_cfg", "SlowFast", "ArchSpec", "PretrainedCfg",
    "TestProtocol", "TrainProtocol", "SlowFastZooError", "UnknownModelError", "CheckpointError",
    "HashMismatchError", "DownloadError", "VideoDecodeError", "__version__", "extract_features",
    "save_pretrained", "push_to_hub",
]
