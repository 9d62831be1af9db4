"""The one schema of a saved model's ``config.json`` and of our safetensors metadata.

Both come from files a user may have been sent (``local-dir:``, ``hf-hub:``, a ``.safetensors``),
so every field is checked for type and range before anything is built from it: a
``fusion_kernel`` of 100000 or a ``num_classes`` of 10**12 must fail at once, naming the field,
not after gigabytes of allocation, and a NaN mean or a zero std must not turn every
probability into NaN. Failures raise :class:`~slowfast_zoo.errors.ConfigError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from slowfast_zoo.errors import ConfigError
from slowfast_zoo.registry import ARCHS
from slowfast_zoo.registry.records import PROTOCOL_FAMILIES, PYSF_SAMPLING_RULES, SAMPLING_RULES

__all__ = ["validate_config", "validate_metadata", "head_pool_value", "MAX_CLASSES", "MAX_VIEW_BYTES",
           "FEATURE_ORDERS"]

#: Largest classifier accepted from a file or an argument.
MAX_CLASSES = 100_000

# field -> (low, high) for the integers of the test protocol.
_TEST_INTS = {"clip_len": (1, 1024), "frame_interval": (1, 64), "num_clips": (1, 100),
              "resize_short_side": (32, 4096), "crop_size": (32, 4096), "num_crops": (1, 3),
              "val_num_clips": (1, 100), "val_crop_size": (32, 4096)}


def _fail(source: str, field: str, expected: str, value: Any) -> ConfigError:
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:80] + "..."
    return ConfigError(f"{source}: field {field!r} must be {expected}, got {shown}")


def _int(source: str, field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(source, field, f"an integer in [{low}, {high}]", value)
    return value


# What float32 (the model's precision) can hold: means and stds outside it turn every input into
# inf or every probability into NaN; a denormal std divides to inf.
_F32_MAX = 3.4028234663852886e38
_F32_TINY = 1.1754943508222875e-38
#: The most memory one float32 test view may take (3 x clip_len x crop x crop x 4 bytes); the
#: published protocols need under 100 MB.
MAX_VIEW_BYTES = 2 << 30


def _triple(source: str, field: str, value: Any, positive: bool) -> None:
    ok = isinstance(value, (list, tuple)) and len(value) == 3
    for v in value if ok else ():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            ok = False
            break
        try:
            f = float(v)  # a 400-digit JSON integer overflows here
        except OverflowError:
            ok = False
            break
        if not (math.isfinite(f) and abs(f) <= _F32_MAX) or (positive and not f >= _F32_TINY):
            ok = False
            break
    if not ok:
        raise _fail(source, field, "3 numbers that float32 holds" +
                    (f", each >= {_F32_TINY:.3g} (positive, not denormal)" if positive else ""), value)


def _view_fits(source: str, test: dict[str, Any], tau: int) -> None:
    clip_len = test.get("clip_len", 32)
    if clip_len < tau:
        raise _fail(source, "test.clip_len", f">= the architecture's tau ({tau}: the slow pathway "
                    f"takes every {tau}th frame)", clip_len)
    for crop_key in ("crop_size", "val_crop_size"):
        crop = test.get(crop_key, 256)
        need = 3 * clip_len * crop * crop * 4
        if need > MAX_VIEW_BYTES:
            raise _fail(source, f"test.{crop_key}", f"small enough that one float32 view of clip_len "
                        f"{clip_len} fits in {MAX_VIEW_BYTES >> 30} GiB (this asks for {need / 2**30:.1f} GiB)",
                        crop)


def _class_names(source: str, field: str, value: Any, num_classes: int | None) -> None:
    if not isinstance(value, list) or not all(isinstance(n, str) and len(n) <= 1000 for n in value):
        raise _fail(source, field, "a list of strings", value)
    if num_classes is not None and len(value) != num_classes:
        raise _fail(source, field, f"a list of num_classes = {num_classes} names", f"{len(value)} names")


def _fusion_kernel(source: str, value: Any) -> int:
    kernel = _int(source, "fusion_kernel", value, 1, 15)
    if kernel % 2 == 0:
        raise _fail(source, "fusion_kernel", "odd (a centred temporal kernel)", value)
    return kernel


#: The classifier's column orders (``ArchSpec.feature_order``).
FEATURE_ORDERS = ("fast_slow", "slow_fast")


def head_pool_value(source: str, field: str, value: Any) -> tuple[tuple[int, int, int], ...]:
    """A head pooling setting read from a file: ``[]`` (global average) or the slow and fast
    pathways' ``[t, h, w]`` kernels, each in [1, 1024].

    Raises:
        ConfigError: naming the field.

    Example:
        >>> head_pool_value("cfg", "head_pool", [[8, 7, 7], [32, 7, 7]])
        ((8, 7, 7), (32, 7, 7))
        >>> head_pool_value("cfg", "head_pool", [[8, 7]])
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.ConfigError: cfg: field 'head_pool' must be [] (global average) or two [t, h, w] kernels of integers in [1, 1024], got [[8, 7]]
    """
    ok = isinstance(value, list) and len(value) in (0, 2) and all(
        isinstance(k, list) and len(k) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1024 for v in k) for k in value)
    if not ok:
        raise _fail(source, field, "[] (global average) or two [t, h, w] kernels of integers in [1, 1024]", value)
    return tuple((int(k[0]), int(k[1]), int(k[2])) for k in value)


# The PyTorchVideo / PySlowFast protocol fields of TestProtocol: field -> allowed values.
_TEST_CHOICES: dict[str, tuple[Any, ...]] = {
    "family": PROTOCOL_FAMILIES, "score_activation": ("softmax", "sigmoid"),
    "view_combination": ("mean", "max"), "channel_order": ("RGB", "BGR"),
    "normalize_before_resize": (True, False), "crop_index": (0, 1, 2)}


def _pysf_protocol(source: str, test: dict[str, Any]) -> None:
    """The test protocol fields PyTorchVideo's and PySlowFast's weights add (a saved model of
    theirs carries them in ``config.json``)."""
    for key, choices in _TEST_CHOICES.items():
        value = test.get(key, choices[0])
        if not any(value is c or (type(value) is type(c) and value == c) for c in choices):
            raise _fail(source, f"test.{key}", f"one of {list(choices)}", value)
    fps = test.get("target_fps")
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= 1000):
        raise _fail(source, "test.target_fps", "null or a frame rate in (0, 1000]", fps)
    if test.get("clip_span") is not None:
        _int(source, "test.clip_span", test["clip_span"], 1, 1024 * 64)


def validate_config(config: Any, source: str) -> dict[str, Any]:
    """Check a ``config.json`` object (see :func:`slowfast_zoo.save_pretrained`); returns it.

    Raises:
        ConfigError: naming the first bad field.

    Example:
        >>> validate_config({"architecture": "slowfast_r50_4x16x1", "num_classes": 10}, "cfg")
        {'architecture': 'slowfast_r50_4x16x1', 'num_classes': 10}
        >>> validate_config({"architecture": "slowfast_r50_4x16x1", "num_classes": 10,
        ...                  "fusion_kernel": 4}, "cfg")
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.ConfigError: cfg: field 'fusion_kernel' must be odd (a centred temporal kernel), got 4
    """
    if not isinstance(config, dict):
        raise _fail(source, "config.json", "a JSON object", config)
    arch = config.get("architecture")
    if not isinstance(arch, str) or arch not in ARCHS:
        raise _fail(source, "architecture", f"one of {sorted(ARCHS)}", arch)
    num_classes = _int(source, "num_classes", config.get("num_classes"), 0, MAX_CLASSES)
    for key in ("tag", "base_weight"):
        if key in config and not (config[key] is None or isinstance(config[key], str) and len(config[key]) <= 200):
            raise _fail(source, key, "a string", config[key])
    if "fusion_kernel" in config:
        _fusion_kernel(source, config["fusion_kernel"])
    if "lateral_norm" in config and not isinstance(config["lateral_norm"], bool):
        raise _fail(source, "lateral_norm", "true or false", config["lateral_norm"])
    if "head_pool" in config:
        head_pool_value(source, "head_pool", config["head_pool"])
    if "feature_order" in config and config["feature_order"] not in FEATURE_ORDERS:
        raise _fail(source, "feature_order", f"one of {list(FEATURE_ORDERS)}", config["feature_order"])
    if "class_names" in config:
        _class_names(source, "class_names", config["class_names"], num_classes)
    for key in ("mean", "std"):
        if key in config:
            _triple(source, key, config[key], positive=key == "std")
    if "test" in config:
        test = config["test"]
        if not isinstance(test, dict):
            raise _fail(source, "test", "a JSON object (the test protocol)", test)
        for key, (low, high) in _TEST_INTS.items():
            if key in test:
                _int(source, f"test.{key}", test[key], low, high)
        _view_fits(source, test, ARCHS[arch].tau)
        if test.get("num_crops", 3) not in (1, 3):
            raise _fail(source, "test.num_crops", "1 or 3", test["num_crops"])
        if "average_clips" in test and test["average_clips"] not in ("prob", "score"):
            raise _fail(source, "test.average_clips", "'prob' or 'score'", test["average_clips"])
        rules = SAMPLING_RULES + PYSF_SAMPLING_RULES
        if "sampling_rule" in test and test["sampling_rule"] not in rules:
            raise _fail(source, "test.sampling_rule", f"one of {list(rules)}", test["sampling_rule"])
        _pysf_protocol(source, test)
        tmpl = test.get("filename_tmpl", "{}")
        if not isinstance(tmpl, str) or len(tmpl) > 255 or "{" not in tmpl or "/" in tmpl or "\x00" in tmpl:
            raise _fail(source, "test.filename_tmpl", "a file name template such as 'img_{:05d}.jpg'", tmpl)
    return config


def validate_metadata(meta: Mapping[str, str], source: str) -> None:
    """Check the fields of our safetensors metadata that loading uses (all values are strings).

    Raises:
        ConfigError: naming the first bad field.

    Example:
        >>> validate_metadata({"architecture": "slowfast_r50_4x16x1", "num_classes": "2",
        ...                    "class_names": '["a", "b"]'}, "w.safetensors")
        >>> validate_metadata({"num_classes": "many"}, "w.safetensors")
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.ConfigError: w.safetensors: field 'num_classes' must be an integer, got 'many'
    """
    if "architecture" in meta and meta["architecture"] not in ARCHS:
        raise _fail(source, "architecture", f"one of {sorted(ARCHS)}", meta["architecture"])
    if "fusion_kernel" in meta:
        try:
            kernel = int(meta["fusion_kernel"])
        except ValueError:
            raise _fail(source, "fusion_kernel", "an integer", meta["fusion_kernel"]) from None
        _fusion_kernel(source, kernel)
    if "lateral_norm" in meta and meta["lateral_norm"] not in ("True", "False"):
        raise _fail(source, "lateral_norm", "'True' or 'False'", meta["lateral_norm"])
    if "feature_order" in meta and meta["feature_order"] not in FEATURE_ORDERS:
        raise _fail(source, "feature_order", f"one of {list(FEATURE_ORDERS)}", meta["feature_order"])
    if "head_pool" in meta:
        try:
            pool = json.loads(meta["head_pool"])
        except (ValueError, RecursionError):
            raise _fail(source, "head_pool", "JSON", meta["head_pool"]) from None
        head_pool_value(source, "head_pool", pool)
    num_classes = None
    if "num_classes" in meta:
        try:
            num_classes = _int(source, "num_classes", int(meta["num_classes"]), 0, MAX_CLASSES)
        except ValueError:
            raise _fail(source, "num_classes", "an integer", meta["num_classes"]) from None
    if "class_names" in meta:
        try:
            names = json.loads(meta["class_names"])
        except (ValueError, RecursionError):
            raise _fail(source, "class_names", "a JSON list of strings", meta["class_names"]) from None
        _class_names(source, "class_names", names, num_classes)
