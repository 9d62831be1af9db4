"""``slowfast-zoo list`` and ``slowfast-zoo info``: what is registered."""

from __future__ import annotations

import argparse
import json

from slowfast_zoo.registry import get_pretrained_cfg, list_models

__all__ = ["register"]


def _cmd_list(args: argparse.Namespace) -> int:
    for name in list_models(args.pattern, pretrained=args.pretrained):
        if args.pretrained:
            cfg = get_pretrained_cfg(name)
            print(f"{name:38s} top1 {cfg.top1:5.2f}  top5 {cfg.top5:5.2f}  {cfg.gflops:7.1f} GFLOPs/view")
        else:
            print(name)
    return 0


def _info_rows(name: str) -> list[tuple[str, str]]:
    cfg = get_pretrained_cfg(name)
    t = cfg.test
    speed = cfg.inference_speed_video_per_s
    return [
        ("name", cfg.name),
        ("architecture", cfg.architecture),
        ("top-1 / top-5 (%)", f"{cfg.top1:.2f} / {cfg.top5:.2f} (Kinetics-400 val, published)"),
        ("test protocol", f"{t.num_clips} clips x {t.clip_len} frames every {t.frame_interval}, "
                          f"short side {t.resize_short_side}, {t.num_crops} crops {t.crop_size}, "
                          f"average '{t.average_clips}' ({t.num_views} views)"),
        ("mean / std (0-255, RGB)", f"{cfg.mean} / {cfg.std}"),
        ("classes", f"{cfg.num_classes} (Kinetics-400)"),
        ("parameters", f"{cfg.num_params:,}"),
        ("GFLOPs per view", f"{cfg.gflops:.3f} (32x256x256, 2 per multiply-add)"),
        ("lateral fusion kernel", str(cfg.fusion_kernel)),
        ("trained on", f"{cfg.train_data}, short side {cfg.train_resolution}, {cfg.train_gpus} GPUs"),
        ("speed (published)", f"{speed} video/s" if speed else "not measured"),
        ("GPU memory (published)", f"{cfg.gpu_memory_mb} MB"),
        ("source config", cfg.source_config),
        ("url", cfg.url),
        ("sha256 prefix", cfg.sha256_prefix),
        ("license", cfg.license),
        ("notes", cfg.notes or "-"),
    ]


def _cmd_info(args: argparse.Namespace) -> int:
    if args.json:
        d = get_pretrained_cfg(args.name).to_dict()
        if not args.classes:
            d.pop("class_names")
        print(json.dumps(d, indent=2))
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
    p.add_argument("--classes", action="store_true", help="with --json, include the 400 class names")
    p.set_defaults(func=_cmd_info)
