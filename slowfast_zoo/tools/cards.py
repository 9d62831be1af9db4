"""MODEL_CARDS.md, generated from the registry: ``python -m slowfast_zoo.tools.cards [--check]``.

Every number comes from :data:`slowfast_zoo.registry.PRETRAINED` (every SlowFast recognition
checkpoint MMAction2 published, 0.x and 1.x, docs/SPEC.md sections 1 and 9; those of the
PyTorchVideo and PySlowFast zoos; the AVA / MultiSports detectors of MMAction2 and PyTorchVideo;
all three projects are Apache-2.0: open-mmlab/mmaction2, facebookresearch/pytorchvideo,
facebookresearch/SlowFast)
and :data:`slowfast_zoo.registry.ARCHS`; nothing is typed twice. ``--check`` exits with 1 when
the file differs from what the registry gives (CI runs it via tests/test_tools_cards.py).

Example:
    >>> from slowfast_zoo.tools.cards import render
    >>> render().startswith("# Model cards")
    True
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from slowfast_zoo._io import atomic_write_text
from slowfast_zoo.errors import UsageError
from slowfast_zoo.registry import ARCHS, PRETRAINED, PretrainedCfg, get_arch_spec

__all__ = ["render", "render_card", "reproduce_command", "main", "generated_file_main"]

#: Where MMAction2's configs expect each test set (``ann_file_val`` / ``data_root_val``).
_DATA = {
    ("Kinetics-400", "rawframes"): ("data/kinetics400/kinetics400_val_list_rawframes.txt",
                                    "data/kinetics400/rawframes_val"),
    ("Kinetics-400", "videos"): ("data/kinetics400/kinetics400_val_list_videos.txt",
                                 "data/kinetics400/videos_val"),
    ("Something-Something V1", "rawframes"): ("data/sthv1/sthv1_val_list_rawframes.txt",
                                              "data/sthv1/rawframes"),
}

#: The groups of MODEL_CARDS.md, in order: (title, what the group holds, record filter).
_GROUPS = (
    ("MMAction2 0.x: the Kinetics-400 table",
     "The 8 rows of the 0.x README's Kinetics-400 table (v0.13.0-v0.16.0), mmcv checkpoints.",
     lambda c: c.task == "recognition" and c.mmaction2 == "0.x" and c.tag in ("k400_256p", "k400_320p", "k400_video")),
    ("MMAction2 0.x: later README rows",
     "Rows the 0.x README gained after the table (2021): the re-trained 320p, Precise-BN, step-LR "
     "and multigrid files, and Something-Something V1.",
     lambda c: c.task == "recognition" and c.mmaction2 == "0.x"
     and c.tag not in ("k400_256p", "k400_320p", "k400_video")),
    ("MMAction2 0.x: AVA detectors",
     "The SlowFast rows of the 0.x `configs/detection/ava` metafile and the README's custom-classes row: "
     "mmcv checkpoints, AVA rawframes, person boxes from the FAIR proposals, frame-mAP@0.5 by MMAction2's "
     "`ava_eval`. The two 0.x ACRN files pool over time by max before the ACRN head (the 1.x ones "
     "average): their own architecture, `slowfast_r50_8x8x1_ava_acrn_tmax`.",
     lambda c: c.task == "detection" and c.mmaction2 == "0.x"),
    ("MMAction2 1.x",
     "The MMAction2 1.x zoo: mmengine checkpoints, trained and tested on videos (decord), test "
     "clips placed by the 1.x SampleFrames rule (docs/SPEC.md section 9).",
     lambda c: c.task == "recognition" and c.mmaction2 == "1.x"),
    ("MMAction2 1.x: AVA and MultiSports detectors",
     "The 1.x `configs/detection/{slowfast,acrn}` metafiles: mmengine checkpoints, AVA rawframes (MultiSports: "
     "videos), frame-mAP@0.5 by MMAction2's `AVAMetric` (MultiSports: `MultiSportsMetric`).",
     lambda c: c.task == "detection" and c.mmaction2 == "1.x"),
    ("PyTorchVideo zoo",
     "PyTorchVideo's SlowFast files (its docs/source/model_zoo.md; torch.hub's slowfast_r50, slowfast_r101 "
     "and slowfast_16x8_r101_50_50), trained and tested with PySlowFast on PyTorchVideo's datasets; "
     "PySlowFast's `model.`-prefixed re-hosts are alternative URLs. No hash is published: the first "
     "download's sha256 is recorded and binds later loads.",
     lambda c: c.task == "recognition" and c.test.family == "ptv"),
    ("PyTorchVideo zoo: AVA detector",
     "The AVA (V2.2) SlowFast of PyTorchVideo's docs/source/model_zoo.md (torch.hub's slowfast_r50_detection), "
     "presumably trained and tested with PySlowFast's AVA pipeline and its copy of the ActivityNet evaluator. "
     "No hash is published: the first download's sha256 is recorded and binds later loads.",
     lambda c: c.task == "detection" and c.test.family == "ptv"),
    ("PySlowFast zoo",
     "PySlowFast's caffe2 Kinetics-400 files and its multigrid zoo (MODEL_ZOO.md), tested with "
     "PySlowFast's own datasets; the multigrid short-cycle weights have a global-pool head. No hash is "
     "published: the first download's sha256 is recorded and binds later loads.",
     lambda c: c.task == "recognition" and c.test.family == "psf"),
)

#: The label maps of ``DetectionProtocol.label_map``, in words.
_LABEL_MAPS = {
    "ava_v2.1": "the 60 actions of AVA v2.1's `ava_action_list_v2.1_for_activitynet_2018.pbtxt`",
    "ava_v2.2": "the 60 actions of AVA v2.2's `ava_action_list_v2.2_for_activitynet_2019.pbtxt` "
                "(`slowfast_zoo/labels/ava_action_list_v2.2.pbtxt`)",
    "ava_v2.1_custom16": "the weight's 16 custom classes, taken from the 80-action `ava_action_list_v2.1.pbtxt`",
    "multisports": "the 66 MultiSports actions",
}

#: Frame selection of the PyTorchVideo / PySlowFast protocols, in words (``TestProtocol.sampling_rule``).
_PYSF_FRAMES = {
    "ptv_2021_04": "PyTorchVideo's ConstantClipsPerVideoSampler as released in 2021-04",
    "ptv_0_1_5": "PyTorchVideo 0.1.5's ConstantClipsPerVideoSampler",
    "ptv_pinned": "PyTorchVideo's ConstantClipsPerVideoSampler after 2022-04",
    "psf_decoder": "PySlowFast's decoder",
}
_CROP_POSITIONS = ("left/top", "centre", "right/bottom")


def _data_format(cfg: PretrainedCfg) -> str:
    return "video" if cfg.train_data == "videos" else "rawframes"


def reproduce_command(cfg: PretrainedCfg, *, gpus: int = 1, cli: bool = False) -> str:
    """The command that re-measures ``cfg``'s published number on a Kinetics-400 copy.

    Example:
        >>> print(reproduce_command(PRETRAINED["slowfast_r50_4x16x1.k400_video"], cli=True))
        slowfast-zoo eval --model slowfast_r50_4x16x1.k400_video \\
            --ann-file data/kinetics400/kinetics400_val_list_videos.txt \\
            --data-root data/kinetics400/videos_val --data-format video \\
            --out slowfast_r50_4x16x1.k400_video.json
    """
    if cfg.task == "detection":
        raise UsageError(f"{cfg.name}: `slowfast-zoo eval` does not run the {cfg.dataset} detection protocol yet")
    if cfg.test.family != "mmaction2":
        raise UsageError(f"{cfg.name}: `slowfast-zoo eval` does not run the {cfg.test.family} test protocol yet")
    ann, root = _DATA[(cfg.dataset, cfg.train_data)]
    if gpus > 1:
        prog = f"torchrun --nproc_per_node {gpus} " + ("-m slowfast_zoo eval" if cli else "examples/eval_k400.py")
    else:
        prog = "slowfast-zoo eval" if cli else "python examples/eval_k400.py"
    return (f"{prog} --model {cfg.name} \\\n    --ann-file {ann} \\\n    --data-root {root} "
            f"--data-format {_data_format(cfg)} \\\n    --out {cfg.name}.json")


def _protocol_text(cfg: PretrainedCfg) -> str:
    p = cfg.test
    crop = f"ThreeCrop({p.crop_size})" if p.num_crops == 3 else f"CenterCrop({p.crop_size})"
    first = p.filename_tmpl.format(1)
    decode = ("DecordDecode in MMAction2, PyAV here; frames counted from 0" if cfg.train_data == "videos"
              else f"RawFrameDecode of {first}...; frames counted from 1")
    norm = " (1.x: in the model's data preprocessor, same numbers)" if cfg.mmaction2 == "1.x" else ""
    mean = ", ".join(f"{v:g}" for v in cfg.mean)
    std = ", ".join(f"{v:g}" for v in cfg.std)
    return (f"`SampleFrames(clip_len={p.clip_len}, frame_interval={p.frame_interval}, "
            f"num_clips={p.num_clips}, test_mode=True)` ({p.sampling_rule} rule) -> decode ({decode}) -> "
            f"`Resize((-1, {p.resize_short_side}))` -> `{crop}` -> `Normalize(mean=[{mean}], std=[{std}], "
            f"RGB)`{norm} -> `FormatShape('NCTHW')`: {p.num_views} view{'s' if p.num_views > 1 else ''} "
            f"of 3x{p.clip_len}x{p.crop_size}x{p.crop_size} per video, `average_clips='{p.average_clips}'` "
            f"(softmax per view, mean over views), metrics top-1 / top-5 accuracy over the "
            f"{cfg.dataset} validation list")


def _pysf_protocol_text(cfg: PretrainedCfg) -> str:
    """The test protocol of a PyTorchVideo / PySlowFast weight, in words."""
    p = cfg.test
    who = "PySlowFast's PyTorchVideo datasets (Ptv*)" if p.family == "ptv" else "PySlowFast's own datasets"
    fps = f"{p.target_fps:g}" if p.target_fps is not None else "?"
    if p.sampling_rule == "segment_middle":
        frames = (f"{p.num_clips} clip of {p.clip_len} frames, the middle frame of each of {p.clip_len} "
                  f"equal segments of the video")
    elif p.sampling_rule == "psf_charades":
        frames = (f"{p.num_clips} evenly spaced clips of {p.clip_len} frames, one in {p.frame_interval} "
                  f"of the frame folder ({p.span} frames)")
    elif p.sampling_rule == "psf_decoder":
        frames = (f"{p.num_clips} clips of {p.clip_len} frames, one in {p.frame_interval} of the video "
                  f"resampled to {fps} fps ({_PYSF_FRAMES[p.sampling_rule]})")
    else:
        frames = (f"{p.num_clips} clips of {p.span} frames at {fps} fps ({_PYSF_FRAMES[p.sampling_rule]}, "
                  f"`{p.sampling_rule}`), {p.clip_len} evenly spaced frames each")
    crops = (f"{p.num_crops} crops of {p.crop_size} ({', '.join(_CROP_POSITIONS)})" if p.num_crops == 3
             else f"one {p.crop_size} crop ({_CROP_POSITIONS[p.crop_index]})")
    mean = ", ".join(f"{v / 255:g}" for v in cfg.mean)
    std = ", ".join(f"{v / 255:g}" for v in cfg.std)
    metric = ("mAP over the classes with positives" if cfg.mean_ap is not None
              else "top-1 / top-5 accuracy")
    return (f"{who}: {frames} -> /255, mean [{mean}], std [{std}], {p.channel_order} -> short side "
            f"resized to {p.resize_short_side} (bilinear; normalized before resizing) -> {crops}: "
            f"{p.num_views} view{'s' if p.num_views > 1 else ''} of 3x{p.clip_len}x{p.crop_size}x{p.crop_size} "
            f"per video; {p.score_activation} at every head position, averaged per view; views combined by "
            f"{p.view_combination}; {metric} over the {cfg.dataset} validation set")


def _arch_text(cfg: PretrainedCfg) -> str:
    s = get_arch_spec(cfg.name)
    norm = " followed by BatchNorm + ReLU (lateral_norm)" if s.lateral_norm else ""
    if s.slow_sampling == "linspace":  # PySlowFast's network (= PyTorchVideo's create_slowfast)
        head = ("global average pooling (multigrid short cycle)" if not s.head_pool else
                f"AvgPool3d {list(s.head_pool[0])} / {list(s.head_pool[1])} with stride 1, the classifier at "
                f"every position, logits averaged")
        return (f"`{cfg.architecture}`: PySlowFast's SlowFast (PyTorchVideo's create_slowfast), ResNet-"
                f"{s.slow_depth} pathways, {s.num_frames}-frame input, slow clip of {s.num_frames // s.alpha} "
                f"frames by linspace, alpha {s.alpha}, channel ratio {s.channel_ratio}, lateral temporal "
                f"kernel {s.fusion_kernel}{norm}, head: {head}; classifier input slow then fast; "
                f"{cfg.num_classes} classes")
    return (f"`{cfg.architecture}`: slow ResNet-{s.slow_depth}, fast ResNet-{s.fast_depth}, "
            f"{s.num_frames}-frame input, tau {s.tau}, alpha {s.alpha}, channel ratio "
            f"{s.channel_ratio}, lateral temporal kernel {s.fusion_kernel}{norm}, "
            f"{cfg.num_classes} classes")


def _published(cfg: PretrainedCfg) -> str:
    if cfg.mean_ap is not None:
        return f"{cfg.mean_ap:.2f} %"
    return f"{cfg.top1:.2f} / {cfg.top5:.2f} %"


_FILE_KINDS = {"pytorchvideo": "torch file, PyTorchVideo key names", "pyslowfast": "torch file, PySlowFast key names",
               "caffe2": "caffe2 pickle of numpy blobs"}


def _render_pysf_card(cfg: PretrainedCfg) -> str:
    """The Markdown section of a PyTorchVideo / PySlowFast weight."""
    p = cfg.test
    names = ("" if cfg.class_names[0] != "class_0"
             else "; the dataset's class names are not shipped: `class_0` ... (pass `--label-map FILE`)")
    rows = [
        ("Architecture", _arch_text(cfg)),
        ("Parameters", f"{cfg.num_params:,}"),
        ("GFLOPs per view (ours)", f"{cfg.gflops:.3f} (one 3x{p.clip_len}x{p.crop_size}x{p.crop_size} view; "
                                   "convolutions and the classifier, 2 FLOPs per multiply-add; measured with "
                                   "torch.utils.flop_counter)"),
        ("Published " + ("mAP" if cfg.mean_ap is not None else "top-1 / top-5"), _published(cfg)),
        ("Trained / tested on", f"{cfg.dataset} {cfg.train_data} ({cfg.train_resolution}); GPUs "
                                f"{cfg.train_gpus}{names}"),
        ("Test protocol", _pysf_protocol_text(cfg)),
        ("Source config", f"PySlowFast `configs/{cfg.source_config}.yaml`"),
        ("File", _FILE_KINDS[cfg.key_family]),
        ("Weights", f"<{cfg.url}>" + "".join(f" (or <{u}>, keys prefixed `model.`)" for u in cfg.alternative_urls)),
        ("sha256", f"`{cfg.sha256}`" if cfg.sha256 else "not published: recorded on the first download "
                                                        "(trust on first use); pin one with `sha256=`"),
        ("License", cfg.license),
    ]
    lines = [f"### {cfg.name}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines += [""]
    if cfg.notes:
        lines += [f"Notes: {cfg.notes}", ""]
    lines += ["<details><summary>Citation</summary>", "", "```bibtex", cfg.citation.rstrip(), "```", "",
              "</details>", ""]
    return "\n".join(lines)


def _detector_text(cfg: PretrainedCfg) -> str:
    """A detector's network, in words."""
    s = get_arch_spec(cfg.name)
    roi = s.roi
    assert roi is not None
    base = ("PySlowFast's SlowFast (PyTorchVideo's create_slowfast_with_roi_head), slow clip by linspace, "
            "lateral conv + BatchNorm + ReLU" if s.slow_sampling == "linspace" else
            f"slow ResNet-{s.slow_depth}, fast ResNet-{s.fast_depth}, {s.num_frames}-frame input, tau {s.tau}")
    dilation = f" (dilation {s.res5_dilation})" if s.res5_dilation > 1 else ""
    extras = "".join((" + the clip's whole map pooled to the same cells (context: 4608 channels)" if roi.with_global
                      else "", ", ACRN shared head (actor-context relations, 4608 -> 2304)"
                      if roi.shared_head == "acrn" else ""))
    rows = " + a background row" if roi.background_class else ""
    return (f"`{cfg.architecture}`: {base}, alpha {s.alpha}, lateral temporal kernel {s.fusion_kernel}, res5 at "
            f"spatial stride 1{dilation} (features at 1/16); per person box: each pathway's map {roi.temporal_pool}-"
            f"pooled over time (slow then fast, 2304 channels){extras}, RoIAlign {roi.output_size}x"
            f"{roi.output_size} (aligned={roi.aligned}), max over the cells, linear classifier: {cfg.num_classes} "
            f"actions{rows}, {roi.score_activation}")


