"""Every SlowFast recognition checkpoint MMAction2 published, as data (19 weights).

Sources: MMAction2 0.x ``configs/recognition/slowfast/README.md`` (v0.13.0-v0.24, the 8 rows of
the Kinetics-400 table, docs/SPEC.md section 1, plus the rows added later: the re-trained 320p,
Precise-BN, step-LR, multigrid and Something-Something V1 files) and the MMAction2 1.x zoo
(``mmaction/v1.0`` files, mmengine checkpoints; SPEC section 9). Accuracies are the published
top-1/top-5 (%) with each weight's own test protocol (``PretrainedCfg.test``). ``num_params`` and
``gflops`` (2 FLOPs per multiply-add, one view of the weight's input, 32x256x256 or 64x256x256
for Something-Something V1, convolutions and the classifier only) are measured from our modules;
``tests/test_registry.py`` re-measures them and checks them against MMAction2's manifests.
"""

from __future__ import annotations

from slowfast_zoo.registry.classes import KINETICS400_CLASSES, STHV1_CLASSES
from slowfast_zoo.registry.records import PretrainedCfg, TestProtocol, TrainProtocol

__all__ = ["RECORDS", "CITATION"]

_URL_ROOT = "https://download.openmmlab.com/mmaction/recognition/slowfast/"
_URL_ROOT_1X = "https://download.openmmlab.com/mmaction/v1.0/recognition/slowfast/"

CITATION = (
    "@inproceedings{feichtenhofer2019slowfast,\n"
    "  title={SlowFast Networks for Video Recognition},\n"
    "  author={Feichtenhofer, Christoph and Fan, Haoqi and Malik, Jitendra and He, Kaiming},\n"
    "  booktitle={ICCV},\n  year={2019}\n}\n"
    "@misc{2020mmaction2,\n"
    "  title={OpenMMLab's Next Generation Video Understanding Toolbox and Benchmark},\n"
    "  author={MMAction2 Contributors},\n"
    "  howpublished={\\url{https://github.com/open-mmlab/mmaction2}},\n  year={2020}\n}"
)


# MMAction2 1.x tests every Kinetics weight on videos with its rewritten test-mode SampleFrames.
_TEST_1X = TestProtocol(sampling_rule="1.x")

# Something-Something V1 (0.x config slowfast_r50_16x8x1_22e_sthv1_rgb): one 64-frame clip,
# centre crop 256, for testing and validation; training crops the decoded frames directly
# (no short-side resize first) and mirrors direction-dependent labels with the frames.
_TEST_STHV1 = TestProtocol(clip_len=64, frame_interval=2, num_clips=1, resize_short_side=256,
                           crop_size=256, num_crops=1, val_num_clips=1, val_crop_size=256,
                           filename_tmpl="{:05}.jpg")
_TRAIN_STHV1 = TrainProtocol(clip_len=64, frame_interval=2, num_clips=1, resize_short_side=None,
                             flip_label_map=((2, 4), (4, 2), (30, 41), (41, 30), (52, 66), (66, 52)))


def _record(arch: str, tag: str, path: str, sha: str, config: str, *, top1: float, top5: float,
            resolution: str, data: str, gpus: str, params: int, gflops: float, fusion_kernel: int,
            speed: float | None = None, memory: int | None = None, generation: str = "0.x",
            test: TestProtocol = TestProtocol(), train: TrainProtocol = TrainProtocol(),
            dataset: str = "Kinetics-400", class_names: tuple[str, ...] = KINETICS400_CLASSES,
            alternative_paths: tuple[str, ...] = (), notes: str = "") -> PretrainedCfg:
    root = _URL_ROOT_1X if generation == "1.x" else _URL_ROOT
    file_name = path.rsplit("/", 1)[1]
    assert file_name.endswith(f"-{sha}.pth"), file_name
    return PretrainedCfg(
        name=f"{arch}.{tag}", architecture=arch, tag=tag, url=root + path, file_name=file_name,
        sha256_prefix=sha, source_config=config, num_classes=len(class_names),
        class_names=class_names, top1=top1, top5=top5, train_resolution=resolution,
        train_data=data, train_gpus=gpus, inference_speed_video_per_s=speed, gpu_memory_mb=memory,
        num_params=params, gflops=gflops, fusion_kernel=fusion_kernel, test=test, train=train,
        data_start_index=0 if data == "videos" else 1, citation=CITATION, notes=notes,
        mmaction2=generation, dataset=dataset,
        alternative_urls=tuple(root + p for p in alternative_paths),
    )


