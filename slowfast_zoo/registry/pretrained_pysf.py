"""The PyTorchVideo and PySlowFast SlowFast recognition checkpoints, as data (14 weights).

Sources (both Apache-2.0, read at their repositories' heads, 2026):

* PyTorchVideo ``docs/source/model_zoo.md`` (rows added 2021-04-13, the 16x8 R101 on 2021-05-25)
  and ``pytorchvideo/models/hub/slowfast.py``: the ``.pyth`` files under
  ``dl.fbaipublicfiles.com/pytorchvideo/model_zoo/``; PySlowFast's
  ``projects/pytorchvideo/README.md`` lists the same numbers and re-hosts the files under
  ``pytorchvideo/pysf_model_zoo/`` with every key prefixed ``model.`` (its ``PTVSlowFast``
  wrapper): those are each tag's ``alternative_urls``. That README links its Charades row to the
  ``ssv2/`` re-host by mistake (SlowFast PR #466), so the Charades tag has no re-host.
* PySlowFast ``MODEL_ZOO.md``: the caffe2 Kinetics-400 files (``model_zoo/kinetics400/``, trained
  and tested in Caffe2) and the multigrid zoo (``pyslowfast/model_zoo/multigrid/model_zoo/``, the
  doubled ``pyslowfast/`` is in the published URLs), with the configs under ``configs/``
  (``Kinetics/c2``, ``Kinetics``, ``SSv2``, ``Charades``; ``*/pytorchvideo`` for the PyTorchVideo
  rows), which give every test-protocol value below.

Top-1 / top-5 (Charades: mAP) are the published numbers. ``num_params`` and ``gflops`` are
measured from our modules as for the MMAction2 records (2 FLOPs per multiply-add, one test view:
the weight's ``test.clip_len`` frames at ``test.crop_size``); the frameworks' own figures (fvcore's
count, one multiply-add = 1 FLOP) are quoted in each record's notes. No URL carries a hash and
no file was downloaded here: ``sha256`` and ``file_size`` stay ``None`` until a first download
records them (trust on first use).
"""

from __future__ import annotations

from typing import Any

from slowfast_zoo.registry.classes import CHARADES_CLASSES, KINETICS400_CLASSES, SSV2_CLASSES
from slowfast_zoo.registry.records import (
    PYSF_MEAN,
    PYSF_STD,
    PretrainedCfg,
    TestProtocol,
    TrainProtocol,
)

__all__ = ["RECORDS", "PTV_CITATION", "PSF_CITATION"]

_PTV = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/"
_PTV_REHOST = "https://dl.fbaipublicfiles.com/pytorchvideo/pysf_model_zoo/"
_PSF_C2 = "https://dl.fbaipublicfiles.com/pyslowfast/model_zoo/kinetics400/"
_PSF_MULTIGRID = "https://dl.fbaipublicfiles.com/pyslowfast/pyslowfast/model_zoo/multigrid/model_zoo/"

_SLOWFAST_BIB = (
    "@inproceedings{feichtenhofer2019slowfast,\n"
    "  title={SlowFast Networks for Video Recognition},\n"
    "  author={Feichtenhofer, Christoph and Fan, Haoqi and Malik, Jitendra and He, Kaiming},\n"
    "  booktitle={ICCV},\n  year={2019}\n}\n"
)
PTV_CITATION = _SLOWFAST_BIB + (
    "@inproceedings{fan2021pytorchvideo,\n"
    "  title={{PyTorchVideo}: A Deep Learning Library for Video Understanding},\n"
    "  author={Fan, Haoqi and Murrell, Tullie and Wang, Heng and Alwala, Kalyan Vasudev and Li, Yanghao "
    "and Li, Yilei and Xiong, Bo and Ravi, Nikhila and Li, Meng and Yang, Haichuan and Malik, Jitendra "
    "and Girshick, Ross and Feiszli, Matt and Adcock, Aaron and Lo, Wan-Yen and Feichtenhofer, Christoph},\n"
    "  booktitle={Proceedings of the 29th ACM International Conference on Multimedia},\n  year={2021}\n}"
)
PSF_CITATION = _SLOWFAST_BIB + (
    "@misc{fan2020pyslowfast,\n"
    "  author={Fan, Haoqi and Li, Yanghao and Xiong, Bo and Lo, Wan-Yen and Feichtenhofer, Christoph},\n"
    "  title={PySlowFast},\n  howpublished={\\url{https://github.com/facebookresearch/slowfast}},\n"
    "  year={2020}\n}"
)
_MULTIGRID_CITATION = PSF_CITATION + (
    "\n@inproceedings{multigrid2020,\n"
    "  title={{A Multigrid Method for Efficiently Training Video Models}},\n"
    "  author={Wu, Chao-Yuan and Girshick, Ross and He, Kaiming and Feichtenhofer, Christoph and "
    "Kr{\\\"a}henb{\\\"u}hl, Philipp},\n  booktitle={CVPR},\n  year={2020}\n}"
)