def _detection_protocol_text(cfg: PretrainedCfg) -> str:
    """A detection weight's test protocol (``cfg.detection``), in words."""
    d = cfg.detection
    assert d is not None
    step = "frames" if d.fps == 1 else f"seconds at {d.fps:g} fps"
    frames = "video frames (decord in MMAction2)" if cfg.train_data == "videos" else "rawframes"
    mean = ", ".join(f"{v:g}" for v in cfg.mean)
    std = ", ".join(f"{v:g}" for v in cfg.std)
    evaluator = {"mmaction2": "MMAction2's evaluator" + (" (MultiSportsMetric; each box keeps its top class)"
                                                         if d.label_map == "multisports" else " (ava_eval)"),
                 "official": "the ActivityNet AVA evaluator (PySlowFast's copy)"}[d.evaluator]
    kept = (f"detections under {d.action_score_threshold:g} dropped" if d.action_score_threshold > 0
            else "every score kept")
    boxes = (f"score >= {d.proposal_score_threshold:g}, else the best one; at most {d.max_proposals}"
             if d.evaluator == "mmaction2" else f"score >= {d.proposal_score_threshold:g}, no fallback")
    return (f"one clip per keyframe: {d.clip_len} {frames}, one in {d.frame_interval}, centred on the keyframe "
            f"(timestamps in {step} from {d.timestamp_start}, start_index {d.start_index}) -> short side resized "
            f"to {d.resize_short_side}, boxes scaled alike, no crop -> `Normalize(mean=[{mean}], std=[{std}], RGB)`; "
            f"person boxes from `{d.proposals}` ({boxes}); {cfg.test.score_activation} per box, {kept}; "
            f"frame-mAP@0.5 IoU by {evaluator} "
            f"on {_LABEL_MAPS.get(d.label_map, d.label_map)}")