# The Kinetics-400 table of the 0.x README (docs/SPEC.md section 1).
_RECORDS_0X_TABLE = (
    _record("slowfast_r50_4x16x1", "k400_256p",
            "slowfast_r50_256p_4x16x1_256e_kinetics400_rgb/"
            "slowfast_r50_256p_4x16x1_256e_kinetics400_rgb_20200728-145f1097.pth",
            "145f1097", "slowfast_r50_4x16x1_256e_kinetics400_rgb", top1=74.75, top5=91.73,
            resolution="short-side 256", data="rawframes", gpus="8x4", speed=None, memory=6203,
            params=34_479_288, gflops=72.198, fusion_kernel=5),
    _record("slowfast_r50_4x16x1", "k400_video",
            "slowfast_r50_video_4x16x1_256e_kinetics400_rgb/"
            "slowfast_r50_video_4x16x1_256e_kinetics400_rgb_20200826-f85b90c5.pth",
            "f85b90c5", "slowfast_r50_video_4x16x1_256e_kinetics400_rgb", top1=74.34, top5=91.58,
            resolution="short-side 256", data="videos", gpus="8", speed=None, memory=6203,
            params=34_479_288, gflops=72.198, fusion_kernel=5,
            notes="Trained and tested on videos decoded with decord (start_index 0). In Sept 2021 "
                  "MMAction2 corrected its reported accuracy to 73.95 / 91.50 (PR #1138)."),
    _record("slowfast_r50_4x16x1", "k400_320p",
            "slowfast_r50_4x16x1_256e_kinetics400_rgb/"
            "slowfast_r50_4x16x1_256e_kinetics400_rgb_20200704-bcde7ed7.pth",
            "bcde7ed7", "slowfast_r50_4x16x1_256e_kinetics400_rgb", top1=75.64, top5=92.30,
            resolution="short-side 320", data="rawframes", gpus="8x3", speed=1.6, memory=6203,
            params=34_479_288, gflops=72.198, fusion_kernel=5,
            notes="In July 2021 MMAction2's README switched this row to a retrained file (-04e43ed4, "
                  "76.0 / 92.54); this file stays in later metafiles and is the Kinetics pretrain of "
                  "the 0.x AVA SlowFast configs."),
    _record("slowfast_r50_8x8x1", "k400_256p",
            "slowfast_r50_256p_8x8x1_256e_kinetics400_rgb/"
            "slowfast_r50_256p_8x8x1_256e_kinetics400_rgb_20200810-863812c2.pth",
            "863812c2", "slowfast_r50_8x8x1_256e_kinetics400_rgb", top1=75.61, top5=92.34,
            resolution="short-side 256", data="rawframes", gpus="8x4", speed=None, memory=9062,
            params=34_479_288, gflops=130.596, fusion_kernel=5,
            notes="This file was trained with lateral temporal kernel 5, not the config's 7: this tag "
                  "builds kernel-5 lateral convs to match it. MMAction2 loaded it non-strictly and left "
                  "those four convs random, then removed the row in Dec 2021 (PR #1309)."),
    _record("slowfast_r50_8x8x1", "k400_320p",
            "slowfast_r50_8x8x1_256e_kinetics400_rgb/"
            "slowfast_r50_8x8x1_256e_kinetics400_rgb_20200716-73547d2b.pth",
            "73547d2b", "slowfast_r50_8x8x1_256e_kinetics400_rgb", top1=76.94, top5=92.80,
            resolution="short-side 320", data="rawframes", gpus="8x3", speed=1.3, memory=9062,
            params=34_565_560, gflops=131.418, fusion_kernel=7),
    _record("slowfast_r101_r50_4x16x1", "k400_256p",
            "slowfast_r101_4x16x1_256e_kinetics400_rgb/"
            "slowfast_r101_4x16x1_256e_kinetics400_rgb_20210218-d8b58813.pth",
            "d8b58813", "slowfast_r101_r50_4x16x1_256e_kinetics400_rgb", top1=76.69, top5=93.07,
            resolution="short-side 256", data="rawframes", gpus="8x1", speed=None, memory=16628,
            params=62_384_312, gflops=129.241, fusion_kernel=5),
    _record("slowfast_r101_8x8x1", "k400_256p",
            "slowfast_r101_8x8x1_256e_kinetics400_rgb/"
            "slowfast_r101_8x8x1_256e_kinetics400_rgb_20210218-0dd54025.pth",
            "0dd54025", "slowfast_r101_8x8x1_256e_kinetics400_rgb", top1=77.90, top5=93.51,
            resolution="short-side 256", data="rawframes", gpus="8x4", speed=None, memory=25994,
            params=62_912_312, gflops=252.633, fusion_kernel=7),
    _record("slowfast_r152_r50_4x16x1", "k400_256p",
            "slowfast_r152_4x16x1_256e_kinetics400_rgb/"
            "slowfast_r152_4x16x1_256e_kinetics400_rgb_20210122-bdeb6b87.pth",
            "bdeb6b87", "slowfast_r152_r50_4x16x1_256e_kinetics400_rgb", top1=77.13, top5=93.20,
            resolution="short-side 256", data="rawframes", gpus="8x1", speed=None, memory=10077,
            params=84_843_704, gflops=181.988, fusion_kernel=5,
            notes="MMAction2 tested this row in chunks of 8 views (max_testing_views=8); the numbers "
                  "are identical to running all 30 views at once in eval mode."),
)

