"""The SlowFast spatio-temporal action detection checkpoints (AVA, MultiSports), as data (19 weights).

Sources (Apache-2.0, read at the repositories' heads, 2026):

* MMAction2 0.x (branch ``0.x``): ``configs/detection/ava/metafile.yml`` (the 6 SlowFast rows; the
  SlowOnly rows are another network) and ``configs/detection/ava/README.md`` (the custom-classes
  SlowFast row, not in the metafile), each row's config for the test protocol.
* MMAction2 1.x (``v1.2.0`` = ``main``): ``configs/detection/slowfast/metafile.yml`` (7 rows, with
  MultiSports) and ``configs/detection/acrn/metafile.yml`` (2 rows), the configs and
  ``mmaction/datasets/ava_dataset.py`` (whose default ``start_index`` became 1).
* PyTorchVideo ``docs/source/model_zoo.md`` ("AVA (V2.2)", added 2021-06-09) and
  ``pytorchvideo/models/hub/slowfast.py`` (``slowfast_r50_detection``); PySlowFast's
  ``configs/AVA/SLOWFAST_32x2_R50_SHORT.yaml`` and ``slowfast/datasets/ava_*.py`` for its test.

MMAction2 0.x's two ACRN files (``configs/detection/acrn/metafile.yml``, ``-49b07bf2`` AVA v2.1
27.1, ``-2be32625`` AVA v2.2 27.8) pool each pathway's time axis by max (``temporal_pool_mode='max'``)
before the ACRN head, where the 1.x configs average: they have their own architecture,
``slowfast_r50_8x8x1_ava_acrn_tmax``.

Published numbers are frame-mAP@0.5 IoU (%), ``mean_ap`` (``top1`` / ``top5`` are ``None``); each
weight's measurement protocol is its ``detection`` (:class:`DetectionProtocol`). ``test`` only
describes one clip as a classifier view (what ``gflops`` is measured on: ``clip_len`` frames at
``resize_short_side`` square, one box): the detection test has no crop (the whole frame at that
short side). ``train`` holds the clip and flip only (the scale jitter is ``train_resolution``).
``num_params`` counts our modules (MMAction2's background row included; it equals the reference
manifests' and MMAction2's published ACRN count), ``gflops`` is measured like the recognition
records' (2 FLOPs per multiply-add, convolutions, the ACRN head and the classifier; RoIAlign and
pooling not counted): ``tests/test_registry.py`` re-measures both.
"""

from __future__ import annotations

from slowfast_zoo.registry.classes import (
    AVA_CLASSES,
    AVA_CUSTOM16_CLASSES,
    AVA_CUSTOM16_IDS,
    MULTISPORTS_CLASSES,
)
from slowfast_zoo.registry.records import (
    PYSF_MEAN,
    PYSF_STD,
    DetectionProtocol,
    PretrainedCfg,
    TestProtocol,
    TrainProtocol,
)

__all__ = ["RECORDS", "AVA_CITATION"]

_MM_0X = "https://download.openmmlab.com/mmaction/detection/"
_MM_1X = "https://download.openmmlab.com/mmaction/v1.0/detection/"
_PTV = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/"