def _render_detection_card(cfg: PretrainedCfg) -> str:
    """The Markdown section of an action-detection weight."""
    d = cfg.detection
    assert d is not None
    if cfg.test.family == "mmaction2":
        source = (f"`{cfg.source_config}` (MMAction2 {cfg.mmaction2}, "
                  f"{'mmengine' if cfg.mmaction2 == '1.x' else 'mmcv'} checkpoint)")
        hashed = ("sha256 prefix", f"`{cfg.sha256_prefix}` (checked after download)")
        memory = ("not published" if cfg.gpu_memory_mb is None
                  else f"{cfg.gpu_memory_mb} MB (the README's gpu_mem column, training)")
    else:
        source = f"PySlowFast `configs/{cfg.source_config}.yaml` (presumably: see the notes)"
        hashed = ("sha256", f"`{cfg.sha256}`" if cfg.sha256 else "not published: recorded on the first download "
                                                                 "(trust on first use); pin one with `sha256=`")
        memory = "not published"
    metric = "f-mAP" if d.label_map == "multisports" else "mAP"
    rows = [
        ("Task", f"spatio-temporal action detection ({cfg.dataset}): action scores per person box"),
        ("Architecture", _detector_text(cfg)),
        ("Parameters", f"{cfg.num_params:,}"),
        ("GFLOPs per clip (ours)", f"{cfg.gflops:.3f} (one 3x{d.clip_len}x{d.resize_short_side}x{d.resize_short_side} "
                                   "clip and one box; convolutions, the RoI head's and the classifier, 2 FLOPs per "
                                   "multiply-add, RoIAlign not counted; measured with torch.utils.flop_counter)"),
        (f"Published {metric}", f"{cfg.mean_ap:.2f} % (frame-mAP@0.5 IoU, {cfg.dataset} validation)"),
        ("Published GPU memory", memory),
        ("Trained / tested on", f"{cfg.dataset} {cfg.train_data} ({cfg.train_resolution}); "
                                + ("training GPUs not published" if cfg.train_gpus == "not published"
                                   else f"trained on {cfg.train_gpus} GPUs")),
        ("Test protocol", _detection_protocol_text(cfg)),
        ("Evaluator", d.evaluator),
        ("Proposals", f"`{d.proposals}`"),
        ("Source config", source),
        ("Weights", f"<{cfg.url}>" + "".join(f" (or <{u}>)" for u in cfg.alternative_urls)),
        hashed,
        ("License", cfg.license),
    ]
    lines = [f"### {cfg.name}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines += ["", "`slowfast-zoo eval` does not run detection protocols yet.", ""]
    if cfg.notes:
        lines += [f"Notes: {cfg.notes}", ""]
    lines += ["<details><summary>Citation</summary>", "", "```bibtex", cfg.citation.rstrip(), "```", "",
              "</details>", ""]
    return "\n".join(lines)


def render_card(cfg: PretrainedCfg) -> str:
    """The Markdown section of one weight."""
    if cfg.task == "detection":
        return _render_detection_card(cfg)
    if cfg.test.family != "mmaction2":
        return _render_pysf_card(cfg)
    speed = ("not published" if cfg.inference_speed_video_per_s is None
             else f"{cfg.inference_speed_video_per_s:g} video/s (MMAction2's tools/analysis/benchmark.py, "
                  f"30 views per video, GPU not stated)")
    data = "videos" if cfg.train_data == "videos" else "rawframes"
    memory = ("not published" if cfg.gpu_memory_mb is None
              else f"{cfg.gpu_memory_mb} MB (the README's column; training peak per GPU, presumably)")
    names = ("" if cfg.class_names[0] != "class_0"
             else "; MMAction2 ships no class names: `class_0` ... (pass `--label-map FILE`)")
    rows = [
        ("Architecture", _arch_text(cfg)),
        ("Parameters", f"{cfg.num_params:,}"),
        ("GFLOPs per view (ours)", f"{cfg.gflops:.3f} (one 3x{get_arch_spec(cfg.name).num_frames}x256x256 "
                                   "view; convolutions and the "
                                   "classifier, 2 FLOPs per multiply-add; measured with "
                                   "torch.utils.flop_counter)"),
        ("Published top-1 / top-5", f"{cfg.top1:.2f} / {cfg.top5:.2f} %"),
        ("Published inference speed", speed),
        ("Published GPU memory", memory),
        ("Trained / tested on", f"{cfg.dataset} {data} ({cfg.train_resolution}); trained on "
                                f"{cfg.train_gpus} GPUs{names}"),
        ("Test protocol", _protocol_text(cfg)),
        ("Source config", f"`{cfg.source_config}` (MMAction2 {cfg.mmaction2}, "
                          f"{'mmengine' if cfg.mmaction2 == '1.x' else 'mmcv'} checkpoint)"),
        ("Weights", f"<{cfg.url}>" + "".join(f" (or <{u}>)" for u in cfg.alternative_urls)),
        ("sha256 prefix", f"`{cfg.sha256_prefix}` (checked after download)"),
        ("License", cfg.license),
    ]
    lines = [f"### {cfg.name}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines += ["", "Reproduce the published number (one GPU, or eight with the same result):", "",
              "```bash", reproduce_command(cfg), reproduce_command(cfg, gpus=8, cli=True), "```", ""]
    if cfg.notes:
        lines += [f"Notes: {cfg.notes}", ""]
    lines += ["<details><summary>Citation</summary>", "", "```bibtex", cfg.citation.rstrip(), "```", "",
              "</details>", ""]
    return "\n".join(lines)


def _detection_row(cfg: PretrainedCfg) -> str:
    d = cfg.detection
    assert d is not None
    link = f"[{cfg.name}](#{cfg.name.replace('.', '')})"
    return (f"| {link} | {cfg.dataset} | {cfg.num_params / 1e6:.2f} M | {cfg.gflops:.1f} | {cfg.mean_ap:.2f} "
            f"| {d.evaluator} | `{d.proposals}` (>= {d.proposal_score_threshold:g}) "
            f"| {'`' + cfg.sha256_prefix + '`' if cfg.sha256_prefix else 'trust on first use'} |")


def render() -> str:
    """The whole MODEL_CARDS.md text."""
    n_recognition = sum(cfg.task == "recognition" for cfg in PRETRAINED.values())
    head = [
        "# Model cards",
        "",
        "<!-- Generated by `python -m slowfast_zoo.tools.cards` from slowfast_zoo/registry; do not edit. -->",
        "",
        f"The {n_recognition} SlowFast recognition weights published by MMAction2 (both "
        f"generations, 0.x and 1.x), PyTorchVideo and PySlowFast, and the {len(PRETRAINED) - n_recognition} "
        f"SlowFast action detectors (AVA, MultiSports) of MMAction2 and PyTorchVideo, on {len(ARCHS)} "
        "architectures. Load one with `slowfast_zoo.create_model(NAME, pretrained=True)`; measure an "
        "MMAction2 recognition weight on "
        "your copy of its dataset with the command in its card (`--limit 100` for a quick look, "
        "`--resume` after an interruption, `torchrun` for many GPUs). Accuracies (mAP for Charades and "
        "the detectors) are the publishers' numbers, each with its weight's own test protocol; parameters "
        "and GFLOPs are measured from our modules.",
        "",
    ]
    body = []
    for title, about, keep in _GROUPS:
        group = [cfg for cfg in PRETRAINED.values() if keep(cfg)]
        head += [f"**{title}.** {about}", ""]
        if group and group[0].task == "detection":
            head += ["| weight | dataset | params | GFLOPs/clip | mAP | evaluator | proposals (score) "
                     "| sha256 prefix |",
                     "|---|---|---|---|---|---|---|---|"]
            head += [_detection_row(cfg) for cfg in group] + [""]
            body += [f"## {title}", "", about, ""] + [render_card(cfg) for cfg in group]
            continue
        if title.startswith("MMAction2"):
            head += ["| weight | dataset | params | GFLOPs/view | top-1 | top-5 | video/s | GPU mem (MB) "
                     "| sha256 prefix |",
                     "|---|---|---|---|---|---|---|---|---|"]
        else:
            head += ["| weight | dataset | params | GFLOPs/view | views | top-1 | top-5 | mAP | head |",
                     "|---|---|---|---|---|---|---|---|---|"]
        for cfg in group:
            link = f"[{cfg.name}](#{cfg.name.replace('.', '')})"
            if not title.startswith("MMAction2"):
                top1, top5, mean_ap = ("-" if v is None else f"{v:.2f}" for v in (cfg.top1, cfg.top5, cfg.mean_ap))
                head.append(f"| {link} | {cfg.dataset} | {cfg.num_params / 1e6:.2f} M | {cfg.gflops:.1f} "
                            f"| {cfg.test.num_clips} x {cfg.test.num_crops} | {top1} | {top5} | {mean_ap} "
                            f"| {'global pool' if cfg.global_pool_head else 'fully convolutional'} |")
                continue
            speed = "-" if cfg.inference_speed_video_per_s is None else f"{cfg.inference_speed_video_per_s:g}"
            memory = "-" if cfg.gpu_memory_mb is None else str(cfg.gpu_memory_mb)
            head.append(f"| {link} | {cfg.dataset} "
                        f"| {cfg.num_params / 1e6:.2f} M | {cfg.gflops:.1f} | {cfg.top1:.2f} | {cfg.top5:.2f} "
                        f"| {speed} | {memory} | `{cfg.sha256_prefix}` |")
        head.append("")
        body += [f"## {title}", "", about, ""] + [render_card(cfg) for cfg in group]
    return "\n".join(head) + "\n" + "\n".join(body)


def generated_file_main(argv: Sequence[str] | None, *, prog: str, description: str, default_output: str,
                        render_text: Callable[[], str]) -> int:
    """The command of a file generated from the library (MODEL_CARDS.md, docs/CLI.md): write it,
    or with ``--check`` exit 1 when it differs from what ``render_text`` gives."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--output", default=default_output, help="file to write or check (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not up to date")
    args = parser.parse_args(argv)
    text = render_text()
    out = Path(args.output)
    if args.check:
        current = out.read_text(encoding="utf-8") if out.is_file() else None
        if current != text:
            print(f"{out} is out of date: run `{prog} --output {out}`", file=sys.stderr)
            return 1
        print(f"{out} is up to date")
        return 0
    atomic_write_text(out, text)
    print(f"wrote {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m slowfast_zoo.tools.cards [--output MODEL_CARDS.md] [--check]``."""
    return generated_file_main(argv, prog="python -m slowfast_zoo.tools.cards", description=__doc__.split("\n")[0],
                               default_output="MODEL_CARDS.md", render_text=render)


if __name__ == "__main__":
    sys.exit(main())
