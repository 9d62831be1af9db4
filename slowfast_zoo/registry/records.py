"""Immutable records describing architectures, test/train protocols and pretrained weights.

These are plain frozen dataclasses: the data itself lives in ``archs.py`` (the networks) and
``pretrained.py`` (the published MMAction2 checkpoints), apart from the layer code in
``slowfast_zoo.models``. This module is a leaf: it imports nothing of slowfast_zoo, so every
other part (models, data, weights) may read these records. The protocol constants (Kinetics
mean/std, the test and train protocols) are defined here and only here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ArchSpec", "TestProtocol", "TrainProtocol", "PretrainedCfg"]

#: Test-mode SampleFrames rules: the MMAction2 generation whose clip placement is reproduced.
SAMPLING_RULES: tuple[str, ...] = ("0.x", "1.x")

# ImageNet statistics on the 0-255 scale, RGB order (MMAction2's img_norm_cfg).
KINETICS_MEAN: tuple[float, float, float] = (123.675, 116.28, 103.53)
KINETICS_STD: tuple[float, float, float] = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class ArchSpec:
    """Hyper-parameters of one SlowFast network (docs/SPEC.md section 2.1).

    Attributes:
        name: public architecture name, e.g. ``"slowfast_r50_4x16x1"``.
        slow_depth: ResNet depth of the slow pathway (50, 101 or 152).
        fast_depth: ResNet depth of the fast pathway.
        tau: temporal stride of the slow pathway on the 32-frame input (MMAction2 ``resample_rate``).
        alpha: frame-rate ratio fast/slow (MMAction2 ``speed_ratio``); also the lateral conv stride.
        channel_ratio: slow width / fast width (beta^-1).
        fusion_kernel: temporal kernel of the four lateral (fast -> slow) convs.
        default_tag: the weight tag a bare architecture name resolves to.
        num_classes: classifier outputs of the published weights.
        dropout: dropout before the classifier (training only).
        slow_base_channels: slow stem width (the fast one is ``slow_base_channels // channel_ratio``).
        slow_stem_kernel, fast_stem_kernel: temporal kernel of each pathway's 7x7 stem conv.
        slow_inflate, fast_inflate: per residual stage, whether its bottlenecks' first conv is
            temporal (3x1x1) rather than 1x1x1.
        lateral_expansion: a lateral conv maps C fast channels to ``lateral_expansion * C``.
        lateral_norm: each lateral conv is followed by BatchNorm and ReLU (MMAction2's
            ``lateral_norm=True``, the step-LR and multigrid r50 8x8 files).
        num_frames: frames of the network input clip the weights were trained and tested
            with (32 for Kinetics-400, 64 for Something-Something V1); ``tau`` and ``alpha``
            are strides on that clip.

    Example:
        >>> import slowfast_zoo as sz
        >>> spec = sz.registry.ARCHS["slowfast_r50_16x8x1"]
        >>> spec.num_frames, spec.num_classes, spec.default_tag
        (64, 174, 'sthv1')
    """

    name: str
    slow_depth: int
    fast_depth: int
    tau: int
    alpha: int
    channel_ratio: int
    fusion_kernel: int
    default_tag: str
    num_classes: int = 400
    dropout: float = 0.5
    slow_base_channels: int = 64
    slow_stem_kernel: int = 1
    fast_stem_kernel: int = 5
    slow_inflate: tuple[bool, bool, bool, bool] = (False, False, True, True)
    fast_inflate: tuple[bool, bool, bool, bool] = (True, True, True, True)
    lateral_expansion: int = 2
    lateral_norm: bool = False
    num_frames: int = 32

    def replace(self, **changes: Any) -> "ArchSpec":
        """Return a copy with some fields changed (e.g. ``fusion_kernel=5``).

        Example:
            >>> spec = ArchSpec("x", 50, 50, tau=8, alpha=8, channel_ratio=8, fusion_kernel=7,
            ...                 default_tag="t")
            >>> spec.replace(fusion_kernel=5).fusion_kernel, spec.fusion_kernel
            (5, 7)
        """
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class TestProtocol:
    """How a weight's published accuracy was measured (docs/SPEC.md sections 3, 4.1).

    Defaults are the protocol of the eight 0.x Kinetics-400 checkpoints: 10 clips of 32
    frames every 2nd frame, short side resized to 256, three 256x256 crops, softmax averaged
    over the 30 views.

    ``sampling_rule`` is the MMAction2 generation whose test-mode ``SampleFrames`` placed the
    clips (``"0.x"``: docs/SPEC.md 4.2; ``"1.x"``: SPEC section 9 item 1), and
    ``filename_tmpl`` the rawframe file names of the weight's test set (Something-Something V1:
    ``"{:05}.jpg"``).

    Example:
        >>> TestProtocol().num_views, TestProtocol(num_clips=1, num_crops=1).num_views
        (30, 1)
    """

    clip_len: int = 32
    frame_interval: int = 2
    num_clips: int = 10
    resize_short_side: int = 256
    crop_size: int = 256
    num_crops: int = 3
    average_clips: str = "prob"
    # Validation during training: 1 clip, centre crop 224.
    val_num_clips: int = 1
    val_crop_size: int = 224
    sampling_rule: str = "0.x"
    filename_tmpl: str = "img_{:05d}.jpg"

    @property
    def num_views(self) -> int:
        """Views per video (clips x crops), 30 for the published protocol.

        Example:
            >>> TestProtocol(num_clips=4, num_crops=3).num_views
            12
        """
        return self.num_clips * self.num_crops


@dataclass(frozen=True)
class TrainProtocol:
    """The training pipeline of docs/SPEC.md section 4.7 (the Kinetics-400 weights).

    ``resize_short_side=None`` crops the decoded frames directly (the Something-Something V1
    config has no ``Resize((-1, 256))`` before ``RandomResizedCrop``). ``flip_label_map`` lists
    the ``(label, label when flipped)`` pairs of MMAction2's ``Flip(flip_label_map=...)``: classes
    such as "pushing something from left to right" swap when the clip is mirrored.

    Example:
        >>> import slowfast_zoo as sz
        >>> sz.get_pretrained_cfg("slowfast_r50_4x16x1").train.crop_size
        224
        >>> sz.get_pretrained_cfg("slowfast_r50_16x8x1").train.flip_label_map[:2]
        ((2, 4), (4, 2))
    """

    clip_len: int = 32
    frame_interval: int = 2
    num_clips: int = 1
    resize_short_side: int | None = 256
    area_range: tuple[float, float] = (0.08, 1.0)
    aspect_ratio_range: tuple[float, float] = (3 / 4, 4 / 3)
    crop_size: int = 224
    flip_ratio: float = 0.5
    flip_label_map: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class PretrainedCfg:
    """Everything known about one published weight file (``arch.tag``).

    Returned by :func:`slowfast_zoo.get_pretrained_cfg` and attached to every model as
    ``model.pretrained_cfg``. ``mmaction2`` is the generation that produced the file (``"0.x"``:
    mmcv checkpoints, rawframe test sets; ``"1.x"``: mmengine checkpoints, decord videos, the
    1.x test sampling rule); ``train_resolution`` is the published phrase ("short-side 320",
    "224x224 (train crop)"); ``alternative_urls`` are tried in order when ``url`` fails.

    Example:
        >>> import slowfast_zoo as sz
        >>> cfg = sz.get_pretrained_cfg("slowfast_r50_4x16x1")
        >>> cfg.name, cfg.top1
        ('slowfast_r50_4x16x1.k400_320p', 75.64)
    """

    name: str
    architecture: str
    tag: str
    url: str
    file_name: str
    sha256_prefix: str
    source_config: str
    num_classes: int
    class_names: tuple[str, ...] = field(repr=False)
    top1: float
    top5: float
    train_resolution: str
    train_data: str
    train_gpus: str
    inference_speed_video_per_s: float | None
    gpu_memory_mb: int | None
    num_params: int
    gflops: float
    fusion_kernel: int
    test: TestProtocol = TestProtocol()
    train: TrainProtocol = TrainProtocol()
    mean: tuple[float, float, float] = KINETICS_MEAN
    std: tuple[float, float, float] = KINETICS_STD
    data_start_index: int = 1
    license: str = "Apache-2.0"
    citation: str = ""
    notes: str = ""
    mmaction2: str = "0.x"
    dataset: str = "Kinetics-400"
    alternative_urls: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict of the record (class names included).

        Example:
            >>> import json, slowfast_zoo as sz
            >>> d = sz.get_pretrained_cfg("slowfast_r50_4x16x1").to_dict()
            >>> d["test"]["num_clips"], len(d["class_names"]), len(json.dumps(d)) > 0
            (10, 400, True)
        """
        return dataclasses.asdict(self)