# The test protocols, one per (framework, dataset), from the configs' DATA / TEST sections and
# PySlowFast's datasets (the README of ../shared/reference/pysf records the code paths).
def _ptv_kinetics(frames: int) -> TestProtocol:
    """``Ptvkinetics``: 10 clips of ``frames * 2 / 30`` s from the 2021-04 clip sampler,
    ``UniformTemporalSubsample(frames)``, normalize, ``ShortSideScale(256)``,
    ``UniformCropVideo(256)`` x 3."""
    return TestProtocol(clip_len=frames, frame_interval=2, num_clips=10, resize_short_side=256, crop_size=256,
                        num_crops=3, sampling_rule="ptv_2021_04", family="ptv", target_fps=30.0,
                        normalize_before_resize=True)


# Ptvssv2: the whole video, the middle frame of each of 32 segments, three 256 crops.
_PTV_SSV2 = TestProtocol(clip_len=32, frame_interval=2, num_clips=1, resize_short_side=256, crop_size=256,
                         num_crops=3, sampling_rule="segment_middle", family="ptv", normalize_before_resize=True)
# Ptvcharades: 10 clips of (32 - 1) * 2 + 1 frames at FrameVideo's 30 fps, 32 of them by linspace,
# three 256 crops, sigmoid, max over the 30 views.
_PTV_CHARADES = TestProtocol(clip_len=32, frame_interval=2, num_clips=10, resize_short_side=256, crop_size=256,
                             num_crops=3, sampling_rule="ptv_2021_04", family="ptv", target_fps=30.0,
                             clip_span=63, normalize_before_resize=True, score_activation="sigmoid",
                             view_combination="max")


def _psf_kinetics(crop: int) -> TestProtocol:
    """PySlowFast's ``Kinetics`` test: 10 clips by its decoder at 30 fps, 3 crops; with 3 crops
    the short side is resized to the crop (``TEST_CROP_SIZE``, 224 in the multigrid config)."""
    return TestProtocol(clip_len=32, frame_interval=2, num_clips=10, resize_short_side=crop, crop_size=crop,
                        num_crops=3, sampling_rule="psf_decoder", family="psf", target_fps=30.0,
                        normalize_before_resize=True)


def _psf_ssv2(crop: int) -> TestProtocol:
    """PySlowFast's ``Ssv2`` test in the multigrid-zoo configs: one clip of 64 segment-middle
    frames, one crop whose index is ``view % 1 == 0``: the left (top) one, not the centre."""
    return TestProtocol(clip_len=64, frame_interval=2, num_clips=1, resize_short_side=crop, crop_size=crop,
                        num_crops=1, sampling_rule="segment_middle", family="psf", crop_index=0,
                        normalize_before_resize=True)


# PySlowFast's Charades test: 10 clips of 64 frames every 2nd frame of the frame folder, 3 crops of
# 256 (TEST_CROP_SIZE 256 in both configs), sigmoid, max over the 30 views.
_PSF_CHARADES = TestProtocol(clip_len=64, frame_interval=2, num_clips=10, resize_short_side=256, crop_size=256,
                             num_crops=3, sampling_rule="psf_charades", family="psf", clip_span=127,
                             normalize_before_resize=True, score_activation="sigmoid", view_combination="max")


def _jitter(low: int, high: int) -> str:
    return f"short side random in [{low}, {high}], crop 224"


def _pysf(arch: str, tag: str, url: str, config: str, *, top1: float | None, top5: float | None,
          test: TestProtocol, params: int, gflops: float, fusion_kernel: int, key_family: str,
          resolution: str, data: str, notes: str, mean_ap: float | None = None,
          alternative_urls: tuple[str, ...] = (), dataset: str = "Kinetics-400",
          class_names: tuple[str, ...] = KINETICS400_CLASSES, global_pool_head: bool = False,
          flip: bool = True, citation: str = PSF_CITATION) -> PretrainedCfg:
    """One record; what every PyTorchVideo / PySlowFast weight shares is filled in here."""
    return PretrainedCfg(
        name=f"{arch}.{tag}", architecture=arch, tag=tag, url=url, file_name=url.rsplit("/", 1)[1],
        sha256_prefix="", source_config=config, num_classes=len(class_names), class_names=class_names,
        top1=top1, top5=top5, train_resolution=resolution, train_data=data, train_gpus="not published",
        inference_speed_video_per_s=None, gpu_memory_mb=None, num_params=params, gflops=gflops,
        fusion_kernel=fusion_kernel, test=test,
        train=TrainProtocol(clip_len=test.clip_len, frame_interval=2, flip_ratio=0.5 if flip else 0.0),
        mean=PYSF_MEAN, std=PYSF_STD, data_start_index=0 if data == "videos" else 1, citation=citation,
        notes=notes, mmaction2="", dataset=dataset, alternative_urls=alternative_urls,
        global_pool_head=global_pool_head, mean_ap=mean_ap, key_family=key_family,
    )