_SLOWFAST_BIB = (
    "@inproceedings{feichtenhofer2019slowfast,\n"
    "  title={SlowFast Networks for Video Recognition},\n"
    "  author={Feichtenhofer, Christoph and Fan, Haoqi and Malik, Jitendra and He, Kaiming},\n"
    "  booktitle={ICCV},\n  year={2019}\n}\n"
)
_AVA_BIB = (
    "@inproceedings{gu2018ava,\n"
    "  title={{AVA}: A Video Dataset of Spatio-temporally Localized Atomic Visual Actions},\n"
    "  author={Gu, Chunhui and Sun, Chen and Ross, David A and Vondrick, Carl and Pantofaru, Caroline and "
    "Li, Yeqing and Vijayanarasimhan, Sudheendra and Toderici, George and Ricco, Susanna and Sukthankar, "
    "Rahul and others},\n  booktitle={CVPR},\n  year={2018}\n}\n"
)
_MM_BIB = (
    "@misc{2020mmaction2,\n"
    "  title={OpenMMLab's Next Generation Video Understanding Toolbox and Benchmark},\n"
    "  author={MMAction2 Contributors},\n"
    "  howpublished={\\url{https://github.com/open-mmlab/mmaction2}},\n  year={2020}\n}"
)
_ACRN_BIB = (
    "\n@inproceedings{sun2018actor,\n"
    "  title={Actor-Centric Relation Network},\n"
    "  author={Sun, Chen and Shrivastava, Abhinav and Vondrick, Carl and Murphy, Kevin and Sukthankar, "
    "Rahul and Schmid, Cordelia},\n  booktitle={ECCV},\n  year={2018}\n}"
)
_MULTISPORTS_BIB = (
    "@inproceedings{li2021multisports,\n"
    "  title={{MultiSports}: A Multi-Person Video Dataset of Spatio-Temporally Localized Sports Actions},\n"
    "  author={Li, Yixuan and Chen, Lei and He, Runyu and Wang, Zhenzhi and Wu, Gangshan and Wang, Limin},\n"
    "  booktitle={ICCV},\n  year={2021}\n}\n"
)
_PTV_BIB = (
    "\n@inproceedings{fan2021pytorchvideo,\n"
    "  title={{PyTorchVideo}: A Deep Learning Library for Video Understanding},\n"
    "  author={Fan, Haoqi and Murrell, Tullie and Wang, Heng and Alwala, Kalyan Vasudev and Li, Yanghao "
    "and Li, Yilei and Xiong, Bo and Ravi, Nikhila and Li, Meng and Yang, Haichuan and Malik, Jitendra "
    "and Girshick, Ross and Feiszli, Matt and Adcock, Aaron and Lo, Wan-Yen and Feichtenhofer, Christoph},\n"
    "  booktitle={Proceedings of the 29th ACM International Conference on Multimedia},\n  year={2021}\n}"
)
#: SlowFast, AVA and MMAction2: the citation of the MMAction2 AVA weights (ACRN adds its paper).
AVA_CITATION = _SLOWFAST_BIB + _AVA_BIB + _MM_BIB

# MMAction2's AVA test (every config): SampleAVAFrames(32, 2, test_mode) around each keyframe of
# the rawframe folders, Resize((-1, 256)), no crop; the FAIR person boxes of recall 93.9 kept at
# score >= 0.9 (person_det_score_thr), at most 1000; detections under action_thr 0.002 dropped;
# the 60-action list of the config's version. AVADataset's start_index: 0 in 0.x, 1 in 1.x.
_AVA_PROPOSALS = "ava_dense_proposals_val.FAIR.recall_93.9.pkl"
_TRAIN = TrainProtocol(clip_len=32, frame_interval=2, num_clips=1, resize_short_side=None, crop_size=256,
                       flip_ratio=0.5)
_JITTER = "short side random in [256, 320], crop 256 (config: RandomRescale, RandomCrop)"


def _view(generation: str, activation: str = "sigmoid") -> TestProtocol:
    """One 32x256x256 clip (see the module docstring): what ``gflops`` is measured on."""
    return TestProtocol(clip_len=32, frame_interval=2, num_clips=1, resize_short_side=256, crop_size=256,
                        num_crops=1, val_num_clips=1, val_crop_size=256, sampling_rule=generation,
                        score_activation=activation)


