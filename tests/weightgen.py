"""The reference README's deterministic weight generator (rule "v1") and golden inputs.

Builds MMAction2-format state dicts from ``tests/data/reference/manifest_<arch>.json`` so
the golden logits recorded by running MMAction2 itself can be reproduced, and writes them as
real MMAction2-style checkpoint files.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import math
import sys
import types
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from slowfast_zoo._digest import sha256_file

REFERENCE = Path(__file__).parent / "data" / "reference"
ARCHS = ("r50_4x16x1", "r50_8x8x1", "r101_r50_4x16x1", "r101_8x8x1", "r152_r50_4x16x1")
#: The two architectures produced by MMAction2 1.2.0 for the extra checkpoints (issue 12).
EXTRA_ARCHS = ("r50_8x8x1_ln", "r50_16x8x1_sthv1")
#: Our model name of each reference architecture.
MODEL_NAMES = {**{a: f"slowfast_{a}" for a in ARCHS + EXTRA_ARCHS},
               "r50_16x8x1_sthv1": "slowfast_r50_16x8x1"}


def load_manifest(arch: str) -> dict:
    return json.loads((REFERENCE / f"manifest_{arch}.json").read_text())


def load_golden(arch: str) -> dict:
    return json.loads((REFERENCE / f"golden_{arch}_public.json").read_text())


def generate_tensor(key: str, shape: list[int]) -> torch.Tensor:
    """One tensor of rule v1: seeded by crc32 of the full key, drawn in float64, cast once."""
    if key.endswith("num_batches_tracked"):
        return torch.tensor(0, dtype=torch.int64)
    rng = np.random.default_rng(zlib.crc32(key.encode("utf-8")))
    if len(shape) >= 2:
        a = rng.standard_normal(shape) * math.sqrt(2.0 / math.prod(shape[1:]))
    elif key.endswith("conv3.bn.weight"):
        a = rng.uniform(0.1, 0.3, size=shape)
    elif key.endswith(".bn.weight"):
        a = rng.uniform(0.5, 1.0, size=shape)
    elif key.endswith(".bn.bias") or key.endswith(".running_mean"):
        a = rng.standard_normal(shape) * 0.1
    elif key.endswith(".running_var"):
        a = rng.uniform(0.5, 1.5, size=shape)
    else:
        a = rng.standard_normal(shape) * 0.1
    return torch.from_numpy(np.asarray(a).astype(np.float32))


def generate_state_dict(arch: str, *, manifest: dict | None = None,
                        fusion_kernel: int | None = None) -> "OrderedDict[str, torch.Tensor]":
    """The MMAction2-format state dict of ``arch`` with generated weights, in manifest order.

    ``fusion_kernel`` rewrites the four lateral conv shapes (to build e.g. the kernel-5 r50 8x8
    file); those tensors then no longer correspond to any golden output.
    """
    manifest = manifest or load_manifest(arch)
    sd: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, shape, _dtype in manifest["state_dict"]:
        if fusion_kernel is not None and "_lateral" in key:
            shape = [shape[0], shape[1], fusion_kernel, 1, 1]
        sd[key] = generate_tensor(key, shape)
    return sd


def weights_sha256(sd: "OrderedDict[str, torch.Tensor]") -> str:
    h = hashlib.sha256()
    for t in sd.values():
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def golden_input(golden: dict) -> torch.Tensor:
    spec = golden["input"]
    x = np.random.default_rng(spec["seed"]).standard_normal(spec["shape"]).astype(np.float32)
    return torch.from_numpy(x)


def write_mmaction2_checkpoint(sd: "OrderedDict[str, torch.Tensor]", directory: Path, stem: str,
                               *, with_optimizer: bool = False) -> Path:
    """Save like MMAction2 + ``tools/publish_model.py``: ``<stem>_<date>-<sha8>.pth``."""
    directory.mkdir(parents=True, exist_ok=True)
    ckpt = {
        "meta": {"mmcv_version": "1.4.0", "time": "Tue Jul 28 10:00:00 2020", "epoch": 256,
                 "iter": 123456, "mmaction_version": "0.13.0", "config": "model = dict(...)"},
        "state_dict": sd,
    }
    if with_optimizer:
        ckpt["optimizer"] = {"state": {}, "param_groups": [{"lr": 0.1, "momentum": 0.9}]}
    tmp = directory / f"{stem}.tmp"
    torch.save(ckpt, tmp)
    sha8 = hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]
    date = datetime.date(2020, 7, 28).strftime("%Y%m%d")
    final = directory / f"{stem}_{date}-{sha8}.pth"
    tmp.rename(final)
    return final


# ----------------------------------------------------------------- MMAction2 1.x (mmengine) files
#: Every construction or state restore of a fake mmengine object, in order (must stay empty
#: while slowfast_zoo reads a checkpoint).
CONSTRUCTED: list[str] = []


class HistoryBuffer:
    """Stands for mmengine.logging.history_buffer.HistoryBuffer in the files we write."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        CONSTRUCTED.append("HistoryBuffer.__init__")

    def __setstate__(self, state: dict) -> None:
        CONSTRUCTED.append("HistoryBuffer.__setstate__")
        self.__dict__.update(state)


