"""slowfast_zoo: the SlowFast networks and their published checkpoints, exact, in plain PyTorch.

Example:
    >>> import slowfast_zoo as sz
    >>> sz.list_models("slowfast_r50_*x1")
    ['slowfast_r50_16x8x1', 'slowfast_r50_4x16x1', 'slowfast_r50_8x8x1']
    >>> sz.list_models("*ava*", pretrained=True)[0]  # the AVA action detectors' weights
    'ptv_slowfast_r50_detection.ava22_ptv'
    >>> model = sz.create_model("slowfast_r50_4x16x1", pretrained=True)  # doctest: +SKIP

Where things are (docs/ARCHITECTURE.md): ``models/`` the network, ``registry/`` the
architectures and published weights as data, ``weights/`` the one loading path (resolve, fetch,
read, convert, check and apply, store), ``data/`` decoding, sampling and the test views,
``inference/`` predict, detect, windows, features and the engine that runs a model over views,
``evaluation/`` metrics and ``evaluate``, ``training/`` fine-tuning, ``tools/`` export,
benchmark and model cards, ``cli/`` the ``slowfast-zoo`` command.

``import slowfast_zoo`` loads only the registry and the error types; everything else (and
torch, PyAV) is imported on first use of a name below, so the import is quick and has no side
effects.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from slowfast_zoo._version import __version__
from slowfast_zoo.errors import (
    CheckpointError,
    DownloadError,
    HashMismatchError,
    SlowFastZooError,
    UnknownModelError,
    VideoDecodeError,
)
from slowfast_zoo.registry import (
    ArchSpec,
    PretrainedCfg,
    TestProtocol,
    TrainProtocol,
    get_pretrained_cfg,
    list_models,
)

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and IDEs
    from slowfast_zoo.factory import create_model
    from slowfast_zoo.inference.features import extract_features
    from slowfast_zoo.inference.detect import KeyframeActions, detect
    from slowfast_zoo.inference.predict import Prediction, predict
    from slowfast_zoo.models.detector import SlowFastDetector
    from slowfast_zoo.models.slowfast import SlowFast
    from slowfast_zoo.weights.saved import push_to_hub, save_pretrained

# Public name -> the module that defines it, imported on first access.
_LAZY_NAMES = {
    "create_model": "slowfast_zoo.factory",
    "SlowFast": "slowfast_zoo.models.slowfast",
    "predict": "slowfast_zoo.inference.predict",
    "Prediction": "slowfast_zoo.inference.predict",
    "detect": "slowfast_zoo.inference.detect",
    "KeyframeActions": "slowfast_zoo.inference.detect",
    "SlowFastDetector": "slowfast_zoo.models.detector",
    "extract_features": "slowfast_zoo.inference.features",
    "save_pretrained": "slowfast_zoo.weights.saved",
    "push_to_hub": "slowfast_zoo.weights.saved",
}
_LAZY_SUBMODULES = ("data", "evaluation", "inference", "registry", "weights", "models", "training",
                    "tools")


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
        globals()[name] = value  # later look-ups skip this hook
        return value
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"slowfast_zoo.{name}")
    raise AttributeError(f"module 'slowfast_zoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES) | set(_LAZY_SUBMODULES))


__all__ = [
    "create_model", "list_models", "predict", "Prediction", "get_pretrained_cfg", "SlowFast", "ArchSpec", "PretrainedCfg",
    "TestProtocol", "TrainProtocol", "SlowFastZooError", "UnknownModelError", "CheckpointError",
    "HashMismatchError", "DownloadError", "VideoDecodeError", "__version__", "extract_features",
    "save_pretrained", "push_to_hub", "detect", "KeyframeActions", "SlowFastDetector",
]