def _mm(arch: str, tag: str, path: str, sha: str, config: str, *, mean_ap: float, dataset: str,
        generation: str, gpus: str, params: int, gflops: float, fusion_kernel: int, notes: str,
        resolution: str = _JITTER, class_names: tuple[str, ...] = AVA_CLASSES, label_map: str = "",
        detection: DetectionProtocol | None = None, memory: int | None = None, data: str = "rawframes",
        activation: str = "sigmoid", citation: str = AVA_CITATION,
        action_ids: tuple[int, ...] = ()) -> PretrainedCfg:
    """One MMAction2 detection record; ``path`` is relative to its generation's detection root."""
    root = _MM_1X if generation == "1.x" else _MM_0X
    file_name = path.rsplit("/", 1)[1]
    assert file_name.endswith(f"-{sha}.pth"), file_name
    if detection is None:
        detection = DetectionProtocol(start_index=1 if generation == "1.x" else 0, proposals=_AVA_PROPOSALS,
                                      proposal_score_threshold=0.9, evaluator="mmaction2",
                                      label_map=label_map or ("ava_v2.2" if dataset == "AVA v2.2" else "ava_v2.1"),
                                      action_ids=action_ids)
    return PretrainedCfg(
        name=f"{arch}.{tag}", architecture=arch, tag=tag, url=root + path, file_name=file_name,
        sha256_prefix=sha, source_config=config, num_classes=len(class_names), class_names=class_names,
        top1=None, top5=None, train_resolution=resolution, train_data=data, train_gpus=gpus,
        inference_speed_video_per_s=None, gpu_memory_mb=memory, num_params=params, gflops=gflops,
        fusion_kernel=fusion_kernel, test=_view(generation, activation), train=_TRAIN,
        data_start_index=detection.start_index, citation=citation, notes=notes.strip(), mmaction2=generation,
        dataset=dataset, mean_ap=mean_ap, key_family="mmaction2", detection=detection,
    )


def _pre(recognition: str, schedule: str) -> str:
    return f"Fine-tuned from {recognition} (the config's load_from); {schedule}. "


_K400_4X16 = "slowfast_r50_4x16x1.k400_320p (-bcde7ed7)"
_K400_8X8 = "slowfast_r50_8x8x1.k400_320p (-73547d2b)"
_STEP20 = "20 epochs, step LR (decay at 10 and 15)"
_COSINE10 = "10 epochs, cosine LR"
_FOCAL = ("Trained with the sigmoid focal loss (BBoxHeadAVA focal_alpha=3, focal_gamma=1): the network "
          "and test are those of the plain temporal-max weight. ")
_TMAX = "RoI features pooled over time by max (temporal_pool_mode='max'). "
_CONTEXT = "With context (with_global): the clip's whole map pooled to 8x8 is appended to each RoI's (4608 channels). "
_MM1 = "mmengine checkpoint; rawframes, AVADataset start_index 1 (the 1.x default). "

# Parameters of our modules (= the reference manifests'): the recognition backbone plus an 81-row
# classifier of 2304 (4608 with context) inputs; 17 rows for custom classes, 66 for MultiSports.
_P_4X16, _P_8X8, _P_CONTEXT, _P_ACRN = 33_743_993, 33_830_265, 33_930_617, 92_232_057
_P_CUSTOM16, _P_MULTISPORTS = 33_596_473, 33_709_418
_G_4X16, _G_8X8, _G_CONTEXT, _G_ACRN = 105.164, 193.777, 105.165, 223.674

