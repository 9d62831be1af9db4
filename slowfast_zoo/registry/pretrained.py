"""The eight published Kinetics-400 checkpoints of MMAction2's SlowFast zoo, as data.

Source: MMAction2 ``configs/recognition/slowfast/README.md`` as of releases v0.13.0-v0.16.0
(2021), see docs/SPEC.md section 1. Accuracies are the published top-1/top-5 (%) with the test
protocol of every row: 10 clips x 3 crops, short side 256, three 256 crops, softmax averaged.
``num_params`` and ``gflops`` (2 FLOPs per multiply-add, one 32x256x256 view, convolutions
and the classifier only) are measured from our modules; ``tests/test_registry.py`` re-measures
them and checks them against MMAction2's state-dict manifests.
"""

from __future__ import annotations

from importlib import resources
from types import MappingProxyType

from slowfast_zoo.registry.records import PretrainedCfg

__all__ = ["PRETRAINED", "KINETICS400_CLASSES"]

_URL_ROOT = "https://download.openmmlab.com/mmaction/recognition/slowfast/"

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


def _load_class_names() -> tuple[str, ...]:
    text = resources.files("slowfast_zoo").joinpath("labels/kinetics400.txt").read_text("utf-8")
    names = tuple(line for line in text.splitlines() if line)
    if len(names) != 400:  # a broken install must not silently mislabel predictions
        raise RuntimeError(f"slowfast_zoo/labels/kinetics400.txt has {len(names)} names, expected 400")
    return names


#: The 400 Kinetics-400 class names in MMAction2's label-map order (alphabetical).
KINETICS400_CLASSES: tuple[str, ...] = _load_class_names()


def _record(arch: str, tag: str, path: str, sha: str, config: str, *, top1: float, top5: float,
            resolution: int, data: str, gpus: str, speed: float | None, memory: int,
            params: int, gflops: float, fusion_kernel: int, notes: str = "") -> PretrainedCfg:
    file_name = path.rsplit("/", 1)[1]
    assert file_name.endswith(f"-{sha}.pth"), file_name
    return PretrainedCfg(
        name=f"{arch}.{tag}", architecture=arch, tag=tag, url=_URL_ROOT + path, file_name=file_name,
        sha256_prefix=sha, source_config=config, num_classes=400, class_names=KINETICS400_CLASSES,
        top1=top1, top5=top5, train_resolution=resolution, train_data=data, train_gpus=gpus,
        inference_speed_video_per_s=speed, gpu_memory_mb=memory, num_params=params, gflops=gflops,
        fusion_kernel=fusion_kernel, data_start_index=0 if data == "videos" else 1,
        citation=CITATION, notes=notes,
    )


