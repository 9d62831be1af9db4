"""Immutable records describing architectures, test/train protocols and pretrained weights.

These are plain frozen dataclasses: the data itself lives in ``archs.py`` (the five
networks) and ``pretrained.py`` (the eight published MMAction2 checkpoints), apart
from the layer code in ``slowfast_zoo.models``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["ArchSpec", "TestProtocol", "TrainProtocol", "PretrainedCfg"]

# ImageNet statistics on the 0-255 scale, RGB order (MMAction2's img_norm_cfg).
KINETICS_MEAN: tuple[float, float, float] = (123.675, 116.28, 103.53)
KINETICS_STD: tuple[float, float, float] = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class ArchSpec:
    """Hyper-parameters of one SlowFast network (SPEC.md section 2.1).

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

    def replace(self, **changes: Any) -> "ArchSpec":
        """Return a copy with some fields changed (e.g. ``fusion_kernel=5``)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class TestProtocol:
    """How a weight's published accuracy was measured (SPEC.md sections 3, 4.1).

    Defaults are the protocol of all eight checkpoints: 10 clips of 32 frames every
    2nd frame, short side resized to 256, three 256x256 crops, softmax averaged over
    the 30 views.
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

    @property
    def num_views(self) -> int:
        """Views per video (clips x crops), 30 for the published protocol."""
        return self.num_clips * self.num_crops


@dataclass(frozen=True)
class TrainProtocol:
    """The training pipeline of SPEC.md section 4.7 (shared by all eight weights)."""

    clip_len: int = 32
    frame_interval: int = 2
    num_clips: int = 1
    resize_short_side: int = 256
    area_range: tuple[float, float] = (0.08, 1.0)
    aspect_ratio_range: tuple[float, float] = (3 / 4, 4 / 3)
    crop_size: int = 224
    flip_ratio: float = 0.5


@dataclass(frozen=True)
class PretrainedCfg:
    """Everything known about one published weight file (``arch.tag``).

    Returned by :func:`slowfast_zoo.get_pretrained_cfg` and attached to every model as
    ``model.pretrained_cfg``.

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
    train_resolution: int
    train_data: str
    train_gpus: str
    inference_speed_video_per_s: float | None
    gpu_memory_mb: int
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
    hf_hub_id: str | None = None

    def transforms(self, train: bool = False) -> Callable:
        """The preprocessing this weight was evaluated (or trained) with.

        Returns:
            A callable mapping sampled uint8 frames ``[M, H, W, 3]`` to float views
            ``[V, 3, T, H', W']``; see :func:`slowfast_zoo.data.test_transform`.
        """
        from slowfast_zoo import data  # local import: data pulls in PyAV

        return data.train_transform(self) if train else data.test_transform(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict of the record (class names included)."""
        return dataclasses.asdict(self)
