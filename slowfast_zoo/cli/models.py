"""``slowfast-zoo list`` and ``slowfast-zoo info``: what is registered."""

from __future__ import annotations

import argparse

from slowfast_zoo.registry import PretrainedCfg, get_arch_spec, get_pretrained_cfg, list_models
from slowfast_zoo.tools.printing import json_text

__all__ = ["register"]


def _origin(cfg: PretrainedCfg) -> str:
    """Whose checkpoint: ``MMAction2 0.x`` / ``1.x``, else the key family (``pyslowfast``)."""
    return f"MMAction2 {cfg.mmaction2}" if cfg.mmaction2 else str(getattr(cfg, "key_family", "") or "-")


def _published(cfg: PretrainedCfg) -> str:
    """The published accuracy: top-1 / top-5, or the mAP of a multi-label dataset (Charades)."""
    if cfg.top1 is not None and cfg.top5 is not None:
        return f"top1 {cfg.top1:5.2f}  top5 {cfg.top5:5.2f}"
    mean_ap = getattr(cfg, "mean_ap", None)
    return f"{'mAP ' + format(mean_ap, '5.2f') if mean_ap is not None else 'not published':22s}"


def _cmd_list(args: argparse.Namespace) -> int:
    for name in list_models(args.pattern, pretrained=args.pretrained):
        if args.pretrained:
            cfg = get_pretrained_cfg(name)
            print(f"{name:40s} {_origin(cfg):13s}  {cfg.dataset:22s} {_published(cfg)}  "
                  f"{cfg.gflops:7.1f} GFLOPs/{'clip' if cfg.task == 'detection' else 'view'}")
        else:
            print(name)
    return 0


def _detection_rows(cfg: PretrainedCfg) -> list[tuple[str, str]]:
    """What one clip is and how the published frame-mAP was measured (``cfg.detection``)."""
    d = cfg.detection
    assert d is not None
    unit = "frame" if d.fps == 1 else f"second at {d.fps:g} fps"
    boxes = (f"score >= {d.proposal_score_threshold:g}, else the best one; at most {d.max_proposals}"
             if d.evaluator == "mmaction2" else f"score >= {d.proposal_score_threshold:g}")
    frames = "videos" if cfg.train_data == "videos" else f"rawframes {cfg.test.filename_tmpl}"
    return [
        ("input size (one clip)", f"3 x {d.clip_len} x H x W, short side {d.resize_short_side}, no crop "
                                  f"(C x T x H x W), with person boxes"),
        ("detection protocol", f"one clip per keyframe: {d.clip_len} frames every {d.frame_interval} centred on "
                               f"it (timestamps per {unit} from {d.timestamp_start}, start_index {d.start_index})"),
        ("test data", f"{frames}, start_index {d.start_index}"),
        ("person boxes", f"{d.proposals} ({boxes})"),
        ("evaluation", f"frame-mAP@0.5, {d.evaluator} evaluator, label map {d.label_map}"
                       + (f", scores under {d.action_score_threshold:g} dropped" if d.action_score_threshold else "")),
    ]


def _info_rows(name: str) -> list[tuple[str, str]]:
    cfg = get_pretrained_cfg(name)
    spec = get_arch_spec(name)
    t = cfg.test
    speed = cfg.inference_speed_video_per_s
    crops = "ThreeCrop" if t.num_crops == 3 else "CenterCrop"
    names = "" if cfg.class_names[0] != "class_0" else ", names not shipped by MMAction2 (--label-map)"
    protocol = _detection_rows(cfg) if cfg.detection is not None else [
        ("input size (one view)", f"3 x {t.clip_len} x {t.crop_size} x {t.crop_size} (C x T x H x W)"),
        ("test protocol", f"{t.num_clips} clips x {t.clip_len} frames every {t.frame_interval} "
                          f"({t.sampling_rule} SampleFrames), short side {t.resize_short_side}, "
                          f"{crops} {t.crop_size}, average '{t.average_clips}' ({t.num_views} views)")]
    cost = (f"{cfg.gflops:.3f} (one {t.clip_len}x{t.crop_size}x{t.crop_size} clip and one box, 2 per multiply-add)"
            if cfg.detection is not None else f"{cfg.gflops:.3f} ({spec.num_frames}x256x256, 2 per multiply-add)")
    return [
        ("name", cfg.name),
        ("architecture", cfg.architecture),
        ("task", "action detection (scores per person box)" if cfg.task == "detection"
         else "video classification"),
        ("MMAction2 generation", cfg.mmaction2) if cfg.mmaction2 else ("checkpoint of", _origin(cfg)),
        ("dataset", cfg.dataset),
        (("top-1 / top-5 (%)", f"{cfg.top1:.2f} / {cfg.top5:.2f} ({cfg.dataset} val, published)")
         if cfg.top1 is not None and cfg.top5 is not None
         else ("published (%)", f"{_published(cfg).strip()} ({cfg.dataset} val)")),
        *protocol,
        *(() if cfg.detection is not None else (
            ("test data", "videos, frames from 0" if cfg.data_start_index == 0 else
                          f"rawframes {t.filename_tmpl}, frames from {cfg.data_start_index}"),)),
        ("mean / std (0-255, RGB)", f"{cfg.mean} / {cfg.std}"),
        ("classes", f"{cfg.num_classes} ({cfg.dataset}{names})"),
        ("parameters", f"{cfg.num_params:,}"),
        ("GFLOPs per clip" if cfg.detection is not None else "GFLOPs per view", cost),
        ("lateral fusion", f"kernel {cfg.fusion_kernel}" + (", BatchNorm + ReLU" if spec.lateral_norm else "")),
        ("trained on", f"{cfg.train_data}, {cfg.train_resolution}, {cfg.train_gpus} GPUs"),
        ("speed (published)", f"{speed} video/s" if speed else "not measured"),
        ("GPU memory (published)", f"{cfg.gpu_memory_mb} MB" if cfg.gpu_memory_mb else "not published"),
        ("source config", cfg.source_config),
        ("url", cfg.url),
        *((("alternative url", u) for u in cfg.alternative_urls)),
        ("sha256 prefix", cfg.sha256_prefix),
        ("license", cfg.license),
        ("notes", cfg.notes or "-"),
    ]


def _cmd_info(args: argparse.Namespace) -> int:
    if args.json:
        d = get_pretrained_cfg(args.name).to_dict()
        if not args.classes:
            d.pop("class_names")
        print(json_text(d, indent=2))
        return 0
    rows = _info_rows(args.name)
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``list`` and ``info`` subcommands."""
    p = sub.add_parser("list", help="list architectures (or weights with --pretrained)")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style wildcard, e.g. '*r50*'")
    p.add_argument("--pretrained", action="store_true", help="list arch.tag weights")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="show the record of a weight")
    p.add_argument("name", help="arch or arch.tag")
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    p.add_argument("--classes", action="store_true", help="with --json, include the class names")
    p.set_defaults(func=_cmd_info)