class MessageHub:
    """Stands for mmengine.logging.message_hub.MessageHub (a hub pickled whole)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        CONSTRUCTED.append("MessageHub.__init__")

    def __reduce__(self):  # rebuilt by a call, as objects with custom reducers are
        return (MessageHub, ("train",), dict(self.__dict__))

    def __setstate__(self, state: dict) -> None:
        CONSTRUCTED.append("MessageHub.__setstate__")


FAKE_MMENGINE = {"mmengine.logging.history_buffer": HistoryBuffer,
                 "mmengine.logging.message_hub": MessageHub}


@contextlib.contextmanager
def fake_mmengine_importable() -> Iterator[None]:
    """Make the fake classes importable under mmengine's module names (pickle needs that to
    save them; a full unpickle could then build them)."""
    added = []
    for module, cls in FAKE_MMENGINE.items():
        cls.__module__ = module
        parts = module.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name not in sys.modules:
                sys.modules[name] = types.ModuleType(name)
                added.append(name)
        setattr(sys.modules[module], cls.__name__, cls)
    try:
        yield
    finally:
        for name in reversed(added):
            del sys.modules[name]


def write_mmengine_checkpoint(sd: "OrderedDict[str, torch.Tensor]", directory: Path, stem: str, *,
                              training_state: bool = False) -> Path:
    """Save like MMAction2 1.x (mmengine's ``save_checkpoint`` + ``publish_model``):
    ``<stem>_<date>-<sha8>.pth`` holding ``{"meta", "state_dict"}``; ``training_state`` keeps
    what a user's own training checkpoint has (``message_hub`` with mmengine objects, numpy
    arrays, ``optimizer``, ``param_schedulers``)."""
    directory.mkdir(parents=True, exist_ok=True)
    ckpt: dict = {
        "meta": {"cfg": "model = dict(type='Recognizer3D', backbone=dict(type='ResNet3dSlowFast'))",
                 "seed": 1234, "experiment_name": "slowfast_20220818_101010", "time": "20220818_101010",
                 "mmengine_version": "0.10.7", "epoch": 256, "iter": 1_000_000,
                 "dataset_meta": None},
        "state_dict": sd,
    }
    if training_state:
        with fake_mmengine_importable():
            buffer = HistoryBuffer.__new__(HistoryBuffer)
            buffer.__dict__.update(max_length=1000000, _log_history=np.arange(4, dtype=np.float64),
                                   _count_history=np.ones(4, dtype=np.int64))
            hub = MessageHub.__new__(MessageHub)
            hub.__dict__.update(instance_name="train", log_scalars={"train/loss": buffer})
            ckpt["message_hub"] = {"log_scalars": {"train/loss": buffer, "train/lr": buffer},
                                   "runtime_info": {"epoch": 256, "iter": 1_000_000},
                                   "resumed_keys": {"epoch": True}, "hub": hub}
            ckpt["meta"]["seed"] = np.int64(1234)
            ckpt["optimizer"] = {"state": {0: {"momentum_buffer": torch.zeros(3)}},
                                 "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": [0]}]}
            ckpt["param_schedulers"] = [{"start_factor": 0.1, "base_lrs": [0.1], "last_step": 34},
                                        {"T_max": 256, "eta_min": 0, "last_step": 256}]
            tmp = directory / f"{stem}.tmp"
            torch.save(ckpt, tmp)
    else:
        tmp = directory / f"{stem}.tmp"
        torch.save(ckpt, tmp)
    sha8 = hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]
    final = directory / f"{stem}_20220818-{sha8}.pth"
    tmp.rename(final)
    return final


# ----------------------------------------------------------------- PyTorchVideo / PySlowFast (issue 23)
#: Copied from the golden-data workshop's pysf folder (see tests/data/pysf/README.md).
PYSF = Path(__file__).parent / "data" / "pysf"


def load_pysf(name: str) -> dict:
    """A file of tests/data/pysf, e.g. ``"manifest_psf_slowfast_r50_8x8"``."""
    return json.loads((PYSF / f"{name}.json").read_text())


def v1_kind(key: str, shape: list[int], rule: str) -> str:
    """What rule ``v1-ptv`` / ``v1-psf`` draws for a key: ``count``, ``gamma``, ``gamma_last``,
    ``beta_mean``, ``var``, ``w`` (conv / linear weight) or ``bias`` (the linear bias)."""
    module, _, param = key.rpartition(".")
    if param == "num_batches_tracked":
        return "count"
    last_module = module.rpartition(".")[2]
    if rule == "v1-ptv":  # BatchNorm modules: norm, norm_a/b/c, branch1_norm
        is_bn, is_last = last_module in ("norm", "norm_a", "norm_b", "norm_c", "branch1_norm"), module.endswith("norm_c")
    elif rule == "v1-psf":  # BatchNorm modules: bn, a_bn/b_bn/c_bn, branch1_bn
        is_bn, is_last = last_module == "bn" or last_module.endswith("_bn"), module.endswith("branch2.c_bn")
    else:
        raise ValueError(rule)
    if is_bn:
        if param == "weight":
            return "gamma_last" if is_last else "gamma"
        return "var" if param == "running_var" else "beta_mean"
    return "w" if len(shape) >= 2 else "bias"


def draw_v1(seed_key: str, shape: list[int], kind: str) -> torch.Tensor:
    """One tensor of rules v1-ptv / v1-psf: rng seeded by crc32 of the key, float64 draws cast once."""
    if kind == "count":
        return torch.tensor(0, dtype=torch.int64)
    rng = np.random.default_rng(zlib.crc32(seed_key.encode("utf-8")))
    if kind == "w":
        a = rng.standard_normal(shape) * math.sqrt(2.0 / math.prod(shape[1:]))
    elif kind == "gamma_last":
        a = rng.uniform(0.1, 0.3, size=shape)
    elif kind == "gamma":
        a = rng.uniform(0.5, 1.0, size=shape)
    elif kind == "var":
        a = rng.uniform(0.5, 1.5, size=shape)
    else:  # beta_mean, bias
        a = rng.standard_normal(shape) * 0.1
    return torch.from_numpy(np.asarray(a).astype(np.float32))


def generate_pysf_state_dict(keys_and_shapes: list, rule: str, *,
                             strip_model_prefix: bool = True) -> "OrderedDict[str, torch.Tensor]":
    """The state dict of rule ``v1-ptv`` or ``v1-psf`` in the given key order (a manifest's).

    v1-ptv seeds with the key without PySlowFast's ``model.`` prefix (its ``PTVSlowFast``), except
    for the AVA detector, whose own keys start with ``model.`` (``strip_model_prefix=False``)."""
    sd: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, shape, *_ in keys_and_shapes:
        strip = strip_model_prefix and rule == "v1-ptv" and key.startswith("model.")
        seed_key = key[len("model."):] if strip else key
        sd[key] = draw_v1(seed_key, list(shape), v1_kind(seed_key, list(shape), rule))
    return sd


def pysf_input(spec: dict) -> torch.Tensor:
    """The golden input ``[N, 3, T, H, W]``: ``default_rng(seed).standard_normal(shape)`` as float32."""
    x = np.random.default_rng(spec["seed"]).standard_normal(spec["shape"]).astype(np.float32)
    return torch.from_numpy(x)


# --------------------------------------------------------------------------- generated files, built once
class Checkpoints:
    """Generated MMAction2 state dicts and checkpoint files, each built at most once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sd: dict[str, dict[str, torch.Tensor]] = {}
        self._files: dict[str, Path] = {}
        self._sha: dict[str, str] = {}

    def state_dict(self, arch: str, fusion_kernel: int | None = None) -> dict[str, torch.Tensor]:
        key = f"{arch}_k{fusion_kernel}" if fusion_kernel else arch
        if key not in self._sd:
            self._sd[key] = generate_state_dict(arch, fusion_kernel=fusion_kernel)
        return self._sd[key]

    def sha256(self, arch: str) -> str:
        if arch not in self._sha:
            self._sha[arch] = sha256_file(self.file(arch))
        return self._sha[arch]

    def file(self, arch: str, fusion_kernel: int | None = None) -> Path:
        key = f"{arch}_k{fusion_kernel}" if fusion_kernel else arch
        if key not in self._files:
            # One of them carries the training-time optimizer entry, which must be ignored.
            self._files[key] = write_mmaction2_checkpoint(
                self.state_dict(arch, fusion_kernel), self.root, f"slowfast_{key}_generated",
                with_optimizer=arch == "r50_8x8x1")
        return self._files[key]


LN, SS = "r50_8x8x1_ln", "r50_16x8x1_sthv1"


class Files:
    """Generated state dicts and checkpoint files of the two architectures, built once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sd: dict[str, dict[str, torch.Tensor]] = {}
        self._files: dict[str, Path] = {}

    def state_dict(self, arch: str) -> dict[str, torch.Tensor]:
        if arch not in self._sd:
            self._sd[arch] = generate_state_dict(arch)
        return self._sd[arch]

    def file(self, kind: str) -> Path:
        """``ln_mmengine_training``, ``ln_0x``, ``sthv1_0x`` or ``r50_8x8x1_0x``."""
        if kind not in self._files:
            if kind == "ln_mmengine_training":
                path = write_mmengine_checkpoint(self.state_dict(LN), self.root / "mm1",
                                                 "slowfast_r50_8xb8-8x8x1-steplr-256e_kinetics400-rgb",
                                                 training_state=True)
            elif kind == "ln_0x":
                path = write_mmaction2_checkpoint(self.state_dict(LN), self.root / "0x", "slowfast_ln_gen")
            elif kind == "sthv1_0x":
                path = write_mmaction2_checkpoint(self.state_dict(SS), self.root / "0x",
                                                  "slowfast_r50_16x8x1_22e_sthv1_rgb", with_optimizer=True)
            elif kind == "r50_8x8x1_0x":
                path = write_mmaction2_checkpoint(generate_state_dict("r50_8x8x1"), self.root / "0x",
                                                  "slowfast_r50_8x8x1_gen")
            else:
                raise KeyError(kind)
            self._files[kind] = path
        return self._files[kind]



# ----------------------------------------------------------------------- AVA detectors (issue 24)
DETECTION = Path(__file__).parent / "data" / "detection"
#: Golden variant -> (manifest, our architecture) of tests/data/detection (copied from
#: ../shared/reference/detection).
DETECTION_VARIANTS = {
    "mm_r50_4x16x1": ("mm_r50_4x16x1", "slowfast_r50_4x16x1_ava"),
    "mm_r50_8x8x1": ("mm_r50_8x8x1", "slowfast_r50_8x8x1_ava"),
    "mm_r50_8x8x1_temporal_max": ("mm_r50_8x8x1", "slowfast_r50_8x8x1_ava_tmax"),
    "mm_r50_4x16x1_context": ("mm_r50_4x16x1_context", "slowfast_r50_4x16x1_ava_context"),
    "mm_r50_8x8x1_acrn": ("mm_r50_8x8x1_acrn", "slowfast_r50_8x8x1_ava_acrn"),
    "mm_r50_4x16x1_multisports": ("mm_r50_4x16x1_multisports", "slowfast_r50_4x16x1_multisports"),
    "ptv_slowfast_r50_detection": ("ptv_slowfast_r50_detection", "ptv_slowfast_r50_detection"),
}


def load_detection(name: str) -> dict:
    """A file of tests/data/detection, e.g. ``"golden_mm_r50_4x16x1_public"``."""
    return json.loads((DETECTION / f"{name}.json").read_text())


def detection_state_dict(manifest_name: str) -> "OrderedDict[str, torch.Tensor]":
    """A detector's state dict in its source's key names, generated by the manifest's rule.

    MMAction2's files follow rule v1; PyTorchVideo's detector rule v1-ptv seeded with its own
    ``model.``-prefixed keys."""
    manifest = load_detection(f"manifest_{manifest_name}")
    if manifest_name.startswith("ptv"):
        return generate_pysf_state_dict(manifest["state_dict"], "v1-ptv", strip_model_prefix=False)
    return generate_state_dict(manifest_name, manifest=manifest)