# MMAction2 0.x: configs/detection/ava (metafile rows and the README's custom-classes row).
_RECORDS_0X = (
    _mm("slowfast_r50_4x16x1_ava", "ava21",
        "ava/slowfast_kinetics_pretrained_r50_4x16x1_20e_ava_rgb/"
        "slowfast_kinetics_pretrained_r50_4x16x1_20e_ava_rgb_20201217-6e7c704d.pth",
        "6e7c704d", "slowfast_kinetics_pretrained_r50_4x16x1_20e_ava_rgb", mean_ap=24.4, dataset="AVA v2.1",
        generation="0.x", gpus="8x2", resolution="short-side 256", params=_P_4X16, gflops=_G_4X16,
        fusion_kernel=5, notes=_pre(_K400_4X16, _STEP20) + "The README's custom-classes table gives this file "
        "18.64 mAP on the 16 custom classes."),
    _mm("slowfast_r50_4x16x1_ava", "ava21_custom16",
        "ava/slowfast_kinetics_pretrained_r50_4x16x1_20e_ava_rgb_custom_classes/"
        "slowfast_kinetics_pretrained_r50_4x16x1_20e_ava_rgb_custom_classes_20210305-c6225546.pth",
        "c6225546", "slowfast_kinetics_pretrained_r50_4x16x1_20e_ava_rgb_custom_classes", mean_ap=37.85,
        dataset="AVA v2.1", generation="0.x", gpus="not published", params=_P_CUSTOM16, gflops=_G_4X16,
        fusion_kernel=5, class_names=AVA_CUSTOM16_CLASSES, label_map="ava_v2.1_custom16",
        action_ids=AVA_CUSTOM16_IDS,
        notes=_pre(_K400_4X16, _STEP20) + "Custom classes: 16 AVA actions (ids 3, 6, 10, 27, 29, 38, 41, 48, "
        "51, 53, 54, 59, 61, 64, 70, 72: AP in [0.1, 0.3) for MMAction2's SlowOnly baseline), a 17-row "
        "classifier (background first); output column j is AVA_CUSTOM16_IDS[j]. The published 0.3785 (37.85 "
        "%) is the mAP over those 16, evaluated with the 80-action list ava_action_list_v2.1.pbtxt (id 53 "
        "'shovel' is not among the 60 of the official list). Listed in the README only, not the metafile."),
    _mm("slowfast_r50_4x16x1_ava_context", "ava21",
        "ava/slowfast_context_kinetics_pretrained_r50_4x16x1_20e_ava_rgb/"
        "slowfast_context_kinetics_pretrained_r50_4x16x1_20e_ava_rgb_20201222-f4d209c9.pth",
        "f4d209c9", "slowfast_context_kinetics_pretrained_r50_4x16x1_20e_ava_rgb", mean_ap=25.4,
        dataset="AVA v2.1", generation="0.x", gpus="8x2", resolution="short-side 256", params=_P_CONTEXT,
        gflops=_G_CONTEXT, fusion_kernel=5, notes=_CONTEXT + _pre(_K400_4X16, _STEP20)),
    _mm("slowfast_r50_8x8x1_ava", "ava21",
        "ava/slowfast_kinetics_pretrained_r50_8x8x1_20e_ava_rgb/"
        "slowfast_kinetics_pretrained_r50_8x8x1_20e_ava_rgb_20201217-ae225e97.pth",
        "ae225e97", "slowfast_kinetics_pretrained_r50_8x8x1_20e_ava_rgb", mean_ap=25.5, dataset="AVA v2.1",
        generation="0.x", gpus="8x2", resolution="short-side 256", params=_P_8X8, gflops=_G_8X8,
        fusion_kernel=7, notes=_pre(_K400_8X8, _STEP20)),
    _mm("slowfast_r50_8x8x1_ava", "ava22",
        "ava/slowfast_kinetics_pretrained_r50_8x8x1_cosine_10e_ava22_rgb/"
        "slowfast_kinetics_pretrained_r50_8x8x1_cosine_10e_ava22_rgb-b987b516.pth",
        "b987b516", "slowfast_kinetics_pretrained_r50_8x8x1_cosine_10e_ava22_rgb", mean_ap=26.1,
        dataset="AVA v2.2", generation="0.x", gpus="8", resolution="short-side 256", params=_P_8X8,
        gflops=_G_8X8, fusion_kernel=7, notes=_pre(_K400_8X8, _COSINE10) + "The file name has no date."),
    _mm("slowfast_r50_8x8x1_ava_tmax", "ava22",
        "ava/slowfast_temporal_max_kinetics_pretrained_r50_8x8x1_cosine_10e_ava22_rgb/"
        "slowfast_temporal_max_kinetics_pretrained_r50_8x8x1_cosine_10e_ava22_rgb-874e0845.pth",
        "874e0845", "slowfast_temporal_max_kinetics_pretrained_r50_8x8x1_cosine_10e_ava22_rgb", mean_ap=26.4,
        dataset="AVA v2.2", generation="0.x", gpus="8", resolution="short-side 256", params=_P_8X8,
        gflops=_G_8X8, fusion_kernel=7, notes=_TMAX + _pre(_K400_8X8, _COSINE10) + "The file name has no date."),
    _mm("slowfast_r50_8x8x1_ava_tmax", "ava22_focal",
        "ava/slowfast_temporal_max_focal_alpha3_gamma1_kinetics_pretrained_r50_8x8x1_cosine_10e_ava22_rgb/"
        "slowfast_temporal_max_focal_alpha3_gamma1_kinetics_pretrained_r50_8x8x1_cosine_10e_ava22_rgb-345618cd.pth",
        "345618cd", "slowfast_temporal_max_focal_alpha3_gamma1_kinetics_pretrained_r50_8x8x1_cosine_10e_ava22_rgb",
        mean_ap=26.8, dataset="AVA v2.2", generation="0.x", gpus="8", resolution="short-side 256",
        params=_P_8X8, gflops=_G_8X8, fusion_kernel=7,
        notes=_TMAX + _FOCAL + _pre(_K400_8X8, _COSINE10) + "The file name has no date."),
)