def _ptv(arch: str, tag: str, path: str, config: str, *, flops: str, views: str, published_params: str,
         rehost: bool = True, more: str = "", **kw: Any) -> PretrainedCfg:
    """A PyTorchVideo zoo file, with PySlowFast's ``model.``-prefixed re-host as alternative and
    the zoo's own cost figures in the notes."""
    notes = (f"PyTorchVideo zoo: {flops} GFLOPs x {views} views, {published_params} M parameters (fvcore; "
             f"one multiply-add = 1 FLOP). Trained and tested with PySlowFast on PyTorchVideo's datasets.")
    if str(kw["test"].sampling_rule).startswith("ptv_"):
        # The sampler changed on 2021-10-21 and 2022-04-28; the zoo rows are from 2021-04/05.
        notes += (" The rows date from 2021-04/05, so their clips were presumably placed by that release's "
                  "clip sampler (test.sampling_rule ptv_2021_04; the later behaviours are selectable).")
    if rehost:
        notes += " PySlowFast re-hosts the file with every key prefixed 'model.' (the alternative URL)."
    return _pysf(arch, tag, _PTV + path, config, key_family="pytorchvideo",
                 alternative_urls=(_PTV_REHOST + path,) if rehost else (), citation=PTV_CITATION,
                 notes=f"{notes} {more}".rstrip(), **kw)

_RECORDS_PTV = (
    _ptv("pysf_slowfast_r50_4x16", "k400_ptv", "kinetics/SLOWFAST_4x16_R50.pyth",
         "Kinetics/pytorchvideo/SLOWFAST_4x16_R50", flops="36.69", views="3 x 10", published_params="34.48",
         top1=75.34, top5=91.89, test=_ptv_kinetics(32), params=34_480_216, gflops=72.198, fusion_kernel=5,
         resolution=_jitter(256, 320), data="videos", more="Not one of PyTorchVideo's torch.hub models."),
    _ptv("pysf_slowfast_r50_8x8", "k400_ptv", "kinetics/SLOWFAST_8x8_R50.pyth",
         "Kinetics/pytorchvideo/SLOWFAST_8x8_R50", flops="65.71", views="3 x 10", published_params="34.57",
         top1=76.94, top5=92.69, test=_ptv_kinetics(32), params=34_566_488, gflops=131.418, fusion_kernel=7,
         resolution=_jitter(256, 320), data="videos",
         more="The file of PyTorchVideo's torch.hub 'slowfast_r50' (whose docstring says top-1 76.4; the zoo "
              "table and the hub README say 76.94)."),
    _ptv("pysf_slowfast_r101_8x8", "k400_ptv", "kinetics/SLOWFAST_8x8_R101.pyth",
         "Kinetics/pytorchvideo/SLOWFAST_8x8_R101", flops="127.20", views="3 x 10", published_params="62.83",
         top1=77.90, top5=93.27, test=_ptv_kinetics(32), params=62_826_968, gflops=251.811, fusion_kernel=5,
         resolution=_jitter(256, 320), data="videos",
         more="The file of PyTorchVideo's torch.hub 'slowfast_r101'; lateral temporal kernel 5."),
    _ptv("pysf_slowfast_16x8_r101_50_50", "k400_ptv", "kinetics/SLOWFAST_16x8_R101_50_50.pyth",
         "Kinetics/pytorchvideo/SLOWFAST_16x8_R101_50_50", flops="215.61", views="3 x 10",
         published_params="53.77", top1=78.70, top5=93.61, test=_ptv_kinetics(64), params=53_774_808,
         gflops=426.042, fusion_kernel=5, resolution=_jitter(256, 360), data="videos",
         more="The file of PyTorchVideo's torch.hub 'slowfast_16x8_r101_50_50' (zoo row added 2021-05-25): "
              "64-frame input, temporal kernels in the first 6 of the 23 res4 blocks only."),
    _ptv("pysf_slowfast_r50_8x8", "ssv2_ptv", "ssv2/SLOWFAST_8x8_R50.pyth", "SSv2/pytorchvideo/SLOWFAST_8x8_R50",
         flops="66.60", views="3 x 1", published_params="34.04", top1=61.68, top5=86.92, test=_PTV_SSV2,
         params=34_045_558, gflops=131.417, fusion_kernel=7, resolution=_jitter(256, 320) + ", no flip",
         data="rawframes", dataset="Something-Something V2", class_names=SSV2_CLASSES, flip=False,
         more="Something-Something V2 (174 classes), fine-tuned from a Kinetics-400 SlowFast (the zoo names "
              "no file). Tested on one clip of 32 segment-middle frames, three 256 crops. Class names are "
              "the dataset's (something-something-v2-labels.json): class_0 ... here."),
    _ptv("pysf_slowfast_r50_8x8", "charades_ptv", "charades/SLOWFAST_8x8_R50.pyth",
         "Charades/pytorchvideo/SLOWFAST_8x8_R50", flops="66.60", views="3 x 10", published_params="34.00",
         rehost=False, top1=None, top5=None, mean_ap=37.24, test=_PTV_CHARADES, params=34_006_373,
         gflops=131.417, fusion_kernel=7, resolution=_jitter(256, 320), data="rawframes", dataset="Charades",
         class_names=CHARADES_CLASSES,
         more="Charades (157 classes, multi-label: sigmoid, max over views, mAP), fine-tuned from a "
              "Kinetics-400 SlowFast. pytorchvideo#67 reports that this file loads strictly into a "
              "400-class model: it may carry a 400-class head, which the loader reports. PySlowFast's "
              "README links this row to its ssv2/ re-host by mistake (SlowFast PR #466): no alternative "
              "URL. Class names are the dataset's (Charades_v1_classes.txt): class_0 ... here."),
)