_RECORDS = (
    _record("slowfast_r50_4x16x1", "k400_256p",
            "slowfast_r50_256p_4x16x1_256e_kinetics400_rgb/"
            "slowfast_r50_256p_4x16x1_256e_kinetics400_rgb_20200728-145f1097.pth",
            "145f1097", "slowfast_r50_4x16x1_256e_kinetics400_rgb", top1=74.75, top5=91.73,
            resolution=256, data="rawframes", gpus="8x4", speed=None, memory=6203,
            params=34_479_288, gflops=72.198, fusion_kernel=5),
    _record("slowfast_r50_4x16x1", "k400_video",
            "slowfast_r50_video_4x16x1_256e_kinetics400_rgb/"
            "slowfast_r50_video_4x16x1_256e_kinetics400_rgb_20200826-f85b90c5.pth",
            "f85b90c5", "slowfast_r50_video_4x16x1_256e_kinetics400_rgb", top1=74.34, top5=91.58,
            resolution=256, data="videos", gpus="8", speed=None, memory=6203,
            params=34_479_288, gflops=72.198, fusion_kernel=5,
            notes="Trained and tested on videos decoded with decord (start_index 0). In Sept 2021 "
                  "MMAction2 corrected its reported accuracy to 73.95 / 91.50 (PR #1138)."),
    _record("slowfast_r50_4x16x1", "k400_320p",
            "slowfast_r50_4x16x1_256e_kinetics400_rgb/"
            "slowfast_r50_4x16x1_256e_kinetics400_rgb_20200704-bcde7ed7.pth",
            "bcde7ed7", "slowfast_r50_4x16x1_256e_kinetics400_rgb", top1=75.64, top5=92.30,
            resolution=320, data="rawframes", gpus="8x3", speed=1.6, memory=6203,
            params=34_479_288, gflops=72.198, fusion_kernel=5,
            notes="In July 2021 MMAction2's README switched this row to a retrained file (-04e43ed4, "
                  "76.0 / 92.54); this file stays in later metafiles and is the Kinetics pretrain of "
                  "the 0.x AVA SlowFast configs."),
    _record("slowfast_r50_8x8x1", "k400_256p",
            "slowfast_r50_256p_8x8x1_256e_kinetics400_rgb/"
            "slowfast_r50_256p_8x8x1_256e_kinetics400_rgb_20200810-863812c2.pth",
            "863812c2", "slowfast_r50_8x8x1_256e_kinetics400_rgb", top1=75.61, top5=92.34,
            resolution=256, data="rawframes", gpus="8x4", speed=None, memory=9062,
            params=34_479_288, gflops=130.596, fusion_kernel=5,
            notes="This file was trained with lateral temporal kernel 5, not the config's 7: this tag "
                  "builds kernel-5 lateral convs to match it. MMAction2 loaded it non-strictly and left "
                  "those four convs random, then removed the row in Dec 2021 (PR #1309)."),
    _record("slowfast_r50_8x8x1", "k400_320p",
            "slowfast_r50_8x8x1_256e_kinetics400_rgb/"
            "slowfast_r50_8x8x1_256e_kinetics400_rgb_20200716-73547d2b.pth",
            "73547d2b", "slowfast_r50_8x8x1_256e_kinetics400_rgb", top1=76.94, top5=92.80,
            resolution=320, data="rawframes", gpus="8x3", speed=1.3, memory=9062,
            params=34_565_560, gflops=131.418, fusion_kernel=7),
    _record("slowfast_r101_r50_4x16x1", "k400_256p",
            "slowfast_r101_4x16x1_256e_kinetics400_rgb/"
            "slowfast_r101_4x16x1_256e_kinetics400_rgb_20210218-d8b58813.pth",
            "d8b58813", "slowfast_r101_r50_4x16x1_256e_kinetics400_rgb", top1=76.69, top5=93.07,
            resolution=256, data="rawframes", gpus="8x1", speed=None, memory=16628,
            params=62_384_312, gflops=129.241, fusion_kernel=5),
    _record("slowfast_r101_8x8x1", "k400_256p",
            "slowfast_r101_8x8x1_256e_kinetics400_rgb/"
            "slowfast_r101_8x8x1_256e_kinetics400_rgb_20210218-0dd54025.pth",
            "0dd54025", "slowfast_r101_8x8x1_256e_kinetics400_rgb", top1=77.90, top5=93.51,
            resolution=256, data="rawframes", gpus="8x4", speed=None, memory=25994,
            params=62_912_312, gflops=252.633, fusion_kernel=7),
    _record("slowfast_r152_r50_4x16x1", "k400_256p",
            "slowfast_r152_4x16x1_256e_kinetics400_rgb/"
            "slowfast_r152_4x16x1_256e_kinetics400_rgb_20210122-bdeb6b87.pth",
            "bdeb6b87", "slowfast_r152_r50_4x16x1_256e_kinetics400_rgb", top1=77.13, top5=93.20,
            resolution=256, data="rawframes", gpus="8x1", speed=None, memory=10077,
            params=84_843_704, gflops=181.988, fusion_kernel=5,
            notes="MMAction2 tested this row in chunks of 8 views (max_testing_views=8); the numbers "
                  "are identical to running all 30 views at once in eval mode."),
)

#: Read-only mapping ``"arch.tag" -> PretrainedCfg``.
PRETRAINED: MappingProxyType[str, PretrainedCfg] = MappingProxyType({r.name: r for r in _RECORDS})