_1X_RES = _JITTER.replace("config:", "not published; config:")

# MMAction2 1.x: configs/detection/{slowfast,acrn}/metafile.yml.
_RECORDS_1X = (
    _mm("slowfast_r50_4x16x1_ava", "ava21_mm1",
        "slowfast/slowfast_kinetics400-pretrained-r50_8xb16-4x16x1-20e_ava21-rgb/"
        "slowfast_kinetics400-pretrained-r50_8xb16-4x16x1-20e_ava21-rgb_20220906-5180ea3c.pth",
        "5180ea3c", "slowfast_kinetics400-pretrained-r50_8xb16-4x16x1-20e_ava21-rgb", mean_ap=24.32,
        dataset="AVA v2.1", generation="1.x", gpus="8", resolution=_1X_RES, params=_P_4X16, gflops=_G_4X16,
        fusion_kernel=5, notes=_MM1 + _pre(_K400_4X16, _STEP20)),
    _mm("slowfast_r50_4x16x1_ava_context", "ava21_mm1",
        "slowfast/slowfast_kinetics400-pretrained-r50-context_8xb16-4x16x1-20e_ava21-rgb/"
        "slowfast_kinetics400-pretrained-r50-context_8xb16-4x16x1-20e_ava21-rgb_20220906-5bb4f6f2.pth",
        "5bb4f6f2", "slowfast_kinetics400-pretrained-r50-context_8xb16-4x16x1-20e_ava21-rgb", mean_ap=25.34,
        dataset="AVA v2.1", generation="1.x", gpus="8", resolution=_1X_RES, params=_P_CONTEXT,
        gflops=_G_CONTEXT, fusion_kernel=5, notes=_CONTEXT + _MM1 + _pre(_K400_4X16, _STEP20)),
    _mm("slowfast_r50_8x8x1_ava", "ava21_mm1",
        "slowfast/slowfast_kinetics400-pretrained-r50_8xb8-8x8x1-20e_ava21-rgb/"
        "slowfast_kinetics400-pretrained-r50_8xb8-8x8x1-20e_ava21-rgb_20220906-39133ec7.pth",
        "39133ec7", "slowfast_kinetics400-pretrained-r50_8xb8-8x8x1-20e_ava21-rgb", mean_ap=25.80,
        dataset="AVA v2.1", generation="1.x", gpus="8", resolution=_1X_RES, params=_P_8X8, gflops=_G_8X8,
        fusion_kernel=7, notes=_MM1 + _pre(_K400_8X8, _STEP20)),
    _mm("slowfast_r50_8x8x1_ava", "ava22_mm1",
        "slowfast/slowfast_kinetics400-pretrained-r50_8xb6-8x8x1-cosine-10e_ava22-rgb/"
        "slowfast_kinetics400-pretrained-r50_8xb6-8x8x1-cosine-10e_ava22-rgb_20220906-d934a48f.pth",
        "d934a48f", "slowfast_kinetics400-pretrained-r50_8xb6-8x8x1-cosine-10e_ava22-rgb", mean_ap=25.90,
        dataset="AVA v2.2", generation="1.x", gpus="8", resolution=_1X_RES, params=_P_8X8, gflops=_G_8X8,
        fusion_kernel=7, notes=_MM1 + _pre(_K400_8X8, _COSINE10)),
    _mm("slowfast_r50_8x8x1_ava_tmax", "ava22_mm1",
        "slowfast/slowfast_kinetics400-pretrained-r50-temporal-max_8xb6-8x8x1-cosine-10e_ava22-rgb/"
        "slowfast_kinetics400-pretrained-r50-temporal-max_8xb6-8x8x1-cosine-10e_ava22-rgb_20220906-13a9078e.pth",
        "13a9078e", "slowfast_kinetics400-pretrained-r50-temporal-max_8xb6-8x8x1-cosine-10e_ava22-rgb",
        mean_ap=26.41, dataset="AVA v2.2", generation="1.x", gpus="8", resolution=_1X_RES, params=_P_8X8,
        gflops=_G_8X8, fusion_kernel=7, notes=_TMAX + _MM1 + _pre(_K400_8X8, _COSINE10)),
    _mm("slowfast_r50_8x8x1_ava_tmax", "ava22_focal_mm1",
        "slowfast/slowfast_r50-k400-pre-temporal-max-focal-alpha3-gamma1_8xb6-8x8x1-cosine-10e_ava22-rgb/"
        "slowfast_r50-k400-pre-temporal-max-focal-alpha3-gamma1_8xb6-8x8x1-cosine-10e_ava22-rgb_20220906-dd59e26f.pth",
        "dd59e26f", "slowfast_r50-k400-pre-temporal-max-focal-alpha3-gamma1_8xb6-8x8x1-cosine-10e_ava22-rgb",
        mean_ap=26.65, dataset="AVA v2.2", generation="1.x", gpus="8", resolution=_1X_RES, params=_P_8X8,
        gflops=_G_8X8, fusion_kernel=7, notes=_TMAX + _FOCAL + _MM1 + _pre(_K400_8X8, _COSINE10)),
    _mm("slowfast_r50_8x8x1_ava_acrn", "ava21_mm1",
        "acrn/slowfast-acrn_kinetics400-pretrained-r50_8xb8-8x8x1-cosine-10e_ava21-rgb/"
        "slowfast-acrn_kinetics400-pretrained-r50_8xb8-8x8x1-cosine-10e_ava21-rgb_20220906-0dae1a90.pth",
        "0dae1a90", "slowfast-acrn_kinetics400-pretrained-r50_8xb8-8x8x1-cosine-10e_ava21-rgb", mean_ap=27.65,
        dataset="AVA v2.1", generation="1.x", gpus="8", resolution=_1X_RES, params=_P_ACRN, gflops=_G_ACRN,
        fusion_kernel=7, citation=AVA_CITATION + _ACRN_BIB,
        notes="ACRN shared head (ACRNHead 4608 -> 2304), RoI features averaged over time. " + _MM1
              + _pre(_K400_8X8, _COSINE10)),
    _mm("slowfast_r50_8x8x1_ava_acrn", "ava22_mm1",
        "acrn/slowfast-acrn_kinetics400-pretrained-r50_8xb8-8x8x1-cosine-10e_ava22-rgb/"
        "slowfast-acrn_kinetics400-pretrained-r50_8xb8-8x8x1-cosine-10e_ava22-rgb_20220906-66ec24a2.pth",
        "66ec24a2", "slowfast-acrn_kinetics400-pretrained-r50_8xb8-8x8x1-cosine-10e_ava22-rgb", mean_ap=27.71,
        dataset="AVA v2.2", generation="1.x", gpus="8", resolution=_1X_RES, params=_P_ACRN, gflops=_G_ACRN,
        fusion_kernel=7, citation=AVA_CITATION + _ACRN_BIB,
        notes="ACRN shared head (ACRNHead 4608 -> 2304), RoI features averaged over time. " + _MM1
              + _pre(_K400_8X8, _COSINE10)),
    # MultiSports (slowfast_kinetics400-pretrained-r50_8xb16-4x16x1-8e_multisports-rgb): videos decoded
    # with decord, timestamps counted in frames (fps=1, timestamp_start=1, start_index=0), its own
    # proposals, 66 classes without background, softmax; MultiSportsMetric keeps each box's top class.
    _mm("slowfast_r50_4x16x1_multisports", "multisports_mm1",
        "slowfast/slowfast_kinetics400-pretrained-r50_8xb16-4x16x1-8e_multisports-rgb/"
        "slowfast_kinetics400-pretrained-r50_8xb16-4x16x1-8e_multisports-rgb_20230320-af666368.pth",
        "af666368", "slowfast_kinetics400-pretrained-r50_8xb16-4x16x1-8e_multisports-rgb", mean_ap=36.88,
        dataset="MultiSports", generation="1.x", gpus="8", memory=18618, data="videos",
        resolution="short-side 320", params=_P_MULTISPORTS, gflops=_G_4X16, fusion_kernel=5,
        class_names=MULTISPORTS_CLASSES, activation="softmax",
        citation=_SLOWFAST_BIB + _MULTISPORTS_BIB + _MM_BIB,
        detection=DetectionProtocol(fps=1.0, timestamp_start=1, start_index=0,
                                    proposals="multisports_dense_proposals_val.recall_96.13.pkl",
                                    proposal_score_threshold=0.9, action_score_threshold=0.0,
                                    evaluator="mmaction2", label_map="multisports"),
        notes="MultiSports (66 sports actions, one per person box: softmax, no background row). The published "
              "number is frame-mAP@0.5 (f-mAP, MultiSportsMetric, which keeps each box's highest-scoring class); "
              "the README also gives v-mAP@0.2 22.83, v-mAP@0.5 16.9, v-mAP@0.1:0.9 14.74 and training memory "
              "18618 MB. Videos (decord), timestamps counted in frames (AVADataset fps=1, timestamp_start=1, "
              "start_index=0; timestamp_end unused for videos). " + _pre(_K400_4X16, "8 epochs, step LR "
              "(decay at 6 and 7)")),
)