_C2_NOTE = ("Trained and tested in Caffe2 (PySlowFast: 'original pretrained models from Caffe2 ... testing "
            "Caffe2 pretrained model in PyTorch might have a small difference in performance'); a caffe2 "
            "pickle of blobs. The test protocol is the PySlowFast config's (10 clips x 3 crops, short "
            "side = crop = 256). No FLOPs published.")
_MULTIGRID_NOTE = ("PySlowFast-trained: a torch file named .pkl (its config loads it with the default "
                   "CHECKPOINT_TYPE pytorch), PySlowFast key names. No FLOPs or parameter count published.")

_RECORDS_PSF = (
    _pysf("pysf_slowfast_r50_4x16", "k400_c2", _PSF_C2 + "SLOWFAST_4x16_R50.pkl", "Kinetics/c2/SLOWFAST_4x16_R50",
          top1=75.6, top5=92.0, test=_psf_kinetics(256), params=34_480_216, gflops=72.198, fusion_kernel=5,
          key_family="caffe2", resolution=_jitter(256, 320), data="videos", notes=_C2_NOTE),
    _pysf("pysf_slowfast_r50_8x8", "k400_c2", _PSF_C2 + "SLOWFAST_8x8_R50.pkl", "Kinetics/c2/SLOWFAST_8x8_R50",
          top1=77.0, top5=92.6, test=_psf_kinetics(256), params=34_566_488, gflops=131.418, fusion_kernel=7,
          key_family="caffe2", resolution=_jitter(256, 320), data="videos",
          notes=_C2_NOTE + " The Kinetics-400 pretrain of the multigrid zoo's SSv2 and Charades weights."),
    _pysf("pysf_slowfast_r50_8x8", "k400_stepwise", _PSF_MULTIGRID + "Kinetics/SLOWFAST_8x8_R50_stepwise.pkl",
          "Kinetics/SLOWFAST_8x8_R50_stepwise", top1=76.8, top5=92.7, test=_psf_kinetics(256),
          params=34_566_488, gflops=131.418, fusion_kernel=7, key_family="pyslowfast",
          resolution=_jitter(256, 320), data="videos", citation=_MULTIGRID_CITATION,
          notes="The multigrid zoo's baseline ('Standard' training, stepwise learning rate, 239 epochs). "
                + _MULTIGRID_NOTE),
    _pysf("pysf_slowfast_r50_8x8", "k400_multigrid",
          _PSF_MULTIGRID + "Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid.pkl",
          "Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid", top1=76.6, top5=92.7, test=_psf_kinetics(224),
          params=34_566_488, gflops=100.617, fusion_kernel=7, key_family="pyslowfast",
          resolution=_jitter(256, 320) + " (multigrid: varying shapes)", data="videos",
          global_pool_head=True, citation=_MULTIGRID_CITATION,
          notes="Multigrid training (long and short cycles, stepwise learning rate): the short cycle makes "
                "the head pool globally (global_pool_head). Tested at short side = crop = 224 (the "
                "config's TEST_CROP_SIZE). " + _MULTIGRID_NOTE),
)

