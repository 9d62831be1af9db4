"""Immutable records describing architectures, test/train protocols and pretrained weights.

These are plain frozen dataclasses: the data itself lives in ``archs.py`` (the networks) and
``pretrained*.py`` (the published MMAction2, PyTorchVideo and PySlowFast checkpoints), apart
from the layer code in ``slowfast_zoo.models``. This module is a leaf: it imports nothing of
slowfast_zoo, so every other part (models, data, weights) may read these records. The protocol
constants (mean/std, the test and train protocols) are defined here and only here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ArchSpec", "RoISpec", "TestProtocol", "TrainProtocol", "DetectionProtocol", "PretrainedCfg"]

#: Test-mode SampleFrames rules: the MMAction2 generation whose clip placement is reproduced.
SAMPLING_RULES: tuple[str, ...] = ("0.x", "1.x")

#: Whose test pipeline a protocol is: MMAction2's, PySlowFast's ``Ptv*`` datasets (the
#: PyTorchVideo zoo's numbers) or PySlowFast's native datasets (its caffe2 and multigrid zoo).
PROTOCOL_FAMILIES: tuple[str, ...] = ("mmaction2", "ptv", "psf")

#: Frame selection of the ``ptv`` / ``psf`` protocols (``TestProtocol.sampling_rule``). The three
#: ``ptv_*`` are PyTorchVideo's ``ConstantClipsPerVideoSampler`` in its historical behaviours:
#: ``ptv_2021_04`` (initial release to 2021-10-21: float arithmetic, clip k starts at
#: k * max_start / clips, end-inclusive frame selection; the zoo's numbers were made with it),
#: ``ptv_0_1_5`` (to 2022-04-28, = PyPI 0.1.5: Fractions, ``[start, end)``) and ``ptv_pinned``
#: (later: k * max_start / (clips - 1), the last clip ends at the video's end). ``psf_decoder``:
#: PySlowFast's ``decoder.get_start_end_idx`` / ``temporal_sampling`` on the video resampled to
#: ``target_fps``; ``segment_middle``: the middle frame of each of ``clip_len`` equal segments
#: (Something-Something V2, both frameworks); ``psf_charades``: ``clip_len`` frames every
#: ``frame_interval``-th of the frame folder, clip k starting at round(k * gap / (clips - 1)).
PYSF_SAMPLING_RULES: tuple[str, ...] = (
    "ptv_2021_04", "ptv_0_1_5", "ptv_pinned", "psf_decoder", "segment_middle", "psf_charades")

# ImageNet statistics on the 0-255 scale, RGB order (MMAction2's img_norm_cfg).
KINETICS_MEAN: tuple[float, float, float] = (123.675, 116.28, 103.53)
KINETICS_STD: tuple[float, float, float] = (58.395, 57.12, 57.375)

# PySlowFast / PyTorchVideo's DATA.MEAN 0.45 and DATA.STD 0.225 on [0, 1] frames, written on the
# 0-255 scale of the fields that hold them (0.45 * 255, 0.225 * 255: both exact in binary), so
# that (x - 114.75) / 57.375 == (x / 255 - 0.45) / 0.225.
PYSF_MEAN: tuple[float, float, float] = (114.75, 114.75, 114.75)
PYSF_STD: tuple[float, float, float] = (57.375, 57.375, 57.375)


@dataclass(frozen=True)
class RoISpec:
    """The action-detection head of a detector architecture (docs/SPEC.md section 12).

    MMAction2's ``FastRCNN`` and PyTorchVideo's ``create_slowfast_with_roi_head`` compute the same
    chain (:mod:`slowfast_zoo.models.roi`) with these settings.

    Attributes:
        output_size: RoIAlign output cells per side (MMAction2 8, PyTorchVideo 7).
        aligned: RoIAlign's ``aligned`` flag.
        temporal_pool: ``"avg"`` or ``"max"`` over each pathway's time axis (MMAction2's
            ``temporal_pool_mode``).
        with_global: append the clip's whole map pooled to ``output_size`` cells (MMAction2's
            ``with_global``: 4608 channels into the classifier).
        shared_head: ``""`` or ``"acrn"`` (MMAction2's actor-context relation head).
        background_class: the classifier has a background row 0 (MMAction2's AVA files), kept
            in ``fc`` and dropped from every output.
        score_activation: ``"sigmoid"`` (multi-label AVA) or ``"softmax"`` (MultiSports).

    Example:
        >>> RoISpec().output_size, RoISpec().background_class
        (8, True)
    """

    output_size: int = 8
    aligned: bool = True
    temporal_pool: Literal["avg", "max"] = "avg"
    with_global: bool = False
    shared_head: Literal["", "acrn"] = ""
    background_class: bool = True
    score_activation: Literal["sigmoid", "softmax"] = "sigmoid"


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
        slow_sampling: how the slow clip is taken from the input clip: ``"stride"`` keeps
            frames 0, tau, 2*tau, ... (MMAction2's nearest-neighbour resampling);
            ``"linspace"`` keeps ``index_select(linspace(0, T - 1, T // alpha).long())`` of the
            fast clip (PySlowFast's ``pack_pathway_output``; with T=32, alpha=4: frames 0, 4, 8,
            13, 17, 22, 26, 31).
        inflated_blocks: per residual stage, how many leading bottlenecks of an inflated stage
            take the temporal kernel, the rest being 1x1x1 (PySlowFast's ``NUM_BLOCK_TEMP_KERNEL``,
            both pathways); empty (the default): every block of an inflated stage.
        head_pool: ``(slow, fast)`` kernels of the head's ``AvgPool3d`` (stride 1), the training
            crop's ``[T/alpha | T, crop/32, crop/32]``: a larger input gives several head positions,
            each classified (PySlowFast / PyTorchVideo). Empty (the default): global average
            pooling (MMAction2, and PySlowFast's multigrid short-cycle weights).
        feature_order: order of the pooled pathways in the classifier's input: ``"fast_slow"``
            (MMAction2: 256 fast channels, then 2048 slow) or ``"slow_fast"`` (PySlowFast and
            PyTorchVideo); the classifier's weight columns follow it.
        spatial_strides: spatial stride of each residual stage (detectors: res5 stride 1, so
            the maps are at 1/16 of the input).
        res5_dilation: spatial dilation of res5's 3x3 convs (PyTorchVideo's detector: 2).
        roi: the action-detection head; ``None`` for a video classifier. A detector's
            ``num_classes`` counts actions, background excluded.

    Example:
        >>> import slowfast_zoo as sz
        >>> spec = sz.registry.ARCHS["slowfast_r50_16x8x1"]
        >>> spec.num_frames, spec.num_classes, spec.default_tag
        (64, 174, 'sthv1')
        >>> psf = sz.registry.ARCHS["pysf_slowfast_r50_8x8"]
        >>> psf.slow_sampling, psf.head_pool, psf.feature_order
        ('linspace', ((8, 7, 7), (32, 7, 7)), 'slow_fast')
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
    slow_sampling: Literal["stride", "linspace"] = "stride"
    inflated_blocks: tuple[int, ...] = ()
    head_pool: tuple[tuple[int, int, int], ...] = ()
    feature_order: Literal["fast_slow", "slow_fast"] = "fast_slow"
    spatial_strides: tuple[int, int, int, int] = (1, 2, 2, 2)
    res5_dilation: int = 1
    roi: RoISpec | None = None

    @property
    def task(self) -> str:
        """``"detection"`` for a spatio-temporal action detector, else ``"recognition"``."""
        return "recognition" if self.roi is None else "detection"

    def replace(self, **changes: Any) -> "ArchSpec":
        """Return a copy with some fields changed (e.g. ``fusion_kernel=5``).

        Example:
            >>> spec = ArchSpec("x", 50, 50, tau=8, alpha=8, channel_ratio=8, fusion_kernel=7,
            ...                 default_tag="t")
            >>> spec.replace(fusion_kernel=5).fusion_kernel, spec.fusion_kernel
            (5, 7)
        """
        return dataclasses.replace(self, **changes)

    def for_weight(self, cfg: "PretrainedCfg") -> "ArchSpec":
        """The network a weight was trained with: this spec with the weight's own settings.

        Three settings belong to a weight rather than to its architecture: the lateral convs'
        temporal kernel (``cfg.fusion_kernel``: MMAction2's ``slowfast_r50_8x8x1.k400_256p`` file
        has 5 where its architecture has 7), the head of PySlowFast's multigrid short-cycle
        weights (``cfg.global_pool_head``: global average pooling instead of ``head_pool``) and
        the classifier size (one network carries Kinetics-400, Something-Something V2 and
        Charades heads: ``pysf_slowfast_r50_8x8.charades_ptv`` has 157 classes).

        Example:
            >>> import slowfast_zoo as sz
            >>> spec = sz.registry.ARCHS["slowfast_r50_8x8x1"]
            >>> spec.for_weight(sz.get_pretrained_cfg("slowfast_r50_8x8x1.k400_256p")).fusion_kernel
            5
            >>> psf = sz.registry.ARCHS["pysf_slowfast_r50_8x8"]
            >>> psf.for_weight(sz.get_pretrained_cfg("pysf_slowfast_r50_8x8.k400_multigrid")).head_pool
            ()
            >>> psf.for_weight(sz.get_pretrained_cfg("pysf_slowfast_r50_8x8.charades_ptv")).num_classes
            157
        """
        changes: dict[str, Any] = {}
        if cfg.fusion_kernel != self.fusion_kernel:
            changes["fusion_kernel"] = cfg.fusion_kernel
        if cfg.global_pool_head and self.head_pool:
            changes["head_pool"] = ()
        if cfg.num_classes != self.num_classes:
            changes["num_classes"] = cfg.num_classes
        return self.replace(**changes) if changes else self


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

    The fields after ``filename_tmpl`` describe the PyTorchVideo and PySlowFast protocols (data
    only; their defaults are MMAction2's, so its records keep their values):

    * ``family``: ``"mmaction2"``, ``"ptv"`` (PySlowFast's ``Ptvkinetics`` / ``Ptvssv2`` /
      ``Ptvcharades``, which made the PyTorchVideo zoo's numbers) or ``"psf"`` (PySlowFast's
      own ``Kinetics`` / ``Ssv2`` / ``Charades``). For ``ptv`` / ``psf`` ``sampling_rule`` is one
      of ``PYSF_SAMPLING_RULES``; ``clip_len`` is ``DATA.NUM_FRAMES``, ``frame_interval``
      ``DATA.SAMPLING_RATE`` (unused by ``segment_middle``), ``num_clips``
      ``TEST.NUM_ENSEMBLE_VIEWS``, ``num_crops`` ``TEST.NUM_SPATIAL_CROPS``.
    * ``target_fps``: the frame rate clips are measured on (PySlowFast's ``DATA.TARGET_FPS``,
      30): a clip covers ``clip_span / target_fps`` seconds of the video. ``None``: clips are
      counted in the file's own frames (MMAction2, PySlowFast's SSv2 and Charades frame folders).
    * ``clip_span``: frames one clip covers; ``None`` means ``clip_len * frame_interval``
      (Charades takes ``(clip_len - 1) * frame_interval + 1``).
    * ``crop_index``: with one crop, its position among the three uniform crops (0 left/top, 1
      centre, 2 right/bottom): PySlowFast's single SSv2 crop is 0, not the centre.
    * ``normalize_before_resize``: PyTorchVideo and PySlowFast normalize the frames, then resize
      (MMAction2 the other way round).
    * ``score_activation``: ``"softmax"`` or ``"sigmoid"`` (multi-label Charades), applied per
      view (PySlowFast: at every head position, then averaged); ``view_combination``: how the
      views' scores combine, ``"mean"`` (PySlowFast's ``"sum"`` ranks the same) or ``"max"``
      (Charades).
    * ``channel_order``: the model input's channel order, RGB for every weight here
      (PySlowFast's SSv2/Charades loaders read BGR and reverse it: SlowFast#298).

    ``filename_tmpl`` and the ``val_*`` fields are MMAction2's; PySlowFast's frame lists name
    their frames themselves.

    Example:
        >>> TestProtocol().num_views, TestProtocol(num_clips=1, num_crops=1).num_views
        (30, 1)
        >>> TestProtocol().family, TestProtocol().span
        ('mmaction2', 64)
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
    family: str = "mmaction2"
    target_fps: float | None = None
    clip_span: int | None = None
    crop_index: int = 1
    normalize_before_resize: bool = False
    score_activation: str = "softmax"
    view_combination: str = "mean"
    channel_order: str = "RGB"

    @property
    def span(self) -> int:
        """Frames one clip covers (``clip_span``, else ``clip_len * frame_interval``).

        Example:
            >>> TestProtocol(clip_len=32, frame_interval=2, clip_span=63).span
            63
        """
        return self.clip_len * self.frame_interval if self.clip_span is None else self.clip_span

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
class DetectionProtocol:
    """How a detection weight's published frame-mAP was measured (docs/SPEC.md section 12).

    One clip per keyframe (MMAction2's ``SampleAVAFrames(clip_len, frame_interval,
    test_mode=True)``, centred on the keyframe), the short side resized to ``resize_short_side``
    with the boxes scaled alike, no crop; person boxes from ``proposals`` (kept at score >=
    ``proposal_score_threshold``, or the best ones if none reaches it, at most
    ``max_proposals``); detections below ``action_score_threshold`` dropped before the results
    file; frame-mAP@0.5 by ``evaluator`` (``"mmaction2"``: MMAction2's ``ava_eval``;
    ``"official"``: the ActivityNet evaluator) on ``label_map`` (``"ava_v2.1"``, ``"ava_v2.2"``,
    ``"multisports"`` or a custom class list's name). ``action_ids``: the label-map id of each
    output column when the weight was trained on a subset of the classes (empty: column ``j`` is
    id ``j + 1``).

    Example:
        >>> DetectionProtocol().fps, DetectionProtocol().timestamp_start
        (30.0, 900)
    """

    clip_len: int = 32
    frame_interval: int = 2
    fps: float = 30.0
    timestamp_start: int = 900
    timestamp_end: int = 1800
    start_index: int = 1
    resize_short_side: int = 256
    proposals: str = "ava_dense_proposals_val.FAIR.recall_93.9.pkl"
    proposal_score_threshold: float = 0.9
    max_proposals: int = 1000
    action_score_threshold: float = 0.002
    evaluator: Literal["mmaction2", "official"] = "mmaction2"
    label_map: str = "ava_v2.1"
    action_ids: tuple[int, ...] = ()

    def action_id(self, column: int) -> int:
        """The label-map id of output column ``column``: ``action_ids[column]`` for a weight
        trained on a subset of the classes, else ``column + 1`` (AVA ids start at 1).

        Example:
            >>> DetectionProtocol().action_id(0), DetectionProtocol(action_ids=(3, 17)).action_id(1)
            (1, 17)
        """
        return self.action_ids[column] if self.action_ids else column + 1


@dataclass(frozen=True)
class PretrainedCfg:
    """Everything known about one published weight file (``arch.tag``).

    Returned by :func:`slowfast_zoo.get_pretrained_cfg` and attached to every model as
    ``model.pretrained_cfg``. ``mmaction2`` is the generation that produced the file (``"0.x"``:
    mmcv checkpoints, rawframe test sets; ``"1.x"``: mmengine checkpoints, decord videos, the
    1.x test sampling rule); ``train_resolution`` is the published phrase ("short-side 320",
    "224x224 (train crop)"); ``alternative_urls`` are tried in order when ``url`` fails.
    ``global_pool_head`` marks a weight trained with PySlowFast's multigrid short cycle, whose
    head averages globally instead of its architecture's ``head_pool`` (:meth:`ArchSpec.for_weight`).

    Weights MMAction2 did not publish (PyTorchVideo's and PySlowFast's) have ``mmaction2 == ""``;
    ``test.family`` says whose protocol made their numbers. Their URLs carry no hash:
    ``sha256_prefix`` is ``""`` and the file is held to the sha256 recorded on its first
    download (trust on first use) until ``sha256`` (the full digest) and ``file_size`` (bytes)
    are recorded here. ``key_family`` names the file's key layout (``"mmaction2"``,
    ``"pytorchvideo"``, ``"pyslowfast"`` or ``"caffe2"``: a caffe2 pickle of blobs), the layout of
    ``url``; PySlowFast's re-hosts among ``alternative_urls`` prefix PyTorchVideo's keys with
    ``model.``. Charades is scored by mean average precision: ``mean_ap`` (%) is set and
    ``top1`` / ``top5`` are ``None``. ``train`` is MMAction2's training pipeline; for the other
    weights it holds only the clip and whether clips were flipped (PySlowFast's scale jitter is
    ``train_resolution``).

    Example:
        >>> import slowfast_zoo as sz
        >>> cfg = sz.get_pretrained_cfg("slowfast_r50_4x16x1")
        >>> cfg.name, cfg.top1
        ('slowfast_r50_4x16x1.k400_320p', 75.64)
        >>> ch = sz.get_pretrained_cfg("pysf_slowfast_r50_16x8.charades")
        >>> ch.mean_ap, ch.top1, ch.test.view_combination, ch.sha256_prefix
        (38.9, None, 'max', '')
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
    top1: float | None
    top5: float | None
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
    global_pool_head: bool = False
    mean_ap: float | None = None
    key_family: str = "mmaction2"
    sha256: str | None = None
    file_size: int | None = None
    detection: DetectionProtocol | None = None

    @property
    def task(self) -> str:
        """``"detection"`` for a spatio-temporal action detector's weight, else ``"recognition"``.

        Example:
            >>> import slowfast_zoo as sz
            >>> sz.get_pretrained_cfg("slowfast_r50_4x16x1").task, sz.registry.ARCHS["slowfast_r50_4x16x1_ava"].task
            ('recognition', 'detection')
        """
        return "recognition" if self.detection is None else "detection"

    @property
    def publisher(self) -> str:
        """Who published the file and its numbers, for messages and tables.

        Example:
            >>> import slowfast_zoo as sz
            >>> [sz.get_pretrained_cfg(n).publisher for n in ("slowfast_r50_8x8x1.k400_mm1",
            ...  "pysf_slowfast_r50_8x8", "pysf_slowfast_r50_8x8.k400_c2")]
            ['MMAction2 1.x', 'PyTorchVideo', 'PySlowFast']
        """
        if self.test.family == "ptv":
            return "PyTorchVideo"
        if self.test.family == "psf":
            return "PySlowFast"
        return f"MMAction2 {self.mmaction2}"

    @property
    def published_metrics(self) -> dict[str, float]:
        """The published numbers (%) by metric: ``top1`` and ``top5``, or ``mAP`` (Charades).

        Example:
            >>> import slowfast_zoo as sz
            >>> sz.get_pretrained_cfg("pysf_slowfast_r50_16x8.charades").published_metrics
            {'mAP': 38.9}
            >>> sz.get_pretrained_cfg("pysf_slowfast_r50_8x8").published_metrics
            {'top1': 76.94, 'top5': 92.69}
        """
        if self.mean_ap is not None:
            return {"mAP": self.mean_ap}
        return {k: v for k, v in (("top1", self.top1), ("top5", self.top5)) if v is not None}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict of the record (class names included).

        Example:
            >>> import json, slowfast_zoo as sz
            >>> d = sz.get_pretrained_cfg("slowfast_r50_4x16x1").to_dict()
            >>> d["test"]["num_clips"], len(d["class_names"]), len(json.dumps(d)) > 0
            (10, 400, True)
        """
        return dataclasses.asdict(self)