# The 0.x README rows added after the table (2021): same protocol, rawframes at short side 320.
_RECORDS_0X_MORE = (
    _record("slowfast_r50_4x16x1", "k400_320p_2021",
            "slowfast_r50_4x16x1_256e_kinetics400_rgb/"
            "slowfast_r50_4x16x1_256e_kinetics400_rgb_20210722-04e43ed4.pth",
            "04e43ed4", "slowfast_r50_4x16x1_256e_kinetics400_rgb", top1=76.0, top5=92.54,
            resolution="short-side 320", data="rawframes", gpus="8x2",
            params=34_479_288, gflops=72.198, fusion_kernel=5,
            notes="The re-trained 320p file: the README row since July 2021 (MMAction2 PR #1138); "
                  "the metafile still lists 75.64 for -bcde7ed7 (tag k400_320p). Same network."),
    _record("slowfast_r50_4x16x1", "k400_320p_prebn",
            "slowfast_prebn_r50_4x16x1_256e_kinetics400_rgb/"
            "slowfast_prebn_r50_4x16x1_256e_kinetics400_rgb_20210722-bb725050.pth",
            "bb725050", "slowfast_prebn_r50_4x16x1_256e_kinetics400_rgb", top1=76.34, top5=92.67,
            resolution="short-side 320", data="rawframes", gpus="8x2",
            params=34_479_288, gflops=72.198, fusion_kernel=5,
            notes="Trained with Precise-BN; same network."),
    _record("slowfast_r50_8x8x1_ln", "k400_steplr",
            "slowfast_r50_8x8x1_256e_kinetics400_rgb_steplr/"
            "slowfast_r50_8x8x1_256e_kinetics400_rgb_steplr-43988bac.pth",
            "43988bac", "slowfast_r50_8x8x1_256e_kinetics400_rgb_steplr", top1=76.34, top5=92.61,
            resolution="short-side 320", data="rawframes", gpus="8x4",
            params=34_566_488, gflops=131.418, fusion_kernel=7,
            notes="lateral_norm=True: every lateral conv is followed by BN and ReLU (keys "
                  "backbone.slow_path.{conv1,layer1,layer2,layer3}_lateral.bn.*). Step LR schedule. "
                  "The file name has no date."),
    _record("slowfast_r50_8x8x1_ln", "k400_steplr_prebn",
            "slowfast_prebn_r50_8x8x1_256e_kinetics400_rgb_steplr/"
            "slowfast_prebn_r50_8x8x1_256e_kinetics400_rgb_steplr-28474e54.pth",
            "28474e54", "slowfast_prebn_r50_8x8x1_256e_kinetics400_rgb_steplr", top1=76.58, top5=92.85,
            resolution="short-side 320", data="rawframes", gpus="8x4",
            params=34_566_488, gflops=131.418, fusion_kernel=7,
            notes="lateral_norm=True, step LR, Precise-BN. MMAction2's README links the config as "
                  "slowfast_perbn_... (a typo); the file is slowfast_prebn_..."),
    _record("slowfast_r50_8x8x1_ln", "k400_multigrid",
            "slowfast_multigrid_r50_8x8x1_358e_kinetics400_rgb/"
            "slowfast_multigrid_r50_8x8x1_358e_kinetics400_rgb-f82bd304.pth",
            "f82bd304", "slowfast_multigrid_r50_8x8x1_358e_kinetics400_rgb", top1=76.07, top5=92.21,
            resolution="short-side 320", data="rawframes", gpus="8x2",
            params=34_566_488, gflops=131.418, fusion_kernel=7,
            notes="lateral_norm=True; multigrid training schedule (358 epochs), plain BN."),
    _record("slowfast_r50_16x8x1", "sthv1",
            "slowfast_r50_16x8x1_22e_sthv1_rgb/"
            "slowfast_r50_16x8x1_22e_sthv1_rgb_20211202-aaaf9279.pth",
            "aaaf9279", "slowfast_r50_16x8x1_22e_sthv1_rgb", top1=49.67, top5=79.0,
            resolution="height 100", data="rawframes", gpus="8",
            params=34_044_630, gflops=262.833, fusion_kernel=7,
            test=_TEST_STHV1, train=_TRAIN_STHV1, dataset="Something-Something V1",
            class_names=STHV1_CLASSES,
            notes="Something-Something V1 (174 classes), fine-tuned from slowfast_r50_8x8x1.k400_320p. "
                  "Input 64 frames every 2nd frame, tau = alpha = 4, fusion kernel 7. Tested on one "
                  "64-frame clip, centre crop 256; rawframes named {:05}.jpg from 1. Training flips "
                  "swap labels 2<->4, 30<->41, 52<->66. MMAction2 ships no class names: they are "
                  "class_0 ... class_173 (predict/eval --label-map FILE shows real ones)."),
)