# PyTorchVideo's zoo "AVA (V2.2)" SlowFast row = torch.hub slowfast_r50_detection. PySlowFast's AVA
# test (slowfast/datasets/ava_dataset.py, cv2 backend): 32 frames every 2nd at 30 fps around the
# keyframe, short side resized to TEST_CROP_SIZE 224 (then normalized), its person boxes at score >=
# 0.8 (AVA.DETECTION_SCORE_THRESH), every box's 80 sigmoid scores written, PySlowFast's copy of the
# ActivityNet evaluator (ava_evaluation/) on the v2.2 60-action list.
_PTV_DETECTION = DetectionProtocol(
    clip_len=32, frame_interval=2, fps=30.0, timestamp_start=900, timestamp_end=1800, start_index=1,
    resize_short_side=224, proposals="person_box_67091280_iou90/ava_detection_val_boxes_and_labels.csv",
    proposal_score_threshold=0.8, action_score_threshold=0.0, evaluator="official", label_map="ava_v2.2")

_RECORD_PTV = PretrainedCfg(
    name="ptv_slowfast_r50_detection.ava22_ptv", architecture="ptv_slowfast_r50_detection", tag="ava22_ptv",
    url=_PTV + "ava/SLOWFAST_8x8_R50_DETECTION.pyth", file_name="SLOWFAST_8x8_R50_DETECTION.pyth",
    sha256_prefix="", source_config="AVA/SLOWFAST_32x2_R50_SHORT", num_classes=80, class_names=AVA_CLASSES,
    top1=None, top5=None, train_resolution="short side random in [256, 320], crop 224 (the PySlowFast config)",
    train_data="rawframes", train_gpus="not published", inference_speed_video_per_s=None, gpu_memory_mb=None,
    num_params=33_828_888, gflops=148.361, fusion_kernel=7,
    test=TestProtocol(clip_len=32, frame_interval=2, num_clips=1, resize_short_side=224, crop_size=224,
                      num_crops=1, val_num_clips=1, val_crop_size=224, sampling_rule="psf_decoder", family="ptv",
                      target_fps=30.0, score_activation="sigmoid"),
    train=TrainProtocol(clip_len=32, frame_interval=2, num_clips=1, resize_short_side=None, crop_size=224,
                        flip_ratio=0.5),
    mean=PYSF_MEAN, std=PYSF_STD, data_start_index=1, citation=_SLOWFAST_BIB + _AVA_BIB.rstrip() + _PTV_BIB,
    notes="PyTorchVideo zoo, AVA (V2.2): SlowFast R50 8x8, Kinetics-400 pretrain, 24.67 mAP, 33.82 M parameters; "
          "the file of torch.hub 'slowfast_r50_detection' (create_slowfast_with_roi_head: res5 at stride 1 with "
          "dilation 2 in both pathways, RoIAlign 7x7 with aligned=False, max over the cells, 80 sigmoid "
          "outputs). The zoo names no config or test protocol: presumably PySlowFast's "
          "configs/AVA/SLOWFAST_32x2_R50_SHORT.yaml (the same network, but DETECTION.ALIGNED True, while the "
          "hub model, and this architecture, use aligned=False) and its AVA test: 32 frames every 2nd at 30 fps "
          "centred on the keyframe (PySlowFast's 0-based frame list over files numbered from 1), short side "
          "224, PySlowFast's person boxes (person_box_67091280_iou90) at score >= 0.8 (no fallback: a keyframe "
          "without one is not tested; keyframes 902-1798 s), all 80 scores per box, "
          "its copy of the ActivityNet evaluator (no 50-per-keyframe cap in its reader). No hash is "
          "published: trust on first use. test.sampling_rule psf_decoder only names a 32x2 clip at 30 fps; "
          "the keyframe-centred clip is `detection`.",
    mmaction2="", dataset="AVA v2.2", mean_ap=24.67, key_family="pytorchvideo", detection=_PTV_DETECTION,
)

