"""slowfast_zoo: MMAction2's Kinetics-400 SlowFast networks, exact, in plain PyTorch.

Example:
    >>> import slowfast_zoo as sz
    >>> sz.list_models()
    ['slowfast_r101_8x8x1', 'slowfast_r101_r50_4x16x1', 'slowfast_r152_r50_4x16x1', 'slowfast_r50_4x16x1', 'slowfast_r50_8x8x1']
    >>> model = sz.create_model("slowfast_r50_4x16x1", pretrained=True)  # doctest: +SKIP
"""

from slowfast_zoo.errors import (
    CheckpointError,
    DownloadError,
    HashMismatchError,
    SlowFastZooError,
    UnknownModelError,
    VideoDecodeError,
)
from slowfast_zoo.factory import create_model
from slowfast_zoo.hub import push_to_hub, save_pretrained
from slowfast_zoo.models import SlowFast
from slowfast_zoo.predict import Prediction, predict
from slowfast_zoo.registry import (
    ArchSpec,
    PretrainedCfg,
    TestProtocol,
    TrainProtocol,
    get_pretrained_cfg,
    list_models,
)

__version__ = "0.1.0"

# Subpackages reached as attributes (``sz.data.test_transform``) are imported on first use, so
# ``import slowfast_zoo`` stays light and has no side effects.
_LAZY_SUBMODULES = ("data", "evaluation", "inference", "registry", "weights", "models", "features",
                    "training")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"slowfast_zoo.{name}")
    if name == "extract_features":  # lazy: pulls in the data pipeline
        from slowfast_zoo.features import extract_features

        return extract_features
    raise AttributeError(f"module 'slowfast_zoo' has no attribute {name!r}")

__all__ = [
    "create_model", "list_models", "predict", "Prediction", "get_pretrained_cfg", "SlowFast", "ArchSpec", "PretrainedCfg",
    "TestProtocol", "TrainProtocol", "SlowFastZooError", "UnknownModelError", "CheckpointError",
    "HashMismatchError", "DownloadError", "VideoDecodeError", "__version__", "extract_features",
    "save_pretrained", "push_to_hub",
]