# The MMAction2 1.x zoo (mmengine checkpoints; trained and tested on videos with decord, test
# clips placed by the 1.x SampleFrames rule; mean/std applied by the model's data preprocessor,
# the same numbers).
_RECORDS_1X = (
    _record("slowfast_r50_4x16x1", "k400_mm1",
            "slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb/"
            "slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb_20220901-701b0f6f.pth",
            "701b0f6f", "slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb", top1=75.55, top5=92.35,
            resolution="224x224 (train crop)", data="videos", gpus="8", generation="1.x",
            params=34_479_288, gflops=72.198, fusion_kernel=5, test=_TEST_1X,
            notes="mmengine checkpoint; trained on videos (decord), train crop 224."),
    _record("slowfast_r50_8x8x1", "k400_mm1",
            "slowfast_r50_8xb8-8x8x1-256e_kinetics400-rgb/"
            "slowfast_r50_8xb8-8x8x1-256e_kinetics400-rgb_20220818-1cb6dfc8.pth",
            "1cb6dfc8", "slowfast_r50_8xb8-8x8x1-256e_kinetics400-rgb", top1=76.8, top5=92.99,
            resolution="224x224 (train crop)", data="videos", gpus="8", generation="1.x",
            params=34_565_560, gflops=131.418, fusion_kernel=7, test=_TEST_1X,
            notes="The file MMAction2 1.x's inferencer alias 'slowfast' points to."),
    _record("slowfast_r50_8x8x1_ln", "k400_mm1_steplr",
            "slowfast_r50_8xb8-8x8x1-steplr-256e_kinetics400-rgb/"
            "slowfast_r50_8xb8-8x8x1-steplr-256e_kinetics400-rgb_20220818-b62a501f.pth",
            "b62a501f", "slowfast_r50_8xb8-8x8x1-steplr-256e_kinetics400-rgb", top1=76.65, top5=92.86,
            resolution="224x224 (train crop)", data="videos", gpus="8", generation="1.x",
            params=34_566_488, gflops=131.418, fusion_kernel=7, test=_TEST_1X,
            notes="lateral_norm=True, step LR schedule."),
    _record("slowfast_r101_8x8x1", "k400_mm1",
            "slowfast_r101_8xb8-8x8x1-256e_kinetics400-rgb/"
            "slowfast_r101_8xb8-8x8x1-256e_kinetics400-rgb_20220901-9c0e09bd.pth",
            "9c0e09bd", "slowfast_r101_8xb8-8x8x1-256e_kinetics400-rgb", top1=78.65, top5=93.88,
            resolution="224x224 (train crop)", data="videos", gpus="8", generation="1.x",
            params=62_912_312, gflops=252.633, fusion_kernel=7, test=_TEST_1X,
            alternative_paths=("slowfast_r101_8xb8-8x8x1-256e_kinetics400-rgb/"
                               "slowfast_r101_8xb8-8x8x1-256e_kinetics400-rgb_20220818-9c0e09bd.pth",),
            notes="MMAction2's metafile names this file with the date 20220901, its README with "
                  "20220818 (same sha256 prefix); both URLs are tried, in that order."),
    _record("slowfast_r101_r50_4x16x1", "k400_mm1",
            "slowfast_r101-r50_32xb8-4x16x1-256e_kinetics400-rgb/"
            "slowfast_r101-r50_32xb8-4x16x1-256e_kinetics400-rgb_20220901-a77ac3ee.pth",
            "a77ac3ee", "slowfast_r101-r50_32xb8-4x16x1-256e_kinetics400-rgb", top1=77.03, top5=92.99,
            resolution="224x224 (train crop)", data="videos", gpus="32", generation="1.x",
            params=62_384_312, gflops=129.241, fusion_kernel=5, test=_TEST_1X,
            notes="Trained on 32 GPUs (lr 0.4)."),
)

#: The 19 MMAction2 records, in README order.
RECORDS: tuple[PretrainedCfg, ...] = _RECORDS_0X_TABLE + _RECORDS_0X_MORE + _RECORDS_1X