# MMAction2 0.x's ACRN files: temporal max pooling before the ACRN head (its 1.x configs average):
# architecture slowfast_r50_8x8x1_ava_acrn_tmax.
_ACRN_TMAX = "slowfast_r50_8x8x1_ava_acrn_tmax"

_RECORDS_ACRN_TMAX: tuple[PretrainedCfg, ...] = (
    _mm(_ACRN_TMAX, "ava21",
        "acrn/slowfast_acrn_kinetics_pretrained_r50_8x8x1_cosine_10e_ava_rgb/"
        "slowfast_acrn_kinetics_pretrained_r50_8x8x1_cosine_10e_ava_rgb-49b07bf2.pth",
        "49b07bf2", "slowfast_acrn_kinetics_pretrained_r50_8x8x1_cosine_10e_ava_rgb", mean_ap=27.1,
        dataset="AVA v2.1", generation="0.x", gpus="8", params=_P_ACRN, gflops=_G_ACRN, fusion_kernel=7,
        citation=AVA_CITATION + _ACRN_BIB,
        notes="ACRN shared head on RoI features pooled over time by max (temporal_pool_mode='max'). "
              + _pre(_K400_8X8, _COSINE10) + "The file name has no date."),
    _mm(_ACRN_TMAX, "ava22",
        "acrn/slowfast_acrn_kinetics_pretrained_r50_8x8x1_cosine_10e_ava22_rgb/"
        "slowfast_acrn_kinetics_pretrained_r50_8x8x1_cosine_10e_ava22_rgb-2be32625.pth",
        "2be32625", "slowfast_acrn_kinetics_pretrained_r50_8x8x1_cosine_10e_ava22_rgb", mean_ap=27.8,
        dataset="AVA v2.2", generation="0.x", gpus="8", params=_P_ACRN, gflops=_G_ACRN, fusion_kernel=7,
        citation=AVA_CITATION + _ACRN_BIB,
        notes="ACRN shared head on RoI features pooled over time by max (temporal_pool_mode='max'). "
              + _pre(_K400_8X8, _COSINE10) + "The file name has no date."),
)

#: The 19 detection records: MMAction2 0.x, MMAction2 1.x, PyTorchVideo.
RECORDS: tuple[PretrainedCfg, ...] = _RECORDS_0X + _RECORDS_ACRN_TMAX + _RECORDS_1X + (_RECORD_PTV,)