_SSV2_NOTE = ("Something-Something V2 (174 classes), fine-tuned from pysf_slowfast_r50_8x8.k400_c2 "
              "(SLOWFAST_8x8_R50.pkl, MODEL_ZOO.md's pretrain link); trained with synchronized BatchNorm "
              "over 4 devices (plain BatchNorm at test time), no flip. Tested on one clip of 64 "
              "segment-middle frames and one crop at index 0 (left/top, not the centre). Class names are "
              "the dataset's (something-something-v2-labels.json): class_0 ... here. ")
_CHARADES_NOTE = ("Charades (157 classes, multi-label: sigmoid, max over the 30 views, mAP), fine-tuned from "
                  "pysf_slowfast_r50_8x8.k400_c2; trained with synchronized BatchNorm over 4 devices. "
                  "MODEL_ZOO.md's config column names SSv2/SLOWFAST_16x8_R50{,_multigrid} for the Charades "
                  "rows; the Charades configs are configs/Charades/. Class names are the dataset's "
                  "(Charades_v1_classes.txt): class_0 ... here. ")

_RECORDS_PSF_16X8 = (
    _pysf("pysf_slowfast_r50_16x8", "ssv2", _PSF_MULTIGRID + "SSv2/SLOWFAST_16x8_R50.pkl", "SSv2/SLOWFAST_16x8_R50",
          top1=63.0, top5=88.5, test=_psf_ssv2(256), params=34_045_558, gflops=262.833, fusion_kernel=7,
          key_family="pyslowfast", resolution=_jitter(256, 320) + ", no flip", data="rawframes",
          dataset="Something-Something V2", class_names=SSV2_CLASSES, flip=False, citation=_MULTIGRID_CITATION,
          notes=_SSV2_NOTE + "Standard training. " + _MULTIGRID_NOTE),
    _pysf("pysf_slowfast_r50_16x8", "ssv2_multigrid", _PSF_MULTIGRID + "SSv2/SLOWFAST_16x8_R50_multigrid.pkl",
          "SSv2/SLOWFAST_16x8_R50_multigrid", top1=63.5, top5=88.7, test=_psf_ssv2(224), params=34_045_558,
          gflops=201.231, fusion_kernel=7, key_family="pyslowfast",
          resolution=_jitter(256, 320) + ", no flip (multigrid: varying shapes)", data="rawframes",
          dataset="Something-Something V2", class_names=SSV2_CLASSES, flip=False, global_pool_head=True,
          citation=_MULTIGRID_CITATION,
          notes=_SSV2_NOTE + "Multigrid training: global-pool head; tested at short side = crop = 224. "
                + _MULTIGRID_NOTE),
    _pysf("pysf_slowfast_r50_16x8", "charades", _PSF_MULTIGRID + "Charades/SLOWFAST_16x8_R50.pkl",
          "Charades/SLOWFAST_16x8_R50", top1=None, top5=None, mean_ap=38.9, test=_PSF_CHARADES,
          params=34_006_373, gflops=262.833, fusion_kernel=7, key_family="pyslowfast",
          resolution=_jitter(256, 340), data="rawframes", dataset="Charades", class_names=CHARADES_CLASSES,
          citation=_MULTIGRID_CITATION, notes=_CHARADES_NOTE + "Standard training. " + _MULTIGRID_NOTE),
    _pysf("pysf_slowfast_r50_16x8", "charades_multigrid",
          _PSF_MULTIGRID + "Charades/SLOWFAST_16x8_R50_multigrid.pkl", "Charades/SLOWFAST_16x8_R50_multigrid",
          top1=None, top5=None, mean_ap=38.6, test=_PSF_CHARADES, params=34_006_373, gflops=262.833,
          fusion_kernel=7, key_family="pyslowfast", resolution=_jitter(256, 340) + " (multigrid: varying shapes)",
          data="rawframes", dataset="Charades", class_names=CHARADES_CLASSES, global_pool_head=True,
          citation=_MULTIGRID_CITATION,
          notes=_CHARADES_NOTE + "Multigrid training: global-pool head; tested at 256 like the standard "
                "weight (the config's TEST_CROP_SIZE). " + _MULTIGRID_NOTE),
)

#: The 14 PyTorchVideo / PySlowFast records.
RECORDS: tuple[PretrainedCfg, ...] = _RECORDS_PTV + _RECORDS_PSF + _RECORDS_PSF_16X8
